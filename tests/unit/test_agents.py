"""The stream agents, broker-less: faust's `agent.test_context()` on a `memory://` store.

Sends to topics are recorded instead of produced. What the events agent forwards to the
rep-events topic is then fed to the rep agent, as the broker would, so a whole log goes
through both agents and must give exactly the states the in-process replay gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka.structs import RecordMetadata, TopicPartition

from features.policy import Policy
from models.scoring import Scorer, score_states
from streams.core.contract import parse
from streams.core.deadletter import REDACTED
from streams.core.fold import event_digest
from streams.core.snapshot import ReplayStats, Snapshot
from streams.core.state import IdSet
from streams.embedded.replay import replay_events, replay_files
from streams.worker.app import Worker, build
from streams.worker.batches import Cache
from streams.worker.producer import BatchSent, key_for, partition_of
from streams.worker.settings import SettingsError, StreamSettings
from streams.worker.tables import acting_for, decode_customer, place, reps_from_rows
from training.simulator import SimulationConfig, simulate, write_log

TOKEN = "s3cret-token"


def in_own_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop in a thread of its own.

    The browser tests keep Playwright's event loop running in the main thread for the
    whole session, and asyncio refuses to start a second loop in that thread.
    """

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, test(*args, **kwargs)).result()

    return run


def _done(result: Any) -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    fut.set_result(result)
    return fut


class Recorder:
    """Stands in for a sender: keeps every (key, value), returns done futures."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.before_send: Any = None

    async def send(self, *, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        if self.before_send is not None:
            self.before_send(key, value)
        self.sent.append((key, value))
        return _done(None)

    async def send_many(self, records: list[tuple[bytes, bytes]]) -> list[asyncio.Future[Any]]:
        return [await self.send(key=key, value=value) for key, value in records]


class Changelog:
    """Stands in for a table's `send_records`: keeps each changelog record and returns
    one batch per partition whose future carries its base offset, as the producer's do."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes, int]] = []

    async def send_records(
        self, topic: str, records: list[tuple[bytes, bytes, int]]
    ) -> list[BatchSent]:
        batches = []
        for partition in sorted({p for _, _, p in records}):
            base = len(self.records)
            mine = [(topic, k, v, p) for k, v, p in records if p == partition]
            self.records.extend(mine)
            tp = TopicPartition(topic, partition)
            meta = RecordMetadata(topic, partition, tp, base, -1, 0, 0)
            batches.append(BatchSent(_done(meta), len(mine)))
        return batches


def _worker(token: str = TOKEN) -> tuple[Worker, dict[str, Recorder]]:
    settings = StreamSettings(
        app_id=f"unit-{uuid.uuid4().hex[:8]}",
        bootstrap="127.0.0.1:9",  # never contacted
        store="memory://",
        partitions=1,
        await_delivery=False,
        batch_within=0.005,
        rep_batch_within=0.005,
    )
    worker = build(settings, Scorer(None, Policy()), Policy(), api_token=token)
    worker.app.finalize()
    worker.app.flow_control.resume()
    recorders = {}
    for name in ("events", "rep_events", "scores", "deadletter"):
        recorder = Recorder()
        sender = getattr(worker.senders, name)
        sender.send = recorder.send
        sender.send_many = recorder.send_many
        recorders[name] = recorder
    for table in worker.tables.all():
        table.send_records = Changelog().send_records  # type: ignore[method-assign]
    return worker, recorders


def _changelog(table: Any) -> Changelog:
    changelog: Changelog = table.send_records.__self__
    return changelog


async def _drain(agent: Any, messages: int, field: str = "messages") -> None:
    """Wait until the agent's yielded batch reports add up to `messages`."""
    for _ in range(2000):
        if sum(getattr(r, field) for r in agent.results.values()) >= messages:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"agent handled fewer than {messages} {field}")


async def _put_all(agent: Any, items: list[tuple[bytes | None, bytes]], field: str) -> None:
    before = sum(getattr(r, field) for r in agent.results.values())
    for key, value in items:
        await agent.put(value, key=key, wait=False)
    await _drain(agent, before + len(items), field)


async def _run(
    worker: Worker, recorders: dict[str, Recorder], lines: list[tuple[bytes | None, bytes]]
) -> None:
    """Lines through the events agent, then its rep forwards through the rep agent."""
    async with worker.agents.events.test_context() as events:
        await _put_all(events, lines, "messages")
    forwards = list(recorders["rep_events"].sent)
    recorders["rep_events"].sent.clear()
    async with worker.agents.reps.test_context() as reps:
        await _put_all(reps, forwards, "rep_messages")


async def _fold_and_score(
    worker: Worker, recorders: dict[str, Recorder], lines: list[bytes]
) -> None:
    """The lines through both agents, then every changed customer scored."""
    await _run(worker, recorders, [_keyed(raw) for raw in lines])
    for key, value in worker.tables.reps.items():
        worker.directory.update(key, value)
    async with worker.agents.events.test_context():
        while await worker.scorer.score_pending():
            pass


def _keyed(raw: bytes) -> tuple[bytes | None, bytes]:
    return key_for(raw)[0], raw


def _log(customers: int = 25, reps: int = 4, days: int = 90, seed: int = 5) -> list[bytes]:
    return [orjson.dumps(e) for e in simulate(SimulationConfig(customers, reps, days, seed))]


def _customers(worker: Worker) -> dict[str, dict[str, Any]]:
    return {k.decode(): decode_customer(v).to_dict() for k, v in worker.tables.customers.items()}


def _reps(worker: Worker) -> dict[str, dict[str, Any]]:
    return {k: v.to_dict() for k, v in reps_from_rows(worker.tables.reps.items()).items()}


@pytest.fixture()
def small_log() -> list[bytes]:
    return _log()


@in_own_loop
async def test_agents_give_the_replays_states(small_log: list[bytes]) -> None:
    worker, recorders = _worker()
    await _run(worker, recorders, [_keyed(raw) for raw in small_log])
    expected = replay_events(parse(raw) for raw in small_log)
    assert _customers(worker) == {k: v.to_dict() for k, v in expected.customers.items()}
    assert _reps(worker) == {k: v.to_dict() for k, v in expected.reps.items()}
    assert not recorders["deadletter"].sent


@in_own_loop
async def test_redelivery_and_duplicates_change_nothing(small_log: list[bytes]) -> None:
    worker, recorders = _worker()
    lines = [_keyed(raw) for raw in small_log]
    # Everything delivered twice, the second time interleaved: at-least-once at its worst.
    await _run(worker, recorders, lines + lines[::2] + lines[1::2])
    expected = replay_events(parse(raw) for raw in small_log)
    assert _customers(worker) == {k: v.to_dict() for k, v in expected.customers.items()}
    assert _reps(worker) == {k: v.to_dict() for k, v in expected.reps.items()}
    assert worker.progress.duplicates > 0


@in_own_loop
async def test_a_reused_event_id_with_another_rep_is_dropped_like_the_replay() -> None:
    # Same customer, same event id, different rep: a duplicate by the contract. The replay
    # credits neither the customer nor the second rep; the worker must agree.
    first = orjson.dumps(
        {
            "event_id": "e1",
            "type": "lead_created",
            "occurred_at": "2026-01-05T09:00:00Z",
            "customer_id": "c1",
            "rep_id": "r1",
            "payload": {"source": "referral"},
        }
    )
    second = first.replace(b'"rep_id":"r1"', b'"rep_id":"r2"')
    worker, recorders = _worker()
    await _run(worker, recorders, [_keyed(first), _keyed(second)])
    expected = replay_events([parse(first), parse(second)])
    assert set(_reps(worker)) == set(expected.reps) == {"r1"}
    assert _customers(worker) == {k: v.to_dict() for k, v in expected.customers.items()}


@in_own_loop
async def test_rep_side_is_sent_before_the_state_that_holds_it(small_log: list[bytes]) -> None:
    # When a rep forward goes out, no stored customer state may hold its events yet: a
    # crash right then leaves them to be folded, and forwarded, again on redelivery.
    worker, recorders = _worker()
    checked = []

    def check(key: bytes | None, value: bytes) -> None:
        for line in value.split(b"\n"):
            event = parse(line)
            if event.customer_id is None or event.type.startswith("rep_"):
                continue
            raw = worker.tables.customers.get(event.customer_id.encode())
            checked.append(raw is not None and _holds(raw, event.event_id))

    recorders["rep_events"].before_send = check
    await _run(worker, recorders, [_keyed(raw) for raw in small_log])
    assert checked and not any(checked)


def _holds(raw: bytes, event_id: str) -> bool:
    state = decode_customer(raw)
    return IdSet.add(state.seen, event_digest(event_id)) is None


@in_own_loop
async def test_bad_messages_are_dead_lettered_and_the_agent_goes_on() -> None:
    good = orjson.dumps(
        {
            "event_id": "ok-1",
            "type": "lead_created",
            "occurred_at": "2026-01-05T09:00:00Z",
            "customer_id": "c9",
            "rep_id": "r9",
            "payload": {"source": "inbound"},
        }
    )
    secret = orjson.dumps(
        {
            "event_id": "bad-2",
            "type": "portrait_updated",
            "occurred_at": "2026-01-05T09:00:00Z",
            "customer_id": "c9",
            "rep_id": "r9",
            "payload": {"section": "deep", "fields": {"boss_mobile": ["13800000000"]}},
        }
    )
    bad = [
        (b"c9", b"{not json"),
        (b"c9", b'{"type": "contact_made"}'),
        (b"c9", b'{"event_id": "x", "type": "teleport", "occurred_at": "2026-01-05T09:00:00Z"}'),
        (b"c9", secret),
    ]
    worker, recorders = _worker()
    await _run(worker, recorders, [*bad, (b"c9", good)])
    letters = [orjson.loads(v) for _, v in recorders["deadletter"].sent]
    assert [letter["reason"].split(":")[0] for letter in letters] == [
        "event",
        "event_id",
        "type",
        "payload.fields.boss_mobile",
    ]
    assert letters[0]["raw"] == "{not json"
    assert "13800000000" not in recorders["deadletter"].sent[3][1].decode()
    assert REDACTED in letters[3]["raw"]
    assert all(letter["key"] == "c9" and letter["raw_sha256"] for letter in letters)
    assert set(_customers(worker)) == {"c9"}
    assert worker.progress.rejected == 4


@in_own_loop
async def test_a_message_under_the_wrong_key_is_sent_round_again() -> None:
    raw = orjson.dumps(
        {
            "event_id": "e7",
            "type": "rep_joined",
            "occurred_at": "2026-01-05T09:00:00Z",
            "rep_id": "r7",
            "payload": {},
        }
    )
    worker, recorders = _worker()
    await _run(worker, recorders, [(b"someone-else", raw), (None, raw)])
    assert recorders["events"].sent == [(b"r7", raw), (b"r7", raw)]
    assert not _reps(worker)  # folded only once it comes back under its key
    await _run(worker, recorders, recorders["events"].sent[:1])
    assert set(_reps(worker)) == {"r7"}


@in_own_loop
async def test_scores_are_the_scorers_on_the_same_states(small_log: list[bytes]) -> None:
    worker, recorders = _worker()
    await _fold_and_score(worker, recorders, small_log)
    async with worker.agents.events.test_context():
        # After a restart every stored score is checked against its state: none is stale.
        assert await worker.scorer.reconcile(worker.tables.customers, 1) == 0
        some = next(iter(worker.tables.scores))
        with acting_for(place(worker.settings.events_topic, 0)):
            del worker.tables.scores[some]
        assert await worker.scorer.reconcile(worker.tables.customers, 1) == 1
        assert await worker.scorer.score_pending() == 1
    scores = {k.decode(): orjson.loads(v) for k, v in worker.tables.scores.items()}
    expected = replay_events(parse(raw) for raw in small_log)
    assert set(scores) == set(expected.customers)
    published = {k.decode() for k, _ in recorders["scores"].sent if k}
    assert published == set(expected.customers)
    as_of = worker.progress.watermark
    assert {s["as_of"] for s in scores.values()} == {_iso(as_of)}
    states = sorted(expected.customers.values(), key=lambda s: s.customer_id)
    frame = score_states(
        states, Snapshot({}, expected.reps, as_of, ReplayStats()), Scorer(None, Policy())
    )
    for row in frame.to_dict("records"):
        got = scores[row["customer_id"]]
        assert got["p_close"] == pytest.approx(row["p_close"], abs=0)
        assert got["reasons"] == row["reasons"]
        assert got["events"] == expected.customers[row["customer_id"]].events


def _iso(ts: int) -> str:
    from streams.core.contract import to_datetime

    return to_datetime(ts).isoformat()


# ------------------------------------------------------------------ web views


@contextlib.asynccontextmanager
async def _client(small_log: list[bytes]) -> AsyncIterator[tuple[TestClient[Any, Any], Worker]]:
    worker, recorders = _worker()
    await _run(worker, recorders, [_keyed(raw) for raw in small_log])
    for key, value in worker.tables.reps.items():
        worker.directory.update(key, value)
    web_app = await worker.app.web.wsgi()
    async with TestClient(TestServer(web_app)) as test_client:
        yield test_client, worker


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@in_own_loop
async def test_views_serve_state_score_and_call_list_with_the_token(
    small_log: list[bytes],
) -> None:
    async with _client(small_log) as (http, _):
        await _serve_with_token(http, small_log)


async def _serve_with_token(http: TestClient[Any, Any], small_log: list[bytes]) -> None:
    expected = replay_events(parse(raw) for raw in small_log)
    some = sorted(expected.customers)[0]
    reply = await http.get(f"/customers/{some}/", headers=AUTH)
    assert reply.status == 200
    body = await reply.json()
    assert body["state"] == expected.customers[some].to_dict()
    assert body["status"] == expected.customers[some].status
    reply = await http.get("/customers/?limit=5000", headers=AUTH)
    assert set((await reply.json())["customers"]) == set(expected.customers)
    owner = next(s.owner for s in expected.customers.values() if s.owner)
    reply = await http.get(f"/reps/{owner}/calllist/?as_of=2025-03-01", headers=AUTH)
    assert reply.status == 200
    lines = (await reply.json())["lines"]
    assert all(line["rep_id"] == owner for line in lines)
    assert (await http.get("/customers/nobody/", headers=AUTH)).status == 404
    assert (await http.get(f"/customers/{some}/score/", headers=AUTH)).status == 404


BUILTIN = [
    "/table/",
    "/table/customers/",
    "/router/",
    "/router/customers/x/",
    "/graph/",
    "/stats/",
    "/assignment/",
    "/performance/",
]
OURS = [
    "/customers/",
    "/customers/c000001/",
    "/customers/c000001/score/",
    "/reps/",
    "/reps/r001/",
    "/reps/r001/calllist/",
    "/progress/",
]


@in_own_loop
async def test_nothing_is_served_without_the_token(small_log: list[bytes]) -> None:
    async with _client(small_log) as (http, worker):
        await _refuse_without_token(http, worker)


async def _refuse_without_token(http: TestClient[Any, Any], worker: Worker) -> None:
    customer = next(iter(_customers(worker)))
    for path in OURS:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            reply = await http.get(path, headers=headers)
            assert reply.status == 401, (path, headers)
            assert customer not in await reply.text()
    for path in BUILTIN:  # faust's own table/router/stats views are not mounted at all
        reply = await http.get(path, headers=AUTH)
        assert reply.status == 404, path
        assert customer not in await reply.text()
    index = await http.get("/")
    assert customer not in await index.text()


@in_own_loop
async def test_without_a_configured_token_every_view_says_why() -> None:
    worker, _recorders = _worker(token="")
    web_app = await worker.app.web.wsgi()
    async with TestClient(TestServer(web_app)) as http:
        for path in OURS:
            reply = await http.get(path, headers={"Authorization": "Bearer "})
            assert reply.status == 503
            assert "CLOSECAST_API_TOKEN" in (await reply.json())["error"]


# ------------------------------------------------------------------ pieces


def test_exactly_once_is_refused_with_the_reason() -> None:
    with pytest.raises(SettingsError, match="exactly_once"):
        StreamSettings.from_env({"CLOSECAST_PROCESSING_GUARANTEE": "exactly_once"})
    with pytest.raises(SettingsError, match="CLOSECAST_PARTITIONS"):
        StreamSettings.from_env({"CLOSECAST_PARTITIONS": "many"})
    s = StreamSettings.from_env(
        {"CLOSECAST_PARTITIONS": "8", "CLOSECAST_STANDBY_REPLICAS": "1", "CLOSECAST_APP_ID": "x"}
    )
    assert (s.partitions, s.standby_replicas, s.events_topic) == (8, 1, "x-events")
    for bad in ("0", "-1", "soon"):
        with pytest.raises(SettingsError, match="CLOSECAST_MODEL_CHECK_INTERVAL"):
            StreamSettings.from_env({"CLOSECAST_MODEL_CHECK_INTERVAL": bad})
    assert (
        StreamSettings.from_env({"CLOSECAST_MODEL_CHECK_INTERVAL": "0.5"}).model_check_interval
        == 0.5
    )


def test_producer_keys_by_contract_and_best_effort_for_bad_lines() -> None:
    rep = (
        b'{"event_id":"1","type":"rep_joined","occurred_at":"2026-01-01T00:00:00Z",'
        b'"rep_id":"r1","payload":{}}'
    )
    assert key_for(rep) == (b"r1", True)
    assert key_for(b'{"customer_id": "c5", "type": "nonsense"}') == (b"c5", False)
    assert key_for(b"not json at all") == (None, False)


def test_partition_of_is_kafkas_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for key in (b"c000001", b"r003", "客户-7".encode()):
        assert partition_of(key, 4) == DefaultPartitioner()(key, [0, 1, 2, 3], [0, 1, 2, 3])


def test_replay_of_a_written_log_matches_the_simulated_events(tmp_path: Path) -> None:
    # The live tests compare the worker with replay_files(log); this pins that the file
    # form and the in-memory form of a simulated log fold alike.
    config = SimulationConfig(20, 3, 60, 9)
    path = tmp_path / "log.jsonl"
    write_log(config, path)
    from_file = replay_files([path])
    from_memory = replay_events(parse(orjson.dumps(e)) for e in simulate(config))
    assert from_file.customers == from_memory.customers


def test_the_state_cache_stays_bounded() -> None:
    cache = Cache(10)
    for i in range(25):
        cache.put(bytes([i]), i)
    assert len(cache.items) <= 10
    assert cache.get(bytes([24])) == 24 and cache.get(bytes([0])) is None


@in_own_loop
async def test_the_backlog_is_what_waits_behind_the_last_batch(small_log: list[bytes]) -> None:
    worker, _ = _worker()
    ends: dict[int, int] = {0: 1000}  # the consumer saw partition 0 end at offset 1000
    worker.events.highwater = lambda tp: ends.get(tp.partition)
    lines = [_keyed(raw) for raw in small_log]
    async with worker.agents.events.test_context() as events:
        await _put_all(events, lines, "messages")  # offsets 0, 1, ...
    assert worker.progress.backlog == 1000 - len(lines) > 0
    assert worker.progress.to_dict()["backlog"] == 1000 - len(lines)  # shown by /progress/
    worker.events.forget()  # partitions moved: their counts are someone else's now
    assert worker.progress.backlog == 0


def test_the_scorer_holds_back_only_while_the_fold_has_a_backlog() -> None:
    worker, _ = _worker()
    scorer = worker.scorer
    interval, share = scorer.interval, scorer.cpu_share
    worker.progress.backlog = 0
    # At a steady rate a long pass is followed by the usual short pause, not a long one:
    # the scorer must not fall behind while the CPU is idle.
    assert scorer.pause_after(0.3) == interval
    worker.progress.backlog = scorer.backlog_limit + 1
    assert scorer.pause_after(0.3) == pytest.approx(0.3 * (1 - share) / share)
    assert scorer.pause_after(0.0) == interval


@in_own_loop
async def test_every_table_write_reaches_its_changelog(small_log: list[bytes]) -> None:
    """What a restart recovers from: the newest changelog record of every key is the
    value the table holds, on the key's own partition, in the table's changelog topic."""
    worker, recorders = _worker()
    await _fold_and_score(worker, recorders, small_log)
    for table in worker.tables.all():
        records = _changelog(table).records
        assert records, f"{table.name}: nothing written to the changelog"
        newest = {key: value for _, key, value, _ in records}
        assert newest == dict(table.items()), table.name
        assert {topic for topic, *_ in records} == {table.changelog_topic.get_topic_name()}
        assert {partition for *_, partition in records} == {0}
