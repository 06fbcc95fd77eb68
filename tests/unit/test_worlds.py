"""The benchmark's worlds (`bench.worlds`): valid contract logs, the same for the same seed,
and each different in the way it claims. Small books, so it runs in seconds; no model is
trained or graded here (that is `python -m bench forecast`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from bench.worlds import WORLDS, World, lines
from bench.worlds.cdnow import cdnow_events, data_file
from streams.core.contract import Event, parse_time
from streams.core.deadletter import Rejection
from streams.core.log import Line, decode

SMALL = 400
GENERATED = [name for name, world in WORLDS.items() if world.config is not None]


@cache
def validator() -> jsonschema.Draft202012Validator:
    # The project's own copy of the contract (docs/contract/).
    schema_file = Path(__file__).resolve().parents[2] / "docs" / "contract" / "events.schema.json"
    assert schema_file.exists(), f"the event contract is missing: {schema_file}"
    return jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))


@cache
def small(name: str) -> tuple[str, ...]:
    return tuple(lines(WORLDS[name].sized(SMALL)))


def decoded(raw: tuple[str, ...]) -> list[Event | Rejection]:
    return list(decode(Line("world", n, s.encode()) for n, s in enumerate(raw, start=1)))


def events(name: str) -> list[dict[str, Any]]:
    return [orjson.loads(s) for s in small(name)]


def span_days(evs: list[dict[str, Any]]) -> float:
    times = [parse_time(e["occurred_at"])[1] for e in evs]
    return (max(times) - min(times)) / 86_400e6


@pytest.mark.parametrize("name", [n for n in GENERATED if not WORLDS[n].noisy])
def test_every_event_validates_and_the_product_parses_it(name: str) -> None:
    raw = small(name)
    errors = [
        (e["event_id"], err.message)
        for e in map(orjson.loads, raw)
        for err in validator().iter_errors(e)
    ]
    assert errors == []
    rejected = [r for r in decoded(raw) if isinstance(r, Rejection)]
    assert rejected == []
    assert len({orjson.loads(s)["event_id"] for s in raw}) == len(raw)


def test_the_cdnow_history_converts_every_customer_and_purchase() -> None:
    rows = [r for s in data_file().read_text().splitlines() if (r := s.split()) and r[0].isdigit()]
    evs = cdnow_events()
    kinds = Counter(e["type"] for e in evs)
    assert kinds["lead_created"] == len({r[0] for r in rows}) == 23_570
    assert kinds["order_won"] == sum(float(r[3]) > 0 for r in rows)
    assert set(kinds) == {"rep_joined", "lead_created", "order_won"}
    sample = evs[:: max(1, len(evs) // 3000)]
    assert [err.message for e in sample for err in validator().iter_errors(e)] == []
    raw = tuple(json.dumps(e) for e in evs)
    assert not [r for r in decoded(raw) if isinstance(r, Rejection)]
    # Each customer's lead comes before (or with) their first order.
    first: dict[str, str] = {}
    for e in evs:
        if "customer_id" in e:
            first.setdefault(e["customer_id"], e["type"])
    assert set(first.values()) == {"lead_created"}


@pytest.mark.parametrize("name", GENERATED)
def test_the_same_seed_gives_the_same_log_and_another_seed_another(name: str) -> None:
    world: World = WORLDS[name].sized(SMALL)
    assert tuple(lines(world)) == small(name)
    assert tuple(lines(world.sized(SMALL, seed=world.seed + 1000))) != small(name)


def test_worlds_differ_in_ids_time_zones_and_write_times_to_the_second() -> None:
    offsets = {events(n)[-1]["occurred_at"][19:] for n in GENERATED if not WORLDS[n].noisy}
    assert len(offsets) >= 5
    ids = {events(n)[-1].get("customer_id", "")[:3] for n in GENERATED if not WORLDS[n].noisy}
    assert len(ids) >= 3
    seconds = {e["occurred_at"][17:19] for e in events("drift")}
    assert len(seconds) == 60


def test_purchase_only_has_orders_and_no_contacts() -> None:
    kinds = Counter(e["type"] for e in events("purchase_only"))
    assert kinds["order_won"] > 0 and kinds["lead_created"] > 0
    assert not {"contact_made", "quote_sent", "portrait_updated", "order_lost"} & set(kinds)


def test_nine_month_spans_about_270_days_and_the_others_two_years() -> None:
    assert 262 <= span_days(events("nine_month")) <= 270
    assert 720 <= span_days(events("drift")) <= 730


def test_noisy_has_resent_events_malformed_lines_shuffled_lines_and_keys() -> None:
    raw = small("noisy")
    results = decoded(raw)
    rejected = [r for r in results if isinstance(r, Rejection)]
    valid = [r for r in results if isinstance(r, Event)]
    assert 0.001 <= len(rejected) / len(raw) <= 0.005
    ids = Counter(e.event_id for e in valid)
    resent = sum(c - 1 for c in ids.values())
    assert 0.01 <= resent / len(valid) <= 0.02
    # The valid events are exactly the clean world's: the noise changes no label.
    clean = WORLDS["noisy"].sized(SMALL).events()
    assert set(ids) == {e["event_id"] for e in clean}
    times = [e.ts for e in valid]
    assert times != sorted(times)
    first_keys = Counter(s[2 : s.index('"', 2)] for s in raw)
    assert len(first_keys) >= 4  # keys in shuffled order
    assert any('": ' in s for s in raw) and any('":"' in s for s in raw)


def test_the_growing_book_doubles_and_leads_arrive_faster_over_time() -> None:
    leads = [
        parse_time(e["occurred_at"])[1] for e in events("growing") if e["type"] == "lead_created"
    ]
    start = min(leads)
    day = [(t - start) / 86_400e6 for t in leads]
    book_at_60 = sum(d <= 60 for d in day)
    assert len(day) >= 1.8 * book_at_60
    first_year = sum(60 < d <= 365 for d in day) / 305
    second_year = sum(d > 365 for d in day) / 365
    assert second_year > 1.8 * first_year


def _orders_by_day(evs: list[dict[str, Any]]) -> list[float]:
    start = min(parse_time(e["occurred_at"])[1] for e in evs)
    return [
        (parse_time(e["occurred_at"])[1] - start) / 86_400e6
        for e in evs
        if e["type"] == "order_won"
    ]


def test_the_close_rate_drifts_down_over_the_log() -> None:
    drift = WORLDS["drift"].sized(SMALL)
    assert drift.config is not None
    steady = replace(drift, config=replace(drift.config, trend=1.0))

    def late_over_early(world: World) -> float:
        days = _orders_by_day(world.events())
        return sum(d > 550 for d in days) / sum(60 < d <= 240 for d in days)

    # Against the same world without the trend (the book's growth and customers going
    # quiet move both alike): the rate in the last half-year about 0.55/0.87 of the first.
    assert late_over_early(drift) < 0.8 * late_over_early(steady)


def test_seasonal_orders_peak_in_autumn_and_skip_weekends() -> None:
    evs = [e for e in events("seasonal") if e["type"] == "order_won"]
    moments = [datetime.fromisoformat(e["occurred_at"]) for e in evs]
    by_month = Counter(m.month for m in moments)
    assert by_month[11] + by_month[10] > 3 * (by_month[4] + by_month[5])
    weekend = sum(m.weekday() >= 5 for m in moments) / len(moments)
    assert weekend < 0.1
    other = [
        datetime.fromisoformat(e["occurred_at"])
        for e in events("drift")
        if e["type"] == "order_won"
    ]
    assert sum(m.weekday() >= 5 for m in other) / len(other) > 0.15


def test_heavy_rep_churn_loses_a_third_or_more_of_reps_a_year() -> None:
    evs = events("rep_churn")
    kinds = Counter(e["type"] for e in evs)
    starting = WORLDS["rep_churn"].config.reps  # type: ignore[union-attr]
    per_year = kinds["rep_left"] / starting / (span_days(evs) / 365)
    assert 0.25 <= per_year <= 0.6
    calm = Counter(e["type"] for e in events("drift"))["rep_left"]
    assert kinds["rep_left"] > 2 * calm
