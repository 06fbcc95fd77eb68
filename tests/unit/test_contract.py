"""The event contract (`docs/contract/events.md`): what is accepted, and every way to fail.

A rejection's reason must NAME the field (`<field>: ...`, with `event:` for problems of
the whole line) and must never echo a portrait field value.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.contract import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    REP_EVENT_TYPES,
    Event,
    InvalidEvent,
    parse,
    parse_as_of,
    parse_time,
    to_datetime,
    to_ts,
    validate,
)

WHEN = "2026-03-04T09:30:00+08:00"
WHEN_TS = 1_772_587_800_000_000  # 2026-03-04T01:30:00Z in epoch microseconds
SECRET = "SECRET-spouse-Mary-hospital-7731"

# A full valid form of every type (every optional field present).
FULL: dict[str, dict[str, Any]] = {
    "rep_joined": {"rep_id": "r1", "payload": {"role": "manager", "team": "east", "name": "Li"}},
    "rep_left": {"rep_id": "r1", "payload": {}},
    "lead_created": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {
            "source": "trade_show",
            "industry": "food packaging",
            "size": "large",
            "potential_value": 120000.5,
        },
    },
    "contact_made": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"channel": "wechat", "effective": False, "note": "left a message"},
    },
    "portrait_updated": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"section": "competition", "fields": {"main": "Acme", "share": 0.6, "ok": True}},
    },
    "need_identified": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"clear_need": True, "expected_value": 50000, "due_date": "2026-06-30"},
    },
    "quote_sent": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"quote_id": "q1", "amount": 48000},
    },
    "order_won": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"order_id": "o1", "amount": 45000.25},
    },
    "order_lost": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"reason": "competitor", "quote_id": "q1"},
    },
    "importance_set": {
        "customer_id": "c1",
        "rep_id": "m1",
        "payload": {"tier": "vvip", "never_suspend": True},
    },
    "customer_suspended": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"reason": "need_mismatch"},
    },
    "customer_assigned": {"customer_id": "c1", "rep_id": "r2", "payload": {"by": "m1"}},
    "complaint_received": {
        "customer_id": "c1",
        "rep_id": "r1",
        "payload": {"severity": "major"},
    },
}

# The minimal valid form of every type (required fields only; rep_id absent where allowed).
MINIMAL: dict[str, dict[str, Any]] = {
    "rep_joined": {"rep_id": "r1", "payload": {}},
    "rep_left": {"rep_id": "r1", "payload": {}},
    "lead_created": {"customer_id": "c1", "payload": {"source": "other"}},
    "contact_made": {"customer_id": "c1", "rep_id": "r1", "payload": {"channel": "phone"}},
    "portrait_updated": {"customer_id": "c1", "payload": {"section": "basic"}},
    "need_identified": {"customer_id": "c1", "payload": {"clear_need": False}},
    "quote_sent": {"customer_id": "c1", "payload": {"quote_id": "q", "amount": 0}},
    "order_won": {"customer_id": "c1", "payload": {"order_id": "o", "amount": 0.01}},
    "order_lost": {"customer_id": "c1", "payload": {"reason": "other"}},
    "importance_set": {"customer_id": "c1", "payload": {"tier": "standard"}},
    "customer_suspended": {"customer_id": "c1", "payload": {"reason": "other"}},
    "customer_assigned": {"customer_id": "c1", "rep_id": "r2", "payload": {}},
    "complaint_received": {"customer_id": "c1", "payload": {"severity": "minor"}},
}

CUSTOMER_TYPES = [t for t in EVENT_TYPES if t not in REP_EVENT_TYPES]
REP_REQUIRED = ["rep_joined", "rep_left", "contact_made", "customer_assigned"]
REP_OPTIONAL = [t for t in EVENT_TYPES if t not in REP_REQUIRED]


def make(kind: str, form: dict[str, dict[str, Any]] = FULL, **envelope: Any) -> dict[str, Any]:
    """A fresh event dict of `kind` (deep-copied), with envelope fields overridden."""
    base = orjson.loads(orjson.dumps(form[kind]))
    obj: dict[str, Any] = {"event_id": f"ev-{kind}", "type": kind, "occurred_at": WHEN, **base}
    obj.update(envelope)
    return obj


def with_payload(kind: str, **fields: Any) -> dict[str, Any]:
    """The full valid form of `kind` with payload fields overridden."""
    obj = make(kind)
    obj["payload"].update(fields)
    return obj


def without(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    target = obj
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return obj


def reason_of(raw: bytes | str | dict[str, Any]) -> str:
    data = orjson.dumps(raw) if isinstance(raw, dict) else raw
    with pytest.raises(InvalidEvent) as info:
        parse(data)
    return str(info.value)


def assert_rejected(raw: bytes | str | dict[str, Any], field: str) -> str:
    reason = reason_of(raw)
    assert reason.startswith(f"{field}: "), f"reason {reason!r} does not name {field!r}"
    return reason


# ---------------------------------------------------------------- valid forms


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_type_full_form_accepted(kind: str) -> None:
    obj = make(kind)
    event = parse(orjson.dumps(obj))
    assert isinstance(event, Event)
    assert event.type == kind
    assert event.event_id == f"ev-{kind}"
    assert event.occurred_at == WHEN
    assert event.ts == WHEN_TS
    assert event.rep_id == obj["rep_id"]
    assert event.customer_id == obj.get("customer_id")
    assert event.payload == obj["payload"]
    assert event.schema_version == 1


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_type_minimal_form_accepted(kind: str) -> None:
    event = parse(orjson.dumps(make(kind, MINIMAL)))
    assert event.type == kind
    assert event.schema_version == 1
    if kind not in REP_REQUIRED:
        assert event.rep_id is None


def test_defaults_filled() -> None:
    assert parse(orjson.dumps(make("contact_made", MINIMAL))).payload["effective"] is True
    importance = parse(orjson.dumps(make("importance_set", MINIMAL))).payload
    assert importance["never_suspend"] is False
    assert parse(orjson.dumps(make("rep_joined", MINIMAL))).payload["role"] == "rep"
    portrait = parse(orjson.dumps(make("portrait_updated", MINIMAL))).payload
    assert portrait["fields"] == {}


def test_explicit_values_not_overwritten_by_defaults() -> None:
    assert parse(orjson.dumps(make("contact_made"))).payload["effective"] is False
    assert parse(orjson.dumps(make("importance_set"))).payload["never_suspend"] is True
    assert parse(orjson.dumps(make("rep_joined"))).payload["role"] == "manager"


def test_validate_does_not_mutate_its_input() -> None:
    obj = make("contact_made", MINIMAL)
    before = orjson.dumps(obj)
    validate(obj)
    assert orjson.dumps(obj) == before


@pytest.mark.parametrize("kind", REP_OPTIONAL)
def test_rep_id_null_allowed_where_not_required(kind: str) -> None:
    event = parse(orjson.dumps(make(kind, rep_id=None)))
    assert event.rep_id is None


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_unknown_extra_fields_ignored(kind: str) -> None:
    obj = make(kind, trace_id="abc", source_system={"name": "crm", "v": [1, 2]}, x=None)
    obj["payload"]["future_field"] = {"nested": [1, "two", None]}
    obj["payload"]["another"] = None
    event = parse(orjson.dumps(obj))
    assert event.type == kind
    # Kept in the payload as they came (harmless; the fold ignores them).
    assert event.payload["future_field"] == {"nested": [1, "two", None]}


def test_schema_version() -> None:
    assert parse(orjson.dumps(make("rep_left", schema_version=1))).schema_version == 1
    assert parse(orjson.dumps(make("rep_left", schema_version=2))).schema_version == 2
    # JSON Schema counts 1.0 as an integer.
    assert parse(orjson.dumps(make("rep_left", schema_version=1.0))).schema_version == 1
    assert parse(orjson.dumps(make("rep_left", schema_version=3))).to_dict()["schema_version"] == 3


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-04T09:30:00+08:00",
        "2026-03-04T01:30:00Z",
        "2026-03-04T01:30Z",
        "2026-03-04T01:30:00.000000Z",
        "2026-03-03T20:30:00-05:00",
        "2026-03-04T07:00:00+05:30",
    ],
)
def test_occurred_at_forms_and_offsets_give_one_instant(text: str) -> None:
    event = parse(orjson.dumps(make("rep_left", occurred_at=text)))
    assert event.ts == WHEN_TS
    assert event.occurred_at == text  # the original text is kept


def test_fractional_seconds() -> None:
    event = parse(orjson.dumps(make("rep_left", occurred_at="2026-03-04T01:30:00.25Z")))
    assert event.ts == WHEN_TS + 250_000


def test_time_helpers_round_trip() -> None:
    assert to_ts(to_datetime(WHEN_TS)) == WHEN_TS
    assert parse_time(WHEN) == (WHEN, WHEN_TS)
    assert parse_as_of("2026-03-04") == parse_time("2026-03-04T23:59:59.999999Z")[1]
    assert parse_as_of("2026-03-04T01:30:00Z") == WHEN_TS
    with pytest.raises(InvalidEvent, match=r"^as_of: "):
        parse_as_of("2026-03-04T01:30:00")


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_to_json_round_trip(kind: str) -> None:
    event = parse(orjson.dumps(make(kind)))
    assert parse(event.to_json()) == event


def test_key_and_partition_key() -> None:
    contact = parse(orjson.dumps(make("contact_made")))
    assert contact.key == (WHEN_TS, "ev-contact_made")
    assert contact.partition_key == "c1"
    assert parse(orjson.dumps(make("rep_joined"))).partition_key == "r1"


def test_str_input_accepted() -> None:
    assert parse(orjson.dumps(make("rep_left")).decode()).type == "rep_left"


def test_boundary_lengths_accepted() -> None:
    event = parse(
        orjson.dumps(
            make("contact_made", event_id="e" * 128, customer_id="c" * 64, rep_id="r" * 64)
        )
    )
    assert len(event.event_id) == 128
    # Lengths count characters, not bytes.
    event = parse(orjson.dumps(make("contact_made", customer_id="客" * 64)))
    assert event.customer_id == "客" * 64
    assert parse(orjson.dumps(with_payload("contact_made", note="n" * 2000))).payload["note"]


def test_no_extra_length_limits_beyond_the_contract() -> None:
    # team, name, industry and `by` are plain strings in the contract: no length limit.
    long = "x" * 5000
    assert parse(orjson.dumps(with_payload("rep_joined", team=long, name=long)))
    assert parse(orjson.dumps(with_payload("lead_created", industry=long)))
    assert parse(orjson.dumps(with_payload("customer_assigned", by=long)))
    assert parse(orjson.dumps(with_payload("order_lost", quote_id="")))  # no minLength here


def test_numbers_int_float_and_zero() -> None:
    assert parse(orjson.dumps(with_payload("quote_sent", amount=0))).payload["amount"] == 0
    assert parse(orjson.dumps(with_payload("lead_created", potential_value=0.0)))
    assert parse(orjson.dumps(with_payload("need_identified", expected_value=0)))
    assert parse(orjson.dumps(with_payload("order_won", amount=1e-9)))


def test_customer_id_on_rep_event() -> None:
    assert parse(orjson.dumps(make("rep_joined", customer_id="c9"))).customer_id == "c9"
    assert parse(orjson.dumps(make("rep_joined"))).customer_id is None


@pytest.mark.parametrize("kind", ["portrait_updated"])
def test_fields_values_any_scalar(kind: str) -> None:
    fields = {"s": "x", "i": 3, "f": -2.5, "t": True, "e": "", "zero": 0}
    assert parse(orjson.dumps(with_payload(kind, fields=fields))).payload["fields"] == fields


@pytest.mark.parametrize(
    "text",
    ["1990-01-01T00:00:00Z", "2099-12-31T23:59:59.999999Z", "1990-01-01T08:00:00+08:00"],
)
def test_time_range_boundaries_accepted(text: str) -> None:
    assert parse(orjson.dumps(make("rep_left", occurred_at=text)))


# ---------------------------------------------------------------- the whole line


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"   ", b'{"event_id": "e1",', b"{'a': 1}", b'{"a": 1} trailing', b"\x00"],
)
def test_not_valid_json(raw: bytes) -> None:
    assert "not valid JSON" in assert_rejected(raw, "event")


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"an event"', b"42", b"null", b"true", b"[]"])
def test_not_an_object(raw: bytes) -> None:
    assert_rejected(raw, "event")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"])
def test_nan_and_infinity_rejected(literal: bytes) -> None:
    raw = orjson.dumps(with_payload("order_won", amount=1)).replace(
        b'"amount":1', b'"amount":' + literal
    )
    assert b"amount" in raw and literal in raw
    assert_rejected(raw, "event")


def test_nan_in_portrait_fields_rejected() -> None:
    raw = orjson.dumps(with_payload("portrait_updated", fields={"x": 1})).replace(b"1}", b"NaN}")
    assert_rejected(raw, "event")


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps(make("rep_left", rep_id="r1")).replace(b'"r1"', b'"r\xff1"'),
        orjson.dumps(make("rep_left")).replace(b'"rep_left"', b'"rep_left\xc3"'),
        b"\xef\xbb\xbf" + orjson.dumps(make("rep_left")).replace(b"{", b"{\xed\xa0\x80", 1),
    ],
)
def test_invalid_utf8_rejected(raw: bytes) -> None:
    assert_rejected(raw, "event")


def test_lone_surrogate_str_rejected() -> None:
    raw = orjson.dumps(make("rep_left")).decode().replace("r1", "r\ud8001")
    assert_rejected(raw, "event")


def test_escaped_lone_surrogate_rejected() -> None:
    raw = orjson.dumps(make("rep_left")).replace(b'"r1"', b'"r\\ud8001"')
    assert_rejected(raw, "event")


def test_oversize_rejected() -> None:
    obj = make("rep_left")
    obj["padding"] = "x" * MAX_EVENT_BYTES
    assert "larger than" in assert_rejected(orjson.dumps(obj), "event")


def test_oversize_measured_in_bytes_for_str_input() -> None:
    # 100,000 three-byte characters: under the limit in characters, over it in bytes.
    obj = make("rep_left")
    obj["padding"] = "客" * 100_000
    text = orjson.dumps(obj).decode()
    assert len(text) < MAX_EVENT_BYTES < len(text.encode())
    assert_rejected(text, "event")


def test_just_under_the_size_limit_accepted() -> None:
    obj = make("rep_left")
    skeleton = len(orjson.dumps({**obj, "padding": ""}))
    obj["padding"] = "x" * (MAX_EVENT_BYTES - skeleton)
    raw = orjson.dumps(obj)
    assert len(raw) == MAX_EVENT_BYTES
    assert parse(raw).type == "rep_left"


# ---------------------------------------------------------------- the envelope


@pytest.mark.parametrize("field", ["event_id", "type", "occurred_at", "payload"])
@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_required_envelope_field_missing(kind: str, field: str) -> None:
    assert "missing" in assert_rejected(without(make(kind), field), field)


@pytest.mark.parametrize("kind", CUSTOMER_TYPES)
def test_customer_id_missing(kind: str) -> None:
    assert "missing" in assert_rejected(without(make(kind), "customer_id"), "customer_id")


@pytest.mark.parametrize("kind", REP_REQUIRED)
def test_rep_id_missing_or_null(kind: str) -> None:
    assert "missing" in assert_rejected(without(make(kind), "rep_id"), "rep_id")
    assert_rejected(make(kind, rep_id=None), "rep_id")


@pytest.mark.parametrize("kind", ["lead_created", "quote_sent", "order_won"])
def test_rep_id_may_be_absent_where_not_required(kind: str) -> None:
    assert parse(orjson.dumps(without(make(kind), "rep_id"))).rep_id is None


@pytest.mark.parametrize("value", ["", "e" * 129, 5, None, ["e1"], True])
def test_bad_event_id(value: object) -> None:
    assert_rejected(make("rep_left", event_id=value), "event_id")


@pytest.mark.parametrize("value", ["", "c" * 65, 7, None, {"id": "c1"}])
@pytest.mark.parametrize("kind", ["contact_made", "order_won"])
def test_bad_customer_id(kind: str, value: object) -> None:
    assert_rejected(make(kind, customer_id=value), "customer_id")


@pytest.mark.parametrize("value", ["", "c" * 65, 7, None])
def test_bad_customer_id_on_rep_event(value: object) -> None:
    assert_rejected(make("rep_joined", customer_id=value), "customer_id")


@pytest.mark.parametrize("value", ["", "r" * 65, 7, ["r1"], False])
@pytest.mark.parametrize("kind", ["rep_joined", "contact_made", "lead_created"])
def test_bad_rep_id(kind: str, value: object) -> None:
    assert_rejected(make(kind, rep_id=value), "rep_id")


@pytest.mark.parametrize(
    "value", ["contact", "", "REP_JOINED", "rep_joined ", 5, None, True, ["rep_left"], {"t": 1}]
)
def test_unknown_type(value: object) -> None:
    # A list or object `type` once raised TypeError (unhashable) instead of InvalidEvent.
    assert "unknown event type" in assert_rejected(make("rep_left", type=value), "type")


@pytest.mark.parametrize("value", [0, -1, "1", True, 1.5, None, [1]])
def test_bad_schema_version(value: object) -> None:
    assert_rejected(make("rep_left", schema_version=value), "schema_version")


@pytest.mark.parametrize("value", [[], "x", None, 3, True])
def test_payload_not_an_object(value: object) -> None:
    assert "not an object" in assert_rejected(make("rep_left", payload=value), "payload")


# ---------------------------------------------------------------- occurred_at


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "",
        "2026-03-04",
        "2026-03-04 09:30:00+08:00",
        "2026/03/04T09:30:00Z",
        "2026-03-04T09:30:00+0800",
        "2026-03-04T09:30:00 Z",
        "2026-03-04t09:30:00z",
        "2026-03-04T9:30:00Z",
        "20260304T093000Z",
        " 2026-03-04T09:30:00Z",
        "2026-03-04T09:30:00Z\n",
        "2026-13-04T09:30:00Z",
        "2026-02-30T09:30:00Z",
        "2026-03-04T24:00:00Z",
        "2026-03-04T09:60:00Z",
        "2026-03-04T09:30:60Z",
        "2026-03-04T09:30:00+24:00",
        "\u0662\u0660\u0662\u0666-03-04T09:30:00Z",  # Arabic-Indic digits
        1772587800,
        1772587800.5,
        None,
        ["2026-03-04T09:30:00Z"],
    ],
)
def test_unparsable_occurred_at(value: object) -> None:
    assert_rejected(make("contact_made", occurred_at=value), "occurred_at")


@pytest.mark.parametrize(
    "value", ["2026-03-04T09:30:00", "2026-03-04T09:30", "2026-03-04T09:30:00.5"]
)
def test_occurred_at_without_offset(value: object) -> None:
    reason = assert_rejected(make("contact_made", occurred_at=value), "occurred_at")
    assert "offset" in reason


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+05:00",
        "1899-12-31T23:59:59Z",
        "1989-12-31T23:59:59.999999Z",
        "1990-01-01T00:00:00+01:00",  # 1989 in UTC
        "2099-12-31T23:00:00-05:00",  # 2100 in UTC
        "2100-01-01T00:00:00Z",
        "3026-03-04T09:30:00Z",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:59:59.999999Z",
    ],
)
def test_dates_far_in_the_past_or_future(value: str) -> None:
    reason = assert_rejected(make("contact_made", occurred_at=value), "occurred_at")
    assert "outside the accepted range" in reason


# ---------------------------------------------------------------- payload rules

ENUMS = [
    ("rep_joined", "role"),
    ("lead_created", "source"),
    ("lead_created", "size"),
    ("contact_made", "channel"),
    ("portrait_updated", "section"),
    ("order_lost", "reason"),
    ("importance_set", "tier"),
    ("customer_suspended", "reason"),
    ("complaint_received", "severity"),
]
REQUIRED_PAYLOAD = [
    ("lead_created", "source"),
    ("contact_made", "channel"),
    ("portrait_updated", "section"),
    ("need_identified", "clear_need"),
    ("quote_sent", "quote_id"),
    ("quote_sent", "amount"),
    ("order_won", "order_id"),
    ("order_won", "amount"),
    ("order_lost", "reason"),
    ("importance_set", "tier"),
    ("customer_suspended", "reason"),
    ("complaint_received", "severity"),
]


@pytest.mark.parametrize(("kind", "field"), REQUIRED_PAYLOAD)
def test_required_payload_field_missing(kind: str, field: str) -> None:
    reason = assert_rejected(without(make(kind), "payload", field), f"payload.{field}")
    assert "missing" in reason


@pytest.mark.parametrize("value", ["bogus", "", "Phone", 1, None, True, ["phone"], {"x": 1}])
@pytest.mark.parametrize(("kind", "field"), ENUMS)
def test_enum_value_not_allowed(kind: str, field: str, value: object) -> None:
    assert "must be one of" in assert_rejected(
        with_payload(kind, **{field: value}), f"payload.{field}"
    )


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        # Each enum's values are its own: a neighbour's is not accepted.
        ("customer_suspended", "reason", "competitor"),
        ("customer_suspended", "reason", "price"),
        ("order_lost", "reason", "competition"),
        ("lead_created", "source", "dormant"),
        ("importance_set", "tier", "vip"),
        ("complaint_received", "severity", "critical"),
        ("portrait_updated", "section", "personal"),
        ("contact_made", "channel", "hosted-visit"),
        ("rep_joined", "role", "admin"),
    ],
)
def test_enum_neighbour_values(kind: str, field: str, value: str) -> None:
    assert_rejected(with_payload(kind, **{field: value}), f"payload.{field}")


NUMBERS = [
    ("lead_created", "potential_value", False),
    ("need_identified", "expected_value", False),
    ("quote_sent", "amount", False),
    ("order_won", "amount", True),
]


@pytest.mark.parametrize("value", ["100", None, [1], {"v": 1}, "NaN"])
@pytest.mark.parametrize(("kind", "field", "positive"), NUMBERS)
def test_number_wrong_type(kind: str, field: str, positive: bool, value: object) -> None:
    reason = assert_rejected(with_payload(kind, **{field: value}), f"payload.{field}")
    assert "must be a number" in reason


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize(("kind", "field", "positive"), NUMBERS)
def test_bool_is_not_a_number(kind: str, field: str, positive: bool, value: bool) -> None:
    reason = assert_rejected(with_payload(kind, **{field: value}), f"payload.{field}")
    assert "must be a number" in reason


@pytest.mark.parametrize("value", [-1, -0.01, -1e300])
@pytest.mark.parametrize(("kind", "field", "positive"), NUMBERS)
def test_negative_number(kind: str, field: str, positive: bool, value: float) -> None:
    assert_rejected(with_payload(kind, **{field: value}), f"payload.{field}")


@pytest.mark.parametrize("value", [0, 0.0, -0.0])
def test_order_amount_must_be_greater_than_zero(value: float) -> None:
    reason = assert_rejected(with_payload("order_won", amount=value), "payload.amount")
    assert "greater than 0" in reason


BOOLEANS = [
    ("contact_made", "effective"),
    ("importance_set", "never_suspend"),
    ("need_identified", "clear_need"),
]


@pytest.mark.parametrize("value", ["true", "yes", 1, 0, None, [True], 1.0])
@pytest.mark.parametrize(("kind", "field"), BOOLEANS)
def test_boolean_wrong_type(kind: str, field: str, value: object) -> None:
    reason = assert_rejected(with_payload(kind, **{field: value}), f"payload.{field}")
    assert "true or false" in reason


STRINGS = [
    ("rep_joined", "team"),
    ("rep_joined", "name"),
    ("lead_created", "industry"),
    ("contact_made", "note"),
    ("quote_sent", "quote_id"),
    ("order_won", "order_id"),
    ("order_lost", "quote_id"),
    ("customer_assigned", "by"),
]


@pytest.mark.parametrize("value", [5, 1.5, True, None, ["x"], {"x": "y"}])
@pytest.mark.parametrize(("kind", "field"), STRINGS)
def test_string_wrong_type(kind: str, field: str, value: object) -> None:
    # null is not a string either: the schema types these fields `string`.
    reason = assert_rejected(with_payload(kind, **{field: value}), f"payload.{field}")
    assert "must be a string" in reason


@pytest.mark.parametrize(("kind", "field"), [("quote_sent", "quote_id"), ("order_won", "order_id")])
def test_ids_in_payload_must_not_be_empty(kind: str, field: str) -> None:
    assert "empty" in assert_rejected(with_payload(kind, **{field: ""}), f"payload.{field}")


def test_note_longer_than_2000_characters() -> None:
    reason = assert_rejected(with_payload("contact_made", note="n" * 2001), "payload.note")
    assert "2000" in reason
    assert_rejected(with_payload("contact_made", note="话" * 2001), "payload.note")


@pytest.mark.parametrize(
    "value",
    [
        "2026/06/30",
        "30-06-2026",
        "2026-6-30",
        "2026-06-31",
        "2026-02-29",
        "2026-13-01",
        "2026-06-30T00:00:00Z",
        "",
        "\u0662\u0660\u0662\u0666-06-30",
        20260630,
        None,
        True,
    ],
)
def test_bad_due_date(value: object) -> None:
    assert_rejected(with_payload("need_identified", due_date=value), "payload.due_date")


def test_good_due_dates() -> None:
    for value in ("2028-02-29", "1999-01-01", "2026-12-31"):
        assert parse(orjson.dumps(with_payload("need_identified", due_date=value)))


@pytest.mark.parametrize("value", [[], "basic", 5, None, True, [["a", "b"]]])
def test_fields_not_an_object(value: object) -> None:
    assert "must be an object" in assert_rejected(
        with_payload("portrait_updated", fields=value), "payload.fields"
    )


@pytest.mark.parametrize("value", [None, [1, 2], {"a": "b"}, []])
def test_fields_value_wrong_type(value: object) -> None:
    obj = with_payload("portrait_updated", fields={"ok": "fine", "bad_one": value})
    assert_rejected(obj, "payload.fields.bad_one")


# ---------------------------------------------------------------- no echo of portrait values


@pytest.mark.parametrize("section", ["deep", "extended"])
@pytest.mark.parametrize(
    "breakage",
    [
        "value_list",
        "value_object",
        "value_null",
        "section_bad",
        "missing_customer",
        "bad_time",
        "fields_string",
        "broken_json",
        "bad_type",
    ],
)
def test_reason_never_echoes_portrait_values(section: str, breakage: str) -> None:
    obj = with_payload("portrait_updated", section=section, fields={"spouse": SECRET})
    raw: bytes
    if breakage == "value_list":
        obj["payload"]["fields"]["hospital"] = [SECRET]
    elif breakage == "value_object":
        obj["payload"]["fields"]["hospital"] = {"name": SECRET}
    elif breakage == "value_null":
        obj["payload"]["fields"]["zz"] = None
    elif breakage == "section_bad":
        obj["payload"]["section"] = SECRET
    elif breakage == "missing_customer":
        del obj["customer_id"]
    elif breakage == "bad_time":
        obj["occurred_at"] = "2026-03-04T09:30:00"
    elif breakage == "fields_string":
        obj["payload"]["fields"] = SECRET
    elif breakage == "bad_type":
        obj["type"] = "portrait"
    raw = orjson.dumps(obj)
    if breakage == "broken_json":
        raw = raw[:-3] + SECRET.encode() + b'"\x00'
    assert SECRET in raw.decode("utf-8", "replace")
    reason = reason_of(raw)
    assert SECRET not in reason
    assert "Mary" not in reason


def test_reason_for_a_bad_field_value_names_the_field_not_the_value() -> None:
    obj = with_payload("portrait_updated", section="deep", fields={"boss_mobile": [SECRET]})
    reason = assert_rejected(obj, "payload.fields.boss_mobile")
    assert SECRET not in reason


def test_reason_truncates_a_long_field_name() -> None:
    name = "k" * 500
    reason = reason_of(with_payload("portrait_updated", fields={name: None}))
    assert reason.startswith("payload.fields.k")
    assert len(reason) < 200


# ---------------------------------------------------------------- robustness

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def _mangled_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EVENT_TYPES))
    obj = make(kind)
    for _ in range(draw(st.integers(1, 3))):
        payload = obj.get("payload")
        target = payload if isinstance(payload, dict) and draw(st.booleans()) else obj
        keys = [*target.keys(), "event_id", "type", "occurred_at", "section", "fields"]
        key = draw(st.sampled_from(keys))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(_json)
    return obj


@settings(max_examples=300, deadline=None)
@given(_mangled_events())
def test_parse_never_raises_anything_but_invalid_event(obj: dict[str, Any]) -> None:
    raw = orjson.dumps(obj)
    try:
        event = parse(raw)
    except InvalidEvent as exc:
        field = str(exc).split(":", 1)[0]
        assert field in {
            "event",
            "event_id",
            "type",
            "occurred_at",
            "customer_id",
            "rep_id",
            "payload",
            "schema_version",
        } or field.startswith("payload.")
    else:
        assert parse(event.to_json()) == event


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_arbitrary_bytes(raw: bytes) -> None:
    with contextlib.suppress(InvalidEvent):
        parse(raw)
