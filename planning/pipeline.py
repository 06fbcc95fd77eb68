"""Pipeline value: predicted value by rep, team, lead source and stage, and its weekly move.

Pipeline value is the sum of `predicted_value` (p_close × expected order value) over every
customer known as of the time, pool included (under "(pool)": value nobody works on).
"How it moved since last week" compares the scores of the snapshot at as_of with those of
the snapshot replayed at as_of − 7 days: a customer's move counts where it stands now, and
where it stood then.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from planning.book import POOL, Book
from streams.core.state import STAGES, RepState

DIMENSIONS = ("rep", "team", "source", "stage")
VALUE_COLUMNS = ("customers", "value", "value_last_week", "change", "change_pct")
NO_TEAM = "(no team)"


def _stage_order(index: pd.Index) -> pd.Index:
    # Stages in the relationship's order (none, doctor, ... brother), not alphabetical.
    return index.map(lambda s: STAGES.index(s) if s in STAGES else len(STAGES))


def _sums(book: Book, reps: Mapping[str, RepState]) -> dict[str, pd.DataFrame]:
    value = book.predicted_value
    groups = len(book.rep_ids) + 1
    key = np.where(book.in_pool, groups - 1, book.owner_idx)
    by_rep = pd.DataFrame(
        {
            "customers": np.bincount(key, minlength=groups),
            "value": np.bincount(key, weights=value, minlength=groups),
        },
        index=[*book.rep_ids, POOL],
    )
    by_rep = by_rep[by_rep["customers"] > 0]
    teams = [
        POOL if r == POOL else ((reps[r].team if r in reps else None) or NO_TEAM)
        for r in by_rep.index
    ]
    out = {"rep": by_rep, "team": by_rep.groupby(teams).sum()}
    for name, labels in (("source", book.lead_source), ("stage", book.stage)):
        codes, keys = pd.factorize(labels)
        out[name] = pd.DataFrame(
            {
                "customers": np.bincount(codes, minlength=len(keys)),
                "value": np.bincount(codes, weights=value, minlength=len(keys)),
            },
            index=keys,
        )
    return out


def pipeline(
    now: Book,
    reps_now: Mapping[str, RepState],
    before: Book | None = None,
    reps_before: Mapping[str, RepState] | None = None,
) -> dict[str, pd.DataFrame]:
    """One table per dimension: customers, value now, value a week before, the change."""
    current = _sums(now, reps_now)
    previous = _sums(before, reps_before or reps_now) if before is not None else None
    tables = {}
    for dim in DIMENSIONS:
        table = current[dim].rename_axis(dim)
        if previous is not None:
            last = previous[dim]["value"].rename("value_last_week")
            table = table.join(last, how="outer")
            table = table.fillna({"customers": 0, "value": 0.0, "value_last_week": 0.0})
        else:
            table["value_last_week"] = np.nan
        table["change"] = table["value"] - table["value_last_week"]
        base = table["value_last_week"].where(table["value_last_week"] > 0)
        table["change_pct"] = (table["change"] / base).round(4)
        if dim == "stage":
            table = table.sort_index(key=_stage_order)
        else:
            table = table.sort_values("value", ascending=False, kind="stable")
        table = table.reset_index()
        table["customers"] = table["customers"].astype(int)
        for column in ("value", "value_last_week", "change"):
            table[column] = table[column].round(2)
        tables[dim] = table[[dim, *VALUE_COLUMNS]]
    return tables
