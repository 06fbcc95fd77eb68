"""A generating process of contract event logs, written apart from `training/sim`.

Where our simulator draws a fixed propensity per customer and lets contacts drive the
close, this process is a purchase-rate model in continuous calendar time:

- every customer has a latent yearly purchase rate: a gamma-distributed level times a
  log-scale Ornstein-Uhlenbeck walk (tastes drift over months), a one-off "quiet" point
  after which the rate falls to a twentieth (customers drift away without saying so), and
  the world's calendar factors (a trend, a yearly and a weekly cycle);
- orders are a non-homogeneous Poisson process on that rate (drawn day by day, at a
  second-resolution local business time); spend per order is lognormal around a
  per-customer level, so a few customers carry most of the revenue;
- contacts come from the owning rep at a rate set by the rep's diligence, slightly more
  often to customers who bought recently (what reps see); an effective contact multiplies
  the hazard only modestly (x1.1 to x1.5 by the rep's skill), and only 5 to 30 days later;
- reps join, some leave (churn per year is a setting); a leaving rep's customers are
  reassigned to a colleague or left in the public pool, where nobody contacts them;
- leads arrive over the log at a rate that can grow; ids, time zone and event mix differ.

Everything is drawn from one `numpy.random.Generator` seeded by the world's config, so a
config and seed always give the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np

DAY_S = 86_400

SOURCES = ("trade_show", "referral", "inbound", "cold_list", "industry_event", "other")
CHANNELS = ("phone", "email", "visit", "sms", "wechat", "hosted_visit")
# Not the simulator's mix: mostly e-mail and phone, few visits.
CHANNEL_WEIGHTS = (0.38, 0.42, 0.08, 0.07, 0.03, 0.02)
INDUSTRIES = ("cosmetics", "food", "electronics", "pharma", "toys", "wine", "apparel")


@dataclass(frozen=True)
class WorldConfig:
    """One world: how its log is made. Rates are per year unless named otherwise."""

    name: str
    seed: int
    customers: int  # the book at the start
    days: int
    start: str = "2024-03-01"
    utc_offset_minutes: int = -300  # the local time every event is written in
    reps: int = 25
    rep_churn: float = 0.08  # share of reps who leave per year
    reassign_share: float = 0.8  # of a leaver's customers, the share given to a colleague
    new_leads: float = 0.25  # leads arriving per year, as a share of the starting book
    lead_growth: float = 0.0  # yearly growth (log scale) of the lead arrival rate
    purchase_rate: float = 1.6  # mean orders per year of an active customer
    rate_shape: float = 0.7  # gamma shape of customers' rate levels (lower: more uneven)
    drift_sd: float = 0.6  # stationary sd of the log-rate walk
    drift_days: float = 120.0  # its mean-reversion time
    quiet_years: float = 2.5  # mean time until a customer goes quiet
    trend: float = 1.0  # the rate multiplier at the log's end relative to its start
    yearly: float = 0.15  # amplitude of the yearly cycle (0: none)
    weekly: float = 0.3  # how much less is ordered at weekends (0: same every day)
    contacts: bool = True
    contact_rate: float = 6.0  # contacts per owned customer per year, average rep
    quote_share: float = 0.4  # share of orders preceded by a quote
    lost_quotes: float = 0.3  # quotes per year per customer that end lost
    spend: float = 900.0  # median order value of the median customer
    id_style: str = "acct"  # how customer, rep and event ids look
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Ids:
    style: str
    rng: np.random.Generator

    def customer(self, i: int) -> str:
        return {
            "acct": f"ACCT-{i:07d}",
            "uuid": f"{self._hex(8)}-{i:05x}",
            "mail": f"buyer{i}@client{i % 97}.example",
        }.get(self.style, f"C{i}")

    def rep(self, i: int) -> str:
        return {"acct": f"emp_{i:04d}", "uuid": f"u-{i:03d}", "mail": f"rep{i}@vendor.example"}.get(
            self.style, f"R{i}"
        )

    def event(self, n: int) -> str:
        return f"{self._hex(12)}{n:08x}" if self.style != "acct" else f"evt-{n:09d}"

    def _hex(self, k: int) -> str:
        return "".join(f"{b:02x}" for b in self.rng.integers(0, 256, size=k // 2))


class _Writer:
    """Events as contract dicts, in the world's local time, to the second."""

    def __init__(self, config: WorldConfig, rng: np.random.Generator) -> None:
        self.zone = timezone(timedelta(minutes=config.utc_offset_minutes))
        self.start = datetime.fromisoformat(config.start).replace(tzinfo=self.zone)
        self.ids = _Ids(config.id_style, np.random.default_rng(rng.integers(1 << 62)))
        self.events: list[tuple[float, dict[str, Any]]] = []

    def stamp(self, seconds: float) -> str:
        moment = self.start + timedelta(seconds=int(seconds))
        text = moment.isoformat()
        return text.replace("+00:00", "Z") if moment.utcoffset() == timedelta(0) else text

    def add(
        self, seconds: float, kind: str, payload: dict[str, Any], *, customer: str | None, rep: Any
    ) -> None:
        event: dict[str, Any] = {
            "event_id": self.ids.event(len(self.events)),
            "type": kind,
            "occurred_at": self.stamp(seconds),
        }
        if customer is not None:
            event["customer_id"] = customer
        event["rep_id"] = rep
        event["payload"] = payload
        self.events.append((seconds, event))


def _business_second(rng: np.random.Generator, day: int, n: int = 1) -> np.ndarray:
    """Seconds from the log's start: on `day`, between 08:00 and 18:30 local time."""
    return day * DAY_S + rng.integers(8 * 3600, 18 * 3600 + 1800, size=n)


def generate(config: WorldConfig) -> list[dict[str, Any]]:
    """The world's events, ordered by time (ties: by event id)."""
    rng = np.random.default_rng(config.seed)
    out = _Writer(config, rng)
    days = config.days

    # Reps: a team at the start, churn through the log, a replacement for every leaver.
    rep_ids: list[str] = []
    rep_skill: list[float] = []
    rep_active: list[bool] = []

    def hire(day: int) -> int:
        index = len(rep_ids)
        rep_ids.append(out.ids.rep(index + 1))
        rep_skill.append(float(rng.beta(2.0, 2.0)))
        rep_active.append(True)
        when = _business_second(rng, day)[0] if day > 0 else rng.integers(0, 3600)
        out.add(float(when), "rep_joined", {"role": "rep"}, customer=None, rep=rep_ids[index])
        return index

    for _ in range(config.reps):
        hire(0)

    # Customers: the starting book enters in the first 45 days, then leads arrive.
    arrivals = list(rng.uniform(0, 45, size=config.customers))
    base = config.new_leads * config.customers / 365.0
    g = config.lead_growth / 365.0
    expected = base * ((math.exp(g * days) - 1) / g if g else days)
    # Inverse-CDF sampling of a Poisson process with rate base * exp(g t).
    u = np.sort(rng.uniform(0, expected, size=rng.poisson(expected)))
    arrivals += list(np.log1p(g * u / base) / g if g else u / base)
    n = len(arrivals)
    born = np.asarray(arrivals)
    born_day = born.astype(int)
    ids = [out.ids.customer(i + 1) for i in range(n)]

    level = rng.gamma(config.rate_shape, config.purchase_rate / config.rate_shape, size=n)
    spend_level = np.log(config.spend) + rng.normal(0, 0.8, size=n)
    quiet_day = born + rng.exponential(config.quiet_years * 365, size=n)
    theta = 1.0 / config.drift_days
    step_sd = config.drift_sd * math.sqrt(2 * theta)
    walk = rng.normal(0, config.drift_sd, size=n)
    owner = rng.integers(0, config.reps, size=n)
    owner[rng.random(n) < 0.1] = -1  # some leads start in the pool
    last_effective = np.full(n, -1_000)
    boost = np.ones(n)  # the multiplier of the latest effective contact
    last_order = np.full(n, -1_000)

    for i in range(n):
        t = float(born[i]) * DAY_S + float(rng.integers(0, 3600 * 10))
        size = rng.choice(("small", "medium", "large"), p=(0.5, 0.35, 0.15))
        payload: dict[str, Any] = {"source": str(rng.choice(SOURCES)), "size": str(size)}
        if rng.random() < 0.6:
            payload["industry"] = str(rng.choice(INDUSTRIES))
        if rng.random() < 0.5:  # a noisy guess of yearly spend, when the source gives one
            guess = level[i] * math.exp(spend_level[i]) * rng.lognormal(0, 0.7)
            payload["potential_value"] = round(float(guess), 2)
        rep = rep_ids[owner[i]] if owner[i] >= 0 else None
        out.add(t, "lead_created", payload, customer=ids[i], rep=rep)

    churn_daily = config.rep_churn / 365.0
    weekday0 = datetime.fromisoformat(config.start).weekday()
    for day in range(days):
        frac = day / max(1, days - 1)
        calendar = config.trend**frac
        calendar *= 1 + config.yearly * math.cos(2 * math.pi * (day - 260) / 365.25)
        if (weekday0 + day) % 7 >= 5:
            calendar *= 1 - config.weekly
        alive = born_day <= day
        walk = walk * (1 - theta) + rng.normal(0, step_sd, size=n)
        since = day - last_effective
        lifted = np.where((since >= 5) & (since <= 30), boost, 1.0)
        rate = level * np.exp(walk - config.drift_sd**2 / 2) * calendar * lifted
        rate = np.where(quiet_day <= day, rate * 0.05, rate)
        rate = np.where(alive, rate, 0.0)
        buyers = np.flatnonzero(rng.random(n) < -np.expm1(-rate / 365.0))
        for i in map(int, buyers):
            amount = round(float(np.exp(spend_level[i] + rng.normal(0, 0.45))), 2)
            t = float(_business_second(rng, day)[0])
            rep = rep_ids[owner[i]] if owner[i] >= 0 else None
            if rep is not None and rng.random() < config.quote_share and day >= 3:
                lead = float(rng.integers(1, min(day, 20) + 1)) * DAY_S
                quote = round(amount * float(rng.uniform(0.95, 1.25)), 2)
                out.add(
                    t - lead,
                    "quote_sent",
                    {"quote_id": f"Q{len(out.events):08d}", "amount": quote},
                    customer=ids[i],
                    rep=rep,
                )
            out.add(
                t,
                "order_won",
                {"order_id": f"SO-{day:04d}-{i:06d}", "amount": amount},
                customer=ids[i],
                rep=rep,
            )
            last_order[i] = day

        if config.contacts:
            owned = alive & (owner >= 0)
            diligence = np.asarray(rep_skill)[np.maximum(owner, 0)] + 0.5
            recent = np.where(day - last_order < 120, 1.6, 1.0)
            p = config.contact_rate / 365.0 * diligence * recent
            for i in map(int, np.flatnonzero(owned & (rng.random(n) < p))):
                skill = rep_skill[owner[i]]
                effective = bool(rng.random() < 0.45 + 0.45 * skill)
                channel = str(rng.choice(CHANNELS, p=CHANNEL_WEIGHTS))
                t = float(_business_second(rng, day)[0])
                payload = {"channel": channel, "effective": effective}
                out.add(t, "contact_made", payload, customer=ids[i], rep=rep_ids[owner[i]])
                if effective:
                    last_effective[i] = day
                    boost[i] = 1.1 + 0.4 * skill
                    if rng.random() < 0.04:
                        section = str(rng.choice(("basic", "background", "needs", "competition")))
                        out.add(
                            t + 120,
                            "portrait_updated",
                            {"section": section, "fields": {}},
                            customer=ids[i],
                            rep=rep_ids[owner[i]],
                        )
            lost_p = config.lost_quotes / 365.0
            for i in map(int, np.flatnonzero(owned & (rng.random(n) < lost_p))):
                rep = rep_ids[owner[i]]
                t = float(_business_second(rng, day)[0])
                qid = f"Q{len(out.events):08d}"
                amount = round(float(np.exp(spend_level[i] + rng.normal(0, 0.5))), 2)
                out.add(
                    t, "quote_sent", {"quote_id": qid, "amount": amount}, customer=ids[i], rep=rep
                )
                reason = str(rng.choice(("price", "timing", "competitor", "other")))
                out.add(
                    t + float(rng.integers(2, 25)) * DAY_S,
                    "order_lost",
                    {"reason": reason, "quote_id": qid},
                    customer=ids[i],
                    rep=rep,
                )

        # Rep churn: a leaver's customers go to a colleague or stay in the pool.
        for r in range(len(rep_ids)):
            if not rep_active[r] or day == 0 or rng.random() >= churn_daily:
                continue
            rep_active[r] = False
            t = float(_business_second(rng, day)[0])
            out.add(t, "rep_left", {}, customer=None, rep=rep_ids[r])
            newcomer = hire(day + int(rng.integers(1, 7)))
            for i in map(int, np.flatnonzero(owner == r)):
                if rng.random() < config.reassign_share:
                    active = [k for k, a in enumerate(rep_active) if a]
                    target = int(rng.choice(active)) if active else newcomer
                    owner[i] = target
                    when = t + float(rng.integers(7, 30)) * DAY_S
                    out.add(when, "customer_assigned", {}, customer=ids[i], rep=rep_ids[target])
                else:
                    owner[i] = -1
    # Nothing may lie past the log's end (a quote lost later, a delayed hire).
    end = days * DAY_S
    kept = [(int(t), e) for t, e in out.events if t < end]
    kept.sort(key=lambda te: (te[0], te[1]["event_id"]))
    return [e for _, e in kept]


def start_of(config: WorldConfig) -> datetime:
    zone = timezone(timedelta(minutes=config.utc_offset_minutes))
    return datetime.fromisoformat(config.start).replace(tzinfo=zone).astimezone(UTC)
