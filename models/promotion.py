"""The promotion gate: when a newly trained model may replace what scores today.

A candidate becomes current only when, on the same time-ordered holdout rows, it

- beats the heuristic's ROC AUC by `min_auc_gain` and catches at least as many closes in
  each day's top tenth (`capture_10`, less `max_capture_loss`);
- beats the current model (if one loads) the same way, so retraining on much the same
  data does not churn the model reps see;
- is calibrated: expected calibration error at most `max_ece`, because managers
  allocate by `p_close x expected value` and a miscalibrated p misprices every customer;
- was trained on enough data (`min_rows`, `min_positives`); `models.registry` refuses to
  serve a model below these too, however it became current.

Otherwise it stays a candidate, and `Decision.reasons` says which condition failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

MIN_TRAIN_ROWS: Final = 1000
MIN_TRAIN_POSITIVES: Final = 50


@dataclass(frozen=True)
class PromotionRule:
    min_auc_gain: float = 0.005
    max_capture_loss: float = 0.0
    max_ece: float = 0.02
    min_rows: int = MIN_TRAIN_ROWS
    min_positives: int = MIN_TRAIN_POSITIVES

    def describe(self) -> str:
        return (
            f"ROC AUC at least {self.min_auc_gain:+.3f} over the heuristic and the current "
            f"model, capture at top 10% not worse, ECE at most {self.max_ece:.3f}, "
            f"at least {self.min_rows} training rows and {self.min_positives} closes"
        )


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"promoted": self.promote, "reasons": list(self.reasons)}


Scores = Mapping[str, float | int]


def _beats(name: str, candidate: Scores, other: Scores, rule: PromotionRule) -> list[str]:
    why = []
    auc, their_auc = float(candidate["roc_auc"]), float(other["roc_auc"])
    if math.isnan(auc) or not auc >= their_auc + rule.min_auc_gain:
        why.append(
            f"ROC AUC {auc:.4f} is not {rule.min_auc_gain:.3f} above {name}'s {their_auc:.4f}"
        )
    cap, their_cap = float(candidate["capture_10"]), float(other["capture_10"])
    if math.isnan(cap) or not cap >= their_cap - rule.max_capture_loss:
        why.append(f"capture at top 10% {cap:.4f} is below {name}'s {their_cap:.4f}")
    return why


def decide(
    candidate: Scores,
    heuristic: Scores,
    current: Scores | None,
    train_rows: int,
    train_positives: int,
    rule: PromotionRule = PromotionRule(),
) -> Decision:
    """Whether `candidate` (holdout metrics) may become current, and if not, why not."""
    why = []
    if train_rows < rule.min_rows or train_positives < rule.min_positives:
        why.append(
            f"trained on too little data ({train_rows} rows, {train_positives} closes; "
            f"needs {rule.min_rows} and {rule.min_positives})"
        )
    why += _beats("the heuristic", candidate, heuristic, rule)
    if current is not None:
        why += _beats("the current model", candidate, current, rule)
    ece = float(candidate["ece"])
    if math.isnan(ece) or not ece <= rule.max_ece:
        why.append(f"calibration error {ece:.4f} is above {rule.max_ece:.3f}")
    return Decision(not why, why)
