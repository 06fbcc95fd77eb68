"""The bad-input suite's future-dated and backdated events through the Faust worker's own
agents (faust's test context, the broker replaced by recorders as in tests/unit/test_agents.py):
a future-dated event goes to the held topic, is not folded and is reported; the hold
agent sends it back to the events topic once due, and the fold then takes it in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.core.contract import parse, to_ts
from streams.embedded.replay import replay_events
from tests.support.webworld import iso
from tests.unit.test_agents import Recorder, _customers, _put_all, _run, _worker, in_own_loop

FUTURE = "2099-01-01T09:00:00Z"


def _event(n: int, kind: str, when: str, **payload: Any) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"w{n}",
            "type": kind,
            "occurred_at": when,
            "customer_id": "c1",
            "rep_id": "r1",
            "payload": payload,
        }
    )


@in_own_loop
async def test_the_worker_holds_future_dated_events_and_folds_them_when_due() -> None:
    now = datetime.now(UTC)
    lead = _event(1, "lead_created", iso(now - timedelta(days=20)), source="inbound")
    backdated = _event(2, "contact_made", iso(now - timedelta(days=400)), channel="phone")
    future = _event(3, "contact_made", FUTURE, channel="phone")
    recent = _event(4, "contact_made", iso(now - timedelta(days=1)), channel="email")
    worker, recorders = _worker()
    held = recorders["held"] = Recorder()
    worker.senders.held.send = held.send  # type: ignore[method-assign]
    worker.senders.held.send_many = held.send_many  # type: ignore[method-assign]
    assert worker.held is not None
    hold = worker.held
    await _run(worker, recorders, [(b"c1", raw) for raw in (lead, backdated, future, recent)])
    # Held: kept in the held topic, counted nowhere, reported.
    assert held.sent == [(b"c1", future)]
    expected = replay_events(parse(raw) for raw in (lead, backdated, recent))
    assert _customers(worker) == {k: v.to_dict() for k, v in expected.customers.items()}
    assert worker.progress.held == 1
    assert list(worker.progress.holding) == ["w3"]
    assert worker.progress.holding["w3"]["occurred_at"] == FUTURE
    assert worker.progress.watermark < to_ts(now + timedelta(days=1))  # today is today
    assert not recorders["deadletter"].sent
    # Not yet due: the hold agent keeps it (round the held topic again, after a pause).
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    hold.sleep = pause
    held_again = list(held.sent)
    held.sent.clear()
    recorders["events"].sent.clear()
    async with worker.agents.held.test_context() as agent:
        await _put_all(agent, held_again, "messages")
    assert held.sent == [(b"c1", future)] and not recorders["events"].sent
    assert pauses == [hold.recheck]
    # Due (the clock has reached 2099): back to the events topic, then folded.
    hold.clock = lambda: to_ts(datetime(2099, 1, 2, tzinfo=UTC))
    worker.events.clock = hold.clock
    again = list(held.sent)
    held.sent.clear()
    async with worker.agents.held.test_context() as agent:
        await _put_all(agent, again, "messages")
    assert recorders["events"].sent == [(b"c1", future)]
    assert worker.progress.released == 1 and not worker.progress.holding
    await _run(worker, recorders, recorders["events"].sent)
    everything = replay_events(
        (parse(raw) for raw in (lead, backdated, future, recent)),
        now=to_ts(datetime(2099, 1, 2, tzinfo=UTC)),
    )
    assert _customers(worker) == {k: v.to_dict() for k, v in everything.customers.items()}
