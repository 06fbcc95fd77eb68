"""The fold: `apply(state, event) -> state`, pure, deterministic, order-free.

No I/O and no clock: time comes from `event.ts` only. The result for a set of events is
the same whatever order they arrive in and however often each one arrives, because every
field merges as a counter, a min/max, a last-writer-wins register ordered by
`(occurred_at, event_id)`, or a set (see `streams.state`). Duplicates are recognised by a
64-bit hash of `event_id` kept per customer (and per rep); a false match needs two ids of
one customer to collide, about one chance in 10^17 for a customer with 50 events.

`apply` never mutates its argument. The in-process replay owns its states and calls
`apply_in_place`, the same code without the defensive copy, to avoid copying ~50 fields
per event; the Faust agents call `apply`.
"""

from __future__ import annotations

from collections.abc import Callable
from hashlib import blake2b
from typing import Final

from streams.contract import CHANNELS, REP_EVENT_TYPES, SECTIONS, Event
from streams.state import (
    MAX_CONTACT_TIMES,
    MAX_REP_WEEKS,
    WEEK_US,
    CustomerState,
    RepState,
    SortedInts,
    Suspension,
    exact_add,
)

_CHANNEL_INDEX: Final = {c: i for i, c in enumerate(CHANNELS)}
_SECTION_BIT: Final = {s: 1 << i for i, s in enumerate(SECTIONS)}


def event_hash(event_id: str) -> int:
    return int.from_bytes(blake2b(event_id.encode(), digest_size=8).digest(), "little")


def _newer(old: tuple[int, str] | None, key: tuple[int, str]) -> bool:
    return old is None or key > old


def _min(old: int | None, ts: int) -> int:
    return ts if old is None or ts < old else old


def _max(old: int | None, ts: int) -> int:
    return ts if old is None or ts > old else old


# ---------------------------------------------------------------- customer


def touches_customer(event: Event) -> bool:
    """Whether the event belongs to a customer's state (all but rep_joined / rep_left)."""
    return event.customer_id is not None and event.type not in REP_EVENT_TYPES


def apply(state: CustomerState | None, event: Event) -> CustomerState:
    """Fold one event into a customer's state; return the new state.

    `state` is None for a customer not seen before. A duplicate returns `state` itself.
    """
    if not touches_customer(event):
        raise ValueError(f"event {event.event_id} ({event.type}) belongs to no customer")
    seen = SortedInts.insert(state.seen if state else b"", event_hash(event.event_id), False)
    if seen is None:
        assert state is not None
        return state
    new = CustomerState(event.customer_id or "") if state is None else state.copy()
    _fold_customer(new, event, seen)
    return new


def apply_in_place(state: CustomerState, event: Event) -> bool:
    """Fold `event` into `state`, mutating it. Return False for a duplicate."""
    seen = SortedInts.insert(state.seen, event_hash(event.event_id), signed=False)
    if seen is None:
        return False
    _fold_customer(state, event, seen)
    return True


def _fold_customer(state: CustomerState, event: Event, seen: bytes) -> None:
    state.seen = seen
    state.events += 1
    ts = event.ts
    if state.events == 1:
        state.first_ts = state.last_ts = ts
    else:
        state.first_ts = min(state.first_ts, ts)
        state.last_ts = max(state.last_ts, ts)
    handler = _CUSTOMER_HANDLERS.get(event.type)
    if handler is not None:
        handler(state, event)


def _set_owner(s: CustomerState, e: Event, owner: str | None, via: str) -> None:
    key = e.key
    if _newer(s.owner_key, key):
        s.owner_key = key
        s.owner = owner
        s.owner_via = via


def _lead_created(s: CustomerState, e: Event) -> None:
    p = e.payload
    s.created_ts = _min(s.created_ts, e.ts)
    if _newer(s.lead_key, e.key):
        s.lead_key = e.key
        s.source = p["source"]
        s.industry = p.get("industry")
        s.size = p.get("size")
        value = p.get("potential_value")
        s.potential_value = None if value is None else float(value)
    _set_owner(s, e, e.rep_id, "lead")


def _contact_made(s: CustomerState, e: Event) -> None:
    p = e.payload
    ts = e.ts
    s.contacts += 1
    s.last_contact_ts = _max(s.last_contact_ts, ts)
    index = _CHANNEL_INDEX[p["channel"]]
    counts = list(s.by_channel)
    counts[index] += 1
    if not p["effective"]:
        s.by_channel = tuple(counts)
        return
    counts[len(CHANNELS) + index] += 1
    s.by_channel = tuple(counts)
    s.effective += 1
    s.first_contact_ts = _min(s.first_contact_ts, ts)
    _add_contact_time(s, ts)
    _note_contact_rep(s, e.rep_id, ts)


def _add_contact_time(s: CustomerState, ts: int) -> None:
    # A multiset: two effective contacts in the same microsecond are two contacts, and
    # `effective_before` / `effective_between` must count both.
    times = SortedInts.add(s.contact_times, ts, signed=True)
    if len(times) > 8 * MAX_CONTACT_TIMES:
        times = times[8:]
    s.contact_times = times


def _note_contact_rep(s: CustomerState, rep_id: str | None, ts: int) -> None:
    if rep_id is None:
        return
    reps = dict(s.contact_reps)
    if ts > reps.get(rep_id, -(2**63)):
        reps[rep_id] = ts
        s.contact_reps = tuple(sorted(reps.items()))


def _portrait_updated(s: CustomerState, e: Event) -> None:
    s.sections |= _SECTION_BIT[e.payload["section"]]
    s.portrait_updates += 1
    s.portrait_last_ts = _max(s.portrait_last_ts, e.ts)


def _need_identified(s: CustomerState, e: Event) -> None:
    if _newer(s.need_key, e.key):
        p = e.payload
        s.need_key = e.key
        s.clear_need = p["clear_need"]
        value = p.get("expected_value")
        s.need_value = None if value is None else float(value)
        s.need_due = p.get("due_date")


def _quote_sent(s: CustomerState, e: Event) -> None:
    amount = float(e.payload["amount"])
    s.quotes += 1
    s.quoted_sum = exact_add(s.quoted_sum, amount)
    if _newer(s.quote_key, e.key):
        s.quote_key = e.key
        s.quote_amount = amount


def _order_won(s: CustomerState, e: Event) -> None:
    amount = float(e.payload["amount"])
    s.orders += 1
    s.order_sum = exact_add(s.order_sum, amount)
    s.first_order_ts = _min(s.first_order_ts, e.ts)
    if _newer(s.order_key, e.key):
        s.order_key = e.key
        s.last_order_amount = amount


def _order_lost(s: CustomerState, e: Event) -> None:
    s.losses += 1
    if _newer(s.loss_key, e.key):
        s.loss_key = e.key
        s.loss_reason = e.payload["reason"]


def _importance_set(s: CustomerState, e: Event) -> None:
    p = e.payload
    change = (e.ts, e.event_id, bool(p["never_suspend"]))
    s.never_suspend_changes = tuple(sorted((*s.never_suspend_changes, change)))
    if _newer(s.tier_key, e.key):
        s.tier_key = e.key
        s.tier = p["tier"]
        s.never_suspend = bool(p["never_suspend"])


def _customer_suspended(s: CustomerState, e: Event) -> None:
    entry = Suspension(e.ts, e.event_id, e.payload["reason"], e.rep_id)
    s.suspensions = tuple(sorted((*s.suspensions, entry), key=lambda x: (x.ts, x.event_id)))
    _set_owner(s, e, None, "suspended")


def _customer_assigned(s: CustomerState, e: Event) -> None:
    s.assignments += 1
    _set_owner(s, e, e.rep_id, "assigned")


def _complaint_received(s: CustomerState, e: Event) -> None:
    if e.payload["severity"] == "major":
        s.complaints_major += 1
    else:
        s.complaints_minor += 1
    s.last_complaint_ts = _max(s.last_complaint_ts, e.ts)


_CUSTOMER_HANDLERS: Final[dict[str, Callable[[CustomerState, Event], None]]] = {
    "lead_created": _lead_created,
    "contact_made": _contact_made,
    "portrait_updated": _portrait_updated,
    "need_identified": _need_identified,
    "quote_sent": _quote_sent,
    "order_won": _order_won,
    "order_lost": _order_lost,
    "importance_set": _importance_set,
    "customer_suspended": _customer_suspended,
    "customer_assigned": _customer_assigned,
    "complaint_received": _complaint_received,
}


# ---------------------------------------------------------------- rep


def touches_rep(event: Event) -> bool:
    """Whether the event changes its rep's state (all events that name a rep do)."""
    return event.rep_id is not None


def apply_rep(state: RepState | None, event: Event) -> RepState:
    """Fold one event into the state of `event.rep_id`; pure, like `apply`."""
    if event.rep_id is None:
        raise ValueError(f"event {event.event_id} names no rep")
    seen = SortedInts.insert(state.seen if state else b"", event_hash(event.event_id), False)
    if seen is None:
        assert state is not None
        return state
    new = RepState(event.rep_id) if state is None else state.copy()
    _fold_rep(new, event, seen)
    return new


def apply_rep_in_place(state: RepState, event: Event) -> bool:
    seen = SortedInts.insert(state.seen, event_hash(event.event_id), signed=False)
    if seen is None:
        return False
    _fold_rep(state, event, seen)
    return True


def _fold_rep(state: RepState, event: Event, seen: bytes) -> None:
    first = not state.seen
    state.seen = seen
    ts = event.ts
    if first:
        state.first_ts = state.last_ts = ts
    else:
        state.first_ts = min(state.first_ts, ts)
        state.last_ts = max(state.last_ts, ts)
    kind = event.type
    p = event.payload
    bucket = (0, 0, 0, 0)
    if kind == "rep_joined":
        if _newer(state.joined_key, event.key):
            state.joined_key = event.key
            state.role = p["role"]
            state.team = p.get("team")
            state.name = p.get("name")
    elif kind == "rep_left":
        if _newer(state.left_key, event.key):
            state.left_key = event.key
    elif kind == "contact_made":
        state.contacts += 1
        if p["effective"]:
            state.effective += 1
            bucket = (1, 0, 0, 0)
    elif kind in ("lead_created", "customer_assigned"):
        state.leads += 1
        bucket = (0, 1, 0, 0)
    elif kind == "quote_sent":
        state.quotes += 1
        bucket = (0, 0, 1, 0)
    elif kind == "order_won":
        state.deals += 1
        state.deal_sum = exact_add(state.deal_sum, float(p["amount"]))
        bucket = (0, 0, 0, 1)
    elif kind == "order_lost":
        state.losses += 1
    elif kind == "customer_suspended":
        state.suspensions += 1
    elif kind == "complaint_received":
        state.complaints += 1
    if any(bucket):
        _add_to_week(state, ts // WEEK_US, bucket)


def _add_to_week(state: RepState, week: int, counts: tuple[int, int, int, int]) -> None:
    weeks = {w: (a, b, c, d) for w, a, b, c, d in state.weeks}
    old = weeks.get(week, (0, 0, 0, 0))
    weeks[week] = (old[0] + counts[0], old[1] + counts[1], old[2] + counts[2], old[3] + counts[3])
    # Keeping the newest N weeks of a set of weeks is order-independent.
    kept = sorted(weeks.items())[-MAX_REP_WEEKS:]
    state.weeks = tuple((w, *v) for w, v in kept)
