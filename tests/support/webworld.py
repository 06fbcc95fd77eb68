"""A small sales team and its log, users and need-to-know file, for the web tests.

Times are relative to now, so "today" in the pages is today. The sensitive portrait
sections carry canary strings: a test that finds a canary anywhere it should not be has
found a leak.

    team north: reps r1 (user alice), r2 (bob), manager m1 (mona)
    team south: rep r3 (carol), manager m2 (sam)
    c1   r1's, standard, deep + extended canaries       alice and mona may read them
    c2   r1's, VVIP, deep canary, need-to-know [mona]  alice may NOT read it
    c3   r2's
    c4   r3's (south)
    c5   suspended to the pool after 12 contacts, deep canary
    c6.. r1's, r2's, r3's fillers, due for a call
    c90..c95  unowned leads in the pool
"""

from __future__ import annotations

import asyncio
import http.client
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from streams.core.contract import validate
from streams.core.log import append_events
from web.users import hash_password

CANARY_DEEP = "CANARY-deep-7f3a91"
CANARY_EXT = "CANARY-extended-c04e"
CANARY_VVIP = "CANARY-vvip-55d2e8"
CANARY_POOL = "CANARY-pool-9b1c"
POOL_EXTRA = ("c90", "c91", "c92", "c93", "c94", "c95")
CANARIES = (CANARY_DEEP, CANARY_EXT, CANARY_VVIP, CANARY_POOL)
SECRET = "test-secret-" + "x" * 40

USERS = {
    "alice": ("rep", "r1"),
    "bob": ("rep", "r2"),
    "carol": ("rep", "r3"),
    "mona": ("manager", "m1"),
    "sam": ("manager", "m2"),
    "ann": ("analyst", None),
    "adam": ("admin", None),
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class LogWriter:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.events: list[dict[str, Any]] = []

    def add(
        self,
        kind: str,
        days_ago: float,
        customer: str | None,
        rep: str | None,
        **payload: Any,
    ) -> None:
        event: dict[str, Any] = {
            "event_id": f"t{len(self.events):05d}",
            "type": kind,
            "occurred_at": iso(self.now - timedelta(days=days_ago)),
            "rep_id": rep,
            "payload": payload,
        }
        if customer is not None:
            event["customer_id"] = customer
        self.events.append(event)


def team_log(now: datetime, fillers: int = 6) -> list[dict[str, Any]]:
    w = LogWriter(now)
    for rep, team, role in (
        ("r1", "north", "rep"),
        ("r2", "north", "rep"),
        ("m1", "north", "manager"),
        ("r3", "south", "rep"),
        ("m2", "south", "manager"),
    ):
        w.add("rep_joined", 400, None, rep, role=role, team=team, name=rep.upper())
    for cid, rep in (("c1", "r1"), ("c2", "r1"), ("c3", "r2"), ("c4", "r3")):
        w.add("lead_created", 120, cid, rep, source="referral", industry="packaging", size="large")
        for k in range(4):
            w.add("contact_made", 100 - 20 * k, cid, rep, channel="phone")
        w.add("portrait_updated", 90, cid, rep, section="basic", fields={"company": f"{cid} Ltd"})
    w.add("portrait_updated", 50, "c1", "r1", section="deep", fields={"buyer_plan": CANARY_DEEP})
    w.add("portrait_updated", 45, "c1", "r1", section="extended", fields={"family": CANARY_EXT})
    w.add("importance_set", 80, "c2", "m1", tier="vvip", never_suspend=True)
    w.add("portrait_updated", 40, "c2", "r1", section="deep", fields={"board": CANARY_VVIP})
    w.add("need_identified", 30, "c3", "r2", clear_need=True, expected_value=50000)
    w.add("lead_created", 200, "c5", "r2", source="cold_list", industry="print")
    for k in range(12):
        w.add("contact_made", 190 - 10 * k, "c5", "r2", channel="wechat")
    w.add("portrait_updated", 70, "c5", "r2", section="deep", fields={"note": CANARY_POOL})
    w.add("customer_suspended", 60, "c5", "r2", reason="timing")
    for cid in POOL_EXTRA:  # unowned leads: the public pool, for claims and assignments
        w.add("lead_created", 20, cid, None, source="trade_show", potential_value=40000)
    for k in range(fillers):
        cid, rep = f"c{6 + k}", ("r1", "r2", "r3")[k % 3]
        w.add("lead_created", 90, cid, rep, source="inbound", potential_value=10000 * (k + 1))
        w.add("contact_made", 30 + k, cid, rep, channel="email")
    return w.events


@dataclass
class World:
    root: Path
    log: Path
    users_file: Path
    access_file: Path
    audit_log: Path
    passwords: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)


def make_world(root: Path, fillers: int = 6) -> World:
    now = datetime.now(UTC).replace(microsecond=0)
    log = root / "events.jsonl"
    append_events(log, [validate(e) for e in team_log(now, fillers)])
    passwords = {u: secrets.token_urlsafe(12) for u in USERS}
    lines = []
    for user, (role, rep) in USERS.items():
        lines.append(f'[users.{user}]\nrole = "{role}"')
        if rep:
            lines.append(f'rep_id = "{rep}"')
        lines.append(f'password = "{hash_password(passwords[user])}"\n')
    users_file = root / "users.toml"
    users_file.write_text("\n".join(lines), encoding="utf-8")
    access_file = root / "access.toml"
    access_file.write_text('[need_to_know]\nc2 = ["mona"]\n', encoding="utf-8")
    world = World(root, log, users_file, access_file, root / "audit.jsonl", passwords)
    world.env = {"CLOSECAST_SECRET": SECRET}
    return world


# ---------------------------------------------------------------- a server in a thread


class LiveServer:
    """The real app on a loopback port, its event loop in a background thread."""

    def __init__(self, world: World, refresh_seconds: float = 0.0, clock: str = "now") -> None:
        self.world = world
        self.refresh_seconds = refresh_seconds
        self.clock = clock  # "now" or "log", as `closecast serve --clock`
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.app: Any = None

    def start(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("server did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._setup())
        except BaseException as exc:  # handed to the test thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    async def _setup(self) -> None:
        from aiohttp import web

        from features.policy import Policy
        from models.scoring import Scorer
        from web.app import AccessLog, create_app
        from web.ledger import Ledger, wall_clock
        from web.settings import Settings
        from web.source import EmbeddedSource

        w = self.world
        settings = Settings.from_env(
            w.env, users_file=w.users_file, access_file=w.access_file, audit_log=w.audit_log
        )
        policy = Policy()
        scorer = Scorer(None, policy)
        ledger = Ledger(scorer, policy, clock=wall_clock if self.clock == "now" else None)
        source = EmbeddedSource(w.log, ledger)
        self.app = create_app(
            settings, source, scorer, policy, refresh_seconds=self.refresh_seconds
        )
        self.runner = web.AppRunner(self.app, access_log_class=AccessLog)
        await self.runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()

    def call(self, fn: Any) -> Any:
        """Run `fn()` on the server's loop (to read its state safely) and return the result."""

        async def wrapped() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http_request(
    port: int,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
    source: str | None = None,
) -> Reply:
    """One request to the server on loopback `port`: `body` goes as JSON, `raw` as is,
    `token` as a bearer token; `source` is the loopback address to send from (any of
    127.0.0.0/8), for tests of limits per address."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0) if source else None
    )
    send_headers = dict(headers or {})
    data = raw
    if body is not None:
        data = orjson.dumps(body)
        send_headers.setdefault("Content-Type", "application/json")
    if token is not None:
        send_headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=send_headers)
        response = conn.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def request(
    server: LiveServer,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return http_request(server.port, method, path, token, body, raw, headers)


def login(server: LiveServer, user: str) -> str:
    reply = request(
        server, "POST", "/api/login", body={"user": user, "password": server.world.passwords[user]}
    )
    assert reply.status == 200, reply.text
    token: str = reply.json()["token"]
    return token


def tokens(server: LiveServer) -> Iterator[tuple[str, str]]:
    for user in USERS:
        yield user, login(server, user)


SCREENSHOTS = Path(__file__).resolve().parent / "out" / "screenshots"


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot of a browser test's page (tests/out is git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
