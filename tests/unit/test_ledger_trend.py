"""The web ledger's trend baseline: each customer's score as of 30 days before, equal to
scoring a replay of the log cut there, and moved on by the background refresh."""

from __future__ import annotations

import asyncio

import pytest

from features.policy import Policy
from models.scoring import Scorer, score_states
from streams.embedded.replay import replay_events
from tests.support.planning import DAY, T0, customer_events, ev, joined
from web.ledger import TREND_DAYS, Ledger


def _events() -> list:
    events = [joined("r1")]
    events += customer_events("a", n=6, last_days_ago=45)  # quiet for 45 days: cooling
    events += customer_events("b", n=2, last_days_ago=50)
    events.append(ev("need_identified", -10 * DAY, "b", clear_need=True))
    events.append(ev("quote_sent", -5 * DAY, "b", quote_id="q", amount=9000))
    return events


def _expected(events: list, as_of: int, policy: Policy) -> dict[str, float]:
    snap = replay_events(events, as_of)
    states = [snap.customers[c] for c in sorted(snap.customers)]
    frame = score_states(states, snap, Scorer(None, policy), policy)
    return dict(zip(frame["customer_id"], frame["p_close"].astype(float), strict=True))


def test_the_earlier_scores_are_the_log_scored_thirty_days_before() -> None:
    policy = Policy()
    events = _events()
    now = [T0]
    ledger = Ledger(Scorer(None, policy), policy, clock=lambda: now[0])
    for event in reversed(events):  # arrival order does not matter
        ledger.feed(event)
    ledger.score_all()
    before = T0 - TREND_DAYS * DAY
    assert ledger.earlier == pytest.approx(_expected(events, before, policy), rel=1e-9)
    assert ledger.earlier["b"] < ledger.scores["b"].p_close  # a need and a quote since
    # Two days later the refresh scores the baseline again, as of its new day.
    now[0] = T0 + 2 * DAY
    asyncio.run(ledger.refresh())
    later = _expected(events, before + 2 * DAY, policy)
    assert ledger.earlier == pytest.approx(later, rel=1e-9)
    assert ledger.earlier["b"] != pytest.approx(_expected(events, before, policy)["b"], rel=1e-6)
