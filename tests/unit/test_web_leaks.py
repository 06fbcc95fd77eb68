"""Sensitive portrait values never leak, and every sensitive read is audited.

The test team's deep and extended sections hold canary strings (`webworld.CANARIES`).
Each path a CRM commonly leaks through is driven here as every role, and the canaries
must appear nowhere except in the one audited read an allowed user makes: not in list
views, customer views, history, search, exports, error messages, logs, the dead-letter
store or the audit log itself.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # webworld

import orjson
import pytest

from tests.support.webworld import (
    CANARIES,
    CANARY_DEEP,
    CANARY_VVIP,
    USERS,
    LiveServer,
    login,
    request,
)
from web.audit import verify


def assert_clean(text: str | bytes, where: str) -> None:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for canary in CANARIES:
        assert canary not in data, f"{canary} leaked through {where}"
    # Parts of a canary too (a truncated or escaped value is still a leak).
    assert "CANARY" not in data, f"a canary fragment leaked through {where}"


LIST_VIEWS = (
    "/api/calllist",
    "/api/calllist?rep=r2",
    "/api/pool",
    "/api/report",
    "/api/alerts",
    "/api/customers/c1",
    "/api/customers/c2",
    "/api/customers/c5",
    "/api/search?q=ltd",
    "/api/search?q=c",
    "/api/dataset.csv",
    "/api/models",
    "/api/audit",
    "/api/access",
    "/api/me",
    "/openapi.json",
)
PAGES = (
    "/calls",
    "/pool",
    "/manager",
    "/alerts",
    "/customers/c1",
    "/customers/c2",
    "/customers/c5",
    "/search?q=ltd",
    "/analyst",
    "/admin",
)


@pytest.mark.parametrize("user", sorted(USERS))
def test_no_list_view_customer_view_or_export_carries_a_sensitive_value(
    server: LiveServer, user: str
) -> None:
    token = login(server, user)
    for path in LIST_VIEWS:
        reply = request(server, "GET", path, token)
        assert reply.status in (200, 403, 404), (path, reply.status)
        assert_clean(reply.body, f"GET {path} as {user}")


@pytest.mark.parametrize("user", sorted(USERS))
def test_no_page_carries_a_sensitive_value(server: LiveServer, user: str) -> None:
    password = server.world.passwords[user]
    reply = request(
        server,
        "POST",
        "/login",
        raw=urlencode({"user": user, "password": password}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    cookie = reply.headers["set-cookie"].split(";")[0]
    for path in PAGES:
        page = request(server, "GET", path, headers={"Cookie": cookie})
        assert_clean(page.body, f"page {path} as {user}")


@pytest.mark.parametrize("user", sorted(USERS))
def test_search_never_matches_a_sensitive_value(server: LiveServer, user: str) -> None:
    token = login(server, user)
    for canary in CANARIES:
        for q in (canary, canary[:12].lower(), canary[-6:]):
            reply = request(server, "GET", f"/api/search?q={quote(q)}", token)
            if reply.status == 200:
                # Not even a hit: whether a customer matches says what the value is.
                assert reply.json()["results"] == [], (user, q)
            else:
                assert reply.status == 403
            assert_clean(reply.body, f"search as {user}")


def test_only_allowed_readers_get_the_values_and_each_read_is_audited(
    server: LiveServer,
) -> None:
    audit = server.world.audit_log
    before = audit.read_text().count("\n") if audit.exists() else 0
    reads = [
        ("alice", "c1", 200),
        ("mona", "c1", 200),
        ("alice", "c2", 403),
        ("mona", "c2", 200),
        ("bob", "c1", 404),
        ("sam", "c1", 404),
    ]
    for user, cid, status in reads:
        reply = request(server, "GET", f"/api/customers/{cid}/sensitive", login(server, user))
        assert reply.status == status, (user, cid, reply.text)
        if status == 200:
            assert (CANARY_DEEP if cid == "c1" else CANARY_VVIP) in reply.text
        else:
            assert_clean(reply.body, f"refused sensitive read of {cid} by {user}")
    records = [orjson.loads(x) for x in audit.read_text().splitlines()[before:]]
    records = [r for r in records if r["action"] != "login"]  # logins are audited too
    # Refusals are recorded too, whether at the VVIP list (alice) or at the customer
    # itself (bob and sam may not see c1 at all).
    got = [(r["user"], r["customer_id"], r["outcome"]) for r in records]
    assert got == [
        ("alice", "c1", "allowed"),
        ("mona", "c1", "allowed"),
        ("alice", "c2", "refused"),
        ("mona", "c2", "allowed"),
        ("bob", "c1", "refused"),
        ("sam", "c1", "refused"),
    ]
    assert records[0]["sections"] == ["deep", "extended"]
    assert all(r["action"] == "read_sensitive" and r["request_id"] for r in records)
    assert_clean(audit.read_text(), "the audit log")
    intact, count = verify(audit)
    assert intact and count >= 6


def test_the_audit_log_cannot_be_written_through_the_api(server: LiveServer) -> None:
    admin = login(server, "adam")
    audit = server.world.audit_log
    size = audit.stat().st_size
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        reply = request(server, method, "/api/audit", admin, body={"records": []})
        assert reply.status == 405, method
    assert audit.stat().st_size == size
    shown = request(server, "GET", "/api/audit", admin).json()
    assert shown["chain_intact"] is True


def test_an_edited_audit_log_is_detected(tmp_path: Path) -> None:
    from web.audit import AuditLog

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for k in range(3):
        log.record(
            user="u",
            role="rep",
            action="read_sensitive",
            customer_id=f"c{k}",
            sections=["deep"],
            outcome="allowed",
        )
    log.close()
    assert verify(path) == (True, 3)
    # A reopened log continues the chain.
    again = AuditLog(path)
    again.record(
        user="u",
        role="rep",
        action="read_sensitive",
        customer_id="c9",
        sections=["deep"],
        outcome="allowed",
    )
    again.close()
    assert verify(path) == (True, 4)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"c1"', '"c7"')
    path.write_text("\n".join(lines) + "\n")
    assert verify(path) == (False, 3)
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # a line removed
    assert verify(path)[0] is False


@pytest.mark.parametrize(
    "body",
    [
        {
            "type": "portrait_updated",
            "payload": {"section": "deep", "fields": {"x": {"v": CANARY_DEEP}}},
        },
        {
            "type": "portrait_updated",
            "payload": {"section": "extended", "fields": {"y": [CANARY_DEEP]}},
        },
        {"type": "portrait_updated", "payload": {"section": "Deep", "fields": {"x": CANARY_DEEP}}},
        {"type": "contact_made", "payload": {"section": "deep", "fields": {"x": CANARY_DEEP}}},
    ],
)
def test_refused_submissions_leak_nothing_into_errors_or_the_dead_letter_store(
    server: LiveServer, body: object
) -> None:
    reply = request(server, "POST", "/api/customers/c1/events", login(server, "alice"), body=body)
    assert reply.status == 422, reply.text
    assert_clean(reply.body, "the 422 answer")
    dead = server.world.log.with_name(server.world.log.name + ".rejected.jsonl")
    assert dead.exists()
    text = dead.read_text()
    assert "web:alice" in text  # the refusal was kept ...
    assert_clean(text, "the dead-letter store")  # ... redacted


def test_a_refused_portrait_field_is_not_named(server: LiveServer) -> None:
    body = {
        "type": "portrait_updated",
        "payload": {"section": "deep", "fields": {CANARY_DEEP: None}},
    }
    reply = request(server, "POST", "/api/customers/c1/events", login(server, "alice"), body=body)
    assert reply.status == 422
    assert reply.json()["field"] == "payload.fields"
    assert_clean(reply.body, "the 422 answer")


def test_broken_bodies_are_not_echoed(server: LiveServer) -> None:
    token = login(server, "alice")
    headers = {"Content-Type": "application/json"}
    raw = (
        '{"type": "portrait_updated", "payload": {"section": "deep", "fields": {"a": "'
        + CANARY_DEEP
        + '"'
    ).encode()
    reply = request(server, "POST", "/api/customers/c1/events", token, raw=raw, headers=headers)
    assert reply.status == 400
    assert_clean(reply.body, "the 400 answer")
    big = raw + b" " * 300_000
    reply = request(server, "POST", "/api/customers/c1/events", token, raw=big, headers=headers)
    assert reply.status == 413
    assert_clean(reply.body, "the 413 answer")


def test_a_form_line_that_cannot_be_read_is_named_by_number_not_quoted(server: LiveServer) -> None:
    password = server.world.passwords["alice"]
    login_reply = request(
        server,
        "POST",
        "/login",
        raw=urlencode({"user": "alice", "password": password}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    cookie = login_reply.headers["set-cookie"].split(";")[0]
    csrf = request(server, "GET", "/api/me", headers={"Cookie": cookie}).json()["csrf"]
    fields = {
        "type": "portrait_updated",
        "section": "deep",
        "fields": f"ok: 1\n{CANARY_DEEP}",
        "csrf": csrf,
    }
    reply = request(
        server,
        "POST",
        "/customers/c1/events",
        raw=urlencode(fields).encode(),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 422
    assert "line 2 is not" in reply.text
    assert_clean(reply.body, "the form's 422 page")
    dead = server.world.log.with_name(server.world.log.name + ".rejected.jsonl")
    assert_clean(dead.read_text(), "the dead-letter store")


def test_logs_carry_no_sensitive_value(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = login(server, "mona")
    # Reads that return the values, searches that name them, refusals that quote nothing.
    request(server, "GET", "/api/customers/c1/sensitive", token)
    request(server, "GET", f"/api/search?q={CANARY_DEEP}", token)
    request(server, "GET", f"/customers/c1?note={CANARY_DEEP}", token)
    request(
        server,
        "POST",
        "/api/customers/c1/events",
        token,
        body={
            "type": "portrait_updated",
            "payload": {"section": "deep", "fields": {"a": [CANARY_DEEP]}},
        },
    )
    access = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert access, "the access log wrote nothing: the test would prove nothing"
    for record in caplog.records:
        assert_clean(record.getMessage(), f"log record {record.name}")


def test_the_dataset_is_pseudonymised(server: LiveServer) -> None:
    import csv
    import hashlib
    import hmac
    import io

    from web.context import SERVICES

    text = request(server, "GET", "/api/dataset.csv", login(server, "ann")).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) >= 10
    ids = {row["customer"] for row in rows}
    assert not any(r in ids for r in ("c1", "c2", "c5"))
    assert not any(row["owner"] in ("r1", "r2", "r3") for row in rows)
    key = server.app[SERVICES].settings.pseudonym_key
    expected = "c_" + hmac.new(key, b"customer:c1", hashlib.sha256).hexdigest()[:20]
    assert expected in ids
    assert_clean(text, "the data set")
