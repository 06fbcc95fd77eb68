"""Driving the real thing: `closecast worker` subprocesses, the broker's offsets, a paced
producer that survives a broker restart, and a memory sampler.

Everything is on loopback and every wait is bounded: a scenario that hangs fails with
the worker's log tail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams import broker
from streams.producer import ensure_topic, key_for, new_producer
from streams.replay import Snapshot
from tests.reliability.table import Tally, tally

REPO = Path(__file__).resolve().parents[2]
TOKEN = "reliability-token"
# A killed worker stays in its consumer group until its session times out; a short one
# lets the restarted (or surviving) worker take its partitions over quickly.
SESSION_TIMEOUT_S = "4"
T = TypeVar("T")


def fresh_app_id(scenario: str) -> str:
    return f"cc-rel-{scenario}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    workers: Sequence[Worker] = (),
    every: float = 0.25,
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds, or
    at once if a worker that should be running died."""
    deadline = time.monotonic() + timeout
    while True:
        for worker in workers:
            if not worker.alive():
                raise AssertionError(f"{worker.name} died waiting for {what}:\n{worker.log_tail()}")
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            tails = "\n".join(w.log_tail() for w in workers)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
        time.sleep(every)


# ---------------------------------------------------------------- workers


class Worker:
    """One `closecast worker` process; restartable, with the same data dir and port."""

    def __init__(
        self,
        app_id: str,
        root: Path,
        name: str = "worker",
        model_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.app_id = app_id
        self.name = name
        self.data_dir = root / f"{name}-data"
        self.log_path = root / f"{name}.log"
        self.model_dir = model_dir
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CLOSECAST_APP_ID=self.app_id,
            CLOSECAST_API_TOKEN=TOKEN,
            CLOSECAST_SESSION_TIMEOUT=SESSION_TIMEOUT_S,
            PYTHONPATH=str(REPO),
        )
        env.update(self.extra_env)
        return env

    def start(self) -> Worker:
        command = [
            sys.executable,
            "-m",
            "closecast",
            "worker",
            "--web-port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--loglevel",
            "info",
        ]
        if self.model_dir is not None:
            command += ["--model-dir", str(self.model_dir)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts + 1} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        wait_for(self.answers, 90, f"{self.name}'s web server", [self])
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def answers(self) -> bool:
        try:
            self.status("/progress/")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        return True

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_mib(self) -> float | None:
        """Resident memory of the worker process, from /proc (None once it is gone)."""
        if not self.alive():
            return None
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"({self.name}: no log)"
        return f"--- {self.name} log tail ---\n" + "\n".join(text.splitlines()[-lines:])

    def status(self, path: str, token: str | None = TOKEN) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str) -> Any:
        status, body = self.status(path)
        assert status == 200, f"GET {path}: {status} {body[:300]!r}\n{self.log_tail()}"
        return orjson.loads(body)

    def progress(self) -> dict[str, int]:
        out: dict[str, int] = self.get("/progress/")
        return out

    def customers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        after = ""
        for _ in range(10_000):  # pages of 5,000: far more than any log here
            page = self.get(f"/customers/?limit=5000&after={after}")
            out.update(page["customers"])
            if not page["next"]:
                return out
            after = page["next"]
        raise AssertionError("the customer pages never ended")

    def reps(self) -> dict[str, Any]:
        return dict(self.get("/reps/")["reps"])

    def score(self, customer_id: str) -> dict[str, Any] | None:
        status, body = self.status(f"/customers/{customer_id}/score/")
        if status == 404:
            return None
        assert status == 200, body[:300]
        out: dict[str, Any] = orjson.loads(body)
        return out


# ---------------------------------------------------------------- the broker's view


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def committed(group: str) -> dict[TopicPartition, int]:
    """The group's committed offsets (what a restarted consumer resumes from)."""

    async def run() -> dict[TopicPartition, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers())
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    out: dict[TopicPartition, int] = _run(run())
    return out


class MissingTopic(AssertionError):
    """A topic the caller expected is not there (yet)."""


def end_offsets(topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The next offset of every partition of `topics` (which must exist)."""

    async def run() -> dict[TopicPartition, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers())
        await admin.start()
        try:
            described = await admin.describe_topics(list(topics))
        finally:
            await admin.close()
        partitions = [
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        ]
        missing = set(topics) - {tp.topic for tp in partitions}
        # An empty answer would read as "no lag": a missing topic is an error instead.
        if missing:
            raise MissingTopic(f"topics without partitions: {sorted(missing)}")
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers(), group_id=None)
        await consumer.start()
        try:
            ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        finally:
            await asyncio.sleep(0)  # aiokafka: a consumer stopped too soon raises on stop
            await consumer.stop()
        return ends

    out: dict[TopicPartition, int] = _run(run())
    return out


@dataclass(frozen=True)
class Lag:
    per_partition: dict[TopicPartition, int]

    @property
    def total(self) -> int:
        return sum(self.per_partition.values())


def lag(group: str, topics: Sequence[str]) -> Lag:
    """End offsets minus the group's committed offsets (0 where nothing is committed yet
    counts from the start: every topic here is read from its beginning)."""
    ends = end_offsets(topics)
    done = committed(group)
    return Lag({tp: end - done.get(tp, 0) for tp, end in ends.items()})


def consumed(app_id: str) -> int:
    """Messages of the events topic the group has committed (all partitions)."""
    topic = f"{app_id}-events"
    return sum(n for tp, n in committed(app_id).items() if tp.topic == topic)


def source_topics(app_id: str) -> list[str]:
    return [f"{app_id}-events", f"{app_id}-rep-events"]


def delete_topics(app_id: str) -> None:
    """Remove the scenario's topics, so a development broker does not fill up."""

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers())
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(f"{app_id}-")]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()

    _run(run())


def read_topic(topic: str, expected: int, timeout: float) -> list[tuple[bytes | None, bytes]]:
    """Every record of `topic` from the beginning, until `expected` or `timeout`."""

    async def run() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap_servers(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            max_partition_fetch_bytes=32 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        await consumer.start()
        out: list[tuple[bytes | None, bytes]] = []
        try:
            deadline = time.monotonic() + timeout
            while len(out) < expected and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    out.extend((r.key, r.value or b"") for r in records)
        finally:
            await consumer.stop()
        return out

    out: list[tuple[bytes | None, bytes]] = _run(run())
    return out


def create_topic(app_id: str, partitions: int = 4) -> str:
    topic = f"{app_id}-events"
    found = _run(ensure_topic(broker.bootstrap_servers(), topic, partitions))
    assert found == partitions, f"{topic} has {found} partitions"
    return topic


# ---------------------------------------------------------------- producing


@dataclass
class Sending:
    """What a `Producer` has done so far (read from other threads)."""

    total: int
    sent: int = 0  # lines acknowledged by the broker, in order
    resent: int = 0  # lines sent again after a failed chunk (the fold drops the repeats)
    failures: int = 0
    started: float = 0.0
    finished: float = 0.0
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Producer:
    """Sends lines (keyed by the contract) from a background thread, at most `rate` a
    second (None: as fast as it goes), and keeps trying through a broker outage.

    A chunk whose sends fail is sent again whole, after a pause, by a new producer: some
    of its messages may then be on the topic twice, as with any at-least-once producer.
    """

    CHUNK = 500

    def __init__(
        self, topic: str, lines: Sequence[bytes], rate: float | None, give_up_after: float = 180
    ) -> None:
        self.topic = topic
        self.lines = lines
        self.rate = rate
        self.give_up_after = give_up_after
        self.state = Sending(total=len(lines))
        self._thread = threading.Thread(target=self._main, name=f"producer-{topic}", daemon=True)

    def start(self) -> Producer:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> Sending:
        if not self.state.done.wait(timeout):
            raise AssertionError(
                f"the producer did not finish within {timeout:.0f}s "
                f"({self.state.sent:,} of {self.state.total:,} sent)"
            )
        if self.state.error is not None:
            raise AssertionError(f"the producer failed: {self.state.error!r}")
        return self.state

    def _main(self) -> None:
        try:
            asyncio.run(self._send_all())
        except BaseException as exc:  # handed to the test thread through `wait`
            self.state.error = exc
        finally:
            self.state.finished = time.monotonic()
            self.state.done.set()

    async def _send_all(self) -> None:
        state = self.state
        state.started = time.monotonic()
        producer = await self._connect()
        last_ok = time.monotonic()
        try:
            while state.sent < state.total:
                part = self.lines[state.sent : state.sent + self.CHUNK]
                try:
                    futures = [
                        await producer.send(self.topic, raw, key=key_for(raw)[0]) for raw in part
                    ]
                    await asyncio.gather(*futures)
                except Exception:
                    if time.monotonic() - last_ok > self.give_up_after:
                        raise
                    state.failures += 1
                    state.resent += len(part)
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    await asyncio.sleep(1.0)
                    producer = await self._connect()
                    continue
                last_ok = time.monotonic()
                state.sent += len(part)
                if self.rate:
                    ahead = state.started + state.sent / self.rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _connect(self) -> Any:
        deadline = time.monotonic() + self.give_up_after
        while True:
            producer = new_producer(broker.bootstrap_servers())
            try:
                await producer.start()
                return producer
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(1.0)


def produce(topic: str, lines: Sequence[bytes], timeout: float = 300) -> Sending:
    """Send every line now and wait for the broker's acknowledgements."""
    return Producer(topic, lines, None).start().wait(timeout)


# ---------------------------------------------------------------- memory


class RssSampler:
    """Samples the resident memory of whichever workers `pids` names, every `every` s."""

    def __init__(self, workers: Callable[[], Sequence[Worker]], every: float = 0.2) -> None:
        self.workers = workers
        self.every = every
        self.max_mib = 0.0
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for worker in self.workers():
                rss = worker.rss_mib()
                if rss is not None:
                    self.samples.append((time.monotonic(), rss))
                    self.max_mib = max(self.max_mib, rss)
            self._stop.wait(self.every)


# ---------------------------------------------------------------- convergence


def caught_up(app_id: str) -> bool:
    try:
        return lag(app_id, source_topics(app_id)).total == 0
    except MissingTopic:  # the worker has not created its internal topics yet
        return False


@dataclass(frozen=True)
class Converged:
    tally: Tally
    seconds: float  # until the states were exact (or the timeout)
    # After that, until the group had committed every offset (None: not within the wait).
    commits_s: float | None
    commit_wait: float

    def commit_note(self) -> str:
        if self.commits_s is None:
            return (
                f"group offsets NOT committed to the end {self.commit_wait:.0f} s after the "
                "states were exact"
            )
        return f"offsets committed to the end {self.commits_s:.1f} s after"


def converge(
    worker: Worker,
    expected: Snapshot,
    timeout: float,
    others: Sequence[Worker] = (),
    commit_wait: float = 60.0,
) -> Converged:
    """Wait until the worker's states equal the replay (polling its views), then up to
    `commit_wait` seconds more for the group to commit every offset.

    The states decide: they are what is compared, and once equal to the replay of the
    whole log nothing can change them (every later delivery is a duplicate). Committed
    offsets are reported apart: faust-streaming 0.15 can commit slowly after a restart
    (see the report), which costs a re-read at the next restart but loses nothing.
    """
    started = time.monotonic()
    deadline = started + timeout
    watched = [worker, *others]
    while True:
        for w in watched:
            if not w.alive():
                raise AssertionError(f"{w.name} died before the states converged\n{w.log_tail()}")
        result = tally(expected, worker.customers(), worker.reps())
        if result.exact or time.monotonic() >= deadline:
            break
        time.sleep(2.0)
    exact = time.monotonic()
    commits: float | None = None
    if result.exact:
        commit_deadline = exact + commit_wait
        while time.monotonic() < commit_deadline:
            if caught_up(worker.app_id):
                commits = time.monotonic() - exact
                break
            time.sleep(0.5)
    return Converged(result, exact - started, commits, commit_wait)


def wait_caught_up(worker: Worker, timeout: float, others: Sequence[Worker] = ()) -> None:
    """Wait until the group's lag on its source topics is 0; on timeout say where not."""
    try:
        wait_for(
            lambda: caught_up(worker.app_id),
            timeout,
            "the consumer lag to reach 0",
            [worker, *others],
            every=0.5,
        )
    except AssertionError as exc:
        try:
            per_partition = lag(worker.app_id, source_topics(worker.app_id)).per_partition
        except MissingTopic as missing:
            raise AssertionError(f"{missing}\n{exc}") from None
        behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in per_partition.items() if n}
        raise AssertionError(
            f"lag per partition: {behind}; {worker.name} progress: {worker.progress()}\n{exc}"
        ) from None
