"""The registry and the promotion gate: what is kept, what becomes current, and rollback."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from closecast.cli import main
from features.customer import FEATURE_NAMES
from models.learned import Recipe, fit_model
from models.promotion import Decision, PromotionRule, decide
from models.registry import Registry, RegistryError
from streams.core.contract import to_datetime
from streams.core.fold import touches_customer
from training.dataset import Dataset, DatasetConfig, read_events, snapshot_times
from training.retrain import RetrainResult, TrainingConfig, retrain

FALLBACK = {"roc_auc": 0.80, "capture_10": 0.55, "ece": 0.13}


def scores(auc: float, capture: float, ece: float = 0.005) -> dict[str, float]:
    return {"roc_auc": auc, "capture_10": capture, "ece": ece}


@pytest.fixture
def registry_dir(trained_registry: tuple[Path, RetrainResult], tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(trained_registry[0], root)
    return root


# ---------------------------------------------------------------- the gate


def test_a_better_but_imperfect_model_is_promoted() -> None:
    # The foreign log's case: ECE 0.028 is no absolute triumph, but it is far better
    # than the 0.13 the fallback would serve, and it ranks better too.
    d = decide(scores(0.84, 0.60, ece=0.028), FALLBACK, None, 50_000, 2_000)
    assert d == Decision(True, [])
    # Against a current model of another recipe, the same: better by the churn margin.
    assert decide(scores(0.90, 0.62), FALLBACK, scores(0.88, 0.60), 50_000, 2_000).promote


@pytest.mark.parametrize(
    ("candidate", "current", "why"),
    [
        (scores(0.78, 0.60), None, "the calibrated fallback's"),  # ranks worse
        (scores(0.803, 0.60), None, "the calibrated fallback's"),  # within the margin
        (scores(0.90, 0.50), None, "capture at top 10%"),  # ranks the top tenth worse
        (scores(0.90, 0.62, ece=0.16), None, "calibration error"),  # worse calibrated
        (scores(0.90, 0.62), scores(0.91, 0.60), "the current model's recipe"),  # worse
        (scores(0.90, 0.62), scores(0.897, 0.61), "the current model's recipe"),  # margin
        (scores(0.90, 0.62, 0.045), scores(0.85, 0.60, 0.005), "calibration error"),
        ({**scores(0.90, 0.62), "brier": 0.05}, {**FALLBACK, "brier": 0.04}, "Brier score"),
        (scores(0.90, 0.58), scores(0.85, 0.60), "below the current model's recipe's"),
    ],
)
def test_a_worse_model_is_refused_and_the_gate_says_why(
    candidate: dict[str, float], current: dict[str, float] | None, why: str
) -> None:
    d = decide(candidate, FALLBACK, current, 50_000, 2_000)
    assert not d.promote
    assert any(why in reason for reason in d.reasons), d.reasons


def test_a_refit_of_the_current_recipe_only_has_to_beat_the_fallback() -> None:
    # The same recipe on newer labels: no churn margin over itself.
    same = scores(0.88, 0.60)
    assert not decide(same, FALLBACK, same, 50_000, 2_000).promote
    assert decide(same, FALLBACK, same, 50_000, 2_000, same_recipe_as_current=True).promote


def test_too_little_data_is_not_promoted() -> None:
    d = decide(scores(0.95, 0.9), FALLBACK, None, 400, 12)
    assert not d.promote
    assert "too little data" in d.reasons[0]
    assert decide(
        scores(0.95, 0.9), FALLBACK, None, 400, 12, PromotionRule(min_rows=100, min_positives=10)
    ).promote


# ---------------------------------------------------------------- retraining end to end


def test_the_first_training_promotes_the_better_model_and_records_everything(
    trained_registry: tuple[Path, RetrainResult], training_dataset: Dataset
) -> None:
    root, result = trained_registry
    registry = Registry(root)
    assert result.version is not None and result.best is not None
    assert len(registry.versions()) == 2  # the fixture trained twice
    assert registry.history()[0] != result.version
    meta = registry.metadata(result.version)
    for key in (
        "version",
        "created_at",
        "libraries",
        "feature_names",
        "recipe",
        "artifact",
        "training",
        "backtest",
        "data",
        "metrics",
        "metrics_source",
        "fallback_metrics",
        "fallback_calibration",
        "decision",
        "artifact_sha256",
    ):
        assert key in meta, key
    assert meta["feature_names"] == list(FEATURE_NAMES)
    assert set(meta["libraries"]) >= {"python", "sklearn", "numpy"}
    assert meta["data"]["fingerprint"] == training_dataset.fingerprint
    assert "refit" in meta["artifact"] and "backtest" in meta["metrics_source"]
    backtest = meta["backtest"]
    assert backtest["scheme"] == "walk-forward" and backtest["folds"] >= 2
    assert len(backtest["candidate"]["origins"]) == backtest["folds"]
    assert backtest["candidate"]["reliability"]
    assert meta["metrics"] == backtest["candidate"]["pooled"]
    assert meta["training"]["rows"] > 1000 and meta["training"]["positives"] > 50
    # On our own simulator the model must beat the calibrated fallback by the margin.
    assert meta["metrics"]["roc_auc"] > meta["fallback_metrics"]["roc_auc"] + 0.005
    assert meta["fallback_calibration"]["rows"] > 300


def test_the_refit_sees_the_newest_labelled_rows_and_no_label_past_as_of(
    trained_registry: tuple[Path, RetrainResult], training_dataset: Dataset
) -> None:
    _, result = trained_registry
    assert result.model is not None
    labelled = training_dataset.as_of[training_dataset.labelled]
    window = result.model.window
    assert window.last_as_of == labelled.max()  # the newest labelled date is learned from
    assert window.rows == int(training_dataset.labelled.sum())  # and every labelled row
    # Every label it learned from had closed by the data's end (as-of minus a horizon).
    horizon = training_dataset.config.horizon_us
    assert window.last_as_of + horizon <= training_dataset.end
    # The backtest, by contrast, never trains on a label that had not closed at the origin.
    for fold in result.plan.folds:
        as_of = training_dataset.as_of[training_dataset.labelled]
        assert (as_of[fold.train] + horizon <= fold.origin).all()
        assert (as_of[fold.test] >= fold.origin).all()


def test_a_different_recipe_that_is_not_better_stays_a_candidate_and_says_why(
    registry_dir: Path, training_dataset: Dataset
) -> None:
    registry = Registry(registry_dir)
    before = registry.current()
    when = datetime(2030, 1, 1, tzinfo=UTC)
    weak = Recipe("gbm", params=(("max_iter", 3), ("max_leaf_nodes", 3)))
    result = retrain(training_dataset, registry, TrainingConfig(recipes=(weak,)), when)
    assert result.current is not None and result.current_version == before
    assert result.promoted is None
    assert registry.current() == before
    assert any("current model's recipe" in r for r in result.decision.reasons)
    assert result.version is not None and result.version.startswith("20300101T000000-")
    assert len(registry.versions()) == 3


def test_a_current_model_without_a_recipe_is_replaced_by_a_better_one(
    registry_dir: Path, training_dataset: Dataset
) -> None:
    registry = Registry(registry_dir)
    # A model that learned nothing (labels shuffled), made current by hand, its metadata
    # from before recipes existed.
    X, y = training_dataset.X, training_dataset.y.astype(int)
    noise = np.random.default_rng(0).permutation(y)
    ids = training_dataset.meta["customer_id"].to_numpy()
    bad = fit_model(Recipe("logistic"), X, noise, training_dataset.as_of, ids)
    meta = {"training": {"rows": len(y), "positives": int(noise.sum()), "horizon_days": 90}}
    bad_version = registry.save(bad, meta)
    registry.promote(bad_version)
    result = retrain(training_dataset, registry, TrainingConfig(recipes=(Recipe("logistic"),)))
    assert result.current_version == bad_version and result.current is None
    assert result.current_note is not None and "predates recipes" in result.current_note
    assert result.promoted is not None and registry.current() == result.promoted
    assert registry.history()[-2:] == [bad_version, result.promoted]


# ---------------------------------------------------------------- pointers


def test_promote_and_rollback(registry_dir: Path) -> None:
    registry = Registry(registry_dir)
    before = registry.history()  # the fixture's two trainings, each promoted
    first = registry.current()
    assert first is not None and before[-1] == first and len(before) == 2
    other = next(v for v in registry.versions() if v != first)
    registry.promote(other)
    assert registry.current() == other
    assert registry.history() == [*before, other]
    assert registry.rollback() == first
    assert registry.current() == first
    assert registry.rollback() == before[0]
    assert registry.rollback() is None  # back to the heuristic
    assert registry.current() is None
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback()
    with pytest.raises(RegistryError, match="no model version"):
        registry.promote("nope")


def test_models_command(registry_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = Registry(registry_dir)
    current = registry.current()
    assert current is not None
    # A version the gate refused: the current model again, its decision a refusal.
    meta = registry.metadata(current)
    meta["decision"] = {"promoted": False, "reasons": ["ROC AUC not above the fallback's"]}
    other = registry.save(registry.load(current), meta)
    assert main(["models", "list", "--model-dir", str(registry_dir)]) == 0
    out = capsys.readouterr().out
    assert current in out and other in out and "current" in out and "candidate" in out
    assert main(["models", "show", other, "--model-dir", str(registry_dir)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == other and shown["usable"] is True
    assert main(["models", "promote", other, "--model-dir", str(registry_dir)]) == 0
    assert "the gate had refused it" in capsys.readouterr().out
    assert registry.current() == other
    assert main(["models", "rollback", "--model-dir", str(registry_dir)]) == 0
    assert registry.current() == current
    assert main(["models", "promote", "missing", "--model-dir", str(registry_dir)]) == 2


def test_train_and_evaluate_commands(
    training_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models_dir = tmp_path / "models"
    common = ["--dead-letters", str(tmp_path / "dead.jsonl")]
    args = ["train", str(training_log), "--model-dir", str(models_dir), *common]
    # Only events up to the cut are used, and labels must be complete by then.
    code = main([*args, "--as-of", "2026-08-31", "--max-rows-per-as-of", "300"])
    assert code == 0
    out = capsys.readouterr().out
    assert "calibrated fallback" in out and "gbm" in out and "logistic" in out
    assert "backtest (walk-forward)" in out and "refit" in out
    registry = Registry(models_dir)
    assert len(registry.versions()) == 1
    meta = registry.metadata(registry.versions()[0])
    assert meta["data"]["labels_complete_to"].startswith("2026-08-31T23:59:59")
    assert meta["training"]["max_rows_per_as_of"] == 300
    assert "promoted" in out
    if registry.current() is None:  # kept as a candidate: the command said why
        assert "not promoted" in out
    version = registry.current() or registry.versions()[0]
    report = tmp_path / "report.html"
    code = main(
        [
            "evaluate",
            str(training_log),
            "--model-dir",
            str(models_dir),
            "--version",
            version,
            "--out",
            str(report),
            *common,
        ]
    )
    assert code == 0
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "roc_auc" in page and "capture_10" in page and "heuristic" in page
    # The full log runs past the cut, so the holdout now reaches the last as-of date whose
    # labels are complete in it, on the model's own snapshot grid.
    training = registry.metadata(version)["training"]
    events = read_events([training_log])
    config = DatasetConfig(
        cadence_days=training["cadence_days"], warmup_days=training["warmup_days"]
    )
    first = next(e.ts for e in events.events if touches_customer(e))
    last = snapshot_times(first, events.end, config)[-1]
    assert f"to {to_datetime(last):%Y-%m-%d}" in page
    assert (
        main(["evaluate", str(training_log), "--model-dir", str(tmp_path / "none"), *common]) == 2
    )
