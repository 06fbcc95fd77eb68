"""The domain's numbers, in one place, as settings.

Defaults come from `docs/domain.md` (the seed text's four principles). Where the text
leaves a choice open the default is ours and says so. Override any of them with an
environment variable `CLOSECAST_<NAME>` (upper case), e.g. `CLOSECAST_HORIZON_DAYS=60`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Policy:
    # Principle 2: "at least 12 effective contacts from stranger to deal"; suspension
    # (掛起) is allowed only after 12.
    twelve_contacts: int = 12
    # "When a customer has been contacted 10 times, the manager should step in."
    manager_join_contacts: int = 10
    # "At 3-5 contacts, keep watching": the list flags a customer nearing the 12th from here.
    nearing_twelve_from: int = 10
    # "Dormant customers: no order for 90+ days."
    dormant_days: int = 90
    # Cadence without a clear need: 1-2 contacts a month, so a 15-30 day gap. We aim at
    # the middle and never propose a customer again within the minimum gap.
    target_gap_days: float = 21.0
    min_gap_days: float = 14.0
    # With a clear order need "follow up more tightly": our choice, weekly, at least 3 days.
    target_gap_need_days: float = 7.0
    min_gap_need_days: float = 3.0
    # The forecast's horizon: "close" means an order_won within this many days.
    horizon_days: int = 90
    # New reps: "first 3-6 months"; we treat the first 180 days as new.
    new_rep_days: int = 180
    # New reps convert 1-5% of leads.
    new_rep_conversion_low: float = 0.01
    new_rep_conversion_high: float = 0.05
    # Weekly prospects a rep should contact (our default; the text gives no figure).
    weekly_prospects_target: int = 15
    # A rep's daily call list length.
    daily_capacity: int = 25
    # Yearly sales-team turnover band: above 15% hurts results, below 10% lacks drive.
    turnover_low: float = 0.10
    turnover_high: float = 0.15
    # Below this probability a 12+ contact customer is proposed for suspension. Scores are
    # calibrated and the typical customer's 90-day chance is 4-5%, so "low" is well under
    # it: a fifth of the base rate.
    suspend_below_p: float = 0.01
    # A clear need whose due date is this close (in days) makes the follow-up urgent.
    need_due_soon_days: int = 30
    # "About 1 deal per 20 leads, surely one per 100": a rep with this many leads and a
    # conversion under the low end is told to check that the leads fit the target market.
    lead_fit_check_leads: int = 100
    # Public-pool customers one rep can take on per assignment round (our default).
    pool_capacity_per_rep: int = 10
    # Of those, slots reserved for each new rep: the domain hands pool customers to new
    # reps, whose KPI is prospects contacted (our default: half their capacity).
    new_rep_pool_quota: int = 5
    # Turnover is measured over this many days up to as-of (the text's band is yearly).
    turnover_window_days: int = 365

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Policy:
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        for f in fields(cls):
            text = env.get(f"CLOSECAST_{f.name.upper()}")
            if text is None:
                continue
            kind = type(getattr(cls(), f.name))
            try:
                changes[f.name] = kind(text)
            except ValueError:
                raise ValueError(
                    f"CLOSECAST_{f.name.upper()}: expected a {kind.__name__}, got {text!r}"
                ) from None
        return replace(cls(), **changes)


DEFAULT = Policy()
