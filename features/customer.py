"""Features of one customer as of a time: the one implementation for training and serving.

`FEATURES` documents every feature in one place; `customer_features` computes them from a
customer's state (folded from events with `occurred_at <= as_of`), its owner's rep state
and `as_of` itself, and nothing else: no clock, no other customer, no later event. That
is what makes a training row point-in-time correct and a served score reproducible.

Durations are in days and capped at `CAP_DAYS`, so "never" is a large finite number
rather than a missing value every model would need to learn to impute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from itertools import pairwise
from typing import Final

import numpy as np

from features.policy import DEFAULT, Policy
from streams.core.contract import SOURCES, to_datetime
from streams.core.state import DAY_US, STAGES, CustomerState, RepState

CAP_DAYS: Final = 730.0
_TIERS: Final = {"standard": 0.0, "key": 1.0, "vvip": 2.0}
_SIZES: Final = {None: 0.0, "small": 1.0, "medium": 2.0, "large": 3.0}
_STAGE_INDEX: Final = {name: float(i) for i, name in enumerate(STAGES)}

FEATURES: Final[tuple[tuple[str, str], ...]] = (
    ("effective_contacts", "effective follow-ups so far (the twelve-contact rule counts these)"),
    ("total_contacts", "all follow-ups, effective or not"),
    ("ineffective_share", "share of follow-ups that were not effective communication"),
    ("contacts_30d", "effective contacts in the 30 days up to as-of"),
    ("contacts_90d", "effective contacts in the 90 days up to as-of"),
    ("days_since_contact", "days since the last effective contact (capped; never = cap)"),
    ("relationship_days", "days since the first effective contact (0 if none)"),
    ("mean_gap_days", "mean days between consecutive effective contacts (0 if < 2)"),
    ("gap_cv", "std/mean of those gaps: 0 is a perfectly regular cadence"),
    ("cadence_deviation", "|log(mean gap / recommended gap)|: distance from the cadence"),
    ("overdue_ratio", "days since last contact / recommended gap (>1 is overdue)"),
    ("visits", "effective visits and hosted visits (the costliest, deepest contacts)"),
    ("portrait_sections", "how many of the six portrait sections are known"),
    ("stage", "psychological distance: 0 none, 1 doctor, 2 teacher, 3 friend, 4 brother"),
    ("days_since_portrait", "days since the portrait last grew (capped)"),
    ("clear_need", "1 if the customer currently has a clear order need"),
    ("need_age_days", "days since the current clear need was identified (cap if none)"),
    ("need_due_days", "days from as-of to the need's due date (cap if none; < 0 overdue)"),
    ("need_value_log", "log1p of the need's expected value (0 if none)"),
    ("quotes", "quotes sent"),
    ("quote_open", "1 if the last quote awaits an answer (no order or loss after it)"),
    ("days_since_quote", "days since the last quote (capped)"),
    ("losses", "opportunities lost"),
    ("days_since_loss", "days since the last loss (capped)"),
    ("orders", "orders won so far"),
    ("order_value_log", "log1p of the total value ordered so far"),
    ("days_since_order", "days since the last order (capped; never = cap)"),
    ("dormant", "1 if the customer has ordered but not within the dormant window (90 days)"),
    ("tier", "importance: 0 standard, 1 key, 2 vvip"),
    ("never_suspend", "1 if importance forbids suspension"),
    ("size", "company size: 0 unknown, 1 small, 2 medium, 3 large"),
    ("potential_value_log", "log1p of the lead's expected yearly spend (0 if unknown)"),
    *((f"source_{s}", f"1 if the lead came from {s.replace('_', ' ')}") for s in SOURCES),
    ("lead_age_days", "days since the customer first appeared in the log (capped)"),
    ("in_pool", "1 if the customer has no active owner (suspended, unowned, or owner left)"),
    ("suspensions", "times the customer was suspended to the pool"),
    ("assignments", "times the customer was (re)assigned"),
    ("complaints_minor", "minor complaints"),
    ("complaints_major", "major complaints"),
    ("days_since_complaint", "days since the last complaint (capped)"),
    ("rep_tenure_days", "the owner's tenure in days at as-of (0 if no owner; capped)"),
    ("rep_new", "1 if the owner is in their first months (principle 1: new reps convert 1-5%)"),
    ("rep_conversion_26w", "the owner's deals / leads over the last 26 weeks, smoothed"),
    ("rep_contacts_4w", "the owner's effective contacts over the last 4 weeks"),
    # Appended last, so every column before it keeps its position.
    (
        "days_since_first_order",
        "days since the first order (capped; never = cap): with orders and days_since_order, "
        "the frequency, recency and age a buy-till-you-die model needs",
    ),
)
FEATURE_NAMES: Final = tuple(name for name, _ in FEATURES)
INDEX: Final = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _days(as_of: int, ts: int | None) -> float:
    if ts is None:
        return CAP_DAYS
    return min(CAP_DAYS, max(0.0, (as_of - ts) / DAY_US))


def _log1p(value: float | None) -> float:
    return math.log1p(value) if value else 0.0


def _due_days(due: str | None, as_of: int) -> float:
    if due is None:
        return CAP_DAYS
    days = (date.fromisoformat(due) - to_datetime(as_of).date()).days
    return float(max(-CAP_DAYS, min(CAP_DAYS, days)))


def target_gap_days(state: CustomerState, policy: Policy = DEFAULT) -> float:
    return policy.target_gap_need_days if state.clear_need else policy.target_gap_days


def min_gap_days(state: CustomerState, policy: Policy = DEFAULT) -> float:
    return policy.min_gap_need_days if state.clear_need else policy.min_gap_days


def owner_active(state: CustomerState, reps: Mapping[str, RepState]) -> bool:
    if state.owner is None or state.status == "suspended":
        return False
    rep = reps.get(state.owner)
    return rep is None or rep.active


def customer_features(
    state: CustomerState,
    rep: RepState | None,
    as_of: int,
    in_pool: bool,
    policy: Policy = DEFAULT,
) -> list[float]:
    """The feature vector of one customer, in `FEATURE_NAMES` order."""
    times = state.effective_times()
    gaps = [(b - a) / DAY_US for a, b in pairwise(times)]
    mean_gap = sum(gaps) / len(gaps) if gaps else 0.0
    # Plain floats: statistics.pstdev computes with exact fractions, 60% of this function.
    spread = (sum((g - mean_gap) ** 2 for g in gaps) / len(gaps)) ** 0.5 if gaps else 0.0
    gap_cv = spread / mean_gap if len(gaps) > 1 and mean_gap > 0 else 0.0
    target = target_gap_days(state, policy)
    last_contact = times[-1] if times else None
    since_contact = _days(as_of, last_contact)
    visits = state.channel_count("visit", True) + state.channel_count("hosted_visit", True)
    since_order = _days(as_of, state.last_order_ts)
    clear = bool(state.clear_need)
    row = [
        float(state.effective),
        float(state.contacts),
        (state.contacts - state.effective) / state.contacts if state.contacts else 0.0,
        float(state.effective_between(as_of - 30 * DAY_US, as_of)),
        float(state.effective_between(as_of - 90 * DAY_US, as_of)),
        since_contact,
        _days(as_of, state.first_contact_ts) if state.first_contact_ts is not None else 0.0,
        mean_gap,
        gap_cv,
        abs(math.log(mean_gap / target)) if mean_gap > 0 else 0.0,
        min(since_contact / target, CAP_DAYS / target),
        float(visits),
        float(bin(state.sections).count("1")),
        _STAGE_INDEX[state.stage],
        _days(as_of, state.portrait_last_ts),
        1.0 if clear else 0.0,
        _days(as_of, state.need_ts) if clear else CAP_DAYS,
        _due_days(state.need_due, as_of) if clear else CAP_DAYS,
        _log1p(state.need_value) if clear else 0.0,
        float(state.quotes),
        1.0 if state.quote_open else 0.0,
        _days(as_of, state.last_quote_ts),
        float(state.losses),
        _days(as_of, state.last_loss_ts),
        float(state.orders),
        _log1p(state.order_value),
        since_order,
        1.0 if state.orders and since_order >= policy.dormant_days else 0.0,
        _TIERS[state.tier],
        1.0 if state.never_suspend else 0.0,
        _SIZES.get(state.size, 0.0),
        _log1p(state.potential_value),
        *(1.0 if state.source == s else 0.0 for s in SOURCES),
        _days(as_of, state.first_ts),
        1.0 if in_pool else 0.0,
        float(len(state.suspensions)),
        float(state.assignments),
        float(state.complaints_minor),
        float(state.complaints_major),
        _days(as_of, state.last_complaint_ts),
        *_rep_features(rep, as_of, policy),
        _days(as_of, state.first_order_ts),
    ]
    return row


def _rep_features(rep: RepState | None, as_of: int, policy: Policy) -> tuple[float, ...]:
    if rep is None:
        return (0.0, 0.0, 0.0, 0.0)
    tenure = rep.tenure_days(as_of)
    _, leads, _, deals = rep.window(as_of, 26)
    contacts, *_ = rep.window(as_of, 4)
    # Laplace-style smoothing towards the new-rep midpoint: a rep with 3 leads and
    # 1 deal is not a 33% closer.
    prior = (policy.new_rep_conversion_low + policy.new_rep_conversion_high) / 2
    conversion = (deals + 20 * prior) / (leads + 20)
    return (
        min(tenure, CAP_DAYS * 2.5),
        1.0 if tenure < policy.new_rep_days else 0.0,
        conversion,
        float(contacts),
    )


def feature_matrix(
    states: Iterable[CustomerState],
    reps: Mapping[str, RepState],
    as_of: int,
    policy: Policy = DEFAULT,
) -> np.ndarray:
    """Stack the features of many customers into an (n, len(FEATURE_NAMES)) array."""
    rows = [
        customer_features(
            s,
            reps.get(s.owner) if s.owner else None,
            as_of,
            not owner_active(s, reps),
            policy,
        )
        for s in states
    ]
    if not rows:
        return np.empty((0, len(FEATURE_NAMES)))
    return np.asarray(rows, dtype=np.float64)
