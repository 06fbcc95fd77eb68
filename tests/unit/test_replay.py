"""The embedded engine: `replay_files` / `replay_events`, their stats and the as-of cut."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

import orjson
import pytest

from streams.core.contract import Event, parse_as_of, to_datetime, validate
from streams.core.deadletter import read_dead_letters
from streams.core.log import append_events, read_lines
from streams.core.snapshot import Snapshot
from streams.core.state import DAY_US
from streams.embedded.replay import Replayer, replay_events, replay_files

T0 = 1_767_603_600_000_000  # 2026-01-05T09:00:00Z
DAY = DAY_US
_ids = itertools.count()


def E(
    kind: str, day: float, customer: str | None = "c1", rep: str | None = "r1", **p: Any
) -> Event:
    obj: dict[str, Any] = {
        "event_id": f"e{next(_ids):05d}",
        "type": kind,
        "occurred_at": to_datetime(T0 + int(day * DAY)).isoformat(),
        "rep_id": rep,
        "payload": p,
    }
    if customer is not None:
        obj["customer_id"] = customer
    return validate(obj)


def story() -> list[Event]:
    """Three reps, four customers, every kind of outcome, over ~100 days."""
    return [
        E("rep_joined", 0, None, "r1", team="east"),
        E("rep_joined", 0, None, "r2", role="manager"),
        E("rep_joined", 0, None, "r3"),
        # c1: a lead that becomes a customer (doctor -> teacher).
        E("lead_created", 1, "c1", source="trade_show"),
        E("contact_made", 2, "c1", channel="phone"),
        E("portrait_updated", 2, "c1", section="basic"),
        E("contact_made", 9, "c1", channel="visit"),
        E("portrait_updated", 9, "c1", section="needs"),
        E("portrait_updated", 9, "c1", section="competition"),
        E("quote_sent", 20, "c1", quote_id="q1", amount=1000),
        E("order_won", 30, "c1", order_id="o1", amount=950.5),
        # c2: suspended too early (policy flag), then reassigned late.
        E("lead_created", 3, "c2", source="cold_list"),
        E("contact_made", 4, "c2", channel="sms", effective=False),
        E("contact_made", 5, "c2", channel="wechat"),
        E("customer_suspended", 40, "c2", reason="timing"),
        E("customer_assigned", 80, "c2", rep="r3", by="r2"),
        # c3: in the pool, friend stage.
        E("lead_created", 10, "c3", rep=None, source="inbound"),
        E("portrait_updated", 11, "c3", rep="r2", section="needs"),
        E("portrait_updated", 12, "c3", rep="r2", section="competition"),
        E("portrait_updated", 13, "c3", rep="r2", section="deep", fields={"x": "y"}),
        # c4: a never-suspend key account, suspended anyway.
        E("importance_set", 50, "c4", rep="r2", tier="key", never_suspend=True),
        E("customer_suspended", 60, "c4", rep="r1", reason="other"),
        E("rep_left", 90, None, "r1"),
    ]


def write(path: Path, events: list[Event], extra_lines: tuple[bytes, ...] = ()) -> Path:
    """A log file of `events`, then `extra_lines` (raw, e.g. bad ones)."""
    lines = [e.to_json() for e in events] + list(extra_lines)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def dump(snapshot: Snapshot) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {k: v.to_dict() for k, v in snapshot.customers.items()},
        {k: v.to_dict() for k, v in snapshot.reps.items()},
    )


# ---------------------------------------------------------------- files


def test_replay_files_over_several_files(tmp_path: Path) -> None:
    events = story()
    paths = [write(tmp_path / f"part{i}.jsonl", events[i::3]) for i in range(3)]
    snapshot = replay_files(paths)
    assert dump(snapshot) == dump(replay_events(events))
    assert set(snapshot.customers) == {"c1", "c2", "c3", "c4"}
    assert set(snapshot.reps) == {"r1", "r2", "r3"}
    c1, c2, c3, c4 = (snapshot.customers[c] for c in ("c1", "c2", "c3", "c4"))
    assert (c1.status, c1.stage, c1.orders, c1.order_value) == ("customer", "teacher", 1, 950.5)
    assert (c2.status, c2.owner, c2.effective, c2.contacts) == ("lead", "r3", 1, 2)
    assert [f.split(":")[0] for f in c2.policy_flags()] == ["suspended_before_12"]
    assert (c3.status, c3.owner, c3.stage) == ("lead", None, "friend")
    assert c4.status == "suspended"
    assert [f.split(":")[0] for f in c4.policy_flags()] == [
        "suspended_before_12",
        "suspended_never_suspend",
    ]
    assert not snapshot.reps["r1"].active and snapshot.reps["r2"].role == "manager"
    assert snapshot.as_of == T0 + 90 * DAY  # the latest event, without an as-of


def test_file_order_does_not_matter(tmp_path: Path) -> None:
    events = story()
    a = write(tmp_path / "a.jsonl", events[::2])
    b = write(tmp_path / "b.jsonl", events[1::2][::-1])
    assert dump(replay_files([a, b])) == dump(replay_files([b, a]))


def test_the_same_file_twice_is_all_duplicates(tmp_path: Path) -> None:
    events = story()
    path = write(tmp_path / "log.jsonl", events)
    once = replay_files([path])
    twice = replay_files([path, path])
    assert dump(twice) == dump(once)
    assert twice.stats.duplicates == len(events)
    assert twice.stats.events_applied == len(events)
    assert twice.stats.events_read == 2 * len(events)


def test_append_events_then_replay(tmp_path: Path) -> None:
    events = story()
    path = tmp_path / "sub" / "log.jsonl"
    assert append_events(path, events[:10]) == 10
    assert append_events(path, events[10:]) == len(events) - 10
    assert dump(replay_files([path])) == dump(replay_events(events))
    assert [line.number for line in read_lines([path])] == list(range(1, len(events) + 1))


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n\n  \n")
    snapshot = replay_files([empty, blank])
    assert snapshot.customers == {} and snapshot.reps == {}
    assert snapshot.stats.events_read == 0 and snapshot.as_of == 0


def test_progress_bar_does_not_change_the_result(tmp_path: Path) -> None:
    path = write(tmp_path / "log.jsonl", story())
    assert dump(replay_files([path], progress=True)) == dump(replay_files([path]))


# ---------------------------------------------------------------- stats and summary


def test_stats(tmp_path: Path) -> None:
    events = story()
    cut = T0 + 45 * DAY
    later = sum(1 for e in events if e.ts > cut)
    a = write(tmp_path / "a.jsonl", events, (b"not json", b'{"event_id": "x"}'))
    b = write(tmp_path / "b.jsonl", events[:5], (b"[]",))
    dlq = tmp_path / "dlq.jsonl"
    snapshot = replay_files([a, b], as_of=cut, dead_letters=dlq)
    stats = snapshot.stats
    assert stats.events_read == len(events) + 2 + 5 + 1
    assert stats.rejected == 3
    assert stats.after_as_of == later
    assert stats.events_applied == len(events) - later
    assert stats.duplicates == 5
    assert (
        stats.events_read
        == stats.events_applied + stats.duplicates + stats.rejected + stats.after_as_of
    )
    assert stats.to_dict() == {
        "events_read": stats.events_read,
        "events_applied": len(events) - later,
        "duplicates": 5,
        "rejected": 3,
        "after_as_of": later,
        "held": 0,
        "rejected_by_field": {"event": 2, "type": 1},
    }
    letters = read_dead_letters(dlq)
    assert [(Path(r.source).name, r.line) for r in letters] == [
        ("a.jsonl", len(events) + 1),
        ("a.jsonl", len(events) + 2),
        ("b.jsonl", 6),
    ]


def test_duplicate_rep_event_counted_once() -> None:
    joined = E("rep_joined", 0, None, "r9")
    snapshot = replay_events([joined, joined, joined])
    assert (snapshot.stats.events_applied, snapshot.stats.duplicates) == (1, 2)


def test_summary(tmp_path: Path) -> None:
    path = write(tmp_path / "log.jsonl", story(), (b"oops",))
    summary = replay_files([path]).summary()
    assert summary["customers"] == 4
    assert summary["reps"] == 3
    assert summary["by_status"] == {"customer": 1, "lead": 2, "suspended": 1}
    assert summary["by_stage"] == {"friend": 1, "none": 2, "teacher": 1}
    assert summary["rejected"] == 1 and summary["rejected_by_field"] == {"event": 1}
    assert summary["events_applied"] == len(story())
    orjson.dumps(summary)  # JSON-ready


def test_summary_as_of(tmp_path: Path) -> None:
    path = write(tmp_path / "log.jsonl", story())
    summary = replay_files([path], as_of=T0 + 35 * DAY).summary()
    # c4 does not exist yet; c2 is not yet suspended; c1 has ordered.
    assert summary["customers"] == 3
    assert summary["by_status"] == {"customer": 1, "lead": 2}


# ---------------------------------------------------------------- the as-of cut


@pytest.mark.parametrize("day", [0, 2, 9, 30, 40, 45, 80, 90, 1000])
def test_as_of_ignores_later_events_whatever_the_file_order(tmp_path: Path, day: int) -> None:
    events = story()
    cut = T0 + day * DAY
    reference = replay_events([e for e in events if e.ts <= cut])
    # Later events first, in a separate file, and interleaved within one file.
    late = write(tmp_path / "late.jsonl", [e for e in events if e.ts > cut])
    mixed = write(tmp_path / "mixed.jsonl", events[::-1])
    early = write(tmp_path / "early.jsonl", [e for e in events if e.ts <= cut])
    for paths in ([late, early], [early, late], [mixed], [late, mixed, early]):
        snapshot = replay_files(paths, as_of=cut)
        assert dump(snapshot) == dump(reference), paths
        assert snapshot.as_of == cut
        for state in snapshot.customers.values():
            assert state.last_ts <= cut


def test_as_of_is_inclusive() -> None:
    order = E("order_won", 30, order_id="o", amount=1)
    assert replay_events([order], as_of=order.ts).customers["c1"].orders == 1
    assert replay_events([order], as_of=order.ts - 1).customers == {}
    assert replay_events([order], as_of=order.ts - 1).stats.after_as_of == 1


def test_as_of_from_a_date() -> None:
    # A bare date is the end of that day (UTC): an event at 23:59:59 that day is in.
    events = [
        validate(
            {
                "event_id": eid,
                "type": "complaint_received",
                "customer_id": "c1",
                "occurred_at": at,
                "payload": {"severity": "minor"},
            }
        )
        for eid, at in [
            ("in", "2026-03-04T23:59:59Z"),
            ("in-too", "2026-03-05T07:59:59+08:00"),
            ("out", "2026-03-05T00:00:00Z"),
        ]
    ]
    snapshot = replay_events(events, as_of=parse_as_of("2026-03-04"))
    assert snapshot.customers["c1"].complaints_minor == 2
    assert snapshot.stats.after_as_of == 1


def test_replayer_feed_reports_changes() -> None:
    replayer = Replayer()
    lead = E("lead_created", 0, source="other")
    assert replayer.feed(lead) is True
    assert replayer.feed(lead) is False
    cut = Replayer(as_of=lead.ts - 1)
    assert cut.feed(lead) is False
    assert cut.snapshot().customers == {}
    snapshot = replayer.snapshot()
    assert snapshot.as_of == lead.ts and replayer.latest == lead.ts


def test_customer_event_without_rep_makes_no_rep() -> None:
    snapshot = replay_events([E("lead_created", 0, rep=None, source="other")])
    assert snapshot.reps == {} and set(snapshot.customers) == {"c1"}
