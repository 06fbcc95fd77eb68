"""`closecast serve` as a real subprocess, and raw-socket clients to abuse it with."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.support.webworld import http_request
from tests.support.workerproc import (
    REPO,
    free_port,
    wait_for,
)


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return orjson.loads(self.body)


class Server:
    def __init__(self, log: Path, users: Path, access: Path, audit: Path, secret: str) -> None:
        self.port = free_port()
        self.log = log
        self.output = log.parent / "serve.out"
        self.command = [
            sys.executable,
            "-m",
            "closecast",
            "serve",
            "--log",
            str(log),
            "--users",
            str(users),
            "--access",
            str(access),
            "--audit-log",
            str(audit),
            "--port",
            str(self.port),
            "--heuristic-only",
            "--refresh-seconds",
            "0",
        ]
        self.env = {**os.environ, "CLOSECAST_SECRET": secret, "PYTHONPATH": str(REPO)}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        with self.output.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command, cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_for(self._healthy, 60, "closecast serve to answer /health")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"closecast serve exited:\n{self.tail()}")
        try:
            return self.request("GET", "/health").status == 200
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no output)"

    def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Reply:
        started = time.perf_counter()
        reply = http_request(self.port, method, path, token, body, raw, headers, timeout)
        return Reply(reply.status, reply.body, time.perf_counter() - started)

    def login(self, user: str, password: str) -> str:
        reply = self.request("POST", "/api/login", body={"user": user, "password": password})
        assert reply.status == 200, reply.body
        token: str = reply.json()["token"]
        return token


@dataclass
class SlowClients:
    """`n` connections that send one request's header bytes one at a time, spread over
    `seconds`, all in step (one thread, so the test machine is not the bottleneck)."""

    port: int
    n: int
    seconds: float
    request: bytes
    statuses: list[int | None] = field(default_factory=list)
    closed_early: int = 0
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def start(self) -> SlowClients:
        self._thread.start()
        return self

    def join(self, timeout: float) -> SlowClients:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the slow clients did not finish within {timeout:.0f}s")
        if self.error is not None:
            raise AssertionError(f"the slow clients failed: {self.error!r}")
        return self

    def _run(self) -> None:
        try:
            self._attack()
        except BaseException as exc:  # handed to the test thread through `join`
            self.error = exc

    def _attack(self) -> None:
        socks: list[socket.socket | None] = [
            socket.create_connection(("127.0.0.1", self.port), timeout=10) for _ in range(self.n)
        ]
        pause = self.seconds / len(self.request)
        for byte in self.request:
            for i, sock in enumerate(socks):
                if sock is None:
                    continue
                try:
                    sock.sendall(bytes([byte]))
                except OSError:  # the server hung up on it: it did not get in either
                    sock.close()
                    socks[i] = None
                    self.closed_early += 1
            time.sleep(pause)
        for left in socks:
            if left is None:
                self.statuses.append(None)
                continue
            try:
                head = left.recv(64)
                self.statuses.append(int(head.split()[1]) if head.startswith(b"HTTP/") else None)
            except OSError:
                self.statuses.append(None)
            finally:
                left.close()
