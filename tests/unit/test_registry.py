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
from models.learned import fit_model
from models.promotion import Decision, PromotionRule, decide
from models.registry import Registry, RegistryError
from training.dataset import Dataset
from training.retrain import RetrainResult, TrainingConfig, retrain

HEURISTIC = {"roc_auc": 0.83, "capture_10": 0.55, "ece": 0.02}


def scores(auc: float, capture: float, ece: float = 0.005) -> dict[str, float]:
    return {"roc_auc": auc, "capture_10": capture, "ece": ece}


@pytest.fixture
def registry_dir(trained_registry: tuple[Path, RetrainResult], tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(trained_registry[0], root)
    return root


# ---------------------------------------------------------------- the gate


def test_a_better_model_is_promoted() -> None:
    d = decide(scores(0.90, 0.62), HEURISTIC, scores(0.88, 0.60), 50_000, 2_000)
    assert d == Decision(True, [])


@pytest.mark.parametrize(
    ("candidate", "current", "why"),
    [
        (scores(0.80, 0.60), None, "above the heuristic's"),  # worse than the rules
        (scores(0.833, 0.60), None, "above the heuristic's"),  # better, but within the margin
        (scores(0.90, 0.50), None, "capture at top 10%"),  # ranks the top tenth worse
        (scores(0.90, 0.62, ece=0.05), None, "calibration error"),
        (scores(0.90, 0.62), scores(0.91, 0.60), "the current model's"),  # worse than current
        (scores(0.90, 0.62), scores(0.897, 0.61), "the current model's"),  # within the margin
        (scores(0.90, 0.59), scores(0.85, 0.60), "below the current model's"),
    ],
)
def test_a_model_that_does_not_beat_both_by_the_margin_is_not_promoted(
    candidate: dict[str, float], current: dict[str, float] | None, why: str
) -> None:
    d = decide(candidate, HEURISTIC, current, 50_000, 2_000)
    assert not d.promote
    assert any(why in reason for reason in d.reasons), d.reasons


def test_too_little_data_is_not_promoted() -> None:
    d = decide(scores(0.95, 0.9), HEURISTIC, None, 400, 12)
    assert not d.promote
    assert "too little data" in d.reasons[0]
    assert decide(
        scores(0.95, 0.9), HEURISTIC, None, 400, 12, PromotionRule(min_rows=100, min_positives=10)
    ).promote


# ---------------------------------------------------------------- retraining end to end


def test_the_first_training_promotes_the_better_model_and_records_everything(
    trained_registry: tuple[Path, RetrainResult], training_dataset: Dataset
) -> None:
    root, result = trained_registry
    registry = Registry(root)
    assert result.promoted is not None and result.best is not None
    assert registry.current() == result.promoted == result.best.version
    assert len(registry.versions()) == 2  # both kinds kept
    meta = registry.metadata(result.promoted)
    for key in (
        "version",
        "created_at",
        "libraries",
        "feature_names",
        "training",
        "holdout",
        "data",
        "metrics",
        "heuristic_metrics",
        "decision",
        "artifact_sha256",
    ):
        assert key in meta, key
    assert meta["feature_names"] == list(FEATURE_NAMES)
    assert set(meta["libraries"]) >= {"python", "sklearn", "numpy"}
    assert meta["data"]["fingerprint"] == training_dataset.fingerprint
    assert meta["training"]["rows"] > 1000 and meta["training"]["positives"] > 50
    assert meta["metrics"]["roc_auc"] > meta["heuristic_metrics"]["roc_auc"] + 0.005
    assert meta["metrics"]["ece"] <= 0.02
    other = next(v for v in registry.versions() if v != result.promoted)
    assert not registry.metadata(other)["decision"]["promoted"]


def test_retraining_on_the_same_data_keeps_a_candidate_and_says_why(
    registry_dir: Path, training_dataset: Dataset
) -> None:
    registry = Registry(registry_dir)
    before = registry.current()
    when = datetime(2030, 1, 1, tzinfo=UTC)
    current_kind = registry.metadata(str(before))["kind"]
    # The same kind on the same data: the same model, so not better by the margin.
    result = retrain(training_dataset, registry, TrainingConfig(kinds=(current_kind,)), when)
    assert result.current is not None and result.current_version == before
    assert result.promoted is None
    assert registry.current() == before
    assert any("current model" in r for r in result.decision.reasons)
    assert result.best is not None and result.best.version is not None
    assert result.best.version.startswith("20300101T000000-")
    assert len(registry.versions()) == 3


def test_a_worse_current_model_is_replaced(registry_dir: Path, training_dataset: Dataset) -> None:
    registry = Registry(registry_dir)
    # A model that learned nothing (labels shuffled), made current by hand.
    X, y = training_dataset.X, training_dataset.y.astype(int)
    noise = np.random.default_rng(0).permutation(y)
    bad = fit_model("logistic", X, noise)
    meta = {"training": {"rows": len(y), "positives": int(noise.sum()), "horizon_days": 90}}
    bad_version = registry.save(bad, meta)
    registry.promote(bad_version)
    result = retrain(training_dataset, registry, TrainingConfig(kinds=("logistic",)))
    assert result.current_version == bad_version
    assert result.current is not None and result.current.roc_auc < 0.6
    assert result.promoted is not None and registry.current() == result.promoted
    assert registry.history()[-2:] == [bad_version, result.promoted]


# ---------------------------------------------------------------- pointers


def test_promote_and_rollback(registry_dir: Path) -> None:
    registry = Registry(registry_dir)
    first = registry.current()
    assert first is not None
    other = next(v for v in registry.versions() if v != first)
    registry.promote(other)
    assert registry.current() == other
    assert registry.history() == [first, other]
    assert registry.rollback() == first
    assert registry.current() == first
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
    other = next(v for v in registry.versions() if v != current)
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
    assert "heuristic" in out and "gbm" in out and "logistic" in out
    registry = Registry(models_dir)
    assert len(registry.versions()) == 2
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
    # labels are complete in it (the cut's data ended with as-of 2026-06-02).
    assert "to 2026-09-23" in page
    assert (
        main(["evaluate", str(training_log), "--model-dir", str(tmp_path / "none"), *common]) == 2
    )
