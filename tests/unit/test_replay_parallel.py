"""The replay split by customer over processes gives exactly the single-process result."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closecast.cli import main
from streams.core.contract import parse, to_datetime
from streams.core.snapshot import Snapshot
from streams.embedded import parallel
from streams.embedded.parallel import ReplayWorkerError, event_owner, line_owner
from streams.embedded.replay import replay_files
from training.simulator import SimulationConfig, simulate

T0 = 1_767_603_600_000_000  # 2026-01-05T09:00:00Z
HOUR = 3_600_000_000

BAD_LINES = (
    b"not json",
    b'{"event_id": "x"}',
    b"[]",
    b'{"event_id":"b1","type":"contact_made","occurred_at":"2026-01-05T09:00:00Z",'
    b'"customer_id":"c1","rep_id":"r1","payload":{"channel":"fax"}}',
    b'{"event_id":"b2","type":"lead_created","occurred_at":"2026-01-05T09:00:00",'
    b'"customer_id":"c2","rep_id":null,"payload":{"source":"other"}}',
    b'{"event_id":"b3","type":"quote_sent","occurred_at":"2026-01-05T09:00:00Z",'
    b'"customer_id":"","rep_id":"r1","payload":{"quote_id":"q","amount":1}}',
    b'{"event_id":"b4","type":"contact_made","customer_id":"c\\u0031"}',
    b'{"type":"rep_joined","occurred_at":"2026-01-05T09:00:00Z","rep_id":"r1","payload":{}}',
    b"\xff\xfe not utf-8",
)


def full(snapshot: Snapshot) -> dict[str, Any]:
    """Everything a replay returns, in order: states, their order, stats, the cut."""
    return {
        "customers": [(k, v.to_dict()) for k, v in snapshot.customers.items()],
        "reps": [(k, v.to_dict()) for k, v in snapshot.reps.items()],
        "stats": snapshot.stats.to_dict(),
        "stats_order": list(snapshot.stats.to_dict()["rejected_by_field"]),
        "as_of": snapshot.as_of,
    }


def both(
    tmp_path: Path, paths: list[Path], as_of: int | None = None, workers: int = 2
) -> tuple[Snapshot, Snapshot]:
    """Single-process and parallel replays; their dead-letter files must be identical."""
    one, many = tmp_path / "one.rejected.jsonl", tmp_path / "many.rejected.jsonl"
    for dead in (one, many):
        dead.unlink(missing_ok=True)
    single = replay_files(paths, as_of, dead_letters=one, workers=1)
    split = replay_files(paths, as_of, dead_letters=many, workers=workers)
    assert one.exists() == many.exists()
    if one.exists():
        assert one.read_bytes() == many.read_bytes()
    assert full(split) == full(single)
    return single, split


def spaced(obj: dict[str, Any]) -> bytes:
    """The same event as another writer may write it: spaces, ASCII escapes, other order."""
    return json.dumps(dict(reversed(list(obj.items())))).encode()


def escaped_id(obj: dict[str, Any]) -> bytes:
    """The customer id written with a JSON escape (same id once decoded)."""
    line = orjson.dumps(obj)
    customer = obj["customer_id"]
    escaped = f"\\u00{customer[0].encode().hex()}{customer[1:]}"
    return line.replace(f'"{customer}"'.encode(), f'"{escaped}"'.encode(), 1)


def simulated(tmp_path: Path, seed: int = 3) -> tuple[Path, Path]:
    """A small simulated log in two files, made harder: duplicates (across the files too),
    disorder, bad and blank lines, and events written in other writers' forms."""
    rng = random.Random(seed)
    events = list(simulate(SimulationConfig(customers=150, reps=8, days=200, seed=seed)))
    lines: list[bytes] = []
    for obj in events:
        roll = rng.random()
        if roll < 0.05 and "customer_id" in obj:
            lines.append(spaced(obj))
        elif roll < 0.08 and "customer_id" in obj:
            lines.append(escaped_id(obj))
        else:
            lines.append(orjson.dumps(obj))
        if rng.random() < 0.05:
            lines.append(lines[-1])  # a re-sent event
    for i in range(0, len(lines) - 20, 50):  # local disorder
        chunk = lines[i : i + 20]
        rng.shuffle(chunk)
        lines[i : i + 20] = chunk
    for bad in BAD_LINES:
        lines.insert(rng.randrange(len(lines)), bad)
    lines.insert(rng.randrange(len(lines)), b"   ")
    half = len(lines) // 2
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b"\n".join(lines[:half]) + b"\n")
    b.write_bytes(b"\n".join(lines[half - 40 :]) + b"\n")  # 40 lines in both files
    return a, b


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_equals_single_on_a_simulated_log(tmp_path: Path, workers: int) -> None:
    a, b = simulated(tmp_path)
    single, split = both(tmp_path, [a, b], workers=workers)
    assert split.timings["workers"] == workers  # really split, not fallen back
    assert single.stats.rejected >= len(BAD_LINES) and single.stats.duplicates > 0
    assert len(single.customers) == 150


@pytest.mark.parametrize("day", [20, 100, 1000])
def test_parallel_as_of_cut(tmp_path: Path, day: int) -> None:
    a, b = simulated(tmp_path, seed=4)
    first = parse(a.read_bytes().split(b"\n", 1)[0])
    single, split = both(tmp_path, [b, a], as_of=first.ts + day * 24 * HOUR)
    assert split.timings["workers"] == 2
    assert single.stats.after_as_of > 0 or day == 1000


def test_parallel_with_only_rep_events_and_bad_lines(tmp_path: Path) -> None:
    rep_events = [
        {
            "event_id": f"j{k}",
            "type": "rep_joined" if k % 3 else "rep_left",
            "occurred_at": to_datetime(T0 + k * HOUR).isoformat(),
            "rep_id": f"r{k % 4}",
            "payload": {"team": "east"},
        }
        for k in range(30)
    ]
    log = tmp_path / "reps.jsonl"
    lines = [orjson.dumps(e) for e in rep_events] + list(BAD_LINES) + [orjson.dumps(rep_events[0])]
    log.write_bytes(b"\n".join(lines) + b"\n")
    single, split = both(tmp_path, [log], workers=3)
    assert split.timings["workers"] == 3 and single.customers == {} and len(single.reps) == 4


def test_parallel_with_a_progress_bar(tmp_path: Path) -> None:
    a, b = simulated(tmp_path, seed=6)
    single = replay_files([a, b], workers=1)
    assert full(replay_files([a, b], progress=True, workers=2)) == full(single)


def test_empty_logs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.jsonl"
    blank.write_bytes(b"\n  \n")
    single, _ = both(tmp_path, [empty, blank])
    assert single.stats.events_read == 0


def _event(k: int, customer: str, rep: str, eid: str | None = None) -> dict[str, Any]:
    kinds = [
        ("contact_made", {"channel": "phone", "effective": k % 4 != 0}),
        ("quote_sent", {"quote_id": f"q{k}", "amount": 0.1 * k}),
        ("order_won", {"order_id": f"o{k}", "amount": 0.1 + k}),
        ("portrait_updated", {"section": "basic", "fields": {}}),
        ("lead_created", {"source": "other"}),
    ]
    kind, payload = kinds[k % len(kinds)]
    return {
        "event_id": eid or f"e{k}",
        "type": kind,
        "occurred_at": to_datetime(T0 + (k % 50) * HOUR).isoformat(),
        "customer_id": customer,
        "rep_id": rep,
        "payload": payload,
    }


def test_a_misleading_line_falls_back_to_one_process(tmp_path: Path) -> None:
    # The first `"customer_id":"` is in the payload and the real key is spaced: the raw
    # bytes point at the wrong worker. The result must still be exact (one process).
    lines = [orjson.dumps(_event(k, f"c{k % 7}", "r1")) for k in range(40)]
    for k in range(10):
        decoy = f"d{k}"
        if event_owner(parse(orjson.dumps(_event(0, decoy, "r1"))), 2) != event_owner(
            parse(orjson.dumps(_event(0, "c1", "r1"))), 2
        ):
            break
    tricky = (
        b'{"payload":{"channel":"phone","customer_id":"' + decoy.encode() + b'"},'
        b'"event_id":"t1","type":"contact_made","occurred_at":"2026-01-05T10:00:00Z",'
        b'"customer_id": "c1","rep_id":"r1"}'
    )
    assert line_owner(tricky, 2) != event_owner(parse(tricky), 2)
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join([*lines, tricky]) + b"\n")
    _, split = both(tmp_path, [log])
    assert split.timings["workers"] == 1


def test_one_event_id_on_two_customers_falls_back_to_one_process(tmp_path: Path) -> None:
    # The contract forbids it; the single-process result then depends on line order, and
    # the parallel replay must not guess: it replays in one process instead.
    customers = [f"c{k}" for k in range(40)]
    owners = {c: event_owner(parse(orjson.dumps(_event(0, c, "r1"))), 2) for c in customers}
    c_a = next(c for c in customers if owners[c] == 0)
    c_b = next(c for c in customers if owners[c] == 1)
    lines = [orjson.dumps(_event(k, customers[k % 40], "r1")) for k in range(200)]
    lines.append(orjson.dumps(_event(1, c_a, "r1", eid="same")))
    lines.append(orjson.dumps(_event(3, c_b, "r1", eid="same")))
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    _, split = both(tmp_path, [log])
    assert split.timings["workers"] == 1


# ---------------------------------------------------------------- any log, any split

_forms = st.sampled_from(["plain", "plain", "plain", "spaced", "escaped", "nested"])


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[bytes], int | None]:
    n = draw(st.integers(0, 60))
    lines: list[bytes] = []
    for k in range(n):
        customer = draw(st.sampled_from(["c1", "c2", "c3", "客户4", "c5", "c\\6", 'c"7']))
        obj = _event(draw(st.integers(0, 30)), customer, draw(st.sampled_from(["r1", "r2"])))
        form = draw(_forms)
        if form == "spaced":
            lines.append(spaced(obj))
        elif form == "escaped" and customer.isascii() and customer.isalnum():
            lines.append(escaped_id(obj))
        elif form == "nested":  # an unknown payload field of the same name, never first
            obj["payload"] = {**obj["payload"], "customer_id": customer}
            lines.append(orjson.dumps(obj))
        else:
            lines.append(orjson.dumps(obj))
        if draw(st.booleans()) and k % 5 == 0:
            lines.append(draw(st.sampled_from(BAD_LINES)))
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(lines)))  # a re-sent line, anywhere later
    as_of = draw(st.none() | st.integers(0, 50).map(lambda h: T0 + h * HOUR))
    return lines, as_of


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=logs(), workers=st.integers(2, 3))
def test_parallel_equals_single_for_any_log(
    tmp_path: Path, log: tuple[list[bytes], int | None], workers: int
) -> None:
    lines, as_of = log
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    both(tmp_path, [path], as_of, workers)


@given(log=logs())
def test_a_line_owner_guess_is_the_event_owner_for_writers_forms(
    log: tuple[list[bytes], int | None],
) -> None:
    # Every form but the misleading one above: a guess, when made, is right.
    for line in log[0]:
        guess = line_owner(line, 3)
        if guess is None:
            continue
        try:
            event = parse(line)
        except ValueError:
            continue
        assert guess == event_owner(event, 3), line


def test_line_owner_declines_what_it_cannot_read() -> None:
    plain = orjson.dumps(_event(1, "c1", "r1"))
    assert line_owner(plain, 2) == event_owner(parse(plain), 2)
    assert line_owner(spaced(_event(1, "c1", "r1")), 2) is None
    assert line_owner(plain.replace(b'"c1"', b'"c\\u0031"'), 2) is None
    assert line_owner(b'{"event_id":"x"}', 2) is None
    assert line_owner(b'{"x":"a\\"customer_id":"c1"}', 2) is None
    # Only the first key counts, even when a later one reads cleanly.
    later = b',"payload":{"customer_id":"c1"}}'
    assert line_owner(b'{"customer_id":"c\\u0031"' + later, 2) is None
    assert line_owner(b'{"customer_id":"c1', 2) is None  # no closing quote


# ---------------------------------------------------------------- failures


def test_a_failing_worker_is_an_error_not_a_partial_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = simulated(tmp_path)
    real = parallel.fold_share

    def failing(paths: list[Path], as_of: int | None, me: int, workers: int, *rest: Any) -> Any:
        if me == 1:
            raise RuntimeError("disk on fire")
        return real(paths, as_of, me, workers, *rest)

    monkeypatch.setattr(parallel, "fold_share", failing)
    dead = tmp_path / "dead.jsonl"
    with pytest.raises(ReplayWorkerError, match=r"(?s)replay worker 1 failed.*disk on fire"):
        replay_files([a, b], dead_letters=dead, workers=2)
    assert not dead.exists()


def test_a_dying_worker_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = simulated(tmp_path)
    real = parallel.fold_share

    def dying(paths: list[Path], as_of: int | None, me: int, workers: int, *rest: Any) -> Any:
        if me == 2:
            os._exit(7)  # as if killed: no exception, no message
        return real(paths, as_of, me, workers, *rest)

    monkeypatch.setattr(parallel, "fold_share", dying)
    with pytest.raises(ReplayWorkerError, match=r"replay worker 2 ended without a result.*7"):
        replay_files([a], workers=3)


# ---------------------------------------------------------------- choosing, and the CLI


def test_small_logs_stay_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = simulated(tmp_path)
    monkeypatch.delenv("CLOSECAST_REPLAY_WORKERS", raising=False)
    assert replay_files([a]).timings["workers"] == 1
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1)
    assert parallel.auto_workers([a]) == len(os.sched_getaffinity(0))
    monkeypatch.setenv("CLOSECAST_REPLAY_WORKERS", "3")
    assert replay_files([a]).timings["workers"] == 3


@pytest.mark.parametrize(
    "command",
    [
        ["replay", "--json"],
        ["replay"],
        ["replay", "--as-of", "2025-04-01"],
        ["score", "--as-of", "2025-05-01", "--heuristic-only", "--out", "{out}"],
        ["calllist", "--as-of", "2025-05-01", "--heuristic-only", "--format", "json"],
        ["calllist", "--as-of", "2025-05-01", "--heuristic-only", "--rep", "r003"],
    ],
)
def test_cli_output_is_the_same_with_any_number_of_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    a, b = simulated(tmp_path, seed=5)
    out, dead = tmp_path / "out.csv", tmp_path / "dead.jsonl"
    outputs = []
    for workers in ("1", "2", "3"):
        args = [c.replace("{out}", str(out)) for c in command]
        argv = [args[0], str(a), str(b), *args[1:], "--dead-letters", str(dead)]
        assert main([*argv, "--workers", workers]) == 0
        captured = capsys.readouterr()
        files = [p.read_bytes() if p.exists() else None for p in (out, dead)]
        for p in (out, dead):
            p.unlink(missing_ok=True)
        outputs.append((captured.out, captured.err, files))
    assert outputs[1] == outputs[0] and outputs[2] == outputs[0]
    assert outputs[0][0] and outputs[0][2][1]  # something printed, bad lines kept


def test_bad_worker_counts_are_user_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = simulated(tmp_path)
    assert main(["replay", str(a), "--workers", "0"]) == 2
    assert "--workers: must be 1 or more" in capsys.readouterr().err
    monkeypatch.setenv("CLOSECAST_REPLAY_WORKERS", "many")
    assert main(["replay", str(a)]) == 2
    assert "CLOSECAST_REPLAY_WORKERS: 'many'" in capsys.readouterr().err
