"""The aiohttp application: routes from the table, authentication, errors, access log.

Middleware order (outermost first):
1. errors: every failure becomes a clear 4xx/5xx, JSON for the API and a page for people,
   with a message that never quotes a request body (it may hold a portrait value);
2. authentication: every route but the public ones (login, /health, /static) needs a
   valid session (cookie) or bearer token; a cookie-authenticated POST also needs the
   CSRF token. The route's roles are checked next, then each view checks the object.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final

import secure
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from features.policy import Policy
from models.scoring import Scorer
from web.access import Access, NeedToKnow
from web.api import API_ROUTES, json_response
from web.audit import AuditLog
from web.calllists import CallListCache
from web.claims import ClaimRequests
from web.context import CALLER_KEY, REQUEST_ID, SERVICES, Caller, Services, caller
from web.errors import HttpError
from web.logins import LoginLimiter
from web.pages import PAGE_ROUTES, error_page
from web.pseudonym import Pseudonymiser
from web.routes import Handler, Route
from web.sessions import COOKIE, SessionSigner
from web.settings import Settings
from web.source import StateSource
from web.users import UserDirectory

log = logging.getLogger("closecast.web")
STATIC: Final = Path(__file__).parent / "static"
ROUTES: Final[tuple[Route, ...]] = (*API_ROUTES, *PAGE_ROUTES)
_PUBLIC: Final = frozenset((r.method, r.path) for r in ROUTES if r.public)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/openapi.json", "/health")


def _failure(request: web.Request, error: HttpError) -> web.Response:
    if _is_api(request):
        return json_response(error.to_dict(), status=error.status)
    return error_page(request, error)


@web.middleware
async def errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except HttpError as exc:
        return _failure(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects
        message = {
            404: "no such page or endpoint",
            405: f"method {request.method} not allowed here",
            413: "request body too large",
        }.get(exc.status, exc.reason)
        return _failure(request, HttpError(exc.status, message))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The type and where, never the message: it may quote data the request carried.
        request_id = request.get(REQUEST_ID, "")
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unhandled %s (request %s)\n%s", type(exc).__name__, request_id, frames)
        return _failure(request, HttpError(500, f"internal error (request {request_id})"))


def _token(request: web.Request) -> tuple[str | None, bool]:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip(), False
    return request.cookies.get(COOKIE), True


@web.middleware
async def authenticate(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    request[REQUEST_ID] = uuid.uuid4().hex[:12]
    route = request.match_info.route.resource
    canonical = route.canonical if route is not None else request.path
    if (request.method, canonical) in _PUBLIC or request.path.startswith("/static/"):
        return await handler(request)
    svc = request.app[SERVICES]
    token, via_cookie = _token(request)
    session = svc.signer.verify(token) if token else None
    user = svc.users.get(session.user_id) if session else None
    if session is None or user is None:
        if _is_api(request) or request.method != "GET":
            raise HttpError(401, "log in first (POST /api/login, or the login page)")
        raise web.HTTPSeeOther(f"/login?next={request.path}")
    request[CALLER_KEY] = Caller(user, session, via_cookie, request[REQUEST_ID])
    if via_cookie and request.method not in ("GET", "HEAD", "OPTIONS"):
        await _check_csrf(request, svc, session)
    return await handler(request)


async def _check_csrf(request: web.Request, svc: Services, session: object) -> None:
    from web.sessions import Session

    assert isinstance(session, Session)
    token = request.headers.get("X-CSRF-Token", "")
    if not token and request.content_type == "application/x-www-form-urlencoded":
        token = str((await request.post()).get("csrf", ""))
    if not token or not svc.signer.check_csrf(session, token):
        raise HttpError(403, "missing or wrong CSRF token: reload the page and try again")


def guarded(route: Route) -> Handler:
    """The route's handler behind its role gate (public routes go straight through)."""
    if route.public:
        return route.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        who = caller(request)
        if who.user.role not in route.roles:
            raise HttpError(403, f"role {who.user.role} may not use {route.path}")
        return await route.handler(request)

    handler.__name__ = route.handler.__name__
    return handler


class AccessLog(AbstractAccessLogger):
    """One line per request: method, path without its query (search terms stay out of
    logs), status, size, time and user."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        who = request.get(CALLER_KEY)
        user = who.user.id if who is not None else "-"
        self.logger.info(
            "%s %s %s %s %.1fms %s",
            request.method,
            request.rel_url.path,
            response.status,
            response.body_length,
            time * 1000,
            user,
        )


def create_app(
    settings: Settings,
    source: StateSource,
    scorer: Scorer,
    policy: Policy,
    model_dir: Path | None = None,
    refresh_seconds: float = 300.0,
) -> web.Application:
    """The application; `source.start()` runs when the app starts (see `on_startup`)."""
    app = web.Application(
        middlewares=[errors, authenticate], client_max_size=settings.max_body_bytes
    )
    ledger = source.ledger
    audit = AuditLog(settings.audit_log)
    need_to_know = NeedToKnow(settings.access_file, on_change=_audit_lists(audit))
    app[SERVICES] = Services(
        settings=settings,
        source=source,
        users=UserDirectory(settings.users_file),
        signer=SessionSigner(settings.secret, settings.session_hours, settings.revoked_sessions),
        access=Access(ledger, need_to_know, settings.importance_editors, settings.pool_readers),
        audit=audit,
        pseudonymise=Pseudonymiser(settings.pseudonym_key),
        calllists=CallListCache(ledger, policy),
        scorer=scorer,
        policy=policy,
        model_dir=model_dir,
        logins=LoginLimiter.from_rates(
            settings.login_per_user_address, settings.login_per_address, settings.login_per_user
        ),
        claim_requests=ClaimRequests.from_audit(audit),
    )
    app.on_response_prepare.append(_security_headers)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route), name=route.operation_id)
    app.router.add_static("/static/", STATIC, name="static")
    app.cleanup_ctx.append(_lifecycle(refresh_seconds))
    return app


def _audit_lists(
    audit: AuditLog,
) -> Callable[[dict[str, frozenset[str]], dict[str, frozenset[str]]], None]:
    """Audit every change of the need-to-know file: who was added to or removed from
    which customer's list (the admin page shows them)."""

    def changed(before: dict[str, frozenset[str]], after: dict[str, frozenset[str]]) -> None:
        for cid in sorted(set(before) | set(after)):
            old, new = before.get(cid, frozenset()), after.get(cid, frozenset())
            if old != new or (cid in before) != (cid in after):
                added, removed = sorted(new - old), sorted(old - new)
                audit.record(
                    user="access-file",
                    role="admin",
                    action="need_to_know_changed",
                    customer_id=cid,
                    outcome="applied",
                    # The admin page shows the reason column: say there what changed.
                    reason="need-to-know list changed: "
                    + ", ".join([*(f"+{u}" for u in added), *(f"-{u}" for u in removed)]),
                    details={"added": added, "removed": removed},
                )

    return changed


# The pages are server-rendered with no inline script or style, so the policy can be
# strict: everything from this origin, nothing framed, no plugins. The headers are
# spelt by the `secure` library (pinned), which keeps their syntax right.
_SECURE: Final = secure.Secure(
    csp=secure.ContentSecurityPolicy()
    .default_src("'self'")
    .script_src("'self'")
    .style_src("'self'")
    .img_src("'self'", "data:")
    .object_src("'none'")
    .base_uri("'none'")
    .form_action("'self'")
    .frame_ancestors("'none'"),
    xcto=secure.XContentTypeOptions(),
    xfo=secure.XFrameOptions().deny(),
    referrer=secure.ReferrerPolicy().no_referrer(),
    coop=secure.CrossOriginOpenerPolicy().same_origin(),
)
_HEADERS: Final = dict(_SECURE.headers)
_NO_STORE: Final = dict(secure.Secure(cache=secure.CacheControl().no_store()).headers)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, redirects and errors included (a signal, not a middleware, so
    the responses aiohttp makes itself get them too)."""
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        # Any answer but a static file may carry customer data: never keep it in a cache.
        response.headers.update(_NO_STORE)
        response.headers["Pragma"] = "no-cache"


def _lifecycle(
    refresh_seconds: float,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        svc = app[SERVICES]
        await svc.source.start()
        # The loaded ledger is millions of long-lived objects; freezing them keeps the
        # cyclic collector from walking all of them again and again (pauses of 100s of
        # ms in the middle of requests). Later objects are collected as usual.
        gc.collect()
        gc.freeze()
        task = asyncio.create_task(_refresher(svc, refresh_seconds)) if refresh_seconds else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await svc.source.close()
        svc.audit.close()

    return lifecycle


async def _refresher(svc: Services, every: float) -> None:
    """Re-score everyone now and then: when something changed, or an hour went by."""
    while True:
        await asyncio.sleep(every)
        if svc.ledger.stale(after_us=3_600_000_000):
            await svc.ledger.refresh()
