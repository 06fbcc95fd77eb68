"""The Faust worker on the real broker gives exactly the replay's states.

Each test runs `closecast worker` as a subprocess under a fresh app id (so its topics,
consumer group and changelogs are its own), feeds it a simulated log, reads its tables
through its authenticated web views, and compares every customer's and rep's `to_dict()`
with `streams.embedded.replay.replay_files` on the same file.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.core.snapshot import Snapshot
from streams.embedded.replay import replay_files
from streams.worker.app import MAX_MESSAGE_BYTES
from streams.worker.producer import ensure_topic
from streams.worker.settings import StreamSettings
from streams.worker.topics import create_topics
from tests.reliability.cluster import Producer
from tests.support.workerproc import (
    TOKEN,
    WorkerProcess,
    closecast,
    delete_topics,
    fresh_app_id,
    lag,
    produce,
    read_topic,
    wait_for,
)
from tools import broker
from training.simulator import SimulationConfig, simulate, write_log

pytestmark = pytest.mark.live

BAD_LINES = [
    b"{this is not json",
    b'{"event_id": "bad-1", "type": "contact_made", "occurred_at": "2025-02-01T10:00:00"}',
    b'{"event_id": "bad-2", "type": "teleported", "occurred_at": "2025-02-01T10:00:00Z",'
    b' "customer_id": "c000001", "rep_id": "r001", "payload": {}}',
    b'{"event_id": "bad-3", "type": "portrait_updated", "occurred_at": "2025-02-01T10:00:00Z",'
    b' "customer_id": "c000002", "rep_id": "r001",'
    b' "payload": {"section": "extended", "fields": {"wife": null}}}',
]


def _log(path: Path, customers: int, reps: int, days: int, seed: int) -> Path:
    """A simulated log with bad lines and re-sent (duplicate) events mixed in."""
    write_log(SimulationConfig(customers, reps, days, seed), path)
    lines = path.read_bytes().splitlines()
    mixed: list[bytes] = []
    for i, line in enumerate(lines):
        mixed.append(line)
        if i % 97 == 0:
            mixed.append(line)  # a producer's retry: the same event again
        if i % (len(lines) // len(BAD_LINES) + 1) == 7:
            mixed.append(BAD_LINES[len(mixed) % len(BAD_LINES)])
    mixed.extend(BAD_LINES)
    path.write_bytes(b"\n".join(mixed) + b"\n")
    return path


def _expected(path: Path) -> tuple[dict[str, Any], dict[str, Any], Snapshot]:
    snap = replay_files([path])
    customers = {k: v.to_dict() for k, v in snap.customers.items()}
    reps = {k: v.to_dict() for k, v in snap.reps.items()}
    return customers, reps, snap


def _same_states(worker: WorkerProcess, customers: dict[str, Any], reps: dict[str, Any]) -> bool:
    return worker.customers() == customers and worker.reps() == reps


def _wait_same(
    worker: WorkerProcess, customers: dict[str, Any], reps: dict[str, Any], timeout: float
) -> None:
    try:
        wait_for(
            lambda: _same_states(worker, customers, reps), timeout, "the replay's states", worker
        )
    except AssertionError as exc:
        topics = [f"{worker.app_id}-events", f"{worker.app_id}-rep-events"]
        behind = {
            f"{tp.topic}[{tp.partition}]": n
            for tp, n in lag(worker.app_id, topics).per_partition.items()
        }
        detail = f"{_diff(worker, customers, reps)}; lag {behind}; progress {worker.progress()}"
        raise AssertionError(f"{detail}\n{exc}") from None


def _diff(worker: WorkerProcess, customers: dict[str, Any], reps: dict[str, Any]) -> str:
    got_c, got_r = worker.customers(), worker.reps()
    wrong = [k for k in set(customers) | set(got_c) if customers.get(k) != got_c.get(k)]
    wrong_r = [k for k in set(reps) | set(got_r) if reps.get(k) != got_r.get(k)]
    return f"{len(wrong)} customers differ (e.g. {wrong[:5]}), reps differ: {wrong_r[:5]}"


@pytest.fixture()
def app_id(kafka_broker: broker.BrokerInfo) -> Iterator[str]:
    """A fresh app id (consumer group, topics, changelogs); its topics are removed after."""
    name = fresh_app_id()
    yield name
    delete_topics(name)


def test_worker_tables_equal_the_replay_and_bad_messages_are_dead_lettered(
    app_id: str, tmp_path: Path
) -> None:
    log = _log(tmp_path / "log.jsonl", customers=150, reps=6, days=150, seed=21)
    customers, reps, snap = _expected(log)
    out = produce(app_id, log)
    assert f"sent {sum(1 for line in log.read_bytes().splitlines() if line.strip()):,}" in out
    worker = WorkerProcess(app_id, tmp_path / "w", tmp_path / "worker.log").start()
    try:
        # A message under a wrong key and one without a key: both must be re-keyed.
        first = next(line for line in log.read_bytes().splitlines() if b"lead_created" in line)
        _send_raw(f"{app_id}-events", [(b"not-the-customer", first), (None, first)])
        # Every line, the two strays, and the two copies they were re-sent as.
        wait_for(
            lambda: worker.progress().get("messages") == snap.stats.events_read + 4,
            120,
            "every message",
            worker,
        )
        _wait_same(worker, customers, reps, 30)
        progress = worker.progress()
        assert progress["rekeyed"] == 2
        assert progress["rejected"] == snap.stats.rejected > 0
        letters = [
            orjson.loads(v) for _, v in read_topic(f"{app_id}-deadletter", snap.stats.rejected)
        ]
        reasons = sorted(letter["reason"].split(":")[0] for letter in letters)
        assert reasons == sorted(snap.stats.reasons.elements())
        assert all(letter["raw"] and letter["raw_sha256"] for letter in letters)
        # Scores follow: every customer is scored, with its final event count.
        wait_for(lambda: _all_scored(worker, snap), 60, "every customer's score", worker)
        # The views want the token; faust's own table views are not there at all.
        some = sorted(customers)[0]
        assert worker.status(f"/customers/{some}/", None)[0] == 401
        assert worker.status(f"/customers/{some}/", "wrong")[0] == 401
        for path in ("/table/customers/", "/table/", "/router/", "/stats/", "/graph/"):
            status, body = worker.status(path, None)
            assert status == 404 and some.encode() not in body, path
        owner = snap.customers[some].owner or sorted(reps)[0]
        calllist = worker.get(f"/reps/{owner}/calllist/")
        assert calllist is not None and calllist["rep_id"] == owner
    finally:
        worker.stop()


def test_a_future_dated_event_is_held_by_the_worker_and_kept(app_id: str, tmp_path: Path) -> None:
    """Issue 13: an event dated beyond the skew ahead of the clock changes no state and
    no "today"; it waits in the held topic (kept forever) and the progress view lists it."""
    log = _log(tmp_path / "log.jsonl", customers=20, reps=3, days=60, seed=3)
    customers, reps, snap = _expected(log)
    produce(app_id, log)
    cid = sorted(customers)[0]
    rep = snap.customers[cid].owner or sorted(reps)[0]
    future = orjson.dumps(
        {
            "event_id": "future-1",
            "type": "contact_made",
            "occurred_at": "2099-01-01T09:00:00Z",
            "customer_id": cid,
            "rep_id": rep,
            "payload": {"channel": "phone"},
        }
    )
    worker = WorkerProcess(app_id, tmp_path / "w", tmp_path / "worker.log").start()
    try:
        _send_raw(f"{app_id}-events", [(cid.encode(), future)])
        wait_for(lambda: worker.progress().get("held") == 1, 120, "the held event", worker)
        _wait_same(worker, customers, reps, 60)  # the states as if it had not come
        progress: dict[str, Any] = dict(worker.progress())
        assert list(progress["holding"]) == ["future-1"]
        assert progress["holding"]["future-1"]["occurred_at"] == "2099-01-01T09:00:00Z"
        assert progress["watermark"] == snap.as_of  # today did not move to 2099
        # Kept in the held topic (the hold agent may have sent it round again already).
        held = [value for _, value in read_topic(f"{app_id}-held", 1)]
        assert held and set(held) == {future}
    finally:
        worker.stop()


def _all_scored(worker: WorkerProcess, snap: Snapshot) -> bool:
    for customer_id in list(snap.customers)[::10]:
        score = worker.get(f"/customers/{customer_id}/score/")
        if not score or score["events"] != snap.customers[customer_id].events:
            return False
    return True


def _send_raw(topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers())
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def test_sigkill_mid_stream_then_a_lost_store_lose_and_double_nothing(
    app_id: str, tmp_path: Path
) -> None:
    log = _log(tmp_path / "log.jsonl", customers=700, reps=10, days=200, seed=22)
    customers, reps, snap = _expected(log)
    total = snap.stats.events_read
    lines = [line for line in log.read_bytes().splitlines() if line.strip()]
    data_dir = tmp_path / "w"
    worker = WorkerProcess(app_id, data_dir, tmp_path / "worker.log").start()
    try:
        wait_for(lambda: worker.progress() or None, 60, "the worker", worker)
        # Killed twice while folding: batches half written, forwards and changelog
        # records in flight, offsets not committed. The log arrives over ~12 s, so that
        # each kill lands mid-stream: sent all at once, the worker could fold most of it
        # before the first kill, and the second life then had too little left to fold.
        sending = Producer(f"{app_id}-events", lines, len(lines) / 12).start()
        for life in (1, 2):
            wait_for(
                lambda: worker.progress().get("messages", 0) >= 0.15 * total,
                120,
                f"15% of the log folded in life {life}",
                worker,
            )
            assert not sending.state.done.is_set(), "the kill must come mid-stream"
            worker.kill()
            worker.start()
        sending.wait(120)
        _wait_same(worker, customers, reps, 180)
        # Let the group commit the end of the log, so that only the changelogs can
        # bring the states back below.
        # Generous: a rebalance after the second SIGKILL can hold commits for a session timeout.
        wait_for(
            lambda: lag(app_id, [f"{app_id}-events"]).total == 0, 120, "the last commit", worker
        )
        worker.stop()
        # The local store is gone: everything must come back from the changelogs, and
        # nothing from the events topic (its offsets are committed).
        shutil.rmtree(data_dir)
        worker.start()
        _wait_same(worker, customers, reps, 120)
        assert worker.progress()["messages"] == 0, _diff(worker, customers, reps)
    finally:
        worker.stop()


def test_events_from_kafkas_own_console_producer(app_id: str, tmp_path: Path) -> None:
    events = list(simulate(SimulationConfig(40, 3, 90, 23)))
    lines = [orjson.dumps(e) for e in events]
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    customers, reps, _ = _expected(log)
    worker = WorkerProcess(app_id, tmp_path / "w", tmp_path / "worker.log").start()
    try:
        keyed = [
            f"{e.get('customer_id') if 'customer_id' in e else e['rep_id']}\t{line.decode()}"
            for e, line in zip(events, lines, strict=True)
        ]
        broker.console_produce(f"{app_id}-events", keyed)
        _wait_same(worker, customers, reps, 90)
        assert worker.progress()["rekeyed"] == 0
    finally:
        worker.stop()


def test_views_refuse_everything_without_a_configured_token(app_id: str, tmp_path: Path) -> None:
    worker = WorkerProcess(app_id, tmp_path / "w", tmp_path / "worker.log", token=None)
    worker.start()
    try:
        for path in ("/customers/", "/progress/", "/reps/", "/reps/r001/calllist/"):
            status, body = worker.status(path, TOKEN)
            assert status == 503 and b"CLOSECAST_API_TOKEN" in body, path
    finally:
        worker.stop()


def test_the_worker_s_topics_exist_before_it_joins_its_group(app_id: str) -> None:
    """Created up front with our partition counts and size limit (a source topic that
    appears after the group's assignment would be left out of it for minutes)."""
    settings = StreamSettings.from_env(app_id=app_id)
    first = asyncio.run(create_topics(settings, MAX_MESSAGE_BYTES))
    assert first == {
        f"{app_id}-events": 4,
        f"{app_id}-rep-events": 4,
        f"{app_id}-scores": 4,
        f"{app_id}-deadletter": 1,
        f"{app_id}-held": 4,
    }
    assert asyncio.run(create_topics(settings, MAX_MESSAGE_BYTES)) == first  # idempotent

    async def size_limits() -> dict[tuple[str, str], str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers())
        await admin.start()
        try:
            described = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name) for name in first]
            )
        finally:
            await admin.close()
        return {
            (resource["resource_name"], entry["config_names"]): entry["config_value"]
            for response in described
            for resource in response.to_object()["resources"]
            for entry in resource["config_entries"]
            if entry["config_names"] in ("max.message.bytes", "retention.ms")
        }

    configs = asyncio.run(size_limits())
    assert {configs[name, "max.message.bytes"] for name in first} == {str(MAX_MESSAGE_BYTES)}
    # The log and what it refused are never deleted; derived topics keep Kafka's default.
    assert configs[f"{app_id}-events", "retention.ms"] == "-1"
    assert configs[f"{app_id}-deadletter", "retention.ms"] == "-1"
    assert configs[f"{app_id}-held", "retention.ms"] == "-1"  # held events are log too
    assert configs[f"{app_id}-scores", "retention.ms"] != "-1"


def test_a_worker_refuses_topics_with_another_partition_count(app_id: str) -> None:
    asyncio.run(ensure_topic(broker.bootstrap_servers(), f"{app_id}-events", 2))
    out = closecast(app_id, "worker", "--web-port", "0", timeout=120)
    assert out.returncode != 0
    assert f"{app_id}-events': 2" in out.stderr and "CLOSECAST_PARTITIONS=4" in out.stderr
