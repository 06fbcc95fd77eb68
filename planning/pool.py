"""The public pool and its recommended assignment to reps.

The pool holds every customer without an active owner: suspended ones ("掛起": nothing is
deleted, the customer waits for a new rep) and those whose rep left (or who never had one).

The recommendation solves, exactly (`planning.assignment.solve`):

    maximise   sum over assigned pairs of  predicted_value[i] × fit[j]
    subject to each pool customer to at most one rep;
               rep j takes at most capacity[j] (`pool_capacity_per_rep`);
               each new rep (first `new_rep_days`) has `new_rep_pool_quota` reserved slots,
               filled first whenever there are customers enough ("their share": the
               domain hands pool customers to new reps, whose KPI is prospects contacted);
               a customer never goes back to the rep who suspended it.

`fit[j]` is the rep's smoothed 26-week conversion (deals / leads, with 20 pseudo-leads at
the new-rep midpoint of 1-5%, as the features do) over the receivers' mean, clipped to
[0.5, 2]: a proven closer raises what a customer is worth, a struggling one lowers it.
Receivers are active reps (not managers) who joined by as_of.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.policy import DEFAULT, Policy
from planning.assignment import objective, solve
from planning.book import Book, iso_time
from streams.core.state import DAY_US, RepState

POOL_COLUMNS = (
    "customer_id",
    "why",
    "last_owner",
    "never_suspend",
    "effective_contacts",
    "p_close",
    "expected_value",
    "predicted_value",
    "score_source",
    "reasons",
)
RECEIVER_COLUMNS = ("rep_id", "team", "new_rep", "capacity", "reserved", "fit")
ASSIGNMENT_COLUMNS = (
    "customer_id",
    "rep_id",
    "team",
    "new_rep",
    "predicted_value",
    "fit",
    "assigned_value",
    "as_of",
)
FIT_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class Recommendation:
    receivers: pd.DataFrame  # RECEIVER_COLUMNS
    assignment: pd.DataFrame  # ASSIGNMENT_COLUMNS, highest assigned value first
    pool_size: int
    total_value: float  # sum of assigned_value
    reserved_filled: int


def pool_rows(book: Book) -> np.ndarray:
    """Pool customers, highest predicted value first (ties by customer id)."""
    rows = np.flatnonzero(book.in_pool)
    return rows[np.lexsort((rows, -book.predicted_value[rows]))]


def pool_table(book: Book) -> pd.DataFrame:
    rows = pool_rows(book)
    why = np.where(
        book.status[rows] == "suspended",
        "suspended",
        np.where([o is None for o in book.owner[rows]], "no owner", "owner left"),
    )
    last = [book.rep_ids[w] if w >= 0 else "" for w in book.worker_idx[rows].tolist()]
    return pd.DataFrame(
        {
            "customer_id": book.customer_id[rows],
            "why": why,
            "last_owner": last,
            "never_suspend": book.never_suspend[rows],
            "effective_contacts": book.effective[rows],
            "p_close": book.p_close[rows].round(4),
            "expected_value": book.expected_value[rows],
            "predicted_value": book.predicted_value[rows],
            "score_source": book.score_source[rows],
            "reasons": book.reasons[rows],
        },
        columns=list(POOL_COLUMNS),
    )


def conversion_26w(rep: RepState, as_of: int, policy: Policy = DEFAULT) -> float:
    """Deals / leads over 26 weeks, smoothed with 20 pseudo-leads at the new-rep midpoint
    (as the features do): a rep with 3 leads and 1 deal is not a 33% closer."""
    _, leads, _, deals = rep.window(as_of, 26)
    prior = (policy.new_rep_conversion_low + policy.new_rep_conversion_high) / 2
    return (deals + 20 * prior) / (leads + 20)


def receivers(
    reps: Mapping[str, RepState],
    as_of: int,
    policy: Policy = DEFAULT,
    capacity: int | None = None,
    quota: int | None = None,
) -> pd.DataFrame:
    cap = policy.pool_capacity_per_rep if capacity is None else capacity
    reserve = policy.new_rep_pool_quota if quota is None else quota
    takers = [
        reps[r]
        for r in sorted(reps)
        if reps[r].active and reps[r].role == "rep" and reps[r].joined_ts <= as_of
    ]
    conversion = np.array([conversion_26w(rep, as_of, policy) for rep in takers])
    fit = np.clip(conversion / conversion.mean(), *FIT_RANGE) if takers else conversion
    rows = []
    for rep, rep_fit in zip(takers, fit.tolist(), strict=True):
        new = (as_of - rep.joined_ts) < policy.new_rep_days * DAY_US
        reserved = min(reserve, cap) if new else 0
        rows.append((rep.rep_id, rep.team or "", new, cap, reserved, round(rep_fit, 4)))
    return pd.DataFrame(rows, columns=list(RECEIVER_COLUMNS))


def _candidates(
    order: np.ndarray, banned: Callable[[int], list[int]], takers: int, slots: int
) -> np.ndarray:
    """The pool rows that can appear in an optimal assignment.

    Every rep ranks customers the same way (value × a positive fit), so each rep's best
    `slots` allowed customers lie in a prefix of the value order; a customer outside every
    rep's best `slots` can always be swapped for a better unassigned one in the same slot.
    Extend the prefix until it holds `slots` allowed customers for every rep.
    `banned(i)` lists the takers customer `i` must not go to.
    """
    k = min(slots, len(order))
    counted = 0
    per_taker = np.zeros(takers, dtype=np.int64)
    while True:
        for i in order[counted:k].tolist():
            for j in banned(i):
                per_taker[j] += 1
        counted = k
        need = slots + int(per_taker.max(initial=0))
        if need <= k or k == len(order):
            return order[:k]
        k = min(need, len(order))


def recommend(
    book: Book,
    reps: Mapping[str, RepState],
    policy: Policy = DEFAULT,
    capacity: int | None = None,
    quota: int | None = None,
) -> Recommendation:
    takers = receivers(reps, book.as_of, policy, capacity, quota)
    order = pool_rows(book)
    taker_index = {r: j for j, r in enumerate(takers["rep_id"].tolist())}

    def banned(i: int) -> list[int]:
        # A customer does not go back to a rep who suspended it.
        suspenders = {s.rep_id for s in book.states[i].suspensions}
        return sorted(taker_index[r] for r in suspenders if r in taker_index)

    cap = takers["capacity"].to_numpy(dtype=np.int64)
    rows = _candidates(order, banned, len(taker_index), int(cap.sum()))
    fit = takers["fit"].to_numpy(dtype=float)
    values = np.outer(book.predicted_value[rows], fit)
    allowed = np.ones(values.shape, dtype=bool)
    for k, i in enumerate(rows.tolist()):
        allowed[k, banned(i)] = False
    reserved = takers["reserved"].to_numpy(dtype=np.int64)
    chosen = solve(values, cap, reserved, allowed)
    filled, total = objective(chosen, values, reserved)
    placed = np.flatnonzero(chosen >= 0)
    j = chosen[placed]
    frame = pd.DataFrame(
        {
            "customer_id": book.customer_id[rows[placed]],
            "rep_id": takers["rep_id"].to_numpy(dtype=object)[j],
            "team": takers["team"].to_numpy(dtype=object)[j],
            "new_rep": takers["new_rep"].to_numpy(dtype=bool)[j],
            "predicted_value": book.predicted_value[rows[placed]],
            "fit": fit[j].round(3),
            "assigned_value": values[placed, j].round(2),
            "as_of": iso_time(book.as_of),
        },
        columns=list(ASSIGNMENT_COLUMNS),
    )
    frame = frame.sort_values(
        ["assigned_value", "customer_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    return Recommendation(takers, frame, len(order), round(total, 2), filled)
