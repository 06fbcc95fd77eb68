"""The revenue forecast a manager reads: expected revenue in the horizon for the team and
per rep, each with its 80% interval ("expected revenue next 90 days: X (Y to Z)").

The per-customer figure is the book's expected revenue (`models.scoring`); the intervals
come from the scorer's `ValueForecast` (backtested), or, without one, from
`ValueForecast.untested` around the fallback's figures, which the line then says. A rep's
total covers the customers it actively owns; the pool's customers count for the team only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from models.revenue import ValueForecast
from planning.book import Book
from streams.core.state import RepState

LEVEL: Final = 0.8


@dataclass(frozen=True)
class RevenueForecast:
    horizon_days: int
    team: tuple[float, float, float]  # expected, low, high
    reps: pd.DataFrame  # rep_id, name, customers, expected, low, high
    backtested: bool

    def line(self, expected: float, low: float, high: float) -> str:
        text = (
            f"expected revenue next {self.horizon_days} days: {expected:,.0f} "
            f"({low:,.0f} to {high:,.0f})"
        )
        return text if self.backtested else text + " [interval not backtested]"

    def team_line(self) -> str:
        return self.line(*self.team)

    def rep_lines(self) -> list[str]:
        return [
            f"{row['rep_id']} ({row['name'] or 'no name'}): "
            + self.line(row["expected"], row["low"], row["high"])
            for row in self.reps.to_dict(orient="records")
        ]

    def to_dict(self) -> dict[str, Any]:
        expected, low, high = self.team
        return {
            "horizon_days": self.horizon_days,
            "level": LEVEL,
            "backtested": self.backtested,
            "team": {"expected": round(expected, 2), "low": round(low, 2), "high": round(high, 2)},
            "reps": [
                {
                    "rep_id": row["rep_id"],
                    "name": row["name"],
                    "expected": round(float(row["expected"]), 2),
                    "low": round(float(row["low"]), 2),
                    "high": round(float(row["high"]), 2),
                }
                for row in self.reps.to_dict(orient="records")
            ],
        }


def interval_source(book: Book, value: ValueForecast | None, horizon_days: int) -> ValueForecast:
    """The scorer's forecast, or intervals around the fallback's figures (no backtest)."""
    if value is not None:
        return value
    basis = book.expected_value
    mean_order = float(np.mean(basis)) if len(basis) else 0.0
    return ValueForecast.untested(mean_order, horizon_days)


def revenue_forecast(
    book: Book,
    reps: Mapping[str, RepState],
    value: ValueForecast | None,
    horizon_days: int,
    include_pool: bool = True,
) -> RevenueForecast:
    """Team and per-rep expected revenue with 80% intervals. Reps: those of `reps` who own
    a customer of the book, or are active sales reps (a new rep's zero is news too).
    `include_pool`: the team's total counts the pool's customers (False: owned ones only,
    a team manager's view)."""
    source = interval_source(book, value, horizon_days)
    expected = np.asarray(book.predicted_value, dtype=float)  # = expected revenue
    counted = np.ones(len(expected), dtype=bool) if include_pool else ~book.in_pool
    team = source.total(expected[counted], LEVEL)
    groups = [None if pool else owner for pool, owner in zip(book.in_pool, book.owner, strict=True)]
    table = source.interval(expected, groups, LEVEL)
    table = table[table["group"].notna()]
    by_rep = {str(row["group"]): row for row in table.to_dict(orient="records")}
    rows = []
    shown = [r for r, s in reps.items() if r in by_rep or (s.active and s.role == "rep")]
    for rep_id in sorted(shown):
        row = by_rep.get(rep_id)
        rows.append(
            {
                "rep_id": rep_id,
                "name": reps[rep_id].name,
                "customers": int(row["customers"]) if row else 0,
                "expected": float(row["expected"]) if row else 0.0,
                "low": float(row["low"]) if row else 0.0,
                "high": float(row["high"]) if row else 0.0,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["rep_id", "name", "customers", "expected", "low", "high"]
    ).astype({"rep_id": object, "name": object})
    return RevenueForecast(horizon_days, team, frame, source.backtested)
