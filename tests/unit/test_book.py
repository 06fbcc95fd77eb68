"""The book's columns are the states' own facts, read in bulk (checked on a simulated log)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from features.customer import owner_active
from models.scoring import Scorer, score_snapshot
from planning.book import NEVER, build_book
from streams.core.contract import validate
from streams.embedded.replay import replay_events
from training.simulator import SimulationConfig, simulate


def test_book_columns_equal_the_state_properties() -> None:
    events = [validate(e) for e in simulate(SimulationConfig(customers=400, reps=8, days=240))]
    snap = replay_events(events)
    scores = score_snapshot(snap, Scorer(None)).sample(frac=1.0, random_state=1)  # any order
    book = build_book(snap.customers, snap.reps, scores, snap.as_of)
    assert list(book.customer_id) == sorted(snap.customers)
    assert book.quote_open.any() and book.has_order.any() and book.in_pool.any()
    for i, state in enumerate(book.states):
        assert state.customer_id == book.customer_id[i]
        times = state.effective_times()
        assert book.last_contact[i] == (times[-1] if times else NEVER)
        assert book.last_order[i] == (state.last_order_ts or NEVER)
        assert book.quote_open[i] == state.quote_open
        assert book.in_pool[i] == (not owner_active(state, snap.reps))
        assert book.owner[i] == state.owner and book.status[i] == state.status
        assert book.stage[i] == state.stage and book.effective[i] == state.effective
        assert book.clear_need[i] == bool(state.clear_need)
        assert book.never_suspend[i] == state.never_suspend
        assert book.suspensions[i] == len(state.suspensions)
    row = scores.set_index("customer_id").loc[book.customer_id]
    assert np.array_equal(book.predicted_value, row["predicted_value"].to_numpy())
