"""Scoring never fails: a model that cannot be trusted falls back to the heuristic, as a
whole (with one warning and a one-line note) or row by row (rows outside what it saw)."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from closecast.cli import main
from features.customer import INDEX
from models.registry import META_FILE, MODEL_FILE, Registry, file_sha256, load_scorer
from training.dataset import Dataset
from training.retrain import RetrainResult


@pytest.fixture
def registry_dir(trained_registry: tuple[Path, RetrainResult], tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(trained_registry[0], root)
    return root


def current_dir(root: Path) -> Path:
    version = Registry(root).current()
    assert version is not None
    return root / "versions" / version


def edit_metadata(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = current_dir(root) / META_FILE
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def reseal(root: Path) -> None:
    """Make the metadata's checksum match the artifact again (a corrupt file that looks
    intact), so the test reaches the unpickling step."""
    artifact = current_dir(root) / MODEL_FILE
    edit_metadata(root, lambda m: m.update(artifact_sha256=file_sha256(artifact)))


def delete(root: Path) -> None:
    (current_dir(root) / MODEL_FILE).unlink()


def truncate(root: Path) -> None:
    artifact = current_dir(root) / MODEL_FILE
    artifact.write_bytes(artifact.read_bytes()[:500])


def garbage(root: Path) -> None:
    artifact = current_dir(root) / MODEL_FILE
    artifact.write_bytes(b"\x80\x04not a pickle at all" * 10)
    reseal(root)


def not_a_model(root: Path) -> None:
    joblib.dump({"weights": [1, 2, 3]}, current_dir(root) / MODEL_FILE)
    reseal(root)


def old_sklearn(root: Path) -> None:
    edit_metadata(root, lambda m: m["libraries"].update(sklearn="0.24.2"))


def other_numpy(root: Path) -> None:
    edit_metadata(root, lambda m: m["libraries"].update(numpy="1.26.4"))


def other_features(root: Path) -> None:
    edit_metadata(root, lambda m: m.update(feature_names=m["feature_names"][:-1]))


def little_data(root: Path) -> None:
    edit_metadata(root, lambda m: m["training"].update(rows=300, positives=7))


def dangling_pointer(root: Path) -> None:
    (root / "current").write_text("20990101T000000-gbm-deadbeef\n")


def no_current(root: Path) -> None:
    (root / "current").unlink()


def unreadable_metadata(root: Path) -> None:
    (current_dir(root) / META_FILE).write_text("{ not json")


TRIGGERS = {
    "no model": (no_current, "no trained model is current"),
    "pointer to a missing version": (dangling_pointer, "no model version"),
    "artifact deleted": (delete, "artifact missing"),
    "artifact truncated": (truncate, "checksum mismatch"),
    "artifact corrupt": (garbage, "artifact unreadable"),
    "artifact not a model": (not_a_model, "not a closecast model"),
    "older scikit-learn": (old_sklearn, "scikit-learn 0.24.2"),
    "other numpy major": (other_numpy, "numpy 1.26.4"),
    "feature list differs": (other_features, "feature list differs"),
    "too little data": (little_data, "too little data"),
    "metadata unreadable": (unreadable_metadata, "metadata"),
}


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_an_untrustworthy_model_falls_back_to_the_heuristic_with_one_warning(
    trigger: str,
    registry_dir: Path,
    training_dataset: Dataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert load_scorer(registry_dir).model is not None  # it was fine before
    damage, why = TRIGGERS[trigger]
    damage(registry_dir)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        scorer = load_scorer(registry_dir)
        batch = scorer.score(training_dataset.X[:2000])
    assert scorer.model is None
    assert scorer.fallback_note is not None and why in scorer.fallback_note
    assert "\n" not in scorer.fallback_note
    assert set(batch.source) == {"heuristic"}
    assert np.isfinite(batch.p_close).all()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].getMessage() == scorer.fallback_note


def test_no_model_directory_at_all(tmp_path: Path) -> None:
    scorer = load_scorer(tmp_path / "never-created")
    assert scorer.model is None and scorer.fallback_note


def test_rows_outside_what_the_model_saw_get_the_heuristic(
    registry_dir: Path, training_dataset: Dataset, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        scorer = load_scorer(registry_dir)
        assert scorer.model is not None
        X = training_dataset.X[:1000].copy()
        X[0, INDEX["tier"]] = 9.0  # no such importance tier
        X[1, INDEX["rep_conversion_26w"]] = np.nan
        X[2, INDEX["visits"]] = np.inf
        X[3, INDEX["losses"]] = -3.0
        batch = scorer.score(X)
    assert batch.source[:4] == ["heuristic"] * 4
    assert set(batch.source[4:]) == {"model"}
    assert all(not any(r.endswith("(model)") for r in batch.reasons[i]) for i in range(4))
    assert not caplog.records  # declining rows is normal: no warning per customer


def test_score_command_with_a_corrupt_model_still_writes_every_row(
    registry_dir: Path,
    training_log: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    truncate(registry_dir)
    out = tmp_path / "scores.csv"
    code = main(
        [
            "score",
            str(training_log),
            "--as-of",
            "2026-06-30",
            "--model-dir",
            str(registry_dir),
            "--out",
            str(out),
            "--dead-letters",
            str(tmp_path / "dead.jsonl"),
        ]
    )
    assert code == 0
    assert "checksum mismatch" in capsys.readouterr().err
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 1000
    assert {r["source"] for r in rows} == {"heuristic"}
    for column in (
        "customer_id",
        "owner_rep_id",
        "p_close",
        "source",
        "expected_value",
        "predicted_value",
        "reasons",
    ):
        assert column in rows[0]


def _score(registry_dir: Path, training_log: Path, tmp_path: Path) -> list[dict[str, str]]:
    out = tmp_path / "scores.csv"
    args = ["score", str(training_log), "--as-of", "2026-06-30", "--model-dir", str(registry_dir)]
    assert main([*args, "--out", str(out), "--dead-letters", str(tmp_path / "d.jsonl")]) == 0
    with out.open() as handle:
        return list(csv.DictReader(handle))


def test_score_command_serves_the_current_model(
    registry_dir: Path, training_log: Path, tmp_path: Path
) -> None:
    rows = _score(registry_dir, training_log, tmp_path)
    sources = {r["source"] for r in rows}
    assert "model" in sources
    model_rows = [r for r in rows if r["source"] == "model"]
    assert any("(model)" in r["reasons"] for r in model_rows)
    # Training stored the expected-revenue forecast with the model: it is what is served.
    assert {r["revenue_basis"] for r in rows} == {"forecast"}
    for r in model_rows[:200]:
        assert float(r["predicted_value"]) == float(r["expected_revenue"])
        assert float(r["expected_revenue"]) >= 0.0


def test_without_a_stored_forecast_revenue_comes_from_the_fallback(
    registry_dir: Path, training_log: Path, tmp_path: Path
) -> None:
    registry = Registry(registry_dir)
    version = registry.current()
    assert version is not None
    (registry.versions_dir / version / "value.joblib").unlink()
    rows = _score(registry_dir, training_log, tmp_path)
    for r in [r for r in rows if r["source"] == "model"][:200]:
        # The fallback: p_close x orders if it orders x the expected order value, and
        # predicted_value is that expected revenue.
        assert r["revenue_basis"] == "fallback"
        assert float(r["predicted_value"]) == float(r["expected_revenue"])
        assert float(r["expected_orders"]) >= float(r["p_close"]) - 1e-6
        assert float(r["expected_revenue"]) == pytest.approx(
            float(r["expected_orders"]) * float(r["expected_value"]), abs=0.02
        )
