"""A rep's daily call list: whom to contact today, in order, and why.

Order is the value of contacting the customer today: predicted value (p_close × expected
value) raised by urgency (follow-up overdue for its cadence, a clear need falling due, a
quote awaiting an answer) and importance. Guard rails: nobody is proposed within the
minimum gap of their last effective contact (tighter with a clear need), a rep gets at
most their daily capacity, and never-suspend customers whose follow-up is due go first,
so they are never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.customer import min_gap_days, owner_active, target_gap_days
from features.policy import DEFAULT, Policy
from streams.contract import to_datetime
from streams.state import DAY_US, CustomerState, RepState

_TIER_WEIGHT = {"standard": 1.0, "key": 1.25, "vvip": 1.6}
Score = tuple[float, float]  # (p_close, predicted_value)


@dataclass(frozen=True)
class CallLine:
    rank: int
    rep_id: str
    customer_id: str
    action: str
    priority: float
    p_close: float
    predicted_value: float
    effective_contacts: int
    days_since_contact: float | None
    flags: tuple[str, ...]
    why: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "rep_id": self.rep_id,
            "customer_id": self.customer_id,
            "action": self.action,
            "priority": round(self.priority, 2),
            "p_close": round(self.p_close, 4),
            "predicted_value": round(self.predicted_value, 2),
            "effective_contacts": self.effective_contacts,
            "days_since_contact": (
                None if self.days_since_contact is None else round(self.days_since_contact, 1)
            ),
            "flags": list(self.flags),
            "why": list(self.why),
        }


def days_since_contact(state: CustomerState, as_of: int) -> float | None:
    times = state.effective_times()
    return None if not times else (as_of - times[-1]) / DAY_US


def flags(state: CustomerState, p_close: float, as_of: int, policy: Policy = DEFAULT) -> list[str]:
    """The list's flags, each firing exactly at its threshold from `policy`."""
    out = []
    eff = state.effective
    no_deal = state.orders == 0
    if policy.nearing_twelve_from <= eff < policy.twelve_contacts:
        out.append("nearing_12th_contact")
    elif eff >= policy.twelve_contacts and no_deal:
        out.append("past_12th_contact")
    if (
        eff >= policy.twelve_contacts
        and no_deal
        and p_close < policy.suspend_below_p
        and not state.never_suspend
    ):
        out.append("eligible_for_suspension")
    last_order = state.last_order_ts
    if last_order is not None and as_of - last_order >= policy.dormant_days * DAY_US:
        out.append("dormant_win_back")
    if eff >= policy.manager_join_contacts and no_deal:
        out.append("manager_joining")
    return out


def _action(state: CustomerState, flag_list: list[str]) -> str:
    if "dormant_win_back" in flag_list:
        return "win back"
    if state.effective == 0:
        return "first contact"
    deep = state.stage in ("teacher", "friend", "brother")
    if deep and state.tier != "standard" and (state.clear_need or state.quote_open):
        return "invite to visit the company"
    if deep and (state.clear_need or state.quote_open):
        return "visit"
    return "call"


def _due_soon(state: CustomerState, as_of: int) -> bool:
    if not state.clear_need or state.need_due is None:
        return False
    due = pd.Timestamp(state.need_due).date()
    days = (due - to_datetime(as_of).date()).days
    return 0 <= days <= 30


def candidate(
    state: CustomerState,
    score: Score,
    as_of: int,
    policy: Policy = DEFAULT,
) -> tuple[float, str, list[str], list[str], bool] | None:
    """(priority, action, why, flags, must_keep) for a customer, or None if not today."""
    since = days_since_contact(state, as_of)
    if since is not None and since < min_gap_days(state, policy):
        return None
    p_close, value = score
    target = target_gap_days(state, policy)
    why: list[str] = []
    urgency = 1.0
    if since is None:
        urgency *= 1.2
        why.append("never contacted effectively: open the relationship")
    elif since >= target:
        urgency *= 1.0 + min((since - target) / target, 2.0) * 0.5 + 0.25
        why.append(f"follow-up due: {since:.0f} days since the last contact (cadence {target:.0f})")
    if _due_soon(state, as_of):
        urgency *= 1.5
        why.append(f"clear need due {state.need_due}")
    elif state.clear_need:
        urgency *= 1.2
        why.append("clear order need")
    if state.quote_open:
        urgency *= 1.4
        why.append("quote waiting for an answer")
    urgency *= _TIER_WEIGHT.get(state.tier, 1.0)
    if state.tier != "standard":
        why.append(f"{state.tier} customer")
    flag_list = flags(state, p_close, as_of, policy)
    if "nearing_12th_contact" in flag_list:
        why.append(f"{state.effective} effective contacts: nearing the 12th")
    if "dormant_win_back" in flag_list:
        why.append("dormant: no order for 90+ days, win it back")
    why.append(f"predicted value {value:,.0f} (p_close {p_close:.1%})")
    must_keep = state.never_suspend and (since is None or since >= target)
    return value * urgency, _action(state, flag_list), why, flag_list, must_keep


def build_call_list(
    rep_id: str,
    owned: list[CustomerState],
    scores: Mapping[str, Score],
    as_of: int,
    policy: Policy = DEFAULT,
    limit: int | None = None,
) -> list[CallLine]:
    """Today's list for one rep, from the customers it owns."""
    capacity = policy.daily_capacity if limit is None else limit
    picked: list[tuple[bool, float, str, str, list[str], list[str], CustomerState]] = []
    for state in owned:
        found = candidate(state, scores[state.customer_id], as_of, policy)
        if found is None:
            continue
        priority, action, why, flag_list, must_keep = found
        picked.append((must_keep, priority, state.customer_id, action, why, flag_list, state))
    # Never-suspend customers that are due come first whatever their value; then by
    # priority, ties by customer id so the list is deterministic.
    picked.sort(key=lambda x: (not x[0], -x[1], x[2]))
    lines = []
    for rank, (_, priority, cid, action, why, flag_list, state) in enumerate(
        picked[:capacity], start=1
    ):
        p_close, value = scores[cid]
        lines.append(
            CallLine(
                rank=rank,
                rep_id=rep_id,
                customer_id=cid,
                action=action,
                priority=priority,
                p_close=p_close,
                predicted_value=value,
                effective_contacts=state.effective,
                days_since_contact=days_since_contact(state, as_of),
                flags=tuple(flag_list),
                why=tuple(why),
            )
        )
    return lines


def score_index(scores: pd.DataFrame) -> dict[str, Score]:
    """customer_id -> (p_close, predicted_value), from a scores frame."""
    return dict(
        zip(
            scores["customer_id"],
            zip(scores["p_close"].tolist(), scores["predicted_value"].tolist(), strict=True),
            strict=True,
        )
    )


def build_call_lists(
    states: Mapping[str, CustomerState],
    reps: Mapping[str, RepState],
    scores: pd.DataFrame,
    as_of: int,
    policy: Policy = DEFAULT,
    rep_id: str | None = None,
    limit: int | None = None,
) -> dict[str, list[CallLine]]:
    """Lists for one rep, or for every active rep that owns customers."""
    owned: dict[str, list[CustomerState]] = {}
    for state in states.values():
        if state.owner is not None and owner_active(state, reps):
            owned.setdefault(state.owner, []).append(state)
    wanted = [rep_id] if rep_id is not None else sorted(owned)
    index = score_index(scores)
    return {
        r: build_call_list(r, owned.get(r, []), index, as_of, policy, limit) for r in wanted
    }
