"""The public pool: the exact assignment (against brute force), and accepting it as events."""

from __future__ import annotations

import itertools
import random
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from closecast.cli import main
from features.policy import Policy
from planning.assignment import objective, solve
from planning.pool import pool_table, receivers, recommend
from planning.reassignment import accept, assignment_id
from streams.core.contract import validate
from streams.core.fold import apply
from streams.core.log import append_events
from streams.embedded.replay import replay_events, replay_files
from tests.support.planning import DAY, T0, book, customer_events, ev, iso, joined

POLICY = Policy()


def brute_force(
    values: np.ndarray, capacity: np.ndarray, quota: np.ndarray, allowed: np.ndarray
) -> tuple[int, float]:
    """The best (reserved slots filled, value) over every way to assign the customers."""
    n, m = values.shape
    best = (-1, -1.0)
    for choice in itertools.product(range(-1, m), repeat=n):
        picked = np.array(choice, dtype=np.int64)
        if any(j >= 0 and not allowed[i, j] for i, j in enumerate(choice)):
            continue
        if (np.bincount(picked[picked >= 0], minlength=m) > capacity).any():
            continue
        filled, value = objective(picked, values, quota)
        if (filled, value) > (best[0], best[1] + 1e-9):
            best = (filled, value)
    return best


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(0, 6))
    m = draw(st.integers(1, 3))
    cells = st.one_of(st.integers(0, 9).map(float), st.floats(0, 1000, allow_nan=False))
    values = np.array(draw(st.lists(cells, min_size=n * m, max_size=n * m))).reshape(n, m)
    capacity = np.array(draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)))
    quota = np.array(draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)))
    allowed = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m)), dtype=bool)
    return values, capacity, quota, allowed.reshape(n, m) | (draw(st.integers(0, 2)) == 0)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_the_assignment_is_optimal_against_brute_force(problem: tuple[np.ndarray, ...]) -> None:
    values, capacity, quota, allowed = problem
    chosen = solve(values, capacity, quota, allowed)
    load = np.bincount(chosen[chosen >= 0], minlength=len(capacity))
    assert (load <= capacity).all()
    assert all(allowed[i, j] for i, j in enumerate(chosen) if j >= 0)
    filled, value = objective(chosen, values, quota)
    best_filled, best_value = brute_force(values, capacity, quota, allowed)
    assert filled == best_filled
    assert abs(value - best_value) <= 1e-6 * max(1.0, best_value)


def test_reserved_slots_go_to_new_reps_before_value() -> None:
    values = np.array([[10.0, 1.0], [9.0, 1.0], [8.0, 1.0]])
    # Rep 1 (new) has 2 reserved slots: it gets two customers although rep 0 values all more.
    chosen = solve(values, np.array([3, 2]), np.array([0, 2]))
    assert list(chosen) == [0, 1, 1]
    assert objective(chosen, values, np.array([0, 2])) == (2, 12.0)


# ---------------------------------------------------------------- the pool of a log


def _pool_log(pool_size: int = 6) -> list:
    events = [
        joined("old1", 900, team="east"),
        joined("old2", 700, team="south"),
        joined("new1", 40, team="east"),
        joined("boss", 2000, role="manager"),
        joined("gone", 600),
    ]
    for k in range(pool_size):
        c = f"p{k}"
        events += customer_events(c, "old1", n=12, last_days_ago=40)
        events.append(ev("customer_suspended", -20 * DAY, c, "old1", reason="timing"))
    events += customer_events("orphan", "gone", n=3)
    events.append(ev("rep_left", -5 * DAY, rep="gone"))
    events += customer_events("kept", "old2", n=3)
    # old2 closed deals lately: a better fit than old1 and new1.
    for k in range(4):
        events += customer_events(f"won{k}", "old2", n=2, days_ago=60)
        events.append(ev("order_won", -30 * DAY, f"won{k}", "old2", order_id=f"o{k}", amount=9e3))
    return events


def test_the_pool_holds_suspended_and_departed_reps_customers() -> None:
    b, _ = book(_pool_log())
    table = pool_table(b)
    assert set(table["customer_id"]) == {f"p{k}" for k in range(6)} | {"orphan"}
    why = dict(zip(table["customer_id"], table["why"], strict=True))
    assert why["orphan"] == "owner left" and why["p0"] == "suspended"
    assert table["predicted_value"].is_monotonic_decreasing


def test_receivers_are_active_reps_with_a_reserved_share_for_new_ones() -> None:
    _, snap = book(_pool_log())
    takers = receivers(snap.reps, T0, POLICY).set_index("rep_id")
    assert sorted(takers.index) == ["new1", "old1", "old2"]  # no manager, nobody who left
    assert takers.loc["new1", "reserved"] == POLICY.new_rep_pool_quota
    assert takers.loc["old1", "reserved"] == 0
    assert (takers["capacity"] == POLICY.pool_capacity_per_rep).all()
    fit = takers["fit"].astype(float)
    assert fit["old2"] > fit["old1"]


def test_recommendation_is_optimal_and_never_returns_a_customer_to_its_suspender() -> None:
    b, snap = book(_pool_log())
    policy = replace(POLICY, pool_capacity_per_rep=3, new_rep_pool_quota=2)
    rec = recommend(b, snap.reps, policy)
    got = rec.assignment.set_index("customer_id")["rep_id"].to_dict()
    assert all(got[f"p{k}"] != "old1" for k in range(6) if f"p{k}" in got)
    assert (rec.assignment["rep_id"] == "new1").sum() >= 2
    assert rec.assignment.groupby("rep_id").size().max() <= 3
    # Brute force over the same pool and receivers.
    takers = rec.receivers
    table = pool_table(b)
    values = np.outer(table["predicted_value"], takers["fit"])
    allowed = np.ones(values.shape, dtype=bool)
    for i, cid in enumerate(table["customer_id"]):
        for j, rep in enumerate(takers["rep_id"]):
            s = snap.customers[cid].suspensions
            allowed[i, j] = not any(x.rep_id == rep for x in s)
    best = brute_force(
        values, takers["capacity"].to_numpy(), takers["reserved"].to_numpy(), allowed
    )
    assert rec.reserved_filled == best[0]
    assert abs(rec.total_value - best[1]) < 0.05


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(0, 4), st.integers(0, 3), st.randoms(use_true_random=False))
def test_pruned_recommendation_equals_the_full_problem(
    pool: int, capacity: int, quota: int, rng: random.Random
) -> None:
    """`recommend` solves on the best few pool customers only; that loses nothing."""
    events = _pool_log(pool)
    values = {f"p{k}": float(rng.randint(0, 50)) for k in range(pool)}
    b, snap = book(events, value=values)
    policy = replace(POLICY, pool_capacity_per_rep=capacity, new_rep_pool_quota=quota)
    rec = recommend(b, snap.reps, policy)
    takers = rec.receivers
    table = pool_table(b)
    full = np.outer(table["predicted_value"], takers["fit"])
    allowed = np.array(
        [
            [
                not any(x.rep_id == r for x in snap.customers[c].suspensions)
                for r in takers["rep_id"]
            ]
            for c in table["customer_id"]
        ],
        dtype=bool,
    ).reshape(full.shape)
    reserved = takers["reserved"].to_numpy()
    chosen = solve(full, takers["capacity"].to_numpy(), reserved, allowed)
    filled, total = objective(chosen, full, reserved)
    assert rec.reserved_filled == filled
    assert abs(rec.total_value - round(total, 2)) < 0.02


# ---------------------------------------------------------------- accepting


def test_an_accepted_assignment_becomes_valid_contract_events() -> None:
    b, snap = book(_pool_log())
    rec = recommend(b, snap.reps, POLICY)
    rows = list(enumerate(_records(rec.assignment), start=2))
    result = accept(rows, snap.customers, snap.reps, by="boss")
    assert len(result.events) == len(rec.assignment) and not result.refused
    for event, row in zip(result.events, rec.assignment.itertuples(), strict=True):
        assert validate(orjson_loads(event.to_json())) == event
        assert event.type == "customer_assigned"
        assert event.rep_id == row.rep_id and event.customer_id == row.customer_id
        assert event.payload == {"by": "boss"}
        assert event.occurred_at == iso(T0)
        cid, rid = str(row.customer_id), str(row.rep_id)
        assert event.event_id == assignment_id(cid, rid, "boss", iso(T0))
    again = accept(rows, snap.customers, snap.reps, by="boss")
    assert [e.event_id for e in again.events] == [e.event_id for e in result.events]
    after = replay_events([*_pool_log(), *result.events, *again.events], T0)
    for row in rec.assignment.itertuples():
        state = after.customers[str(row.customer_id)]
        assert state.owner == row.rep_id and state.status != "suspended"
        assert state.assignments == 1  # the second acceptance changed nothing
    first = result.events[0]
    state = after.customers[first.customer_id or ""]
    assert apply(state, first) is state  # a duplicate id changes nothing


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The frame's rows as the string-keyed mappings `accept` takes (its columns are names)."""
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def orjson_loads(raw: bytes) -> object:
    import orjson

    return orjson.loads(raw)


def test_edited_rows_are_checked_and_reported_by_row_number() -> None:
    _, snap = book(_pool_log())
    rows = [
        (2, {"customer_id": "p0", "rep_id": "old2", "as_of": iso(T0)}),
        (3, {"customer_id": "p1", "rep_id": "", "as_of": iso(T0)}),  # kept in the pool
        (4, {"customer_id": "nobody", "rep_id": "old2", "as_of": iso(T0)}),
        (5, {"customer_id": "p2", "rep_id": "gone", "as_of": iso(T0)}),
        (6, {"customer_id": "p0", "rep_id": "new1", "as_of": iso(T0)}),
        (7, {"customer_id": "kept", "rep_id": "old2", "as_of": iso(T0)}),
        (8, {"customer_id": "p3", "rep_id": "new1", "as_of": "yesterday"}),
    ]
    result = accept(rows, snap.customers, snap.reps, by="boss")
    assert [(e.customer_id, e.rep_id) for e in result.events] == [("p0", "old2")]
    assert result.left_in_pool == 1 and result.unchanged == 1
    refused = {r.row: r.reason for r in result.refused}
    assert sorted(refused) == [4, 5, 6, 8]
    assert "not in the log" in refused[4]
    assert "not an active rep" in refused[5]
    assert "already assigned on row 2" in refused[6]
    assert "as_of" in refused[8]


def test_pool_and_assign_commands_append_once(tmp_path: Path, capsys: object) -> None:
    log = tmp_path / "log.jsonl"
    append_events(log, _pool_log())
    out = tmp_path / "assignment.csv"
    assert main(["pool", str(log), "--as-of", iso(T0), "--out", str(out)]) == 0
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert len(frame) == 7
    frame.loc[frame["customer_id"] == "orphan", "rep_id"] = None  # the manager keeps it
    frame.to_csv(out, index=False)
    before = log.read_bytes().count(b"\n")
    assert main(["assign", str(out), "--log", str(log), "--by", "boss"]) == 0
    assert log.read_bytes().count(b"\n") == before + 6
    assert main(["assign", str(out), "--log", str(log), "--by", "boss"]) == 0
    assert log.read_bytes().count(b"\n") == before + 6
    snap = replay_files([log])
    assert snap.customers["orphan"].owner == "gone"
    assert all(snap.customers[f"p{k}"].status != "suspended" for k in range(6))
