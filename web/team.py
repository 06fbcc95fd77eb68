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
from streams.contract import to_datetime
from streams.state import CustomerState, RepState
from web.charts import plot
from web.context import Caller, Services
from web.customers import entry
from web.errors import HttpError, forbidden, not_found
from web.forms import assignment_event

MAX_ROWS = 200  # rows per table on a page; the API says how many there were in all


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


def report(svc: Services, who: Caller) -> dict[str, Any]:
    book, reps = team_book(svc, who)
    funnel = funnel_by_rep(book, reps, svc.policy)
    funnel = funnel[funnel["rep_id"].isin(reps)]
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
    pipeline = [(r, round(by_rep_value.get(r, 0.0), 2)) for r in sorted(reps)]
    leads_deals = [
        (str(row["rep_id"]), float(row["leads"]), float(row["deals"]))
        for row in funnel.to_dict(orient="records")
    ]
    return {
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
        "pipeline_by_rep": [{"rep_id": r, "predicted_value": v} for r, v in pipeline],
        "customers_by_stage": dict(sorted(by_stage.items())),
        "funnel": records(funnel),
        "dormant": records(dormant),
        "dormant_count": len(dormant),
        "plots": {
            "pipeline_by_rep": plot(
                "Predicted pipeline value by rep", [(r, v) for r, v in pipeline]
            ),
            "funnel": plot(
                "Leads by rep (deals in brackets)",
                [(f"{r} ({d:.0f})", leads) for r, leads, d in leads_deals],
            ),
            "stages": plot(
                "Customers by portrait stage",
                [(k, float(v)) for k, v in sorted(by_stage.items())],
            ),
        },
    }


def alerts(svc: Services, who: Caller) -> dict[str, Any]:
    book, reps = team_book(svc, who)
    activity = activity_alerts(book, reps, svc.policy)
    join = manager_join(book, svc.policy)
    violations = suspension_violations(book, svc.policy)
    return {
        "activity": records(activity),
        "manager_join": records(join),
        "manager_join_count": len(join),
        "suspension_violations": records(violations),
    }


def pool(svc: Services, who: Caller) -> dict[str, Any]:
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
        "customers": records(table.drop(columns=["reasons"], errors="ignore")),
    }
    if who.user.role == "manager":
        team = {r: s for r, s in ledger.reps.items() if r in svc.access.team_reps(who.user)}
        rec = recommend(book, team, svc.policy)
        out["recommended"] = records(rec.assignment)
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
