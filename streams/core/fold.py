"""The fold: `apply(state, event) -> state`, pure, deterministic, order-free.

No I/O and no clock: time comes from `event.ts` only. The result for a set of events is
the same whatever order they arrive in and however often each one arrives, because every
field merges as a counter, a min/max, a last-writer-wins register ordered by
`(occurred_at, event_id)`, or a set (see `streams.core.state`). Duplicates are recognised by a
64-bit digest of `event_id` kept per customer (and per rep and week); a false match needs
two ids of one customer to collide, about one chance in 10^16 for a customer with 500
events.

`apply` never mutates its argument. The in-process replay owns its states and calls
`apply_in_place`, the same code without the defensive copy, to avoid copying ~50 fields
per event; the Faust agents call `apply`.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from hashlib import blake2b
from typing import Final

from streams.core.contract import CHANNELS, REP_EVENT_TYPES, SECTIONS, Event
from streams.core.state import (
    CHANNEL_LANE_BITS,
    EARLY_CONTACT_TIMES,
    EMPTY_WEEK,
    MAX_CONTACT_TIMES,
    WEEK_US,
    CustomerState,
    IdSet,
    Key,
    RepState,
    RepWeek,
    SortedInts,
    Suspension,
    exact_add,
    make_key,
)

_CHANNEL_INDEX: Final = {c: i for i, c in enumerate(CHANNELS)}
# What one contact adds to CustomerState.by_channel: its channel's total lane, and for an
# effective one its effective lane too (precomputed: a contact is most events).
_CONTACT_LANE: Final = {c: 1 << (CHANNEL_LANE_BITS * i) for c, i in _CHANNEL_INDEX.items()}
_EFFECTIVE_CONTACT_LANES: Final = {
    c: _CONTACT_LANE[c] + (1 << (CHANNEL_LANE_BITS * (len(CHANNELS) + i)))
    for c, i in _CHANNEL_INDEX.items()
}
_SECTION_BIT: Final = {s: 1 << i for i, s in enumerate(SECTIONS)}
# A contact time as SortedInts packs it (signed 64-bit little-endian): a precompiled
# struct reads the newest without slicing it out and skips int.to_bytes' keyword parsing.
_TIME_STRUCT: Final = struct.Struct("<q")
_pack_time: Final = _TIME_STRUCT.pack
_unpack_last: Final = _TIME_STRUCT.unpack_from


_new_week: Final = tuple.__new__


def event_digest(event_id: str) -> bytes:
    return blake2b(event_id.encode(), digest_size=8).digest()


def _newer(old: Key | None, key: Key) -> bool:
    return old is None or key > old


def _intern(value: str | None) -> str | None:
    # Payload strings are fresh objects per parsed line; a million customers each holding
    # their own copy of "trade_show" or "r042" is memory spent for nothing.
    return None if value is None else sys.intern(value)


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
    digest = event_digest(event.event_id)
    if state is not None and IdSet.add(state.seen, digest) is None:
        return state
    new = CustomerState(event.customer_id or "") if state is None else state.copy()
    apply_in_place(new, event, digest)
    return new


def apply_in_place(state: CustomerState, event: Event, digest: bytes | None = None) -> bool:
    """Fold `event` into `state`, mutating it. Return False for a duplicate.

    `digest` is `event_digest(event.event_id)` when the caller has it already."""
    digest = digest or event_digest(event.event_id)
    seen = state.seen
    # IdSet.add inlined for its usual case, a new digest: a call fewer per event.
    # find, not `in`: see IdSet.add.
    if seen.find(digest) >= 0:  # a duplicate, or the digest's bytes across two entries
        added = IdSet.add(seen, digest)
        if added is None:
            return False
        seen = added
    else:
        seen += digest
    state.seen = seen
    events = state.events = state.events + 1
    ts = event.ts
    if events == 1:
        state.first_ts = state.last_ts = ts
    elif ts > state.last_ts:  # the usual case: the log is roughly in time order
        state.last_ts = ts
    elif ts < state.first_ts:
        state.first_ts = ts
    handler = _CUSTOMER_HANDLERS.get(event.type)
    if handler is not None:
        handler(state, event)
    return True


def _set_owner(s: CustomerState, key: Key, owner: str | None, via: str) -> None:
    if _newer(s.owner_key, key):
        s.owner_key = key
        s.owner = owner
        s.owner_via = via


def _lead_created(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    p = e.payload
    s.created_ts = _min(s.created_ts, e.ts)
    if _newer(s.lead_key, key):
        s.lead_key = key
        s.source = _intern(p["source"])
        s.industry = _intern(p.get("industry"))
        s.size = _intern(p.get("size"))
        value = p.get("potential_value")
        s.potential_value = None if value is None else float(value)
    _set_owner(s, key, _intern(e.rep_id), "lead")


def _contact_made(s: CustomerState, e: Event) -> None:
    p = e.payload
    ts = e.ts
    s.contacts += 1
    last = s.last_contact_ts
    if last is None or ts > last:
        s.last_contact_ts = ts
    if not p["effective"]:
        s.by_channel += _CONTACT_LANE[p["channel"]]
        return
    s.by_channel += _EFFECTIVE_CONTACT_LANES[p["channel"]]
    s.effective += 1
    first = s.first_contact_ts
    if first is None or ts < first:
        s.first_contact_ts = ts
    _add_contact_time(s, ts)
    _note_contact_rep(s, e.rep_id, ts)


def _add_contact_time(s: CustomerState, ts: int) -> None:
    # A multiset: two effective contacts in the same microsecond are two contacts, and
    # `effective_before` / `effective_between` must count both.
    packed = s.contact_times
    if not packed or ts >= _unpack_last(packed, -8)[0]:
        times = packed + _pack_time(ts)  # the usual case: in order
    else:
        times = SortedInts.add(packed, ts, signed=True)
    if len(times) > 8 * MAX_CONTACT_TIMES:
        # Only the newest are kept from here on; remember the oldest twelve so the
        # twelve-contact rule stays exact. Until this first overflow every time is in
        # `times`, so they are its first twelve.
        early = s.early_contact_times
        s.early_contact_times = (
            times[: 8 * EARLY_CONTACT_TIMES] if not early else _with_early_time(early, ts)
        )
        times = times[8:]
    s.contact_times = times


def _with_early_time(packed: bytes, ts: int) -> bytes:
    if ts >= int.from_bytes(packed[-8:], "little", signed=True):
        return packed  # the usual case: later than the oldest twelve
    return SortedInts.add(packed, ts, signed=True)[:-8]


def _note_contact_rep(s: CustomerState, rep_id: str | None, ts: int) -> None:
    if rep_id is None:
        return
    flat = s.contact_reps
    if len(flat) == 2 and flat[0] == rep_id:
        # The usual case: one rep follows the customer.
        if ts > flat[1]:  # type: ignore[operator]
            s.contact_reps = (flat[0], ts)
        return
    reps = dict(zip(flat[::2], flat[1::2], strict=True))
    if ts > reps.get(rep_id, -(2**63)):  # type: ignore[operator]
        reps[sys.intern(rep_id)] = ts
        s.contact_reps = tuple(x for pair in sorted(reps.items()) for x in pair)


def _portrait_updated(s: CustomerState, e: Event) -> None:
    s.sections |= _SECTION_BIT[e.payload["section"]]
    s.portrait_updates += 1
    s.portrait_last_ts = _max(s.portrait_last_ts, e.ts)


def _need_identified(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    if _newer(s.need_key, key):
        p = e.payload
        s.need_key = key
        s.clear_need = p["clear_need"]
        value = p.get("expected_value")
        s.need_value = None if value is None else float(value)
        s.need_due = p.get("due_date")


def _quote_sent(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    amount = float(e.payload["amount"])
    s.quotes += 1
    s.quoted_sum = exact_add(s.quoted_sum, amount)
    if _newer(s.quote_key, key):
        s.quote_key = key
        s.quote_amount = amount


def _order_won(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    amount = float(e.payload["amount"])
    s.orders += 1
    s.order_sum = exact_add(s.order_sum, amount)
    s.first_order_ts = _min(s.first_order_ts, e.ts)
    if _newer(s.order_key, key):
        s.order_key = key
        s.last_order_amount = amount


def _order_lost(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    s.losses += 1
    if _newer(s.loss_key, key):
        s.loss_key = key
        s.loss_reason = sys.intern(e.payload["reason"])


def _importance_set(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    p = e.payload
    change = (e.ts, e.event_id, bool(p["never_suspend"]))
    s.never_suspend_changes = tuple(sorted((*s.never_suspend_changes, change)))
    if _newer(s.tier_key, key):
        s.tier_key = key
        s.tier = sys.intern(p["tier"])
        s.never_suspend = bool(p["never_suspend"])


def _customer_suspended(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    entry = Suspension(e.ts, e.event_id, sys.intern(e.payload["reason"]), _intern(e.rep_id))
    s.suspensions = tuple(sorted((*s.suspensions, entry), key=lambda x: (x.ts, x.event_id)))
    _set_owner(s, key, None, "suspended")


def _customer_assigned(s: CustomerState, e: Event) -> None:
    key = make_key(e.ts, e.event_id)
    s.assignments += 1
    _set_owner(s, key, _intern(e.rep_id), "assigned")


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
    new = RepState(event.rep_id) if state is None else state.copy()
    new.weeks = dict(new.weeks)  # the in-place fold mutates this dict: copy it first
    if not apply_rep_in_place(new, event):
        assert state is not None
        return state
    return new


def apply_rep_in_place(state: RepState, event: Event, digest: bytes | None = None) -> bool:
    """Fold `event` into `state`, mutating it. Return False for a duplicate."""
    digest = digest or event_digest(event.event_id)
    ts = event.ts
    if event.type in REP_EVENT_TYPES:
        seen = IdSet.add(state.profile_seen, digest)
        if seen is None:
            return False
        state.profile_seen = seen
        _rep_profile(state, event)
    else:
        index = ts // WEEK_US
        week = state.weeks.get(index, EMPTY_WEEK)
        week_seen = week.seen
        if week_seen.find(digest) >= 0:  # IdSet.add inlined, as in apply_in_place
            added = IdSet.add(week_seen, digest)
            if added is None:
                return False
            week_seen = added
        else:
            week_seen += digest
        state.weeks[index] = _rep_week(week, week_seen, event)
    if state.first_ts == state.last_ts == 0:
        state.first_ts = state.last_ts = ts
    elif ts > state.last_ts:
        state.last_ts = ts
    elif ts < state.first_ts:
        state.first_ts = ts
    return True


def _rep_profile(state: RepState, event: Event) -> None:
    key = make_key(event.ts, event.event_id)
    if event.type == "rep_joined":
        if _newer(state.joined_key, key):
            p = event.payload
            state.joined_key = key
            state.role = sys.intern(p["role"])
            state.team = _intern(p.get("team"))
            state.name = p.get("name")
    elif _newer(state.left_key, key):
        state.left_key = key


def _rep_week(week: RepWeek, seen: bytes, event: Event) -> RepWeek:
    _, effective, contacts, leads, quotes, deals, total, losses, suspended, complaints = week
    kind = event.type
    if kind == "contact_made":
        contacts += 1
        effective += 1 if event.payload["effective"] else 0
    elif kind in ("lead_created", "customer_assigned"):
        leads += 1
    elif kind == "quote_sent":
        quotes += 1
    elif kind == "order_won":
        deals += 1
        total = exact_add(total, float(event.payload["amount"]))
    elif kind == "order_lost":
        losses += 1
    elif kind == "customer_suspended":
        suspended += 1
    elif kind == "complaint_received":
        complaints += 1
    # tuple.__new__ rather than RepWeek(...): the same value without the generated
    # __new__'s Python call, once per rep event.
    return _new_week(
        RepWeek,
        (seen, effective, contacts, leads, quotes, deals, total, losses, suspended, complaints),
    )


def merge_rep(into: RepState, other: RepState) -> bool:
    """Add to `into` what `other` folded from other events of the same rep.

    Exact when the two saw disjoint events: profile and week digests disjoint, then the
    counters add, the exact sums add, the registers keep the newest key and the time
    range widens, as if one state had folded all the events. Return False, changing
    nothing, if a digest is in both: which event counted would then depend on order.
    """
    common = into.weeks.keys() & other.weeks.keys()
    if not _disjoint(into.profile_seen, other.profile_seen) or not all(
        _disjoint(into.weeks[w].seen, other.weeks[w].seen) for w in common
    ):
        return False
    into.profile_seen += other.profile_seen
    if other.joined_key is not None and _newer(into.joined_key, other.joined_key):
        into.joined_key = other.joined_key
        into.role, into.team, into.name = other.role, other.team, other.name
    if other.left_key is not None and _newer(into.left_key, other.left_key):
        into.left_key = other.left_key
    if into.first_ts == into.last_ts == 0:  # no event yet (see apply_rep_in_place)
        into.first_ts, into.last_ts = other.first_ts, other.last_ts
    elif not other.first_ts == other.last_ts == 0:
        into.first_ts = min(into.first_ts, other.first_ts)
        into.last_ts = max(into.last_ts, other.last_ts)
    weeks = into.weeks
    for index, week in other.weeks.items():
        mine = weeks.get(index)
        weeks[index] = week if mine is None else _merge_weeks(mine, week)
    return True


def _disjoint(a: bytes, b: bytes) -> bool:
    if not a or not b:
        return True
    return set(memoryview(a).cast("Q")).isdisjoint(memoryview(b).cast("Q"))


def _merge_weeks(a: RepWeek, b: RepWeek) -> RepWeek:
    total = a.deal_amounts
    for amount in b.deal_amounts:  # exact: the sum of both expansions, whatever their order
        total = exact_add(total, amount)
    return RepWeek(
        a.seen + b.seen,
        a.effective + b.effective,
        a.contacts + b.contacts,
        a.leads + b.leads,
        a.quotes + b.quotes,
        a.deals + b.deals,
        total,
        a.losses + b.losses,
        a.suspensions + b.suspensions,
        a.complaints + b.complaints,
    )
