"""Bad lines are dead-lettered (source, line, raw, reason, sha256) and never stop a replay.

The dead-letter store is read by more people than the portrait, so `deep` / `extended`
portrait values never reach it: not in the raw text, not in the reason.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

import orjson
import pytest

from streams.core.deadletter import (
    REDACTED,
    DeadLetterFile,
    Rejection,
    read_dead_letters,
    reject,
    safe_raw,
)
from streams.core.log import decode, read_lines
from streams.embedded.replay import replay_files

SECRET = "SECRET-wife-Mei-kidney-2291"
SECRET2 = "SECRET-boss-leaving-in-May"


def ev(eid: str, kind: str, when: str = "2026-03-04T09:30:00Z", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"event_id": eid, "type": kind, "occurred_at": when, "payload": {}}
    obj.update(extra)
    return obj


def line(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


def portrait(eid: str, section: str, fields: Any, **extra: Any) -> dict[str, Any]:
    obj = ev(eid, "portrait_updated", customer_id="c1", rep_id="r1")
    obj["payload"] = {"section": section, "fields": fields}
    obj.update(extra)
    return obj


VALID = [
    line(ev("v1", "rep_joined", rep_id="r1", payload={"team": "east"})),
    line(ev("v2", "lead_created", customer_id="c1", rep_id="r1", payload={"source": "referral"})),
    line(ev("v3", "contact_made", customer_id="c1", rep_id="r1", payload={"channel": "phone"})),
    line(portrait("v4", "deep", {"note": "fine"})),
    line(ev("v5", "order_won", customer_id="c2", payload={"order_id": "o1", "amount": 10})),
]


def write_log(path: Path, lines: list[bytes], newline: bytes = b"\n") -> Path:
    path.write_bytes(b"".join(raw + newline for raw in lines))
    return path


# ---------------------------------------------------------------- a mixed log


@pytest.fixture
def mixed_log(tmp_path: Path) -> tuple[Path, list[bytes], dict[int, tuple[bytes, str]]]:
    """A log of valid and bad lines; returns (path, lines, {line number: (raw, field)})."""
    bad = {
        "not_json": (b'{"event_id": "b1", "type": ', "event"),
        "not_object": (b"[1, 2, 3]", "event"),
        "no_event_id": (line(ev("", "rep_left", rep_id="r1") | {"event_id": None}), "event_id"),
        "unknown_type": (line(ev("b3", "phone_call", customer_id="c1")), "type"),
        "list_type": (line(ev("b3b", "x", customer_id="c1") | {"type": ["x"]}), "type"),
        "no_offset": (
            line(ev("b4", "rep_left", "2026-03-04T09:30:00", rep_id="r1")),
            "occurred_at",
        ),
        "no_customer": (
            line(ev("b5", "contact_made", rep_id="r1", payload={"channel": "phone"})),
            "customer_id",
        ),
        "bad_channel": (
            line(
                ev("b6", "contact_made", customer_id="c1", rep_id="r1", payload={"channel": "fax"})
            ),
            "payload.channel",
        ),
        "zero_order": (
            line(ev("b7", "order_won", customer_id="c1", payload={"order_id": "o", "amount": 0})),
            "payload.amount",
        ),
        "invalid_utf8": (b'{"event_id": "b8\xff", "type": "rep_left"}', "event"),
        "nan": (
            b'{"event_id":"b9","type":"order_won","occurred_at":"2026-03-04T09:30:00Z",'
            b'"customer_id":"c1","payload":{"order_id":"o","amount":NaN}}',
            "event",
        ),
    }
    lines: list[bytes] = []
    expected: dict[int, tuple[bytes, str]] = {}
    valid = iter(VALID)
    for raw, field in bad.values():
        lines.append(next(valid, line(ev(f"pad{len(lines)}", "rep_left", rep_id="r2"))))
        lines.append(raw)
        expected[len(lines)] = (raw, field)
    lines.extend(valid)
    return write_log(tmp_path / "events.jsonl", lines), lines, expected


def test_valid_lines_all_processed_around_bad_ones(
    mixed_log: tuple[Path, list[bytes], dict[int, tuple[bytes, str]]], tmp_path: Path
) -> None:
    path, lines, expected = mixed_log
    snapshot = replay_files([path], dead_letters=tmp_path / "dlq.jsonl")
    assert snapshot.stats.rejected == len(expected)
    assert snapshot.stats.events_read == len(lines)
    assert snapshot.stats.events_applied == len(lines) - len(expected)
    assert set(snapshot.customers) == {"c1", "c2"}
    assert snapshot.customers["c1"].effective == 1
    assert snapshot.customers["c1"].section_names == ("deep",)
    assert snapshot.customers["c2"].orders == 1
    assert {"r1", "r2"} <= set(snapshot.reps)


def test_each_bad_line_dead_lettered_with_source_line_raw_reason_and_hash(
    mixed_log: tuple[Path, list[bytes], dict[int, tuple[bytes, str]]], tmp_path: Path
) -> None:
    path, _, expected = mixed_log
    dlq = tmp_path / "out" / "dlq.jsonl"  # the parent directory is created
    replay_files([path], dead_letters=dlq)
    letters = read_dead_letters(dlq)
    assert [r.line for r in letters] == sorted(expected)
    for rejection in letters:
        raw, field = expected[rejection.line]
        assert rejection.source == str(path)
        assert rejection.reason.startswith(f"{field}: "), rejection.reason
        assert rejection.raw_sha256 == hashlib.sha256(raw).hexdigest()
        assert rejection.raw == raw.decode("utf-8", "replace")


def test_stats_count_rejections_by_field(
    mixed_log: tuple[Path, list[bytes], dict[int, tuple[bytes, str]]],
) -> None:
    path, _, expected = mixed_log
    stats = replay_files([path]).stats.to_dict()
    by_field: dict[str, int] = {}
    for _, field in expected.values():
        by_field[field] = by_field.get(field, 0) + 1
    assert stats["rejected_by_field"] == by_field


def test_no_dead_letter_file_when_not_asked(
    mixed_log: tuple[Path, list[bytes], dict[int, tuple[bytes, str]]], tmp_path: Path
) -> None:
    path, _, expected = mixed_log
    before = set(tmp_path.rglob("*"))
    assert replay_files([path]).stats.rejected == len(expected)
    assert set(tmp_path.rglob("*")) == before


def test_no_dead_letter_file_when_nothing_rejected(tmp_path: Path) -> None:
    path = write_log(tmp_path / "ok.jsonl", VALID)
    dlq = tmp_path / "dlq.jsonl"
    assert replay_files([path], dead_letters=dlq).stats.rejected == 0
    assert not dlq.exists()


def test_dead_letter_file_is_appended_to(tmp_path: Path) -> None:
    path = write_log(tmp_path / "bad.jsonl", [b"nope", VALID[0]])
    dlq = tmp_path / "dlq.jsonl"
    replay_files([path], dead_letters=dlq)
    replay_files([path], dead_letters=dlq)
    assert [r.line for r in read_dead_letters(dlq)] == [1, 1]


def test_line_numbers_count_blank_lines_and_crlf(tmp_path: Path) -> None:
    lines = [VALID[0], b"", b"   ", b"garbage", VALID[1], b"{]"]
    path = write_log(tmp_path / "crlf.jsonl", lines, newline=b"\r\n")
    dlq = tmp_path / "dlq.jsonl"
    snapshot = replay_files([path], dead_letters=dlq)
    assert snapshot.stats.events_applied == 2
    letters = read_dead_letters(dlq)
    assert [(r.line, r.raw) for r in letters] == [(4, "garbage"), (6, "{]")]
    assert letters[0].raw_sha256 == hashlib.sha256(b"garbage").hexdigest()


def test_final_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "tail.jsonl"
    path.write_bytes(VALID[0] + b"\n" + b"{broken")
    letters = [r for r in decode(read_lines([path])) if isinstance(r, Rejection)]
    assert [(r.line, r.raw) for r in letters] == [(2, "{broken")]


# ---------------------------------------------------------------- redaction


def _rejection_for(tmp_path: Path, raw: bytes) -> Rejection:
    path = write_log(tmp_path / "one.jsonl", [VALID[0], raw])
    dlq = tmp_path / "dlq.jsonl"
    replay_files([path], dead_letters=dlq)
    (rejection,) = read_dead_letters(dlq)
    assert rejection.raw_sha256 == hashlib.sha256(raw).hexdigest()  # of the original
    assert rejection.line == 2
    # Nothing sensitive in the file at all.
    text = dlq.read_text()
    assert SECRET not in text and SECRET2 not in text
    return rejection


@pytest.mark.parametrize("section", ["deep", "extended"])
def test_sensitive_values_redacted_in_valid_json(tmp_path: Path, section: str) -> None:
    obj = portrait("s1", section, {"spouse": SECRET, "plan": SECRET2, "kids": 2})
    del obj["customer_id"]  # valid JSON, bad event
    rejection = _rejection_for(tmp_path, line(obj))
    assert rejection.reason.startswith("customer_id: ")
    stored = orjson.loads(rejection.raw)
    # Field names stay (they tell an operator what to fix); values go.
    assert stored["payload"]["fields"] == {"spouse": REDACTED, "plan": REDACTED, "kids": REDACTED}
    assert stored["payload"]["section"] == section
    assert stored["event_id"] == "s1"


@pytest.mark.parametrize("section", ["deep", "extended"])
def test_sensitive_values_redacted_when_the_fields_break_the_contract(
    tmp_path: Path, section: str
) -> None:
    obj = portrait("s2", section, {"spouse": SECRET, "history": [SECRET2]})
    rejection = _rejection_for(tmp_path, line(obj))
    assert rejection.reason.startswith("payload.fields.history: ")
    assert orjson.loads(rejection.raw)["payload"]["fields"] == {
        "spouse": REDACTED,
        "history": REDACTED,
    }


@pytest.mark.parametrize("section", ["deep", "extended"])
def test_sensitive_values_redacted_in_broken_json(tmp_path: Path, section: str) -> None:
    raw = line(portrait("s3", section, {"spouse": SECRET}))[:-3]  # truncated
    rejection = _rejection_for(tmp_path, raw)
    assert rejection.reason.startswith("event: not valid JSON")
    assert rejection.raw.startswith(REDACTED)
    assert str(len(raw)) in rejection.raw


@pytest.mark.parametrize(
    "payload",
    [
        # A misspelt sensitive section is still (probably) sensitive.
        {"section": "Deep", "fields": {"spouse": SECRET}},
        {"section": "deep ", "fields": {"spouse": SECRET}},
        {"section": "EXTENDED", "fields": {"spouse": SECRET}},
        {"section": "family", "fields": {"spouse": SECRET}},
        # A section that is not even a string (once crashed the redactor: unhashable).
        {"section": ["deep"], "fields": {"spouse": SECRET}},
        {"section": {"deep": SECRET2}, "fields": {"spouse": SECRET}},
        {"section": None, "fields": {"spouse": SECRET}},
        # No section: the fields cannot be told safe.
        {"fields": {"spouse": SECRET}},
        # The values outside `fields` (a misnamed key) of a sensitive section.
        {"section": "deep", "field": {"spouse": SECRET}, "notes": SECRET2},
        {"section": "extended", "fields": SECRET},
        {"section": "deep", "fields": [SECRET]},
    ],
)
def test_possibly_sensitive_payloads_redacted(tmp_path: Path, payload: dict[str, Any]) -> None:
    # Bad (no UTC offset) so that it is dead-lettered whatever the payload.
    obj = ev("s4", "portrait_updated", "2026-03-04T09:30", customer_id="c1", payload=payload)
    rejection = _rejection_for(tmp_path, line(obj))
    assert REDACTED in rejection.raw
    assert orjson.loads(rejection.raw)["event_id"] == "s4"


def test_misplaced_portrait_at_envelope_level_redacted(tmp_path: Path) -> None:
    obj = ev("s5", "portrait_updated", customer_id="c1", section="deep", fields={"x": SECRET})
    del obj["payload"]
    rejection = _rejection_for(tmp_path, line(obj))
    assert rejection.reason.startswith("payload: ")
    assert orjson.loads(rejection.raw)["fields"] == {"x": REDACTED}


def test_unicode_escaped_section_redacted(tmp_path: Path) -> None:
    # "d\u0065ep" is "deep" once decoded: the text does not say "deep", the JSON does.
    raw = line(portrait("s6", "SECTION", {"spouse": SECRET}, customer_id=None))
    raw = raw.replace(b'"SECTION"', b'"d\\u0065ep"')
    assert b"deep" not in raw
    rejection = _rejection_for(tmp_path, raw)
    assert orjson.loads(rejection.raw)["payload"]["fields"] == {"spouse": REDACTED}


def test_unicode_escaped_section_in_broken_json_redacted(tmp_path: Path) -> None:
    raw = line(portrait("s7", "SECTION", {"spouse": SECRET})).replace(b'"SECTION"', b'"\\u0064eep"')
    rejection = _rejection_for(tmp_path, raw[:-2])
    assert rejection.raw.startswith(REDACTED)


def test_nested_sensitive_portrait_redacted(tmp_path: Path) -> None:
    obj = ev("s8", "rep_left", rep_id="r1", payload=[{"section": "deep", "fields": {"a": SECRET}}])
    rejection = _rejection_for(tmp_path, line(obj))
    assert rejection.reason.startswith("payload: ")
    assert orjson.loads(rejection.raw)["payload"] == [
        {"section": "deep", "fields": {"a": REDACTED}}
    ]


def test_non_sensitive_sections_kept_verbatim(tmp_path: Path) -> None:
    # Formatting kept byte for byte (spaces, key order): the operator can fix and resend.
    raw = (
        b'{"event_id": "n1", "type": "portrait_updated", "occurred_at": "2026-03-04T09:30:00",'
        b' "customer_id": "c1", "payload": {"section": "needs", "fields": {"ink": "UV"}}}'
    )
    rejection = _rejection_for(tmp_path, raw)
    assert rejection.reason.startswith("occurred_at: ")
    assert rejection.raw == raw.decode()


def test_broken_json_without_sensitive_sections_kept(tmp_path: Path) -> None:
    raw = b'{"event_id": "n2", "type": "contact_made", "payload": {"channel": "ph'
    assert _rejection_for(tmp_path, raw).raw == raw.decode()


@pytest.mark.parametrize("section", ["deep", "extended"])
def test_reason_does_not_contain_sensitive_values(tmp_path: Path, section: str) -> None:
    cases = [
        portrait("r1", section, {"a": SECRET, "b": None}),
        portrait("r2", section, {"a": {"nested": SECRET}}),
        portrait("r3", section, SECRET),
        portrait("r4", section, {"a": SECRET}, occurred_at="2026-03-04T09:30:00"),
        portrait("r5", section, {"a": SECRET}, type="portrait"),
    ]
    lines = [line(obj) for obj in cases] + [line(cases[0])[:-2]]
    path = write_log(tmp_path / "s.jsonl", lines)
    dlq = tmp_path / "dlq.jsonl"
    assert replay_files([path], dead_letters=dlq).stats.rejected == len(lines)
    text = dlq.read_text()
    assert SECRET not in text and SECRET2 not in text
    assert all(SECRET not in r.reason for r in read_dead_letters(dlq))


# ---------------------------------------------------------------- the pieces


def test_safe_raw_keeps_plain_text() -> None:
    assert safe_raw(b"hello") == "hello"
    assert safe_raw(b"\xffbad") == "\ufffdbad"


def test_reject_str_input() -> None:
    text = '{"event_id": "e", "bad": "\udcff"}'  # as decoded with surrogateescape
    rejection = reject("topic:events/0", 17, text, "event: not valid JSON")
    assert rejection.raw_sha256 == hashlib.sha256(b'{"event_id": "e", "bad": "\xff"}').hexdigest()
    assert rejection.source == "topic:events/0" and rejection.line == 17


def test_reject_str_with_lone_surrogate_does_not_crash() -> None:
    rejection = reject("topic", 1, '{"event_id": "e\ud800"}', "event: not valid JSON")
    assert rejection.raw.startswith('{"event_id": "e')
    assert len(rejection.raw_sha256) == 64


def test_dead_letter_file_round_trip_and_count(tmp_path: Path) -> None:
    rejections = [reject("a.jsonl", n, f"bad {n}".encode(), f"event: bad {n}") for n in (1, 2)]
    path = tmp_path / "d.jsonl"
    with DeadLetterFile(path) as dlq:
        for r in rejections:
            dlq.write(r)
        assert dlq.count == 2
    assert read_dead_letters(path) == rejections
    with DeadLetterFile(None) as counting_only:
        counting_only.write(rejections[0])
        assert counting_only.count == 1


@pytest.mark.parametrize("depth", [40, 600, 1024])
def test_deeply_nested_bad_lines_do_not_stop_the_replay(tmp_path: Path, depth: int) -> None:
    nested_list = b"[" * depth + b"]" * depth
    nested_obj = b'{"payload":' * depth + b'{"section":"deep","fields":{"a":"' + SECRET.encode()
    nested_obj += b'"}}' + b"}" * depth
    path = write_log(tmp_path / "deep.jsonl", [nested_list, VALID[0], nested_obj, VALID[1]])
    dlq = tmp_path / "dlq.jsonl"
    snapshot = replay_files([path], dead_letters=dlq)
    assert (snapshot.stats.events_applied, snapshot.stats.rejected) == (2, 2)
    assert [r.line for r in read_dead_letters(dlq)] == [1, 3]
    assert SECRET not in dlq.read_text()
