"""A `closecast worker` run as a real subprocess, and ways to ask it and the broker things.

Shared by the live tests (tests/live), the reliability suite (tests/reliability) and the
stream benchmark (bench/bench_stream.py). Everything is on loopback and every wait is
bounded: a run that hangs fails with the worker's log tail instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tools import broker

REPO = Path(__file__).resolve().parents[2]
TOKEN = "worker-test-token"
# A killed worker stays in its consumer group until its session times out; a short one
# lets the restarted (or surviving) worker take its partitions over quickly.
SESSION_TIMEOUT_S = "4"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fresh_app_id(prefix: str = "cc-live") -> str:
    """A new app id: its consumer group, topics and changelogs are the caller's alone."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def cli_env(app_id: str, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CLOSECAST_API_TOKEN", None)
    if token is not None:
        env["CLOSECAST_API_TOKEN"] = token
    env.update(
        CLOSECAST_APP_ID=app_id,
        CLOSECAST_SESSION_TIMEOUT=SESSION_TIMEOUT_S,
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


def closecast(app_id: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`closecast ARGS...` as a subprocess under the app's settings."""
    return subprocess.run(
        [sys.executable, "-m", "closecast", *args],
        cwd=REPO,
        env=cli_env(app_id),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def produce(app_id: str, *files: Path) -> str:
    """`closecast produce FILE...` into the app's events topic; return its output."""
    out = closecast(app_id, "produce", *map(str, files))
    assert out.returncode == 0, out.stderr
    return out.stdout


class WorkerProcess:
    """One `closecast worker` process; restartable, with the same data dir and web port."""

    def __init__(
        self,
        app_id: str,
        data_dir: Path,
        log_path: Path,
        token: str | None = TOKEN,
        name: str = "worker",
        model_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.app_id = app_id
        self.token = token
        self.data_dir = data_dir
        self.log_path = log_path
        self.name = name
        self.model_dir = model_dir
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Self:
        command = [
            *(sys.executable, "-m", "closecast", "worker"),
            *("--web-port", str(self.port), "--data-dir", str(self.data_dir)),
            *("--loglevel", "info"),
        ]
        if self.model_dir is not None:
            command += ["--model-dir", str(self.model_dir)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts + 1} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                command,
                cwd=REPO,
                env=cli_env(self.app_id, self.token, **self.extra_env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        wait_for(self.answers, 90, f"{self.name}'s web server", self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def answers(self) -> bool:
        try:
            self.status("/progress/", None)
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
        """GET a view as JSON; None if the worker does not answer (yet) or has no such
        thing yet (404). Any other status fails the caller, with the worker's log."""
        try:
            status, body = self.status(path, self.token)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        if status == 404:
            return None
        assert status == 200, f"GET {path}: {status} {body[:300]!r}\n{self.log_tail()}"
        return orjson.loads(body)

    def progress(self) -> dict[str, int]:
        return self.get("/progress/") or {}

    def customers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        after = ""
        for _ in range(10_000):  # pages of 5,000: far more than any log here
            page = self.get(f"/customers/?limit=5000&after={after}")
            assert page is not None, self.log_tail()
            out.update(page["customers"])
            if not page["next"]:
                return out
            after = page["next"]
        raise AssertionError("the customer pages never ended")

    def reps(self) -> dict[str, Any]:
        reps = self.get("/reps/")
        assert reps is not None, self.log_tail()
        return dict(reps["reps"])

    def score(self, customer_id: str) -> dict[str, Any] | None:
        score: dict[str, Any] | None = self.get(f"/customers/{customer_id}/score/")
        return score


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    workers: WorkerProcess | Sequence[WorkerProcess] = (),
    every: float = 0.25,
) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds, or
    at once if a worker that should be running died."""
    watched = [workers] if isinstance(workers, WorkerProcess) else list(workers)
    deadline = time.monotonic() + timeout
    while True:
        for worker in watched:
            if not worker.alive():
                raise AssertionError(f"{worker.name} died waiting for {what}:\n{worker.log_tail()}")
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            tails = "\n".join(w.log_tail() for w in watched)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
        time.sleep(every)


# ---------------------------------------------------------------- the broker's view


def run_async(coro: Any) -> Any:
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

    out: dict[TopicPartition, int] = run_async(run())
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

    out: dict[TopicPartition, int] = run_async(run())
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

    run_async(run())


async def consume_topic(
    topic: str, expected: int, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes]]:
    """Every record of `topic` from the beginning, until `expected` or `timeout`."""
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


def read_topic(
    topic: str, expected: int, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes]]:
    """`consume_topic`, from outside an event loop."""
    out: list[tuple[bytes | None, bytes]] = run_async(consume_topic(topic, expected, timeout))
    return out
