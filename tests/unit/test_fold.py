"""The fold, event type by event type: its effect on `CustomerState` and `RepState`."""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

import orjson
import pytest

from streams.core.contract import CHANNELS, REP_EVENT_TYPES, SECTIONS, Event, to_datetime, validate
from streams.core.fold import (
    apply,
    apply_in_place,
    apply_rep,
    apply_rep_in_place,
    event_digest,
    touches_customer,
)
from streams.core.state import (
    DAY_US,
    MAX_CONTACT_TIMES,
    STAGES,
    TWELVE,
    WEEK_US,
    CustomerState,
    IdSet,
    RepState,
    RepWeek,
    exact_add,
    exact_value,
    section_bits,
    stage_of,
)

T0 = 1_767_603_600_000_000  # 2026-01-05T09:00:00Z
HOUR = 3_600_000_000
DAY = DAY_US
_ids = itertools.count()


def E(
    kind: str,
    at: int = 0,
    eid: str | None = None,
    customer: str = "c1",
    rep: str | None = "r1",
    **payload: Any,
) -> Event:
    """A validated event `at` microseconds after T0 (contract defaults filled in)."""
    text = to_datetime(T0 + at).isoformat().replace("+00:00", "Z")
    obj: dict[str, Any] = {
        "event_id": eid or f"e{next(_ids):06d}",
        "type": kind,
        "occurred_at": text,
        "rep_id": rep,
        "payload": payload,
    }
    if kind not in REP_EVENT_TYPES:
        obj["customer_id"] = customer
    return validate(obj)


def contact(at: int = 0, channel: str = "phone", effective: bool = True, **kw: Any) -> Event:
    return E("contact_made", at, channel=channel, effective=effective, **kw)


def fold(*events: Event, state: CustomerState | None = None) -> CustomerState:
    for event in events:
        state = apply(state, event)
    assert state is not None
    return state


def fold_rep(*events: Event, state: RepState | None = None) -> RepState:
    for event in events:
        state = apply_rep(state, event)
    assert state is not None
    return state


def both_orders(*events: Event) -> CustomerState:
    """Fold in the given order and reversed; the states must agree."""
    forward = fold(*events)
    assert fold(*reversed(events)) == forward
    return forward


# ---------------------------------------------------------------- lead_created, owner, status


def test_lead_created() -> None:
    s = fold(
        E(
            "lead_created",
            0,
            source="trade_show",
            industry="food",
            size="large",
            potential_value=9e4,
        )
    )
    assert s.customer_id == "c1"
    assert (s.created_ts, s.source, s.industry, s.size) == (T0, "trade_show", "food", "large")
    assert s.potential_value == 9e4 and isinstance(s.potential_value, float)
    assert (s.owner, s.owner_via, s.status) == ("r1", "lead", "lead")
    assert (s.events, s.first_ts, s.last_ts) == (1, T0, T0)


def test_lead_created_into_the_public_pool() -> None:
    s = fold(E("lead_created", 0, rep=None, source="inbound"))
    assert s.owner is None and s.status == "lead"


def test_second_lead_created_is_last_writer_wins_but_created_ts_is_the_first() -> None:
    first = E("lead_created", 0, source="cold_list", size="small", potential_value=10)
    again = E("lead_created", 200 * DAY, rep="r2", source="dormant_reactivation")
    s = both_orders(first, again)
    assert s.created_ts == T0
    assert (s.source, s.size, s.potential_value, s.owner) == (
        "dormant_reactivation",
        None,
        None,
        "r2",
    )


def test_customer_assigned_changes_the_owner() -> None:
    s = both_orders(
        E("lead_created", 0, rep=None, source="inbound"),
        E("customer_assigned", DAY, rep="r2", by="m1"),
    )
    assert (s.owner, s.owner_via, s.assignments, s.status) == ("r2", "assigned", 1, "lead")


def test_suspension_sends_to_the_pool_and_reassignment_brings_back() -> None:
    lead = E("lead_created", 0, source="referral")
    suspended = E("customer_suspended", 10 * DAY, reason="timing")
    s = both_orders(lead, suspended)
    assert (s.owner, s.owner_via, s.status) == (None, "suspended", "suspended")
    s = both_orders(lead, suspended, E("customer_assigned", 20 * DAY, rep="r3"))
    assert (s.owner, s.status) == ("r3", "lead")
    # An assignment that happened BEFORE the suspension does not undo it, even arriving last.
    s = fold(lead, suspended, E("customer_assigned", 5 * DAY, rep="r3"))
    assert (s.owner, s.status, s.assignments) == (None, "suspended", 1)


def test_status_customer_after_an_order_and_suspended_wins() -> None:
    lead = E("lead_created", 0, source="referral")
    won = E("order_won", DAY, order_id="o1", amount=100)
    assert both_orders(lead, won).status == "customer"
    assert (
        both_orders(lead, won, E("customer_suspended", 2 * DAY, reason="other")).status
        == "suspended"
    )
    # Events for a customer without lead_created still build a state.
    assert fold(won).status == "customer" and fold(won).created_ts is None


def test_owner_tie_same_time_larger_event_id_wins() -> None:
    a = E("customer_assigned", DAY, eid="a-1", rep="r2")
    b = E("customer_assigned", DAY, eid="b-1", rep="r3")
    assert both_orders(a, b).owner == "r3"
    suspended = E("customer_suspended", DAY, eid="z-9", reason="other")
    assert both_orders(a, b, suspended).status == "suspended"
    assigned = E("customer_assigned", DAY, eid="zz", rep="r4")
    assert both_orders(a, suspended, assigned).owner == "r4"


def test_tie_uses_utc_instant_not_text() -> None:
    # Same instant written with different offsets: a tie, broken by event_id.
    a = validate(
        {
            "event_id": "b",
            "type": "customer_assigned",
            "customer_id": "c1",
            "rep_id": "r2",
            "occurred_at": "2026-01-05T17:00:00+08:00",
            "payload": {},
        }
    )
    b = validate(
        {
            "event_id": "a",
            "type": "customer_assigned",
            "customer_id": "c1",
            "rep_id": "r3",
            "occurred_at": "2026-01-05T09:00:00Z",
            "payload": {},
        }
    )
    assert a.ts == b.ts
    assert both_orders(a, b).owner == "r2"


# ---------------------------------------------------------------- contacts


def test_contacts_by_channel_total_and_effective() -> None:
    events = [
        contact(0, "phone"),
        contact(HOUR, "phone", effective=False),
        contact(2 * HOUR, "wechat"),
        contact(3 * HOUR, "visit"),
        contact(4 * HOUR, "sms", effective=False),
        contact(5 * HOUR, "hosted_visit"),
    ]
    s = both_orders(*events)
    assert (s.contacts, s.effective) == (6, 4)
    total = dict.fromkeys(CHANNELS, 0) | {
        "phone": 2,
        "wechat": 1,
        "visit": 1,
        "sms": 1,
        "hosted_visit": 1,
    }
    effective = dict.fromkeys(CHANNELS, 0) | {
        "phone": 1,
        "wechat": 1,
        "visit": 1,
        "hosted_visit": 1,
    }
    assert s.channel_counts() == total
    assert s.channel_counts(effective_only=True) == effective
    assert s.effective_times() == [T0, T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 5 * HOUR]


def test_contact_times_first_and_last() -> None:
    s = both_orders(
        contact(DAY, effective=False),
        contact(2 * DAY),
        contact(5 * DAY),
        contact(6 * DAY, effective=False),
    )
    # The first contact is the first EFFECTIVE one; the last is the last attempt of any kind.
    assert s.first_contact_ts == T0 + 2 * DAY
    assert s.last_contact_ts == T0 + 6 * DAY
    assert s.effective_times()[-1] == T0 + 5 * DAY


def test_ineffective_only() -> None:
    s = fold(contact(0, effective=False))
    assert (s.contacts, s.effective, s.first_contact_ts, s.last_contact_ts) == (1, 0, None, T0)
    assert s.effective_times() == [] and s.contact_reps == ()


def test_contact_reps_last_effective_contact_per_rep() -> None:
    s = both_orders(
        contact(0, rep="r1"),
        contact(3 * DAY, rep="r1"),
        contact(DAY, rep="r2"),
        contact(9 * DAY, rep="r2", effective=False),
    )
    assert s.contact_rep_times() == [("r1", T0 + 3 * DAY), ("r2", T0 + DAY)]
    assert s.last_contact_by("r2") == T0 + DAY
    assert s.last_contact_by("r9") is None


def test_effective_between_and_before() -> None:
    s = fold(*(contact(d * DAY) for d in range(10)))
    assert s.effective_between(T0, T0 + 3 * DAY) == 3  # (start, end]
    assert s.effective_before(T0 + 3 * DAY) == 3  # strictly before
    assert s.effective_before(T0) == 0
    assert s.effective_before(T0 + 100 * DAY) == 10


def test_two_effective_contacts_at_the_same_instant_count_twice() -> None:
    s = both_orders(contact(DAY), contact(DAY, channel="wechat"), contact(2 * DAY))
    assert s.effective == 3
    assert s.effective_times() == [T0 + DAY, T0 + DAY, T0 + 2 * DAY]
    assert s.effective_between(T0, T0 + DAY) == 2
    assert s.effective_before(T0 + 2 * DAY) == 2


def test_only_the_newest_contact_times_are_kept() -> None:
    events = [contact(d * HOUR) for d in range(MAX_CONTACT_TIMES + 6)]
    s = fold(*events)
    assert s.effective == MAX_CONTACT_TIMES + 6
    assert s.effective_times() == [T0 + d * HOUR for d in range(6, MAX_CONTACT_TIMES + 6)]
    assert fold(*reversed(events)) == s


# ---------------------------------------------------------------- portrait and stage


@pytest.mark.parametrize(
    ("sections", "stage"),
    [
        ((), "none"),
        (("basic",), "doctor"),
        (("background",), "doctor"),
        (("basic", "background"), "doctor"),
        (("needs",), "none"),
        (("competition",), "none"),
        (("basic", "needs"), "doctor"),
        (("needs", "competition"), "teacher"),  # teacher does not need basic
        (("basic", "needs", "competition"), "teacher"),
        (("deep",), "none"),
        (("extended",), "none"),
        (("deep", "extended"), "none"),
        (("basic", "deep", "extended"), "doctor"),
        (("needs", "deep"), "none"),
        (("needs", "competition", "deep"), "friend"),
        (("needs", "competition", "extended"), "teacher"),
        (("basic", "background", "needs", "competition", "extended"), "teacher"),
        (("needs", "competition", "deep", "extended"), "brother"),
        (SECTIONS, "brother"),
    ],
)
def test_stage_per_contract_table(sections: tuple[str, ...], stage: str) -> None:
    assert stage_of(section_bits(*sections)) == stage
    events = [E("lead_created", 0, source="other")]
    events += [
        E("portrait_updated", (i + 1) * DAY, section=name) for i, name in enumerate(sections)
    ]
    s = both_orders(*events)
    assert s.stage == stage
    assert s.section_names == tuple(n for n in SECTIONS if n in sections)
    assert s.portrait_updates == len(sections)


def test_stages_are_the_contract_stages() -> None:
    assert STAGES == ("none", "doctor", "teacher", "friend", "brother")


def test_portrait_updates_counted_sections_are_a_set() -> None:
    s = both_orders(
        E("portrait_updated", 0, section="basic", fields={"tel": "123"}),
        E("portrait_updated", DAY, section="basic", fields={"tel": "456"}),
        E("portrait_updated", 3 * DAY, section="needs"),
    )
    assert (s.portrait_updates, s.section_names, s.portrait_last_ts) == (
        3,
        ("basic", "needs"),
        T0 + 3 * DAY,
    )


def test_state_holds_no_portrait_values() -> None:
    secret = "SECRET-brother-in-law-at-competitor"
    s = fold(E("portrait_updated", 0, section="deep", fields={"who": secret, secret: 1}))
    assert secret not in orjson.dumps(s.to_dict()).decode()
    assert s.section_names == ("deep",)


# ---------------------------------------------------------------- need, quotes, orders, losses


def test_clear_need_last_writer_wins() -> None:
    yes = E("need_identified", DAY, clear_need=True, expected_value=5000, due_date="2026-04-01")
    no = E("need_identified", 3 * DAY, clear_need=False)
    s = both_orders(yes, no)
    assert (s.clear_need, s.need_value, s.need_due, s.need_ts) == (False, None, None, T0 + 3 * DAY)
    s = fold(yes)
    assert (s.clear_need, s.need_value, s.need_due, s.need_ts) == (
        True,
        5000.0,
        "2026-04-01",
        T0 + DAY,
    )
    assert fold(contact()).clear_need is None


def test_clear_need_tie_larger_event_id_wins() -> None:
    a = E("need_identified", DAY, eid="n-a", clear_need=True)
    b = E("need_identified", DAY, eid="n-b", clear_need=False)
    assert both_orders(a, b).clear_need is False
    c = E("need_identified", DAY, eid="n-c", clear_need=True)
    assert both_orders(b, c, a).clear_need is True


@pytest.mark.parametrize(
    ("kind", "small", "large", "read"),
    [
        ("importance_set", {"tier": "vvip"}, {"tier": "key"}, lambda s: s.tier),
        (
            "quote_sent",
            {"quote_id": "q", "amount": 9},
            {"quote_id": "q", "amount": 1},
            lambda s: s.quote_amount,
        ),
        (
            "order_won",
            {"order_id": "o", "amount": 9},
            {"order_id": "o", "amount": 1},
            lambda s: s.last_order_amount,
        ),
        ("order_lost", {"reason": "price"}, {"reason": "timing"}, lambda s: s.loss_reason),
        ("lead_created", {"source": "other"}, {"source": "inbound"}, lambda s: s.source),
    ],
)
def test_every_register_tie_larger_event_id_wins(
    kind: str, small: dict[str, Any], large: dict[str, Any], read: Any
) -> None:
    a = E(kind, DAY, eid="tie-a", **small)
    b = E(kind, DAY, eid="tie-b", **large)
    expected = read(fold(E(kind, DAY, eid="only", **large)))
    assert read(fold(a, b)) == read(fold(b, a)) == expected


def test_rep_joined_tie_larger_event_id_wins() -> None:
    a = E("rep_joined", 0, eid="j-a", team="north")
    b = E("rep_joined", 0, eid="j-b", team="south")
    assert fold_rep(a, b).team == fold_rep(b, a).team == "south"
    # rep_left at the same instant as rep_joined: the larger event_id is the later one.
    left = E("rep_left", 0, eid="j-c")
    assert not fold_rep(a, left).active
    assert fold_rep(left, E("rep_joined", 0, eid="j-d")).active


def test_quotes_and_quote_open() -> None:
    q1 = E("quote_sent", DAY, quote_id="q1", amount=100.5)
    q2 = E("quote_sent", 2 * DAY, quote_id="q2", amount=80)
    s = both_orders(q1, q2)
    assert (s.quotes, s.quoted_value, s.quote_amount, s.last_quote_ts) == (
        2,
        180.5,
        80.0,
        T0 + 2 * DAY,
    )
    assert s.quote_open
    assert not fold(contact()).quote_open


def test_an_order_or_a_loss_after_the_quote_answers_it() -> None:
    q = E("quote_sent", DAY, quote_id="q1", amount=100)
    assert not both_orders(q, E("order_won", 2 * DAY, order_id="o", amount=90)).quote_open
    assert not both_orders(q, E("order_lost", 2 * DAY, reason="price", quote_id="q1")).quote_open
    # One before the quote does not.
    assert both_orders(q, E("order_lost", 0, reason="price")).quote_open
    # A new quote after the answer is open again.
    answered = E("order_won", 2 * DAY, order_id="o", amount=90)
    assert both_orders(q, answered, E("quote_sent", 3 * DAY, quote_id="q2", amount=1)).quote_open


def test_orders() -> None:
    s = both_orders(
        E("order_won", 5 * DAY, order_id="o2", amount=300),
        E("order_won", 2 * DAY, order_id="o1", amount=100.25),
    )
    assert (s.orders, s.order_value, s.first_order_ts) == (2, 400.25, T0 + 2 * DAY)
    assert (s.last_order_ts, s.last_order_amount) == (T0 + 5 * DAY, 300.0)
    assert s.status == "customer"


def test_first_order_time_is_the_earliest_whatever_the_order_and_repeats() -> None:
    orders = [
        E("order_won", int(d * DAY), order_id=f"o{d}", amount=100 + d) for d in (40, 3, 17, 3.5)
    ]
    forward = fold(*orders)
    assert forward.first_order_ts == T0 + 3 * DAY
    for seed in range(5):
        shuffled = orders + orders[:2]  # two re-sent: the same event ids again
        random.Random(seed).shuffle(shuffled)
        again = fold(*shuffled)
        assert again.first_order_ts == T0 + 3 * DAY and again.orders == 4
        assert again == forward
    assert fold(E("contact_made", DAY, channel="phone")).first_order_ts is None


def test_money_sums_are_exact_and_order_free() -> None:
    # Plain float addition would give 0.6000000000000001 one way and 0.6 the other.
    amounts = [0.1, 0.2, 0.3]
    quotes = [E("quote_sent", i * DAY, quote_id=f"q{i}", amount=a) for i, a in enumerate(amounts)]
    orders = [E("order_won", i * DAY, order_id=f"o{i}", amount=a) for i, a in enumerate(amounts)]
    s = both_orders(*quotes, *orders)
    assert s.quoted_value == s.order_value == 0.6
    rep = fold_rep(*orders)
    assert rep.deal_value == 0.6 and fold_rep(*reversed(orders)) == rep


def test_exact_add() -> None:
    total: tuple[float, ...] = ()
    for x in (1e16, 1.0, -1e16 + 1e16, 1.0):
        total = exact_add(total, x)
    assert exact_value(total) == 1e16 + 2.0
    assert exact_add((), 0.0) == () and exact_value(()) == 0.0
    assert exact_add(exact_add((), 1e308), 1e308) == (float("inf"),)
    assert exact_add((float("inf"),), 5.0) == (float("inf"),)
    tiny = exact_add(exact_add((), 1e300), 5e-324)
    assert tiny == (1e300, 5e-324)


def test_losses() -> None:
    s = both_orders(E("order_lost", DAY, reason="price"), E("order_lost", 4 * DAY, reason="timing"))
    assert (s.losses, s.loss_reason, s.last_loss_ts) == (2, "timing", T0 + 4 * DAY)


def test_complaints() -> None:
    s = both_orders(
        E("complaint_received", DAY, severity="minor"),
        E("complaint_received", 3 * DAY, severity="major"),
        E("complaint_received", 2 * DAY, severity="minor"),
    )
    assert (s.complaints_minor, s.complaints_major, s.last_complaint_ts) == (2, 1, T0 + 3 * DAY)


def test_importance() -> None:
    s = fold(contact())
    assert (s.tier, s.never_suspend) == ("standard", False)
    s = both_orders(
        E("importance_set", DAY, tier="key"),
        E("importance_set", 2 * DAY, tier="vvip", never_suspend=True),
    )
    assert (s.tier, s.never_suspend) == ("vvip", True)
    s = both_orders(
        E("importance_set", DAY, tier="vvip", never_suspend=True),
        E("importance_set", 2 * DAY, tier="key"),  # never_suspend defaults to false
    )
    assert (s.tier, s.never_suspend) == ("key", False)


# ---------------------------------------------------------------- policy flags


def _twelve_rule_case(effective_before: int, ineffective: int = 0) -> CustomerState:
    events = [contact(d * DAY) for d in range(effective_before)]
    events += [contact(d * DAY + HOUR, effective=False) for d in range(ineffective)]
    events.append(E("customer_suspended", 100 * DAY, eid="susp-1", reason="timing"))
    events += [contact(101 * DAY), contact(102 * DAY)]  # after: never count
    return both_orders(*events)


def test_suspended_before_12_fires_at_11_effective_contacts() -> None:
    (flag,) = _twelve_rule_case(11, ineffective=5).policy_flags()
    assert flag.startswith("suspended_before_12:")
    assert "after 11 effective contacts" in flag and "susp-1" in flag and "r1" in flag


def test_suspended_before_12_does_not_fire_at_12() -> None:
    assert _twelve_rule_case(12).policy_flags() == []
    assert _twelve_rule_case(30).policy_flags() == []


def test_ineffective_contacts_do_not_count_toward_twelve() -> None:
    assert len(_twelve_rule_case(0, ineffective=20).policy_flags()) == 1


def test_twelve_rule_counts_contacts_at_the_same_instant() -> None:
    # Twelve effective contacts, two of them in the same second: the rule holds.
    events = [contact(d * DAY) for d in range(11)] + [contact(10 * DAY, channel="visit")]
    suspended = E("customer_suspended", 50 * DAY, reason="other")
    assert both_orders(*events, suspended).policy_flags() == []
    # Ten before, two simultaneous after: ten count.
    later = [contact(60 * DAY), contact(60 * DAY, channel="sms")]
    (flag,) = both_orders(*events[:10], suspended, *later).policy_flags()
    assert "after 10 effective contacts" in flag


def test_early_violation_still_flagged_after_many_later_contacts() -> None:
    # More effective contacts after the suspension than the newest times kept: the count
    # before it must still be exact, or the violation would silently disappear.
    before = [contact(d * HOUR) for d in range(3)]
    suspended = E("customer_suspended", DAY, reason="timing")
    reassigned = E("customer_assigned", 2 * DAY, rep="r2")
    after = [contact(3 * DAY + d * HOUR) for d in range(MAX_CONTACT_TIMES + 20)]
    s = both_orders(*before, suspended, reassigned, *after)
    assert s.effective == 3 + MAX_CONTACT_TIMES + 20
    assert s.effective_before(T0 + DAY) == 3
    (flag,) = s.policy_flags()
    assert "after 3 effective contacts" in flag
    # And a suspension after twelve is still fine however many come later.
    twelve = [contact(d * HOUR) for d in range(12)]
    assert both_orders(*twelve, suspended, *after).policy_flags() == []


def test_many_contacts_any_order_same_state() -> None:
    # Past MAX_CONTACT_TIMES only the newest times and the oldest twelve are kept; which
    # ones those are must not depend on the order the contacts arrive in.
    before = [contact(d * HOUR) for d in range(8)]
    suspended = E("customer_suspended", DAY, reason="timing")
    after = [contact(2 * DAY + d * HOUR) for d in range(MAX_CONTACT_TIMES + 9)]
    events = [*before, suspended, *after]
    expected = fold(*events)
    rng = random.Random(5)
    for _ in range(20):
        shuffled = events[:]
        rng.shuffle(shuffled)
        assert fold(*shuffled) == expected
    assert expected.effective_before(T0 + DAY) == 8
    assert "after 8 effective contacts" in expected.policy_flags()[0]


def test_effective_before_with_many_contacts() -> None:
    n = MAX_CONTACT_TIMES + 30
    s = fold(*(contact(d * HOUR) for d in range(n)))
    # Exact below twelve, and while fewer than MAX_CONTACT_TIMES come at or after.
    for k in (0, 1, 11, n - MAX_CONTACT_TIMES, n - 1, n):
        assert s.effective_before(T0 + k * HOUR) == k
    # In between, at least twelve (all the twelve-contact rule needs).
    for k in range(12, n - MAX_CONTACT_TIMES):
        assert s.effective_before(T0 + k * HOUR) >= TWELVE


def test_one_flag_per_breaking_suspension() -> None:
    events = [contact(d * DAY) for d in range(12)]
    early = E("customer_suspended", 5 * DAY + HOUR, reason="timing")
    late = E("customer_suspended", 50 * DAY, reason="timing")
    flags = both_orders(*events, early, late).policy_flags()
    assert len(flags) == 1 and "after 6 effective" in flags[0]
    assert len(both_orders(*events, early, late).suspensions) == 2


def test_suspension_by_nobody() -> None:
    (flag,) = fold(E("customer_suspended", 0, rep=None, reason="other")).policy_flags()
    assert "unknown" in flag


def _never_suspend_case(*importance: Event) -> list[str]:
    events = [contact(d * DAY) for d in range(12)]
    return both_orders(
        *events, *importance, E("customer_suspended", 50 * DAY, reason="other")
    ).policy_flags()


def test_suspended_never_suspend_fires_when_set_before() -> None:
    (flag,) = _never_suspend_case(E("importance_set", 40 * DAY, tier="vvip", never_suspend=True))
    assert flag.startswith("suspended_never_suspend:")


def test_suspended_never_suspend_not_when_set_after_the_suspension() -> None:
    flags = _never_suspend_case(E("importance_set", 60 * DAY, tier="vvip", never_suspend=True))
    assert flags == []
    # ...even though the customer is never-suspend now.
    events = [contact(d * DAY) for d in range(12)]
    s = fold(*events, E("importance_set", 60 * DAY, tier="vvip", never_suspend=True))
    assert s.never_suspend


def test_suspended_never_suspend_not_when_unset_before() -> None:
    flags = _never_suspend_case(
        E("importance_set", 10 * DAY, tier="vvip", never_suspend=True),
        E("importance_set", 20 * DAY, tier="key", never_suspend=False),
    )
    assert flags == []


def test_suspended_never_suspend_tie_by_event_id() -> None:
    events = [contact(d * DAY) for d in range(12)]
    suspended = E("customer_suspended", 50 * DAY, eid="m", reason="other")
    before = E("importance_set", 50 * DAY, eid="a", tier="vvip", never_suspend=True)
    after = E("importance_set", 50 * DAY, eid="z", tier="vvip", never_suspend=True)
    assert len(both_orders(*events, before, suspended).policy_flags()) == 1
    assert both_orders(*events, after, suspended).policy_flags() == []


def test_both_flags_at_once() -> None:
    flags = fold(
        E("importance_set", 0, tier="vvip", never_suspend=True),
        E("customer_suspended", DAY, reason="other"),
    ).policy_flags()
    assert [f.split(":")[0] for f in flags] == ["suspended_before_12", "suspended_never_suspend"]


# ---------------------------------------------------------------- reps


def test_rep_joined() -> None:
    r = fold_rep(E("rep_joined", 0, rep="r1", role="manager", team="east", name="Li"))
    assert (r.rep_id, r.role, r.team, r.name, r.active) == ("r1", "manager", "east", "Li", True)
    assert (r.joined_ts, r.left_ts) == (T0, None)
    assert r.tenure_days(T0 + 30 * DAY) == 30.0
    assert r.tenure_days(T0 - DAY) == 0.0
    assert fold_rep(E("rep_joined", 0, rep="r1")).role == "rep"


def test_rep_left_and_rejoined() -> None:
    joined = E("rep_joined", 0, rep="r1", team="east")
    left = E("rep_left", 100 * DAY, rep="r1")
    r = fold_rep(joined, left)
    assert fold_rep(left, joined) == r
    assert (r.active, r.left_ts) == (False, T0 + 100 * DAY)
    rejoined = E("rep_joined", 200 * DAY, rep="r1", team="west")
    r = fold_rep(left, rejoined, joined)
    assert fold_rep(joined, left, rejoined) == r
    assert (r.active, r.left_ts, r.team, r.joined_ts) == (True, None, "west", T0 + 200 * DAY)


def test_rep_left_without_joined_and_rep_known_from_activity() -> None:
    assert not fold_rep(E("rep_left", DAY, rep="r1")).active
    r = fold_rep(contact(5 * DAY, rep="r7"), contact(2 * DAY, rep="r7"))
    assert (r.active, r.joined_ts, r.first_ts, r.last_ts) == (
        True,
        T0 + 2 * DAY,
        T0 + 2 * DAY,
        T0 + 5 * DAY,
    )


def test_rep_activity_counts() -> None:
    events = [
        E("lead_created", 0, source="referral"),
        E("customer_assigned", DAY),
        contact(DAY),
        contact(DAY + HOUR, effective=False),
        E("quote_sent", 2 * DAY, quote_id="q", amount=10),
        E("order_won", 3 * DAY, order_id="o", amount=250.5),
        E("order_lost", 3 * DAY, reason="price"),
        E("customer_suspended", 4 * DAY, reason="other"),
        E("complaint_received", 4 * DAY, severity="major"),
        E("portrait_updated", 4 * DAY, section="basic"),
        E("need_identified", 4 * DAY, clear_need=True),
        E("importance_set", 4 * DAY, tier="key"),
    ]
    r = fold_rep(*events)
    assert fold_rep(*reversed(events)) == r
    got = (r.contacts, r.effective, r.leads, r.quotes, r.deals, r.deal_value)
    assert got == (2, 1, 2, 1, 1, 250.5)
    assert (r.losses, r.suspensions, r.complaints) == (1, 1, 1)
    assert (r.first_ts, r.last_ts) == (T0, T0 + 4 * DAY)


def test_rep_weekly_windows() -> None:
    week = (T0 // WEEK_US) * WEEK_US  # start of T0's week
    at = week - T0
    events = [
        contact(at + HOUR),  # this week
        contact(at + 2 * HOUR, effective=False),  # not counted
        E("lead_created", at + 3 * HOUR, source="other"),
        E("quote_sent", at - DAY, quote_id="q", amount=1),  # last week
        E("order_won", at - 8 * DAY, order_id="o", amount=5),  # two weeks ago
        contact(at - 30 * WEEK_US),  # long ago
    ]
    r = fold_rep(*events)
    as_of = week + 2 * DAY
    assert r.window(as_of, 1) == (1, 1, 0, 0)
    assert r.window(as_of, 2) == (1, 1, 1, 0)
    assert r.window(as_of, 3) == (1, 1, 1, 1)
    assert r.window(as_of, 52) == (2, 1, 1, 1)
    assert r.window(week - 1, 1) == (0, 0, 1, 0)  # last week only


def test_rep_keeps_every_week() -> None:
    weeks = 160  # three years: tenure-long history, not a rolling window
    events = [contact(w * WEEK_US) for w in range(weeks)]
    r = fold_rep(*events)
    assert len(r.weeks) == weeks
    assert fold_rep(*reversed(events)) == r
    assert r.effective == weeks
    newest = T0 + (weeks - 1) * WEEK_US
    assert r.window(newest, 52)[0] == 52
    assert r.window(newest, weeks)[0] == weeks


# ---------------------------------------------------------------- purity, duplicates, round trip


def _rich_events() -> list[Event]:
    return [
        E(
            "lead_created",
            0,
            source="trade_show",
            industry="print",
            size="medium",
            potential_value=1e5,
        ),
        contact(DAY),
        contact(2 * DAY, channel="visit", effective=False),
        E("portrait_updated", 3 * DAY, section="needs", fields={"ink": "UV"}),
        E("portrait_updated", 3 * DAY, section="competition"),
        E("need_identified", 4 * DAY, clear_need=True, expected_value=3000, due_date="2026-05-01"),
        E("quote_sent", 5 * DAY, quote_id="q1", amount=2999.99),
        E("order_lost", 6 * DAY, reason="competitor", quote_id="q1"),
        E("order_won", 7 * DAY, order_id="o1", amount=0.1),
        E("importance_set", 8 * DAY, tier="vvip", never_suspend=True),
        E("complaint_received", 9 * DAY, severity="minor"),
        E("customer_suspended", 10 * DAY, reason="need_mismatch"),
        E("customer_assigned", 11 * DAY, rep="r2", by="m1"),
    ]


def test_apply_is_pure() -> None:
    state: CustomerState | None = None
    for event in _rich_events():
        before = None if state is None else state.to_dict()
        new = apply(state, event)
        assert new is not state
        if state is not None:
            assert state.to_dict() == before
        state = new


def test_apply_rep_is_pure() -> None:
    rep: RepState | None = None
    for event in [*_rich_events(), E("rep_joined", 0, rep="r1"), E("rep_left", DAY, rep="r1")]:
        if event.rep_id != "r1":
            continue
        before = None if rep is None else rep.to_dict()
        new = apply_rep(rep, event)
        if rep is not None:
            assert rep.to_dict() == before and new is not rep
        rep = new


def test_duplicates_return_the_same_object() -> None:
    events = _rich_events()
    s = fold(*events)
    for event in events:
        assert apply(s, event) is s
    r = fold_rep(*(e for e in events if e.rep_id == "r1"))
    for event in events:
        if event.rep_id == "r1":
            assert apply_rep(r, event) is r


def test_duplicate_detected_by_event_id_alone() -> None:
    # Same id, other content: a duplicate (the contract: an id applied once is done).
    s = fold(contact(0, eid="same"))
    assert apply(s, contact(5 * DAY, eid="same", channel="visit")) is s


def test_in_place_variants_match_and_report_duplicates() -> None:
    events = _rich_events()
    s = CustomerState("c1")
    for event in events:
        assert apply_in_place(s, event) is True
    assert s == fold(*events)
    assert apply_in_place(s, events[3]) is False
    assert s == fold(*events)
    r = RepState("r1")
    r1_events = [e for e in events if e.rep_id == "r1"]
    for event in r1_events:
        assert apply_rep_in_place(r, event) is True
    assert apply_rep_in_place(r, r1_events[0]) is False
    assert r == fold_rep(*r1_events)


def test_a_digest_straddling_two_seen_entries_is_not_a_duplicate() -> None:
    # The seen digests are searched as bytes: a match that is not on an 8-byte boundary
    # spans two other digests, and the event is new.
    event = contact(0, eid="straddled")
    digest = event_digest(event.event_id)
    straddling = b"\x00" * 4 + digest + b"\x00" * 4
    assert IdSet.add(straddling, digest) == straddling + digest
    assert IdSet.add(straddling + digest, digest) is None
    s = CustomerState("c1")
    s.seen = straddling
    assert apply_in_place(s, event) is True
    assert s.seen == straddling + digest and s.events == 1
    assert apply_in_place(s, event) is False
    r = RepState("r1")
    r.weeks[event.ts // WEEK_US] = RepWeek(straddling, 0, 0, 0, 0, 0, (), 0, 0, 0)
    assert apply_rep_in_place(r, event) is True
    assert r.weeks[event.ts // WEEK_US].seen == straddling + digest
    assert apply_rep_in_place(r, event) is False


def test_to_dict_from_dict_round_trip() -> None:
    s = fold(*_rich_events())
    assert CustomerState.from_dict(s.to_dict()) == s
    through_json = CustomerState.from_dict(orjson.loads(orjson.dumps(s.to_dict())))
    assert through_json == s
    assert through_json.to_dict() == s.to_dict()
    assert through_json.policy_flags() == s.policy_flags()
    assert CustomerState.from_dict(CustomerState("c0").to_dict()) == CustomerState("c0")
    # A restored state folds on like the original.
    more = contact(20 * DAY)
    assert apply(through_json, more) == apply(s, more)


def test_rep_to_dict_from_dict_round_trip() -> None:
    r = fold_rep(
        E("rep_joined", 0, role="manager", team="t"),
        *(e for e in _rich_events() if e.rep_id == "r1"),
        E("rep_left", 30 * DAY),
    )
    assert RepState.from_dict(r.to_dict()) == r
    restored = RepState.from_dict(orjson.loads(orjson.dumps(r.to_dict())))
    assert restored == r and restored.to_dict() == r.to_dict()
    assert RepState.from_dict(RepState("r0").to_dict()) == RepState("r0")


def test_restored_state_still_recognises_duplicates() -> None:
    events = _rich_events()
    restored = CustomerState.from_dict(orjson.loads(orjson.dumps(fold(*events).to_dict())))
    for event in events:
        assert apply(restored, event) is restored


def test_states_are_unhashable_and_compare_by_value() -> None:
    assert CustomerState("c1") == CustomerState("c1")
    assert CustomerState("c1") != CustomerState("c2")
    assert CustomerState("c1") != "c1"
    with pytest.raises(TypeError):
        hash(CustomerState("c1"))
    with pytest.raises(TypeError):
        hash(RepState("r1"))
    assert "c1" in repr(fold(contact())) and "r1" in repr(RepState("r1"))


def test_rep_events_belong_to_no_customer() -> None:
    joined = E("rep_joined", 0, rep="r1")
    assert not touches_customer(joined)
    with pytest.raises(ValueError, match="belongs to no customer"):
        apply(None, joined)
    with pytest.raises(ValueError, match="names no rep"):
        apply_rep(None, E("lead_created", 0, rep=None, source="other"))
    # A rep event naming a customer still belongs to no customer.
    with_customer = validate({**joined.to_dict(), "event_id": "x", "customer_id": "c1"})
    assert not touches_customer(with_customer)
