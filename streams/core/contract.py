"""The contact event contract (version 1): parsing and validation.

`docs/contract/events.md` (the project's copy of the contract, version 1, with its JSON
Schema `events.schema.json`) is the source of truth. Outside tools write this format,
so the parser accepts exactly what the contract allows and requires nothing more:
unknown extra fields are ignored, `rep_id` may be null where the contract allows it,
`schema_version` defaults to 1. Anything else is an `InvalidEvent` whose message names
the offending field. Messages never echo portrait field values, which may be sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, NamedTuple

import orjson

EVENT_TYPES: Final = (
    "rep_joined",
    "rep_left",
    "lead_created",
    "contact_made",
    "portrait_updated",
    "need_identified",
    "quote_sent",
    "order_won",
    "order_lost",
    "importance_set",
    "customer_suspended",
    "customer_assigned",
    "complaint_received",
)
REP_EVENT_TYPES: Final = frozenset({"rep_joined", "rep_left"})
CHANNELS: Final = ("phone", "wechat", "sms", "email", "visit", "hosted_visit")
SECTIONS: Final = ("basic", "background", "needs", "competition", "deep", "extended")
SENSITIVE_SECTIONS: Final = frozenset({"deep", "extended"})
SOURCES: Final = (
    "trade_show",
    "referral",
    "inbound",
    "cold_list",
    "industry_event",
    "dormant_reactivation",
    "other",
)
SIZES: Final = ("small", "medium", "large")
TIERS: Final = ("standard", "key", "vvip")
LOSS_REASONS: Final = ("price", "timing", "need_mismatch", "competitor", "other")
SUSPEND_REASONS: Final = ("timing", "need_mismatch", "competition", "other")
ROLES: Final = ("rep", "manager")
SEVERITIES: Final = ("minor", "major")

# A sales log is recent history. Times outside this window are typos or broken clocks
# (year 0001, 9999); accepting them would poison recency and cadence for the customer.
EARLIEST: Final = datetime(1990, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
# One line or message larger than this is refused before parsing, so a flood of huge
# messages cannot exhaust memory. Generous: a note is at most 2,000 characters.
MAX_EVENT_BYTES: Final = 256 * 1024

_OCCURRED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_EARLIEST_TS: Final = (EARLIEST - _EPOCH) // _MICROSECOND
_LATEST_TS: Final = (LATEST - _EPOCH) // _MICROSECOND


class InvalidEvent(ValueError):
    """An event that breaks the contract; the message names the field."""


class Event(NamedTuple):
    """One validated contract event.

    `ts` is `occurred_at` as integer microseconds since the Unix epoch (UTC): every
    ordering, window and as-of cut uses it. `payload` has the contract's defaults filled
    in (`effective`, `never_suspend`, `role`) and keeps unknown fields as they came.
    """

    event_id: str
    type: str
    occurred_at: str
    ts: int
    customer_id: str | None
    rep_id: str | None
    payload: dict[str, Any]
    schema_version: int = 1

    @property
    def key(self) -> tuple[int, str]:
        """The contract's total order: `occurred_at`, ties broken by `event_id`."""
        return (self.ts, self.event_id)

    @property
    def partition_key(self) -> str:
        """The Kafka message key: the customer, or the rep for rep events."""
        if self.type in REP_EVENT_TYPES:
            return self.rep_id or ""
        return self.customer_id or ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": self.occurred_at,
        }
        if self.customer_id is not None:
            out["customer_id"] = self.customer_id
        out["rep_id"] = self.rep_id
        out["payload"] = self.payload
        if self.schema_version != 1:
            out["schema_version"] = self.schema_version
        return out

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


# Valid times already parsed, text -> epoch µs. Logs written at minute or second
# resolution repeat the same text many times; parsing is a third of validation's cost.
_TIME_CACHE: dict[str, int] = {}
# A new text is mostly a known day and offset at a known time of day: the parts of valid
# times parsed before, "2026-03-04T" + "+08:00" -> epoch µs of that day's midnight there,
# and "09:17:00" -> µs since midnight. Any day and offset with any clock is a valid time
# (each part was checked where it came from), so their sum is what a parse would give.
_DAY_CACHE: dict[str, int] = {}
_CLOCK_CACHE: dict[str, int] = {}
_TIME_CACHE_SIZE: Final = 1 << 16


def parse_time(value: object, field: str = "occurred_at") -> tuple[str, int]:
    """Parse an ISO-8601 date-time that carries a UTC offset; return (text, epoch µs)."""
    if type(value) is str:
        cached = _TIME_CACHE.get(value)
        if cached is None:
            cached = _from_known_parts(value)
        if cached is not None:
            return value, cached
    if not isinstance(value, str):
        raise InvalidEvent(f"{field}: must be an ISO-8601 date-time string")
    if not _OCCURRED_AT.fullmatch(value):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?", value):
            raise InvalidEvent(f"{field}: has no UTC offset (add 'Z' or '+08:00')")
        raise InvalidEvent(f"{field}: not an ISO-8601 date-time with UTC offset")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidEvent(f"{field}: not a real date-time ({exc})") from None
    ts = (moment - _EPOCH) // _MICROSECOND
    # Compared as integers: comparing aware datetimes costs a microsecond, half the parse.
    if not _EARLIEST_TS <= ts < _LATEST_TS:
        # The range is in UTC: "1990-01-01T00:00:00+01:00" is still in 1989.
        raise InvalidEvent(
            f"{field}: {value} is outside the accepted range "
            f"{EARLIEST:%Y-%m-%d}..{LATEST - _MICROSECOND:%Y-%m-%d} (UTC)"
        )
    _remember(_TIME_CACHE, value, ts)
    if value[16] == ":" and value[19] != ".":  # whole seconds: "YYYY-MM-DDTHH:MM:SS" + offset
        # The clock as written, so that day + clock is exactly this text's time.
        clock = (int(value[11:13]) * 3600 + int(value[14:16]) * 60 + int(value[17:19])) * 10**6
        _remember(_CLOCK_CACHE, value[11:19], clock)
        _remember(_DAY_CACHE, value[:11] + value[19:], ts - clock)
    return value, ts


def _from_known_parts(value: str) -> int | None:
    # A text of another shape (no seconds, a fraction, junk) never splits into two known
    # parts: their keys come from whole-second texts only, "T" and offset included.
    day = _DAY_CACHE.get(value[:11] + value[19:])
    if day is None:
        return None
    clock = _CLOCK_CACHE.get(value[11:19])
    if clock is None:
        return None
    ts = day + clock
    if not _EARLIEST_TS <= ts < _LATEST_TS:
        return None  # the full parse says why
    _remember(_TIME_CACHE, value, ts)
    return ts


def _remember(cache: dict[str, int], key: str, value: int) -> None:
    if len(cache) >= _TIME_CACHE_SIZE:
        cache.clear()
    cache[key] = value


def to_datetime(ts: int) -> datetime:
    """Epoch microseconds back to an aware UTC datetime."""
    return _EPOCH + ts * _MICROSECOND


def to_ts(moment: datetime) -> int:
    """An aware datetime to epoch microseconds (the inverse of `to_datetime`)."""
    if moment.tzinfo is None:
        raise ValueError("as-of times must carry a UTC offset")
    return (moment - _EPOCH) // _MICROSECOND


def parse_as_of(text: str) -> int:
    """Parse a user-supplied as-of time. A bare date means the end of that day, UTC."""
    if _DATE.fullmatch(text):
        return parse_time(text + "T23:59:59.999999Z", "as_of")[1]
    return parse_time(text, "as_of")[1]


# ---------------------------------------------------------------- field checks


def _string(obj: Mapping[str, Any], field: str, where: str, lo: int = 1, hi: int = 0) -> str:
    value = obj.get(field)
    if not isinstance(value, str):
        kind = "missing" if value is None and field not in obj else "must be a string"
        raise InvalidEvent(f"{where}{field}: {kind}")
    if len(value) < lo:
        raise InvalidEvent(f"{where}{field}: must not be empty")
    if hi and len(value) > hi:
        raise InvalidEvent(f"{where}{field}: longer than {hi} characters")
    return value


def _optional_string(payload: Mapping[str, Any], field: str, hi: int = 0) -> None:
    # Absent is fine; present must be a string (null too is not a string in the schema).
    if field in payload:
        value = payload[field]
        if not isinstance(value, str):
            raise InvalidEvent(f"payload.{field}: must be a string")
        if hi and len(value) > hi:
            raise InvalidEvent(f"payload.{field}: longer than {hi} characters")


def _enum(
    payload: Mapping[str, Any], field: str, allowed: tuple[str, ...], *, required: bool
) -> None:
    if field not in payload:
        if required:
            raise InvalidEvent(f"payload.{field}: missing (one of {', '.join(allowed)})")
        return
    if payload[field] not in allowed or not isinstance(payload[field], str):
        raise InvalidEvent(f"payload.{field}: must be one of {', '.join(allowed)}")


def _number(
    payload: Mapping[str, Any], field: str, *, required: bool, positive: bool = False
) -> None:
    if field not in payload:
        if required:
            raise InvalidEvent(f"payload.{field}: missing")
        return
    value = payload[field]
    # bool is an int in Python but not a number in JSON Schema.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(f"payload.{field}: must be a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidEvent(f"payload.{field}: must be a finite number")
    if positive and value <= 0:
        raise InvalidEvent(f"payload.{field}: must be greater than 0")
    if value < 0:
        raise InvalidEvent(f"payload.{field}: must be 0 or more")


def _boolean(payload: dict[str, Any], field: str, *, required: bool, default: bool) -> None:
    if field not in payload:
        if required:
            raise InvalidEvent(f"payload.{field}: missing")
        payload[field] = default
        return
    if not isinstance(payload[field], bool):
        raise InvalidEvent(f"payload.{field}: must be true or false")


# ---------------------------------------------------------------- payloads


def _rep_joined(p: dict[str, Any]) -> None:
    if "role" not in p:
        p["role"] = "rep"
    _enum(p, "role", ROLES, required=True)
    _optional_string(p, "team")
    _optional_string(p, "name")


def _nothing(p: dict[str, Any]) -> None:
    return None


def _lead_created(p: dict[str, Any]) -> None:
    _enum(p, "source", SOURCES, required=True)
    _optional_string(p, "industry")
    _enum(p, "size", SIZES, required=False)
    _number(p, "potential_value", required=False)


def _contact_made(p: dict[str, Any]) -> None:
    channel = p.get("channel")
    if type(channel) is not str or channel not in _CHANNEL_SET:  # fast path: see validate
        _enum(p, "channel", CHANNELS, required=True)
    effective = p.get("effective")
    if effective is None or type(effective) is not bool:
        _boolean(p, "effective", required=False, default=True)
    if "note" in p:
        _optional_string(p, "note", 2000)


def _portrait_updated(p: dict[str, Any]) -> None:
    _enum(p, "section", SECTIONS, required=True)
    fields = p.get("fields", {})
    if not isinstance(fields, dict):
        raise InvalidEvent("payload.fields: must be an object")
    for name, value in fields.items():
        # Never echo the value: it may be a sensitive portrait entry.
        if isinstance(value, float) and (value != value or value in (float("inf"), -float("inf"))):
            raise InvalidEvent(f"payload.fields.{name[:64]}: must be a finite number")
        if value is None or not isinstance(value, str | int | float | bool):
            raise InvalidEvent(f"payload.fields.{name[:64]}: must be a string, number or boolean")
    p["fields"] = fields


def _need_identified(p: dict[str, Any]) -> None:
    _boolean(p, "clear_need", required=True, default=False)
    _number(p, "expected_value", required=False)
    if "due_date" in p:
        due = p["due_date"]
        if not isinstance(due, str) or not _DATE.fullmatch(due):
            raise InvalidEvent("payload.due_date: must be an ISO date (YYYY-MM-DD)")
        try:
            date.fromisoformat(due)
        except ValueError:
            raise InvalidEvent("payload.due_date: not a real date") from None


def _quote_sent(p: dict[str, Any]) -> None:
    _string(p, "quote_id", "payload.")
    _number(p, "amount", required=True)


def _order_won(p: dict[str, Any]) -> None:
    _string(p, "order_id", "payload.")
    _number(p, "amount", required=True, positive=True)


def _order_lost(p: dict[str, Any]) -> None:
    _enum(p, "reason", LOSS_REASONS, required=True)
    _optional_string(p, "quote_id")


def _importance_set(p: dict[str, Any]) -> None:
    _enum(p, "tier", TIERS, required=True)
    _boolean(p, "never_suspend", required=False, default=False)


def _customer_suspended(p: dict[str, Any]) -> None:
    _enum(p, "reason", SUSPEND_REASONS, required=True)


def _customer_assigned(p: dict[str, Any]) -> None:
    _optional_string(p, "by")


def _complaint_received(p: dict[str, Any]) -> None:
    _enum(p, "severity", SEVERITIES, required=True)


_PAYLOAD_CHECKS: Final[dict[str, Callable[[dict[str, Any]], None]]] = {
    "rep_joined": _rep_joined,
    "rep_left": _nothing,
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
_CHANNEL_SET: Final = frozenset(CHANNELS)
# Types whose rep_id must be a string (the schema's per-type `required`).
_REP_REQUIRED: Final = frozenset({"rep_joined", "rep_left", "contact_made", "customer_assigned"})


# ---------------------------------------------------------------- entry points


def validate(obj: object) -> Event:
    """Validate a decoded JSON value against the contract and return the `Event`.

    Each check first tries a cheap test that accepts the common, valid case and only on
    failure runs the full check, which raises the precise reason (or accepts an unusual
    but valid value, such as a str subclass): a million events a minute pass through here.
    `obj` is left as it came (the event gets a copy of its payload).
    """
    return _validate(obj, own_payload=False)


def _validate(obj: object, own_payload: bool) -> Event:
    # own_payload: the caller hands `obj` over (a freshly decoded line), so the payload
    # checks may fill in defaults in place instead of in a copy.
    if type(obj) is not dict and not isinstance(obj, dict):
        raise InvalidEvent("event: must be a JSON object")
    event_id = obj.get("event_id")
    if type(event_id) is not str or not 0 < len(event_id) <= 128:
        event_id = _string(obj, "event_id", "", 1, 128)
    kind = obj.get("type")
    # The str test first: a list or object `type` is unhashable, so `in` would raise.
    if not isinstance(kind, str) or kind not in _PAYLOAD_CHECKS:
        if "type" not in obj:
            raise InvalidEvent("type: missing")
        raise InvalidEvent("type: unknown event type (see contract/events.md)")
    occurred_at = obj.get("occurred_at")
    ts = _TIME_CACHE.get(occurred_at) if type(occurred_at) is str else None
    if ts is None:  # not a time seen before (parse_time's own fast path, inlined)
        if "occurred_at" not in obj:
            raise InvalidEvent("occurred_at: missing")
        occurred_at, ts = parse_time(occurred_at)
    customer_id = obj.get("customer_id")
    # Optional on rep events, but the schema's rule for it holds wherever it appears.
    if type(customer_id) is not str or not 0 < len(customer_id) <= 64:
        if kind not in REP_EVENT_TYPES or "customer_id" in obj:
            customer_id = _string(obj, "customer_id", "", 1, 64)
        else:
            customer_id = None
    rep_id = obj.get("rep_id")
    needs_rep = rep_id is not None or kind in _REP_REQUIRED
    if needs_rep and (type(rep_id) is not str or not 0 < len(rep_id) <= 64):
        rep_id = _string(obj, "rep_id", "", 1, 64)
    version = obj.get("schema_version", 1)
    if version != 1 or type(version) is not int:
        version = _schema_version(version)
    payload = obj.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent("payload: missing" if "payload" not in obj else "payload: not an object")
    if not own_payload:
        payload = dict(payload)
    _PAYLOAD_CHECKS[kind](payload)
    # tuple.__new__ directly: the NamedTuple's generated __new__ is one more Python call.
    return tuple.__new__(
        Event, (event_id, kind, occurred_at, ts, customer_id, rep_id, payload, version)
    )


def _schema_version(version: object) -> int:
    if isinstance(version, float) and version.is_integer():
        version = int(version)  # JSON Schema: 1.0 is an integer
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidEvent("schema_version: must be an integer of at least 1")
    return version


def parse(raw: bytes | str) -> Event:
    """Decode one JSON Lines line or Kafka message value into a validated `Event`."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(f"event: larger than {MAX_EVENT_BYTES} bytes")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"event: not valid JSON ({_json_error(exc)})") from None
    return _validate(obj, True)  # `obj` is ours: its payload may be filled in place


def _json_error(exc: orjson.JSONDecodeError) -> str:
    # orjson's message can quote the input; keep only its description of the problem.
    return str(exc).split(":", 1)[0][:120]
