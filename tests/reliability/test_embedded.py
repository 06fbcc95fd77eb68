"""The embedded engine (no broker): duplicates and disorder, bad input, model faults.

Also the suite's own instruments: the comparison that counts lost and duplicated events,
and the fuzzer, each shown to catch what it claims to.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

from models.registry import load_scorer
from models.scoring import score_snapshot
from streams.core.contract import InvalidEvent, parse
from streams.core.deadletter import read_dead_letters
from streams.core.state import CustomerState
from streams.embedded.replay import replay_events, replay_files
from tests.reliability.badinput import KINDS, bad_messages, mix
from tests.reliability.faults import break_model, copy_registry, mend
from tests.reliability.logs import Log, reasons, resend_and_disorder, write_lines
from tests.reliability.profile import MODEL_FAULTS, Profile
from tests.reliability.table import Row, Table, tally, tally_snapshot
from training.retrain import RetrainResult

pytestmark = pytest.mark.reliability

RESEND = 0.05
DISORDER = 0.10


# ---------------------------------------------------------------- the instruments


def test_the_comparison_counts_lost_duplicated_and_differing_states(small_log: Log) -> None:
    expected = small_log.expected
    customers = {k: v.to_dict() for k, v in expected.customers.items()}
    reps = {k: v.to_dict() for k, v in expected.reps.items()}
    assert tally(expected, customers, reps).exact

    # One event missing: the replay of the log without it.
    dropped = replay_events(parse(line) for line in small_log.lines[1:])
    lost = tally_snapshot(expected, dropped)
    assert lost.lost == 1 and lost.duplicated == 0 and lost.differing

    # A customer whose counters went up twice for one id (an effect applied twice).
    some = sorted(customers)[0]
    doubled = dict(customers)
    state = CustomerState.from_dict(customers[some])
    state.events += 1
    state.contacts += 1
    doubled[some] = state.to_dict()
    twice = tally(expected, doubled, reps)
    assert twice.duplicated == 1 and twice.lost == 0 and twice.differing == [f"customer {some}"]

    # A customer that should not exist at all: each of its ids counts as duplicated.
    phantom = dict(customers)
    phantom["nobody"] = {**customers[some], "customer_id": "nobody"}
    extra = tally(expected, phantom, reps)
    assert extra.duplicated == expected.customers[some].events
    assert extra.lost == 0 and extra.differing == ["customer nobody"]

    # A rep that lost a week of its activity.
    rep_id = max(reps, key=lambda r: len(expected.reps[r].weeks))
    rep = expected.reps[rep_id].copy()
    rep.weeks = dict(rep.weeks)
    week = next(w for w, v in sorted(rep.weeks.items()) if v[0])
    n_ids = len(rep.weeks.pop(week)[0]) // 8
    short_reps = {**reps, rep_id: rep.to_dict()}
    assert tally(expected, customers, short_reps).lost == n_ids


def test_the_fuzzer_makes_every_kind_and_each_breaks_the_contract(small_log: Log) -> None:
    templates = [orjson.loads(line) for line in small_log.lines]
    messages = bad_messages(len(KINDS) * 40, templates, seed=1)
    assert Counter(m.kind for m in messages) == dict.fromkeys(KINDS, 40)
    for message in messages:
        assert b"\n" not in message.raw and b"\r" not in message.raw and message.raw.strip()
        with pytest.raises(InvalidEvent):
            parse(message.raw)
    assert bad_messages(50, templates, seed=1) == messages[:50]  # seeded


# ---------------------------------------------------------------- duplicates and disorder


def test_duplicates_and_disorder_embedded(main_log: Log, table: Table, tmp_path: Path) -> None:
    mangled = resend_and_disorder(main_log.lines, RESEND, DISORDER, seed=7)
    path = write_lines(tmp_path / "mangled.jsonl", mangled.lines)
    started = time.monotonic()
    snap = replay_files([path])
    seconds = time.monotonic() - started
    result = tally_snapshot(main_log.expected, snap)
    row = table.add(
        Row.from_tally(
            "duplicates 5% + disorder 10% (embedded)", len(mangled.lines), main_log.expected, result
        )
    )
    row.notes = (
        f"{mangled.resent:,} re-sent, {mangled.moved:,} moved; replay dropped "
        f"{snap.stats.duplicates:,} repeats; {len(mangled.lines) / seconds:,.0f} events/s"
    )
    assert result.exact, result.describe()
    assert row.exact
    assert snap.stats.duplicates == mangled.resent


# ---------------------------------------------------------------- bad input


def test_bad_input_embedded(main_log: Log, profile: Profile, table: Table, tmp_path: Path) -> None:
    templates = [orjson.loads(line) for line in main_log.lines[::5]]
    bad = bad_messages(profile.bad_messages, templates, seed=11)
    mixed = mix(main_log.lines, bad, seed=12)
    path = write_lines(tmp_path / "mixed.jsonl", (raw for raw, _ in mixed))
    dead = tmp_path / "deadletters.jsonl"
    snap = replay_files([path], dead_letters=dead)

    letters = read_dead_letters(dead)
    result = tally_snapshot(main_log.expected, snap)
    row = table.add(
        Row.from_tally(f"bad input ×{len(bad):,} (embedded)", len(mixed), main_log.expected, result)
    )
    row.rejected = reasons(letters)
    row.notes = f"{len(KINDS)} kinds, dead-letter file holds {len(letters):,}"
    assert result.exact, result.describe()
    assert row.exact
    # Every bad message is in the dead-letter file, once, with a reason naming a field;
    # the hash identifies the original bytes (the stored text may be redacted).
    assert len(letters) == snap.stats.rejected == len(bad)
    assert Counter(d.raw_sha256 for d in letters) == Counter(
        hashlib.sha256(m.raw).hexdigest() for m in bad
    )
    assert all(":" in d.reason and d.raw for d in letters)


# ---------------------------------------------------------------- model faults


def test_model_faults_embedded(
    small_log: Log,
    trained_registry: tuple[Path, RetrainResult],
    table: Table,
    tmp_path: Path,
) -> None:
    good = trained_registry[0]
    snap = replay_files([small_log.path])
    before = {k: v.to_dict() for k, v in snap.customers.items()}
    notes = []
    faults = (*MODEL_FAULTS, "other-library-metadata")
    recovery = 0.0
    for fault in faults:
        registry = copy_registry(good, tmp_path / f"models-{fault}")
        healthy = load_scorer(registry.root)
        assert healthy.model is not None, healthy.fallback_note
        break_model(registry, fault)
        broken = load_scorer(registry.root)
        assert broken.model is None and broken.fallback_note
        scores = score_snapshot(snap, broken)
        assert set(scores["source"]) == {"heuristic"}
        p = scores["p_close"].to_numpy()
        assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
        why = broken.fallback_note.split("unusable (", 1)[-1].rsplit("): using", 1)[0]
        notes.append(f"{fault}: {why[:70]}")
        # A good model back: the next load scores with it again.
        started = time.monotonic()
        mend(registry, good)
        again = load_scorer(registry.root)
        rescored = score_snapshot(snap, again)
        recovery = max(recovery, time.monotonic() - started)
        assert again.model is not None
        assert "model" in set(rescored["source"])
    # Scoring never touches the states.
    assert {k: v.to_dict() for k, v in snap.customers.items()} == before
    result = tally_snapshot(small_log.expected, snap)
    row = table.add(
        Row.from_tally(
            f"model faults ×{len(faults)} (embedded scorer)",
            len(small_log),
            small_log.expected,
            result,
        )
    )
    row.recovery_s = recovery
    row.recovery_what = "good model back → model scores"
    row.notes = "heuristic fallback on: " + "; ".join(notes)
    assert result.exact and row.exact
