"""Trained close-probability models, and the wrapper that lets the scorer serve them.

Two estimators, both following scikit-learn's estimator contract (`__init__` only stores
hyperparameters, `fit` returns self, learned attributes end in `_`, `predict_proba`
columns follow `classes_`, randomness through `random_state`):

- `CalibratedGBM`: a `HistGradientBoostingClassifier` inside a `CalibratedClassifierCV`.
  The booster that scores is fit on every training row; the calibration map (sigmoid by
  default) is fit on out-of-fold predictions from *purged, blocked* folds: the as-of
  times are cut into contiguous blocks, and each block is predicted by a booster trained
  only on rows at least one horizon away from it on both sides, so no fold's training
  labels look into the block it calibrates on. (A calibration slice held out at the end
  would respect time more strictly, but the booster would then never learn from the
  newest months; on the simulated 20,000-customer log that cost 0.015 ROC AUC.)
- `RegularisedLogistic`: `StandardScaler` + L2 `LogisticRegression`.

`TrainedModel` wraps either one for `models.scoring.Scorer` (the `LearnedModel`
protocol): `version`, `predict_proba`, `accepts` (rows inside what the model saw), and
`terms` (per-row additive contributions, worded by `models.wording`).

Contributions, and why they are cheap enough for a million customers:
- logistic: exact, `coef * (x - training mean) / training std` on the log-odds;
- booster: first-order partial dependence. At fit time, for each feature, the booster's
  mean log-odds over a reference sample of training rows is tabulated on a grid of that
  feature's values; a customer's contribution is the table at its value minus the table
  at the training median. It is the "set this feature to a typical value" attribution
  with the other features averaged over customers rather than held at this customer's,
  so interactions are left out, and it costs one interpolation per feature instead of a
  model evaluation per feature (exact per-tree attribution measured ~10x slower).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from features.customer import FEATURE_NAMES, INDEX
from models.reasons import Term
from models.wording import topic_terms
from streams.core.state import DAY_US

KINDS: Final = ("gbm", "logistic")
# Rows with a feature beyond the training range by more than this share of the range are
# declined (the heuristic scores them): the model never saw anything like them. Half the
# range: counts grow as the book ages (a rep's weekly contacts grow with their book), and
# a quarter declined 12% of a small log's holdout, while a garbage value (ten times the
# largest seen) or a feature that never varied in training (a first complaint) is caught.
RANGE_MARGIN: Final = 0.5
# Durations that grow with the calendar. Their training maximum is the length of the
# training log, not a property of customers: a model trained on one year has never seen
# a 400-day-old lead, and declining every such row would hand a growing share of the book
# to the heuristic until the next retrain (38% of the holdout on the simulated 20,000-
# customer log). The feature code caps them, so they are only bounded below; above the
# training maximum the booster is flat by construction and the logistic model's inputs
# are clipped to the training range so it is flat there too.
AGES: Final = (
    "days_since_contact",
    "overdue_ratio",  # days since contact / recommended gap
    "relationship_days",
    "days_since_portrait",
    "need_age_days",
    "days_since_quote",
    "days_since_loss",
    "days_since_order",
    "lead_age_days",
    "days_since_complaint",
    "rep_tenure_days",
)
_GRID: Final = 32  # partial-dependence grid points per feature
_REFERENCE_ROWS: Final = 400


def purged_folds(as_of: np.ndarray, folds: int, gap: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Blocked folds over the as-of times; each training part keeps `gap` away from its block.

    The test parts partition the rows (as `CalibratedClassifierCV(ensemble=False)` needs).
    """
    times = np.unique(as_of)
    if len(times) < folds:
        raise ValueError(f"need at least {folds} as-of times for calibration, got {len(times)}")
    out = []
    for block in np.array_split(times, folds):
        start, end = block[0], block[-1]
        test = np.flatnonzero((as_of >= start) & (as_of <= end))
        train = np.flatnonzero((as_of < start - gap) | (as_of > end + gap))
        out.append((train, test))
    return out


class CalibratedGBM(ClassifierMixin, BaseEstimator):
    """Gradient boosting, calibrated on purged time-blocked folds (see module doc)."""

    def __init__(
        self,
        learning_rate: float = 0.25,
        max_iter: int = 80,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 200,
        l2_regularization: float = 1.0,
        method: str = "sigmoid",
        folds: int = 4,
        gap_days: int = 90,
        random_state: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.method = method
        self.folds = folds
        self.gap_days = gap_days
        self.random_state = random_state

    def _booster(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            # A fixed number of rounds: early stopping would hold out a random (not
            # time-ordered) slice and make the fit depend on it.
            early_stopping=False,
            random_state=self.random_state,
        )

    def fit(self, X: Any, y: Any, as_of: np.ndarray | None = None) -> CalibratedGBM:
        """Fit; `as_of` (epoch µs per row) makes the calibration folds time-blocked.

        Without it the rows are taken to be in time order, cut into blocks, unpurged.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError("training data must hold both outcomes (0 and 1)")
        stamps = np.arange(len(y)) if as_of is None else np.asarray(as_of)
        gap = 0 if as_of is None else self.gap_days * DAY_US
        cv = purged_folds(stamps, self.folds, gap)
        for train, _ in cv:
            if len(np.unique(y[train])) < 2:
                raise ValueError("training window too short for purged calibration folds")
        self.calibrated_ = CalibratedClassifierCV(
            self._booster(), method=self.method, cv=cv, ensemble=False
        ).fit(X, y)
        self.booster_ = self.calibrated_.calibrated_classifiers_[0].estimator
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The booster's log-odds, before calibration (what contributions explain)."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.decision_function(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "calibrated_")
        return np.asarray(self.calibrated_.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)])


class RegularisedLogistic(ClassifierMixin, BaseEstimator):
    """Standardised features, L2-penalised logistic regression."""

    def __init__(self, C: float = 0.1, max_iter: int = 2000) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, as_of: np.ndarray | None = None) -> RegularisedLogistic:
        """Fit; `as_of` is accepted (and unused) so both models train the same way."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError("training data must hold both outcomes (0 and 1)")
        self.pipeline_: Pipeline = make_pipeline(
            StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter)
        ).fit(X, y)
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return np.asarray(self.pipeline_.decision_function(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return np.asarray(self.pipeline_.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)])


def make_estimator(kind: str, horizon_days: int = 90, **params: Any) -> Any:
    if kind == "gbm":
        return CalibratedGBM(gap_days=horizon_days, **params)
    if kind == "logistic":
        return RegularisedLogistic(**params)
    raise ValueError(f"unknown model kind {kind!r} (known: {', '.join(KINDS)})")


# ---------------------------------------------------------------- contributions


@dataclass(frozen=True)
class LinearContributions:
    """coef * standardized deviation from the training mean, per feature."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray

    def __call__(self, X: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for j, name in enumerate(FEATURE_NAMES):
            if self.coef[j] != 0.0:
                out[name] = (X[:, j] - self.mean[j]) * (self.coef[j] / self.scale[j])
        return out


@dataclass(frozen=True)
class DependenceContributions:
    """First-order partial dependence relative to the training median (module doc)."""

    features: tuple[int, ...]
    grids: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    baseline: tuple[float, ...]

    def __call__(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return {
            FEATURE_NAMES[j]: np.interp(X[:, j], grid, values) - base
            for j, grid, values, base in zip(
                self.features, self.grids, self.values, self.baseline, strict=True
            )
        }


def linear_contributions(model: RegularisedLogistic) -> LinearContributions:
    scaler: StandardScaler = model.pipeline_[0]
    regression: LogisticRegression = model.pipeline_[-1]
    return LinearContributions(
        np.asarray(scaler.mean_), np.asarray(scaler.scale_), regression.coef_[0].copy()
    )


def dependence_contributions(
    model: CalibratedGBM, X: np.ndarray, random_state: int = 0, min_span: float = 0.01
) -> DependenceContributions:
    """Tabulate each feature's partial dependence on a reference sample of `X`."""
    rng = np.random.default_rng(random_state)
    take = min(_REFERENCE_ROWS, X.shape[0])
    reference = X[rng.choice(X.shape[0], size=take, replace=False)]
    features, grids, tables, baselines = [], [], [], []
    for j in range(X.shape[1]):
        column = X[:, j]
        grid = np.unique(column)
        if grid.size > _GRID:
            grid = np.unique(np.quantile(column, np.linspace(0.0, 1.0, _GRID)))
        if grid.size < 2:
            continue  # constant in training: the model cannot have used it
        batch = np.repeat(reference[None, :, :], grid.size, axis=0)
        batch[:, :, j] = grid[:, None]
        logits = model.decision_function(batch.reshape(-1, X.shape[1]))
        table = logits.reshape(grid.size, take).mean(axis=1)
        if np.ptp(table) < min_span:
            continue  # never changes a reason: skip it at scoring time
        features.append(j)
        grids.append(grid)
        tables.append(table)
        baselines.append(float(np.interp(np.median(column), grid, table)))
    return DependenceContributions(tuple(features), tuple(grids), tuple(tables), tuple(baselines))


# ---------------------------------------------------------------- the served model


class TrainedModel:
    """A fitted estimator with what serving needs; implements `models.scoring.LearnedModel`."""

    def __init__(
        self,
        kind: str,
        estimator: Any,
        lo: np.ndarray,
        hi: np.ndarray,
        contributions: LinearContributions | DependenceContributions,
        seen_lo: np.ndarray,
        seen_hi: np.ndarray,
        feature_names: tuple[str, ...] = FEATURE_NAMES,
        version: str = "unsaved",
    ) -> None:
        self.kind = kind
        self.estimator = estimator
        self.lo = lo  # accepted range (see `accepts`)
        self.hi = hi
        self.contributions = contributions
        self.seen_lo = seen_lo  # the training range itself
        self.seen_hi = seen_hi
        self.feature_names = feature_names
        self.version = version

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        # A linear model extrapolates; a tree ensemble is flat past its last split anyway.
        return np.clip(X, self.seen_lo, self.seen_hi) if self.kind == "logistic" else X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self._inputs(X)))

    def accepts(self, X: np.ndarray) -> np.ndarray:
        """Rows whose every feature is finite and inside the widened training range."""
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            return np.zeros(X.shape[0] if X.ndim else 0, dtype=bool)
        # NaN compares False; inf needs its own test where the range is open (AGES).
        inside = (self.lo <= X) & (self.hi >= X) & (np.abs(X) < np.inf)
        return np.asarray(inside.all(axis=1))

    def terms(self, X: np.ndarray) -> list[Term]:
        # Contributions from what the model used; wording from the customer's own values.
        return topic_terms(X, self.contributions(self._inputs(X)))


def fit_model(
    kind: str,
    X: np.ndarray,
    y: np.ndarray,
    as_of: np.ndarray | None = None,
    horizon_days: int = 90,
    margin: float = RANGE_MARGIN,
    **params: Any,
) -> TrainedModel:
    """Fit a model of `kind` and wrap it with its accepted ranges and contributions."""
    estimator = make_estimator(kind, horizon_days, **params).fit(X, y, as_of=as_of)
    seen_lo, seen_hi = X.min(axis=0), X.max(axis=0)
    width = seen_hi - seen_lo
    lo, hi = seen_lo - margin * width, seen_hi + margin * width
    hi[[INDEX[name] for name in AGES]] = np.inf
    contributions: LinearContributions | DependenceContributions
    if kind == "logistic":
        contributions = linear_contributions(estimator)
    else:
        contributions = dependence_contributions(estimator, X)
    return TrainedModel(kind, estimator, lo, hi, contributions, seen_lo, seen_hi)
