"""The manager's tables: funnel, alerts at their thresholds, dormant, pipeline, turnover."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import pytest

from features.policy import Policy
from planning.alerts import (
    activity_alerts,
    manager_join,
    prospects_contacted,
    suspension_violations,
    unowned_never_suspend,
)
from planning.dormant import dormant_table
from planning.funnel import funnel_by_rep, funnel_by_team, verdict
from planning.manager import build_manager_report
from planning.pipeline import pipeline
from planning.team import turnover
from streams.core.state import DAY_US, WEEK_US
from tests.support.planning import DAY, T0, book, contacts, customer_events, ev, joined, lead

POLICY = Policy()
US = 1


def _row(frame: pd.DataFrame, label: str | int, columns: list[str]) -> list[Any]:
    """The values of `columns` in the row labelled `label`, which must be the only one."""
    row = frame.loc[label, columns]
    assert isinstance(row, pd.Series), f"more than one row labelled {label!r}"
    return row.tolist()


# ---------------------------------------------------------------- funnel


def test_funnel_counts_each_reps_customers_and_suspensions_stay_with_the_rep() -> None:
    events = [joined("r1"), joined("r2", team="south")]
    events += customer_events("a", "r1", n=3)
    events += customer_events("b", "r1", n=0)
    events += customer_events("c", "r1", n=12)
    events.append(ev("quote_sent", -9 * DAY, "c", "r1", quote_id="q", amount=10.0))
    events.append(ev("customer_suspended", -2 * DAY, "c", "r1", reason="timing"))
    events += customer_events("d", "r2", n=2)
    events.append(ev("order_won", -3 * DAY, "d", "r2", order_id="o", amount=50.0))
    events.append(ev("lead_created", -9 * DAY, "e", None, source="inbound"))  # unowned
    b, snap = book(events)
    reps = funnel_by_rep(b, snap.reps, POLICY).set_index("rep_id")
    counts = ["leads", "contacted", "effective_contacts", "quoted", "deals"]
    assert _row(reps, "r1", counts) == [3, 2, 15, 1, 0]
    assert _row(reps, "r2", ["leads", "deals", "conversion"]) == [1, 1, 1.0]
    assert reps.loc["(no rep)", "leads"] == 1
    teams = funnel_by_team(reps.reset_index(), POLICY).set_index("team")
    assert teams.loc["east", "leads"] == 3 and teams.loc["south", "deals"] == 1
    assert _row(teams, "(all)", ["reps", "leads", "deals"]) == [2, 5, 1]


@pytest.mark.parametrize(
    ("leads", "deals", "word"),
    [
        (100, 0, "below band"),
        (100, 1, "within band"),
        (100, 5, "within band"),
        (100, 6, "above band"),
        (0, 0, "no leads"),
    ],
)
def test_conversion_against_the_new_rep_band_ends_included(
    leads: int, deals: int, word: str
) -> None:
    assert verdict(leads, deals, POLICY)[1] == word


def test_many_leads_and_few_deals_points_at_lead_fit_from_one_hundred_leads() -> None:
    n = POLICY.lead_fit_check_leads
    assert verdict(n - 1, 0, POLICY)[2] == ""
    assert "target customers" in verdict(n, 0, POLICY)[2]
    assert verdict(n, 1, POLICY)[2] == ""


# ---------------------------------------------------------------- activity alerts


def _rep_with_prospects(k: int, days_ago: float = 1.0, tenure: float = 400) -> list:
    events = [joined("r1", tenure), joined("boss", 900, role="manager")]
    for i in range(k):
        events.append(lead(f"c{i}", "r1", days_ago=min(300, tenure)))
        events += contacts(f"c{i}", 1, "r1", last_days_ago=days_ago)
    return events


def test_activity_alert_fires_below_the_weekly_target_exactly() -> None:
    target = POLICY.weekly_prospects_target
    b, snap = book(_rep_with_prospects(target - 1))
    alerts = activity_alerts(b, snap.reps, POLICY)
    assert alerts["rep_id"].tolist() == ["r1"]  # the manager is never alerted
    assert _row(alerts, 0, ["prospects_7d", "target", "shortfall"]) == [
        target - 1,
        target,
        1,
    ]
    b, snap = book(_rep_with_prospects(target))
    assert activity_alerts(b, snap.reps, POLICY).empty


def test_prospects_are_distinct_customers_in_the_seven_days_up_to_as_of() -> None:
    events = _rep_with_prospects(3)
    events += contacts("c0", 4, "r1", last_days_ago=0.5, every_days=0.1)  # same customer again
    events.append(lead("old", "r1"))
    events.append(ev("contact_made", -WEEK_US, "old", "r1", channel="phone"))  # just outside
    events.append(lead("edge", "r1"))
    events.append(ev("contact_made", -WEEK_US + US, "edge", "r1", channel="phone"))
    events.append(lead("dull", "r1"))
    events.append(ev("contact_made", -DAY, "dull", "r1", channel="phone", effective=False))
    b, _ = book(events)
    assert prospects_contacted(b)["r1"] == 4  # c0, c1, c2 and edge


def test_new_reps_come_first_and_a_first_week_is_pro_rated() -> None:
    events = _rep_with_prospects(0)
    events.append(joined("n1", 30))
    events.append(joined("n2", 3.5))
    events.append(joined("gone", 200))
    events.append(ev("rep_left", -DAY, rep="gone"))
    b, snap = book(events)
    alerts = activity_alerts(b, snap.reps, POLICY)
    assert alerts["rep_id"].tolist() == ["n1", "n2", "r1"]
    assert alerts["new_rep"].tolist() == [True, True, False]
    assert alerts.set_index("rep_id").loc["n2", "target"] == -(-POLICY.weekly_prospects_target // 2)
    assert alerts.loc[0, "severity"] == "new rep: step in now"


# ---------------------------------------------------------------- customers that need the manager


def test_manager_join_at_exactly_ten_effective_contacts_without_a_deal() -> None:
    n = POLICY.manager_join_contacts
    events = [joined("r1"), *customer_events("nine", n=n - 1), *customer_events("ten", n=n)]
    events += customer_events("won", n=n + 3)
    events.append(ev("order_won", -DAY, "won", order_id="o", amount=1.0))
    events += customer_events("pooled", n=n + 3)
    events.append(ev("customer_suspended", -DAY, "pooled", reason="timing"))
    events += [*customer_events("ineffective", n=n - 1)]
    events += contacts("ineffective", 3, last_days_ago=2, effective=False)
    b, _ = book(events)
    assert manager_join(b, POLICY)["customer_id"].tolist() == ["ten"]


def test_suspension_violations_at_the_twelfth_contact_and_never_suspend() -> None:
    n = POLICY.twelve_contacts
    events = [joined("r1")]
    events += customer_events("early", n=n - 1, last_days_ago=10)
    events.append(ev("customer_suspended", -5 * DAY, "early", reason="timing"))
    events += customer_events("fine", n=n, last_days_ago=10)
    events.append(ev("customer_suspended", -5 * DAY, "fine", reason="timing"))
    # The 12th contact after the suspension does not excuse it.
    events += customer_events("later", n=n - 1, last_days_ago=10)
    events.append(ev("customer_suspended", -5 * DAY, "later", reason="timing"))
    events += contacts("later", 1, last_days_ago=1)
    events += customer_events("vip", n=n + 2, last_days_ago=10)
    events.append(ev("importance_set", -50 * DAY, "vip", tier="vvip", never_suspend=True))
    events.append(ev("customer_suspended", -5 * DAY, "vip", reason="other"))
    b, _ = book(events)
    table = suspension_violations(b, POLICY)
    got = sorted(zip(table["customer_id"], table["effective_before"], strict=True))
    assert got == [("early", n - 1), ("later", n - 1), ("vip", n + 2)]
    rule = table.set_index("customer_id").loc["vip", "rule"]
    assert isinstance(rule, str) and "never-suspend" in rule
    assert table["suspended_by"].eq("r1").all()
    assert unowned_never_suspend(b)["customer_id"].tolist() == ["vip"]


# ---------------------------------------------------------------- dormant


def test_dormant_customers_from_ninety_days_ranked_by_predicted_value() -> None:
    threshold = POLICY.dormant_days * DAY_US
    events = [joined("r1")]
    for name, ago in (("almost", threshold - US), ("exact", threshold), ("long", 2 * threshold)):
        events += customer_events(name, n=2)
        events.append(ev("order_won", -ago, name, order_id=name, amount=100.0))
    events += customer_events("never", n=2)
    b, _ = book(events, value={"exact": 10.0, "long": 20.0})
    table = dormant_table(b, POLICY)
    assert table["customer_id"].tolist() == ["long", "exact"]
    assert table["days_since_order"].tolist() == [180, 90]


# ---------------------------------------------------------------- pipeline


def test_pipeline_by_rep_team_source_and_stage_and_its_weekly_move() -> None:
    events = [joined("r1", team="east"), joined("r2", team="south")]
    events += customer_events("a", "r1", source="trade_show")
    events += customer_events("b", "r2", source="referral")
    events.append(lead("new", "r2", days_ago=2, source="referral"))
    events.append(ev("portrait_updated", -20 * DAY, "a", "r1", section="basic"))
    now, snap = book(events, value={"a": 100.0, "b": 50.0, "new": 7.0})
    before, snap_before = book(events, T0 - WEEK_US, value={"a": 80.0, "b": 60.0})
    tables = pipeline(now, snap.reps, before, snap_before.reps)
    rep = tables["rep"].set_index("rep")
    assert _row(rep, "r1", ["customers", "value", "value_last_week", "change"]) == [
        1,
        100.0,
        80.0,
        20.0,
    ]
    assert _row(rep, "r2", ["customers", "value", "value_last_week", "change"]) == [
        2,
        57.0,
        60.0,
        -3.0,
    ]
    assert rep.loc["r1", "change_pct"] == 0.25
    assert tables["team"].set_index("team").loc["south", "value"] == 57.0
    assert tables["source"].set_index("source").loc["referral", "value"] == 57.0
    assert tables["stage"]["stage"].tolist() == ["none", "doctor"]
    only_now = pipeline(now, snap.reps)
    assert only_now["rep"]["value_last_week"].isna().all()


# ---------------------------------------------------------------- turnover


def _team(start: int, leave: int, join: int) -> list:
    """`start` people a year and more ago; `leave` of them left within the year; `join` joined."""
    events = [joined(f"s{k}", 500) for k in range(start)]
    events += [ev("rep_left", -100 * DAY, rep=f"s{k}") for k in range(leave)]
    events += [joined(f"j{k}", 100) for k in range(join)]
    return events


@pytest.mark.parametrize(
    ("leave", "word"),
    [
        (1, "below band: too little drive"),  # 1 / 20 = 5%
        (2, "within band"),  # exactly 10%
        (3, "within band"),  # exactly 15%
        (4, "above band: turnover hurts results"),  # 20%
    ],
)
def test_turnover_against_the_band_with_its_ends_inside(leave: int, word: str) -> None:
    # 20 at the start, `leave` left and as many joined: 20 at the end, average 20.
    _, snap = book(_team(20, leave, leave))
    row = turnover(snap.reps, T0, POLICY).set_index("team").loc["(all)"]
    assert row["turnover"] == pytest.approx(leave / 20)
    assert row["verdict"] == word


def test_turnover_just_past_the_band() -> None:
    # 2 left, 1 joined: 20 -> 19, average 19.5: 10.26%. 3 left, 4 joined: average 20.5: 14.6%.
    _, snap = book(_team(20, 2, 1))
    assert turnover(snap.reps, T0, POLICY).iloc[-1]["verdict"] == "within band"
    _, snap = book(_team(20, 1, 2))  # 1 / 20.5 = 4.9%
    assert turnover(snap.reps, T0, POLICY).iloc[-1]["verdict"].startswith("below")
    narrow = replace(POLICY, turnover_high=0.099)
    _, snap = book(_team(20, 2, 2))
    assert turnover(snap.reps, T0, narrow).iloc[-1]["verdict"].startswith("above")


# ---------------------------------------------------------------- the whole report


def test_the_report_has_every_table() -> None:
    events = [joined("r1"), joined("n1", 20), *customer_events("a", "r1", n=12)]
    events.append(ev("customer_suspended", -DAY, "a", "r1", reason="timing"))
    b, snap = book(events)
    report = build_manager_report(b, snap.reps, POLICY)
    tables = report.tables()
    assert set(tables) >= {
        "funnel_reps",
        "activity_alerts",
        "pool_assignment",
        "dormant",
        "turnover",
    }
    assert report.recommendation.assignment["rep_id"].tolist() == ["n1"]
    assert any("public pool: 1" in line for line in report.headline())
