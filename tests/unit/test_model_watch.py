"""A long-running scorer follows the model registry: faults fall back to the heuristic,
a good model brings the model back, promotions and rollbacks are picked up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.registry import Registry
from models.watch import ModelWatch
from tests.reliability.faults import break_model, copy_registry, mend
from training.retrain import RetrainResult

FAULTS = ("deleted", "truncated", "other-library", "other-library-metadata")


def reload(watch: ModelWatch) -> bool:
    fresh, fingerprint = watch.load()
    return watch.adopt(fresh, fingerprint)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_under_a_running_scorer_falls_back_and_a_good_model_comes_back(
    trained_registry: tuple[Path, RetrainResult], tmp_path: Path, fault: str
) -> None:
    good = trained_registry[0]
    registry = copy_registry(good, tmp_path / "models")
    watch = ModelWatch(registry.root)
    scorer = watch.scorer  # what the worker's scorer and views hold
    assert scorer.name.startswith("model ") and not watch.stale()

    break_model(registry, fault)
    assert watch.stale()
    assert reload(watch) is True
    assert watch.scorer is scorer and scorer.name == "heuristic"
    assert scorer.fallback_note is not None and "unusable" in scorer.fallback_note
    assert not watch.stale()

    mend(registry, good)
    assert watch.stale()
    assert reload(watch) is True
    assert scorer.name == f"model {registry.current()}" and scorer.fallback_note is None


def test_promotion_and_rollback_are_picked_up(
    trained_registry: tuple[Path, RetrainResult], tmp_path: Path
) -> None:
    registry = copy_registry(trained_registry[0], tmp_path / "models")
    first = registry.current()
    assert first is not None
    # A second version: the same files under another name, then promoted.
    second = f"{first}-b"
    shutil.copytree(registry.versions_dir / first, registry.versions_dir / second)
    watch = ModelWatch(registry.root)
    registry.promote(second)
    assert watch.stale() and reload(watch)
    assert watch.scorer.name == f"model {second}"
    assert registry.rollback() == first
    assert watch.stale() and reload(watch)
    assert watch.scorer.name == f"model {first}"


def test_an_unchanged_registry_is_never_loaded_again(
    trained_registry: tuple[Path, RetrainResult], tmp_path: Path
) -> None:
    registry = copy_registry(trained_registry[0], tmp_path / "models")
    watch = ModelWatch(registry.root)
    for _ in range(3):
        assert not watch.stale()
    # Loaded again anyway (same files): what scores does not change.
    assert reload(watch) is False


def test_without_a_model_directory_the_heuristic_scores_for_good(tmp_path: Path) -> None:
    watch = ModelWatch(None)
    assert watch.scorer.name == "heuristic" and not watch.stale()
    empty = ModelWatch(tmp_path / "nothing-here")
    assert empty.scorer.name == "heuristic" and not empty.stale()
    Registry(tmp_path / "nothing-here").versions_dir.mkdir(parents=True)
    assert not empty.stale()  # a folder appears, still no current model
