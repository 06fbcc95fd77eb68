"""The reps' daily call list: cadence guard, capacity, never-suspend, flags at their thresholds."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.policy import Policy
from planning.book import Book
from planning.calllist import (
    ACTIONS,
    FLAGS,
    CallLine,
    build_call_lists,
    call_lists,
    due_counts,
    flag_masks,
    lines_frame,
    trend_of,
)
from planning.contacts import Contact
from streams.core.contract import Event
from streams.core.state import DAY_US
from tests.support.planning import DAY, T0, book, contacts, customer_events, ev, joined, lead

POLICY = Policy()
US = 1  # one microsecond


def ids(lines: list[CallLine]) -> list[str]:
    return [line.customer_id for line in lines]


def one_contact_ago(us: int, clear_need: bool = False) -> list[CallLine]:
    events = [joined("r1"), lead("c1"), ev("contact_made", -us, channel="phone")]
    if clear_need:
        events.append(ev("need_identified", -100 * DAY, clear_need=True))
    b, _ = book(events)
    return call_lists(b, POLICY)["r1"]


# ---------------------------------------------------------------- cadence guard


def test_no_customer_before_the_minimum_gap_without_a_need() -> None:
    gap = int(POLICY.min_gap_days * DAY_US)
    assert ids(one_contact_ago(gap - US)) == []
    assert ids(one_contact_ago(gap)) == ["c1"]


def test_a_clear_need_tightens_the_minimum_gap() -> None:
    gap = int(POLICY.min_gap_need_days * DAY_US)
    assert POLICY.min_gap_need_days < POLICY.min_gap_days
    assert ids(one_contact_ago(gap - US, clear_need=True)) == []
    assert ids(one_contact_ago(gap, clear_need=True)) == ["c1"]


def test_the_gaps_are_settings() -> None:
    tight = replace(POLICY, min_gap_days=2.0)
    b, _ = book([joined("r1"), lead("c1"), ev("contact_made", -3 * DAY, channel="sms")])
    assert ids(call_lists(b, POLICY)["r1"]) == []
    assert ids(call_lists(b, tight)["r1"]) == ["c1"]


def test_an_ineffective_contact_does_not_restart_the_cadence() -> None:
    events = [joined("r1"), lead("c1"), ev("contact_made", -30 * DAY, channel="phone")]
    events.append(ev("contact_made", -1 * DAY, channel="phone", effective=False))
    b, _ = book(events)
    assert ids(call_lists(b, POLICY)["r1"]) == ["c1"]


# ---------------------------------------------------------------- capacity and order


def _many(n: int) -> list:
    events = [joined("r1"), joined("r2")]
    for k in range(n):
        events += customer_events(f"c{k:03d}", "r1", n=2, last_days_ago=20 + k)
    events += customer_events("other", "r2", n=2)
    return events


def test_daily_capacity_per_rep() -> None:
    b, _ = book(_many(30))
    lists = call_lists(b, POLICY)
    assert len(lists["r1"]) == POLICY.daily_capacity == 25
    assert [line.rank for line in lists["r1"]] == list(range(1, 26))
    assert len(lists["r2"]) == 1
    assert len(call_lists(b, replace(POLICY, daily_capacity=7))["r1"]) == 7
    assert len(call_lists(b, POLICY, limit=3)["r1"]) == 3
    assert list(call_lists(b, POLICY, rep_id="r2")) == ["r2"]


def test_capacity_keeps_the_highest_priorities_in_order() -> None:
    b, _ = book(_many(30))
    full = call_lists(b, replace(POLICY, daily_capacity=100))["r1"]
    cut = call_lists(b, POLICY, limit=10)["r1"]
    group = {"overdue": 0, "due": 1, "new": 1, "not_due": 2}
    keys = [(group[x.due_state], -x.priority) for x in full]
    assert keys == sorted(keys)
    assert ids(cut) == ids(full)[:10]


def test_urgency_raises_priority_at_equal_value() -> None:
    events = [joined("r1")]
    events += customer_events("due", n=1, last_days_ago=25)
    events += customer_events("late", n=1, last_days_ago=60)
    events += customer_events("early", n=1, last_days_ago=15)
    events += customer_events("quote", n=1, last_days_ago=25)
    events.append(ev("quote_sent", -20 * DAY, "quote", quote_id="q", amount=1000))
    events += customer_events("vvip", n=1, last_days_ago=25)
    events.append(ev("importance_set", -200 * DAY, "vvip", tier="vvip"))
    events += customer_events("need", n=1, last_days_ago=25)
    due = (T0 // DAY + 10) * DAY
    events.append(ev("need_identified", -40 * DAY, "need", clear_need=True, due_date=_date(due)))
    value = {c: 1000.0 for c in ("due", "late", "early", "quote", "vvip", "need")}
    b, _ = book(events, value=value)
    prio = {line.customer_id: line.priority for line in call_lists(b, POLICY)["r1"]}
    assert prio["late"] > prio["due"] > prio["early"]
    assert prio["quote"] > prio["due"]
    assert prio["vvip"] > prio["due"]
    assert prio["need"] > prio["due"]


def _date(ts: int) -> str:
    from streams.core.contract import to_datetime

    return to_datetime(ts).date().isoformat()


# ---------------------------------------------------------------- never-suspend


def test_never_suspend_customers_are_never_pushed_out_by_capacity() -> None:
    events = [joined("r1")]
    for k in range(5):
        events += customer_events(f"big{k}", n=2, last_days_ago=40)
    events += customer_events("vip", n=2, last_days_ago=25)
    events.append(ev("importance_set", -100 * DAY, "vip", tier="key", never_suspend=True))
    value = {f"big{k}": 1e6 for k in range(5)} | {"vip": 1.0}
    b, _ = book(events, value=value)
    lines = call_lists(b, POLICY, limit=2)["r1"]
    assert ids(lines)[0] == "vip"
    assert "never suspend" in " ".join(lines[0].why)


def test_never_suspend_is_never_eligible_for_suspension() -> None:
    events = [joined("r1"), *customer_events("c1", n=14, last_days_ago=25)]
    events.append(ev("importance_set", -300 * DAY, "c1", tier="vvip", never_suspend=True))
    b, _ = book(events, p_close={"c1": 0.001})
    masks = flag_masks(b, POLICY)
    assert not masks["eligible_for_suspension"][0]
    assert masks["past_12th_contact"][0]


# ---------------------------------------------------------------- flags at thresholds


def _flags(effective: int, p: float = 0.5, orders: int = 0) -> set[str]:
    events = [joined("r1"), *customer_events("c1", n=effective, last_days_ago=25)]
    for k in range(orders):
        events.append(ev("order_won", -10 * DAY, "c1", order_id=f"o{k}", amount=100.0))
    b, _ = book(events, p_close={"c1": p})
    masks = flag_masks(b, POLICY)
    return {f for f in FLAGS if masks[f][0]}


@pytest.mark.parametrize(
    ("effective", "expected"),
    [
        (POLICY.nearing_twelve_from - 1, set()),
        (POLICY.nearing_twelve_from, {"nearing_12th_contact", "manager_joining"}),
        (POLICY.twelve_contacts - 1, {"nearing_12th_contact", "manager_joining"}),
        (POLICY.twelve_contacts, {"past_12th_contact", "manager_joining"}),
    ],
)
def test_twelfth_contact_flags(effective: int, expected: set[str]) -> None:
    assert POLICY.manager_join_contacts == POLICY.nearing_twelve_from == 10
    assert _flags(effective) == expected


def test_manager_joining_at_exactly_ten_effective_contacts() -> None:
    assert "manager_joining" not in _flags(POLICY.manager_join_contacts - 1)
    assert "manager_joining" in _flags(POLICY.manager_join_contacts)
    assert "manager_joining" not in _flags(POLICY.manager_join_contacts, orders=1)


def test_eligible_for_suspension_at_twelve_contacts_and_low_probability() -> None:
    low = POLICY.suspend_below_p
    below = np.nextafter(low, 0.0)
    assert "eligible_for_suspension" in _flags(POLICY.twelve_contacts, p=below)
    assert "eligible_for_suspension" not in _flags(POLICY.twelve_contacts, p=low)
    assert "eligible_for_suspension" not in _flags(POLICY.twelve_contacts - 1, p=below)
    assert "eligible_for_suspension" not in _flags(POLICY.twelve_contacts, p=below, orders=1)


def test_dormant_at_exactly_ninety_days_without_an_order() -> None:
    def flags_at(us_ago: int) -> tuple[bool, list[CallLine]]:
        events = [joined("r1"), *customer_events("c1", n=3, last_days_ago=30)]
        events.append(ev("order_won", -us_ago, "c1", order_id="o1", amount=5000.0))
        b, _ = book(events)
        return bool(flag_masks(b, POLICY)["dormant_win_back"][0]), call_lists(b)["r1"]

    threshold = POLICY.dormant_days * DAY_US
    assert flags_at(threshold - US)[0] is False
    dormant, lines = flags_at(threshold)
    assert dormant is True
    assert lines[0].action == "win back"
    assert "dormant_win_back" in lines[0].flags


# ---------------------------------------------------------------- what each line says


def test_every_line_says_why_what_to_do_and_the_scores_reasons() -> None:
    b, _ = book(_many(8))
    lists = call_lists(b, POLICY)
    reasons = dict(zip(b.customer_id, b.reasons, strict=True))
    for line in (x for lines in lists.values() for x in lines):
        assert line.action in ACTIONS
        assert line.why and line.why[-1].startswith("predicted value")
        assert line.score_source == "heuristic"
        stored = reasons[line.customer_id].split("; ")
        assert len(line.reasons) == len(stored)
        for shown, raw in zip(line.reasons, stored, strict=True):
            direction = "raises the chance: " if raw[0] == "+" else "lowers the chance: "
            assert shown == direction + raw[2:]
    frame = lines_frame(lists)
    assert len(frame) == sum(len(v) for v in lists.values())
    assert frame["reasons"].str.len().gt(0).all()


def test_actions_visit_and_invite_for_a_deep_relationship_with_a_need() -> None:
    events = [joined("r1")]
    for customer, tier in (("std", "standard"), ("key", "key")):
        events += customer_events(customer, n=3, last_days_ago=25)
        for section in ("basic", "needs", "competition"):
            events.append(ev("portrait_updated", -50 * DAY, customer, section=section))
        events.append(ev("need_identified", -20 * DAY, customer, clear_need=True))
        events.append(ev("importance_set", -60 * DAY, customer, tier=tier))
    b, _ = book(events)
    actions = {line.customer_id: line.action for line in call_lists(b)["r1"]}
    assert actions == {"std": "visit", "key": "invite"}


def test_pool_and_departed_reps_customers_are_on_nobodys_list() -> None:
    events = [joined("r1"), joined("r2"), *customer_events("mine", "r1")]
    events += customer_events("left", "r2")
    events.append(ev("rep_left", -2 * DAY, rep="r2"))
    events += customer_events("pool", "r1", n=12)
    events.append(ev("customer_suspended", -1 * DAY, "pool", "r1", reason="timing"))
    b, snap = book(events)
    lists = call_lists(b, POLICY)
    assert {r: ids(v) for r, v in lists.items()} == {"r1": ["mine"]}
    via_states = build_call_lists(snap.customers, snap.reps, _scores(b), snap.as_of)
    assert {r: ids(v) for r, v in via_states.items()} == {"r1": ["mine"]}


def _scores(b: Book) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": b.customer_id,
            "owner_rep_id": b.owner,
            "status": b.status,
            "stage": b.stage,
            "effective_contacts": b.effective,
            "p_close": b.p_close,
            "source": b.score_source,
            "expected_value": b.expected_value,
            "value_basis": "test",
            "predicted_value": b.predicted_value,
            "reasons": b.reasons,
        }
    )


# ---------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["r1", "r2", "r3"]),
            st.integers(0, 15),  # effective contacts
            st.floats(0.5, 60),  # days since the last one
            st.booleans(),  # clear need
            st.booleans(),  # never suspend
        ),
        min_size=1,
        max_size=25,
    ),
    st.integers(0, 6),
)
def test_lists_respect_gap_capacity_and_order(customers: list, capacity: int) -> None:
    events = [joined("r1"), joined("r2"), joined("r3")]
    for k, (rep, n, since, need, never) in enumerate(customers):
        c = f"c{k:02d}"
        events.append(lead(c, rep))
        events += contacts(c, n, rep, last_days_ago=since, every_days=9)
        if need:
            events.append(ev("need_identified", -200 * DAY, c, rep, clear_need=True))
        if never:
            events.append(ev("importance_set", -200 * DAY, c, rep, tier="key", never_suspend=True))
    b, snap = book(events)
    policy = replace(POLICY, daily_capacity=capacity)
    everyone = call_lists(b, replace(policy, daily_capacity=10**6))
    lists = call_lists(b, policy)
    for rep, state in ((s.owner, s) for s in snap.customers.values()):
        assert rep is not None  # every customer here is assigned
        times = state.effective_times()
        gap = policy.min_gap_need_days if state.clear_need else policy.min_gap_days
        allowed = not times or T0 - times[-1] >= gap * DAY_US
        assert (state.customer_id in ids(everyone.get(rep, []))) == allowed
    for rep, lines in lists.items():
        # Today's list is the head of the full order, cut at capacity.
        assert ids(lines) == ids(everyone[rep])[:capacity]
        keys = []
        for line in everyone[rep]:
            state = snap.customers[line.customer_id]
            times = state.effective_times()
            target = policy.target_gap_need_days if state.clear_need else policy.target_gap_days
            due = not times or T0 - times[-1] >= target * DAY_US
            group = {"overdue": 0, "due": 1, "new": 1, "not_due": 2}[line.due_state]
            keys.append((not (state.never_suspend and due), group, -line.priority))
        assert keys == sorted(keys)


# ---------------------------------------------------------------- what a rep works from


def test_overdue_comes_before_not_yet_due_whatever_the_value() -> None:
    events = [joined("r1")]
    events += customer_events("early", n=2, last_days_ago=15)
    events += customer_events("late", n=2, last_days_ago=40)
    events += customer_events("today", n=2, last_days_ago=POLICY.target_gap_days + 0.5)
    b, _ = book(events, value={"early": 1e6, "late": 10.0, "today": 10.0})
    lines = call_lists(b, POLICY)["r1"]
    assert ids(lines) == ["late", "today", "early"]
    assert [line.due_state for line in lines] == ["overdue", "due", "not_due"]
    assert lines[0].why[0] == "no contact for 40 days: overdue (due every 21 days)"
    assert due_counts(lines) == {"overdue": 1, "due": 1, "new": 0, "not_due": 1}


def test_a_near_clear_need_deadline_lifts_a_line_to_due() -> None:
    events = [joined("r1")]
    events += customer_events("early", n=2, last_days_ago=15)
    # Within the need's tighter cadence (contacted 4 of 7 days ago): not yet due by it.
    events += customer_events("need", n=2, last_days_ago=4)
    soon = (T0 // DAY + 3) * DAY
    events.append(ev("need_identified", -10 * DAY, "need", clear_need=True, due_date=_date(soon)))
    b, _ = book(events, value={"early": 1e6, "need": 10.0})
    lines = call_lists(b, POLICY)["r1"]
    assert ids(lines) == ["need", "early"]
    assert lines[0].due_state == "due"


def test_lines_carry_contact_details_rep_name_channel_and_trend() -> None:
    events = [joined("r1"), *customer_events("c1", n=3, last_days_ago=25)]
    for section in ("basic", "needs", "competition"):
        events.append(ev("portrait_updated", -50 * DAY, "c1", section=section))
    events.append(ev("need_identified", -20 * DAY, "c1", clear_need=True))
    events.append(lead("c2"))
    b, _ = book(events)
    contacts = {"c1": Contact("印刷廠", "王先生", "0912-345-678")}
    now = {str(c): float(p) for c, p in zip(b.customer_id, b.p_close, strict=True)}
    earlier = {"c1": now["c1"] - 0.05}
    lines = {
        x.customer_id: x for x in call_lists(b, POLICY, contacts=contacts, earlier=earlier)["r1"]
    }
    first = lines["c1"]
    assert (first.contact.company, first.contact.contact_name, first.contact.phone) == (
        "印刷廠",
        "王先生",
        "0912-345-678",
    )
    assert first.action == "visit" and first.channel == "visit"
    assert first.trend == "up" and first.trend_change == pytest.approx(0.05)
    assert first.to_dict()["company"] == "印刷廠"
    assert lines["c2"].due_state == "new" and lines["c2"].trend == ""
    assert lines["c2"].contact.phone == ""


def test_trend_reads_steady_under_a_point() -> None:
    assert trend_of(0.30, 0.295)[0] == "steady"
    assert trend_of(0.30, 0.20) == ("up", pytest.approx(0.10))
    assert trend_of(0.10, 0.20) == ("down", pytest.approx(-0.10))
    assert trend_of(0.10, None) == ("", None)


def test_contacts_come_from_basic_only() -> None:
    from planning.contacts import contacts_from_events
    from streams.core.contract import parse

    def update(eid: str, section: str, **fields: object) -> Event:
        raw = {
            "event_id": eid,
            "type": "portrait_updated",
            "occurred_at": "2026-01-01T00:00:00Z",
            "customer_id": "c1",
            "rep_id": "r1",
            "payload": {"section": section, "fields": fields},
        }
        return parse(orjson.dumps(raw))

    found = contacts_from_events(
        [
            update("a", "basic", contact_name="Ms. Li", tel="123"),
            update("b", "deep", phone="999", contact_name="secret"),
        ]
    )
    assert found == {"c1": Contact("", "Ms. Li", "123")}
