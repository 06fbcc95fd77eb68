"""A `closecast worker` run as a real subprocess, and ways to ask it and the broker things."""

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
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams import broker

REPO = Path(__file__).resolve().parents[2]
TOKEN = "live-test-token"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fresh_app_id(prefix: str = "cc-live") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def cli_env(app_id: str, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CLOSECAST_API_TOKEN", None)
    if token is not None:
        env["CLOSECAST_API_TOKEN"] = token
    env.update(
        CLOSECAST_APP_ID=app_id,
        # A killed worker stays in the consumer group until its session times out; a
        # short one lets its successor take over quickly.
        CLOSECAST_SESSION_TIMEOUT="4",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


def produce(app_id: str, *files: Path) -> str:
    """`closecast produce FILE...` into the app's events topic; return its output."""
    out = subprocess.run(
        [sys.executable, "-m", "closecast", "produce", *map(str, files)],
        cwd=REPO,
        env=cli_env(app_id),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


class WorkerProcess:
    def __init__(
        self, app_id: str, data_dir: Path, log_path: Path, token: str | None = TOKEN
    ) -> None:
        self.app_id = app_id
        self.token = token
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
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
            ],
            cwd=REPO,
            env=cli_env(self.app_id, self.token),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self.answers, 90, "the worker's web server", self)
        return self

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

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def get(self, path: str, token: str | None = TOKEN) -> Any:
        """GET a view as JSON; None if the worker does not answer (yet)."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return orjson.loads(reply.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def status(self, path: str, token: str | None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def progress(self) -> dict[str, int]:
        return self.get("/progress/") or {}

    def customers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        after = ""
        while True:
            page = self.get(f"/customers/?limit=5000&after={after}")
            assert page is not None, self.log_tail()
            out.update(page["customers"])
            if not page["next"]:
                return out
            after = page["next"]

    def reps(self) -> dict[str, Any]:
        reps = self.get("/reps/")
        assert reps is not None, self.log_tail()
        return dict(reps["reps"])


def wait_for(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    worker: WorkerProcess | None = None,
    every: float = 0.5,
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker is not None and not worker.alive():
            raise AssertionError(f"the worker died waiting for {what}:\n{worker.log_tail()}")
        value = check()
        if value:
            return value
        time.sleep(every)
    tail = worker.log_tail() if worker is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


def read_topic(
    topic: str, expected: int, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes]]:
    """At least `expected` records of `topic`, from the beginning, as (key, value)."""

    async def run() -> list[tuple[bytes | None, bytes]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap_servers(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await consumer.start()
        out: list[tuple[bytes | None, bytes]] = []
        try:
            deadline = time.monotonic() + timeout
            while len(out) < expected and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    out.extend((r.key, r.value) for r in records)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def delete_topics(app_id: str) -> None:
    """Remove every topic of `app_id` (its events, internal topics and changelogs), so a
    long-lived development broker does not pile up partitions run after run."""

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers())
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(f"{app_id}-")]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()

    asyncio.run(run())


def lag(app_id: str, topic: str) -> int:
    """Messages of `topic` past the app's committed offsets (its consumer group)."""

    async def run() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers())
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap_servers(), group_id=None)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(app_id)
            described = await admin.describe_topics([topic])
            tps = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
            assert tps, f"{topic} has no partitions"
            ends = await consumer.end_offsets(tps)
            total = 0
            for tp in tps:
                meta = committed.get(tp)
                total += ends[tp] - (meta.offset if meta is not None and meta.offset >= 0 else 0)
            return total
        finally:
            await consumer.stop()
            await admin.close()

    return asyncio.run(run())
