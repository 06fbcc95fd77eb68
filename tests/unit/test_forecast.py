"""The forecast's trust: the backtest's folds, the calibrated fallback, the range guard on
a growing book, short histories, and the drift watch."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from models.heuristic import HeuristicModel
from models.learned import Recipe, fit_model
from models.registry import Registry, load_scorer
from models.scoring import score_snapshot
from streams.core.state import DAY_US
from streams.embedded.replay import replay_files
from training import backtest
from training.backtest import calibrated_fallback
from training.dataset import Dataset, build_dataset, read_events
from training.drift import DriftRule, history, watch
from training.evaluate import metrics
from training.retrain import RetrainResult, retrain
from training.simulator import SimulationConfig, write_log

HORIZON = 90 * DAY_US


# ---------------------------------------------------------------- the backtest's folds


def test_walk_forward_folds_train_only_on_labels_closed_before_each_origin() -> None:
    as_of = np.repeat(np.arange(44) * 14 * DAY_US, 30)
    groups = np.array([f"c{i % 30}" for i in range(len(as_of))])
    y = (np.arange(len(as_of)) % 7 == 0).astype(int)
    plan = backtest.plan(as_of, y, groups, 90)
    assert plan.scheme == "walk-forward" and len(plan.folds) == 4
    origins = [f.origin for f in plan.folds]
    assert origins == sorted(origins)
    tested = np.zeros(len(as_of), dtype=int)
    for fold in plan.folds:
        assert (as_of[fold.train] + HORIZON <= fold.origin).all()
        assert (as_of[fold.test] >= fold.origin).all()
        tested += fold.test
    assert tested.max() == 1  # each row is tested at most once
    assert as_of[tested == 1].max() == as_of.max()  # the newest dates are tested


def test_a_short_history_is_graded_on_folds_of_customers() -> None:
    # Three months of labelled dates: no origin has closed labels a horizon before it.
    as_of = np.repeat(np.arange(25) * 4 * DAY_US, 40)
    groups = np.array([f"c{i % 40}" for i in range(len(as_of))])
    y = (np.arange(len(as_of)) % 5 == 0).astype(int)
    plan = backtest.plan(as_of, y, groups, 90)
    assert plan.scheme == "customer-grouped" and "too short" in plan.note
    for fold in plan.folds:
        assert not set(groups[fold.train]) & set(groups[fold.test])


# ---------------------------------------------------------------- the calibrated fallback


def test_the_fallback_is_calibrated_to_the_log(
    trained_registry: tuple[Path, RetrainResult], training_dataset: Dataset
) -> None:
    d = training_dataset
    heuristic = HeuristicModel().fit()
    raw_p = heuristic.predict_proba(d.X)[:, 1]
    # A world where customers order about three times as often as our simulator's (the
    # scorecard's constants were tuned there): its probabilities are far off.
    y = d.y.astype(int).copy()
    rng = np.random.default_rng(1)
    y[(y == 0) & (rng.random(len(y)) < 2 * raw_p)] = 1
    early = d.as_of < np.quantile(d.as_of, 0.7)
    late = ~early
    model, note = calibrated_fallback(d.X[early], y[early], d.as_of[early], heuristic)
    assert note is None and model.calibration is not None
    raw = metrics(raw_p[late], y[late], d.as_of[late])
    calibrated = metrics(model.predict_proba(d.X[late])[:, 1], y[late], d.as_of[late])
    # Fitted on the early labels, graded on later ones: the map brings the scorecard to
    # the log's close rate, and a monotone map leaves its ranking as it was.
    assert raw.ece > 0.03
    assert calibrated.ece <= 0.03 and calibrated.ece < raw.ece / 2
    assert calibrated.mean_p == pytest.approx(calibrated.base_rate, rel=0.2)
    assert calibrated.roc_auc == pytest.approx(raw.roc_auc, abs=1e-4)  # ties, rounding
    # On the backtest of our own simulator (each fold's map fitted before its origin).
    assert trained_registry[1].fallback.pooled.ece <= 0.03


def test_the_fallback_says_when_there_are_too_few_labels(training_dataset: Dataset) -> None:
    d = training_dataset
    few = np.arange(len(d.y)) < 120
    model, note = calibrated_fallback(
        d.X[few], d.y[few].astype(int), d.as_of[few], HeuristicModel().fit()
    )
    assert model.calibration is None
    assert note is not None and "not calibrated" in note and "120 labelled rows" in note


def test_the_served_fallback_uses_the_map_train_stored(
    trained_registry: tuple[Path, RetrainResult], tmp_path: Path, training_dataset: Dataset
) -> None:
    root = tmp_path / "models"
    shutil.copytree(trained_registry[0], root)
    registry = Registry(root)
    registry.retire()  # no model current: the fallback scores everyone
    scorer = load_scorer(root)
    assert scorer.model is None and scorer.heuristic.calibration is not None
    assert "calibrated on the log" in str(scorer.fallback_note)
    X = training_dataset.X[-2000:]
    np.testing.assert_allclose(
        scorer.probabilities(X)[0],
        HeuristicModel(calibration=registry.fallback()[0]).fit().predict_proba(X)[:, 1],
    )


# ---------------------------------------------------------------- the range guard


def test_a_model_trained_on_the_first_year_serves_the_book_a_year_later(
    training_dataset: Dataset,
) -> None:
    d = training_dataset
    first_year = d.as_of <= d.as_of.min() + 365 * DAY_US
    ids = d.meta["customer_id"].to_numpy()
    model = fit_model(
        Recipe("gbm"), d.X[first_year], d.y[first_year], d.as_of[first_year], ids[first_year]
    )
    latest = d.as_of == d.as_of.max()  # older leads, more contacts and orders than seen
    assert model.accepts(d.X[latest]).mean() >= 0.99


# ---------------------------------------------------------------- short histories


@pytest.fixture(scope="module")
def six_month_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("six-months") / "log.jsonl"
    write_log(SimulationConfig(customers=2500, reps=15, days=183, seed=8), path)
    return path


def test_a_model_trains_from_six_months_and_serves_nearly_everyone(
    six_month_log: Path, tmp_path: Path
) -> None:
    dataset = build_dataset(read_events([six_month_log]))
    assert len(np.unique(dataset.as_of)) >= 20  # the spacing adapted
    registry = Registry(tmp_path / "models")
    result = retrain(dataset, registry)
    assert result.plan.scheme == "customer-grouped"
    assert result.model is not None and result.version is not None
    assert result.best is not None and result.best.outcome.model_share >= 0.99
    if not result.decision.promote:  # the gate said why; the artifact is still usable
        registry.promote(result.version)
    snapshot = replay_files([six_month_log])
    scores = score_snapshot(snapshot, load_scorer(registry.root))
    assert (scores["source"] == "model").mean() >= 0.99


# ---------------------------------------------------------------- the drift watch


def _new_rows(d: Dataset, shift_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last third of the data's dates, moved `shift_days` later: rows the model never
    learned from (its training window ends where the data does)."""
    recent = d.as_of >= np.quantile(d.as_of, 0.66)
    return d.X[recent], d.y[recent].astype(int), d.as_of[recent] + shift_days * DAY_US


def test_the_drift_watch_recalibrates_after_a_base_rate_jump(
    trained_registry: tuple[Path, RetrainResult], tmp_path: Path, training_dataset: Dataset
) -> None:
    root = tmp_path / "models"
    shutil.copytree(trained_registry[0], root)
    registry = Registry(root)
    before = registry.current()
    assert before is not None
    X, y, as_of = _new_rows(training_dataset, 200)
    # The close rate jumps: twice as many of the same customers order.
    rng = np.random.default_rng(3)
    jumped = y.copy()
    p = load_scorer(root).probabilities(X)[0]
    jumped[(jumped == 0) & (rng.random(len(y)) < 2 * p)] = 1
    end = int(as_of.max()) + HORIZON
    when = datetime(2031, 1, 1, tzinfo=UTC)
    record = watch(X, jumped, as_of, end, registry, created_at=when)
    assert record is not None and record.action == "recalibrated", record
    assert record.base_rate > 2 * y.mean()
    assert "ECE" in record.note
    after = registry.current()
    assert after is not None and after != before and after == record.new_version
    meta = registry.metadata(after)
    assert meta["recalibrated_from"] == before and "recalibrated" in meta["artifact"]
    served = load_scorer(root).probabilities(X)[0]
    assert served.mean() == pytest.approx(jumped.mean(), rel=0.1)
    assert metrics(served, jumped, as_of).ece <= 0.03
    # Kept, and not judged twice on the same labels.
    assert history(registry)[-1]["action"] == "recalibrated"
    assert watch(X, jumped, as_of, end, registry) is None


def test_the_drift_watch_leaves_a_model_that_holds_alone(
    trained_registry: tuple[Path, RetrainResult], tmp_path: Path, training_dataset: Dataset
) -> None:
    root = tmp_path / "models"
    shutil.copytree(trained_registry[0], root)
    registry = Registry(root)
    before = registry.current()
    X, y, as_of = _new_rows(training_dataset, 200)
    record = watch(X, y, as_of, int(as_of.max()) + HORIZON, registry, rule=DriftRule())
    assert record is not None and record.action == "none", record
    assert registry.current() == before


# ---------------------------------------------------------------- time is the clock's


def test_an_event_dated_ahead_of_the_clock_does_not_complete_the_labels(
    training_log: Path, tmp_path: Path
) -> None:
    # One order claimed for 2099: without the rule the data's end would be 2099 and every
    # snapshot's label "complete"; with it the event is held and nothing else changes.
    future = tmp_path / "future.jsonl"
    line = (
        '{"event_id":"f1","type":"order_won","occurred_at":"2099-01-01T00:00:00Z",'
        '"customer_id":"c-future","rep_id":null,"payload":{"order_id":"o","amount":5}}\n'
    )
    future.write_text(line)
    plain = read_events([training_log])
    both = read_events([training_log, future])
    assert both.held == plain.held + 1  # (the simulated log may run past today too)
    assert both.end == plain.end and both.fingerprint == plain.fingerprint
