"""What a manager sees: the team's report, its alerts, and the pool with its assignment.

The numbers come from the planning code itself (`planning.*`), run over the manager's
scope only: the customers of the team's reps and the public pool. A manager of one team
never sees another team's customers, not even as counts in a table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pandas as pd

from planning.alerts import activity_alerts, manager_join, suspension_violations
from planning.book import Book, build_book
from planning.dormant import dormant_table
from planning.forecast import revenue_forecast
from planning.funnel import funnel_by_rep
from planning.pool import pool_table, recommend
from streams.core.contract import to_datetime
from streams.core.state import CustomerState, RepState
from web.charts import plot
from web.context import Caller, Services
from web.customers import entry
from web.errors import HttpError, forbidden, not_found
from web.forms import assignment_event
from web.labels import N_
from web.paging import page_of

MAX_ROWS = 200  # rows per table on a page; the API says how many there were in all
PAGE_ROWS = 25  # rows per page of a paged table


def paged(
    out: dict[str, Any],
    name: str,
    frame: pd.DataFrame,
    query: Mapping[str, str],
    main: bool = False,
) -> None:
    """Put a page of `frame` at out[name] and its paging at out[name + "_page"].

    A table's page is asked for by `?{name}_limit=&{name}_cursor=`; the endpoint's main
    table also by plain `?limit=&cursor=`.
    """
    asked = {
        "limit": query.get(f"{name}_limit") or (query.get("limit", "") if main else ""),
        "cursor": query.get(f"{name}_cursor") or (query.get("cursor", "") if main else ""),
    }
    page = page_of(range(len(frame)), asked, PAGE_ROWS)
    out[name] = records(frame.iloc[page.offset : page.offset + page.limit], page.limit)
    out[f"{name}_page"] = {**page.meta(), "param": f"{name}_cursor", "first": page.first}
    out[f"{name}_page"]["last"] = page.last


def records(frame: pd.DataFrame, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    out = []
    for row in frame.head(limit).to_dict(orient="records"):
        out.append({str(k): _plain(v) for k, v in row.items()})
    return out


def _plain(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return value


def _scope(svc: Services, who: Caller) -> tuple[dict[str, CustomerState], dict[str, RepState]]:
    if who.user.role != "manager":
        raise forbidden("managers only")
    access = svc.access
    ledger = svc.ledger
    team = set(access.team_reps(who.user))
    states = {cid: s for cid, s in ledger.customers.items() if access.manages(who.user, s)}
    reps = {r: s for r, s in ledger.reps.items() if r in team}
    return states, reps


def team_book(svc: Services, who: Caller) -> tuple[Book, dict[str, RepState]]:
    states, reps = _scope(svc, who)
    ledger = svc.ledger
    frame = ledger.scores_frame(states.values())
    return build_book(states, ledger.reps, frame, ledger.as_of), reps


# The relationship's order (DOMAIN.md): a chart or table of stages reads in it.
STAGE_ORDER = ("none", "doctor", "teacher", "friend", "brother")
NO_QUERY: Mapping[str, str] = {}


def _stage_key(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)


def rep_label(reps: Mapping[str, RepState], rep_id: str) -> str:
    rep = reps.get(rep_id)
    name = rep.name if rep is not None else None
    return f"{name} ({rep_id})" if name else rep_id


def report(svc: Services, who: Caller, query: Mapping[str, str] = NO_QUERY) -> dict[str, Any]:
    book, reps = team_book(svc, who)
    funnel = funnel_by_rep(book, reps, svc.policy)
    # The team's reps; a manager's own row (no customers of its own) is no rep's funnel.
    funnel = funnel[funnel["rep_id"].isin(reps) & (funnel["role"] != "manager")]
    sellers = {r: s for r, s in reps.items() if s.role != "manager"}
    by_rep_value: dict[str, float] = {}
    by_stage: Counter[str] = Counter()
    pool_value = 0.0
    for i, state in enumerate(book.states):
        value = float(book.predicted_value[i])
        by_stage[state.stage] += 1
        if book.in_pool[i]:
            pool_value += value
        elif state.owner is not None:
            by_rep_value[state.owner] = by_rep_value.get(state.owner, 0.0) + value
    dormant = dormant_table(book, svc.policy)
    # The team's own customers: the pool is everyone's, not this team's revenue.
    forecast = revenue_forecast(
        book, reps, svc.ledger.scorer.value, svc.policy.horizon_days, include_pool=False
    )
    pipeline = [(r, round(by_rep_value.get(r, 0.0), 2)) for r in sorted(sellers)]
    leads_deals = [
        (str(row["rep_id"]), float(row["leads"]), float(row["deals"]))
        for row in funnel.to_dict(orient="records")
    ]
    stages = sorted(by_stage.items(), key=lambda kv: _stage_key(kv[0]))
    out: dict[str, Any] = {
        "team": svc.access.team_of(who.user),
        "as_of": to_datetime(book.as_of).isoformat() if book.as_of else None,
        "customers": len(book),
        "pipeline_value": round(sum(by_rep_value.values()), 2),
        "pool_value": round(pool_value, 2),
        "revenue": forecast.to_dict(),
        "revenue_line": forecast.team_line(),
        "revenue_by_rep": [
            {"rep_id": row["rep_id"], "name": row["name"], "line": line}
            for row, line in zip(
                forecast.reps.to_dict(orient="records"), forecast.rep_lines(), strict=True
            )
        ],
        "pipeline_by_rep": [
            {"rep_id": r, "name": rep_label(reps, r), "predicted_value": v} for r, v in pipeline
        ],
        "customers_by_stage": dict(stages),
        "dormant_count": len(dormant),
        "reps": [{"rep_id": r, "name": rep_label(reps, r)} for r in sorted(sellers)],
        "plots": {
            "pipeline_by_rep": plot(
                N_("Predicted pipeline value by rep"),
                [(rep_label(reps, r), v) for r, v in pipeline],
            ),
            "funnel": plot(
                N_("Leads by rep (deals in brackets)"),
                [(f"{rep_label(reps, r)} ({d:.0f})", leads) for r, leads, d in leads_deals],
            ),
            "stages": plot(N_("Customers by portrait stage"), [(k, float(v)) for k, v in stages]),
        },
    }
    paged(out, "funnel", funnel.reset_index(drop=True), query)
    paged(out, "dormant", dormant.reset_index(drop=True), query, main=True)
    return out


def alerts(svc: Services, who: Caller, query: Mapping[str, str] = NO_QUERY) -> dict[str, Any]:
    book, reps = team_book(svc, who)
    activity = activity_alerts(book, reps, svc.policy)
    join = manager_join(book, svc.policy)
    violations = suspension_violations(book, svc.policy)
    out: dict[str, Any] = {"manager_join_count": len(join)}
    paged(out, "activity", activity.reset_index(drop=True), query)
    paged(out, "manager_join", join.reset_index(drop=True), query, main=True)
    paged(out, "suspension_violations", violations.reset_index(drop=True), query)
    return out


def pool(svc: Services, who: Caller, query: Mapping[str, str] = NO_QUERY) -> dict[str, Any]:
    """The public pool; for a manager with the recommended assignment to the team's reps."""
    ledger = svc.ledger
    if who.user.role not in ("rep", "manager"):
        raise forbidden(f"role {who.user.role} does not see the pool")
    states = {cid: s for cid, s in ledger.customers.items() if ledger.in_pool(s)}
    frame = ledger.scores_frame(states.values())
    book = build_book(states, ledger.reps, frame, ledger.as_of)
    table = pool_table(book)
    out: dict[str, Any] = {
        "as_of": to_datetime(book.as_of).isoformat() if book.as_of else None,
        "size": len(table),
    }
    shown = table.drop(columns=["reasons"], errors="ignore").reset_index(drop=True)
    paged(out, "customers", shown, query, main=True)
    if who.user.role == "manager":
        team = {r: s for r, s in ledger.reps.items() if r in svc.access.team_reps(who.user)}
        rec = recommend(book, team, svc.policy)
        paged(out, "recommended", rec.assignment.reset_index(drop=True), query)
        # Claims waiting for this manager (CLOSECAST_CLAIM_APPROVAL): accept them through
        # the assignments like any other.
        out["claim_requests"] = [
            r for r in svc.claim_requests.pending(states) if r["rep_id"] in team
        ]
        out["recommended_value"] = rec.total_value
        out["receivers"] = records(rec.receivers)
    return out


async def accept(svc: Services, who: Caller, body: object) -> dict[str, Any]:
    """Accept (possibly edited) pool assignments: one `customer_assigned` event each."""
    if who.user.role != "manager":
        raise forbidden("managers only")
    pairs = _pairs(body)
    ledger = svc.ledger
    team = set(svc.access.team_reps(who.user))
    events = []
    for customer_id, rep_id in pairs:
        state = ledger.customer(customer_id)
        if state is None:
            raise not_found("customer", customer_id)
        if not ledger.in_pool(state):
            raise HttpError(409, f"customer {customer_id} is no longer in the pool")
        rep = ledger.reps.get(rep_id)
        if rep is None:
            raise not_found("rep", rep_id)
        if rep_id not in team:
            raise forbidden(f"rep {rep_id} is not in your team")
        if not rep.active:
            raise HttpError(409, f"rep {rep_id} has left")
        events.append(assignment_event(customer_id, rep_id, who.user.id, entry(svc)))
    await svc.source.append(events)
    for event in events:
        svc.audit.record(
            user=who.user.id,
            role=who.user.role,
            action="assign",
            customer_id=event.customer_id or "",
            outcome="allowed",
            reason=f"to rep {event.rep_id}",
            request_id=who.request_id,
        )
    return {"assigned": [{"customer_id": c, "rep_id": r} for c, r in pairs]}


def _pairs(body: object) -> list[tuple[str, str]]:
    if not isinstance(body, Mapping) or not isinstance(body.get("assignments"), list):
        raise HttpError(400, "assignments: must be a list", field="assignments")
    items = body["assignments"]
    if not items:
        raise HttpError(400, "assignments: must not be empty", field="assignments")
    if len(items) > 1000:
        raise HttpError(413, "assignments: more than 1000 in one request", field="assignments")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for k, item in enumerate(items):
        where = f"assignments[{k}]"
        if not isinstance(item, Mapping):
            raise HttpError(400, f"{where}: must be an object", field=where)
        cid, rep = item.get("customer_id"), item.get("rep_id")
        if not isinstance(cid, str) or not cid:
            raise HttpError(400, f"{where}.customer_id: must be a string", field=where)
        if not isinstance(rep, str) or not rep:
            raise HttpError(400, f"{where}.rep_id: must be a string", field=where)
        if cid in seen:
            raise HttpError(400, f"{where}: customer {cid} appears twice", field=where)
        seen.add(cid)
        pairs.append((cid, rep))
    return pairs
