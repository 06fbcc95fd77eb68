"""Attack 1: "anyone can move today for everyone, for good" — and the bad-input suite's
future-dated and backdated events through the log (embedded replay), the worker and the
API: each future-dated one held (kept, counted nowhere, reported), nothing valid lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.core.contract import parse, to_ts, validate
from streams.core.held import Hold, is_ahead
from streams.core.log import append_events
from streams.embedded.replay import replay_events, replay_files
from tests.security.conftest import Start
from tests.support.webworld import LiveServer, World, iso, login, request

FUTURE = "2099-01-01T09:00:00Z"


def _contact(when: str | None, **payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "contact_made", "payload": {"channel": "phone", **payload}}
    if when is not None:
        body["occurred_at"] = when
    return body


def _log_lines(world: World) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in world.log.read_bytes().splitlines() if line]


def _as_of(server: LiveServer, token: str) -> str:
    reply = request(server, "GET", "/api/calllist", token)
    assert reply.status == 200, reply.text
    as_of: str = reply.json()["as_of"]
    return as_of


# ---------------------------------------------------------------- the API


def test_a_future_dated_contact_is_held_and_today_stays_today(start: Start) -> None:
    server = start()
    alice = login(server, "alice")
    today = datetime.now(UTC).date().isoformat()
    before = request(server, "GET", "/api/customers/c1", alice).json()
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=_contact(FUTURE))
    assert reply.status == 202, reply.text
    assert reply.json()["held"] is True
    event_id = reply.json()["recorded"]
    after = request(server, "GET", "/api/customers/c1", alice).json()
    assert after["contacts"] == before["contacts"]  # counted nowhere
    assert after["as_of"][:10] == today
    assert _as_of(server, alice)[:10] == today
    held = request(server, "GET", "/api/held", login(server, "adam")).json()
    assert held["count"] == 1
    assert [h["event_id"] for h in held["events"]] == [event_id]
    assert held["events"][0]["occurred_at"] == FUTURE
    # Nothing lost: the event is in the log, as entered, with who entered it and when.
    line = next(e for e in _log_lines(server.world) if e["event_id"] == event_id)
    assert line["occurred_at"] == FUTURE
    assert line["payload"]["entered_by"] == "alice"
    assert line["payload"]["entered_at"][:10] == today
    # A restart replays the log: still held, still today, in --clock now as before.
    server.stop()
    again = start()
    alice = login(again, "alice")
    assert _as_of(again, alice)[:10] == today
    assert (
        request(again, "GET", "/api/customers/c1", alice).json()["contacts"] == before["contacts"]
    )
    assert request(again, "GET", "/api/held", login(again, "adam")).json()["count"] == 1


def test_entries_get_the_servers_time_and_backdating_has_a_window(start: Start) -> None:
    server = start(CLOSECAST_BACKDATE_DAYS="7")
    alice = login(server, "alice")
    now = datetime.now(UTC)
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=_contact(None))
    assert reply.status == 201, reply.text
    stamped = next(e for e in _log_lines(server.world) if e["event_id"] == reply.json()["recorded"])
    moment = datetime.fromisoformat(stamped["occurred_at"].replace("Z", "+00:00"))
    assert abs((moment - now).total_seconds()) < 60
    two_days = iso(now - timedelta(days=2))
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=_contact(two_days))
    assert reply.status == 201, reply.text
    kept = next(e for e in _log_lines(server.world) if e["event_id"] == reply.json()["recorded"])
    assert kept["occurred_at"] == two_days
    assert kept["payload"]["entered_by"] == "alice"
    assert kept["payload"]["entered_at"][:10] == now.date().isoformat()
    lines = len(_log_lines(server.world))
    month = iso(now - timedelta(days=30))
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=_contact(month))
    assert reply.status == 422
    assert reply.json()["field"] == "occurred_at"
    assert "7 days" in reply.json()["error"]
    # The person's own claim of who entered it is overwritten by the server's.
    body = _contact(None, entered_by="mona", entered_at="2020-01-01T00:00:00Z")
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=body)
    forged = next(e for e in _log_lines(server.world) if e["event_id"] == reply.json()["recorded"])
    assert forged["payload"]["entered_by"] == "alice"
    assert forged["payload"]["entered_at"][:4] != "2020"
    assert len(_log_lines(server.world)) == lines + 1  # the refused one is not in the log


def test_an_absurd_backdated_order_is_refused_with_a_clear_error(start: Start) -> None:
    server = start()
    alice = login(server, "alice")
    yesterday = iso(datetime.now(UTC) - timedelta(days=1))
    body = {
        "type": "order_won",
        "occurred_at": yesterday,
        "payload": {"order_id": "o-absurd", "amount": 99_999_999},
    }
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=body)
    assert reply.status == 422, reply.text
    assert reply.json()["field"] == "payload.amount"
    assert "99,999,999" in reply.json()["error"] and "CLOSECAST_MAX_AMOUNT" in reply.json()["error"]
    assert request(server, "GET", "/api/customers/c1", alice).json()["orders"] == 0
    body["payload"] = {"order_id": "o-real", "amount": 48_000}
    assert request(server, "POST", "/api/customers/c1/events", alice, body=body).status == 201


def test_clock_log_entries_use_the_logs_own_clock(start: Start) -> None:
    server = start(clock="log")
    alice = login(server, "alice")
    as_of = _as_of(server, alice)
    newest = max(
        to_ts(datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")))
        for e in _log_lines(server.world)
    )
    assert to_ts(datetime.fromisoformat(as_of)) == newest  # the log's clock, weeks ago
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=_contact(None))
    assert reply.status == 201, reply.text
    stamped = next(e for e in _log_lines(server.world) if e["event_id"] == reply.json()["recorded"])
    assert parse(orjson.dumps(stamped)).ts == newest  # not the wall clock, 20 days on
    assert _as_of(server, alice) == as_of  # nothing reshuffled
    # Ahead of the log's clock is refused: an entry must not push the log's clock on.
    ahead = iso(datetime.now(UTC) - timedelta(days=1))
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=_contact(ahead))
    assert reply.status == 422 and reply.json()["field"] == "occurred_at"


def test_a_held_entry_is_folded_once_its_time_comes(start: Start) -> None:
    server = start()
    alice = login(server, "alice")
    soon = iso(datetime.now(UTC) + timedelta(hours=2))
    before = request(server, "GET", "/api/customers/c1", alice).json()["contacts"]
    reply = request(server, "POST", "/api/customers/c1/events", alice, body=_contact(soon))
    assert reply.status == 202
    ledger = _ledger(server)
    # Two hours and a bit later, as the ledger's wall clock sees it.
    later = to_ts(datetime.now(UTC) + timedelta(hours=2, minutes=10))
    touched = server.call(lambda: _release_at(ledger, later))
    assert touched == {"c1"}
    assert request(server, "GET", "/api/customers/c1", alice).json()["contacts"] == before + 1
    assert request(server, "GET", "/api/held", login(server, "adam")).json()["count"] == 0


def _ledger(server: LiveServer) -> Any:
    from web.context import SERVICES

    return server.app[SERVICES].ledger


def _release_at(ledger: Any, ts: int) -> set[str]:
    ledger.wall = lambda: ts
    touched: set[str] = ledger.release()
    ledger.rescore(touched)
    return touched


# ---------------------------------------------------------------- the log (embedded replay)


def _events(now: datetime) -> list[dict[str, Any]]:
    def event(n: int, kind: str, when: datetime | str, **payload: Any) -> dict[str, Any]:
        return {
            "event_id": f"e{n}",
            "type": kind,
            "occurred_at": when if isinstance(when, str) else iso(when),
            "customer_id": f"c{n % 3}",
            "rep_id": "r1",
            "payload": payload,
        }

    out = [
        event(n, "lead_created", now - timedelta(days=40 - n), source="inbound") for n in range(3)
    ]
    out += [
        event(n, "contact_made", now - timedelta(days=30 - n), channel="phone") for n in range(3, 9)
    ]
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_the_replay_holds_future_dated_lines_and_keeps_the_backdated(
    tmp_path: Path, workers: int
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    valid = _events(now)
    future = {**valid[3], "event_id": "f1", "occurred_at": FUTURE}
    backdated = {**valid[4], "event_id": "b1", "occurred_at": iso(now - timedelta(days=400))}
    log = tmp_path / "events.jsonl"
    append_events(log, [validate(e) for e in [*valid[:5], future, backdated, *valid[5:]]])
    snapshot = replay_files([log], workers=workers, dead_letters=tmp_path / "dlq.jsonl")
    expected = replay_events(validate(e) for e in [*valid, backdated])
    assert snapshot.customers == expected.customers  # the future line changes nothing
    assert snapshot.as_of == expected.as_of  # and today is not 2099
    assert snapshot.stats.held == 1
    assert [e.event_id for e in snapshot.held] == ["f1"]
    assert snapshot.summary()["held_events"][0]["occurred_at"] == FUTURE
    assert snapshot.stats.rejected == 0
    # Nothing lost: replayed as of a clock past 2099, it is folded like any other.
    in_2099 = to_ts(datetime(2099, 6, 1, tzinfo=UTC))
    late = replay_files([log], workers=workers, now=in_2099)
    assert late.stats.held == 0
    everything = [validate(e) for e in [*valid, future, backdated]]
    assert late.customers == replay_events(everything, now=in_2099).customers
    assert late.customers["c0"].contacts == expected.customers["c0"].contacts + 1


def test_the_rule_is_one_function_with_a_skew() -> None:
    now = to_ts(datetime(2026, 12, 1, tzinfo=UTC))
    skew = 300 * 1_000_000
    assert not is_ahead(now + skew, now, skew)
    assert is_ahead(now + skew + 1, now, skew)
    hold = Hold()
    event = validate({**_events(datetime(2026, 12, 1, tzinfo=UTC))[3], "occurred_at": FUTURE})
    assert hold.add(event) and not hold.add(event)  # a redelivery is held once
    assert hold.due(now, skew) == []
    assert hold.due(to_ts(datetime(2099, 1, 2, tzinfo=UTC)), skew) == [event]
    assert len(hold) == 0
