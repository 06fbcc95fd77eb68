"""Property tests of the fold: order, duplicates, purity and the as-of cut change nothing.

The contract: "the derived state must equal the state of the same set of events applied
once each in `occurred_at` order (ties: by `event_id`)". States are compared through
`to_dict()`, i.e. every stored field, bit for bit.
"""

from __future__ import annotations

import math
import sys
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.contract import (
    CHANNELS,
    EVENT_TYPES,
    LOSS_REASONS,
    REP_EVENT_TYPES,
    ROLES,
    SECTIONS,
    SEVERITIES,
    SIZES,
    SOURCES,
    SUSPEND_REASONS,
    TIERS,
    Event,
    to_datetime,
    validate,
)
from streams.core.fold import apply, apply_in_place, apply_rep, touches_customer
from streams.core.snapshot import Snapshot
from streams.core.state import DAY_US, CustomerState, RepState
from streams.embedded.replay import replay_events

T0 = 1_767_603_600_000_000  # 2026-01-05T09:00:00Z
CUSTOMERS = ("c1", "c2", "c3")
REPS = ("r1", "r2", "r3")
# A few instants shared by many events, so that ties are common.
TIE_POOL = (*(T0 + k * DAY_US for k in (0, 1, 1, 7, 30)), T0 + 5 * DAY_US + 1)
OFFSETS = (0, 0, 60, 480, -300, 330, 345, -600, 840)  # minutes east of UTC

SETTINGS = settings(max_examples=150, deadline=None)

_text = st.text(alphabet="abcxyz 客户", max_size=6)
# Decimal fractions are inexact in binary: their float sum depends on the order of addition.
_amount = st.one_of(
    st.sampled_from([0.1, 0.2, 0.3, 0.7, 1.1, 2.675, 1e-7, 123.45, 1e15, 1e16]),
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**6),
)
_positive = _amount.filter(lambda x: x > 0)


def _optional(**fields: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return fields


PAYLOADS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "rep_joined": st.fixed_dictionaries(
        {}, optional={"role": st.sampled_from(ROLES), "team": _text, "name": _text}
    ),
    "rep_left": st.just({}),
    "lead_created": st.fixed_dictionaries(
        {"source": st.sampled_from(SOURCES)},
        optional={
            "industry": _text,
            "size": st.sampled_from(SIZES),
            "potential_value": _amount,
        },
    ),
    "contact_made": st.fixed_dictionaries(
        {"channel": st.sampled_from(CHANNELS)},
        optional={"effective": st.booleans(), "note": _text},
    ),
    "portrait_updated": st.fixed_dictionaries(
        {"section": st.sampled_from(SECTIONS)},
        optional={
            "fields": st.dictionaries(
                st.sampled_from(["a", "b"]), st.one_of(_text, st.integers(-5, 5), st.booleans())
            )
        },
    ),
    "need_identified": st.fixed_dictionaries(
        {"clear_need": st.booleans()},
        optional={
            "expected_value": _amount,
            "due_date": st.sampled_from(["2026-03-01", "2026-06-30"]),
        },
    ),
    "quote_sent": st.fixed_dictionaries(
        {"quote_id": st.sampled_from(["q1", "q2"]), "amount": _amount}
    ),
    "order_won": st.fixed_dictionaries(
        {"order_id": st.sampled_from(["o1", "o2"]), "amount": _positive}
    ),
    "order_lost": st.fixed_dictionaries(
        {"reason": st.sampled_from(LOSS_REASONS)}, optional={"quote_id": st.just("q1")}
    ),
    "importance_set": st.fixed_dictionaries(
        {"tier": st.sampled_from(TIERS)}, optional={"never_suspend": st.booleans()}
    ),
    "customer_suspended": st.fixed_dictionaries({"reason": st.sampled_from(SUSPEND_REASONS)}),
    "customer_assigned": st.fixed_dictionaries({}, optional={"by": st.just("m1")}),
    "complaint_received": st.fixed_dictionaries({"severity": st.sampled_from(SEVERITIES)}),
}
REP_REQUIRED = frozenset({"rep_joined", "rep_left", "contact_made", "customer_assigned"})
# Contacts are the bulk of a real log (and what the twelve-contact rule counts); money
# events are where order could leak into sums.
_TYPES = st.one_of(
    st.sampled_from(EVENT_TYPES),
    st.sampled_from(["contact_made", "quote_sent", "order_won"]),
)


def occurred_at(ts: int, offset_minutes: int, utc_as_z: bool) -> str:
    moment = to_datetime(ts).astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if utc_as_z else text


@st.composite
def events(draw: st.DrawFn, event_id: str) -> Event:
    kind = draw(_TYPES)
    ts = draw(
        st.one_of(
            st.sampled_from(TIE_POOL),
            st.integers(T0 - 60 * DAY_US, T0 + 120 * DAY_US),
            st.integers(T0, T0 + 40 * DAY_US).map(lambda t: t - t % 1_000_000),  # whole seconds
        )
    )
    obj: dict[str, Any] = {
        "event_id": event_id,
        "type": kind,
        "occurred_at": occurred_at(ts, draw(st.sampled_from(OFFSETS)), draw(st.booleans())),
        "payload": draw(PAYLOADS[kind]),
    }
    if kind not in REP_EVENT_TYPES:
        obj["customer_id"] = draw(st.sampled_from(CUSTOMERS))
    rep = draw(st.sampled_from(REPS) if kind in REP_REQUIRED else st.sampled_from((*REPS, None)))
    if rep is not None or draw(st.booleans()):
        obj["rep_id"] = rep
    event = validate(obj)
    assert event.ts == ts
    return event


@st.composite
def event_sets(draw: st.DrawFn, max_size: int = 40) -> list[Event]:
    """Distinct events (unique ids) in no particular order."""
    ids = draw(
        st.lists(
            st.text(alphabet="abz019-", min_size=1, max_size=4),
            min_size=1,
            max_size=max_size,
            unique=True,
        )
    )
    return [draw(events(event_id)) for event_id in ids]


def in_contract_order(evts: list[Event]) -> list[Event]:
    return sorted(evts, key=lambda e: e.key)


def dump(snapshot: Snapshot) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {k: v.to_dict() for k, v in snapshot.customers.items()},
        {k: v.to_dict() for k, v in snapshot.reps.items()},
    )


def derived(snapshot: Snapshot) -> dict[str, Any]:
    return {
        k: (s.status, s.stage, s.quote_open, s.policy_flags(), s.order_value, s.quoted_value)
        for k, s in snapshot.customers.items()
    }


# ---------------------------------------------------------------- (1) order


@SETTINGS
@given(event_sets(), st.randoms(use_true_random=False))
def test_any_permutation_gives_the_contract_order_state(evts: list[Event], rnd: Any) -> None:
    reference = replay_events(in_contract_order(evts))
    shuffled = list(evts)
    rnd.shuffle(shuffled)
    got = replay_events(shuffled)
    assert dump(got) == dump(reference)
    assert derived(got) == derived(reference)
    assert got.stats.to_dict() == reference.stats.to_dict()
    assert got.as_of == reference.as_of
    # Every customer event makes its customer; every named rep is a rep.
    assert set(got.customers) == {e.customer_id for e in evts if touches_customer(e)}
    assert set(got.reps) == {e.rep_id for e in evts if e.rep_id is not None}


@SETTINGS
@given(event_sets(max_size=25))
def test_reversed_order_gives_the_same_state(evts: list[Event]) -> None:
    ordered = in_contract_order(evts)
    assert dump(replay_events(ordered[::-1])) == dump(replay_events(ordered))


# ---------------------------------------------------------------- (2) duplicates


@SETTINGS
@given(event_sets(), st.data(), st.randoms(use_true_random=False))
def test_duplicates_change_nothing(evts: list[Event], data: st.DataObject, rnd: Any) -> None:
    reference = replay_events(in_contract_order(evts))
    extra = data.draw(st.lists(st.sampled_from(evts), max_size=2 * len(evts)))
    log = evts + extra
    rnd.shuffle(log)
    got = replay_events(log)
    assert dump(got) == dump(reference)
    assert derived(got) == derived(reference)
    assert got.stats.duplicates == len(extra)
    assert got.stats.events_applied == len(evts)
    assert got.stats.events_read == len(log)


# ---------------------------------------------------------------- (3) pure = in place


def fold_pure(log: list[Event]) -> tuple[dict[str, CustomerState], dict[str, RepState]]:
    customers: dict[str, CustomerState] = {}
    reps: dict[str, RepState] = {}
    for event in log:
        if touches_customer(event):
            key = event.customer_id or ""
            customers[key] = apply(customers.get(key), event)
        if event.rep_id is not None:
            reps[event.rep_id] = apply_rep(reps.get(event.rep_id), event)
    return customers, reps


@SETTINGS
@given(event_sets(), st.data(), st.randoms(use_true_random=False))
def test_pure_and_in_place_folds_agree(evts: list[Event], data: st.DataObject, rnd: Any) -> None:
    log = evts + data.draw(st.lists(st.sampled_from(evts), max_size=5))
    rnd.shuffle(log)
    customers, reps = fold_pure(log)
    snapshot = replay_events(log)
    assert {k: v.to_dict() for k, v in customers.items()} == dump(snapshot)[0]
    assert {k: v.to_dict() for k, v in reps.items()} == dump(snapshot)[1]
    assert customers == snapshot.customers and reps == snapshot.reps


@SETTINGS
@given(event_sets(max_size=25))
def test_apply_never_mutates_its_argument(evts: list[Event]) -> None:
    states: dict[str, CustomerState] = {}
    history: list[tuple[CustomerState, dict[str, Any]]] = []
    for event in evts:
        if not touches_customer(event):
            continue
        key = event.customer_id or ""
        old = states.get(key)
        new = apply(old, event)
        if old is not None:
            assert new is not old
            history.append((old, old.to_dict()))
        states[key] = new
        # The in-place fold on a copy gives the same result.
        if old is not None:
            twin = old.copy()
            assert apply_in_place(twin, event) is True
            assert twin == new
    for state, before in history:
        assert state.to_dict() == before


# ---------------------------------------------------------------- (4) the as-of cut


@SETTINGS
@given(event_sets(), st.data(), st.randoms(use_true_random=False))
def test_as_of_cut_equals_replaying_only_earlier_events(
    evts: list[Event], data: st.DataObject, rnd: Any
) -> None:
    cut = data.draw(
        st.one_of(
            st.sampled_from([e.ts for e in evts]),  # exactly at an event: included
            st.sampled_from([e.ts - 1 for e in evts]),  # just before one: excluded
            st.integers(T0 - 61 * DAY_US, T0 + 121 * DAY_US),
        )
    )
    log = list(evts)
    rnd.shuffle(log)
    got = replay_events(log, as_of=cut)
    earlier = [e for e in evts if e.ts <= cut]
    reference = replay_events(in_contract_order(earlier))
    assert dump(got) == dump(reference)
    assert derived(got) == derived(reference)
    assert got.as_of == cut
    assert got.stats.after_as_of == len(evts) - len(earlier)
    assert got.stats.events_applied == len(earlier)
    for state in got.customers.values():
        assert state.last_ts <= cut


@SETTINGS
@given(
    st.lists(_positive, min_size=2, max_size=12),
    st.randoms(use_true_random=False),
)
def test_money_totals_do_not_depend_on_order(amounts: list[float], rnd: Any) -> None:
    evts = []
    for i, amount in enumerate(amounts):
        evts.append(
            validate(
                {
                    "event_id": f"o{i}",
                    "type": "order_won",
                    "occurred_at": occurred_at(T0 + i, 0, True),
                    "customer_id": "c1",
                    "rep_id": "r1",
                    "payload": {"order_id": f"o{i}", "amount": amount},
                }
            )
        )
        evts.append(
            validate(
                {
                    "event_id": f"q{i}",
                    "type": "quote_sent",
                    "occurred_at": occurred_at(T0 + i, 0, True),
                    "customer_id": "c1",
                    "payload": {"quote_id": f"q{i}", "amount": amount},
                }
            )
        )
    reference = replay_events(evts)
    shuffled = list(evts)
    rnd.shuffle(shuffled)
    got = replay_events(shuffled)
    assert dump(got) == dump(reference)
    exact = math.fsum(amounts)  # the correctly rounded exact sum
    assert got.customers["c1"].order_value == exact
    assert got.customers["c1"].quoted_value == exact
    assert got.reps["r1"].deal_value == exact


# ---------------------------------------------------------------- (6) the stored form


@SETTINGS
@given(event_sets(), st.randoms(use_true_random=False))
def test_the_worker_s_json_reads_back_as_the_same_state(evts: list[Event], rnd: Any) -> None:
    # The worker stores `to_json()`; the web views, the reliability suite and a restarted
    # worker read it back with `from_dict`.
    shuffled = list(evts)
    rnd.shuffle(shuffled)
    for state in replay_events(shuffled).customers.values():
        stored = orjson.loads(state.to_json())
        assert CustomerState.from_dict(stored).to_dict() == state.to_dict()
        # Field for field the JSON of `to_dict()`, but for the order of the id set.
        canonical = orjson.loads(orjson.dumps(state.to_dict()))
        assert stored.keys() == canonical.keys()
        assert {k: v for k, v in stored.items() if k != "seen"} == {
            k: v for k, v in canonical.items() if k != "seen"
        }
