"""The short manager summary printed by the demo: where effort should go this week."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from features.customer import owner_active
from features.policy import DEFAULT, Policy
from streams.core.state import DAY_US, WEEK_US, CustomerState, RepState


@dataclass(frozen=True)
class ManagerSummary:
    customers: int
    pool: int
    pool_value: float
    dormant: int
    dormant_value: float
    manager_join: int
    policy_violations: int
    quiet_reps: tuple[tuple[str, int], ...]
    pipeline_value: float

    def lines(self) -> list[str]:
        quiet = ", ".join(f"{r} ({n}/week)" for r, n in self.quiet_reps) or "none"
        return [
            f"customers known: {self.customers:,}; pipeline predicted value "
            f"{self.pipeline_value:,.0f}",
            f"public pool: {self.pool:,} customers, predicted value {self.pool_value:,.0f}",
            f"dormant (no order for 90+ days): {self.dormant:,}, "
            f"predicted value {self.dormant_value:,.0f}",
            f"10+ effective contacts and no deal (manager should join): {self.manager_join:,}",
            f"suspensions that broke the twelve-contact or never-suspend rule: "
            f"{self.policy_violations:,}",
            f"reps below the weekly prospects target: {quiet}",
        ]


def prospects_contacted(
    rep_id: str, states: Mapping[str, CustomerState], as_of: int, days: int = 7
) -> int:
    """Distinct customers the rep contacted effectively in the `days` up to as-of."""
    start = as_of - days * DAY_US
    return sum(
        1
        for s in states.values()
        if (ts := s.last_contact_by(rep_id)) is not None and start < ts <= as_of
    )


def summarise(
    states: Mapping[str, CustomerState],
    reps: Mapping[str, RepState],
    scores: pd.DataFrame,
    as_of: int,
    policy: Policy = DEFAULT,
) -> ManagerSummary:
    value = dict(zip(scores["customer_id"], scores["predicted_value"], strict=True))
    pool = [s for s in states.values() if not owner_active(s, reps)]
    dormant = [
        s
        for s in states.values()
        if s.last_order_ts is not None and as_of - s.last_order_ts >= policy.dormant_days * DAY_US
    ]
    join = [
        s for s in states.values() if s.effective >= policy.manager_join_contacts and not s.orders
    ]
    violations = sum(len(s.policy_flags()) for s in states.values() if s.suspensions)
    recent: dict[str, int] = {}
    for s in states.values():
        for rep_id, ts in s.contact_rep_times():
            if as_of - WEEK_US < ts <= as_of:
                recent[rep_id] = recent.get(rep_id, 0) + 1
    quiet = tuple(
        sorted(
            (
                (r, recent.get(r, 0))
                for r, rep in reps.items()
                if rep.active
                and rep.role == "rep"
                and rep.joined_ts <= as_of
                and recent.get(r, 0) < policy.weekly_prospects_target
            ),
            key=lambda x: (x[1], x[0]),
        )
    )
    return ManagerSummary(
        customers=len(states),
        pool=len(pool),
        pool_value=sum(value[s.customer_id] for s in pool),
        dormant=len(dormant),
        dormant_value=sum(value[s.customer_id] for s in dormant),
        manager_join=len(join),
        policy_violations=violations,
        quiet_reps=quiet,
        pipeline_value=float(scores["predicted_value"].sum()),
    )
