"""The model registry: every trained model kept, one of them current, and a scorer that
never fails to load.

Layout of a model directory:

    versions/<version>/model.joblib    the `TrainedModel` (joblib)
    versions/<version>/metadata.json   what it is and how good (see `Registry.save`)
    current                            the version that scores, one line (absent: none)
    history.json                       the versions that were current, oldest first
    fallback.json                      the heuristic's calibration map to the log's close
                                       rate (`models.calibration.Platt`), or why there is
                                       none; written by every `closecast train`
    drift.json                         the drift watch's checks, oldest first, append-only
                                       (`training/drift.py`)

A version is written to a temporary directory and renamed into place, and pointer files
are replaced atomically, so a crash never leaves a half-written current model.

`load_scorer` is what scoring calls. It returns a heuristic-only `Scorer` with a one-line
`fallback_note`, and logs that line once, whenever the current model cannot be trusted:
none registered, artifact missing, corrupt (checksum mismatch, truncated, unpicklable),
made by an incompatible scikit-learn (major.minor) or numpy (major), a feature list
other than `features.customer.FEATURE_NAMES`, or trained on too little data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from features.policy import DEFAULT, Policy
from models.promotion import MIN_TRAIN_POSITIVES, MIN_TRAIN_ROWS

if TYPE_CHECKING:
    from models.calibration import Platt
    from models.learned import TrainedModel
    from models.revenue import ValueForecast
    from models.scoring import Scorer

# scikit-learn, joblib, numpy and the features are imported where a model is saved, checked
# or loaded, so that listing the registry (`closecast models list`) starts fast.

log = logging.getLogger(__name__)

MODEL_FILE: Final = "model.joblib"
META_FILE: Final = "metadata.json"
CURRENT_FILE: Final = "current"
HISTORY_FILE: Final = "history.json"
FALLBACK_FILE: Final = "fallback.json"
DRIFT_FILE: Final = "drift.json"
VALUE_NAME: Final = "value.joblib"  # models.revenue.VALUE_FILE (not imported: it is heavy)


class RegistryError(Exception):
    """A model that cannot be used; the message is one line a user can act on."""


def library_versions() -> dict[str, str]:
    import joblib
    import numpy as np
    import sklearn

    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def incompatibility(libraries: dict[str, str]) -> str | None:
    """Why a model built with `libraries` cannot be trusted here, or None."""
    here = library_versions()
    made = libraries.get("sklearn", "?")
    if _major_minor(made) != _major_minor(here["sklearn"]):
        return f"made with scikit-learn {made}, this is {here['sklearn']}"
    made = libraries.get("numpy", "?")
    if made.split(".")[0] != here["numpy"].split(".")[0]:
        return f"made with numpy {made}, this is {here['numpy']}"
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"

    # ------------------------------------------------------------ saving

    def save(
        self,
        model: TrainedModel,
        metadata: dict[str, Any],
        created_at: datetime | None = None,
        value: ValueForecast | None = None,
    ) -> str:
        """Store `model` with `metadata` (plus what the registry adds); return its version.

        The registry adds: `version`, `kind`, `created_at` (UTC; the wall clock unless
        given: it is bookkeeping, not an input to any score), `libraries`,
        `feature_names` and `artifact_sha256`.
        """
        created = (created_at or datetime.now(UTC)).astimezone(UTC)
        tag = str(metadata.get("data", {}).get("fingerprint", "nodata"))[:8]
        base = f"{created:%Y%m%dT%H%M%S}-{model.kind}-{tag}"
        version, n = base, 1
        while (self.versions_dir / version).exists():
            n += 1
            version = f"{base}-{n}"
        model.version = version
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = self.versions_dir / f".staging-{version}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        import joblib

        joblib.dump(model, staging / MODEL_FILE)
        if value is not None:
            from models.revenue import save_value

            save_value(value, staging)
        meta = {
            **metadata,
            "version": version,
            "kind": model.kind,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "libraries": library_versions(),
            "feature_names": list(model.feature_names),
            "artifact_sha256": file_sha256(staging / MODEL_FILE),
            "value_sha256": file_sha256(staging / VALUE_NAME) if value is not None else None,
        }
        (staging / META_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        os.rename(staging, self.versions_dir / version)
        return version

    # ------------------------------------------------------------ reading

    def versions(self) -> list[str]:
        """Every stored version, oldest first (versions start with their creation time)."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.versions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def metadata(self, version: str) -> dict[str, Any]:
        path = self.versions_dir / version / META_FILE
        if not (self.versions_dir / version).is_dir():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(
                f"metadata of {version} unreadable ({exc.__class__.__name__})"
            ) from None
        if not isinstance(meta, dict):
            raise RegistryError(f"metadata of {version} is not a JSON object")
        return meta

    def check(self, version: str) -> dict[str, Any]:
        """The metadata, if the model's description allows serving it; else RegistryError."""
        from features.customer import FEATURE_NAMES

        meta = self.metadata(version)
        why = incompatibility(meta.get("libraries") or {})
        if why:
            raise RegistryError(f"incompatible library versions: {why}")
        if meta.get("feature_names") != list(FEATURE_NAMES):
            raise RegistryError("its feature list differs from this version's features")
        training = meta.get("training") or {}
        rows, closes = int(training.get("rows", 0)), int(training.get("positives", 0))
        if rows < MIN_TRAIN_ROWS or closes < MIN_TRAIN_POSITIVES:
            raise RegistryError(
                f"trained on too little data ({rows} rows, {closes} closes; "
                f"needs {MIN_TRAIN_ROWS} and {MIN_TRAIN_POSITIVES})"
            )
        return meta

    def load(self, version: str) -> TrainedModel:
        """The model, after every check in the module doc; RegistryError if unusable."""
        import joblib
        from sklearn.exceptions import InconsistentVersionWarning

        from features.customer import FEATURE_NAMES
        from models.learned import TrainedModel

        meta = self.check(version)
        path = self.versions_dir / version / MODEL_FILE
        if not path.is_file():
            raise RegistryError("artifact missing")
        if file_sha256(path) != meta.get("artifact_sha256"):
            raise RegistryError("artifact corrupt (checksum mismatch)")
        try:
            with warnings.catch_warnings():
                # An estimator pickled by another scikit-learn may load and then misbehave.
                warnings.simplefilter("error", InconsistentVersionWarning)
                model = joblib.load(path)
        except InconsistentVersionWarning as exc:
            raise RegistryError(f"incompatible library versions: {exc}".splitlines()[0]) from None
        except Exception as exc:  # any unpickling failure means the same: unusable
            raise RegistryError(f"artifact unreadable ({exc.__class__.__name__})") from None
        if not isinstance(model, TrainedModel):
            raise RegistryError("artifact is not a closecast model")
        if tuple(model.feature_names) != FEATURE_NAMES:
            raise RegistryError("its feature list differs from this version's features")
        model.version = version
        return model

    def load_value(self, version: str) -> ValueForecast | None:
        """The version's expected-revenue forecast; None (the scorer's documented
        fallback) when it has none, or the file does not match its checksum."""
        from models.revenue import load_value

        folder = self.versions_dir / version
        expected = self.metadata(version).get("value_sha256")
        path = folder / VALUE_NAME
        if expected is None or not path.is_file():
            return None
        if file_sha256(path) != expected:
            log.warning(
                "%s: value forecast corrupt (checksum mismatch): using the fallback", version
            )
            return None
        return load_value(folder)

    # ------------------------------------------------------------ the fallback

    def save_fallback(
        self, calibration: Platt | None, note: str | None, created_at: datetime | None = None
    ) -> None:
        """Store the heuristic's calibration map (None: not enough labels, and `note` why)."""
        created = (created_at or datetime.now(UTC)).astimezone(UTC)
        record = {
            "calibration": None if calibration is None else calibration.to_dict(),
            "note": note,
            "created_at": created.isoformat().replace("+00:00", "Z"),
        }
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.root / FALLBACK_FILE, json.dumps(record, indent=2) + "\n")

    def fallback(self) -> tuple[Platt | None, str]:
        """The heuristic's calibration map, or None and why it is uncalibrated."""
        path = self.root / FALLBACK_FILE
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, "heuristic not calibrated: no `closecast train` run in this folder"
        except (OSError, ValueError) as exc:
            return None, f"heuristic not calibrated: {path.name} unreadable ({exc})"
        try:
            data = record["calibration"]
            if data is None:
                return None, str(record.get("note") or "heuristic not calibrated")
            from models.calibration import Platt

            return Platt.from_dict(data), "heuristic calibrated on the log's labelled history"
        except (KeyError, TypeError, ValueError):
            return None, f"heuristic not calibrated: {path.name} malformed"

    # ------------------------------------------------------------ the drift history

    def drift_history(self) -> list[dict[str, Any]]:
        """Every drift check recorded, oldest first (none: an empty list)."""
        try:
            items = json.loads((self.root / DRIFT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    def record_drift(self, record: dict[str, Any]) -> None:
        """Append one check; earlier ones are never rewritten."""
        self.root.mkdir(parents=True, exist_ok=True)
        items = [*self.drift_history(), record]
        _write_atomic(self.root / DRIFT_FILE, json.dumps(items, indent=2) + "\n")

    # ------------------------------------------------------------ pointers

    def current(self) -> str | None:
        try:
            text = (self.root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None

    def history(self) -> list[str]:
        try:
            items = json.loads((self.root / HISTORY_FILE).read_text(encoding="utf-8"))
            history = [str(v) for v in items] if isinstance(items, list) else []
        except (OSError, ValueError):
            history = []
        current = self.current()
        if current is not None and (not history or history[-1] != current):
            history.append(current)  # a pointer set by hand still counts
        return history

    def _set(self, history: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.root / HISTORY_FILE, json.dumps(history) + "\n")
        if history:
            _write_atomic(self.root / CURRENT_FILE, history[-1] + "\n")
        else:
            (self.root / CURRENT_FILE).unlink(missing_ok=True)

    def promote(self, version: str) -> None:
        if version not in self.versions():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        history = self.history()
        if history and history[-1] == version and self.current() == version:
            return
        self._set([*history, version])

    def retire(self) -> None:
        """No model current (the heuristic scores); the history keeps who was."""
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.root / HISTORY_FILE, json.dumps(self.history()) + "\n")
        (self.root / CURRENT_FILE).unlink(missing_ok=True)

    def rollback(self) -> str | None:
        """Make the previous current model current again; return it (None: the heuristic)."""
        history = self.history()
        if not history:
            raise RegistryError("no model is current: nothing to roll back")
        history.pop()
        self._set(history)
        return history[-1] if history else None


def load_scorer(model_dir: Path | None, policy: Policy = DEFAULT) -> Scorer:
    """A scorer with the current model, or the heuristic alone (and one warning) if none
    can be trusted; never raises for a bad model directory. The heuristic (alone, or for
    rows the model declines) is calibrated with the folder's fallback map when it has one."""
    from models.scoring import Scorer

    calibration: Platt | None = None
    if model_dir is None:
        note = "no model directory given: using the heuristic (not calibrated)"
    else:
        registry = Registry(model_dir)
        calibration, calibrated = registry.fallback()
        version = registry.current()
        if version is None:
            note = f"no trained model is current in {model_dir}: using the heuristic ({calibrated})"
        else:
            try:
                model = registry.load(version)
                return Scorer(
                    model, policy, calibration=calibration, value=registry.load_value(version)
                )
            except RegistryError as exc:
                note = f"model {version} unusable ({exc}): using the heuristic ({calibrated})"
            except Exception as exc:  # a scorer must come back whatever the disk holds
                note = (
                    f"model {version} unusable ({exc.__class__.__name__}): using the heuristic "
                    f"({calibrated})"
                )
    log.warning(note)
    return Scorer(None, policy, fallback_note=note, calibration=calibration)
