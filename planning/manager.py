"""The manager's report: every table a manager allocates effort with, built from one book.

Funnel per rep and team, activity alerts, customers needing the manager, suspension
violations, never-suspend customers without an owner, the public pool and its recommended
assignment, dormant customers, pipeline value and its weekly move, team turnover, and the
expected revenue of the next horizon for the team and per rep with its 80% interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from features.policy import DEFAULT, Policy
from models.revenue import ValueForecast
from planning.alerts import (
    activity_alerts,
    manager_join,
    suspension_violations,
    unowned_never_suspend,
)
from planning.book import Book, iso_time
from planning.dormant import dormant_table
from planning.forecast import RevenueForecast, revenue_forecast
from planning.funnel import funnel_by_rep, funnel_by_team
from planning.pipeline import pipeline
from planning.pool import Recommendation, pool_table, recommend
from planning.team import turnover
from streams.core.state import RepState


@dataclass(frozen=True)
class ManagerReport:
    as_of: int
    funnel_reps: pd.DataFrame
    funnel_teams: pd.DataFrame
    activity_alerts: pd.DataFrame
    manager_join: pd.DataFrame
    violations: pd.DataFrame
    unowned_never_suspend: pd.DataFrame
    pool: pd.DataFrame
    recommendation: Recommendation
    dormant: pd.DataFrame
    pipeline: dict[str, pd.DataFrame]
    turnover: pd.DataFrame
    revenue: RevenueForecast

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by a short name (also the sheet and file names of exports)."""
        return {
            "funnel_reps": self.funnel_reps,
            "funnel_teams": self.funnel_teams,
            "activity_alerts": self.activity_alerts,
            "manager_join": self.manager_join,
            "violations": self.violations,
            "never_suspend_unowned": self.unowned_never_suspend,
            "pool": self.pool,
            "pool_receivers": self.recommendation.receivers,
            "pool_assignment": self.recommendation.assignment,
            "dormant": self.dormant,
            **{f"pipeline_{dim}": table for dim, table in self.pipeline.items()},
            "turnover": self.turnover,
            "revenue_reps": self.revenue.reps,
        }

    def headline(self) -> list[str]:
        company = self.funnel_teams.iloc[-1]
        team = self.turnover.iloc[-1]
        rec = self.recommendation
        value = self.pipeline["team"]
        before = value["value_last_week"]
        last_week = "n/a" if before.isna().all() else f"{before.sum():,.0f}"
        rate = team["turnover"]
        turnover = "n/a" if rate != rate else f"{rate:.1%}"
        return [
            f"as of {iso_time(self.as_of)}",
            f"funnel: {company['leads']:,} leads, {company['deals']:,} deals "
            f"({company['conversion']:.1%}, {company['verdict']})",
            f"pipeline predicted value {value['value'].sum():,.0f} (a week before: {last_week})",
            self.revenue.team_line(),
            f"reps short of the weekly prospects target: {len(self.activity_alerts)} "
            f"({int(self.activity_alerts['new_rep'].sum())} new)",
            f"customers at 10+ contacts without a deal: {len(self.manager_join):,}",
            f"suspension rule violations: {len(self.violations):,}",
            f"never-suspend customers without an owner: {len(self.unowned_never_suspend):,}",
            f"public pool: {rec.pool_size:,} customers; recommended {len(rec.assignment):,} "
            f"assignments worth {rec.total_value:,.0f}",
            f"dormant customers: {len(self.dormant):,}",
            f"turnover: {turnover} ({team['verdict']})",
        ]


def build_manager_report(
    book: Book,
    reps: Mapping[str, RepState],
    policy: Policy = DEFAULT,
    last_week: Book | None = None,
    reps_last_week: Mapping[str, RepState] | None = None,
    capacity: int | None = None,
    quota: int | None = None,
    value: ValueForecast | None = None,
) -> ManagerReport:
    """`value`: the scorer's revenue forecast, for the intervals (None: the fallback's)."""
    by_rep = funnel_by_rep(book, reps, policy)
    return ManagerReport(
        as_of=book.as_of,
        funnel_reps=by_rep,
        funnel_teams=funnel_by_team(by_rep, policy),
        activity_alerts=activity_alerts(book, reps, policy),
        manager_join=manager_join(book, policy),
        violations=suspension_violations(book, policy),
        unowned_never_suspend=unowned_never_suspend(book),
        pool=pool_table(book),
        recommendation=recommend(book, reps, policy, capacity, quota),
        dormant=dormant_table(book, policy),
        pipeline=pipeline(book, reps, last_week, reps_last_week),
        turnover=turnover(reps, book.as_of, policy),
        revenue=revenue_forecast(book, reps, value, policy.horizon_days),
    )
