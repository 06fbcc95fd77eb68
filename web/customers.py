"""A customer as its rep or manager sees it, the sensitive sections, search and recording.

Every function here checks access itself (404 for an unknown id, 403 for a customer the
caller may not see or change), so the API and the pages cannot differ in what they let
through. The customer view never carries a sensitive value: only which sensitive sections
are known and whether the caller may open them, which is a separate, audited read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from features.customer import min_gap_days
from planning.book import build_book
from planning.calllist import call_lists
from streams.core.contract import SECTIONS, SENSITIVE_SECTIONS, Event, to_datetime
from streams.core.deadletter import reject
from streams.core.state import DAY_US, CustomerState
from web.context import Caller, Services
from web.errors import HttpError, forbidden, not_found
from web.forms import Entry, allowed_types, assignment_event
from web.paging import page_of

SEARCH_LIMIT: Final = 50
_PLAIN: Final = tuple(s for s in SECTIONS if s not in SENSITIVE_SECTIONS)


def _iso(ts: int | None) -> str | None:
    return None if ts is None else to_datetime(ts).isoformat()


def entry(svc: Services) -> Entry:
    """The server's clock and limits for an event a person enters now."""
    ledger = svc.ledger
    return Entry(
        now=ledger.as_of,
        received=ledger.wall(),
        backdate_us=int(svc.settings.backdate_days * DAY_US),
        skew_us=ledger.replayer.skew,
        max_amount=svc.settings.max_amount,
        hold_future=ledger.clock is not None,
    )


def visible_customer(svc: Services, who: Caller, customer_id: str) -> CustomerState:
    if who.user.role not in ("rep", "manager"):
        raise forbidden(f"role {who.user.role} does not see customers")
    state = svc.ledger.customer(customer_id)
    # One answer for "not yours" and "does not exist": a 403 would tell a rep which
    # customer ids exist.
    if state is None or not svc.access.can_see(who.user, state):
        raise not_found("customer", customer_id)
    return state


def summary(svc: Services, state: CustomerState) -> dict[str, Any]:
    """The non-sensitive one-line view used by lists and search."""
    score = svc.ledger.scores.get(state.customer_id)
    return {
        "customer_id": state.customer_id,
        "owner": state.owner,
        "in_pool": svc.ledger.in_pool(state),
        "status": state.status,
        "stage": state.stage,
        "tier": state.tier,
        "industry": state.industry,
        "effective_contacts": state.effective,
        "p_close": None if score is None else round(score.p_close, 4),
        "predicted_value": None if score is None else score.predicted_value,
    }


def days_since_contact(state: CustomerState, as_of: int) -> float | None:
    times = state.effective_times()
    return None if not times else (as_of - times[-1]) / DAY_US


def next_step(svc: Services, state: CustomerState) -> dict[str, Any]:
    """What the call list says about this customer today (the planning code's own words)."""
    ledger = svc.ledger
    frame = ledger.scores_frame([state])
    if frame.empty:
        return {"action": "wait for scoring", "why": [], "flags": []}
    owner = state.owner
    if owner is not None and not ledger.in_pool(state):
        book = build_book({state.customer_id: state}, ledger.reps, frame, ledger.as_of)
        lines = call_lists(book, svc.policy, owner, limit=1).get(owner, [])
        if lines:
            line = lines[0]
            return {"action": line.action, "why": list(line.why), "flags": list(line.flags)}
        since = days_since_contact(state, ledger.as_of) or 0.0
        wait = max(0.0, min_gap_days(state, svc.policy) - since)
        return {
            "action": "no contact today",
            "why": [f"contacted {since:.0f} days ago: next follow-up in {wait:.0f} days"],
            "flags": [],
        }
    return {"action": "claim or assign", "why": ["in the public pool: nobody follows it up"]}


def customer_view(svc: Services, who: Caller, customer_id: str) -> dict[str, Any]:
    state = visible_customer(svc, who, customer_id)
    ledger = svc.ledger
    portrait = ledger.portrait(customer_id)
    score = ledger.scores.get(customer_id)
    decision = svc.access.sensitive(who.user, state)
    known_sensitive = [s for s in state.section_names if s in SENSITIVE_SECTIONS]
    can_change = svc.access.can_change(who.user, state)
    return {
        **summary(svc, state),
        "as_of": _iso(ledger.as_of),
        "source": state.source,
        "size": state.size,
        "created_at": _iso(state.created_ts),
        "contacts": state.contacts,
        "last_contact_at": _iso(state.last_contact_ts),
        "days_since_contact": (
            None if (d := days_since_contact(state, ledger.as_of)) is None else round(d, 1)
        ),
        "clear_need": state.clear_need,
        "need_due": state.need_due,
        "quotes": state.quotes,
        "quote_open": state.quote_open,
        "orders": state.orders,
        "order_value": state.order_value,
        "last_order_at": _iso(state.last_order_ts),
        "never_suspend": state.never_suspend,
        "policy_flags": state.policy_flags(),
        "sections_known": list(state.section_names),
        "score": None if score is None else score.to_dict(),
        "next": next_step(svc, state),
        "portrait": portrait.plain() if portrait is not None else {},
        "sensitive": {
            "sections_known": known_sensitive,
            "may_read": decision.allowed and bool(known_sensitive),
            "reason": decision.reason,
        },
        "history": [h.to_dict() for h in ledger.history(customer_id)],
        "can_change": can_change,
        "can_claim": svc.access.can_claim(who.user, state),
        "may_record": list(allowed_types(who.user)) if can_change else [],
    }


def sensitive_view(svc: Services, who: Caller, customer_id: str) -> dict[str, Any]:
    """The deep and extended sections: allowed readers only, every attempt audited."""
    try:
        state = visible_customer(svc, who, customer_id)
    except HttpError as exc:
        # Attempts on customers the caller may not even see are recorded too: they are
        # what an audit is for.
        svc.audit.record(
            user=who.user.id,
            role=who.user.role,
            action="read_sensitive",
            customer_id=customer_id[:64],
            sections=[],
            outcome="refused",
            reason=exc.message,
            request_id=who.request_id,
        )
        raise
    decision = svc.access.sensitive(who.user, state)
    portrait = svc.ledger.portrait(customer_id)
    sections = sorted(portrait.sensitive()) if portrait is not None else []
    if svc.ledger.notes(customer_id):
        sections.append("notes")
    svc.audit.record(
        user=who.user.id,
        role=who.user.role,
        action="read_sensitive",
        customer_id=customer_id,
        sections=sections,
        outcome="allowed" if decision.allowed else "refused",
        reason=decision.reason,
        request_id=who.request_id,
    )
    if not decision.allowed:
        raise forbidden(f"deep and extended sections of {customer_id}: {decision.reason}")
    return {
        "customer_id": customer_id,
        "sections": portrait.sensitive() if portrait is not None else {},
        "notes": svc.ledger.notes(customer_id),
        "audited": True,
    }


def visible_states(svc: Services, who: Caller) -> list[CustomerState]:
    """Every customer the caller may see (reps: own and pool; managers: team and pool)."""
    ledger = svc.ledger
    user = who.user
    if user.role == "rep" and user.rep_id is not None:
        pool = [s for s in ledger.customers.values() if ledger.in_pool(s)]
        return ledger.owned_by(user.rep_id) + pool
    if user.role == "manager":
        return [s for s in ledger.customers.values() if svc.access.manages(user, s)]
    return []


def search(
    svc: Services, who: Caller, query: str, params: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Customers matching an id, an industry or a plain portrait value; never a sensitive one.

    Searching sensitive values would leak them even without showing them: whether a
    customer matches "divorce" says enough.
    """
    if who.user.role not in ("rep", "manager"):
        raise forbidden(f"role {who.user.role} does not see customers")
    needle = query.strip().lower()
    if not needle:
        raise HttpError(400, "q: must not be empty", field="q")
    if len(needle) > 200:
        raise HttpError(400, "q: longer than 200 characters", field="q")
    matches = [state for state in visible_states(svc, who) if _matches(svc, state, needle)]
    page = page_of(matches, params or {}, SEARCH_LIMIT)
    found = [summary(svc, state) for state in page.items]
    # The query is not echoed: the caller has it, and echoes end up in caches and logs.
    return {
        "results": found,
        "limit": page.limit,
        "results_page": {**page.meta(), "param": "cursor", "first": page.first, "last": page.last},
    }


def _matches(svc: Services, state: CustomerState, needle: str) -> bool:
    if needle in state.customer_id.lower() or needle in (state.industry or "").lower():
        return True
    portrait = svc.ledger.portrait(state.customer_id)
    if portrait is None:
        return False
    for section in portrait.view(_PLAIN).values():
        for value in section["fields"].values():
            if needle in str(value).lower():
                return True
    return False


async def record(svc: Services, who: Caller, customer_id: str, event: Event) -> dict[str, Any]:
    state = visible_customer(svc, who, customer_id)
    if not svc.access.can_change(who.user, state):
        raise forbidden(f"customer {customer_id} is not yours to change")
    if event.type == "importance_set":
        decision = svc.access.may_set_importance(who.user, state)
        _audit(
            svc,
            who,
            "set_importance",
            customer_id,
            decision.allowed,
            decision.reason,
            tier=event.payload.get("tier"),
        )
        if not decision.allowed:
            raise forbidden(f"importance of {customer_id}: {decision.reason}")
    await svc.source.append([event])
    after = svc.ledger.customer(customer_id)
    assert after is not None
    held = svc.ledger.is_ahead(event.ts)
    return {
        "recorded": event.event_id,
        "type": event.type,
        # Dated ahead of the clock: kept in the log, counted nowhere until its time.
        "held": held,
        "customer": summary(svc, after),
    }


async def claim(svc: Services, who: Caller, customer_id: str) -> dict[str, Any]:
    state = visible_customer(svc, who, customer_id)
    if not svc.access.can_claim(who.user, state):
        _audit(svc, who, "claim", customer_id, False, "not in the pool")
        raise forbidden(f"customer {customer_id} is not in the pool")
    limit = svc.settings.claims_per_day
    day = svc.ledger.as_of // DAY_US
    requested = svc.claim_requests.count_on(who.user.id, day)
    if svc.ledger.claims_on(who.user.id, svc.ledger.as_of) + requested >= limit:
        _audit(svc, who, "claim", customer_id, False, f"daily limit of {limit}")
        raise HttpError(
            429, f"claims: at most {limit} a day (CLOSECAST_CLAIMS_PER_DAY); ask your manager"
        )
    if svc.settings.claim_approval:
        # Nothing is assigned yet: a team manager accepts it from the pool page.
        _audit(
            svc,
            who,
            "claim_requested",
            customer_id,
            True,
            "waits for a manager",
            rep_id=who.user.rep_id,
            day=day,
        )
        svc.claim_requests.add(customer_id, who.user.rep_id or "", who.user.id, day)
        return {"requested": customer_id, "pending": True, "customer": summary(svc, state)}
    event = assignment_event(customer_id, who.user.rep_id or "", who.user.id, entry(svc))
    await svc.source.append([event])
    _audit(svc, who, "claim", customer_id, True, "from the pool")
    after = svc.ledger.customer(customer_id)
    assert after is not None
    return {"recorded": event.event_id, "type": event.type, "customer": summary(svc, after)}


def _audit(
    svc: Services,
    who: Caller,
    action: str,
    customer_id: str,
    allowed: bool,
    reason: str,
    **details: Any,
) -> None:
    svc.audit.record(
        user=who.user.id,
        role=who.user.role,
        action=action,
        customer_id=customer_id[:64],
        outcome="allowed" if allowed else "refused",
        reason=reason,
        request_id=who.request_id,
        details=details,
    )


def dead_letter(svc: Services, who: Caller, body: object, reason: str) -> None:
    """Keep a refused submission in the dead-letter store, redacted like any other.

    On top of the store's own redaction (values of sensitive sections), a web submission
    loses the field *names* of any portrait section that is not plainly non-sensitive:
    the person was told at once what to fix, so nothing is lost, and a name can say as
    much as a value.
    """
    try:
        raw = orjson.dumps(_without_sensitive_names(body))
    except TypeError:
        raw = repr(type(body)).encode()
    svc.source.dead_letter(reject(f"web:{who.user.id}", 0, raw, reason))


def _without_sensitive_names(body: object) -> object:
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        return body
    payload = body["payload"]
    fields = payload.get("fields")
    if isinstance(fields, dict) and payload.get("section") not in _PLAIN:
        count = len(fields)
        payload = {**payload, "fields": {f"[{count} field(s)]": "[redacted]"}}
    if "note" in payload:
        payload = {**payload, "note": "[redacted]"}
    return {**body, "payload": payload}
