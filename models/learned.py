"""Trained close-probability models, and the wrapper that lets the scorer serve them.

A model is made from a `Recipe` (an estimator kind, its hyperparameters and how much of
the history it learns from); the walk-forward backtest (`training/backtest.py`) runs
every recipe the same way at several origins and the gate picks one on those numbers.

Every recipe is fitted by `fit_model` in two parts:

- **the scorer** (`HistGradientBoostingClassifier`, or `StandardScaler` + L2
  `LogisticRegression`) is fitted on every training row, the newest included: on a
  drifting log the newest months are the ones that resemble tomorrow;
- **the calibration map** (`models.calibration.Platt`) is fitted on the most recent
  labelled window only (the last `window_share` of the as-of dates), on out-of-fold
  scores: the customers are cut into `folds` groups by a hash of their id, and each
  group's window rows are scored by a scorer trained on the other groups (all dates).
  Three groups: with two, each out-of-fold scorer saw half the customers and was
  sharper than the served one, and the map carried that over (backtest ECE 0.026 against
  0.016 with three, on a 800-customer simulated log; ROC AUC the same).
  Out-of-fold, so the map sees scores as confident as the served scorer's are on
  customers it never saw; grouped by customer, because a customer's snapshots a week
  apart share the same future order and would leak it; the newest window, because the
  close rate moves (a map fitted on two years serves the two-year average).

Both kinds follow scikit-learn's estimator contract (`__init__` only stores
hyperparameters, `fit` returns self, learned attributes end in `_`, `predict_proba`
columns follow `classes_`, randomness through `random_state`).

`TrainedModel` wraps a fitted one for `models.scoring.Scorer` (the `LearnedModel`
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
Both are scaled by the calibration map's slope, so they add up on the served log-odds.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from features.customer import CAP_DAYS, FEATURE_NAMES
from models.btyd import BTYDModel
from models.calibration import Platt, TooFewLabels, fit_platt
from models.reasons import Term
from models.wording import topic_terms
from streams.core.state import DAY_US

KINDS: Final = ("gbm", "logistic", "btyd")
# What a feature can be at all: a row with a value outside its domain (a negative count,
# a tier of 9, a share above 1) or not finite is garbage, and is declined (the fallback
# scores it). A value the model merely never saw is served: above the training maximum
# the booster is flat by construction and the logistic model's inputs are clipped to the
# training range, so it is flat there too. (A guard on the training range declined whole
# populations: a model trained on a young log had seen reps' 26-week conversion only up
# to 3%, and declined 31% of the book three months later; counts and durations grow with
# the calendar and the book.) Unlisted features are counts, durations or logs of
# amounts, or rates such as a rep's deals per lead: zero or more.
_FLAG: Final = (0.0, 1.0)
DOMAINS: Final[dict[str, tuple[float, float]]] = {
    "ineffective_share": _FLAG,
    # Not rep_conversion_26w: deals per new lead pass 1 when repeat orders outnumber new
    # leads (on a foreign log a domain of 0 to 1 declined 48% of a growing book).
    "portrait_sections": (0.0, 6.0),
    "stage": (0.0, 4.0),
    "tier": (0.0, 2.0),
    "size": (0.0, 3.0),
    "need_due_days": (-CAP_DAYS, CAP_DAYS),
    **{
        name: _FLAG
        for name in FEATURE_NAMES
        if name.startswith("source_")
        or name in ("clear_need", "quote_open", "dormant", "never_suspend", "in_pool", "rep_new")
    },
}
_ANY_AMOUNT: Final = (0.0, np.inf)
_GRID: Final = 32  # partial-dependence grid points per feature
_REFERENCE_ROWS: Final = 400


@dataclass(frozen=True)
class Recipe:
    """How to make a model: an estimator kind, its hyperparameters, its training window.

    `window_days` None learns from every labelled row; a number, from the as-of dates in
    the last that many days of the training data only (a drifting world may reward
    forgetting). Frozen and hashable, so the backtest and the gate can tell two recipes
    apart and the registry can store one in plain JSON.
    """

    kind: str
    window_days: int | None = None
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.params)
        window = "" if self.window_days is None else f" last {self.window_days}d"
        return f"{self.kind}{window}{extra}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "window_days": self.window_days, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        params = tuple(sorted((str(k), v) for k, v in (data.get("params") or {}).items()))
        window = data.get("window_days")
        return cls(str(data["kind"]), None if window is None else int(window), params)


# What `closecast train` tries. The booster on all history is the default; on the latest
# half-year it is what a drifting log may prefer; the logistic model is the plain
# alternative that extrapolates least surprisingly; the buy-till-you-die model
# (`models.btyd`, BG/NBD from PyMC-Marketing) reads repeat business from orders alone,
# the candidate for purchase-only logs. Each is calibrated and graded the same way.
RECIPES: Final = (
    Recipe("gbm"),
    Recipe("gbm", window_days=182),
    Recipe("logistic"),
    Recipe("btyd"),
)


def _booster(random_state: int, **params: Any) -> HistGradientBoostingClassifier:
    settings: dict[str, Any] = {
        "learning_rate": 0.1,
        "max_iter": 100,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 100,
        "l2_regularization": 1.0,
        **params,
    }
    # A fixed number of rounds: early stopping would hold out a random (not
    # time-ordered) slice and make the fit depend on it.
    return HistGradientBoostingClassifier(
        early_stopping=False, random_state=random_state, **settings
    )


def _logistic(**params: Any) -> Pipeline:
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=params.get("C", 0.1), max_iter=2000)
    )


def make_scorer(kind: str, random_state: int = 0, **params: Any) -> Any:
    """The uncalibrated estimator of `kind` (it must offer `decision_function`)."""
    if kind == "gbm":
        return _booster(random_state, **params)
    if kind == "logistic":
        return _logistic(**params)
    if kind == "btyd":
        return BTYDModel(random_state=random_state, **params)
    raise ValueError(f"unknown model kind {kind!r} (known: {', '.join(KINDS)})")


def customer_folds(groups: Sequence[str] | np.ndarray, folds: int) -> np.ndarray:
    """A fold number per row from a hash of its customer id (stable across runs)."""
    return np.fromiter(
        (zlib.crc32(str(g).encode()) % folds for g in groups), dtype=np.int64, count=len(groups)
    )


def recent_window(as_of: np.ndarray, share: float) -> np.ndarray:
    """Rows at the last `share` of the distinct as-of dates (at least the last date)."""
    times = np.unique(as_of)
    keep = max(1, round(len(times) * share))
    return np.asarray(as_of >= times[-keep])


class RecentlyCalibrated(ClassifierMixin, BaseEstimator):
    """A scorer fitted on every row, calibrated on the recent window (see module doc)."""

    def __init__(
        self,
        kind: str = "gbm",
        params: dict[str, Any] | None = None,
        folds: int = 3,
        window_share: float = 0.25,
        random_state: int = 0,
    ) -> None:
        self.kind = kind
        self.params = params
        self.folds = folds
        self.window_share = window_share
        self.random_state = random_state

    def _scorer(self) -> Any:
        return make_scorer(self.kind, self.random_state, **(self.params or {}))

    def _fit_scorer(self, X: np.ndarray, y: np.ndarray, as_of: np.ndarray) -> Any:
        # The buy-till-you-die model learns from the latest cross-section of order
        # histories, not from labels: it needs the dates.
        if self.kind == "btyd":
            return self._scorer().fit(X, as_of=as_of)
        return self._scorer().fit(X, y)

    def fit(
        self,
        X: Any,
        y: Any,
        as_of: np.ndarray | None = None,
        groups: Sequence[str] | np.ndarray | None = None,
    ) -> RecentlyCalibrated:
        """Fit; `as_of` (epoch µs) picks the recent window, `groups` (customer ids) the
        folds. Without them the rows are taken to be in time order, one customer each."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=int)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError("training data must hold both outcomes (0 and 1)")
        stamps = np.arange(len(y)) if as_of is None else np.asarray(as_of)
        ids = np.arange(len(y)).astype(str) if groups is None else np.asarray(groups)
        window = recent_window(stamps, self.window_share)
        fold = customer_folds(ids, self.folds)
        scores = np.empty(int(window.sum()))
        held = fold[window]
        for k in range(self.folds):
            train = fold != k
            test = held == k
            if not test.any():
                continue
            if len(np.unique(y[train])) < 2:
                raise ValueError("too few closes to calibrate: a fold has only one outcome")
            part = self._fit_scorer(X[train], y[train], stamps[train])
            scores[test] = part.decision_function(X[window][test])
        self.scorer_ = self._fit_scorer(X, y, stamps)
        self.calibration_note_: str | None = None
        try:
            self.calibrator_: Platt | None = fit_platt(scores, y[window])
        except TooFewLabels as exc:
            self.calibrator_ = None
            self.calibration_note_ = f"not calibrated: the recent window holds {exc}"
        self.n_features_in_ = X.shape[1]
        return self

    def raw_decision(self, X: Any) -> np.ndarray:
        """The scorer's log-odds, before calibration."""
        check_is_fitted(self, "scorer_")
        return np.asarray(self.scorer_.decision_function(np.asarray(X, dtype=float)))

    def decision_function(self, X: Any) -> np.ndarray:
        """The served log-odds (after the calibration map, when there is one)."""
        z = self.raw_decision(X)
        if self.calibrator_ is None:
            return z
        return self.calibrator_.slope * z + self.calibrator_.intercept

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self.decision_function(X)
        p1 = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)])

    def recalibrated(self, calibrator: Platt) -> RecentlyCalibrated:
        """A copy with another calibration map (the drift watch's remedy)."""
        twin = copy.copy(self)
        twin.calibrator_ = calibrator
        twin.calibration_note_ = None
        return twin


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


def linear_contributions(model: RecentlyCalibrated) -> LinearContributions:
    scaler: StandardScaler = model.scorer_[0]
    regression: LogisticRegression = model.scorer_[-1]
    slope = 1.0 if model.calibrator_ is None else model.calibrator_.slope
    return LinearContributions(
        np.asarray(scaler.mean_), np.asarray(scaler.scale_), regression.coef_[0] * slope
    )


def dependence_contributions(
    model: RecentlyCalibrated, X: np.ndarray, random_state: int = 0, min_span: float = 0.01
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


def _contributions(
    model: RecentlyCalibrated, X: np.ndarray
) -> LinearContributions | DependenceContributions:
    if model.kind == "logistic":
        return linear_contributions(model)
    return dependence_contributions(model, X)


# ---------------------------------------------------------------- the served model


@dataclass(frozen=True)
class TrainingWindow:
    """What a fitted model learned from (for its metadata)."""

    first_as_of: int
    last_as_of: int
    rows: int
    positives: int
    calibration_first_as_of: int
    calibration_rows: int
    calibration_note: str | None = None


@dataclass
class TrainedModel:
    """A fitted estimator with what serving needs; implements `models.scoring.LearnedModel`."""

    recipe: Recipe
    estimator: RecentlyCalibrated
    lo: np.ndarray  # each feature's domain (see `accepts` and `DOMAINS`)
    hi: np.ndarray
    # None for a model fitted only to be graded (the backtest's): it never gives reasons.
    contributions: LinearContributions | DependenceContributions | None
    seen_lo: np.ndarray  # the training range itself
    seen_hi: np.ndarray
    window: TrainingWindow
    feature_names: tuple[str, ...] = FEATURE_NAMES
    version: str = "unsaved"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.recipe.kind

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        # A linear model extrapolates; a tree ensemble is flat past its last split anyway.
        return np.clip(X, self.seen_lo, self.seen_hi) if self.kind == "logistic" else X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self._inputs(X)))

    def raw_decision(self, X: np.ndarray) -> np.ndarray:
        """Log-odds before the calibration map (what a recalibration refits on)."""
        return self.estimator.raw_decision(self._inputs(X))

    def accepts(self, X: np.ndarray) -> np.ndarray:
        """Rows whose every feature is finite and inside its domain (`DOMAINS`)."""
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            return np.zeros(X.shape[0] if X.ndim else 0, dtype=bool)
        # NaN compares False; inf needs its own test where the range is open above.
        inside = (self.lo <= X) & (self.hi >= X) & (np.abs(X) < np.inf)
        return np.asarray(inside.all(axis=1))

    def terms(self, X: np.ndarray) -> list[Term]:
        # Contributions from what the model used; wording from the customer's own values.
        if self.contributions is None:
            raise ValueError("this model was fitted without explanations (explain=False)")
        return topic_terms(X, self.contributions(self._inputs(X)))

    def recalibrated(self, calibrator: Platt) -> TrainedModel:
        """The same scorer with a new calibration map, contributions rescaled."""
        estimator = self.estimator.recalibrated(calibrator)
        contributions = self.contributions
        old = self.estimator.calibrator_
        ratio = calibrator.slope / (old.slope if old is not None and old.slope else 1.0)
        if contributions is None:
            pass
        elif isinstance(contributions, LinearContributions):
            contributions = replace(contributions, coef=contributions.coef * ratio)
        else:
            contributions = replace(
                contributions,
                values=tuple(v * ratio for v in contributions.values),
                baseline=tuple(b * ratio for b in contributions.baseline),
            )
        return replace(self, estimator=estimator, contributions=contributions, version="unsaved")


def training_rows(recipe: Recipe, as_of: np.ndarray) -> np.ndarray:
    """The rows a recipe learns from: all, or those in its window of the latest dates."""
    if recipe.window_days is None or not len(as_of):
        return np.ones(len(as_of), dtype=bool)
    return np.asarray(as_of >= as_of.max() - recipe.window_days * DAY_US)


def fit_model(
    recipe: Recipe,
    X: np.ndarray,
    y: np.ndarray,
    as_of: np.ndarray,
    groups: Sequence[str] | np.ndarray,
    explain: bool = True,
) -> TrainedModel:
    """Fit `recipe` on the labelled rows given and wrap it with its ranges and reasons
    (`explain=False`: no reasons, for a model that is only graded)."""
    keep = training_rows(recipe, as_of)
    X, y, as_of = X[keep], np.asarray(y, dtype=int)[keep], as_of[keep]
    groups = np.asarray(groups)[keep]
    if not len(y):
        raise ValueError("no training rows")
    estimator = RecentlyCalibrated(recipe.kind, dict(recipe.params) or None).fit(
        X, y, as_of=as_of, groups=groups
    )
    seen_lo, seen_hi = X.min(axis=0), X.max(axis=0)
    lo = np.array([DOMAINS.get(name, _ANY_AMOUNT)[0] for name in FEATURE_NAMES])
    hi = np.array([DOMAINS.get(name, _ANY_AMOUNT)[1] for name in FEATURE_NAMES])
    window = recent_window(as_of, estimator.window_share)
    trained = TrainingWindow(
        int(as_of.min()),
        int(as_of.max()),
        len(y),
        int(y.sum()),
        int(as_of[window].min()),
        int(window.sum()),
        estimator.calibration_note_,
    )
    contributions = _contributions(estimator, X) if explain else None
    return TrainedModel(recipe, estimator, lo, hi, contributions, seen_lo, seen_hi, trained)
