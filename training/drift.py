"""The drift watch: how the served model does on labels that completed after it was fit.

A model is graded once, on its backtest. Then the world moves: the close rate jumps, a
campaign brings other leads. Every labelled row of the log whose as-of date lies after
the model's last training date is an outcome the model never saw; once such rows exist
(a horizon has completed since training), `watch` scores them as served and keeps the
result in the registry's drift history (`drift.json`, append-only). When calibration or
ranking has decayed beyond the `DriftRule` against the model's own backtest:

- **recalibrate**: the same scorer gets a new calibration map fitted on those new rows
  (its ranking is kept, its probabilities follow the new close rate); the recalibrated
  copy is registered and made current, its metadata saying from what and why;
- **or hand over to the fallback** when the ranking itself broke (ROC AUC fell by more
  than `max_auc_drop` and the calibrated fallback ranks the new rows better): the
  current pointer is rolled back to the heuristic, with the reason in the history.

The fallback's own map is refitted on the newest labels at every watch as well. Every
outcome is a record in the history, which `closecast models show`, the analyst page and
the worker's log (when the current version changes) report.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from features.policy import DEFAULT, Policy
from models.calibration import Platt, TooFewLabels, fit_platt
from models.heuristic import HeuristicModel
from models.registry import Registry, RegistryError
from models.scoring import Scorer
from streams.core.contract import to_ts
from training.backtest import iso
from training.dataset import DatasetConfig, build_dataset, read_events
from training.evaluate import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftRule:
    """How far the served model may fall behind its own backtest before it is fixed."""

    max_ece_rise: float = 0.03
    max_auc_drop: float = 0.05
    min_rows: int = 300
    min_positives: int = 15

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DriftRule:
        """`CLOSECAST_DRIFT_MAX_ECE_RISE`, `CLOSECAST_DRIFT_MAX_AUC_DROP` override."""
        env = os.environ if environ is None else environ
        base = cls()
        try:
            return cls(
                float(env.get("CLOSECAST_DRIFT_MAX_ECE_RISE", base.max_ece_rise)),
                float(env.get("CLOSECAST_DRIFT_MAX_AUC_DROP", base.max_auc_drop)),
            )
        except ValueError as exc:
            raise ValueError(f"CLOSECAST_DRIFT_*: not a number ({exc})") from None


@dataclass(frozen=True)
class DriftRecord:
    version: str
    checked_at: str  # the log's end when checked (labels complete up to here)
    first_as_of: str
    last_as_of: str
    rows: int
    positives: int
    base_rate: float
    mean_p: float
    roc_auc: float
    ece: float
    backtest_roc_auc: float
    backtest_ece: float
    action: str  # "none" | "recalibrated" | "fallback" | "too few labels"
    note: str
    new_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def history(registry: Registry) -> list[dict[str, Any]]:
    return registry.drift_history()


def _append(registry: Registry, record: DriftRecord) -> None:
    registry.record_drift(record.to_dict())


def _ts(text: str) -> int:
    return to_ts(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _metric(p: np.ndarray, y: np.ndarray, as_of: np.ndarray) -> tuple[float, float]:
    m = metrics(p, y, as_of)
    return m.roc_auc, m.ece


def watch(
    X: np.ndarray,
    y: np.ndarray,
    as_of: np.ndarray,
    end: int,
    registry: Registry,
    policy: Policy = DEFAULT,
    rule: DriftRule = DriftRule(),
    created_at: datetime | None = None,
) -> DriftRecord | None:
    """Check the current model on labelled rows (`X`, `y`, `as_of`; labels complete to
    `end`) after its training window, record it, and fix decay (module doc). None when
    there is no current model or no new complete horizon since the last check."""
    version = registry.current()
    if version is None:
        return None
    try:
        model = registry.load(version)
        meta = registry.metadata(version)
    except RegistryError as exc:
        log.warning("drift watch: current model %s unusable (%s)", version, exc)
        return None
    training = meta.get("training") or {}
    if "last_as_of" not in training:
        return None
    # Rows the model never learned from, and not yet judged for this version.
    since = _ts(str(training["last_as_of"]))
    for earlier in history(registry):
        judged = earlier.get("version") == version and earlier.get("action") != "too few labels"
        # A recalibrated copy was fitted on the rows that judged its original.
        if judged or earlier.get("new_version") == version:
            since = max(since, _ts(str(earlier["last_as_of"])))
    new = as_of > since
    if not new.any():
        return None
    Xn, yn, an = X[new], y[new].astype(int), as_of[new]
    calibration, _ = registry.fallback()
    scorer = Scorer(model, policy, calibration=calibration)
    p, _ = scorer.probabilities(Xn)
    auc, ece = _metric(p, yn, an)
    backtest = meta.get("metrics") or {}
    b_auc, b_ece = float(backtest.get("roc_auc", math.nan)), float(backtest.get("ece", math.nan))
    base: dict[str, Any] = {
        "version": version,
        "checked_at": iso(end),
        "first_as_of": iso(int(an.min())),
        "last_as_of": iso(int(an.max())),
        "rows": len(yn),
        "positives": int(yn.sum()),
        "base_rate": float(yn.mean()),
        "mean_p": float(p.mean()),
        "roc_auc": auc,
        "ece": ece,
        "backtest_roc_auc": b_auc,
        "backtest_ece": b_ece,
    }
    if len(yn) < rule.min_rows or yn.sum() < rule.min_positives:
        record = DriftRecord(
            **base,
            action="too few labels",
            note=f"{len(yn)} new labelled rows, {int(yn.sum())} closes: not judged yet",
        )
        _append(registry, record)
        return record
    # The fallback's map follows the newest labels whatever the model does.
    heuristic = HeuristicModel(policy).fit()
    fallback_map: Platt | None
    try:
        fallback_map = fit_platt(heuristic.raw_decision(Xn), yn)
        registry.save_fallback(fallback_map, None, created_at)
    except TooFewLabels:
        fallback_map = calibration
    calibration_decayed = not ece <= b_ece + rule.max_ece_rise
    ranking_decayed = not auc >= b_auc - rule.max_auc_drop
    if not (calibration_decayed or ranking_decayed):
        record = DriftRecord(
            **base,
            action="none",
            note=f"within the rule (ECE {ece:.4f} vs backtest {b_ece:.4f}, ROC AUC {auc:.4f} "
            f"vs {b_auc:.4f})",
        )
        _append(registry, record)
        return record
    why = (
        f"ECE {ece:.4f} is more than {rule.max_ece_rise:.2f} above the backtest's {b_ece:.4f}"
        if calibration_decayed
        else f"ROC AUC {auc:.4f} fell more than {rule.max_auc_drop:.2f} below {b_auc:.4f}"
    )
    fallback_p = HeuristicModel(policy, fallback_map).fit().predict_proba(Xn)[:, 1]
    fallback_auc, _ = _metric(fallback_p, yn, an)
    if ranking_decayed and fallback_auc > auc:
        registry.retire()
        record = DriftRecord(
            **base,
            action="fallback",
            note=f"{why}; the calibrated fallback ranks the new rows better ({fallback_auc:.4f}):"
            " it serves until the next training",
        )
        _append(registry, record)
        log.warning("drift watch: model %s handed over to the fallback: %s", version, why)
        return record
    remap = fit_platt(model.raw_decision(Xn), yn)
    recalibrated = model.recalibrated(remap)
    when = (created_at or datetime.now(UTC)).astimezone(UTC)
    new_meta = {
        **{k: v for k, v in meta.items() if k not in ("version", "created_at", "artifact_sha256")},
        "recalibrated_from": version,
        "recalibrated_on": {"first_as_of": base["first_as_of"], "last_as_of": base["last_as_of"]},
        "artifact": (
            f"{meta.get('artifact', 'model')}; recalibrated on {len(yn)} rows labelled after "
            f"training ({base['first_as_of']} to {base['last_as_of']}) because {why}"
        ),
        "note": f"recalibrated from {version} on {when:%Y-%m-%d}: {why}",
    }
    # The scorer is unchanged and still learned only from its training window: the drift
    # check must keep measuring from there, so training.last_as_of stays.
    new_version = registry.save(recalibrated, new_meta, created_at)
    registry.promote(new_version)
    record = DriftRecord(
        **base,
        action="recalibrated",
        note=f"{why}: recalibrated on the new rows",
        new_version=new_version,
    )
    _append(registry, record)
    log.warning("drift watch: %s recalibrated as %s: %s", version, new_version, why)
    return record


def watch_log(
    paths: list[Path],
    registry: Registry,
    as_of: int | None = None,
    policy: Policy = DEFAULT,
    rule: DriftRule | None = None,
    dead_letters: Path | None = None,
) -> DriftRecord | None:
    """`watch` on a log's labelled snapshots, on the current model's own snapshot grid."""
    version = registry.current()
    if version is None:
        return None
    try:
        training = registry.metadata(version).get("training") or {}
    except RegistryError:
        return None
    config = DatasetConfig(
        horizon_days=int(training.get("horizon_days", policy.horizon_days)),
        cadence_days=training.get("cadence_days"),
        warmup_days=training.get("warmup_days"),
        max_rows_per_as_of=training.get("max_rows_per_as_of", DatasetConfig().max_rows_per_as_of),
    )
    dataset = build_dataset(read_events(paths, as_of, dead_letters), config, policy)
    data = dataset.subset(dataset.labelled)
    return watch(
        data.X, data.y, data.as_of, dataset.end, registry, policy, rule or DriftRule.from_env()
    )
