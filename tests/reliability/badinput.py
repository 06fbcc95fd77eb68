"""A seeded fuzzer of messages that break the event contract.

Each message is a mutation of a real event of the log (so most carry a real customer id
and land on that customer's partition, next to its valid events), of one of these kinds:

    broken_json     truncated, single-quoted, trailing comma, bare words, garbage
    not_an_object   an array, a string, a number, null
    wrong_type      an envelope field of the wrong JSON type
    missing_field   a required envelope or payload field dropped
    unknown_type    a `type` the contract does not know (case and spacing included)
    bad_payload     a payload value the contract's table forbids
    huge            over-long ids and notes, and messages over the 256 KiB limit
    invalid_utf8    invalid bytes inside a string (and an escaped lone surrogate)
    no_offset       `occurred_at` without a UTC offset, or not ISO-8601 at all
    far_time        dates before 1990 or from 2100 on, and dates that do not exist

Seeded and deterministic. Every message is one line (no CR or LF bytes, not blank), so the
same messages can be mixed into a JSON Lines file and sent as Kafka messages.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

KINDS: Final = (
    "broken_json",
    "not_an_object",
    "wrong_type",
    "missing_field",
    "unknown_type",
    "bad_payload",
    "huge",
    "invalid_utf8",
    "no_offset",
    "far_time",
)
# Messages over the contract's 256 KiB limit are expensive to send and store: a few of
# each thousand.
OVERSIZE_SHARE: Final = 0.005

Obj = dict[str, Any]


@dataclass(frozen=True)
class BadMessage:
    kind: str
    raw: bytes


def _dumps(obj: object) -> bytes:
    return orjson.dumps(obj)


def _broken_json(rng: random.Random, e: Obj) -> bytes:
    text = _dumps(e)
    choice = rng.randrange(7)
    if choice == 0:  # cut anywhere before the closing brace
        return text[: rng.randrange(1, len(text) - 1)]
    if choice == 1:
        return text.replace(b'"', b"'")
    if choice == 2:
        return text[:-1] + b",}"
    if choice == 3:
        return text.replace(b'"event_id"', b"event_id", 1)
    if choice == 4:
        return text + b"}"
    if choice == 5:
        return bytes(rng.choice(b"{}[]:,.-+eE0123456789aZ ") for _ in range(rng.randint(1, 40)))
    return text.replace(b"{", b"{NaN,", 1)


def _not_an_object(rng: random.Random, e: Obj) -> bytes:
    return _dumps(rng.choice([[e], [], "contact_made", 42, None, True, 1.5]))


_WRONG: Final[dict[str, list[Any]]] = {
    "event_id": [123, None, [], {}, True, ""],
    "type": [5, None, ["contact_made"], {"name": "contact_made"}, False],
    "occurred_at": [1_717_000_000, None, {}, ["2025-01-01T00:00:00Z"], True],
    "customer_id": [42, [], {}, "", False],
    "rep_id": [7, ["r001"], {}, "", True],
    "payload": [[], "{}", 3, None, True],
    "schema_version": ["1", 0, -1, 1.5, True, None],
}


def _wrong_type(rng: random.Random, e: Obj) -> bytes:
    e = dict(e)
    field = rng.choice(list(_WRONG))
    if field == "customer_id" and "customer_id" not in e:
        field = "event_id"
    e[field] = rng.choice(_WRONG[field])
    return _dumps(e)


_REQUIRED_PAYLOAD: Final[dict[str, str]] = {
    "lead_created": "source",
    "contact_made": "channel",
    "portrait_updated": "section",
    "need_identified": "clear_need",
    "quote_sent": "amount",
    "order_won": "order_id",
    "order_lost": "reason",
    "importance_set": "tier",
    "customer_suspended": "reason",
    "complaint_received": "severity",
}


def _missing_field(rng: random.Random, e: Obj) -> bytes:
    e = dict(e)
    options = ["event_id", "type", "occurred_at", "payload"]
    if "customer_id" in e:
        options.append("customer_id")
    if e["type"] in ("contact_made", "customer_assigned", "rep_joined", "rep_left"):
        options.append("rep_id")
    if e["type"] in _REQUIRED_PAYLOAD:
        options.append("payload.")
    field = rng.choice(options)
    if field == "payload.":
        payload = dict(e["payload"])
        payload.pop(_REQUIRED_PAYLOAD[e["type"]], None)
        e["payload"] = payload
    else:
        del e[field]
    return _dumps(e)


def _unknown_type(rng: random.Random, e: Obj) -> bytes:
    e = dict(e)
    e["type"] = rng.choice(
        ["teleported", "Contact_Made", "contact_made ", " lead_created", "", "lead_deleted", "ü"]
    )
    return _dumps(e)


# Per type: (payload field, a value the contract's table forbids).
_BAD_VALUES: Final[dict[str, list[tuple[str, Any]]]] = {
    "rep_joined": [("role", "ceo"), ("team", 5), ("name", ["x"])],
    "lead_created": [("source", "telepathy"), ("size", "huge"), ("potential_value", -1)],
    "contact_made": [("channel", "fax"), ("effective", "yes"), ("note", 12)],
    "portrait_updated": [("section", "secret"), ("fields", ["a"]), ("fields", {"a": None})],
    "need_identified": [("clear_need", "true"), ("due_date", "2025-02-30"), ("due_date", "soon")],
    "quote_sent": [("amount", -10), ("amount", "100"), ("quote_id", "")],
    "order_won": [("amount", 0), ("amount", -5), ("order_id", 9)],
    "order_lost": [("reason", "weather"), ("quote_id", 3)],
    "importance_set": [("tier", "gold"), ("never_suspend", "no")],
    "customer_suspended": [("reason", "bored")],
    "customer_assigned": [("by", 17)],
    "complaint_received": [("severity", "catastrophic")],
}


def _bad_payload(rng: random.Random, e: Obj) -> bytes:
    e = dict(e)
    options = _BAD_VALUES.get(e["type"])
    if not options:  # rep_left has no payload fields to break: break its payload itself
        e["payload"] = "none"
        return _dumps(e)
    name, value = rng.choice(options)
    e["payload"] = {**e["payload"], name: value}
    return _dumps(e)


def _huge(rng: random.Random, e: Obj) -> bytes:
    e = dict(e)
    if rng.random() < OVERSIZE_SHARE * len(KINDS):
        # Over the 256 KiB message limit, in a field with no length limit of its own.
        e["padding"] = "x" * rng.randint(256 * 1024, 400 * 1024)
        return _dumps(e)
    choice = rng.randrange(4)
    if choice == 0:
        e["event_id"] = "e" * rng.randint(129, 20_000)
    elif choice == 1:
        e["customer_id"] = "c" * rng.randint(65, 20_000)
        e["type"] = "contact_made" if e["type"] in ("rep_joined", "rep_left") else e["type"]
    elif choice == 2:
        e["rep_id"] = "r" * rng.randint(65, 20_000)
    else:
        e["type"] = "contact_made"
        e["customer_id"] = e.get("customer_id") or "c-huge-note"
        e["rep_id"] = e.get("rep_id") or "r-huge-note"
        e["payload"] = {"channel": "phone", "note": "n" * rng.randint(2001, 50_000)}
    return _dumps(e)


# A stray byte, a bad continuation, an encoded surrogate, an overlong "/", a 5-byte form,
# and a sequence cut short.
_INVALID: Final = (
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82",
)


def _invalid_utf8(rng: random.Random, e: Obj) -> bytes:
    if rng.random() < 0.1:
        return _dumps(e).replace(b'"event_id":"', b'"event_id":"\\ud800', 1)
    text = _dumps(e)
    # Inside a string value: right after the opening quote of the event id.
    marker = b'"event_id":"'
    at = text.find(marker) + len(marker)
    return text[:at] + rng.choice(_INVALID) + text[at:]


def _no_offset(rng: random.Random, e: Obj) -> bytes:
    e = dict(e)
    stamp = str(e["occurred_at"])[:19]  # 2025-03-04T09:30:00
    e["occurred_at"] = rng.choice(
        [
            stamp,
            stamp[:16],
            stamp + ".250",
            stamp.replace("T", " ") + "+08:00",
            stamp[:10],
            stamp + " UTC",
            stamp + "+0800",
        ]
    )
    return _dumps(e)


def _far_time(rng: random.Random, e: Obj) -> bytes:
    e = dict(e)
    e["occurred_at"] = rng.choice(
        [
            "0001-01-01T00:00:00Z",
            "1000-06-15T12:00:00+08:00",
            "1899-12-31T23:59:59Z",
            "1989-12-31T23:59:59Z",
            "1990-01-01T07:59:59+08:00",  # still 1989 in UTC
            "2100-01-01T00:00:00Z",
            "2500-05-05T05:05:05+05:00",
            "9999-12-31T23:59:59Z",
            "2025-02-30T10:00:00Z",
            "2025-13-01T10:00:00Z",
            "2025-06-01T24:30:00Z",
        ]
    )
    return _dumps(e)


_MAKERS: Final[dict[str, Callable[[random.Random, Obj], bytes]]] = {
    "broken_json": _broken_json,
    "not_an_object": _not_an_object,
    "wrong_type": _wrong_type,
    "missing_field": _missing_field,
    "unknown_type": _unknown_type,
    "bad_payload": _bad_payload,
    "huge": _huge,
    "invalid_utf8": _invalid_utf8,
    "no_offset": _no_offset,
    "far_time": _far_time,
}


def bad_messages(n: int, templates: Sequence[Obj], seed: int) -> list[BadMessage]:
    """`n` bad messages, the kinds in turn, each a mutation of a random template event."""
    if not templates:
        raise ValueError("no template events to mutate")
    rng = random.Random(seed)
    out: list[BadMessage] = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        raw = _MAKERS[kind](rng, rng.choice(templates))
        # One line, not blank: a JSON Lines reader must see exactly this one message.
        raw = raw.replace(b"\n", b" ").replace(b"\r", b" ")
        if not raw.strip():
            raw = b"{"
        out.append(BadMessage(kind, raw))
    return out


def mix(valid: Sequence[bytes], bad: Sequence[BadMessage], seed: int) -> list[tuple[bytes, bool]]:
    """Valid lines in their order with the bad ones spread among them: (raw, is_valid)."""
    rng = random.Random(seed)
    slots: list[list[bytes]] = [[] for _ in range(len(valid) + 1)]
    for message in bad:
        slots[rng.randrange(len(slots))].append(message.raw)
    out: list[tuple[bytes, bool]] = [(raw, False) for raw in slots[0]]
    for line, extra in zip(valid, slots[1:], strict=True):
        out.append((line, True))
        out.extend((raw, False) for raw in extra)
    return out
