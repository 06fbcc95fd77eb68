"""The stream worker on the local broker: throughput and produce-to-score latency.

1. Throughput: a `closecast worker` (subprocess, RocksDB store) is started on a fresh app
   id, then a ~1,000,000-event simulated log is produced into its events topic as fast as
   the producer goes. Measured: events per second from the first send until the worker
   has folded every message (its /progress/ view), and separately until every changed
   customer has been re-scored.
   Baseline, same run, same topic: a plain aiokafka consumer (no group) that reads every
   message and decodes it with the contract parser, nothing else. And the ceiling of any
   Faust agent: one built exactly as the worker's that takes the same batches and does
   nothing with them (`bench/faust_ceiling.py`).
2. Latency: a second fresh worker; a separate simulated log is produced at a steady
   1,000 events/s. For each event, the time from its send to the arrival (on the scores
   topic) of a score of its customer that includes it (the score's `events` count reaches
   the customer's count after that event). p50 and p99.

Targets (issue 3): >= 10,000 events/s, >= 1/3 of the plain consumer, p99 < 200 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.logs import million_event_log, simulated_log
from streams.core.contract import InvalidEvent, parse
from streams.worker.producer import new_producer, send_lines
from streams.worker.settings import StreamSettings
from tools import broker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the worker harness lives with the tests

from tests.support.workerproc import WorkerProcess, delete_topics, fresh_app_id, wait_for  # noqa: E402

STEADY_RATE = 1000  # events/s
STEADY_SECONDS = 20


def _progress(worker: WorkerProcess) -> dict[str, int]:
    return worker.progress()


async def _produce_all(topic: str, lines: list[bytes]) -> float:
    producer = new_producer(broker.bootstrap_servers())
    await producer.start()
    try:
        sent = await send_lines(producer, topic, lines)
    finally:
        await producer.stop()
    return sent.seconds


async def _plain_consumer(topic: str, expected: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    with contextlib.suppress(InvalidEvent):
                        parse(record.value)
                    seen += 1
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def _faust_ceiling(app_id: str, topic: str, expected: int) -> dict[str, float]:
    """Seconds (and CPU seconds) for a do-nothing Faust agent to take `expected` messages
    of `topic` (`bench/faust_ceiling.py`, in a process and consumer group of its own)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.faust_ceiling",
            f"{app_id}-ceiling",
            topic,
            str(StreamSettings.from_env().partitions),
            str(expected),
        ],
        cwd=REPO,
        capture_output=True,
        timeout=1800,
        check=False,
    )
    # mode's worker writes terminal escapes to stdout too: take the JSON part of the line.
    lines = [line[line.index(b"{") :] for line in done.stdout.splitlines() if b'{"' in line]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"bench.faust_ceiling failed ({done.returncode}): {done.stderr[-2000:]!r}"
        )
    measured: dict[str, float] = orjson.loads(lines[-1])
    return measured


def _throughput(work: Path) -> dict[str, Any]:
    lines = [line for line in million_event_log().read_bytes().splitlines() if line.strip()]
    app_id = fresh_app_id("cc-bench")
    worker = WorkerProcess(app_id, work / "w1", work / "w1.log").start()
    try:
        wait_for(lambda: worker.progress() or None, 60, "the worker", worker)
        started = time.perf_counter()
        produce_s = asyncio.run(_produce_all(f"{app_id}-events", lines))
        wait_for(
            lambda: _progress(worker).get("messages", 0) >= len(lines),
            3600,
            "every message folded",
            worker,
            every=0.25,
        )
        folded_s = time.perf_counter() - started
        wait_for(
            lambda: _progress(worker).get("score_backlog", 1) == 0,
            3600,
            "every change scored",
            worker,
            every=0.25,
        )
        scored_s = time.perf_counter() - started
        final = worker.progress()
    finally:
        worker.stop()
    try:
        plain_s = asyncio.run(_plain_consumer(f"{app_id}-events", len(lines)))
        ceiling = _faust_ceiling(app_id, f"{app_id}-events", len(lines))
    finally:
        delete_topics(app_id)  # ~2 GB of topics and changelogs
    return {
        "events": len(lines),
        "produce_s": produce_s,
        "folded_s": folded_s,
        "scored_s": scored_s,
        "plain_s": plain_s,
        "ceiling": ceiling,
        "progress": final,
    }


async def _steady(topic: str, scores_topic: str, lines: list[bytes]) -> list[float]:
    """Send `lines` at STEADY_RATE; return each event's send-to-score latency (seconds)."""
    customer_of = []
    nth: list[int] = []
    counts: Counter[str] = Counter()
    for raw in lines:
        event = parse(raw)
        cid = event.customer_id if event.type not in ("rep_joined", "rep_left") else None
        customer_of.append(cid)
        if cid is not None:
            counts[cid] += 1
        nth.append(counts[cid] if cid is not None else 0)
    sent_at: list[float] = [0.0] * len(lines)
    scored_events: dict[str, list[tuple[int, float]]] = {}
    consumer = AIOKafkaConsumer(
        scores_topic,
        bootstrap_servers=broker.bootstrap_servers(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    done = asyncio.Event()

    async def listen() -> None:
        while not done.is_set():
            batches = await consumer.getmany(timeout_ms=20)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    score = orjson.loads(record.value)
                    scored_events.setdefault(score["customer_id"], []).append(
                        (score["events"], now)
                    )

    listener = asyncio.create_task(listen())
    producer = new_producer(broker.bootstrap_servers())
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for i, raw in enumerate(lines):
            due = started + i / STEADY_RATE
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            key = (customer_of[i] or parse(raw).partition_key).encode()
            sent_at[i] = time.perf_counter()
            pending.append(await producer.send(f"{topic}", raw, key=key))
        await asyncio.gather(*pending)
        await asyncio.sleep(3)  # the last scores
    finally:
        done.set()
        await listener
        await producer.stop()
        await consumer.stop()
    latencies = []
    for i, cid in enumerate(customer_of):
        if cid is None:
            continue
        arrivals = [t for n, t in scored_events.get(cid, []) if n >= nth[i] and t >= sent_at[i]]
        latencies.append((min(arrivals) if arrivals else float("inf")) - sent_at[i])
    return latencies


def _latency(work: Path) -> tuple[list[float], dict[str, Any]]:
    log = simulated_log(3000, 20, 365, seed=12)
    lines = [line for line in log.read_bytes().splitlines() if line.strip()]
    lines = lines[: STEADY_RATE * STEADY_SECONDS]
    app_id = fresh_app_id("cc-bench-lat")
    worker = WorkerProcess(app_id, work / "w2", work / "w2.log").start()
    try:
        # Warm up: the first message waits for the group's partitions, the recovery and
        # the topics' metadata; latency is measured from then on.
        warm = orjson.dumps(
            {
                "event_id": "warm-up",
                "type": "rep_joined",
                "occurred_at": "2020-01-01T00:00:00Z",
                "rep_id": "warm-up",
                "payload": {},
            }
        )
        asyncio.run(_produce_all(f"{app_id}-events", [warm]))
        wait_for(
            lambda: worker.progress().get("rep_events", 0) >= 1, 60, "the warm-up event", worker
        )
        latencies = asyncio.run(_steady(f"{app_id}-events", f"{app_id}-scores", lines))
        return latencies, worker.progress()
    finally:
        worker.stop()
        delete_topics(app_id)


def run() -> list[dict[str, Any]]:
    broker.start(timeout=120)
    work = Path(tempfile.mkdtemp(prefix="cc-bench-stream-"))
    try:
        t = _throughput(work)
        latencies, steady = _latency(work)
        latencies.sort()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = t["events"]
    plain_rate = n / t["plain_s"]
    fold_rate = n / t["folded_s"]
    lost = sum(1 for x in latencies if x == float("inf"))
    finite = [x for x in latencies if x != float("inf")] or [float("inf")]
    p50 = statistics.median(finite) * 1000
    p99 = finite[min(len(finite) - 1, int(0.99 * len(finite)))] * 1000
    return [
        {
            "name": "stream_worker_events_per_s",
            "value": round(fold_rate),
            "unit": "events/s",
            "events": n,
            "baseline_name": "plain_aiokafka_consumer_decode_only_per_s",
            "baseline_value": round(plain_rate),
            "target": "value >= 10000 and value >= baseline / 3",
            "produce_per_s": round(n / t["produce_s"]),
            "worker_progress": t["progress"],
        },
        {
            "name": "stream_worker_events_per_s_until_all_scored",
            "value": round(n / t["scored_s"]),
            "unit": "events/s",
            "baseline_name": "plain_aiokafka_consumer_decode_only_per_s",
            "baseline_value": round(plain_rate),
        },
        {
            "name": "stream_faust_take_only_events_per_s",
            "value": round(n / t["ceiling"]["seconds"]),
            "unit": "events/s",
            "cpu_share": round(t["ceiling"]["cpu_seconds"] / t["ceiling"]["seconds"], 2),
            "what": "a Faust agent built as the worker's that takes its batches and does "
            "nothing: the most any Faust agent receives here",
            "baseline_name": "plain_aiokafka_consumer_decode_only_per_s",
            "baseline_value": round(plain_rate),
        },
        {
            "name": "produce_to_score_latency_p50_at_1000_per_s",
            "value": round(p50, 1),
            "unit": "ms",
            "baseline_name": "",
            "baseline_value": None,
            "events": len(latencies),
            "never_scored": lost,
            "worker_progress": steady,
        },
        {
            "name": "produce_to_score_latency_p99_at_1000_per_s",
            "value": round(p99, 1),
            "unit": "ms",
            "baseline_name": "",
            "baseline_value": None,
            "target": "value < 200",
        },
    ]
