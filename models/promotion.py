"""The promotion gate: when a newly trained model may replace what scores today.

Like with like. The candidate is compared, on the same walk-forward backtest
(`training/backtest.py`), with what would serve otherwise:

- **the calibrated fallback** (the four-principle scorecard mapped to the log's own close
  rate), always: the candidate's ROC AUC must be at least `min_auc_gain` above it, its
  calibration error (ECE) at most `ece_tolerance` above it, and its capture at the top
  tenth at most `max_capture_loss` below it;
- **the current model's recipe**, re-run on the same folds, when the registry has a
  current model of another recipe: the same three comparisons, with `churn_margin` of
  ROC AUC instead of `min_auc_gain`, so retraining on much the same data does not flip
  the model reps see between two recipes that are equally good. A candidate of the
  current model's own recipe is its refit on newer labels: it only has to beat the
  fallback.

Calibration is judged like ranking, against the other scorer: ECE at most
`ece_tolerance` above theirs (an ECE over a few thousand backtest rows moves by about
0.01 from noise alone), or at most `calibrated_enough`, where a probability is good
enough to allocate by whatever the other scores; and the Brier score (a proper score,
ranking and calibration together) not worse by more than `max_brier_loss`. There is no
bar of its own: an ECE of 0.028 against a fallback's 0.13 is a better model, and
refusing it would make the product serve the worse one. The data minimums stay
(`min_rows`, `min_positives`): `models.registry` refuses to serve a model below them,
however it became current.

Otherwise the candidate stays a candidate, and `Decision.reasons` says which comparison
failed, with both numbers.
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
    churn_margin: float = 0.005
    ece_tolerance: float = 0.01
    calibrated_enough: float = 0.03
    max_brier_loss: float = 0.01  # relative
    max_capture_loss: float = 0.01
    min_rows: int = MIN_TRAIN_ROWS
    min_positives: int = MIN_TRAIN_POSITIVES

    def describe(self) -> str:
        return (
            f"on the backtest: ROC AUC at least {self.min_auc_gain:+.3f} over the calibrated "
            f"fallback (and {self.churn_margin:+.3f} over the current model's recipe), ECE "
            f"at most {self.ece_tolerance:+.3f} above theirs (or at most "
            f"{self.calibrated_enough:.2f}), Brier not worse, capture at top 10% at most "
            f"{self.max_capture_loss:.2f} below theirs; at least {self.min_rows} training "
            f"rows and {self.min_positives} closes"
        )


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"promoted": self.promote, "reasons": list(self.reasons)}


Scores = Mapping[str, float | int]


def _value(scores: Scores, key: str) -> float:
    value = float(scores[key])
    return value if not math.isnan(value) else -math.inf


def comparison(
    name: str, candidate: Scores, other: Scores, margin: float, rule: PromotionRule
) -> list[str]:
    """Why `candidate` does not beat `other` (empty: it does)."""
    why = []
    auc, theirs = _value(candidate, "roc_auc"), _value(other, "roc_auc")
    if not auc >= theirs + margin:
        why.append(f"ROC AUC {auc:.4f} is not {margin:.3f} above {name}'s {theirs:.4f}")
    ece, their_ece = float(candidate["ece"]), float(other["ece"])
    if math.isnan(ece) or not ece <= max(their_ece + rule.ece_tolerance, rule.calibrated_enough):
        why.append(
            f"calibration error {ece:.4f} is more than {rule.ece_tolerance:.3f} above "
            f"{name}'s {their_ece:.4f} (and above {rule.calibrated_enough:.2f})"
        )
    if "brier" in candidate and "brier" in other:
        brier, their_brier = float(candidate["brier"]), float(other["brier"])
        if math.isnan(brier) or not brier <= their_brier * (1 + rule.max_brier_loss):
            why.append(f"Brier score {brier:.4f} is worse than {name}'s {their_brier:.4f}")
    cap, their_cap = _value(candidate, "capture_10"), _value(other, "capture_10")
    if not cap >= their_cap - rule.max_capture_loss:
        why.append(f"capture at top 10% {cap:.4f} is below {name}'s {their_cap:.4f}")
    return why


def decide(
    candidate: Scores,
    fallback: Scores,
    current: Scores | None,
    train_rows: int,
    train_positives: int,
    rule: PromotionRule = PromotionRule(),
    same_recipe_as_current: bool = False,
) -> Decision:
    """Whether `candidate` (backtest metrics) may become current, and if not, why not.

    `current` is the current model's recipe on the same backtest (None: no current
    model); `same_recipe_as_current` marks the candidate as its refit.
    """
    why = []
    if train_rows < rule.min_rows or train_positives < rule.min_positives:
        why.append(
            f"trained on too little data ({train_rows} rows, {train_positives} closes; "
            f"needs {rule.min_rows} and {rule.min_positives})"
        )
    why += comparison("the calibrated fallback", candidate, fallback, rule.min_auc_gain, rule)
    if current is not None and not same_recipe_as_current:
        why += comparison("the current model's recipe", candidate, current, rule.churn_margin, rule)
    return Decision(not why, why)
