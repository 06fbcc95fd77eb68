"""Where a manager should step in now.

- Reps whose distinct prospects contacted in the last 7 days fall short of the weekly
  target; new reps (first `new_rep_days`) first, since for them this is the KPI that
  matters most and "a manager steps in at once". A rep with under a week of tenure is held
  to the pro-rated target.
- Customers at 10+ effective contacts without a deal: the manager should join.
- Suspensions that broke the twelve-contact rule or touched a never-suspend customer
  (kept in the log as facts, flagged here).
- Never-suspend customers left without an active owner: they must not drop out of
  follow-up.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.policy import DEFAULT, Policy
from planning.book import Book, iso_time
from streams.core.state import DAY_US, WEEK_US, RepState

ACTIVITY_COLUMNS = (
    "rep_id",
    "name",
    "team",
    "new_rep",
    "tenure_days",
    "prospects_7d",
    "target",
    "shortfall",
    "weekly_effective_contacts",
    "severity",
)
CUSTOMER_COLUMNS = (
    "customer_id",
    "owner",
    "effective_contacts",
    "stage",
    "days_since_contact",
    "p_close",
    "predicted_value",
    "reasons",
)
VIOLATION_COLUMNS = (
    "customer_id",
    "suspended_at",
    "suspended_by",
    "event_id",
    "rule",
    "effective_before",
)
HISTORY_WEEKS = 8


def prospects_contacted(book: Book, days: int = 7) -> Counter[str]:
    """Distinct customers each rep contacted effectively in the `days` up to as_of.

    `contact_reps` keeps each rep's newest effective contact with the customer, so a rep
    contacted the customer in the window exactly when that time falls in it; and only
    customers whose newest effective contact is in the window need looking at.
    """
    start = book.as_of - days * DAY_US
    counts: Counter[str] = Counter()
    for i in np.flatnonzero(book.last_contact > start).tolist():
        for rep_id, ts in book.states[i].contact_rep_times():
            if start < ts <= book.as_of:
                counts[rep_id] += 1
    return counts


def activity_alerts(
    book: Book, reps: Mapping[str, RepState], policy: Policy = DEFAULT
) -> pd.DataFrame:
    counts = prospects_contacted(book)
    rows = []
    for rep_id in sorted(reps):
        rep = reps[rep_id]
        if not rep.active or rep.role != "rep" or rep.joined_ts > book.as_of:
            continue
        tenure = (book.as_of - rep.joined_ts) / DAY_US
        target = policy.weekly_prospects_target
        if tenure < 7:
            target = math.ceil(target * tenure / 7)
        done = counts.get(rep_id, 0)
        if done >= target:
            continue
        new = tenure < policy.new_rep_days
        weeks = [rep.window(book.as_of - k * WEEK_US, 1)[0] for k in range(HISTORY_WEEKS)]
        rows.append(
            (
                rep_id,
                rep.name or "",
                rep.team or "",
                new,
                round(tenure, 1),
                done,
                target,
                target - done,
                " ".join(str(w) for w in weeks),
                "new rep: step in now" if new else "below target",
            )
        )
    frame = pd.DataFrame(rows, columns=list(ACTIVITY_COLUMNS))
    return frame.sort_values(
        ["new_rep", "shortfall", "rep_id"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def _customers(book: Book, rows: np.ndarray) -> pd.DataFrame:
    rows = rows[np.lexsort((rows, -book.predicted_value[rows]))]
    since = book.days_since(book.last_contact[rows])
    return pd.DataFrame(
        {
            "customer_id": book.customer_id[rows],
            "owner": book.owner_label(rows),
            "effective_contacts": book.effective[rows],
            "stage": book.stage[rows],
            "days_since_contact": np.round(since, 1),
            "p_close": book.p_close[rows].round(4),
            "predicted_value": book.predicted_value[rows],
            "reasons": book.reasons[rows],
        },
        columns=list(CUSTOMER_COLUMNS),
    )


def manager_join(book: Book, policy: Policy = DEFAULT) -> pd.DataFrame:
    """Customers at `manager_join_contacts`+ effective contacts, no deal, not suspended."""
    mask = (
        (book.effective >= policy.manager_join_contacts)
        & (book.orders == 0)
        & (book.status != "suspended")
    )
    return _customers(book, np.flatnonzero(mask))


def unowned_never_suspend(book: Book) -> pd.DataFrame:
    """Never-suspend customers without an active owner: assign them before anything else."""
    return _customers(book, np.flatnonzero(book.never_suspend & book.in_pool))


def suspension_violations(book: Book, policy: Policy = DEFAULT) -> pd.DataFrame:
    """Every suspension made before the 12th effective contact or of a never-suspend customer."""
    rows = []
    for i in np.flatnonzero(book.suspensions > 0).tolist():
        state = book.states[i]
        for s in state.suspensions:
            before = state.effective_before(s.ts)
            broke = []
            if before < policy.twelve_contacts:
                broke.append(f"twelve-contact rule: only {before} effective contacts before")
            if state.never_suspend_at(s.ts, s.event_id):
                broke.append("never-suspend customer")
            for rule in broke:
                rows.append(
                    (state.customer_id, iso_time(s.ts), s.rep_id or "", s.event_id, rule, before)
                )
    return pd.DataFrame(rows, columns=list(VIOLATION_COLUMNS))
