"""Load test of the web layer: the call-list endpoint at a steady 200 requests per second.

100 reps and 100,000 customers (a generated log: each customer a lead with 0-3 contacts
over the last year), served by `closecast serve` in its own process on loopback. An
open-loop client sends requests on a fixed schedule (not "as fast as answers come", which
would hide queueing) to random reps' call lists, then to `/health` at the same rate: the
baseline that shows what the server, the client and this machine cost with no work.
Target: p99 under 100 ms at 200 requests per second.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
import orjson

from web.sessions import SessionSigner

REPS: Final = 100
CUSTOMERS: Final = 100_000
RATE: Final = 200.0  # requests per second
SECONDS: Final = 15.0
STARTUP_TIMEOUT: Final = 600.0


def write_log(path: Path, seed: int = 11) -> int:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    count = 0

    def at(days: float) -> str:
        return (now - timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")

    with path.open("wb") as out:
        for r in range(REPS):
            out.write(
                orjson.dumps(
                    {
                        "event_id": f"j{r}",
                        "type": "rep_joined",
                        "occurred_at": at(700),
                        "rep_id": f"r{r:03d}",
                        "payload": {"team": f"t{r % 5}"},
                    }
                )
                + b"\n"
            )
        for c in range(CUSTOMERS):
            cid, rep = f"c{c:06d}", f"r{c % REPS:03d}"
            start = rng.uniform(30, 365)
            events = [("lead_created", start, {"source": "inbound", "potential_value": 40000})]
            day = start
            for _ in range(rng.randrange(4)):
                day = max(0.5, day - rng.uniform(5, 40))
                events.append(("contact_made", day, {"channel": "phone"}))
            for kind, days, payload in events:
                count += 1
                out.write(
                    orjson.dumps(
                        {
                            "event_id": f"e{count}",
                            "type": kind,
                            "occurred_at": at(days),
                            "customer_id": cid,
                            "rep_id": rep,
                            "payload": payload,
                        }
                    )
                    + b"\n"
                )
    return count + REPS


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> float:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < STARTUP_TIMEOUT:
            if proc.poll() is not None:
                raise RuntimeError(f"closecast serve exited with {proc.returncode}")
            try:
                async with session.get(f"{url}/health") as reply:
                    if reply.status == 200:
                        return time.perf_counter() - started
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("closecast serve did not come up")


async def _steady(
    session: aiohttp.ClientSession, urls: list[tuple[str, dict[str, str]]]
) -> tuple[float, list[float], int]:
    """Send len(urls) requests at RATE per second; return (achieved rps, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(k: int, url: str, headers: dict[str, str]) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, start + k / RATE - loop.time()))
        sent = time.perf_counter()
        try:
            async with session.get(url, headers=headers) as reply:
                await reply.read()
                if reply.status != 200:
                    errors += 1
        except (aiohttp.ClientError, TimeoutError):
            errors += 1
        latencies.append((time.perf_counter() - sent) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(one(k, u, h) for k, (u, h) in enumerate(urls)))
    elapsed = time.perf_counter() - began
    return len(urls) / elapsed, latencies, errors


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(url: str, secret: bytes) -> list[dict[str, Any]]:
    signer = SessionSigner(secret, 8)
    headers = {
        f"r{r:03d}": {"Authorization": f"Bearer {signer.issue(f'u{r:03d}')[0]}"}
        for r in range(REPS)
    }
    rng = random.Random(5)
    n = int(RATE * SECONDS)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        cold = []
        for h in headers.values():  # each list built once, as on a morning
            t = time.perf_counter()
            async with session.get(f"{url}/api/calllist", headers=h) as reply:
                body = await reply.json()
                assert reply.status == 200 and body["lines"], body
            cold.append((time.perf_counter() - t) * 1000)
        calls = [(f"{url}/api/calllist", headers[f"r{rng.randrange(REPS):03d}"]) for _ in range(n)]
        rps, lat, errors = await _steady(session, calls)
        health: list[tuple[str, dict[str, str]]] = [(f"{url}/health", {}) for _ in range(n)]
        base_rps, base_lat, base_errors = await _steady(session, health)
    common = {"reps": REPS, "customers": CUSTOMERS, "target_rps": RATE, "requests": n}
    return [
        {
            "name": "web_calllist_p99_latency",
            "value": round(_pct(lat, 0.99), 2),
            "unit": "ms",
            "baseline_name": "web_health_p99_latency",
            "baseline_value": round(_pct(base_lat, 0.99), 2),
            "p50_ms": round(_pct(lat, 0.5), 2),
            "max_ms": round(max(lat), 2),
            "errors": errors + base_errors,
            "target": "p99 < 100 ms",
            **common,
        },
        {
            "name": "web_calllist_rps",
            "value": round(rps, 1),
            "unit": "req/s",
            "baseline_name": "web_health_rps",
            "baseline_value": round(base_rps, 1),
            **common,
        },
        {
            "name": "web_calllist_cold_build",
            "value": round(sum(cold) / len(cold), 2),
            "unit": "ms (mean, first request per rep)",
            "baseline_name": "web_health_p50_latency",
            "baseline_value": round(_pct(base_lat, 0.5), 2),
            **common,
        },
    ]


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="closecast-bench-web-") as tmp:
        root = Path(tmp)
        log = root / "events.jsonl"
        t = time.perf_counter()
        events = write_log(log)
        generated = time.perf_counter() - t
        users = root / "users.toml"
        # Token-only users: the bench signs its own sessions with the server's secret.
        users.write_text(
            "".join(f'[users.u{r:03d}]\nrole = "rep"\nrep_id = "r{r:03d}"\n' for r in range(REPS)),
            encoding="utf-8",
        )
        secret = secrets.token_hex(32)
        port = _free_port()
        env = {**os.environ, "CLOSECAST_SECRET": secret}
        cmd = [
            sys.executable, "-m", "closecast", "serve", "--log", str(log), "--users", str(users),
            "--audit-log", str(root / "audit.jsonl"), "--port", str(port),
            "--heuristic-only", "--refresh-seconds", "0",
        ]  # fmt: skip
        # The server's output (its access log too) goes to a file: a pipe nobody reads
        # fills up and stalls the server.
        server_log = (root / "serve.log").open("wb")
        proc = subprocess.Popen(cmd, env=env, stdout=server_log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            startup = asyncio.run(_wait_up(url, proc))
            records = asyncio.run(_measure(url, secret.encode()))
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            server_log.close()
        for record in records:
            record["log_events"] = events
            record["generate_s"] = round(generated, 1)
            record["server_startup_s"] = round(startup, 1)
        return records


if __name__ == "__main__":
    for record in run():
        print(orjson.dumps(record).decode())
