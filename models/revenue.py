"""Expected revenue in the horizon per customer, and per rep and team with an interval.

`RevenueModel` predicts each row's revenue in the next horizon (every order summed, so
repeat business and order size are both in it) as expected orders (a Poisson-loss
gradient-boosting regression of the count) times expected spend per order (a Gamma-loss
one of the amount, on the rows that ordered). Both losses are minimised by conditional
means, so predicted totals add up to what comes in on average. It is not
`p_close × one order`, which left out repeat orders and came to 38% of the revenue on a
foreign log.

`ValueForecast` is what serving needs: the model, and the two parts of the uncertainty of
a sum of expected revenues:

- **noise**: given the expected revenues, the realised total is a compound Poisson sum of
  orders of random size. Orders are drawn as Poisson with mean `expected / mean order`,
  order amounts as Gamma with the mean and shape measured on the training orders; the sum
  of N Gamma(k, θ) amounts is Gamma(N k, θ), so a group's total is drawn exactly in two
  draws whatever its size. This is the part that dominates for one rep's few orders.
- **systematic**: how far totals missed in the walk-forward backtest beyond that noise
  (`training.value.backtest_value`): the squared relative error of the totals less the
  noise's share, averaged over origins (for the team) or over origins and reps weighted by
  size (for a rep). It is applied as a shared log-normal factor, with a Student-t of as
  many degrees of freedom as there were origins, since it is estimated from few of them.
  It is the part that dominates for a 20,000-customer team, whose noise is tiny.

`load_value(version_dir)` reads an optional `value.joblib` beside a registry version's
`model.joblib`; no file means no forecast (the scorer then uses its fallback).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from streams.core.state import DAY_US

log = logging.getLogger(__name__)

VALUE_FILE: Final = "value.joblib"
DRAWS: Final = 20_000  # Monte Carlo draws per group: quantiles to ~0.5% of the total
# Order-size shape used when the training data holds fewer than two orders (an
# exponential spread of amounts, the widest of the usual Gamma shapes).
_DEFAULT_SHAPE: Final = 1.0


class RevenueModel(RegressorMixin, BaseEstimator):
    """Expected revenue in the horizon per row: expected orders × expected spend per order.

    `fit(X, revenue, as_of=None, orders=None)`: `revenue` is each row's amount ordered in
    `(as_of, as_of + horizon]` (zero when nothing), `orders` the number of those orders
    (without it each row with revenue counts as one order, which understates repeat
    business). Two boosters, each with early stopping on a held-out tenth of the rows:

    - `counts_`: Poisson loss on the number of orders, every row;
    - `spend_`: Gamma loss on revenue / orders, the rows that ordered.

    One Poisson regression of revenue itself memorised the few big orders of a small log
    (one order of a million among amounts with a median of 12,000) and its out-of-time
    totals were off by a factor of 4 to 10; counts and amounts are each tame.
    The counts are scaled by `level_`, the newest horizon's out-of-time ratio of orders
    that came to orders predicted (see `_recent_level`), when `as_of` is given.
    Learned: `counts_`, `level_`, `spend_`, `order_mean_`, `order_shape_`, `as_of_max_`.
    """

    def __init__(
        self,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        random_state: int = 0,
        horizon_days: int = 90,
        level_prior_orders: float = 50.0,
    ) -> None:
        self.horizon_days = horizon_days
        self.level_prior_orders = level_prior_orders
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def _booster(self, loss: str, rows: int) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            loss=loss,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=min(self.min_samples_leaf, max(5, rows // 20)),
            l2_regularization=self.l2_regularization,
            # Early stopping needs a validation tenth big enough to say anything.
            early_stopping=rows >= 200,
            validation_fraction=0.1,
            n_iter_no_change=10,
            random_state=self.random_state,
        )

    def fit(
        self,
        X: np.ndarray,
        revenue: np.ndarray,
        as_of: np.ndarray | None = None,
        orders: np.ndarray | None = None,
    ) -> RevenueModel:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(revenue, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"X has shape {X.shape} but revenue has shape {y.shape}")
        if not np.isfinite(y).all() or (y < 0).any():
            raise ValueError("revenue: every value must be finite and >= 0 (labelled rows only)")
        if not (y > 0).any():
            raise ValueError("revenue: no row has any revenue; nothing to learn")
        n = (y > 0).astype(np.float64) if orders is None else np.asarray(orders, np.float64)
        if n.shape != y.shape or ((n > 0) != (y > 0)).any():
            raise ValueError("orders: one count per row, positive exactly where revenue is")
        self.order_mean_, self.order_shape_ = order_size(y, n)
        self.counts_ = self._booster("poisson", len(y)).fit(X, n)
        self.level_ = self._recent_level(X, n, as_of)
        bought = n > 0
        # In units of the mean order: the booster's L2 penalty is in the target's units.
        spend = y[bought] / n[bought] / self.order_mean_
        self.spend_ = self._booster("gamma", int(bought.sum())).fit(X[bought], spend)
        self.as_of_max_ = None if as_of is None or not len(as_of) else int(np.max(as_of))
        self.n_features_in_ = X.shape[1]
        return self

    def expected_orders(self, X: np.ndarray) -> np.ndarray:
        X = self._checked(X)
        if not len(X):
            return np.empty(0)
        return np.asarray(self.counts_.predict(X), dtype=np.float64) * self.level_

    def _recent_level(self, X: np.ndarray, n: np.ndarray, as_of: np.ndarray | None) -> float:
        """How far the counts of the newest horizon's rows run above or below what a
        booster trained on the rows before them predicts, shrunk towards 1 by
        `level_prior_orders`; 1 without `as_of` or without rows on both sides.

        Trees do not extrapolate: on a growing book (more orders per customer as it
        matures) a booster trained on the past predicted 25-45% fewer orders than came
        in the next horizon, and its totals stayed flat while revenue grew. The newest
        labelled window measures that gap one horizon ahead, point in time (its rows are
        predicted by a booster that saw only labels closed before them), and it carries
        to the next horizon when the growth goes on.
        """
        if as_of is None or not len(as_of):
            return 1.0
        stamps = np.asarray(as_of, dtype=np.int64)
        cut = int(stamps.max()) - self.horizon_days * DAY_US
        before, recent = stamps <= cut - self.horizon_days * DAY_US, stamps > cut
        if before.sum() < 200 or not recent.any() or not (n[before] > 0).any():
            return 1.0
        inner = self._booster("poisson", int(before.sum())).fit(X[before], n[before])
        predicted = float(inner.predict(X[recent]).sum())
        prior = self.level_prior_orders
        return float((n[recent].sum() + prior) / (predicted + prior))

    def spend_per_order(self, X: np.ndarray) -> np.ndarray:
        X = self._checked(X)
        if not len(X):
            return np.empty(0)
        return np.asarray(self.spend_.predict(X), dtype=np.float64) * self.order_mean_

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.expected_orders(X) * self.spend_per_order(X)

    def _checked(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "counts_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[-1] if X.ndim else 0} features; the model was fit on "
                f"{self.n_features_in_}"
            )
        return X


def order_size(revenue: np.ndarray, orders: np.ndarray | None = None) -> tuple[float, float]:
    """Mean order amount and Gamma shape (1 / CV²) of the order amounts in the labels.

    With counts, the rows with exactly one order give single amounts (the shape), and
    revenue / orders over all rows the mean; without, every row with revenue counts as one.
    """
    y = np.asarray(revenue, dtype=np.float64)
    n = (y > 0).astype(np.float64) if orders is None else np.asarray(orders, dtype=np.float64)
    single = y[(n == 1) & (y > 0)]
    total_orders = n.sum()
    if total_orders <= 0:
        raise ValueError("no order in the labels: the order size is unknown")
    mean = float(y.sum() / total_orders)
    if len(single) >= 2 and single.std() > 0:
        cv2 = float(single.var(ddof=1) / single.mean() ** 2)
        shape = 1.0 / max(cv2, 1e-3)
    else:
        shape = _DEFAULT_SHAPE
    return mean, shape


@dataclass(frozen=True)
class Systematic:
    """The backtest's relative error of totals beyond noise, for the team and for a rep."""

    team: float = 0.0  # relative sd of the team total's miss
    group: float = 0.0  # relative sd of one rep's total's miss
    origins: int = 0  # how many origins measured it (the Student-t's degrees of freedom)

    def to_dict(self) -> dict[str, Any]:
        return {"team": self.team, "group": self.group, "origins": self.origins}


# The systematic error assumed when no backtest measured one: the spread of team totals
# of the fallback (p × orders × spend) is unknown, so a wide 40% rather than none.
UNTESTED: Final = Systematic(team=0.4, group=0.4, origins=0)


@dataclass
class ValueForecast:
    """Expected revenue per customer, and intervals of sums of it (see module doc)."""

    model: RevenueModel | None
    systematic: Systematic = field(default_factory=Systematic)
    horizon_days: int = 90
    seed: int = 0
    # The order-size distribution; None: the model's (measured on its training orders).
    order_mean: float | None = None
    order_shape: float | None = None

    @property
    def backtested(self) -> bool:
        return self.systematic.origins > 0

    @classmethod
    def untested(
        cls, order_mean: float, horizon_days: int = 90, order_shape: float = _DEFAULT_SHAPE
    ) -> ValueForecast:
        """Intervals only, for the scorer's fallback expected revenue: compound Poisson
        noise with this mean order and `UNTESTED` as the systematic error (no backtest
        measured one), so the interval is plainly wide rather than falsely narrow."""
        return cls(None, UNTESTED, horizon_days, 0, order_mean, order_shape)

    def order_moments(self) -> tuple[float, float]:
        if self.order_mean is not None:
            return self.order_mean, self.order_shape or _DEFAULT_SHAPE
        if self.model is None:
            raise ValueError("a ValueForecast needs a model or an order size")
        return self.model.order_mean_, self.model.order_shape_

    def expected_revenue(self, X: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise ValueError("this forecast has no model: it only gives intervals")
        return self.model.predict(X)

    def bounds(
        self, expected_total: float, relative_sd: float, level: float = 0.8
    ) -> tuple[float, float]:
        """The `level` interval of a realised total whose expectation is `expected_total`."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level: must be between 0 and 1, not {level}")
        if expected_total <= 0:
            return 0.0, 0.0
        rng = np.random.default_rng(self.seed)
        sigma = float(np.sqrt(np.log1p(relative_sd**2)))
        df = self.systematic.origins
        if sigma > 0:
            t = rng.standard_t(df, DRAWS) if df >= 1 else rng.standard_normal(DRAWS)
            # Clipped: a Student-t with few degrees of freedom has draws of any size, and
            # the extremes cannot move the central quantiles anyway.
            factor = np.exp(np.clip(sigma * t, -20.0, 20.0) - sigma**2 / 2)
        else:
            factor = np.ones(DRAWS)
        mean_order, shape = self.order_moments()
        if mean_order <= 0:
            return 0.0, 0.0
        orders = rng.poisson(expected_total * factor / mean_order)
        totals = np.zeros(DRAWS)
        some = orders > 0
        totals[some] = rng.gamma(orders[some] * shape, mean_order / shape)
        tail = (1.0 - level) / 2
        low, high = np.quantile(totals, [tail, 1.0 - tail])
        return float(low), float(high)

    def total(self, expected: np.ndarray, level: float = 0.8) -> tuple[float, float, float]:
        """The team's (everyone's) expected total and its `level` interval."""
        value = float(np.sum(expected))
        low, high = self.bounds(value, self.systematic.team, level)
        return value, low, high

    def interval(
        self,
        expected: np.ndarray,
        groups: Sequence[str | None] | pd.Series,
        level: float = 0.8,
    ) -> pd.DataFrame:
        """One row per group (None: no owner, the pool): group, customers, expected, low,
        high. Groups sorted by name, None last."""
        expected = np.asarray(expected, dtype=np.float64)
        if len(groups) != len(expected):
            raise ValueError(f"{len(groups)} groups for {len(expected)} expected revenues")
        sums: dict[str | None, list[float]] = {}
        for key, value in zip(groups, expected.tolist(), strict=True):
            # pandas and numpy hand missing owners over as NaN; they are the pool too.
            if key is not None and not isinstance(key, str):
                key = None
            entry = sums.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += value
        keys: list[str | None] = [*sorted(k for k in sums if k is not None)]
        if None in sums:
            keys.append(None)
        rows = []
        for key in keys:
            count, value = sums[key]
            low, high = self.bounds(value, self.systematic.group, level)
            rows.append(
                {"group": key, "customers": int(count), "expected": value, "low": low, "high": high}
            )
        frame = pd.DataFrame(rows, columns=["group", "customers", "expected", "low", "high"])
        # An object column, so the pool stays None (pandas would make it NaN).
        frame["group"] = pd.Series(keys, dtype=object)
        return frame

    def to_dict(self) -> dict[str, Any]:
        mean, shape = self.order_moments()
        return {
            "horizon_days": self.horizon_days,
            "order_mean": mean,
            "order_shape": shape,
            "systematic": self.systematic.to_dict(),
            "backtested": self.backtested,
        }


def save_value(forecast: ValueForecast, version_dir: Path) -> Path:
    path = Path(version_dir) / VALUE_FILE
    joblib.dump(forecast, path)
    return path


def load_value(version_dir: Path) -> ValueForecast | None:
    """The `value.joblib` beside a version's `model.joblib`, or None when there is none or
    it cannot be read (said once in the log: the scorer's fallback is still expected
    revenue)."""
    path = Path(version_dir) / VALUE_FILE
    if not path.is_file():
        return None
    try:
        forecast = joblib.load(path)
    except Exception as exc:  # a scorer must come back whatever the disk holds
        log.warning("%s unusable (%s): expected revenue from the fallback", path, exc)
        return None
    if not isinstance(forecast, ValueForecast):
        log.warning("%s holds a %s, not a ValueForecast", path, type(forecast).__name__)
        return None
    return forecast
