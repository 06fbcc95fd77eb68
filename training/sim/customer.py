"""One simulated customer, from lead to (maybe) repeat buyer.

A hidden propensity drives what can be seen in the log: how often contacts get through,
how fast the portrait deepens, how often a clear need appears and how quotes end. What
the rep does matters too (cadence, tenure, skill, a manager stepping in, handling a
complaint), and several effects interact, so counting contacts alone is not the whole
story. Nothing hidden is ever written to an event: it goes to the ground-truth file.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

from training.sim.world import DAY, Clock, Rep, Roster

NEVER = 1 << 62  # "no timer set"; compares greater than any simulation minute
TWELVE = 12  # the twelve-contact rule
WIN_BASE = -3.4  # calibrates first deals: new reps ~3 % of leads, seasoned ones ~10 %

# (name, weight, effect on the latent propensity's logit)
SOURCES = (
    ("trade_show", 0.18, 0.2),
    ("referral", 0.10, 0.9),
    ("inbound", 0.14, 0.5),
    ("cold_list", 0.30, -0.6),
    ("industry_event", 0.12, 0.1),
    ("dormant_reactivation", 0.06, 0.6),
    ("other", 0.10, -0.2),
)
# (name, weight, fit with a "selling value" printer, price sensitivity)
INDUSTRIES = (
    ("cosmetics", 0.12, 0.6, 0.3),
    ("pharmaceuticals", 0.10, 0.5, 0.3),
    ("liquor_gift_boxes", 0.08, 0.5, 0.2),
    ("food_beverage", 0.18, 0.2, 0.5),
    ("electronics", 0.12, 0.1, 0.5),
    ("ecommerce", 0.14, -0.4, 0.8),
    ("publishing", 0.08, -0.5, 0.8),
    ("apparel", 0.08, -0.1, 0.6),
    ("toys", 0.05, 0.0, 0.5),
    ("household_chemicals", 0.05, 0.0, 0.5),
)
# (name, weight, logit effect, potential yearly spend range in CNY)
SIZES = (
    ("small", 0.50, 0.15, (20_000, 150_000)),
    ("medium", 0.35, 0.0, (100_000, 800_000)),
    ("large", 0.15, -0.2, (500_000, 5_000_000)),
)
STAGE_OF_SECTIONS = (0, 1, 1, 1, 2, 3, 4)  # sections known (in order) -> psychological stage
SECTIONS = ("basic", "background", "needs", "competition", "deep", "extended")
# Chance that an effective contact reveals the next section, before the customer's openness.
SECTION_BASE = (0.9, 0.5, 0.22, 0.22, 0.07, 0.05)
STAGE_WIN = (-1.2, -0.6, 0.2, 0.7, 1.1)  # none, doctor, teacher, friend, brother
CHANNELS = ("phone", "wechat", "sms", "email", "visit", "hosted_visit")
CHANNEL_REACH = (1.0, 1.0, 0.6, 0.7, 1.25, 1.35)  # how likely the contact gets through
CHANNEL_WARMTH = (1.0, 0.9, 0.4, 0.5, 1.5, 2.0)  # how much an effective one builds trust
# Cumulative channel mixes (sum 1): prospects, customers with a clear need, accounts.
PROSPECT_CHANNELS = tuple(accumulate((0.30, 0.30, 0.08, 0.12, 0.15, 0.05)))
NEED_CHANNELS = tuple(accumulate((0.25, 0.25, 0.03, 0.10, 0.27, 0.10)))
ACCOUNT_CHANNELS = tuple(accumulate((0.25, 0.35, 0.05, 0.10, 0.20, 0.05)))
LOSS_REASONS = ("price", "timing", "need_mismatch", "competitor", "other")
SUSPEND_REASONS = ("timing", "need_mismatch", "competition", "other")
NOTES = (
    "sent carton samples",
    "discussed color consistency",
    "asked about lead times",
    "introduced eco-friendly materials",
    "plant tour",
    "price feedback",
    "follow-up on artwork",
)


@cache
def _gamma_table(shape: float) -> tuple[float, ...]:
    """Sorted draws of a mean-1 gamma: sampling from it is far cheaper than gammavariate."""
    table_rng = random.Random(int(shape * 1000))
    return tuple(sorted(table_rng.gammavariate(shape, 1.0 / shape) for _ in range(4096)))


def gamma_draw(rng: random.Random, shape: float) -> float:
    """A gap multiplier with mean ~1; a higher shape gives a steadier cadence."""
    table = _gamma_table(shape)
    return table[int(rng.random() * len(table))]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _pick(rng: random.Random, table: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    x = rng.random() * sum(row[1] for row in table)
    for row in table:
        x -= row[1]
        if x < 0:
            return row
    return table[-1]


@dataclass(slots=True)
class Traits:
    """The hidden truth about a customer (written to the ground-truth file only)."""

    propensity: float  # overall readiness to buy from this company, 0..1
    responsiveness: float  # 0..1: share of follow-ups that get through
    need_interval: float  # mean days between order needs
    price_sensitivity: float  # 0..1
    source: str
    industry: str
    size: str
    fit: float  # how well the industry matches the company's market position
    potential_value: int
    tier: str
    never_suspend: bool
    breaks_rule_at: int  # >0: this customer will be suspended early, after that many contacts


def draw_traits(rng: random.Random, opening_book: bool) -> Traits:
    source, _, source_effect = _pick(rng, SOURCES)
    if not opening_book and source == "dormant_reactivation":
        source = "cold_list"  # old ERP customers are loaded with the first import only
        source_effect = SOURCES[3][2]
    industry, _, fit, price_sensitivity = _pick(rng, INDUSTRIES)
    size, _, size_effect, (low, high) = _pick(rng, SIZES)
    z = -2.5 + source_effect + fit + size_effect + rng.gauss(0.0, 0.9)
    propensity = _sigmoid(z)
    responsiveness = _sigmoid(0.9 * (z + 2.0) + rng.gauss(0.0, 0.6))
    tier, never_suspend = _draw_importance(rng, size)
    # A few customers will be suspended against the rules, so policy checks have examples:
    # too early, or despite never_suspend.
    if never_suspend:
        breaks_rule_at = rng.randint(TWELVE, 20) if rng.random() < 0.08 else 0
    else:
        breaks_rule_at = rng.randint(4, TWELVE - 1) if rng.random() < 0.012 else 0
    return Traits(
        propensity=propensity,
        responsiveness=responsiveness,
        need_interval=200.0 / (0.3 + 3.0 * propensity),
        price_sensitivity=min(1.0, max(0.0, price_sensitivity + rng.gauss(0.0, 0.15))),
        source=source,
        industry=industry,
        size=size,
        fit=fit,
        potential_value=int(round(math.exp(rng.uniform(math.log(low), math.log(high))), -3)),
        tier=tier,
        never_suspend=never_suspend,
        breaks_rule_at=breaks_rule_at,
    )


def _draw_importance(rng: random.Random, size: str) -> tuple[str, bool]:
    """Importance follows what the company can see (size), not the hidden propensity."""
    key, vvip = {"small": (0.01, 0.0), "medium": (0.08, 0.005), "large": (0.30, 0.06)}[size]
    x = rng.random()
    if x < vvip:
        return "vvip", rng.random() < 0.9
    if x < vvip + key:
        return "key", rng.random() < 0.1
    return "standard", False


class Sink:
    """Collects events as sortable tuples: (sort key, minute, type, customer, rep, payload)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, int, str, str | None, str | None, dict[str, Any]]] = []

    def emit(
        self, t: int, kind: str, customer: str | None, rep: str | None, payload: dict[str, Any]
    ) -> None:
        # The generation order breaks ties, keeping same-minute events in causal order.
        self.events.append(((t << 32) + len(self.events), t, kind, customer, rep, payload))


class CustomerLife:
    """The event-driven life of one customer: a handful of timers, earliest one first."""

    def __init__(
        self,
        index: int,
        arrival: int,
        traits: Traits,
        end: int,
        clock: Clock,
        roster: Roster,
        rng: random.Random,
        sink: Sink,
    ) -> None:
        self.cid = f"c{index:06d}"
        self.index = index
        self.tr = traits
        self.end = end
        self.clock = clock
        self.roster = roster
        self.rng = rng
        self.sink = sink
        self.owner: Rep | None = None
        self.previous: Rep | None = None  # the last owner: a reassignment goes elsewhere
        self.owner_effective = 0  # effective contacts by the current owner
        self.impression = 0.0  # how professional the first meetings were (hidden)
        self.prior_impression: float | None = None  # ...as left by the previous owner
        self.met = 0.0  # how professional the current owner's first meetings were
        self.need_scale = 1.0  # needs come slower once a competitor has won one
        # What the log would show.
        self.effective = 0
        self.sections = 0
        self.orders = 0
        self.quotes = 0
        self.last_contact = -NEVER
        self.last_effective = -NEVER
        self.last_order = -NEVER
        self.tier = "standard"
        # Hidden state.
        self.warmth = 0.0  # trust, built by effective contacts and lost over long gaps
        self.churned = False  # a buyer who stopped needing us (dormant, unless reactivated)
        self.need_open = False  # the customer has a need right now (seen or not)
        self.need_seen = False  # ...and the rep has recorded it as a clear need
        self.need_value = 0
        self.need_small = False
        self.quote_amount = 0
        self.quote_id = ""
        self.manager_involved = False
        self.complaint_effect = 0.0
        self.last_was_ineffective = False
        self.followup_complaint = False
        self.breaks_rule_at = traits.breaks_rule_at
        # Timers (minutes; NEVER when unset).
        self.t_contact = NEVER
        self.t_need = NEVER
        self.t_due = NEVER
        self.t_decision = NEVER
        self.t_reassign = NEVER
        self.t_leave = NEVER
        self.t_complaint = NEVER
        self.t_manager = NEVER
        self.t_reactivate = NEVER
        self.t_reorder = NEVER
        self._start(arrival)

    # ---- helpers -------------------------------------------------------------------------

    def emit(self, t: int, kind: str, rep: Rep | None, payload: dict[str, Any]) -> None:
        self.sink.emit(t, kind, self.cid, rep.rep_id if rep else None, payload)

    def day_after(self, t: int, days: float) -> int:
        """An office-hours moment at least one day after `t`."""
        return self.clock.office_time(t // DAY + max(1, round(days)), self.rng)

    @property
    def stage(self) -> int:
        return STAGE_OF_SECTIONS[self.sections]

    def _set_owner(self, rep: Rep | None) -> None:
        if self.owner_effective:
            self.prior_impression = self.impression
        if self.owner is not None:
            self.previous = self.owner
        self.owner = rep
        self.owner_effective = 0
        self.t_leave = NEVER if rep is None or rep.left is None else rep.left

    def _next_need(self, t: int) -> None:
        if self.churned:
            self.t_need = NEVER
            return
        if self.orders:  # a buyer reorders every month or few, the keener ones more often
            mean = 20.0 + 0.25 * self.tr.need_interval
        else:
            mean = self.tr.need_interval * self.need_scale
        self.t_need = self.day_after(t, self.rng.expovariate(1.0 / mean))

    # ---- lifecycle -----------------------------------------------------------------------

    def _start(self, t: int) -> None:
        rng, tr = self.rng, self.tr
        day = t // DAY
        # Managers hand cold lists to new reps: contacting many prospects is their KPI.
        prefer_new = 0.5 if tr.source == "cold_list" else 0.0
        owner = None if rng.random() < 0.08 else self.roster.pick_owner(day, rng, prefer_new)
        self._set_owner(owner)
        self.emit(
            t,
            "lead_created",
            owner,
            {
                "source": tr.source,
                "industry": tr.industry,
                "size": tr.size,
                "potential_value": tr.potential_value,
            },
        )
        if tr.tier != "standard":
            self.tier = tr.tier
            when = self.day_after(t, rng.uniform(0, 10))
            self.emit(
                when,
                "importance_set",
                self.roster.manager_of(owner),
                {"tier": tr.tier, "never_suspend": tr.never_suspend},
            )
        if owner is None:  # the public pool: a manager hands it out later, or not at all
            if rng.random() < 0.8:
                self.t_reassign = self.day_after(t, rng.uniform(3, 60))
        else:
            self.t_contact = self.day_after(t, rng.uniform(0.5, 5))
        # Inbound and referred customers often arrive with a need already; many other
        # leads are looking for a supplier for a project in the coming months.
        if tr.source in ("inbound", "referral") and rng.random() < 0.3:
            self.t_need = self.day_after(t, rng.uniform(0, 5))
        elif rng.random() < 0.45 + 0.5 * tr.propensity:
            self.t_need = self.day_after(t, rng.uniform(0, 75))
        else:
            self._next_need(t)

    def run(self) -> None:
        while True:
            t = min(
                self.t_contact,
                self.t_need,
                self.t_due,
                self.t_decision,
                self.t_reassign,
                self.t_leave,
                self.t_complaint,
                self.t_manager,
                self.t_reactivate,
                self.t_reorder,
            )
            if t >= self.end:
                return
            if t == self.t_leave:
                self._owner_left(t)
            elif t == self.t_reassign:
                self._reassign(t)
            elif t == self.t_decision:
                self._decide(t)
            elif t == self.t_due:
                self._need_lapses(t)
            elif t == self.t_need:
                self._need_arises(t)
            elif t == self.t_reorder:
                self._reorder(t)
            elif t == self.t_complaint:
                self._complaint(t)
            elif t == self.t_manager:
                self._manager_visit(t)
            elif t == self.t_reactivate:
                self._reactivate(t)
            else:
                self._contact(t)

    def _owner_left(self, t: int) -> None:
        """The owner's `rep_left` is a rep event; the customer waits for a new owner."""
        self._set_owner(None)
        self.t_contact = NEVER
        self.t_manager = NEVER
        late = self.rng.random() < 0.15  # some stay in the pool for a while
        self.t_reassign = self.day_after(
            t, self.rng.uniform(60, 200) if late else self.rng.uniform(3, 40)
        )

    def _reassign(self, t: int) -> None:
        rep = self.roster.pick_owner(t // DAY, self.rng, prefer_new=0.5, avoid=self.previous)
        if rep is None:
            self.t_reassign = self.day_after(t, 7)
            return
        self.t_reassign = NEVER
        self.emit(t, "customer_assigned", rep, {"by": self.roster.manager_of(rep).rep_id})
        self._set_owner(rep)
        self.warmth *= 0.6  # trust was with the previous person
        self.t_contact = self.day_after(t, self.rng.uniform(1, 7))

    # ---- follow-ups ----------------------------------------------------------------------

    def _contact(self, t: int) -> None:
        rep = self.owner
        assert rep is not None
        rng, tr = self.rng, self.tr
        engaged = self.need_seen or self.quote_id != ""
        weights = (
            NEED_CHANNELS if engaged else ACCOUNT_CHANNELS if self.orders else PROSPECT_CHANNELS
        )
        if self.followup_complaint:
            ch = 4 if rng.random() < 0.6 else 0
            reach = 0.95
        else:
            ch = min(5, bisect.bisect_right(weights, rng.random()))
            reach = 0.3 + 0.6 * tr.responsiveness
            if engaged:
                reach += 0.15
            if self.churned:
                reach *= 0.6
            if not engaged and t - self.last_contact < 3 * DAY:
                reach -= 0.25  # too frequent annoys the customer
            reach *= CHANNEL_REACH[ch] * (0.7 + 0.3 * min(1.0, rep.skill(t)))
        effective = rng.random() < reach
        payload: dict[str, Any] = {"channel": CHANNELS[ch], "effective": effective}
        if ch >= 4 and rng.random() < 0.3:
            payload["note"] = rng.choice(NOTES)
        self.emit(t, "contact_made", rep, payload)
        self.followup_complaint = False
        self.last_was_ineffective = not effective
        self.last_contact = t
        if effective:
            self._effective(t, rep, ch)
        if self._should_suspend():
            self._suspend(t, rep)
            return
        self._schedule_contact(t, rep)

    def _schedule_contact(self, t: int, rep: Rep) -> None:
        if self.need_seen or self.quote_id:
            mean, shape, floor = 5.0, 4.0, 2  # weekly-ish with a clear need, never daily
        else:
            mean = 40.0 if self.churned else 20.0 if self.orders else 10.0
            shape, floor = rep.regularity, 1
        mean /= rep.diligence
        if self.tier != "standard":
            mean *= 0.75
        gap = mean * gamma_draw(self.rng, shape)
        if self.last_was_ineffective:
            gap *= 0.6  # try again soon
        self.t_contact = self.day_after(t, max(floor, gap))

    def _effective(self, t: int, rep: Rep, ch: int) -> None:
        rng, tr = self.rng, self.tr
        self.effective += 1
        self.owner_effective += 1
        # Trust fades over long silences (irregular cadence costs), and grows with contact.
        if self.last_effective > -NEVER:
            self.warmth *= math.exp(-(t - self.last_effective) / (60 * DAY))
        self.warmth += (1.0 - self.warmth) * 0.15 * CHANNEL_WARMTH[ch]
        self.last_effective = t
        skill = rep.skill(t)
        if self.owner_effective <= 3:
            # First impressions last: a green rep's first meetings cap the trust to come,
            # and a new owner can only partly repair what the previous one left.
            self.met += (min(1.0, skill) - self.met) / self.owner_effective
            prior = self.prior_impression
            self.impression = self.met if prior is None else 0.5 * (prior + self.met)
        m = t + 2
        if self.sections < 6:
            p = SECTION_BASE[self.sections] * (0.5 + tr.responsiveness) * (0.4 + 0.6 * skill)
            p *= (0.6 + self.warmth) * (1.5 if ch >= 4 else 1.0)
            if rng.random() < p:
                self._portrait(m, rep, self.sections)
                self.sections += 1
        elif rng.random() < 0.03:  # an occasional refresh of what is known
            self._portrait(m, rep, rng.randrange(6))
        if self.need_open and not self.need_seen:
            knows_needs = self.sections >= 3
            p = 0.2 + 0.3 * knows_needs + 0.3 * min(1.0, skill) + 0.2 * self.warmth
            if rng.random() < p:
                self._need_seen(t + 5, rep)
        elif self.need_seen and not self.quote_id and self.sections >= 1 and rng.random() < 0.35:
            self._quote(t + 9, rep)  # a quote follows some needs analysis, not the first call
        if self.effective == 10 and not self.orders and rng.random() < 0.55:
            # The domain's "manager steps in at 10 contacts".
            self.t_manager = self.day_after(t, rng.uniform(2, 14))

    def _portrait(self, t: int, rep: Rep, section: int) -> None:
        self.emit(
            t,
            "portrait_updated",
            rep,
            {"section": SECTIONS[section], "fields": portrait_fields(self.rng, section)},
        )

    def _should_suspend(self) -> bool:
        """The twelve-contact rule: only prospects that stall, and only after 12 contacts."""
        if self.orders or self.need_seen or self.quote_id:
            return False
        tr = self.tr
        if self.breaks_rule_at and self.effective >= self.breaks_rule_at:
            return True  # a rep who does not follow the rule (kept as a policy example)
        if self.effective < TWELVE:
            return False
        if tr.never_suspend:
            return False
        if self.owner_effective < 5:
            return False  # a new owner gives it a fair try first
        p = 0.015 + 0.1 * (1.0 - tr.responsiveness) * (1.0 - self.warmth)
        return self.rng.random() < p

    def _suspend(self, t: int, rep: Rep) -> None:
        self.emit(t + 30, "customer_suspended", rep, {"reason": self.rng.choice(SUSPEND_REASONS)})
        self.breaks_rule_at = 0
        self._set_owner(None)
        self.t_contact = NEVER
        self.t_manager = NEVER
        if self.rng.random() < 0.7:
            self.t_reassign = self.day_after(t, self.rng.uniform(14, 120))

    def _manager_visit(self, t: int) -> None:
        self.t_manager = NEVER
        manager = self.roster.manager_of(self.owner)
        effective = self.rng.random() < 0.85
        channel = "visit" if self.rng.random() < 0.7 else "hosted_visit"
        self.emit(t, "contact_made", manager, {"channel": channel, "effective": effective})
        if effective:
            self.effective += 1
            self.manager_involved = True
            self.warmth += (1.0 - self.warmth) * 0.3

    # ---- needs, quotes, orders -----------------------------------------------------------

    def _need_arises(self, t: int) -> None:
        """A latent need: only a contact can bring it to light before it is due."""
        rng = self.rng
        self.t_need = NEVER
        self.need_open = True
        self.need_small = rng.random() < 0.3
        share = rng.uniform(0.01, 0.05) if self.need_small else rng.uniform(0.05, 0.3)
        self.need_value = max(1000, int(round(self.tr.potential_value * share, -2)))
        self.t_due = self.day_after(t, rng.uniform(60, 150))
        if self.orders and rng.random() < (0.6 if self.stage >= 2 else 0.3):
            # A repeat customer who trusts us simply reorders.
            self.t_reorder = self.day_after(t, rng.uniform(2, 10))

    def _need_seen(self, t: int, rep: Rep) -> None:
        self.need_seen = True
        self.emit(
            t,
            "need_identified",
            rep,
            {
                "clear_need": True,
                "expected_value": self.need_value,
                "due_date": self.clock.date(self.t_due // DAY),
            },
        )

    def _quote(self, t: int, rep: Rep, discount: float = 1.0) -> None:
        rng = self.rng
        self.quotes += 1
        self.quote_id = f"Q{self.index:06d}-{self.quotes:02d}"
        # Green reps misjudge prices: their quotes sit higher above the expected value.
        markup = rng.uniform(0.85, 1.25) + 0.2 * max(0.0, 1.0 - rep.skill(t))
        self.quote_amount = max(500, round(self.need_value * markup * discount))
        self.emit(t, "quote_sent", rep, {"quote_id": self.quote_id, "amount": self.quote_amount})
        self.t_decision = min(self.t_due, self.day_after(t, rng.uniform(14, 45)))

    def _win_probability(self, t: int) -> float:
        tr = self.tr
        rep = self.owner
        skill = rep.skill(t) if rep else 0.4
        ratio = self.quote_amount / max(1, self.need_value)
        # Friends and brothers are preferred at equal and even worse prices.
        price = (2.5 + 2.0 * tr.price_sensitivity) * (ratio - 0.95)
        price *= 1.0 - 0.3 * max(0, self.stage - 2)
        z = 0.9 * (math.log(tr.propensity / (1 - tr.propensity)) + 1.5)
        z += STAGE_WIN[self.stage] + 1.6 * (self.warmth - 0.5) + 1.5 * (skill - 0.8) - price
        z += 3.5 * (self.impression - 0.8)
        z += 0.5 * self.manager_involved + 0.3 * (self.tier != "standard")
        z += self.complaint_effect
        if self.orders:
            return _sigmoid(z + 0.6)
        # Strangers rarely buy: trust takes about twelve effective contacts, with
        # diminishing returns after; small quick orders need less of it.
        gate = 2.5 * max(0, TWELVE - self.effective) / TWELVE
        z += 0.6 * (1.0 - math.exp(-max(0, self.effective - TWELVE) / 6.0))
        return _sigmoid(z + WIN_BASE - gate * (0.4 if self.need_small else 1.0))

    def _decide(self, t: int) -> None:
        rng = self.rng
        self.t_decision = NEVER
        rep = self.owner
        if rng.random() < self._win_probability(t):
            self._won(t, rep, round(self.quote_amount * rng.uniform(0.9, 1.0)))
            return
        ratio = self.quote_amount / max(1, self.need_value)
        if ratio > 1.1 and rng.random() < 0.5 + self.tr.price_sensitivity / 2:
            reason = "price"
        elif self.stage <= 1 and rng.random() < 0.5:
            reason = "competitor"
        else:
            reason = rng.choice(LOSS_REASONS)
        self.emit(t, "order_lost", rep, {"reason": reason, "quote_id": self.quote_id})
        self.quote_id = ""
        self.need_scale *= 3.0
        if reason == "price" and self.t_due - t > 7 * DAY and rep and rng.random() < 0.35:
            self._quote(t + 20, rep, discount=0.9)  # a revised offer while the need lasts
            return
        self._close_need(t + 1, rep, clear_flag=rng.random() < 0.8)

    def _close_need(self, t: int, rep: Rep | None, clear_flag: bool) -> None:
        if self.need_seen and clear_flag:
            self.emit(t, "need_identified", rep, {"clear_need": False})
        self.need_open = self.need_seen = False
        self.quote_id = ""
        self.t_due = NEVER
        self.t_reorder = NEVER
        self._next_need(t)

    def _need_lapses(self, t: int) -> None:
        """Due date passed: the customer bought elsewhere (or not at all)."""
        rep = self.owner
        if self.quote_id:
            self.emit(t, "order_lost", rep, {"reason": "timing", "quote_id": self.quote_id})
        self.t_decision = NEVER
        self._close_need(t + 1, rep, clear_flag=self.rng.random() < 0.5)

    def _reorder(self, t: int) -> None:
        self.t_reorder = NEVER
        share = self.rng.uniform(0.6, 1.1)
        self._won(t, self.owner, max(500, round(self.need_value * share)))

    def _won(self, t: int, rep: Rep | None, amount: int) -> None:
        rng, tr = self.rng, self.tr
        self.orders += 1
        self.last_order = t
        self.emit(
            t,
            "order_won",
            rep,
            {"order_id": f"O{self.index:06d}-{self.orders:02d}", "amount": max(1, amount)},
        )
        self.t_decision = NEVER
        if amount >= 200_000 and self.tier == "standard" and rng.random() < 0.5:
            self.tier = "key"
            self.emit(t + 60, "importance_set", self.roster.manager_of(rep), {"tier": "key"})
        # Some buyers never come back (dormant); low propensity ones more often.
        self.churned = rng.random() < 0.03 + 0.25 * (1.0 - tr.propensity) - self.complaint_effect
        if rng.random() < 0.06 + 0.05 * (1.0 - (rep.skill(t) if rep else 0.5)):
            self.t_complaint = self.day_after(t, rng.uniform(5, 40))
        self.t_reactivate = (
            self.day_after(t, rng.uniform(120, 300)) if rng.random() < 0.35 else NEVER
        )
        self._close_need(t + 1, rep, clear_flag=rng.random() < 0.7)

    def _complaint(self, t: int) -> None:
        """Complaints are inevitable; handled well they bring the customer closer."""
        rng = self.rng
        self.t_complaint = NEVER
        rep = self.owner
        major = rng.random() < 0.25
        self.emit(t, "complaint_received", rep, {"severity": "major" if major else "minor"})
        if rep is not None and rng.random() < 0.45 + 0.45 * min(1.0, rep.skill(t)):
            self.followup_complaint = True
            self.t_contact = self.day_after(t, rng.randint(0, 3))
            self.complaint_effect = 0.3
            self.warmth += (1.0 - self.warmth) * 0.2
            if rng.random() < 0.5:
                self.churned = False
        else:
            self.complaint_effect = -0.8 if major else -0.4
            self.warmth *= 0.7
            self.churned = self.churned or rng.random() < (0.8 if major else 0.5)
        if not self.churned and self.t_need == NEVER and not self.need_open:
            self._next_need(t)

    def _reactivate(self, t: int) -> None:
        """A dormant customer (no order for months) handed out again as a lead."""
        rng, tr = self.rng, self.tr
        self.t_reactivate = NEVER
        if t - self.last_order < 90 * DAY:
            return
        keep = self.owner is not None and rng.random() < 0.5
        rep = self.owner if keep else self.roster.pick_owner(t // DAY, rng, prefer_new=0.3)
        if rep is None:
            return
        self.emit(
            t,
            "lead_created",
            rep,
            {
                "source": "dormant_reactivation",
                "industry": tr.industry,
                "size": tr.size,
                "potential_value": tr.potential_value,
            },
        )
        if rep is not self.owner:
            by = self.roster.manager_of(rep).rep_id
            self.emit(t + 1, "customer_assigned", rep, {"by": by})
            self._set_owner(rep)
            self.t_reassign = NEVER
            self.warmth *= 0.6
        self.t_contact = min(self.t_contact, self.day_after(t, rng.uniform(1, 7)))
        if self.churned and rng.random() < 0.25 + 0.5 * tr.propensity:
            self.churned = False
        if not self.churned and not self.need_open:
            self._next_need(t)


def portrait_fields(rng: random.Random, section: int) -> dict[str, str | int | bool]:
    """Plausible form contents; `deep` and `extended` look sensitive on purpose."""
    person = f"{rng.choice(('Mr.', 'Ms.'))} {rng.choice(('Wang', 'Li', 'Zhang', 'Chen', 'Zhao'))}"
    if section == 0:
        return {
            "contact_name": person,
            "title": rng.choice(("purchasing manager", "brand manager", "owner", "buyer")),
            "phone": f"13{rng.randrange(10)}****{rng.randrange(10000):04d}",
        }
    if section == 1:
        return {
            "employees": rng.choice((30, 80, 150, 400, 1200, 5000)),
            "founded": rng.randint(1985, 2020),
            "listed": rng.random() < 0.15,
        }
    if section == 2:
        return {
            "products": rng.choice(("folding cartons", "labels", "rigid boxes", "manuals")),
            "annual_volume": rng.choice((20_000, 100_000, 500_000, 2_000_000)),
            "quality_focus": rng.choice(("color consistency", "lead time", "price", "eco")),
        }
    if section == 3:
        return {
            "main_supplier": rng.choice(("Jinghua Print", "Yuto", "local shop", "in-house")),
            "supplier_count": rng.randint(1, 5),
            "satisfaction": rng.choice(("low", "medium", "high")),
        }
    if section == 4:
        return {
            "decision_maker": f"GM {rng.choice(('Li', 'Huang', 'Sun', 'Ma'))}",
            "supplier_policy": rng.choice(("consolidating", "adding a second source", "none")),
            "budget_cycle": rng.choice(("Q1", "Q3", "monthly", "per project")),
        }
    return {
        "birthday": f"{rng.randint(1965, 1992)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "hobby": rng.choice(("golf", "tea", "fishing", "calligraphy", "running")),
        "family": rng.choice(("two children", "one daughter", "one son", "married")),
        "hometown": rng.choice(("Wenzhou", "Chaozhou", "Ningbo", "Quanzhou", "Hefei")),
    }
