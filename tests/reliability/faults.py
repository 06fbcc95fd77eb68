"""Breaking a model registry the ways a disk or a careless deploy does, and mending it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import sklearn.base

from models.registry import META_FILE, MODEL_FILE, Registry, file_sha256


def copy_registry(source: Path, target: Path) -> Registry:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return Registry(target)


def current_artifact(registry: Registry) -> Path:
    version = registry.current()
    assert version is not None, f"no current model in {registry.root}"
    return registry.versions_dir / version / MODEL_FILE


def break_model(registry: Registry, fault: str) -> None:
    """Apply `fault` to the current model's artifact, in place."""
    artifact = current_artifact(registry)
    if fault == "deleted":
        artifact.unlink()
    elif fault == "truncated":
        data = artifact.read_bytes()
        artifact.write_bytes(data[: len(data) // 2])
    elif fault == "other-library":
        _swap_for_other_library(artifact)
    elif fault == "other-library-metadata":
        meta_path = artifact.parent / META_FILE
        meta = json.loads(meta_path.read_text())
        meta["libraries"] = {**meta.get("libraries", {}), "sklearn": "0.24.2"}
        meta_path.write_text(json.dumps(meta))
    else:
        raise ValueError(f"unknown model fault {fault!r}")


def _swap_for_other_library(artifact: Path) -> None:
    """The artifact replaced by the same model pickled by "scikit-learn 1.0.2", with the
    metadata's checksum updated to match: only unpickling can tell.

    scikit-learn stamps each estimator's pickle with `sklearn.base.__version__` and warns
    (`InconsistentVersionWarning`) when another version loads it.
    """
    model = joblib.load(artifact)
    real = sklearn.base.__version__
    sklearn.base.__version__ = "1.0.2"
    try:
        joblib.dump(model, artifact)
    finally:
        sklearn.base.__version__ = real
    meta_path = artifact.parent / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["artifact_sha256"] = file_sha256(artifact)
    meta_path.write_text(json.dumps(meta))


def mend(registry: Registry, good: Path) -> None:
    """Put the good registry's files back (the current version's folder, whole)."""
    version = registry.current()
    assert version is not None
    target = registry.versions_dir / version
    shutil.rmtree(target)
    shutil.copytree(good / "versions" / version, target)
