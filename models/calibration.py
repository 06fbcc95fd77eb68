"""Calibration maps: from a scorer's log-odds to the close rate a log actually shows.

A ranking can be right and its probabilities wrong: the heuristic said 1% where 10% of
customers closed on a log we did not write, and a booster trained on two years says the
two-year average rate after the rate has moved. Managers allocate by probability times
value, so every probability the product serves goes through a map fitted on labelled
rows of the log itself.

`Platt` is logistic regression on the score's log-odds (Platt scaling): two numbers,
monotone, so it never changes a ranking, and stable on a few hundred rows where an
isotonic map would follow noise. Fitted with scikit-learn's `LogisticRegression`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
from sklearn.linear_model import LogisticRegression

# Below this many labelled rows or closes a fitted map would be noise: the caller keeps
# the uncalibrated score and says so.
MIN_ROWS: Final = 300
MIN_POSITIVES: Final = 15
_CLIP: Final = 30.0  # log-odds beyond +-30 are 0 or 1 in float64 anyway


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1.0 - 1e-12)
    return np.log(p / (1.0 - p))


def expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -_CLIP, _CLIP)))


@dataclass(frozen=True)
class Platt:
    """p = expit(slope * score_logit + intercept), and what it was fitted on."""

    slope: float
    intercept: float
    rows: int
    positives: int

    def __call__(self, score_logit: np.ndarray) -> np.ndarray:
        return expit(self.slope * np.asarray(score_logit, dtype=float) + self.intercept)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Platt:
        return cls(
            float(data["slope"]),
            float(data["intercept"]),
            int(data["rows"]),
            int(data["positives"]),
        )


class TooFewLabels(ValueError):
    """Not enough labelled rows or closes to fit a calibration map."""


def fit_platt(score_logit: np.ndarray, y: np.ndarray) -> Platt:
    """Fit the map on `(score_logit, y)`; TooFewLabels below `MIN_ROWS`/`MIN_POSITIVES`."""
    z = np.clip(np.asarray(score_logit, dtype=float), -_CLIP, _CLIP)
    y = np.asarray(y, dtype=int)
    positives = int(y.sum())
    if len(y) < MIN_ROWS or positives < MIN_POSITIVES or positives == len(y):
        raise TooFewLabels(
            f"{len(y)} labelled rows and {positives} closes (needs {MIN_ROWS} and {MIN_POSITIVES})"
        )
    # Nearly unpenalised: two parameters on hundreds of rows need no shrinkage, and a
    # penalty would pull the slope towards 0 (every customer the base rate).
    fit = LogisticRegression(C=1e4, max_iter=1000).fit(z[:, None], y)
    return Platt(float(fit.coef_[0, 0]), float(fit.intercept_[0]), len(y), positives)
