"""Repeat business from orders alone: a buy-till-you-die model (BG/NBD, PyMC-Marketing).

A customer orders as a Poisson process at its own rate while it is "alive" and may drop
out after any order, rates and drop-out chances varying across customers (Gamma and
Beta). Its inputs are only each customer's order history as of a time, from the feature
matrix: `frequency` = repeat orders (`orders - 1`), `recency` = days from the first to
the last order, `T` = days since the first order. It needs no contact, quote or portrait
event, which is why it is the candidate for purchase-only logs.

The likelihood, the fit and the predictions (P(no order in (T, T + t]), expected orders)
are PyMC-Marketing's `BetaGeoModel`; nothing here is a hand-written likelihood. The fit is
a MAP estimate (`method="map"`): on 20,000 customers the first fit of a process compiles
the graph (~20 s on a loaded 2-core machine) and every later one takes a few seconds, as
PyTensor caches the compiled code.

Leads that never ordered are outside the model's population: they are predicted as a
customer who joined when the lead first appeared (`lead_age_days`) and has not ordered
since, an optimistic reading the classifier does better for leads.

Only the fitted parameters are kept (the PyMC graph does not pickle); the library's model
is rebuilt from them on first use after loading.
"""

from __future__ import annotations

import warnings
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from features.customer import INDEX

HORIZON_DAYS: Final = 90
_PARAMS: Final = ("a", "b", "alpha", "r")


def rfm(X: np.ndarray) -> pd.DataFrame:
    """frequency, recency and T (days) per row, as BG/NBD counts them (see module doc)."""
    orders = X[:, INDEX["orders"]]
    first = X[:, INDEX["days_since_first_order"]]
    last = X[:, INDEX["days_since_order"]]
    ordered = orders > 0
    T = np.where(ordered, first, X[:, INDEX["lead_age_days"]])
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(X)),
            "frequency": np.where(ordered, orders - 1, 0.0),
            "recency": np.where(ordered, np.clip(first - last, 0.0, None), 0.0),
            # A customer seen the day it first ordered has T = 0, which the model's
            # likelihood does not take; a tenth of a day changes no prediction.
            "T": np.maximum(T, 0.1),
        }
    )


class BTYDModel(ClassifierMixin, BaseEstimator):
    """BG/NBD repeat-order model with the classifier's interface (see module doc).

    `fit(X, as_of=None)` fits on the latest cross-section of `X` (the rows with the
    largest `as_of`, or every row when none is given), customers who ordered at least
    once. `predict_proba(X)`: columns [P(no order), P(at least one order)] within
    `horizon_days`; `expected_orders(X)`; `decision_function(X)`: the log-odds.
    Learned: `params_` (a, b, alpha, r), `classes_`, `customers_`.
    """

    def __init__(self, horizon_days: int = HORIZON_DAYS, random_state: int = 0) -> None:
        self.horizon_days = horizon_days
        self.random_state = random_state

    def fit(self, X: np.ndarray, as_of: np.ndarray | None = None, y: Any = None) -> BTYDModel:
        """`y` is ignored: the model learns from order histories alone (it is there so
        scikit-learn's tools may pass labels by keyword)."""
        X = np.asarray(X, dtype=np.float64)
        if as_of is not None:
            stamps = np.asarray(as_of)
            if len(stamps) != len(X):
                raise ValueError(f"as_of has {len(stamps)} entries for {len(X)} rows")
            X = X[stamps == stamps.max()]
        data = rfm(X)
        data = data[X[:, INDEX["orders"]] > 0].reset_index(drop=True)
        data["customer_id"] = np.arange(len(data))
        if len(data) < 10 or not (data["frequency"] > 0).any():
            raise ValueError(
                f"{len(data)} customers with orders, none ordering twice: BG/NBD needs "
                "repeat orders to learn from"
            )
        # PyTensor warns at import that pip's BLAS is slow; PyMC about MAP fits.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pymc_marketing.clv import BetaGeoModel

            model = BetaGeoModel()
            model.fit(data, method="map", progressbar=False, seed=self.random_state)
            result = model.fit_result
            self.params_ = {name: float(result[name].mean()) for name in _PARAMS}
        self.model_ = model
        self.classes_ = np.array([0, 1])
        self.customers_ = len(data)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("model_", None)  # the PyMC graph does not pickle; params_ rebuild it
        return state

    def _library_model(self, data: pd.DataFrame) -> Any:
        check_is_fitted(self, "params_")
        model = self.__dict__.get("model_")
        if model is None:
            import arviz as az
            import xarray as xr
            from pymc_marketing.clv import BetaGeoModel

            model = BetaGeoModel()
            model.build_model(data)
            posterior = xr.Dataset(
                {
                    name: (("chain", "draw"), np.array([[value]]))
                    for name, value in self.params_.items()
                },
                coords={"chain": [0], "draw": [0]},
            )
            model.idata = az.InferenceData(posterior=posterior)
            self.model_ = model
        return model

    def _predict(self, X: np.ndarray, what: str) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if not len(X):
            return np.empty(0)
        data = rfm(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self._library_model(data)
            if what == "no_purchase":
                out = model.expected_probability_no_purchase(self.horizon_days, data)
            else:
                out = model.expected_purchases(data, future_t=self.horizon_days)
        return np.asarray(out.mean(("chain", "draw")).values, dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        none = np.clip(self._predict(X, "no_purchase"), 0.0, 1.0)
        return np.column_stack([none, 1.0 - none])

    def expected_orders(self, X: np.ndarray) -> np.ndarray:
        return self._predict(X, "expected")

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        p = np.clip(self.predict_proba(X)[:, 1], 1e-9, 1 - 1e-9)
        return np.asarray(np.log(p / (1 - p)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
