"""Attacks 7 and 8: missing protections (caching, security headers), notes not treated as
sensitive, a server path in /api/me, 403 against 404, and an audit log of reads only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from streams.core.contract import validate
from streams.core.log import append_events
from tests.security.conftest import Start
from tests.support.webworld import World, http_request, iso, login, request

NOTE_POOL = "CANARY-note-pool-41aa"
NOTE_OWN = "CANARY-note-own-7d02"
NOTE_BAD = "CANARY-note-rejected-e9"
TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def _headers_ok(headers: dict[str, str], path: str) -> None:
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
    assert "unsafe-inline" not in csp, path
    assert headers.get("x-content-type-options") == "nosniff", path
    assert headers.get("x-frame-options") == "DENY", path
    assert headers.get("referrer-policy") == "no-referrer", path


def test_every_answer_has_the_headers_and_customer_data_is_never_cached(start: Start) -> None:
    server = start()
    alice = login(server, "alice")
    for path in (
        "/api/me",
        "/api/calllist",
        "/api/customers/c1",
        "/api/customers/c1/sensitive",
        "/api/search?q=ltd",
        "/api/pool",
        "/api/customers/c999",  # an error
    ):
        reply = request(server, "GET", path, alice)
        _headers_ok(reply.headers, path)
        assert reply.headers.get("cache-control") == "no-store", path
    cookie, _ = _cookie(server, "alice")
    for path in ("/calls", "/customers/c1", "/customers/c1/sensitive", "/pool", "/", "/nope"):
        reply = http_request(server.port, "GET", path, headers={"Cookie": cookie})
        _headers_ok(reply.headers, path)
        assert reply.headers.get("cache-control") == "no-store", path
    for path in ("/login", "/calls"):  # anonymous: the form, and the redirect to it
        reply = http_request(server.port, "GET", path)
        _headers_ok(reply.headers, path)
    static = http_request(server.port, "GET", "/static/site.css")
    assert static.status == 200
    _headers_ok(static.headers, "/static/site.css")


def test_the_templates_need_no_inline_script_or_style() -> None:
    # What lets the policy forbid inline code: nothing in the pages uses it.
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", text, re.I), template.name


def _cookie(server: Any, user: str) -> tuple[str, str]:
    from urllib.parse import urlencode

    form = urlencode({"user": user, "password": server.world.passwords[user], "next": "/"})
    reply = http_request(
        server.port,
        "POST",
        "/login",
        raw=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    cookie = reply.headers["set-cookie"].split(";")[0]
    me = http_request(server.port, "GET", "/api/me", headers={"Cookie": cookie}).json()
    return cookie, me["csrf"]


def test_me_names_no_server_path(start: Start) -> None:
    server = start()
    for user in ("alice", "mona", "ann", "adam"):
        body = request(server, "GET", "/api/me", login(server, user)).text
        assert str(server.world.root) not in body and "events.jsonl" not in body, user
    adam = login(server, "adam")
    for path in ("/api/audit", "/api/access"):
        assert str(server.world.root) not in request(server, "GET", path, adam).text, path


def test_not_yours_and_does_not_exist_get_one_answer(start: Start) -> None:
    server = start()
    bob = login(server, "bob")  # c1 is alice's; c999 exists nowhere
    for suffix, method, body in (
        ("", "GET", None),
        ("/sensitive", "GET", None),
        ("/events", "POST", {"type": "contact_made", "payload": {"channel": "phone"}}),
        ("/claim", "POST", None),
    ):
        theirs = request(server, method, f"/api/customers/c1{suffix}", bob, body=body)
        nowhere = request(server, method, f"/api/customers/c999{suffix}", bob, body=body)
        assert theirs.status == nowhere.status == 404, suffix
        assert theirs.json()["error"].replace("c1", "X") == nowhere.json()["error"].replace(
            "c999", "X"
        )
    assert request(server, "GET", "/api/calllist?rep=r1", bob).status == 404
    assert request(server, "GET", "/api/calllist?rep=r404", bob).status == 404


def _note_on_the_pool_customer(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    when = iso(datetime.now(UTC) - timedelta(days=65))
    event = {
        "event_id": "note-c5",
        "type": "contact_made",
        "occurred_at": when,
        "customer_id": "c5",
        "rep_id": "r2",
        "payload": {"channel": "phone", "note": NOTE_POOL},
    }
    append_events(world.log, [validate(event)])


def test_notes_are_as_sensitive_as_deep_sections(fresh_world: World, start: Start) -> None:
    _note_on_the_pool_customer(fresh_world)
    server = start()
    alice = login(server, "alice")
    body = {"type": "contact_made", "payload": {"channel": "visit", "note": NOTE_OWN}}
    assert request(server, "POST", "/api/customers/c1/events", alice, body=body).status == 201
    bad = {"type": "contact_made", "payload": {"channel": "pigeon", "note": NOTE_BAD}}
    refused = request(server, "POST", "/api/customers/c1/events", alice, body=bad)
    assert refused.status == 422 and NOTE_BAD not in refused.text
    cookie, _ = _cookie(server, "carol")
    seen = [
        request(server, "GET", "/api/customers/c5", alice).text,  # pool history
        request(server, "GET", "/api/pool", alice).text,
        http_request(server.port, "GET", "/customers/c5", headers={"Cookie": cookie}).text,
        request(server, "GET", "/api/customers/c1", alice).text,  # own history
        request(server, "GET", "/api/search?q=canary", alice).text,
        request(server, "GET", "/api/dataset.csv", login(server, "ann")).text,
    ]
    for text in seen:
        assert NOTE_POOL not in text and NOTE_OWN not in text
    history = request(server, "GET", "/api/customers/c5", alice).json()["history"]
    assert any(h["details"].get("note") == "restricted" for h in history)
    # The owner reads her notes through the audited sensitive view.
    own = request(server, "GET", "/api/customers/c1/sensitive", alice).json()
    assert [n["note"] for n in own["notes"]] == [NOTE_OWN]
    # Nor do the dead letters, the audit log or the event log's neighbours hold them.
    dead = fresh_world.log.with_name(fresh_world.log.name + ".rejected.jsonl").read_text()
    assert "pigeon" in dead and NOTE_BAD not in dead
    assert NOTE_POOL not in fresh_world.audit_log.read_text()


def test_the_audit_log_covers_what_grants_or_moves_access_or_data(start: Start) -> None:
    server = start()
    assert (
        request(server, "POST", "/api/login", body={"user": "mona", "password": "x"}).status == 401
    )
    alice, mona = login(server, "alice"), login(server, "mona")
    assert request(server, "POST", "/api/customers/c90/claim", alice).status == 201
    accept = {"assignments": [{"customer_id": "c91", "rep_id": "r2"}]}
    assert request(server, "POST", "/api/pool/assignments", mona, body=accept).status == 201
    key = {"type": "importance_set", "payload": {"tier": "key"}}
    assert request(server, "POST", "/api/customers/c3/events", mona, body=key).status == 201
    assert request(server, "GET", "/api/dataset.csv", login(server, "ann")).status == 200
    assert request(server, "GET", "/api/customers/c1/sensitive", alice).status == 200
    assert request(server, "POST", "/api/logout", alice).status == 200
    audit = request(server, "GET", "/api/audit?limit=10000", login(server, "adam")).json()
    assert audit["chain_intact"] is True
    got = {(r["action"], r["user"], r["outcome"]) for r in audit["records"]}
    assert {
        ("login", "mona", "refused"),
        ("login", "mona", "allowed"),
        ("claim", "alice", "allowed"),
        ("assign", "mona", "allowed"),
        ("set_importance", "mona", "allowed"),
        ("export", "ann", "allowed"),
        ("read_sensitive", "alice", "allowed"),
        ("logout", "alice", "allowed"),
    } <= got
    raw = server.world.audit_log.read_bytes()
    assert all(orjson.loads(line)["prev"] for line in raw.splitlines())


def test_a_rejected_notes_text_never_reaches_a_dead_letter_store() -> None:
    from streams.core.deadletter import REDACTED, reject

    # The replay's and the worker's dead letters (streams.core.deadletter), not only the web's.
    raw = orjson.dumps(
        {
            "event_id": "x1",
            "type": "contact_made",
            "occurred_at": "2026-01-05T09:00:00Z",
            "customer_id": "c1",
            "rep_id": "r1",
            "payload": {"channel": "pigeon", "note": NOTE_BAD},
        }
    )
    letter = reject("log.jsonl", 7, raw, "payload.channel: must be one of …")
    assert NOTE_BAD not in letter.raw and REDACTED in letter.raw
    assert "pigeon" in letter.raw  # the rest stays, to be fixed and sent again
