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
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, Final

from streams.contract import CHANNELS, SECTIONS

Key = tuple[int, str]

# Effective contact times kept per customer. Enough for every cadence window the product
# uses (the last 90 days at any sane cadence, the twelve-contact rule); older ones are
# only counted. Keeping the newest N of a multiset is itself order-independent.
MAX_CONTACT_TIMES: Final = 64
# Weekly activity buckets kept per rep (two years).
MAX_REP_WEEKS: Final = 104
TWELVE: Final = 12
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
    """Helpers for a sorted set of 64-bit integers packed in `bytes` (8 bytes each).

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
    by_channel: tuple[int, ...]
    contact_times: bytes
    first_contact_ts: int | None
    last_contact_ts: int | None
    contact_reps: tuple[tuple[str, int], ...]
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
        self.by_channel = (0,) * (2 * len(CHANNELS))
        self.contact_times = b""
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
        new = CustomerState.__new__(CustomerState)
        for name in CustomerState.__slots__:
            object.__setattr__(new, name, getattr(self, name))
        return new

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the Faust table and for comparing states)."""
        out: dict[str, Any] = {}
        for name in CustomerState.__slots__:
            value = getattr(self, name)
            if isinstance(value, bytes):
                value = base64.b64encode(value).decode()
            elif name == "suspensions":
                value = [[s.ts, s.event_id, s.reason, s.rep_id] for s in value]
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerState:
        new = cls.__new__(cls)
        for name in cls.__slots__:
            value = data[name]
            if name in ("seen", "contact_times"):
                value = base64.b64decode(value)
            elif name == "suspensions":
                value = tuple(Suspension(*s) for s in value)
            elif isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            object.__setattr__(new, name, value)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CustomerState):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in CustomerState.__slots__)

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
        return self.order_key[0] if self.order_key else None

    @property
    def need_ts(self) -> int | None:
        return self.need_key[0] if self.need_key else None

    @property
    def last_quote_ts(self) -> int | None:
        return self.quote_key[0] if self.quote_key else None

    @property
    def last_loss_ts(self) -> int | None:
        return self.loss_key[0] if self.loss_key else None

    @property
    def quote_open(self) -> bool:
        """A quote is waiting for an answer: no order or loss came after the last one."""
        if self.quote_key is None:
            return False
        answered = max(self.order_key or (0, ""), self.loss_key or (0, ""))
        return self.quote_key > answered

    def effective_times(self) -> list[int]:
        """The newest effective contact times (epoch µs), oldest first, repeats kept."""
        return SortedInts.values(self.contact_times, signed=True)

    def effective_before(self, ts: int) -> int:
        """Effective contacts strictly before `ts`.

        Exact while fewer than MAX_CONTACT_TIMES effective contacts fall at or after `ts`,
        since all of those are among the newest kept.
        """
        view = SortedInts.view(self.contact_times, signed=True)
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
        offset = len(CHANNELS) if effective_only else 0
        return {c: self.by_channel[offset + i] for i, c in enumerate(CHANNELS)}

    def last_contact_by(self, rep_id: str) -> int | None:
        for rep, ts in self.contact_reps:
            if rep == rep_id:
                return ts
        return None


class RepState:
    """A rep's tenure, team and activity, folded from the events they did or own."""

    __slots__ = (
        "complaints",
        "contacts",
        "deal_sum",
        "deals",
        "effective",
        "first_ts",
        "joined_key",
        "last_ts",
        "leads",
        "left_key",
        "losses",
        "name",
        "quotes",
        "rep_id",
        "role",
        "seen",
        "suspensions",
        "team",
        "weeks",
    )

    rep_id: str
    seen: bytes
    joined_key: Key | None
    left_key: Key | None
    role: str
    team: str | None
    name: str | None
    first_ts: int
    last_ts: int
    contacts: int
    effective: int
    leads: int
    quotes: int
    deals: int
    deal_sum: tuple[float, ...]
    losses: int
    suspensions: int
    complaints: int
    # week index (ts // WEEK_US) -> (effective contacts, leads, quotes, deals)
    weeks: tuple[tuple[int, int, int, int, int], ...]

    def __init__(self, rep_id: str) -> None:
        self.rep_id = rep_id
        self.seen = b""
        self.joined_key = None
        self.left_key = None
        self.role = "rep"
        self.team = None
        self.name = None
        self.first_ts = 0
        self.last_ts = 0
        self.contacts = 0
        self.effective = 0
        self.leads = 0
        self.quotes = 0
        self.deals = 0
        self.deal_sum = ()
        self.losses = 0
        self.suspensions = 0
        self.complaints = 0
        self.weeks = ()

    def copy(self) -> RepState:
        new = RepState.__new__(RepState)
        for name in RepState.__slots__:
            object.__setattr__(new, name, getattr(self, name))
        return new

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in RepState.__slots__:
            value = getattr(self, name)
            if isinstance(value, bytes):
                value = base64.b64encode(value).decode()
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepState:
        new = cls.__new__(cls)
        for name in cls.__slots__:
            value = data[name]
            if name == "seen":
                value = base64.b64decode(value)
            elif isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            object.__setattr__(new, name, value)
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RepState):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in RepState.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RepState({self.rep_id!r}, active={self.active}, team={self.team!r})"

    @property
    def active(self) -> bool:
        """Joined and not left since (a rep who left and rejoined is active)."""
        if self.joined_key is None:
            return self.left_key is None
        return self.left_key is None or self.left_key < self.joined_key

    @property
    def deal_value(self) -> float:
        """The total amount of the rep's deals (the exact sum, rounded once)."""
        return exact_value(self.deal_sum)

    @property
    def joined_ts(self) -> int:
        """Tenure counts from `rep_joined`; without one, from the rep's first event."""
        return self.joined_key[0] if self.joined_key else self.first_ts

    @property
    def left_ts(self) -> int | None:
        return None if self.active or self.left_key is None else self.left_key[0]

    def tenure_days(self, as_of: int) -> float:
        return max(0.0, (as_of - self.joined_ts) / DAY_US)

    def window(self, as_of: int, weeks: int) -> tuple[int, int, int, int]:
        """(effective contacts, leads, quotes, deals) in the `weeks` weeks up to as_of."""
        last = as_of // WEEK_US
        first = last - weeks + 1
        totals = [0, 0, 0, 0]
        for week, *counts in self.weeks:
            if first <= week <= last:
                for i, c in enumerate(counts):
                    totals[i] += c
        return (totals[0], totals[1], totals[2], totals[3])
