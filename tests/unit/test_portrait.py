"""The portrait store: last writer wins per field, whatever the order and the repeats."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.contract import SECTIONS, Event, validate
from streams.core.portrait import Portrait, PortraitStore, apply, fold_portraits


def update(eid: str, day: int, section: str, **fields: object) -> Event:
    return validate(
        {
            "event_id": eid,
            "type": "portrait_updated",
            "occurred_at": f"2026-03-{day:02d}T09:00:00+08:00",
            "customer_id": "c1",
            "rep_id": "r1",
            "payload": {"section": section, "fields": fields},
        }
    )


def test_last_writer_wins_per_field_by_occurred_at_then_event_id() -> None:
    events = [
        update("b", 3, "basic", phone="2", email="x@y"),
        update("a", 5, "basic", phone="3"),
        update("c", 5, "basic", phone="4"),  # same time as "a": the larger id wins
        update("d", 1, "basic", phone="1", fax="9"),
    ]
    portrait = fold_portraits(events)["c1"]
    assert portrait.plain()["basic"]["fields"] == {"email": "x@y", "fax": "9", "phone": "4"}
    assert portrait.sections["basic"].updated[1] == "c"


def test_a_section_with_no_fields_is_known_and_sensitive_ones_stay_apart() -> None:
    portrait = fold_portraits([update("a", 1, "needs"), update("b", 2, "deep", plan="secret")])[
        "c1"
    ]
    assert portrait.known() == ("needs", "deep")
    assert portrait.plain() == {
        "needs": {
            "updated_at_us": portrait.sections["needs"].updated[0],
            "updated_by": "r1",
            "fields": {},
        }
    }
    assert portrait.sensitive()["deep"]["fields"] == {"plan": "secret"}
    assert "secret" not in repr(portrait)


def test_apply_is_pure_and_ignores_other_events() -> None:
    first = apply(None, update("a", 1, "basic", phone="1"))
    second = apply(first, update("b", 2, "basic", phone="2"))
    assert first.plain()["basic"]["fields"] == {"phone": "1"}
    assert second.plain()["basic"]["fields"] == {"phone": "2"}
    contact = validate(
        {
            "event_id": "x",
            "type": "contact_made",
            "occurred_at": "2026-03-01T09:00:00Z",
            "customer_id": "c1",
            "rep_id": "r1",
            "payload": {"channel": "phone"},
        }
    )
    assert apply(second, contact) is second
    assert PortraitStore().feed(contact) is False


_events = st.lists(
    st.builds(
        lambda k, day, section, name, value: update(f"e{k}", day, section, **{name: value}),
        st.integers(0, 30),
        st.integers(1, 28),
        st.sampled_from(SECTIONS),
        st.sampled_from(["a", "b", "c"]),
        st.one_of(st.text(max_size=5), st.integers(), st.booleans()),
    ),
    max_size=25,
    unique_by=lambda e: e.event_id,
)


@settings(max_examples=200, deadline=None)
@given(_events, st.randoms(use_true_random=False))
def test_order_and_repeats_do_not_change_the_portrait(events: list[Event], rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    shuffled = events + events[: len(events) // 2]
    rnd.shuffle(shuffled)
    in_order = sorted(events, key=lambda e: e.key)
    assert fold_portraits(shuffled) == fold_portraits(in_order)
    if events:
        expected: Portrait = fold_portraits(in_order)["c1"]
        for section in expected.sections.values():
            for name, entry in section.fields:
                newest = max(
                    (
                        e
                        for e in events
                        if name in e.payload["fields"]
                        and section is expected.sections[e.payload["section"]]
                    ),
                    key=lambda e: e.key,
                )
                assert entry.key == newest.key
