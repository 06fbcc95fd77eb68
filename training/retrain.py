"""Retraining: fit every model kind on the training window, grade them on the holdout
beside the heuristic and the current model, register them all, promote the best only
through the gate (`models.promotion`).

What is graded is what would be served: the model where it accepts a row, the heuristic
where it declines (`served_probabilities`). The registered artifact is exactly the
graded one (no refit on the holdout afterwards), so every number in its metadata
describes the model that scores.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from features.policy import DEFAULT, Policy
from models.heuristic import HeuristicModel
from models.learned import KINDS, TrainedModel, fit_model
from models.promotion import Decision, PromotionRule, decide
from models.registry import Registry, RegistryError
from streams.core.contract import to_datetime, to_ts
from streams.core.state import DAY_US
from training.dataset import Dataset
from training.evaluate import Metrics, Split, metrics, time_split


@dataclass(frozen=True)
class TrainingConfig:
    test_share: float = 0.25
    kinds: tuple[str, ...] = KINDS
    rule: PromotionRule = field(default_factory=PromotionRule)


@dataclass
class Candidate:
    kind: str
    model: TrainedModel
    metrics: Metrics
    coverage: float  # share of holdout rows the model accepted
    fit_seconds: float
    version: str | None = None


@dataclass
class RetrainResult:
    split: Split
    heuristic: Metrics
    candidates: list[Candidate]
    failures: dict[str, str]  # kind -> why it could not be trained
    best: Candidate | None
    decision: Decision
    current_version: str | None  # current before this run
    current: Metrics | None  # the current model on the same holdout (if it loads)
    current_note: str | None  # why the current model was not compared, or a caveat
    promoted: str | None

    def table(self) -> list[dict[str, Any]]:
        """One row per scorer on the holdout (for printing and reports)."""
        rows = [{"scorer": "heuristic", **self.heuristic.to_dict()}]
        if self.current is not None:
            rows.append({"scorer": f"current {self.current_version}", **self.current.to_dict()})
        for c in self.candidates:
            rows.append(
                {
                    "scorer": f"{c.kind} {c.version or ''}".strip(),
                    **c.metrics.to_dict(),
                    "coverage": round(c.coverage, 4),
                }
            )
        return rows


def served_probabilities(
    model: TrainedModel, X: np.ndarray, policy: Policy = DEFAULT
) -> tuple[np.ndarray, np.ndarray]:
    """p_close as the scorer would serve it (model, or heuristic where it declines)."""
    accepted = model.accepts(X)
    p = HeuristicModel(policy).fit().predict_proba(X)[:, 1]
    if accepted.any():
        p[accepted] = model.predict_proba(X[accepted])[:, 1]
    return p, accepted


def _iso(ts: int) -> str:
    return to_datetime(ts).isoformat().replace("+00:00", "Z")


def _metadata(
    candidate: Candidate,
    dataset: Dataset,
    split: Split,
    train: np.ndarray,
    test: np.ndarray,
    result: RetrainResult,
    decision: Decision,
) -> dict[str, Any]:
    cfg = dataset.config
    y = dataset.y
    return {
        "params": {k: v for k, v in candidate.model.estimator.get_params().items()},
        "fit_seconds": round(candidate.fit_seconds, 2),
        "training": {
            "first_as_of": _iso(split.train_window[0]),
            "last_as_of": _iso(split.train_window[1]),
            "rows": int(train.sum()),
            "positives": int(y[train].sum()),
            "horizon_days": cfg.horizon_days,
            "cadence_days": cfg.cadence_days,
            "warmup_days": cfg.warmup_days,
            "max_rows_per_as_of": cfg.max_rows_per_as_of,
            "statuses": list(cfg.statuses),
        },
        "holdout": {
            "first_as_of": _iso(split.test_window[0]),
            "last_as_of": _iso(split.test_window[1]),
            "rows": int(test.sum()),
            "positives": int(y[test].sum()),
            "gap_days": split.gap_days,
        },
        "data": {
            "fingerprint": dataset.fingerprint,
            "events": dataset.events,
            "labels_complete_to": _iso(dataset.end),
        },
        "metrics": candidate.metrics.to_dict(),
        "coverage": round(candidate.coverage, 6),
        "heuristic_metrics": result.heuristic.to_dict(),
        "current_at_training": (
            None
            if result.current is None
            else {"version": result.current_version, "metrics": result.current.to_dict()}
        ),
        "decision": decision.to_dict(),
        # Flat copies for readers of plain JSON (the web app's analyst page).
        "training_window": {
            "first_as_of": _iso(split.train_window[0]),
            "last_as_of": _iso(split.train_window[1]),
        },
        "note": "; ".join(decision.reasons) if decision.reasons else "passed the promotion gate",
    }


def _load_current(
    registry: Registry | None, X: np.ndarray, y: np.ndarray, as_of: np.ndarray, first_test: int
) -> tuple[str | None, Metrics | None, str | None]:
    if registry is None:
        return None, None, None
    version = registry.current()
    if version is None:
        return None, None, None
    try:
        model = registry.load(version)
        meta = registry.metadata(version)
    except RegistryError as exc:
        return version, None, f"current model {version} not compared: {exc}"
    p, _ = served_probabilities(model, X)
    note = None
    last = meta.get("training", {}).get("last_as_of")
    horizon = meta.get("training", {}).get("horizon_days", 0)
    if last is not None and to_ts(datetime.fromisoformat(last)) + horizon * DAY_US > first_test:
        note = (
            f"current model {version} was trained on labels that reach into this holdout: "
            "its holdout numbers are optimistic"
        )
    return version, metrics(p, y, as_of), note


def retrain(
    dataset: Dataset,
    registry: Registry | None = None,
    config: TrainingConfig = TrainingConfig(),
    created_at: datetime | None = None,
    policy: Policy = DEFAULT,
    register: bool = True,
) -> RetrainResult:
    """Train, grade, register and (through the gate) promote; see the module doc.

    With `register=False` the registry is only read (its current model is graded beside
    the new ones) and nothing is saved or promoted: an analyst's dry run.
    """
    data = dataset.subset(dataset.labelled)
    X, y, as_of = data.X, data.y.astype(int), data.as_of
    split = time_split(as_of, data.config.horizon_days, config.test_share)
    train, test = split.train, split.test
    heuristic = metrics(
        HeuristicModel(policy).fit().predict_proba(X[test])[:, 1], y[test], as_of[test]
    )
    current_version, current, current_note = _load_current(
        registry, X[test], y[test], as_of[test], split.test_window[0]
    )
    candidates: list[Candidate] = []
    failures: dict[str, str] = {}
    for kind in config.kinds:
        started = time.perf_counter()
        try:
            model = fit_model(
                kind, X[train], y[train], as_of[train], horizon_days=data.config.horizon_days
            )
        except ValueError as exc:
            failures[kind] = str(exc)
            continue
        seconds = time.perf_counter() - started
        p, accepted = served_probabilities(model, X[test], policy)
        candidates.append(
            Candidate(kind, model, metrics(p, y[test], as_of[test]), accepted.mean(), seconds)
        )
    ranked = sorted(
        candidates,
        key=lambda c: (
            -(c.metrics.roc_auc if not math.isnan(c.metrics.roc_auc) else -1.0),
            -(c.metrics.capture_10 if not math.isnan(c.metrics.capture_10) else -1.0),
        ),
    )
    best = ranked[0] if ranked else None
    if best is None:
        decision = Decision(False, [f"no model could be trained: {failures}"])
    else:
        decision = decide(
            best.metrics.to_dict(),
            heuristic.to_dict(),
            current.to_dict() if current is not None else None,
            int(train.sum()),
            int(y[train].sum()),
            config.rule,
        )
    result = RetrainResult(
        split,
        heuristic,
        candidates,
        failures,
        best,
        decision,
        current_version,
        current,
        current_note,
        None,
    )
    for c in candidates:
        if c is best:
            mine = decision
        else:
            assert best is not None
            mine = Decision(
                False,
                [
                    f"{best.kind} did better on the holdout (ROC AUC {best.metrics.roc_auc:.4f} "
                    f"vs {c.metrics.roc_auc:.4f})"
                ],
            )
        if registry is not None and register:
            meta = _metadata(c, data, split, train, test, result, mine)
            c.version = registry.save(c.model, meta, created_at)
    if registry is not None and register and best is not None and decision.promote:
        assert best.version is not None
        registry.promote(best.version)
        result.promoted = best.version
    return result
