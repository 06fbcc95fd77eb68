"""The JSON API and the pages over HTTP: every role against every endpoint, bad requests.

The server is the real application on a loopback port (`webworld.LiveServer`), folding a
small team's log (see `webworld`). Each role is one user: rep alice (r1, north), manager
mona (m1, north), analyst ann, admin adam.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # webworld

import pytest

from tests.support.webworld import LiveServer, Reply, World, login, request
from web.app import ROUTES

ROLE_USER = {"rep": "alice", "manager": "mona", "analyst": "ann", "admin": "adam"}


@pytest.fixture(scope="module")
def token(server: LiveServer) -> dict[str, str]:
    return {
        user: login(server, user)
        for user in ("alice", "bob", "carol", "mona", "sam", "ann", "adam")
    }


# ---------------------------------------------------------------- the role matrix

A, M, N, D = "rep", "manager", "analyst", "admin"
CONTACT = {"type": "contact_made", "payload": {"channel": "phone"}}
# (method, path, body, {role: expected status}); every API route appears at least once.
API_MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/health", None, {A: 200, M: 200, N: 200, D: 200}),
    ("GET", "/api/me", None, {A: 200, M: 200, N: 200, D: 200}),
    ("GET", "/openapi.json", None, {A: 200, M: 200, N: 200, D: 200}),
    ("GET", "/api/calllist", None, {A: 200, M: 200, N: 403, D: 403}),
    ("GET", "/api/customers/c1", None, {A: 200, M: 200, N: 403, D: 403}),
    ("GET", "/api/customers/c1/sensitive", None, {A: 200, M: 200, N: 403, D: 403}),
    ("POST", "/api/customers/c1/events", CONTACT, {A: 201, M: 201, N: 403, D: 403}),
    ("POST", "/api/customers/c90/claim", None, {A: 201, M: 403, N: 403, D: 403}),
    ("GET", "/api/search?q=ltd", None, {A: 200, M: 200, N: 403, D: 403}),
    ("GET", "/api/pool", None, {A: 200, M: 200, N: 403, D: 403}),
    (
        "POST",
        "/api/pool/assignments",
        {"assignments": [{"customer_id": "c91", "rep_id": "r2"}]},
        {A: 403, M: 201, N: 403, D: 403},
    ),
    ("GET", "/api/report", None, {A: 403, M: 200, N: 403, D: 403}),
    ("GET", "/api/alerts", None, {A: 403, M: 200, N: 403, D: 403}),
    ("GET", "/api/models", None, {A: 403, M: 403, N: 200, D: 403}),
    ("GET", "/api/dataset.csv", None, {A: 403, M: 403, N: 200, D: 403}),
    ("GET", "/api/audit", None, {A: 403, M: 403, N: 403, D: 200}),
    ("GET", "/api/access", None, {A: 403, M: 403, N: 403, D: 200}),
    ("GET", "/api/held", None, {A: 403, M: 403, N: 403, D: 200}),
    ("POST", "/api/logout", None, {A: 200, M: 200, N: 200, D: 200}),
    ("POST", "/api/login", None, {}),  # public; its own tests below
]
# Pages with the session cookie and, for forms, the CSRF token.
PAGE_MATRIX: list[tuple[str, str, dict[str, str] | None, dict[str, int]]] = [
    ("GET", "/login", None, {A: 200, M: 200, N: 200, D: 200}),
    ("GET", "/", None, {A: 303, M: 303, N: 303, D: 303}),
    ("GET", "/calls", None, {A: 200, M: 200, N: 403, D: 403}),
    ("GET", "/customers/c1", None, {A: 200, M: 200, N: 403, D: 403}),
    ("GET", "/customers/c1/sensitive", None, {A: 200, M: 200, N: 403, D: 403}),
    (
        "POST",
        "/customers/c1/events",
        {"type": "contact_made", "channel": "sms", "effective": "on"},
        {A: 303, M: 303, N: 403, D: 403},
    ),
    ("POST", "/customers/c92/claim", {}, {A: 303, M: 403, N: 403, D: 403}),
    ("GET", "/search?q=ltd", None, {A: 200, M: 200, N: 403, D: 403}),
    ("GET", "/pool", None, {A: 200, M: 200, N: 403, D: 403}),
    ("POST", "/pool/accept", {"accept": "c93", "rep_c93": "r1"}, {A: 403, M: 303, N: 403, D: 403}),
    ("GET", "/manager", None, {A: 403, M: 200, N: 403, D: 403}),
    ("GET", "/alerts", None, {A: 403, M: 200, N: 403, D: 403}),
    ("GET", "/analyst", None, {A: 403, M: 403, N: 200, D: 403}),
    # The test server has no model registry: an analyst is told so (409), others refused.
    ("POST", "/analyst/promote", {"version": "v1"}, {A: 403, M: 403, N: 409, D: 403}),
    ("POST", "/analyst/rollback", {}, {A: 403, M: 403, N: 409, D: 403}),
    ("GET", "/admin", None, {A: 403, M: 403, N: 403, D: 200}),
    ("POST", "/logout", {}, {A: 303, M: 303, N: 303, D: 303}),
    ("POST", "/login", None, {}),  # public; its own tests below
]


def _template(path: str) -> str:
    bare = path.split("?")[0]
    return re.sub(r"/c\d+", "/{customer_id}", bare)


def test_every_route_is_in_a_matrix() -> None:
    covered = {(m, _template(p)) for m, p, _, _ in API_MATRIX + PAGE_MATRIX}
    served = {(r.method, r.path) for r in ROUTES}
    assert served == covered


def _cases(matrix: list[tuple[str, str, Any, dict[str, int]]]) -> list[Any]:
    return [
        pytest.param(method, path, body, role, status, id=f"{method} {path} as {role}")
        for method, path, body, expected in matrix
        for role, status in expected.items()
    ]


@pytest.mark.parametrize(("method", "path", "body", "role", "status"), _cases(API_MATRIX))
def test_api_role_matrix(
    server: LiveServer, method: str, path: str, body: Any, role: str, status: int
) -> None:
    user = ROLE_USER[role]
    # A fresh session per case: logout revokes it, and no case depends on another's.
    reply = request(server, method, path, login(server, user), body=body)
    assert reply.status == status, reply.text
    if status >= 400:
        assert reply.json()["status"] == status
        assert reply.json()["error"]


@pytest.mark.parametrize(("method", "path", "body", "role", "status"), _cases(API_MATRIX))
def test_api_refuses_anonymous(
    server: LiveServer, method: str, path: str, body: Any, role: str, status: int
) -> None:
    reply = request(server, method, path, body=body)
    assert reply.status == (200 if path == "/health" else 401), reply.text


def cookie_session(server: LiveServer, user: str) -> tuple[str, str]:
    """Log in through the login form; return (cookie header, csrf token)."""
    password = server.world.passwords[user]
    reply = request(
        server,
        "POST",
        "/login",
        raw=f"user={user}&password={password}&next=/".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 303, reply.text
    cookie = reply.headers["set-cookie"].split(";")[0]
    assert "HttpOnly" in reply.headers["set-cookie"]
    assert "SameSite=Strict" in reply.headers["set-cookie"]
    me = request(server, "GET", "/api/me", headers={"Cookie": cookie}).json()
    return cookie, me["csrf"]


def form(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


@pytest.mark.parametrize(("method", "path", "body", "role", "status"), _cases(PAGE_MATRIX))
def test_page_role_matrix(
    server: LiveServer, method: str, path: str, body: Any, role: str, status: int
) -> None:
    cookie, csrf = cookie_session(server, ROLE_USER[role])
    headers = {"Cookie": cookie}
    raw = None
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        raw = form({**body, "csrf": csrf})
    reply = request(server, method, path, raw=raw, headers=headers)
    assert reply.status == status, reply.text[:500]
    if status == 200:
        assert reply.headers["content-type"].startswith("text/html")
        assert "<main>" in reply.text


def test_pages_send_anonymous_visitors_to_login(server: LiveServer) -> None:
    for method, path, _, _ in PAGE_MATRIX:
        if path in ("/login",):
            continue
        reply = request(server, method, path)
        if method == "GET":
            assert reply.status == 303, path
            assert reply.headers["location"].startswith("/login?next=")
        else:
            assert reply.status == 401, path


def test_cookie_posts_need_the_csrf_token(server: LiveServer) -> None:
    cookie, csrf = cookie_session(server, "alice")
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    fields = {"type": "contact_made", "channel": "phone"}
    assert (
        request(server, "POST", "/customers/c1/events", raw=form(fields), headers=headers).status
        == 403
    )
    bad = form({**fields, "csrf": "0" * 32})
    assert request(server, "POST", "/customers/c1/events", raw=bad, headers=headers).status == 403
    # The JSON API with the cookie needs it as a header.
    reply = request(
        server, "POST", "/api/customers/c1/events", body=CONTACT, headers={"Cookie": cookie}
    )
    assert reply.status == 403
    reply = request(
        server,
        "POST",
        "/api/customers/c1/events",
        body=CONTACT,
        headers={"Cookie": cookie, "X-CSRF-Token": csrf},
    )
    assert reply.status == 201


# ---------------------------------------------------------------- owners, teams, VVIP


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("bob", "/api/customers/c1", 404),  # another rep's customer: as if unknown
        ("carol", "/api/customers/c1", 404),
        ("sam", "/api/customers/c1", 404),  # another team's manager
        ("mona", "/api/customers/c4", 404),
        ("mona", "/api/customers/c3", 200),  # her team's rep's customer
        ("alice", "/api/customers/c5", 200),  # the pool: visible, claimable
        ("alice", "/api/customers/nobody", 404),
        ("mona", "/api/customers/nobody", 404),
        ("bob", "/api/calllist?rep=r1", 404),
        ("sam", "/api/calllist?rep=r1", 404),
        ("mona", "/api/calllist?rep=r2", 200),
        ("mona", "/api/calllist?rep=nobody", 404),
        ("alice", "/api/customers/c2/sensitive", 403),  # VVIP, alice not on its list
        ("mona", "/api/customers/c2/sensitive", 200),  # on the list
        ("bob", "/api/customers/c2/sensitive", 404),
        ("alice", "/api/customers/c5/sensitive", 403),  # pool: no owner rep
        ("mona", "/api/customers/c5/sensitive", 403),  # pool: its need-to-know circle only
        ("sam", "/api/customers/c5/sensitive", 403),
        ("alice", "/api/nothing-here", 404),
    ],
)
def test_object_access(
    server: LiveServer, token: dict[str, str], user: str, path: str, status: int
) -> None:
    reply = request(server, "GET", path, token[user])
    assert reply.status == status, reply.text


def test_a_rep_cannot_change_another_reps_or_a_pool_customer(
    server: LiveServer, token: dict[str, str]
) -> None:
    for cid, status in (("c1", 404), ("c5", 403)):  # another's: as if unknown; the pool: seen
        reply = request(server, "POST", f"/api/customers/{cid}/events", token["bob"], body=CONTACT)
        assert reply.status == status, reply.text
    reply = request(server, "POST", "/api/customers/c1/claim", token["bob"])
    assert reply.status == 404  # not his, not in the pool: as if unknown
    reply = request(server, "POST", "/api/customers/c1/events", token["sam"], body=CONTACT)
    assert reply.status == 404


def test_the_customer_view_says_sensitive_sections_exist_but_not_what_they_hold(
    server: LiveServer, token: dict[str, str]
) -> None:
    view = request(server, "GET", "/api/customers/c2", token["alice"]).json()
    assert view["sensitive"] == {
        "sections_known": ["deep"],
        "may_read": False,
        "reason": "VVIP customer: only its named need-to-know list",
    }
    view = request(server, "GET", "/api/customers/c1", token["alice"]).json()
    assert view["sensitive"]["may_read"] is True
    assert view["portrait"]["basic"]["fields"] == {"company": "c1 Ltd"}
    assert "deep" not in view["portrait"]
    deep = [h for h in view["history"] if h["details"].get("section") == "deep"]
    assert deep and deep[0]["details"]["fields"] == "1 field(s), restricted"


def test_the_manager_sees_expected_revenue_with_its_interval(
    server: LiveServer, token: dict[str, str]
) -> None:
    line = re.compile(r"expected revenue next 90 days: [\d,]+ \([\d,]+ to [\d,]+\)")
    report = request(server, "GET", "/api/report", token["mona"]).json()
    assert line.search(report["revenue_line"])
    revenue = report["revenue"]
    assert revenue["horizon_days"] == 90
    assert revenue["team"]["low"] <= revenue["team"]["high"]
    reps = {r["rep_id"] for r in revenue["reps"]}
    assert reps and reps <= {r["rep_id"] for r in report["pipeline_by_rep"]}
    assert all(line.search(r["line"]) for r in report["revenue_by_rep"])
    # The team's total is its reps' (the pool is everyone's, not the team's).
    team = sum(r["expected"] for r in revenue["reps"])
    assert revenue["team"]["expected"] == pytest.approx(team, abs=0.05)
    cookie, _ = cookie_session(server, "mona")
    page = request(server, "GET", "/manager", headers={"Cookie": cookie}).text
    assert "Team revenue forecast" in page and len(line.findall(page)) == 1 + len(reps)


# ---------------------------------------------------------------- recording


def test_a_recorded_contact_shows_its_new_score_within_a_second(
    server: LiveServer, token: dict[str, str]
) -> None:
    before = request(server, "GET", "/api/customers/c3", token["bob"]).json()
    started = time.perf_counter()
    reply = request(
        server,
        "POST",
        "/api/customers/c3/events",
        token["bob"],
        body={"type": "quote_sent", "payload": {"quote_id": "q-1", "amount": 80000}},
    )
    after = request(server, "GET", "/api/customers/c3", token["bob"]).json()
    elapsed = time.perf_counter() - started
    assert reply.status == 201, reply.text
    assert elapsed < 1.0
    assert after["quotes"] == before["quotes"] + 1
    assert after["score"]["p_close"] > before["score"]["p_close"]
    assert any("quote" in r for r in after["score"]["reasons"])
    # Appended to the log file, durably, as a contract event of bob's.
    lines = server.world.log.read_text(encoding="utf-8").splitlines()
    assert '"quote_id":"q-1"' in lines[-1] and '"rep_id":"r2"' in lines[-1]


def test_a_contact_moves_the_customer_off_todays_list(
    server: LiveServer, token: dict[str, str]
) -> None:
    listed = request(server, "GET", "/api/calllist", token["carol"]).json()
    first = listed["lines"][0]["customer_id"]
    reply = request(server, "POST", f"/api/customers/{first}/events", token["carol"], body=CONTACT)
    assert reply.status == 201
    again = request(server, "GET", "/api/calllist", token["carol"]).json()
    assert first not in [line["customer_id"] for line in again["lines"]]


def test_accepting_a_pool_assignment_appends_customer_assigned(
    server: LiveServer, token: dict[str, str]
) -> None:
    pool = request(server, "GET", "/api/pool", token["mona"]).json()
    assert "recommended" in pool
    assert "recommended" not in request(server, "GET", "/api/pool", token["alice"]).json()
    reply = request(
        server,
        "POST",
        "/api/pool/assignments",
        token["mona"],
        body={"assignments": [{"customer_id": "c5", "rep_id": "r1"}]},
    )
    assert reply.status == 201, reply.text
    view = request(server, "GET", "/api/customers/c5", token["alice"]).json()
    assert view["owner"] == "r1" and view["in_pool"] is False
    last = server.world.log.read_text(encoding="utf-8").splitlines()[-1]
    assert '"type":"customer_assigned"' in last and '"by":"mona"' in last
    # Now alice owns it, but a suspended-then-reassigned customer is not VVIP: she may read.
    assert request(server, "GET", "/api/customers/c5/sensitive", token["alice"]).status == 200


def test_the_embedded_source_follows_lines_other_tools_append(
    server: LiveServer, token: dict[str, str]
) -> None:
    from datetime import UTC, datetime

    from streams.core.contract import validate
    from streams.core.log import append_events
    from tests.support.webworld import iso

    event = validate(
        {
            "event_id": "outside-1",
            "type": "need_identified",
            "occurred_at": iso(datetime.now(UTC)),
            "customer_id": "c4",
            "rep_id": "r3",
            "payload": {"clear_need": True, "expected_value": 12345},
        }
    )
    append_events(server.world.log, [event])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        view = request(server, "GET", "/api/customers/c4", token["carol"]).json()
        if view["clear_need"]:
            break
        time.sleep(0.2)
    assert view["clear_need"] is True


# ---------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"type": "contact_made", "payload": {"channel": "fax"}}, 422, "payload.channel"),
        ({"type": "contact_made", "payload": {}}, 422, "payload.channel"),
        (
            {"type": "contact_made", "payload": {"channel": "phone", "note": "x" * 2001}},
            422,
            "payload.note",
        ),
        ({"type": "quote_sent", "payload": {"quote_id": "q", "amount": -1}}, 422, "payload.amount"),
        ({"type": "order_won", "payload": {"order_id": "o", "amount": 0}}, 422, "payload.amount"),
        (
            {"type": "need_identified", "payload": {"clear_need": True, "due_date": "2026-02-30"}},
            422,
            "payload.due_date",
        ),
        (
            {
                "type": "contact_made",
                "occurred_at": "2026-01-01T10:00:00",
                "payload": {"channel": "phone"},
            },
            422,
            "occurred_at",
        ),
        ({"type": "importance_set", "payload": {"tier": "vvip"}}, 422, "type"),  # reps may not
        ({"type": "customer_assigned", "payload": {}}, 422, "type"),
        ({"type": "launch_rockets", "payload": {}}, 422, "type"),
        ({"type": "contact_made", "payload": []}, 422, "payload"),
        (["not", "an", "object"], 400, "body"),
    ],
)
def test_events_that_break_the_contract_are_refused_naming_the_field(
    server: LiveServer, token: dict[str, str], body: Any, status: int, field: str
) -> None:
    reply = request(server, "POST", "/api/customers/c1/events", token["alice"], body=body)
    assert reply.status == status, reply.text
    assert reply.json()["field"] == field
    assert reply.json()["error"].startswith(field)


def test_malformed_oversized_and_mistyped_bodies(server: LiveServer, token: dict[str, str]) -> None:
    t = token["alice"]
    path = "/api/customers/c1/events"
    headers = {"Content-Type": "application/json"}
    reply = request(server, "POST", path, t, raw=b'{"type": "contact_made", ', headers=headers)
    assert (reply.status, reply.json()["field"]) == (400, "body")
    huge = b'{"type": "contact_made", "payload": {"note": "' + b"x" * 300_000 + b'"}}'
    reply = request(server, "POST", path, t, raw=huge, headers=headers)
    assert reply.status == 413
    assert reply.json()["error"] == "request body too large"
    reply = request(
        server, "POST", path, t, raw=b"type=contact_made", headers={"Content-Type": "text/plain"}
    )
    assert reply.status == 415
    reply = request(server, "DELETE", "/api/customers/c1", t)
    assert reply.status == 405


@pytest.mark.parametrize(
    ("assignments", "status"),
    [
        ([], 400),
        ("c1", 400),
        ([{"customer_id": "c1"}], 400),
        ([{"customer_id": "c1", "rep_id": "r1"}], 409),  # owned, not in the pool
        ([{"customer_id": "nobody", "rep_id": "r1"}], 404),
        ([{"customer_id": "c94", "rep_id": "nobody"}], 404),
        ([{"customer_id": "c94", "rep_id": "r3"}], 403),  # another team's rep
        ([{"customer_id": "c94", "rep_id": "r1"}, {"customer_id": "c94", "rep_id": "r2"}], 400),
    ],
)
def test_bad_pool_acceptances(
    server: LiveServer, token: dict[str, str], assignments: Any, status: int
) -> None:
    reply = request(
        server, "POST", "/api/pool/assignments", token["mona"], body={"assignments": assignments}
    )
    assert reply.status == status, reply.text


def test_bad_query_parameters(server: LiveServer, token: dict[str, str]) -> None:
    assert request(server, "GET", "/api/search?q=", token["alice"]).status == 400
    assert request(server, "GET", "/api/search?q=" + "x" * 201, token["alice"]).status == 400
    assert request(server, "GET", "/api/audit?limit=abc", token["adam"]).status == 400
    assert request(server, "GET", "/api/audit?limit=0", token["adam"]).status == 400


# ---------------------------------------------------------------- login and sessions


def test_login_refuses_wrong_passwords_and_locks_after_five(server: LiveServer) -> None:
    def attempt(user: str, password: str) -> Reply:
        return request(server, "POST", "/api/login", body={"user": user, "password": password})

    assert attempt("nobody", "whatever").status == 401
    assert attempt("ann", "").status == 401
    assert request(server, "POST", "/api/login", body={"user": "ann"}).status == 400
    for _ in range(5):
        assert attempt("carol", "wrong password").status == 401
    assert attempt("carol", server.world.passwords["carol"]).status == 429
    assert attempt("ann", server.world.passwords["ann"]).status == 200


def test_forged_expired_and_revoked_tokens_are_refused(server: LiveServer) -> None:
    from web.sessions import SessionSigner

    good = login(server, "alice")
    forged = SessionSigner(b"another secret" * 4, 1).issue("alice")[0]
    expired = _signer(server).issue("alice", now=time.time() - 10 * 3600)[0]
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for bad in (forged, expired, tampered, "v1.x.y", "garbage"):
        assert request(server, "GET", "/api/me", bad).status == 401
    assert request(server, "GET", "/api/me", good).status == 200
    assert request(server, "POST", "/api/logout", good).status == 200
    assert request(server, "GET", "/api/me", good).status == 401


def _signer(server: LiveServer) -> Any:
    from web.context import SERVICES

    return server.app[SERVICES].signer


def test_openapi_document_lists_every_api_route(server: LiveServer, token: dict[str, str]) -> None:
    doc = request(server, "GET", "/openapi.json", token["ann"]).json()
    assert doc["openapi"].startswith("3.")
    api = {(m, _template(p)) for m, p, _, _ in API_MATRIX}
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == api
    event = doc["paths"]["/api/customers/{customer_id}/events"]["post"]
    assert {"201", "403", "404", "413", "422"} <= set(event["responses"])


def test_settings_refuse_to_start_without_a_secret(world: World) -> None:
    from web.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="CLOSECAST_SECRET is not set"):
        Settings.from_env({}, users_file=world.users_file)
    with pytest.raises(SettingsError, match="shorter than 32"):
        Settings.from_env({"CLOSECAST_SECRET": "short"}, users_file=world.users_file)
    with pytest.raises(SettingsError, match="no users file"):
        Settings.from_env({"CLOSECAST_SECRET": "s" * 40})


def test_users_file_refuses_plain_passwords(tmp_path: Path) -> None:
    from web.users import UsersFileError, parse_users

    with pytest.raises(UsersFileError, match=r"users\.eve\.password: must be a scrypt hash"):
        parse_users('[users.eve]\nrole = "rep"\npassword = "hunter2"\n')
    with pytest.raises(UsersFileError, match=r"users\.eve\.role"):
        parse_users('[users.eve]\nrole = "boss"\n')


def test_the_analyst_page_reads_the_registry(tmp_path: Path) -> None:
    import orjson

    from web.analysis import registry_entries

    for version, auc in (("20260101T000000-gbm-aaaa", 0.81), ("20260201T000000-gbm-bbbb", 0.79)):
        folder = tmp_path / "versions" / version
        folder.mkdir(parents=True)
        meta = {
            "version": version,
            "kind": "gbm",
            "created_at": "2026-01-01T00:00:00Z",
            "metrics": {"roc_auc": auc, "brier": 0.05},
            "heuristic_metrics": {"roc_auc": 0.7},
            "decision": {"promoted": version.endswith("aaaa"), "reasons": []},
            "note": "passed the promotion gate",
        }
        (folder / "metadata.json").write_bytes(orjson.dumps(meta))
    (tmp_path / "current").write_text("20260101T000000-gbm-aaaa\n")
    entries = registry_entries(tmp_path)
    assert [(e["version"][-4:], e["status"]) for e in entries] == [
        ("aaaa", "current"),
        ("bbbb", "candidate"),
    ]
    assert entries[0]["metrics"] == {"roc_auc": 0.81, "brier": 0.05}
    assert entries[0]["heuristic_metrics"] == {"roc_auc": 0.7}
    assert registry_entries(tmp_path / "missing") == []


def test_long_lists_page_with_limit_and_cursor_and_say_how_many(
    server: LiveServer, token: dict[str, str]
) -> None:
    whole = request(server, "GET", "/api/calllist", token["alice"]).json()
    assert whole["total"] >= 2 and set(whole["counts"]) == {"overdue", "due", "new", "not_due"}
    first = request(server, "GET", "/api/calllist?limit=1", token["alice"]).json()
    assert first["total"] == whole["total"] and len(first["lines"]) == 1
    second = request(
        server, "GET", f"/api/calllist?limit=1&cursor={first['next_cursor']}", token["alice"]
    ).json()
    assert second["lines"][0]["customer_id"] != first["lines"][0]["customer_id"]
    seen = [line["customer_id"] for line in whole["lines"]]
    assert [first["lines"][0]["customer_id"], second["lines"][0]["customer_id"]] == seen[:2]
    pool = request(server, "GET", "/api/pool?limit=2", token["alice"]).json()
    assert len(pool["customers"]) == 2 and pool["customers_page"]["total"] == pool["size"]
    rest = request(server, "GET", "/api/pool?limit=2&cursor=2", token["alice"]).json()
    assert {c["customer_id"] for c in rest["customers"]}.isdisjoint(
        c["customer_id"] for c in pool["customers"]
    )
    alerts = request(server, "GET", "/api/alerts?limit=1", token["mona"]).json()
    assert alerts["manager_join_page"]["total"] == alerts["manager_join_count"]
    found = request(server, "GET", "/api/search?q=ltd&limit=1", token["alice"]).json()
    assert len(found["results"]) == 1 and found["results_page"]["total"] >= 2
    for bad in ("limit=0", "limit=x", "cursor=-1", "due=soon", "sort=mood"):
        reply = request(server, "GET", f"/api/calllist?{bad}", token["alice"])
        assert reply.status == 400, bad
        assert reply.json()["field"] == bad.split("=")[0]
