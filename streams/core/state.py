"""Per-customer and per-rep state: what the fold keeps, and what is derived from it.

Every stored field is one of: a counter, a min or max, a last-writer-wins register keyed
by the contract's order `(occurred_at, event_id)`, or a sorted set. Each of those merges
the same way whatever order the events come in, which is what makes the fold's result
independent of arrival order; derived facts (status, stage, policy flags) are computed on
read from the stored fields, never stored.

The state holds no portrait *values*, only which sections are known and when: the
values can be sensitive (`deep`, `extended`) and have no business in a state table that
is replicated to a changelog topic, exported and scored. They live in the portrait store.
"""

from __future__ import annotations

import base64
import functools
import math
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson

from streams.core.contract import CHANNELS, SECTIONS

# A last-writer-wins key: occurred_at as 8 big-endian bytes, then the event_id. Bytes
# compare in the contract's order (time, then event_id) and cost one object instead of
# three (a tuple, an int, a str), which matters at a million customers.
Key = bytes


def make_key(ts: int, event_id: str) -> Key:
    return ts.to_bytes(8, "big") + event_id.encode()


def key_ts(key: Key) -> int:
    return int.from_bytes(key[:8], "big")


def key_event_id(key: Key) -> str:
    return key[8:].decode()


# Effective contact times kept per customer. Enough for every cadence window the product
# uses (the last 90 days at any sane cadence, the twelve-contact rule); older ones are
# only counted. Keeping the newest N of a multiset is itself order-independent.
MAX_CONTACT_TIMES: Final = 64
# Width of one channel counter in CustomerState.by_channel: a trillion contacts a channel.
CHANNEL_LANE_BITS: Final = 40
_LANE_MASK: Final = (1 << CHANNEL_LANE_BITS) - 1
TWELVE: Final = 12
# The oldest effective contact times are kept too, this many: enough to tell exactly, for
# any time, whether fewer than twelve effective contacts came before it (and how many),
# however many came after. Keeping the oldest N of a multiset is order-independent.
EARLY_CONTACT_TIMES: Final = TWELVE  # kept only once more than MAX_CONTACT_TIMES came
DAY_US: Final = 86_400_000_000
WEEK_US: Final = 7 * DAY_US

STAGES: Final = ("none", "doctor", "teacher", "friend", "brother")
_BIT = {name: 1 << i for i, name in enumerate(SECTIONS)}


def section_bits(*names: str) -> int:
    bits = 0
    for name in names:
        bits |= _BIT[name]
    return bits


def stage_of(bits: int) -> str:
    """The psychological-distance stage of a portrait (contract table, cumulative)."""
    teacher = bits & section_bits("needs", "competition") == section_bits("needs", "competition")
    if teacher and bits & _BIT["deep"]:
        return "brother" if bits & _BIT["extended"] else "friend"
    if teacher:
        return "teacher"
    if bits & section_bits("basic", "background"):
        return "doctor"
    return "none"


def sections_of(bits: int) -> tuple[str, ...]:
    return tuple(name for name in SECTIONS if bits & _BIT[name])


def exact_add(total: tuple[float, ...], amount: float) -> tuple[float, ...]:
    """`total + amount`, exactly, for a sum kept as its canonical float expansion.

    Float addition is not associative: `(0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3)`, so a
    plain running sum would depend on the order the events came in. The exact sum does
    not, and its expansion is canonical: the correctly rounded sum, then the correctly
    rounded remainder, and so on until nothing remains (usually one or two floats).
    `exact_value(total)` is the correctly rounded sum. A sum past the float range is inf.
    """
    terms = [*total, amount]
    out: list[float] = []
    try:
        while (part := math.fsum(terms)) != 0.0:
            if math.isinf(part):
                return (part,)
            out.append(part)
            terms.append(-part)
    except OverflowError:
        return (math.inf,)
    return tuple(out)


def exact_value(total: tuple[float, ...]) -> float:
    return total[0] if total else 0.0


class SortedInts:
    """Helpers for a sorted set (`insert`) or multiset (`add`) of 64-bit integers packed in
    `bytes` (8 bytes each).

    Immutable bytes share safely between state versions and cost 8 bytes an entry,
    against ~40 for a tuple of Python ints: the difference decides whether a million
    customers fit in memory.
    """

    @staticmethod
    def view(packed: bytes, signed: bool) -> memoryview:
        return memoryview(packed).cast("q" if signed else "Q")

    @staticmethod
    def insert(packed: bytes, value: int, signed: bool) -> bytes | None:
        """Return `packed` with `value` added, or None if it was already there."""
        view = SortedInts.view(packed, signed)
        i = bisect_left(view, value)
        if i < len(view) and view[i] == value:
            return None
        item = value.to_bytes(8, "little", signed=signed)
        return packed[: 8 * i] + item + packed[8 * i :]

    @staticmethod
    def add(packed: bytes, value: int, signed: bool) -> bytes:
        """Return `packed` with `value` added, as a multiset (a repeat is kept)."""
        view = SortedInts.view(packed, signed)
        i = bisect_right(view, value)
        item = value.to_bytes(8, "little", signed=signed)
        return packed[: 8 * i] + item + packed[8 * i :]

    @staticmethod
    def values(packed: bytes, signed: bool) -> list[int]:
        return SortedInts.view(packed, signed).tolist()


class IdSet:
    """A set of 8-byte event-id digests packed in `bytes`, in arrival order.

    Arrival order keeps insertion to one C-level concatenation and membership to a
    C-level `find`; the canonical (sorted) form is produced only for comparison and
    serialisation, so two states built from different orders still compare equal.
    """

    @staticmethod
    def add(packed: bytes, digest: bytes) -> bytes | None:
        """`packed` with `digest` added, or None if it is already there."""
        # find, not `in`: bytes.__contains__ first tries its argument as an int and
        # builds a TypeError message before searching, a third of the test's cost.
        start = packed.find(digest)
        if start < 0:  # the usual case, one C-level search
            return packed + digest
        while start != -1:
            if start % 8 == 0:
                return None
            start = packed.find(digest, start + 1)
        return packed + digest

    @staticmethod
    def canonical(packed: bytes) -> bytes:
        return b"".join(sorted(packed[i : i + 8] for i in range(0, len(packed), 8)))


@dataclass(frozen=True, slots=True)
class Suspension:
    ts: int
    event_id: str
    reason: str
    rep_id: str | None


class CustomerState:
    """Everything the product knows about one customer, folded from its events."""

    __slots__ = (
        "assignments",
        "by_channel",
        "clear_need",
        "complaints_major",
        "complaints_minor",
        "contact_reps",
        "contact_times",
        "contacts",
        "created_ts",
        "customer_id",
        "early_contact_times",
        "effective",
        "events",
        "first_contact_ts",
        "first_order_ts",
        "first_ts",
        "industry",
        "last_complaint_ts",
        "last_contact_ts",
        "last_order_amount",
        "last_ts",
        "lead_key",
        "loss_key",
        "loss_reason",
        "losses",
        "need_due",
        "need_key",
        "need_value",
        "never_suspend",
        "never_suspend_changes",
        "order_key",
        "order_sum",
        "orders",
        "owner",
        "owner_key",
        "owner_via",
        "portrait_last_ts",
        "portrait_updates",
        "potential_value",
        "quote_amount",
        "quote_key",
        "quoted_sum",
        "quotes",
        "sections",
        "seen",
        "size",
        "source",
        "suspensions",
        "tier",
        "tier_key",
    )

    customer_id: str
    seen: bytes
    events: int
    first_ts: int
    last_ts: int
    lead_key: Key | None
    created_ts: int | None
    source: str | None
    industry: str | None
    size: str | None
    potential_value: float | None
    owner_key: Key | None
    owner: str | None
    owner_via: str
    assignments: int
    tier_key: Key | None
    tier: str
    never_suspend: bool
    never_suspend_changes: tuple[tuple[int, str, bool], ...]
    contacts: int
    effective: int
    # Contacts per channel, totals then effective ones, as 40-bit lanes of one integer: one
    # object instead of a tuple of twelve (read it with channel_counts / channel_count).
    by_channel: int
    contact_times: bytes
    early_contact_times: bytes
    first_contact_ts: int | None
    last_contact_ts: int | None
    # Each rep's newest effective contact, flat and sorted by rep: (rep, ts, rep, ts, ...);
    # flat because a tuple of pairs costs twice the memory. Read it with contact_rep_times().
    contact_reps: tuple[str | int, ...]
    sections: int
    portrait_updates: int
    portrait_last_ts: int | None
    need_key: Key | None
    clear_need: bool | None
    need_value: float | None
    need_due: str | None
    quotes: int
    quoted_sum: tuple[float, ...]
    quote_key: Key | None
    quote_amount: float | None
    losses: int
    loss_key: Key | None
    loss_reason: str | None
    orders: int
    order_sum: tuple[float, ...]
    first_order_ts: int | None
    order_key: Key | None
    last_order_amount: float | None
    complaints_minor: int
    complaints_major: int
    last_complaint_ts: int | None
    suspensions: tuple[Suspension, ...]

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        self.seen = b""
        self.events = 0
        self.first_ts = 0
        self.last_ts = 0
        self.lead_key = None
        self.created_ts = None
        self.source = None
        self.industry = None
        self.size = None
        self.potential_value = None
        self.owner_key = None
        self.owner = None
        self.owner_via = ""
        self.assignments = 0
        self.tier_key = None
        self.tier = "standard"
        self.never_suspend = False
        self.never_suspend_changes = ()
        self.contacts = 0
        self.effective = 0
        self.by_channel = 0
        self.contact_times = b""
        self.early_contact_times = b""
        self.first_contact_ts = None
        self.last_contact_ts = None
        self.contact_reps = ()
        self.sections = 0
        self.portrait_updates = 0
        self.portrait_last_ts = None
        self.need_key = None
        self.clear_need = None
        self.need_value = None
        self.need_due = None
        self.quotes = 0
        self.quoted_sum = ()
        self.quote_key = None
        self.quote_amount = None
        self.losses = 0
        self.loss_key = None
        self.loss_reason = None
        self.orders = 0
        self.order_sum = ()
        self.first_order_ts = None
        self.order_key = None
        self.last_order_amount = None
        self.complaints_minor = 0
        self.complaints_major = 0
        self.last_complaint_ts = None
        self.suspensions = ()

    # ------------------------------------------------------------ copying, equality

    def copy(self) -> CustomerState:
        # Every field holds an immutable value, so a shallow copy is a full copy.
        return _copy_customer(self)

    def to_dict(self) -> dict[str, Any]:
        """A canonical JSON-ready form: equal states give equal dicts, whatever order
        their events came in (the Faust table's value; how states are compared)."""
        return {name: _encode(name, getattr(self, name)) for name in CustomerState.__slots__}

    def to_json(self) -> bytes:
        """`orjson.dumps(self.to_dict())` in half the time, read back by `from_dict` as the
        same state: the worker writes one per changed customer per batch. The bytes differ
        only in the order of the id set `seen`. orjson writes tuples as arrays, so only
        the fields whose JSON form differs need an encoder (`_JSON_ENCODERS`)."""
        return orjson.dumps(
            {
                name: value if encode is None else encode(value)
                for (name, encode), value in zip(_JSON_ENCODERS, _all_fields(self), strict=True)
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerState:
        new = cls.__new__(cls)
        for name in cls.__slots__:
            object.__setattr__(new, name, _decode(name, data[name]))
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CustomerState):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"CustomerState({self.customer_id!r}, status={self.status}, owner={self.owner!r}, "
            f"effective={self.effective}, stage={self.stage}, orders={self.orders})"
        )

    # ------------------------------------------------------------ derived facts

    @property
    def status(self) -> str:
        """`suspended` (in the public pool), `customer` (has ordered) or `lead`."""
        if self.owner_via == "suspended":
            return "suspended"
        return "customer" if self.orders else "lead"

    @property
    def stage(self) -> str:
        return stage_of(self.sections)

    @property
    def quoted_value(self) -> float:
        """The total amount quoted (the exact sum, rounded once)."""
        return exact_value(self.quoted_sum)

    @property
    def order_value(self) -> float:
        """The total amount ordered (the exact sum, rounded once)."""
        return exact_value(self.order_sum)

    @property
    def section_names(self) -> tuple[str, ...]:
        return sections_of(self.sections)

    @property
    def last_order_ts(self) -> int | None:
        return key_ts(self.order_key) if self.order_key else None

    @property
    def need_ts(self) -> int | None:
        return key_ts(self.need_key) if self.need_key else None

    @property
    def last_quote_ts(self) -> int | None:
        return key_ts(self.quote_key) if self.quote_key else None

    @property
    def last_loss_ts(self) -> int | None:
        return key_ts(self.loss_key) if self.loss_key else None

    @property
    def quote_open(self) -> bool:
        """A quote is waiting for an answer: no order or loss came after the last one."""
        if self.quote_key is None:
            return False
        answered = max(self.order_key or b"", self.loss_key or b"")
        return self.quote_key > answered

    def effective_times(self) -> list[int]:
        """The newest effective contact times (epoch µs), oldest first, repeats kept."""
        return SortedInts.values(self.contact_times, signed=True)

    def effective_before(self, ts: int) -> int:
        """Effective contacts strictly before `ts`.

        Always exact below TWELVE (from the oldest times kept), so the twelve-contact
        rule is judged exactly. Above, exact while fewer than MAX_CONTACT_TIMES effective
        contacts fall at or after `ts`, since all of those are among the newest kept.
        """
        view = SortedInts.view(self.contact_times, signed=True)
        if not self.early_contact_times:  # every effective contact's time is in view
            return bisect_left(view, ts)
        early = bisect_left(SortedInts.view(self.early_contact_times, signed=True), ts)
        if early < EARLY_CONTACT_TIMES:
            return early
        after = len(view) - bisect_left(view, ts)
        return self.effective - after

    def effective_between(self, start: int, end: int) -> int:
        """Effective contacts with start < time <= end (from the kept newest times)."""
        view = SortedInts.view(self.contact_times, signed=True)
        return bisect_right(view, end) - bisect_right(view, start)

    def never_suspend_at(self, ts: int, event_id: str) -> bool:
        """Whether the customer was marked never-suspend just before event (ts, event_id)."""
        current = False
        for change_ts, change_id, flag in self.never_suspend_changes:
            if (change_ts, change_id) < (ts, event_id):
                current = flag
        return current

    def policy_flags(self) -> list[str]:
        """Suspensions that broke the twelve-contact rule or hit a never-suspend customer."""
        flags = []
        for s in self.suspensions:
            before = self.effective_before(s.ts)
            if before < TWELVE:
                flags.append(
                    f"suspended_before_12: suspended by {s.rep_id or 'unknown'} after "
                    f"{before} effective contacts (event {s.event_id})"
                )
            if self.never_suspend_at(s.ts, s.event_id):
                flags.append(
                    f"suspended_never_suspend: never-suspend customer suspended by "
                    f"{s.rep_id or 'unknown'} (event {s.event_id})"
                )
        return flags

    def channel_counts(self, effective_only: bool = False) -> dict[str, int]:
        return {c: self.channel_count(c, effective_only) for c in CHANNELS}

    def channel_count(self, channel: str, effective_only: bool = False) -> int:
        lane = CHANNELS.index(channel) + (len(CHANNELS) if effective_only else 0)
        return (self.by_channel >> (CHANNEL_LANE_BITS * lane)) & _LANE_MASK

    def contact_rep_times(self) -> list[tuple[str, int]]:
        """(rep, newest effective contact time) for every rep who contacted the customer."""
        flat = self.contact_reps
        return list(zip(flat[::2], flat[1::2], strict=True))  # type: ignore[arg-type]

    def last_contact_by(self, rep_id: str) -> int | None:
        for rep, ts in self.contact_rep_times():
            if rep == rep_id:
                return ts
        return None


class RepWeek(NamedTuple):
    """A rep's activity in one week.

    Keeping the seen digests per week keeps each update small (a rep logs thousands of
    events a year) and still recognises a duplicate: a re-sent event falls in its week.
    A tuple, so a week is replaced, never changed, and shares nothing mutable.
    """

    seen: bytes  # the 64-bit digests of the events counted in this week
    effective: int  # effective contacts
    contacts: int  # all contacts
    leads: int  # leads created or assigned to the rep
    quotes: int
    deals: int
    deal_amounts: tuple[float, ...]  # the deals' amounts as one exact sum (`exact_add`)
    losses: int
    suspensions: int
    complaints: int


EMPTY_WEEK: Final = RepWeek(b"", 0, 0, 0, 0, 0, (), 0, 0, 0)
_WEEK_FIELD: Final = {
    name: RepWeek._fields.index(name)
    for name in (
        "effective",
        "contacts",
        "leads",
        "quotes",
        "deals",
        "losses",
        "suspensions",
        "complaints",
    )
}


class RepState:
    """A rep's tenure, team and activity, folded from the events they did or own."""

    __slots__ = (
        "first_ts",
        "joined_key",
        "last_ts",
        "left_key",
        "name",
        "profile_seen",
        "rep_id",
        "role",
        "team",
        "weeks",
    )

    rep_id: str
    profile_seen: bytes  # digests of the rep's own rep_joined / rep_left events
    joined_key: Key | None
    left_key: Key | None
    role: str
    team: str | None
    name: str | None
    first_ts: int
    last_ts: int
    weeks: dict[int, RepWeek]  # week index (ts // WEEK_US) -> activity

    def __init__(self, rep_id: str) -> None:
        self.rep_id = rep_id
        self.profile_seen = b""
        self.joined_key = None
        self.left_key = None
        self.role = "rep"
        self.team = None
        self.name = None
        self.first_ts = 0
        self.last_ts = 0
        self.weeks = {}

    def copy(self) -> RepState:
        """A shallow copy: `weeks` is shared (`apply_rep` copies it before folding)."""
        return _copy_rep(self)

    def to_dict(self) -> dict[str, Any]:
        out = self.profile_dict()
        out["weeks"] = [self.week_entry(week) for week in sorted(self.weeks)]
        return out

    def profile_dict(self) -> dict[str, Any]:
        """`to_dict()` without the weeks (the worker stores each week as its own row)."""
        return {name: _encode(name, getattr(self, name)) for name in _REP_PROFILE}

    def week_entry(self, week: int) -> list[Any]:
        """One item of `to_dict()["weeks"]`: the week index, then its activity."""
        w = self.weeks[week]
        return [week, _b64(IdSet.canonical(w.seen)), *w[1:6], list(w.deal_amounts), *w[7:]]

    @staticmethod
    def week_from_entry(entry: list[Any]) -> tuple[int, RepWeek]:
        week, seen, e, c, le, q, d, total, lo, su, co = entry
        return week, RepWeek(base64.b64decode(seen), e, c, le, q, d, tuple(total), lo, su, co)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepState:
        new = cls.from_profile(data)
        new.weeks = dict(RepState.week_from_entry(entry) for entry in data["weeks"])
        return new

    @classmethod
    def from_profile(cls, data: dict[str, Any]) -> RepState:
        """A state from `profile_dict()`'s fields, with no weeks yet."""
        new = cls.__new__(cls)
        for name in _REP_PROFILE:
            object.__setattr__(new, name, _decode(name, data[name]))
        object.__setattr__(new, "weeks", {})
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RepState):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RepState({self.rep_id!r}, active={self.active}, team={self.team!r})"

    def _total(self, field: str) -> int:
        i = _WEEK_FIELD[field]
        total = 0
        for w in self.weeks.values():
            value = w[i]
            assert isinstance(value, int)
            total += value
        return total

    @property
    def effective(self) -> int:
        return self._total("effective")

    @property
    def contacts(self) -> int:
        return self._total("contacts")

    @property
    def leads(self) -> int:
        return self._total("leads")

    @property
    def quotes(self) -> int:
        return self._total("quotes")

    @property
    def deals(self) -> int:
        return self._total("deals")

    @property
    def losses(self) -> int:
        return self._total("losses")

    @property
    def suspensions(self) -> int:
        return self._total("suspensions")

    @property
    def complaints(self) -> int:
        return self._total("complaints")

    @property
    def deal_value(self) -> float:
        """The total amount of the rep's deals (the exact sum, rounded once)."""
        return math.fsum(x for w in self.weeks.values() for x in w.deal_amounts)

    @property
    def active(self) -> bool:
        """Joined and not left since (a rep who left and rejoined is active)."""
        if self.joined_key is None:
            return self.left_key is None
        return self.left_key is None or self.left_key < self.joined_key

    @property
    def joined_ts(self) -> int:
        """Tenure counts from `rep_joined`; without one, from the rep's first event."""
        return key_ts(self.joined_key) if self.joined_key else self.first_ts

    @property
    def left_ts(self) -> int | None:
        return None if self.active or self.left_key is None else key_ts(self.left_key)

    def tenure_days(self, as_of: int) -> float:
        return max(0.0, (as_of - self.joined_ts) / DAY_US)

    def window(self, as_of: int, weeks: int) -> tuple[int, int, int, int]:
        """(effective contacts, leads, quotes, deals) in the `weeks` weeks up to as_of."""
        last = as_of // WEEK_US
        first = last - weeks + 1
        effective = leads = quotes = deals = 0
        for week, w in self.weeks.items():
            if first <= week <= last:
                effective += w.effective
                leads += w.leads
                quotes += w.quotes
                deals += w.deals
        return (effective, leads, quotes, deals)


# ---------------------------------------------------------------- JSON form

_REP_PROFILE: Final = tuple(name for name in RepState.__slots__ if name != "weeks")

_SET_FIELDS: Final = frozenset({"seen", "profile_seen"})
_BYTES_FIELDS: Final = frozenset(
    {
        "contact_times",
        "early_contact_times",
        "lead_key",
        "owner_key",
        "tier_key",
        "need_key",
        "quote_key",
        "loss_key",
        "order_key",
        "joined_key",
        "left_key",
    }
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _encode(name: str, value: Any) -> Any:
    if name == "by_channel":  # JSON readers choke on integers past 64 bits
        return [(value >> (CHANNEL_LANE_BITS * i)) & _LANE_MASK for i in range(2 * len(CHANNELS))]
    if name in _SET_FIELDS:
        return _b64(IdSet.canonical(value))
    if name in _BYTES_FIELDS:
        return None if value is None else _b64(value)
    if name == "suspensions":
        return [[s.ts, s.event_id, s.reason, s.rep_id] for s in value]
    if isinstance(value, tuple):
        return [list(v) if isinstance(v, tuple) else v for v in value]
    return value


def _slot_copier(cls: type[Any]) -> Callable[[Any], Any]:
    """A function that copies an instance of `cls` slot by slot, written out for its
    slots and compiled, as `dataclasses` writes its methods: the fold copies a state per
    event, and a loop of getattr/setattr over 50 slots took 14 times as long."""
    lines = ["def copy(self):\n    new = cls.__new__(cls)\n"]
    lines += [f"    new.{name} = self.{name}\n" for name in cls.__slots__]
    namespace: dict[str, Any] = {"cls": cls}
    exec("".join(lines) + "    return new\n", namespace)
    copier: Callable[[Any], Any] = namespace["copy"]
    return copier


_copy_customer: Final = _slot_copier(CustomerState)
_copy_rep: Final = _slot_copier(RepState)


def _json_encoder(name: str) -> Callable[[Any], Any] | None:
    """What `_encode` does to the field `name`, or None where orjson writes the value
    itself as `_encode` would (tuples as arrays). An id set keeps its own order: sorting
    it was a third of the time, and `from_dict` reads either order as the same set."""
    if name in _SET_FIELDS:
        return _b64
    if name in {"by_channel", "suspensions"} or name in _BYTES_FIELDS:
        return functools.partial(_encode, name)
    return None


_JSON_ENCODERS: Final = tuple((name, _json_encoder(name)) for name in CustomerState.__slots__)
_all_fields: Final = operator.attrgetter(*CustomerState.__slots__)


def _decode(name: str, value: Any) -> Any:
    if name == "by_channel":
        return sum(count << (CHANNEL_LANE_BITS * i) for i, count in enumerate(value))
    if name in _SET_FIELDS or (name in _BYTES_FIELDS and value is not None):
        return base64.b64decode(value)
    if name == "suspensions":
        return tuple(Suspension(*s) for s in value)
    if isinstance(value, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return value
