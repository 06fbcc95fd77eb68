"""The HTML pages: the same views as the API, rendered on the server.

Pages work without JavaScript, on a phone: forms post, the server redirects back (so a
reload never records a contact twice), and every figure is text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web import admin, analysis, customers, team
from web.api import check_login, end_session, wanted_rep
from web.charts import svg
from web.context import CALLER_KEY, caller, services
from web.errors import HttpError
from web.forms import event_from_form
from web.routes import ALL_ROLES, Param, Route
from web.sessions import COOKIE

TEMPLATES: Final = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["svg"] = svg
# "2026-11-30T14:24:50.639+00:00" reads as "2026-11-30 14:24 UTC".
TEMPLATES.filters["when"] = lambda iso: f"{iso[:10]} {iso[11:16]} UTC" if iso else "—"
HOME: Final = {"rep": "/calls", "manager": "/manager", "analyst": "/analyst", "admin": "/admin"}
NAV: Final = {
    "rep": (("/calls", "Call list"), ("/pool", "Pool"), ("/search", "Search")),
    "manager": (
        ("/manager", "Report"),
        ("/alerts", "Alerts"),
        ("/pool", "Pool"),
        ("/calls", "Call lists"),
        ("/search", "Search"),
    ),
    "analyst": (("/analyst", "Models & data"),),
    "admin": (("/admin", "Audit & access"),),
}


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    who = request.get(CALLER_KEY)
    base: dict[str, Any] = {"user": None, "csrf": "", "nav": (), "path": request.path}
    if who is not None:
        svc = services(request)
        base.update(
            user=who.user,
            csrf=svc.signer.csrf(who.session),
            nav=NAV.get(who.user.role, ()),
        )
    html = TEMPLATES.get_template(name).render(**base, **context)
    return web.Response(text=html, status=status, content_type="text/html")


def error_page(request: web.Request, error: HttpError) -> web.Response:
    return render(request, "error.html", status=error.status, error=error)


def local_path(target: str | None, fallback: str) -> str:
    r"""Redirect only within this site: a relative path, never another host.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    `/\t/evil`, `/\\evil` and `//evil` all lead off-site: any control character,
    backslash or a second leading slash is refused, and so is anything with a scheme."""
    if not target or len(target) > 2000:
        return fallback
    # Checked as given and decoded once more: a proxy or a browser may decode it again.
    for form in (target, unquote(target)):
        if not form.startswith("/") or form.startswith("//") or "\\" in form:
            return fallback
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in form):
            return fallback
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return fallback
    return target


# ---------------------------------------------------------------- session


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(HOME[caller(request).user.role])


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", next=local_path(request.query.get("next"), "/"))


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    target = local_path(str(form.get("next", "")), "/")
    try:
        user_id = await check_login(
            request, str(form.get("user", "")), str(form.get("password", ""))
        )
    except HttpError as exc:
        return render(request, "login.html", status=exc.status, error=exc.message, next=target)
    svc = services(request)
    token, _ = svc.signer.issue(user_id)
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        COOKIE,
        token,
        max_age=svc.signer.seconds,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=svc.settings.secure_cookies,
    )
    raise response


async def logout_submit(request: web.Request) -> web.StreamResponse:
    end_session(request)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


# ---------------------------------------------------------------- reps


async def calls_page(request: web.Request) -> web.Response:
    svc = services(request)
    who = caller(request)
    rep_id = wanted_rep(request)
    listed = svc.calllists.get(rep_id)
    team_reps = svc.access.team_reps(who.user) if who.user.role == "manager" else []
    return render(
        request,
        "calls.html",
        listed=listed,
        rep_id=rep_id,
        team_reps=team_reps,
        as_of=listed.to_dict()["as_of"],
        notice=request.query.get("notice"),
    )


async def customer_page(request: web.Request) -> web.Response:
    cid = request.match_info["customer_id"]
    view = customers.customer_view(services(request), caller(request), cid)
    return render(request, "customer.html", c=view, notice=request.query.get("notice"))


async def sensitive_page(request: web.Request) -> web.Response:
    cid = request.match_info["customer_id"]
    view = customers.sensitive_view(services(request), caller(request), cid)
    return render(request, "sensitive.html", v=view)


async def record_submit(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    who = caller(request)
    cid = request.match_info["customer_id"]
    state = customers.visible_customer(svc, who, cid)
    if not svc.access.can_change(who.user, state):
        raise HttpError(403, f"customer {cid} is not yours to change")
    form = {k: str(v) for k, v in (await request.post()).items()}
    try:
        event = event_from_form(form, customer_id=cid, user=who.user, entry=customers.entry(svc))
    except HttpError as exc:
        if exc.status == 422:
            customers.dead_letter(svc, who, form, exc.message)
        raise
    result = await customers.record(svc, who, cid, event)
    p = result["customer"]["p_close"]
    notice = f"Recorded {event.type.replace('_', ' ')} for {cid}: p_close now {p:.1%}"
    if result["held"]:
        notice = f"Kept {event.type.replace('_', ' ')} for {cid}: dated ahead, held until then"
    back = local_path(form.get("back"), f"/customers/{quote(cid)}")
    joiner = "&" if "?" in back else "?"
    raise web.HTTPSeeOther(f"{back}{joiner}notice={quote(notice)}")


async def claim_submit(request: web.Request) -> web.StreamResponse:
    cid = request.match_info["customer_id"]
    result = await customers.claim(services(request), caller(request), cid)
    done = "claimed: waits for your manager" if result.get("pending") else "is now yours"
    notice = quote(f"{cid} {done}")
    raise web.HTTPSeeOther(f"/customers/{quote(cid)}?notice={notice}")


async def search_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    found = customers.search(services(request), caller(request), query) if query else None
    return render(request, "search.html", q=query, found=found)


# ---------------------------------------------------------------- managers


async def pool_page(request: web.Request) -> web.Response:
    data = team.pool(services(request), caller(request))
    return render(request, "pool.html", pool=data, notice=request.query.get("notice"))


async def pool_accept_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    chosen = [str(v) for v in form.getall("accept", [])]
    if not chosen:
        raise HttpError(400, "accept: tick at least one customer", field="accept")
    pairs = [{"customer_id": cid, "rep_id": str(form.get(f"rep_{cid}", ""))} for cid in chosen]
    result = await team.accept(services(request), caller(request), {"assignments": pairs})
    notice = quote(f"Assigned {len(result['assigned'])} customer(s)")
    raise web.HTTPSeeOther(f"/pool?notice={notice}")


async def manager_page(request: web.Request) -> web.Response:
    return render(request, "manager.html", r=team.report(services(request), caller(request)))


async def alerts_page(request: web.Request) -> web.Response:
    return render(request, "alerts.html", a=team.alerts(services(request), caller(request)))


# ---------------------------------------------------------------- analysts, admins


async def analyst_page(request: web.Request) -> web.Response:
    return render(request, "analyst.html", m=analysis.models(services(request), caller(request)))


async def admin_page(request: web.Request) -> web.Response:
    svc = services(request)
    who = caller(request)
    return render(
        request,
        "admin.html",
        audit=admin.audit(svc, who, request.query.get("limit")),
        access=admin.access(svc, who),
    )


_CID = Param("customer_id", "path", "the customer's id", required=True)
PAGE_ROUTES: Final = (
    Route("GET", "/login", login_page, ALL_ROLES, "login form", public=True, page=True),
    Route("POST", "/login", login_submit, ALL_ROLES, "log in", public=True, page=True),
    Route("POST", "/logout", logout_submit, ALL_ROLES, "log out", page=True),
    Route("GET", "/", home, ALL_ROLES, "the caller's home page", page=True),
    Route("GET", "/calls", calls_page, ("rep", "manager"), "call list", page=True),
    Route(
        "GET", "/customers/{customer_id}", customer_page, ("rep", "manager"), "customer", page=True
    ),
    Route(
        "GET",
        "/customers/{customer_id}/sensitive",
        sensitive_page,
        ("rep", "manager"),
        "deep and extended sections (audited)",
        params=(_CID,),
        page=True,
    ),
    Route(
        "POST",
        "/customers/{customer_id}/events",
        record_submit,
        ("rep", "manager"),
        "record an event (form)",
        page=True,
    ),
    Route(
        "POST",
        "/customers/{customer_id}/claim",
        claim_submit,
        ("rep",),
        "claim a pool customer (form)",
        page=True,
    ),
    Route("GET", "/search", search_page, ("rep", "manager"), "search", page=True),
    Route("GET", "/pool", pool_page, ("rep", "manager"), "the public pool", page=True),
    Route(
        "POST", "/pool/accept", pool_accept_submit, ("manager",), "accept assignments", page=True
    ),
    Route("GET", "/manager", manager_page, ("manager",), "manager report", page=True),
    Route("GET", "/alerts", alerts_page, ("manager",), "alerts", page=True),
    Route("GET", "/analyst", analyst_page, ("analyst",), "models and data set", page=True),
    Route("GET", "/admin", admin_page, ("admin",), "audit log and access", page=True),
)
