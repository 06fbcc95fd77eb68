"""The JSON API: thin handlers over the views, one per route in `API_ROUTES`."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Final

import orjson
from aiohttp import web

from web import admin, analysis, customers, team
from web.calllists import FILTERS
from web.context import REQUEST_ID, caller, services
from web.errors import HttpError, forbidden, not_found
from web.forms import event_from_json
from web.paging import page_of
from web.routes import ALL_ROLES, Param, Route
from web.sessions import COOKIE
from web.users import verify_password

# A password check is scrypt: tens of milliseconds of CPU and 16 MiB, on purpose. Run on
# the event loop, every guess stalled every other request (16 clients guessing made a
# rep's call list take 0.5 s instead of 3 ms: tests/reliability). hashlib.scrypt releases
# the GIL, so checks run in threads, at most this many at once, which also bounds memory.
_SCRYPT_SLOTS: Final = threading.BoundedSemaphore(2)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY),
        status=status,
        content_type="application/json",
    )


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise HttpError(415, "body: send application/json", field="body")
    raw = await request.read()  # over client_max_size: 413 from aiohttp
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # Never quote the body back: it may hold a portrait value.
        raise HttpError(400, "body: not valid JSON", field="body") from None


# ---------------------------------------------------------------- session


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def _verify_bounded(password: str, stored: str | None) -> bool:
    with _SCRYPT_SLOTS:
        return verify_password(password, stored)


def _login_audit(request: web.Request, user_id: str, outcome: str, reason: str) -> None:
    svc = services(request)
    user = svc.users.get(user_id)
    svc.audit.record(
        user=user_id[:64],
        role=user.role if user is not None else "",
        action="login",
        outcome=outcome,
        reason=reason,
        request_id=request.get(REQUEST_ID, ""),
        details={"address": request.remote or ""},
    )


async def check_login(request: web.Request, user_id: object, password: object) -> str:
    """The user id if the credentials are right; 401 (or 429 over the limit) otherwise."""
    svc = services(request)
    if not isinstance(user_id, str) or not isinstance(password, str) or not user_id:
        raise HttpError(400, "user and password: both required", field="user")
    user_id = user_id[:128]
    address = request.remote or ""
    # The slot is taken before the first await: parallel guesses each take one.
    refused = svc.logins.attempt(user_id, address)
    if refused is not None:
        _login_audit(request, user_id, "refused", f"rate limit: {refused}")
        raise HttpError(429, "too many login attempts: wait a minute and try again")
    user = svc.users.get(user_id)
    stored = user.password_hash if user else None
    try:
        good = await asyncio.to_thread(_verify_bounded, password, stored) and user is not None
    except BaseException:
        svc.logins.failed(user_id, address)
        raise
    if not good or user is None:
        svc.logins.failed(user_id, address)
        _login_audit(request, user_id, "refused", "unknown user or wrong password")
        raise HttpError(401, "unknown user or wrong password")
    svc.logins.succeeded(user_id, address)
    _login_audit(request, user.id, "allowed", "password")
    return user.id


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise HttpError(400, "body: must be a JSON object", field="body")
    user_id = await check_login(request, body.get("user"), body.get("password"))
    svc = services(request)
    token, session = svc.signer.issue(user_id)
    user = svc.users.get(user_id)
    assert user is not None
    return json_response({"token": token, "expires": session.expires, "role": user.role})


def end_session(request: web.Request) -> None:
    """Revoke the caller's session (durably) and audit it."""
    who = caller(request)
    svc = services(request)
    svc.signer.revoke(who.session)
    svc.audit.record(
        user=who.user.id,
        role=who.user.role,
        action="logout",
        outcome="allowed",
        request_id=who.request_id,
    )


async def logout(request: web.Request) -> web.Response:
    end_session(request)
    response = json_response({"logged_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    who = caller(request)
    svc = services(request)
    user = who.user
    return json_response(
        {
            "user": user.id,
            "role": user.role,
            "rep_id": user.rep_id,
            "team": svc.access.team_of(user) if user.acts_as_rep else None,
            "csrf": svc.signer.csrf(who.session),
            # The mode only: a server path or broker address is nothing a client needs.
            "source": svc.source.description.split(":", 1)[0],
        }
    )


async def openapi(request: web.Request) -> web.Response:
    from web.openapi import document

    return json_response(document(API_ROUTES))


# ---------------------------------------------------------------- reps


def wanted_rep(request: web.Request) -> str:
    """The rep whose call list is asked for: the caller's own, or ?rep= for a manager."""
    who = caller(request)
    svc = services(request)
    rep_id = request.query.get("rep") or who.user.rep_id
    if rep_id is None:
        raise forbidden(f"role {who.user.role} has no call list")
    # One answer for "not in your team" and "no such rep".
    if rep_id != who.user.rep_id and (
        rep_id not in svc.ledger.reps or not svc.access.can_see_rep(who.user, rep_id)
    ):
        raise not_found("rep", rep_id)
    return rep_id


_LIST_QUERY = ("limit", "cursor", "sort", *FILTERS)


async def calllist(request: web.Request) -> web.Response:
    listed = services(request).calllists.get(wanted_rep(request))
    if not any(request.query.get(name) for name in _LIST_QUERY):
        return web.Response(body=listed.body, content_type="application/json")
    # Filtered, sorted or paged: from the cached lines, without a rebuild.
    page = page_of(listed.select(request.query), request.query)
    return json_response(
        {
            "rep_id": listed.rep_id,
            "rep_name": listed.rep_name,
            "owned": listed.owned,
            "counts": listed.counts,
            **page.meta(),
            "lines": [line.to_dict() for line in page.items],
        }
    )


async def customer(request: web.Request) -> web.Response:
    cid = request.match_info["customer_id"]
    return json_response(customers.customer_view(services(request), caller(request), cid))


async def customer_sensitive(request: web.Request) -> web.Response:
    cid = request.match_info["customer_id"]
    return json_response(customers.sensitive_view(services(request), caller(request), cid))


async def record_event(request: web.Request) -> web.Response:
    svc = services(request)
    who = caller(request)
    cid = request.match_info["customer_id"]
    state = customers.visible_customer(svc, who, cid)  # 404 / 403 before reading the body
    if not svc.access.can_change(who.user, state):
        raise forbidden(f"customer {cid} is not yours to change")
    body = await read_json(request)
    try:
        event = event_from_json(body, customer_id=cid, user=who.user, entry=customers.entry(svc))
    except HttpError as exc:
        if exc.status == 422:
            customers.dead_letter(svc, who, body, exc.message)
        raise
    result = await customers.record(svc, who, cid, event)
    return json_response(result, status=202 if result["held"] else 201)


async def claim(request: web.Request) -> web.Response:
    cid = request.match_info["customer_id"]
    result = await customers.claim(services(request), caller(request), cid)
    return json_response(result, status=202 if result.get("pending") else 201)


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    return json_response(customers.search(services(request), caller(request), query, request.query))


# ---------------------------------------------------------------- managers


async def pool(request: web.Request) -> web.Response:
    return json_response(team.pool(services(request), caller(request), request.query))


async def accept_pool(request: web.Request) -> web.Response:
    body = await read_json(request)
    result = await team.accept(services(request), caller(request), body)
    return json_response(result, status=201)


async def report(request: web.Request) -> web.Response:
    return json_response(team.report(services(request), caller(request), request.query))


async def alerts(request: web.Request) -> web.Response:
    return json_response(team.alerts(services(request), caller(request), request.query))


# ---------------------------------------------------------------- analysts, admins


async def models(request: web.Request) -> web.Response:
    return json_response(analysis.models(services(request), caller(request)))


async def dataset(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    who = caller(request)
    rows = analysis.dataset_csv(svc, who)
    first = await rows.__anext__()  # the role check runs before any header is sent
    svc.audit.record(
        user=who.user.id,
        role=who.user.role,
        action="export",
        outcome="allowed",
        reason="data set (pseudonymised)",
        request_id=who.request_id,
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="closecast-dataset.csv"',
        }
    )
    await response.prepare(request)
    await response.write(first)
    async for chunk in rows:
        await response.write(chunk)
    await response.write_eof()
    return response


async def audit(request: web.Request) -> web.Response:
    limit = request.query.get("limit")
    return json_response(admin.audit(services(request), caller(request), limit))


async def held(request: web.Request) -> web.Response:
    return json_response(services(request).ledger.held())


async def access(request: web.Request) -> web.Response:
    return json_response(admin.access(services(request), caller(request)))


_CID = Param("customer_id", "path", "the customer's id", required=True)
_EVENT_BODY: Final = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {
            "type": "string",
            "description": "contact_made, portrait_updated, need_identified, quote_sent, "
            "order_won, order_lost, complaint_received (managers also importance_set)",
        },
        "occurred_at": {"type": "string", "format": "date-time", "description": "default now"},
        "payload": {"type": "object", "description": "as in contract/events.md"},
    },
}
API_ROUTES: Final = (
    Route("GET", "/health", health, ALL_ROLES, "liveness (no data)", public=True),
    Route(
        "POST",
        "/api/login",
        login,
        ALL_ROLES,
        "log in: returns a bearer token",
        body={
            "type": "object",
            "required": ["user", "password"],
            "properties": {"user": {"type": "string"}, "password": {"type": "string"}},
        },
        public=True,
        responses={
            401: "unknown user or wrong password",
            429: "over a login limit (web/logins.py)",
        },
    ),
    Route("POST", "/api/logout", logout, ALL_ROLES, "end this session"),
    Route("GET", "/api/me", me, ALL_ROLES, "who am I: user, role, rep, team"),
    Route("GET", "/openapi.json", openapi, ALL_ROLES, "this document"),
    Route(
        "GET",
        "/api/calllist",
        calllist,
        ("rep", "manager"),
        "today's call list: the caller's, or a team rep's (managers)",
        params=(
            Param("rep", "query", "a rep of the manager's team"),
            Param("limit", "query", "lines per page (1-500; default 25 when paging)"),
            Param("cursor", "query", "the next_cursor of the previous page"),
            Param("status", "query", "lead or customer"),
            Param("stage", "query", "none, doctor, teacher, friend or brother"),
            Param("tier", "query", "standard, key or vvip"),
            Param("due", "query", "overdue, due, new or not_due"),
            Param("sort", "query", "rank, value, chance, silence, company or trend"),
        ),
    ),
    Route(
        "GET",
        "/api/customers/{customer_id}",
        customer,
        ("rep", "manager"),
        "a customer: state, stage, score with reasons, next step, history, plain portrait",
        params=(_CID,),
    ),
    Route(
        "GET",
        "/api/customers/{customer_id}/sensitive",
        customer_sensitive,
        ("rep", "manager"),
        "the deep and extended portrait sections (owner rep, team managers; VVIP: "
        "need-to-know list only). Every call is recorded in the audit log.",
        params=(_CID,),
    ),
    Route(
        "POST",
        "/api/customers/{customer_id}/events",
        record_event,
        ("rep", "manager"),
        "record a contact, portrait update, need, quote, order or loss",
        params=(_CID,),
        body=_EVENT_BODY,
        responses={201: "recorded", 422: "breaks the event contract (the field is named)"},
    ),
    Route(
        "POST",
        "/api/customers/{customer_id}/claim",
        claim,
        ("rep",),
        "claim a pool customer (appends customer_assigned to the caller)",
        params=(_CID,),
        responses={
            201: "assigned to the caller",
            202: "requested: waits for a manager (CLOSECAST_CLAIM_APPROVAL)",
            429: "over the daily claim limit",
        },
    ),
    Route(
        "GET",
        "/api/search",
        search,
        ("rep", "manager"),
        "find visible customers by id, industry or a plain portrait value",
        params=(Param("q", "query", "text to look for", required=True),),
    ),
    Route("GET", "/api/pool", pool, ("rep", "manager"), "the public pool (+ recommendation)"),
    Route(
        "POST",
        "/api/pool/assignments",
        accept_pool,
        ("manager",),
        "accept (or edit, then accept) assignments: appends customer_assigned events",
        body={
            "type": "object",
            "required": ["assignments"],
            "properties": {
                "assignments": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["customer_id", "rep_id"],
                        "properties": {
                            "customer_id": {"type": "string"},
                            "rep_id": {"type": "string"},
                        },
                    },
                }
            },
        },
        responses={201: "assigned", 409: "no longer in the pool, or the rep left"},
    ),
    Route("GET", "/api/report", report, ("manager",), "the team's manager report (plot data)"),
    Route("GET", "/api/alerts", alerts, ("manager",), "the team's alerts"),
    Route("GET", "/api/models", models, ("analyst",), "current and candidate models, metrics"),
    Route(
        "GET",
        "/api/dataset.csv",
        dataset,
        ("analyst",),
        "features and scores of every customer, pseudonymised, no portrait values",
        content="text/csv",
    ),
    Route(
        "GET",
        "/api/audit",
        audit,
        ("admin",),
        "the audit log: sensitive reads, logins, claims, assignments, importance and "
        "need-to-know changes, exports (read only; newest first)",
        params=(Param("limit", "query", "records, 1..10000 (default 200)"),),
    ),
    Route("GET", "/api/access", access, ("admin",), "users, roles and need-to-know lists"),
    Route(
        "GET",
        "/api/held",
        held,
        ("admin",),
        "events held as dated ahead of the server's clock (count and list; not yet folded)",
    ),
)
