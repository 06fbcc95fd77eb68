"""The synthetic log simulator: contract validity, reproducibility and calibration.

Every number here is computed straight from the written JSONL (no other closecast module
is used), so the tests check what consumers of the log will actually see. The calibration
targets are those of the domain text (`docs/domain.md`): new reps close 1-5 % of leads,
a deal takes at least 12 effective contacts over 3-6 months, 1-2 contacts a month without
a clear need, the twelve-contact suspension rule, 10-15 % yearly rep turnover.
"""

from __future__ import annotations

import csv
import gc
import json
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from training.simulator import SimulationConfig, simulate, truth_path, write_log

SMALL = SimulationConfig(customers=300, reps=8, days=180, seed=11)
# Big enough for stable funnel rates (~200k events), small enough to stay fast.
CALIBRATION = SimulationConfig(customers=4000, reps=40, days=540, seed=7)
# Two years of a larger team, few customers: turnover is a property of the roster.
TURNOVER = SimulationConfig(customers=100, reps=60, days=730, seed=5)

# The project's own copy of the contract (version 1), found from the repository's root.
REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
CONTRACT_SCHEMA = REPO / "docs" / "contract" / "events.schema.json"

EFFECTIVE_RULE = 12
NEW_REP_DAYS = 180

# ---- the contract, by hand (events.md) --------------------------------------------------

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REP_EVENTS = {"rep_joined", "rep_left"}
REP_REQUIRED = {"rep_joined", "rep_left", "contact_made", "customer_assigned"}
# type -> {payload field: allowed values (a set) or a type check}
ENUMS: dict[str, dict[str, set[str]]] = {
    "rep_joined": {"role": {"rep", "manager"}},
    "lead_created": {
        "source": {
            "trade_show",
            "referral",
            "inbound",
            "cold_list",
            "industry_event",
            "dormant_reactivation",
            "other",
        },
        "size": {"small", "medium", "large"},
    },
    "contact_made": {"channel": {"phone", "wechat", "sms", "email", "visit", "hosted_visit"}},
    "portrait_updated": {
        "section": {"basic", "background", "needs", "competition", "deep", "extended"}
    },
    "order_lost": {"reason": {"price", "timing", "need_mismatch", "competitor", "other"}},
    "importance_set": {"tier": {"standard", "key", "vvip"}},
    "customer_suspended": {"reason": {"timing", "need_mismatch", "competition", "other"}},
    "complaint_received": {"severity": {"minor", "major"}},
}
REQUIRED_PAYLOAD: dict[str, tuple[str, ...]] = {
    "rep_joined": (),
    "rep_left": (),
    "lead_created": ("source",),
    "contact_made": ("channel",),
    "portrait_updated": ("section",),
    "need_identified": ("clear_need",),
    "quote_sent": ("quote_id", "amount"),
    "order_won": ("order_id", "amount"),
    "order_lost": ("reason",),
    "importance_set": ("tier",),
    "customer_suspended": ("reason",),
    "customer_assigned": (),
    "complaint_received": ("severity",),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bounded_string(value: Any, longest: int) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= longest


def _payload_problems(kind: str, payload: dict[str, Any]) -> list[str]:
    problems = [f"payload.{f} missing" for f in REQUIRED_PAYLOAD[kind] if f not in payload]
    for name, allowed in ENUMS.get(kind, {}).items():
        if name in payload and payload[name] not in allowed:
            problems.append(f"payload.{name}={payload[name]!r} not allowed")
    checks: list[tuple[str, bool]] = []
    if kind == "lead_created" and "potential_value" in payload:
        value = payload["potential_value"]
        checks.append(("potential_value", _is_number(value) and value >= 0))
    if kind == "contact_made":
        checks.append(("effective", isinstance(payload.get("effective", True), bool)))
        checks.append(("note", len(payload.get("note", "")) <= 2000))
    if kind == "portrait_updated":
        fields = payload.get("fields", {})
        ok = isinstance(fields, dict) and all(
            isinstance(v, str | int | float | bool) for v in fields.values()
        )
        checks.append(("fields", ok))
    if kind == "need_identified":
        checks.append(("clear_need", isinstance(payload.get("clear_need"), bool)))
        if "expected_value" in payload:
            value = payload["expected_value"]
            checks.append(("expected_value", _is_number(value) and value >= 0))
        if "due_date" in payload:
            checks.append(("due_date", bool(ISO_DATE.match(payload["due_date"]))))
    if kind == "quote_sent":
        checks.append(("quote_id", _bounded_string(payload.get("quote_id"), 10_000)))
        checks.append(("amount", _is_number(payload.get("amount")) and payload["amount"] >= 0))
    if kind == "order_won":
        checks.append(("order_id", _bounded_string(payload.get("order_id"), 10_000)))
        checks.append(("amount", _is_number(payload.get("amount")) and payload["amount"] > 0))
    if kind == "importance_set":
        checks.append(("never_suspend", isinstance(payload.get("never_suspend", False), bool)))
    problems.extend(f"payload.{name} invalid" for name, ok in checks if not ok)
    return problems


def contract_problems(event: dict[str, Any]) -> list[str]:
    """Why an event breaks the v1 contract (an empty list when it does not)."""
    problems = [
        f"{f} missing" for f in ("event_id", "type", "occurred_at", "payload") if f not in event
    ]
    if problems:
        return problems
    kind = event["type"]
    if kind not in REQUIRED_PAYLOAD:
        return [f"unknown type {kind!r}"]
    if not _bounded_string(event["event_id"], 128):
        problems.append("event_id invalid")
    stamp = event["occurred_at"]
    if not (isinstance(stamp, str) and TIMESTAMP.match(stamp)):
        problems.append("occurred_at invalid")
    elif datetime.fromisoformat(stamp).tzinfo is None:
        problems.append("occurred_at has no offset")
    if kind not in REP_EVENTS and not _bounded_string(event.get("customer_id"), 64):
        problems.append("customer_id invalid")
    rep = event.get("rep_id")
    if kind in REP_REQUIRED and not _bounded_string(rep, 64):
        problems.append("rep_id required")
    elif rep is not None and not _bounded_string(rep, 64):
        problems.append("rep_id invalid")
    if not isinstance(event["payload"], dict):
        return [*problems, "payload is not an object"]
    return problems + _payload_problems(kind, event["payload"])


# ---- reading a log ----------------------------------------------------------------------


def _ts(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


@dataclass
class Log:
    """A parsed log, indexed the way the checks below need it."""

    raw: bytes
    events: list[dict[str, Any]]
    times: list[datetime]
    joined: dict[str, datetime] = field(default_factory=dict)
    left: dict[str, datetime] = field(default_factory=dict)
    role: dict[str, str] = field(default_factory=dict)
    by_customer: dict[str, list[tuple[datetime, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @property
    def start(self) -> datetime:
        return min(t for t, e in zip(self.times, self.events, strict=True) if "customer_id" in e)

    @property
    def end(self) -> datetime:
        return self.times[-1]

    def customers(self) -> Iterator[tuple[str, list[tuple[datetime, dict[str, Any]]]]]:
        return iter(self.by_customer.items())


def read_log(path: Path) -> Log:
    # Hundreds of thousands of long-lived dicts: skip the GC passes over them (no cycles).
    gc.disable()
    try:
        return _read_log(path)
    finally:
        gc.enable()


def _read_log(path: Path) -> Log:
    raw = path.read_bytes()
    events = [orjson.loads(line) for line in raw.splitlines()]
    log = Log(raw=raw, events=events, times=[_ts(e) for e in events])
    for t, e in zip(log.times, events, strict=True):
        if e["type"] == "rep_joined":
            log.joined[e["rep_id"]] = t
            log.role[e["rep_id"]] = e["payload"].get("role", "rep")
        elif e["type"] == "rep_left":
            log.left[e["rep_id"]] = t
        else:
            log.by_customer[e["customer_id"]].append((t, e))
    return log


def _effective(event: dict[str, Any]) -> bool:
    return event["type"] == "contact_made" and bool(event["payload"].get("effective", True))


def _months(delta: timedelta) -> float:
    return delta.total_seconds() / 86400 / 30.44


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Log:
    path = tmp_path_factory.mktemp("small") / "log.jsonl"
    write_log(SMALL, path)
    return read_log(path)


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Log:
    path = tmp_path_factory.mktemp("calibration") / "log.jsonl"
    write_log(CALIBRATION, path)
    return read_log(path)


# ---- API, reproducibility, format -------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_log(SMALL, first)
    write_log(SMALL, second)
    assert first.read_bytes() == second.read_bytes()
    assert truth_path(first).read_bytes() == truth_path(second).read_bytes()


def test_different_seed_gives_a_different_log(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_log(SMALL, first)
    write_log(SimulationConfig(customers=300, reps=8, days=180, seed=12), second)
    assert first.read_bytes() != second.read_bytes()


def test_simulate_yields_what_write_log_writes(small: Log) -> None:
    assert list(simulate(SMALL)) == small.events


def test_summary_counts_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    summary = write_log(SMALL, path)
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    by_type = Counter(e["type"] for e in events)
    assert summary.events == len(events)
    assert summary.by_type == dict(by_type)
    assert summary.deals == by_type["order_won"] > 0
    assert summary.reps == by_type["rep_joined"]
    assert (
        summary.customers == SMALL.customers == len({e.get("customer_id") for e in events} - {None})
    )
    assert summary.truth_path == truth_path(path) == path.with_name("log.jsonl.truth.csv")


def test_progress_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_log(
        SimulationConfig(customers=20, reps=3, days=30), tmp_path / "log.jsonl", progress=True
    )
    captured = capsys.readouterr()
    assert "customers" in captured.err
    assert captured.out == ""


def test_every_line_follows_the_contract(small: Log) -> None:
    problems = {e["event_id"]: p for e in small.events if (p := contract_problems(e))}
    assert problems == {}
    assert small.raw.endswith(b"\n")
    assert all(line.startswith(b"{") for line in small.raw.splitlines())
    assert all(e["occurred_at"].endswith("+08:00") for e in small.events)


def test_every_line_validates_against_the_json_schema(small: Log) -> None:
    schema_file = CONTRACT_SCHEMA
    assert schema_file.exists(), f"the event contract is missing: {schema_file}"
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))
    errors = [
        (e["event_id"], err.message) for e in small.events for err in validator.iter_errors(e)
    ]
    assert errors == []


def test_sorted_by_time_then_event_id_and_ids_unique(small: Log) -> None:
    keys = [(t, e["event_id"]) for t, e in zip(small.times, small.events, strict=True)]
    assert keys == sorted(keys)
    assert len({e["event_id"] for e in small.events}) == len(small.events)


def test_ids_have_the_agreed_shapes(small: Log) -> None:
    assert all(re.fullmatch(r"r\d{3}", r) for r in small.joined)
    assert all(re.fullmatch(r"c\d{6}", c) for c in small.by_customer)


def test_ground_truth_is_beside_the_log_and_never_in_it(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    write_log(SMALL, path)
    with truth_path(path).open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {"customer_id", "propensity", "segment", "responsiveness"} <= set(rows[0])
    logged = {
        e["customer_id"]
        for e in map(orjson.loads, path.read_bytes().splitlines())
        if "customer_id" in e
    }
    assert {r["customer_id"] for r in rows} == logged
    assert all(0.0 < float(r["propensity"]) < 1.0 for r in rows)
    raw = path.read_bytes()
    for hidden in ("propensity", "responsiveness", "price_sensitivity", "need_interval"):
        assert hidden.encode() not in raw


# ---- consistency of the world -----------------------------------------------------------


def test_people_act_only_while_employed(calibration: Log) -> None:
    log = calibration
    assert log.left  # the check below must see some departures
    for _, events in log.customers():
        for t, e in events:
            rep = e.get("rep_id")
            if rep is None:
                continue
            assert log.joined[rep] <= t, e
            assert rep not in log.left or t < log.left[rep], e


def test_each_customer_starts_as_a_lead(small: Log) -> None:
    assert all(events[0][1]["type"] == "lead_created" for _, events in small.customers())


def test_team_roster(small: Log) -> None:
    joins = [e for e in small.events if e["type"] == "rep_joined"]
    assert {e["payload"]["role"] for e in joins} == {"rep", "manager"}
    assert len({e["payload"]["team"] for e in joins}) >= 1
    # Staggered hiring: tenures spread over years, so experience differs.
    assert len({t.year for t in small.joined.values()}) >= 3


def test_portrait_deepens_in_the_documented_order(calibration: Log) -> None:
    order = {"basic": 0, "background": 1, "needs": 2, "competition": 3, "deep": 4, "extended": 5}
    reached: Counter[str] = Counter()
    for _, events in calibration.customers():
        firsts = [e["payload"]["section"] for _, e in events if e["type"] == "portrait_updated"]
        firsts = list(dict.fromkeys(firsts))  # first appearance of each section
        assert [order[s] for s in firsts] == sorted(order[s] for s in firsts)
        reached.update(firsts)
    assert reached["basic"] > reached["needs"] > reached["deep"] > reached["extended"] > 0
    deep = next(e for e in calibration.events if e["payload"].get("section") == "deep")
    extended = next(e for e in calibration.events if e["payload"].get("section") == "extended")
    assert "decision_maker" in deep["payload"]["fields"]
    assert "birthday" in extended["payload"]["fields"]


def test_the_mix_of_leads_contacts_and_outcomes(calibration: Log) -> None:
    leads = [e for e in calibration.events if e["type"] == "lead_created"]
    assert {e["payload"]["source"] for e in leads} == ENUMS["lead_created"]["source"]
    pool_share = sum(e["rep_id"] is None for e in leads) / len(leads)
    assert 0.02 < pool_share < 0.2  # a minority of leads start in the public pool
    contacts = [e for e in calibration.events if e["type"] == "contact_made"]
    assert {e["payload"]["channel"] for e in contacts} == ENUMS["contact_made"]["channel"]
    effective_share = sum(e["payload"]["effective"] for e in contacts) / len(contacts)
    assert 0.4 < effective_share < 0.8
    types = Counter(e["type"] for e in calibration.events)
    assert all(types[t] > 0 for t in REQUIRED_PAYLOAD)
    severities = {
        e["payload"]["severity"] for e in calibration.events if e["type"] == "complaint_received"
    }
    assert severities == {"minor", "major"}
    assert types["order_lost"] > 0 and types["quote_sent"] > types["order_won"] / 2


# ---- calibration against the domain -----------------------------------------------------


def _lead_conversion(log: Log, new_reps: bool) -> tuple[int, int]:
    """(deals, leads) for leads a rep owned at creation, at least 180 days before the end."""
    deals = leads = 0
    for _, events in log.customers():
        t, lead = events[0]
        rep = lead["rep_id"]
        if rep is None or log.end - t < timedelta(days=180):
            continue
        if (t - log.joined[rep] < timedelta(days=NEW_REP_DAYS)) != new_reps:
            continue
        leads += 1
        deals += any(e["type"] == "order_won" for _, e in events)
    return deals, leads


def test_new_reps_close_1_to_5_percent_of_their_leads(calibration: Log) -> None:
    deals, leads = _lead_conversion(calibration, new_reps=True)
    assert leads > 300
    assert 0.01 <= deals / leads <= 0.05


def test_experienced_reps_close_more(calibration: Log) -> None:
    new_deals, new_leads = _lead_conversion(calibration, new_reps=True)
    deals, leads = _lead_conversion(calibration, new_reps=False)
    assert 0.05 <= deals / leads <= 0.15
    assert deals / leads > 2 * new_deals / new_leads


def _first_deals(log: Log) -> list[tuple[int, float]]:
    """(effective contacts before, days since first contact) of each customer's first deal."""
    out = []
    for _, events in log.customers():
        effective, first = 0, None
        for t, e in events:
            if e["type"] == "contact_made":
                first = first or t
                effective += _effective(e)
            elif e["type"] == "order_won":
                if first is not None:
                    out.append((effective, (t - first).total_seconds() / 86400))
                break
    return out


def test_a_deal_takes_twelve_effective_contacts_over_three_to_six_months(
    calibration: Log,
) -> None:
    deals = _first_deals(calibration)
    assert len(deals) > 150
    contacts = [c for c, _ in deals]
    days = [d for _, d in deals]
    assert statistics.median(contacts) >= EFFECTIVE_RULE
    assert 90 <= statistics.median(days) <= 180
    # Quick small deals happen, but they are a minority.
    quick = sum(c < EFFECTIVE_RULE for c in contacts) / len(contacts)
    assert 0.02 < quick < 0.35


def test_cadence_without_a_clear_need_is_one_to_two_a_month(calibration: Log) -> None:
    contacts = months = 0.0
    for _, events in calibration.customers():
        if any(e["type"] == "need_identified" and e["payload"]["clear_need"] for _, e in events):
            continue
        times = [t for t, e in events if _effective(e)]
        if len(times) >= 3:
            contacts += len(times) - 1
            months += _months(times[-1] - times[0])
    assert 1.0 <= contacts / months <= 2.0


def test_a_clear_need_tightens_the_cadence_but_not_to_daily(calibration: Log) -> None:
    gaps: list[float] = []
    for _, events in calibration.customers():
        open_need, last = False, None
        for t, e in events:
            if e["type"] == "need_identified":
                open_need, last = bool(e["payload"]["clear_need"]), None
            elif e["type"] in ("order_won", "order_lost"):
                open_need, last = False, None
            elif (
                open_need and e["type"] == "contact_made" and calibration.role[e["rep_id"]] == "rep"
            ):
                if last is not None:
                    gaps.append((t - last).total_seconds() / 86400)
                last = t
    assert len(gaps) > 1000
    assert 4 <= statistics.mean(gaps) <= 10  # about weekly
    assert sum(g < 1.5 for g in gaps) / len(gaps) < 0.02  # never daily


def _suspensions(log: Log) -> list[tuple[int, bool]]:
    """(effective contacts so far, customer marked never_suspend) at each suspension."""
    out = []
    for _, events in log.customers():
        effective, never = 0, False
        for _, e in events:
            effective += _effective(e)
            if e["type"] == "importance_set":
                never = bool(e["payload"].get("never_suspend", False))
            elif e["type"] == "customer_suspended":
                out.append((effective, never))
    return out


def test_suspension_follows_the_twelve_contact_rule_with_a_few_violations(
    calibration: Log,
) -> None:
    suspensions = _suspensions(calibration)
    assert len(suspensions) > 500
    violations = sum(c < EFFECTIVE_RULE or never for c, never in suspensions)
    assert 0.005 <= violations / len(suspensions) <= 0.03
    assert any(never for _, never in suspensions)  # an example for the never_suspend flag


def test_suspended_customers_go_to_the_pool_and_are_reassigned(calibration: Log) -> None:
    suspended = reassigned = to_new = 0
    for _, events in calibration.customers():
        for i, (t, e) in enumerate(events):
            if e["type"] != "customer_suspended":
                continue
            suspended += 1
            later = next((x for _, x in events[i + 1 :] if x["type"] == "customer_assigned"), None)
            if later is not None:
                reassigned += 1
                rep = later["rep_id"]
                to_new += t - calibration.joined[rep] < timedelta(days=NEW_REP_DAYS)
            break
    assert 0.4 < reassigned / suspended < 0.95  # some stay in the pool for a while
    assert to_new / reassigned > 0.2  # often to a new rep


def test_vvip_customers_are_never_suspended_by_policy(calibration: Log) -> None:
    vvip = [
        e
        for e in calibration.events
        if e["type"] == "importance_set" and e["payload"]["tier"] == "vvip"
    ]
    assert len(vvip) >= 5
    assert sum(bool(e["payload"].get("never_suspend")) for e in vvip) >= 0.5 * len(vvip)
    assert any(
        e["payload"]["tier"] == "key" for e in calibration.events if e["type"] == "importance_set"
    )


def test_repeat_buyers_dormant_customers_and_reactivation(calibration: Log) -> None:
    repeat = dormant = 0
    for _, events in calibration.customers():
        orders = [t for t, e in events if e["type"] == "order_won"]
        repeat += len(orders) >= 2
        dormant += bool(orders) and calibration.end - orders[-1] >= timedelta(days=90)
    reactivated = sum(
        e["type"] == "lead_created" and e["payload"]["source"] == "dormant_reactivation"
        for e in calibration.events
    )
    assert repeat > 50
    assert dormant > 20
    assert reactivated > 20


def test_yearly_rep_turnover_is_ten_to_fifteen_percent(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    write_log(TURNOVER, path)
    log = read_log(path)
    sales = [r for r, role in log.role.items() if role == "rep"]
    start, end = log.start, log.end
    headcounts = []
    day = start
    while day < end:
        headcounts.append(
            sum(log.joined[r] <= day and (r not in log.left or log.left[r] > day) for r in sales)
        )
        day += timedelta(days=7)
    years = (end - start).days / 365
    rate = len(log.left) / statistics.mean(headcounts) / years
    assert 0.10 <= rate <= 0.15
    assert any(start < t for t in log.joined.values())  # replacements and new hires
    assert all(log.role[r] == "rep" for r in log.left)


def test_customers_of_a_leaver_get_a_new_owner(calibration: Log) -> None:
    """rep_left orphans the rep's customers; a manager later assigns most of them again."""
    changes = {"lead_created", "customer_assigned", "customer_suspended"}
    orphaned = handed_over = 0
    for _, events in calibration.customers():
        owner_changes = [(t, e) for t, e in events if e["type"] in changes]
        for (_, e), following in zip(owner_changes, [*owner_changes[1:], None], strict=True):
            rep = e["rep_id"]
            if e["type"] == "customer_suspended" or rep not in calibration.left:
                continue
            left = calibration.left[rep]
            if following is not None and following[0] < left:
                continue  # the customer moved on before the rep left
            orphaned += 1
            handed_over += following is not None and following[1]["type"] != "customer_suspended"
    assert orphaned > 20
    assert handed_over / orphaned > 0.3
