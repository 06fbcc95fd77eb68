"""Attacks 3, 5 and 6: parallel guesses past the lockout, strangers locking a user out,
the open redirect after login, and logout forgotten by a restart."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from tests.security.conftest import Start
from tests.support.webworld import LiveServer, Reply, http_request, login, request


def _try(server: LiveServer, user: str, password: str, source: str | None = None) -> Reply:
    return http_request(
        server.port,
        "POST",
        "/api/login",
        body={"user": user, "password": password},
        source=source,
        timeout=60,
    )


@pytest.mark.parametrize("guesses", [40, 200])
def test_parallel_guesses_cannot_race_the_limit(start: Start, guesses: int) -> None:
    server = start()
    with ThreadPoolExecutor(max_workers=min(guesses, 64)) as pool:
        replies = list(pool.map(lambda _: _try(server, "mona", "wrong guess"), range(guesses)))
    counts = Counter(r.status for r in replies)
    assert set(counts) <= {401, 429}, counts
    assert counts[401] <= 5, counts  # five tries per (user, address) per minute
    assert counts[429] >= guesses - 5
    # The real user, from her own address, is not locked out by them.
    good = _try(server, "mona", server.world.passwords["mona"], source="127.0.0.2")
    assert good.status == 200, good.text


def test_strangers_cannot_lock_the_user_out(start: Start) -> None:
    server = start(CLOSECAST_LOGIN_PER_ADDRESS="10/minute", CLOSECAST_LOGIN_PER_USER="6/hour")
    password = server.world.passwords["mona"]
    assert _try(server, "mona", password, source="127.0.0.2").status == 200  # her address
    # One address spraying many users is stopped at its own limit ...
    sprayed = [
        _try(server, user, "nope", source="127.0.0.3").status
        for user in ("ann", "bob", "carol", "sam", "adam", "alice") * 3
    ]
    assert sprayed.count(401) == 10 and sprayed[-1] == 429
    # ... many addresses guessing mona are capped together ...
    botnet = [_try(server, "mona", "nope", source=f"127.0.1.{k}").status for k in range(1, 10)]
    assert botnet.count(401) == 6 and botnet[-1] == 429
    assert _try(server, "mona", password, source="127.0.1.99").status == 429  # a new address
    # ... and mona, from where she logged in before, still gets in.
    assert _try(server, "mona", password, source="127.0.0.2").status == 200
    audit = request(server, "GET", "/api/audit?limit=10000", login(server, "adam")).json()
    logins = Counter((r["user"], r["outcome"]) for r in audit["records"] if r["action"] == "login")
    assert logins[("mona", "refused")] == 10  # 6 wrong, 3 over the cap, 1 new address
    assert logins[("mona", "allowed")] == 2


def test_a_logged_out_token_stays_dead_after_a_restart(start: Start) -> None:
    server = start()
    out = login(server, "alice")
    kept = login(server, "alice")
    assert request(server, "POST", "/api/logout", out).status == 200
    assert request(server, "GET", "/api/me", out).status == 401
    server.stop()
    again = start()
    assert request(again, "GET", "/api/me", out).status == 401
    assert request(again, "GET", "/api/me", kept).status == 200


EVIL = [
    "/\t/evil.example.org/phish",
    "/%09/evil.example.org/phish",
    "//evil.example.org/phish",
    "/\\evil.example.org/phish",
    "\\\\evil.example.org",
    "https://evil.example.org/",
    "javascript:alert(1)",
    "/\n/evil.example.org",
    "/\r\n//evil.example.org",
    " //evil.example.org",
    "evil.example.org",
]


@pytest.mark.parametrize("target", EVIL)
def test_after_login_only_a_same_origin_path(start: Start, target: str) -> None:
    server = start()
    page = http_request(server.port, "GET", "/login?" + urlencode({"next": target}))
    assert page.status == 200
    assert "evil.example.org" not in page.text and "javascript" not in page.text
    reply = _form_login(server, target)
    assert reply.status == 303
    assert reply.headers["location"] == "/"


def test_a_local_next_is_kept(start: Start) -> None:
    server = start()
    assert _form_login(server, "/calls?rep=r1").headers["location"] == "/calls?rep=r1"


def _form_login(server: LiveServer, target: str) -> Reply:
    form = urlencode({"user": "alice", "password": server.world.passwords["alice"], "next": target})
    return http_request(
        server.port,
        "POST",
        "/login",
        raw=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
