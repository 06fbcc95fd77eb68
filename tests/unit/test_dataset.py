"""Point-in-time training data: every row is what serving would have computed at its as-of
time, later events change no earlier row, and labels look exactly one horizon ahead."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from features.customer import FEATURE_NAMES, INDEX, feature_matrix
from streams.core.contract import Event, to_ts, validate
from streams.core.state import DAY_US
from streams.embedded.replay import replay_events
from training.dataset import (
    UNLABELLED,
    Dataset,
    DatasetConfig,
    EventSet,
    build_dataset,
    label,
    prepare,
    revenue,
    snapshot_times,
)

START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def event(n: int, kind: str, when: datetime, customer: str | None = "c1", **payload: Any) -> Event:
    raw: dict[str, Any] = {
        "event_id": f"t{n:04d}",
        "type": kind,
        "occurred_at": when.isoformat(),
        "rep_id": "r1",
        "payload": payload,
    }
    if customer is not None:
        raw["customer_id"] = customer
    return validate(raw)


def rows_by_key(ds: Dataset) -> dict[tuple[str, int], int]:
    return {
        (c, int(t)): i for i, (c, t) in enumerate(zip(ds.meta.customer_id, ds.as_of, strict=True))
    }


# The spacing these tests reason about, fixed (by default it adapts to the log's length).
FIXED = DatasetConfig(cadence_days=14, warmup_days=28)


def first_as_of() -> datetime:
    midnight = START.replace(hour=0, minute=0)
    return midnight + timedelta(days=28)


# ---------------------------------------------------------------- the same fold, the same features


def test_rows_equal_a_fresh_replay_of_the_events_up_to_their_as_of(
    training_events: EventSet, training_dataset: Dataset
) -> None:
    # The serving path (replay_events + feature_matrix) recomputed from scratch, for a few
    # as-of times, must give exactly the training rows.
    times = np.unique(training_dataset.as_of)
    for t in (times[0], times[len(times) // 2], times[-1]):
        rows = np.flatnonzero(training_dataset.as_of == t)
        ids = training_dataset.meta.customer_id.to_numpy()[rows]
        snapshot = replay_events(training_events.events, as_of=int(t))
        states = [snapshot.customers[c] for c in ids]
        expected = feature_matrix(states, snapshot.reps, int(t))
        np.testing.assert_array_equal(training_dataset.X[rows], expected)


def test_appending_future_events_changes_no_feature_of_an_earlier_snapshot(
    training_events: EventSet, training_dataset: Dataset
) -> None:
    events = training_events.events
    cut = events[len(events) // 2].ts
    past = [e for e in events if e.ts <= cut]
    config = replace(training_dataset.config, include_unlabelled=True)
    before = build_dataset(prepare(past), config)
    # The real future of the log, plus orders and contacts aimed at the customers seen so
    # far, appended after them (an append-only log never rewrites its past).
    customers = sorted({e.customer_id for e in past if e.customer_id})[:200]
    when = datetime.fromtimestamp(cut / 1e6, tz=UTC)
    extra = []
    for i, c in enumerate(customers):
        extra.append(
            event(i, "order_won", when + timedelta(days=1), c, order_id=f"x{i}", amount=9e5)
        )
        extra.append(
            event(10_000 + i, "contact_made", when + timedelta(hours=1), c, channel="visit")
        )
    after = build_dataset(prepare([*events, *extra]), config)
    old, new = rows_by_key(before), rows_by_key(after)
    earlier = [k for k in old if k[1] <= cut]
    assert len(earlier) > 1000
    assert all(k in new for k in earlier)
    old_rows, new_rows = [old[k] for k in earlier], [new[k] for k in earlier]
    np.testing.assert_array_equal(before.X[old_rows], after.X[new_rows])
    # ...while labels that were still open did learn about the appended orders.
    was_open = before.y[old_rows] == UNLABELLED
    assert (after.y[new_rows][was_open] == 1).sum() > 100


def test_an_event_at_exactly_the_as_of_time_counts_and_one_a_microsecond_later_does_not() -> None:
    t0 = first_as_of()
    events = [
        event(1, "lead_created", START, source="inbound"),
        event(2, "contact_made", t0, channel="phone"),
        event(3, "contact_made", t0 + timedelta(microseconds=1), channel="phone"),
        event(4, "contact_made", t0 + timedelta(days=200), channel="phone"),
    ]
    ds = build_dataset(prepare(events), replace(FIXED, include_unlabelled=True))
    first = ds.X[ds.as_of == to_ts(t0)]
    assert first[0, INDEX["effective_contacts"]] == 1.0
    later = ds.X[ds.as_of == to_ts(t0 + timedelta(days=14))]
    assert later[0, INDEX["effective_contacts"]] == 2.0


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("order_after", "expected"),
    [
        (timedelta(0), 0),  # at t: known at t (a feature), not a future close
        (timedelta(microseconds=1), 1),
        (timedelta(days=90), 1),  # the horizon's last instant is inside (t, t + 90d]
        (timedelta(days=90, microseconds=1), 0),
    ],
)
def test_label_is_an_order_within_the_horizon_after_as_of(
    order_after: timedelta, expected: int
) -> None:
    t0 = first_as_of()
    events = [
        event(1, "lead_created", START, source="referral"),
        event(2, "order_won", t0 + order_after, order_id="o1", amount=1000),
        event(3, "contact_made", t0 + timedelta(days=400), channel="phone"),  # data runs on
    ]
    ds = build_dataset(prepare(events), FIXED)
    assert ds.y[ds.as_of == to_ts(t0)][0] == expected


def test_label_function_bounds() -> None:
    day = DAY_US
    assert label([5 * day], 0, 5 * day) == 1
    assert label([5 * day + 1], 0, 5 * day) == 0
    assert label([0, 10 * day], 0, 5 * day) == 0  # the order at t itself is not ahead
    assert label([], 0, 5 * day) == 0


def test_revenue_sums_the_orders_inside_the_horizon_and_only_those() -> None:
    t0 = first_as_of()
    events = [
        event(1, "lead_created", START, source="referral"),
        event(3, "order_won", t0, order_id="o0", amount=5000),  # at t: already known
        event(4, "order_won", t0 + timedelta(days=10), order_id="o1", amount=1000),
        event(5, "order_won", t0 + timedelta(days=90), order_id="o2", amount=250.5),  # repeat
        event(6, "order_won", t0 + timedelta(days=90, seconds=1), order_id="o3", amount=777),
        event(7, "contact_made", t0 + timedelta(days=400), channel="phone"),  # data runs on
    ]
    ds = build_dataset(prepare(events))
    row = ds.meta[ds.as_of == to_ts(t0)].iloc[0]
    assert (row["revenue"], row["orders_next"], row["label"]) == (1250.5, 2, 1)
    assert row["owner_rep_id"] == "r1"
    # Two weeks on, o1 is in the past and o3 inside the horizon.
    later = ds.meta[ds.as_of == to_ts(t0 + timedelta(days=14))].iloc[0]
    assert (later["revenue"], later["orders_next"]) == (250.5 + 777, 2)
    # Once every order is behind it, nothing is expected in the horizon.
    quiet = ds.meta[ds.as_of == to_ts(t0 + timedelta(days=98))].iloc[0]
    assert (quiet["revenue"], quiet["orders_next"], quiet["label"]) == (0.0, 0, 0)


def test_revenue_function_bounds() -> None:
    day = DAY_US
    assert revenue([0, day, 5 * day, 5 * day + 1], [1.0, 2.0, 4.0, 8.0], 0, 5 * day) == (6.0, 2)
    assert revenue([], [], 0, day) == (0.0, 0)


def test_unlabelled_rows_have_no_revenue(training_events: EventSet) -> None:
    ds = build_dataset(training_events, DatasetConfig(include_unlabelled=True))
    open_rows = ds.y == UNLABELLED
    assert open_rows.any()
    assert ds.meta["revenue"][open_rows].isna().all()
    assert (ds.meta["orders_next"][open_rows] == 0).all()
    labelled = ds.meta[~open_rows]
    assert not labelled["revenue"].isna().any()
    # A row has revenue exactly when it is labelled a close.
    assert ((labelled["revenue"] > 0) == (labelled["label"] == 1)).all()
    assert ((labelled["orders_next"] > 0) == (labelled["label"] == 1)).all()


def test_rows_whose_horizon_runs_past_the_data_are_not_labelled(
    training_events: EventSet, training_dataset: Dataset
) -> None:
    horizon = training_dataset.config.horizon_us
    assert (training_dataset.as_of + horizon <= training_events.end).all()
    assert set(np.unique(training_dataset.y)) == {0, 1}
    tail = build_dataset(training_events, replace(training_dataset.config, include_unlabelled=True))
    unlabelled = tail.y == UNLABELLED
    assert unlabelled.any()
    assert (tail.as_of[unlabelled] + horizon > training_events.end).all()
    # The labelled part is exactly the default data set.
    labelled = tail.subset(~unlabelled)
    np.testing.assert_array_equal(labelled.X, training_dataset.X)
    np.testing.assert_array_equal(labelled.y, training_dataset.y)


def test_an_as_of_cut_ends_the_data_there(training_events: EventSet) -> None:
    cut = training_events.events[len(training_events.events) * 2 // 3].ts
    events = prepare(training_events.events, as_of=cut)
    assert events.end == cut
    assert all(e.ts <= cut for e in events.events)
    ds = build_dataset(events)
    assert (ds.as_of + ds.config.horizon_us <= cut).all()


# ---------------------------------------------------------------- order, duplicates, sampling


def test_arrival_order_and_duplicates_do_not_change_the_data_set() -> None:
    rng = random.Random(3)
    events = [event(1, "lead_created", START, source="inbound")]
    for n in range(2, 80):
        when = START + timedelta(days=rng.uniform(0, 300))
        kind = rng.choice(["contact_made", "contact_made", "order_won", "quote_sent"])
        payloads: dict[str, dict[str, Any]] = {
            "contact_made": {"channel": "phone"},
            "order_won": {"order_id": f"o{n}", "amount": 100.0},
            "quote_sent": {"quote_id": f"q{n}", "amount": 50.0},
        }
        events.append(event(n, kind, when, **payloads[kind]))
    shuffled = [*events, *rng.sample(events, 20)]
    rng.shuffle(shuffled)
    a, b = build_dataset(prepare(events)), build_dataset(prepare(shuffled))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.fingerprint == b.fingerprint


def test_the_cap_samples_the_same_customers_every_time(training_events: EventSet) -> None:
    capped = DatasetConfig(max_rows_per_as_of=100)
    a, b = build_dataset(training_events, capped), build_dataset(training_events, capped)
    assert a.meta.groupby("as_of").size().max() == 100
    np.testing.assert_array_equal(a.X, b.X)
    assert a.meta.equals(b.meta)
    # Different customers at different times, not one fixed cohort.
    firsts = a.meta.groupby("as_of").customer_id.apply(frozenset).tolist()
    assert len(set(firsts)) > 1
    assert firsts[-1] != firsts[-2]


def test_pool_customers_are_rows_unless_excluded(training_dataset: Dataset) -> None:
    pool = training_dataset.X[:, INDEX["in_pool"]] == 1.0
    assert pool.any()
    assert (training_dataset.X[pool, INDEX["suspensions"]] > 0).any()
    assert training_dataset.X.shape[1] == len(FEATURE_NAMES)


def test_snapshot_times_are_anchored_at_the_start_of_the_data() -> None:
    config = FIXED
    start = to_ts(START)
    short = snapshot_times(start, start + 200 * DAY_US, config)
    longer = snapshot_times(start, start + 400 * DAY_US, config)
    assert longer[: len(short)] == short
    assert all(b - a == 14 * DAY_US for a, b in pairwise(short))
    assert short[0] % DAY_US == 0


@pytest.mark.parametrize(
    ("days", "cadence", "warmup"),
    [(182, 3, 9), (270, 4, 13), (730, 14, 28), (1500, 14, 28)],
)
def test_snapshot_spacing_adapts_to_the_length_of_the_history(
    days: int, cadence: int, warmup: int
) -> None:
    # Six or nine months of log get enough labelled dates to backtest on; two years and
    # more keep the two-week spacing (and so the anchoring above).
    start = to_ts(START)
    resolved = DatasetConfig().resolved(start, start + days * DAY_US)
    assert (resolved.cadence_days, resolved.warmup_days) == (cadence, warmup)
    times = snapshot_times(start, start + days * DAY_US, DatasetConfig())
    assert len(times) >= 20
