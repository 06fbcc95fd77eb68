"""The sales funnel per rep and per team (principle 1, quantity probability).

Counted over customers: leads (the rep's book), contacted (at least one follow-up),
effective contacts (all of them), quoted, deals (customers who ordered), and conversion =
deals / leads, set against the 1-5% expected of a new rep. A customer counts for its owner;
a suspended one for the rep who suspended it, so giving up does not flatter conversion.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.policy import DEFAULT, Policy
from planning.book import Book
from streams.core.state import DAY_US, RepState

COUNTS = ("leads", "contacted", "effective_contacts", "quoted", "deals")
REP_COLUMNS = (
    "rep_id",
    "name",
    "team",
    "role",
    "active",
    "new_rep",
    "tenure_days",
    *COUNTS,
    "conversion",
    "expected",
    "verdict",
    "note",
)
TEAM_COLUMNS = ("team", "reps", *COUNTS, "conversion", "expected", "verdict", "note")
NO_REP = "(no rep)"
ALL = "(all)"


def verdict(leads: int, deals: int, policy: Policy = DEFAULT) -> tuple[float, str, str]:
    """(conversion, verdict against the 1-5% band, note). The band's ends are inside it."""
    if leads == 0:
        return 0.0, "no leads", ""
    conversion = deals / leads
    if conversion < policy.new_rep_conversion_low:
        word = "below band"
    elif conversion > policy.new_rep_conversion_high:
        word = "above band"
    else:
        word = "within band"
    note = ""
    if leads >= policy.lead_fit_check_leads and conversion < policy.new_rep_conversion_low:
        # The text: plenty of leads but very low conversion means the leads may not
        # match the company's target customers ("selling value" vs "selling price").
        note = "many leads, few deals: check the leads fit the target customers"
    return conversion, word, note


def _band(policy: Policy) -> str:
    return f"{policy.new_rep_conversion_low:.0%}-{policy.new_rep_conversion_high:.0%}"


def _counts(book: Book) -> np.ndarray:
    """(len(rep_ids) + 1, 5) counts; the last row gathers customers with no rep."""
    groups = len(book.rep_ids) + 1
    worker = np.where(book.worker_idx >= 0, book.worker_idx, groups - 1)
    columns = (
        np.ones(len(book)),
        book.contacts > 0,
        book.effective,
        book.quoted,
        book.orders > 0,
    )
    return np.column_stack(
        [np.bincount(worker, weights=c, minlength=groups) for c in columns]
    ).astype(np.int64)


def funnel_by_rep(
    book: Book, reps: Mapping[str, RepState], policy: Policy = DEFAULT
) -> pd.DataFrame:
    counts = _counts(book)
    rows = []
    for k, rep_id in enumerate((*book.rep_ids, NO_REP)):
        rep = reps.get(rep_id)
        if counts[k, 0] == 0 and (rep is None or not rep.active):
            continue
        tenure = (book.as_of - rep.joined_ts) / DAY_US if rep else float("nan")
        conversion, word, note = verdict(int(counts[k, 0]), int(counts[k, 4]), policy)
        rows.append(
            (
                rep_id,
                (rep.name if rep else None) or "",
                (rep.team if rep else None) or "",
                rep.role if rep else "",
                rep.active if rep else False,
                bool(rep) and tenure < policy.new_rep_days,
                round(tenure, 1),
                *counts[k].tolist(),
                round(conversion, 4),
                _band(policy),
                word,
                note,
            )
        )
    return pd.DataFrame(rows, columns=list(REP_COLUMNS))


def funnel_by_team(by_rep: pd.DataFrame, policy: Policy = DEFAULT) -> pd.DataFrame:
    """Team totals of `funnel_by_rep`, and the whole company last."""
    teams = by_rep["team"].replace("", "(no team)").where(by_rep["rep_id"].ne(NO_REP), NO_REP)
    frame = by_rep.assign(team=teams, reps=by_rep["rep_id"].ne(NO_REP))
    sums = frame.groupby("team", sort=True)[[*COUNTS, "reps"]].sum()
    sums.loc[ALL] = frame[[*COUNTS, "reps"]].sum()
    rows = []
    for team, row in sums.iterrows():
        conversion, word, note = verdict(int(row["leads"]), int(row["deals"]), policy)
        rows.append(
            (
                team,
                int(row["reps"]),
                *(int(row[c]) for c in COUNTS),
                round(conversion, 4),
                _band(policy),
                word,
                note,
            )
        )
    return pd.DataFrame(rows, columns=list(TEAM_COLUMNS))
