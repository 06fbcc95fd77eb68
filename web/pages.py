"""The HTML pages: the same views as the API, rendered on the server.

Pages work without JavaScript, on a phone: forms post, the server redirects back (so a
reload never records a contact twice), and every figure is text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote, urlencode, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web import admin, analysis, customers, i18n, reasons, team
from web.api import check_login, end_session, wanted_rep
from web.calllists import SORTS
from web.charts import curve_svg, svg
from web.context import CALLER_KEY, caller, services
from web.errors import HttpError
from web.forms import event_from_form
from web.labels import LABELS, N_, cell, choices, heading, label, trend_label, why_text
from web.paging import page_of
from web.routes import ALL_ROLES, Param, Route
from web.sessions import COOKIE

TEMPLATES: Final = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# The current request's language (web.i18n's context variable) answers every _().
TEMPLATES.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True
)


def _chart(chart: dict[str, Any]) -> Any:
    """A chart in the page's language: its title, and its stage names when it has them."""
    stages = set(LABELS["stage"])
    bars = [[label("stage", b) if b in stages else b, v] for b, v in chart["bars"]]
    return svg({"title": i18n.gettext(chart["title"]), "bars": bars})


TEMPLATES.filters["svg"] = _chart
TEMPLATES.filters["when"] = i18n.when
TEMPLATES.globals.update(
    when=i18n.when,
    day=i18n.day,
    num=i18n.num,
    pct=i18n.pct,
    yes_no=i18n.yes_no,
    days_ago=i18n.days_ago,
    why_text=lambda message, values: why_text(message, values),
    metric=lambda name, value: metric_text(name, value),
    for_people=reasons.translate,
    label=label,
    due_label=lambda code: label("due", code),
    action_label=lambda code: label("action", code),
    channel_label=lambda code: label("channel", code),
    flag_label=lambda code: label("flag", code),
    source_label=lambda code: label("source", code),
    trend_label=lambda line: trend_label(line.trend, line.trend_change),
    languages=i18n.NAMES,
)
HOME: Final = {"rep": "/calls", "manager": "/manager", "analyst": "/analyst", "admin": "/admin"}
NAV: Final = {
    "rep": (("/calls", N_("Call list")), ("/pool", N_("Pool")), ("/search", N_("Search"))),
    "manager": (
        ("/manager", N_("Report")),
        ("/alerts", N_("Alerts")),
        ("/pool", N_("Pool")),
        ("/calls", N_("Call lists")),
        ("/search", N_("Search")),
    ),
    "analyst": (("/analyst", N_("Models & data")),),
    "admin": (("/admin", N_("Audit & access")),),
}
CHANNELS: Final = ("phone", "wechat", "sms", "email", "visit", "hosted_visit")


def metric_text(name: str, value: object) -> str:
    """A model metric as people read it: AUCs to two places, shares as percentages."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value) if value is not None else "—"
    if "auc" in name:
        return i18n.num(float(value), 3)
    if name in ("rows", "positives", "customers", "origins") or name.startswith("n_"):
        return i18n.num(float(value))
    return i18n.pct(float(value), 2 if abs(float(value)) < 0.1 else 1)


def page_lang(request: web.Request) -> i18n.Lang:
    """The request's language (?lang=, the cookie, Accept-Language) and the team's zone."""
    tag = i18n.choose(
        request.query.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("Accept-Language"),
    )
    try:
        zone = services(request).settings.timezone
    except KeyError:  # no services (a bare app in a test): UTC
        zone = "UTC"
    return i18n.Lang(tag, zone)


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    who = request.get(CALLER_KEY)
    lang = page_lang(request)
    base: dict[str, Any] = {
        "user": None,
        "csrf": "",
        "nav": (),
        "path": request.path,
        "lang": lang.tag,
        "zone": lang.zone,
    }
    query = dict(request.query)
    # Links built from this URL (language, page) must not carry an off-site redirect
    # target back into the page: `next` goes on only when it is a path of this site.
    if "next" in query:
        vetted = local_path(query.pop("next"), "")
        if vetted:
            query["next"] = vetted

    def href_with(param: str, value: object) -> str:
        """This page with one query parameter changed (a table's page link)."""
        return request.path + "?" + urlencode({**query, param: str(value)})

    base.update(href_with=href_with, rep_names={}, link_reps=False, heading=heading, cell=cell)
    if who is not None:
        svc = services(request)
        base.update(
            user=who.user,
            csrf=svc.signer.csrf(who.session),
            nav=NAV.get(who.user.role, ()),
            rep_names={r: _rep_label(s.name or "", r) for r, s in svc.ledger.reps.items()},
            link_reps=who.user.role == "manager",
        )
    with i18n.using(lang):
        html = TEMPLATES.get_template(name).render(**base, **context)
    response = web.Response(text=html, status=status, content_type="text/html")
    if request.query.get("lang") in i18n.LANGUAGES:
        # The user's choice is remembered until they choose again.
        response.set_cookie(i18n.COOKIE, lang.tag, max_age=365 * 86400, path="/", samesite="Strict")
    return response


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


_LIST_KEYS: Final = ("status", "stage", "tier", "due", "sort")


async def calls_page(request: web.Request) -> web.Response:
    svc = services(request)
    who = caller(request)
    team_reps = svc.access.team_reps(who.user) if who.user.role == "manager" else []
    reps_only = [r for r in team_reps if r != who.user.rep_id]
    # A manager's "Call lists" opens the team's first rep, not the manager's own (empty)
    # list; the picker above it reaches every other rep.
    first_rep = reps_only and not request.query.get("rep")
    rep_id = reps_only[0] if first_rep else wanted_rep(request)
    listed = svc.calllists.get(rep_id)
    query = {k: request.query.get(k, "") for k in _LIST_KEYS}
    page = page_of(listed.select(request.query), request.query)
    keep = {k: v for k, v in query.items() if v}
    if rep_id != who.user.rep_id:
        keep["rep"] = rep_id

    def page_link(cursor: str) -> str:
        return "/calls?" + urlencode({**keep, "cursor": cursor})

    back = "/calls" + ("?" + urlencode(keep) if keep else "")
    names = {r: _rep_name(svc, r) for r in team_reps}
    with i18n.using(page_lang(request)):
        filters = [
            ("due", i18n.gettext("Due"), choices("due")),
            ("status", i18n.gettext("Status"), choices("status")[:2]),
            ("stage", i18n.gettext("Stage"), choices("stage")),
            ("tier", i18n.gettext("Tier"), choices("tier")),
        ]
        sorts = [(k, i18n.gettext(v)) for k, v in _SORT_LABELS.items() if k in SORTS]
    return render(
        request,
        "calls.html",
        listed=listed,
        page=page,
        counts=listed.counts,
        rep_id=rep_id,
        # One's own list says one's name; a manager's view of a rep's says whose it is.
        rep_label=(listed.rep_name or rep_id)
        if rep_id == who.user.rep_id
        else _rep_label(listed.rep_name, rep_id),
        team_reps=[(r, names[r]) for r in reps_only],
        filters=filters,
        sorts=sorts,
        query=query,
        query_used=any(query.values()),
        channels=CHANNELS,
        back=back,
        page_link=page_link,
        notice=request.query.get("notice"),
    )


_SORT_LABELS: Final = {
    "rank": N_("priority"),
    "value": N_("predicted value"),
    "chance": N_("chance to close"),
    "silence": N_("days without contact"),
    "company": N_("company"),
    "trend": N_("score trend"),
}


def _rep_name(svc: Any, rep_id: str) -> str:
    rep = svc.ledger.reps.get(rep_id)
    name = rep.name if rep is not None else None
    return _rep_label(name or "", rep_id)


def _rep_label(name: str, rep_id: str) -> str:
    return f"{name} ({rep_id})" if name else rep_id


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
    who, svc = caller(request), services(request)
    found = customers.search(svc, who, query, request.query) if query else None
    return render(request, "search.html", q=query, found=found)


# ---------------------------------------------------------------- managers


async def pool_page(request: web.Request) -> web.Response:
    data = team.pool(services(request), caller(request), request.query)
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
    return render(
        request, "manager.html", r=team.report(services(request), caller(request), request.query)
    )


async def alerts_page(request: web.Request) -> web.Response:
    return render(
        request, "alerts.html", a=team.alerts(services(request), caller(request), request.query)
    )


# ---------------------------------------------------------------- analysts, admins


async def analyst_page(request: web.Request) -> web.Response:
    a, b = request.query.get("a", ""), request.query.get("b", "")
    compare = (a, b) if a and b else None
    data = analysis.models(services(request), caller(request), compare)
    return render(
        request, "analyst.html", m=data, curve=curve_chart, notice=request.query.get("notice")
    )


def curve_chart(kind: str, series: dict[str, list[tuple[float, float]]]) -> Any:
    titles = {
        "roc": (N_("ROC curve"), N_("false positive rate"), N_("true positive rate")),
        "calibration": (N_("Calibration"), N_("predicted"), N_("observed")),
        "capture": (N_("Capture"), N_("share of customers"), N_("share of closes")),
    }
    title, x, y = (i18n.gettext(t) for t in titles[kind])
    return curve_svg(title, series, diagonal=True, x_label=x, y_label=y)


async def promote_submit(request: web.Request) -> web.StreamResponse:
    return await _model_change(request, "promote")


async def rollback_submit(request: web.Request) -> web.StreamResponse:
    return await _model_change(request, "rollback")


async def _model_change(request: web.Request, action: str) -> web.StreamResponse:
    form = await request.post()
    after = analysis.change_model(
        services(request), caller(request), action, str(form.get("version", ""))
    )
    with i18n.using(page_lang(request)):
        notice = i18n.gettext("Current model: %(v)s (recorded in the audit log)") % {"v": after}
    raise web.HTTPSeeOther(f"/analyst?notice={quote(notice)}")


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
    Route(
        "POST",
        "/analyst/promote",
        promote_submit,
        ("analyst",),
        "make a model version current (audited)",
        page=True,
    ),
    Route(
        "POST",
        "/analyst/rollback",
        rollback_submit,
        ("analyst",),
        "make the previous model current again (audited)",
        page=True,
    ),
    Route("GET", "/admin", admin_page, ("admin",), "audit log and access", page=True),
)
