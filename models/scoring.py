"""Scoring: every customer of a snapshot gets p_close, its source, its reasons and a value.

`Scorer` holds the current trained model (if any loads) and the heuristic. Rows the model
declines (a feature outside what it saw) and every row when there is no usable model
fall back to the heuristic, so scoring never fails; each row says which one scored it.

Value: `expected_revenue` is the revenue expected from the customer within the horizon,
every order counted. With a `ValueForecast` (`models.revenue`) it is that forecast's
(`revenue_basis` "forecast"); without one, the fallback (`revenue_basis` "fallback") is
`expected_orders × expected_value`, where `expected_orders = p_close × orders if it
orders`: a customer who ordered before orders at its own past pace per horizon (orders
since its first one, per horizon elapsed, at least one), a lead once. `predicted_value`
is kept, equal to `expected_revenue`, for the tables and clients that read it; it used to
be `p_close × expected_value`, one order, which undercounted repeat business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from features.customer import feature_matrix
from features.policy import DEFAULT, Policy
from models.calibration import Platt
from models.heuristic import HeuristicModel
from models.reasons import Term, explain
from models.revenue import ValueForecast
from models.value import expected_value
from streams.core.snapshot import Snapshot
from streams.core.state import DAY_US, CustomerState

SCORE_COLUMNS = (
    "customer_id",
    "owner_rep_id",
    "status",
    "stage",
    "effective_contacts",
    "p_close",
    "source",
    "expected_value",
    "value_basis",
    "expected_orders",
    "expected_revenue",
    "revenue_basis",
    "predicted_value",
    "reasons",
)


class LearnedModel(Protocol):
    """What a trained model offers the scorer (see models/learned.py)."""

    version: str

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    def accepts(self, X: np.ndarray) -> np.ndarray:
        """Boolean mask of rows inside what the model saw in training."""
        ...

    def terms(self, X: np.ndarray) -> list[Term]: ...


@dataclass
class ScoreBatch:
    p_close: np.ndarray
    source: list[str]
    reasons: list[list[str]]


class Scorer:
    def __init__(
        self,
        model: LearnedModel | None = None,
        policy: Policy = DEFAULT,
        fallback_note: str | None = None,
        calibration: Platt | None = None,
        *,
        value: ValueForecast | None = None,
    ) -> None:
        self.model = model
        self.value = value
        self.policy = policy
        # Calibrated to the log's close rate when `closecast train` fitted a map.
        self.heuristic = HeuristicModel(policy, calibration).fit()
        # Why there is no model, said once (not once per customer).
        self.fallback_note = fallback_note

    @property
    def name(self) -> str:
        return f"model {self.model.version}" if self.model else "heuristic"

    def probabilities(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """p_close as served (the model where it accepts a row, the heuristic elsewhere)
        and which rows the model scored; no reasons (for grading many rows)."""
        n = X.shape[0]
        by_model = (
            self.model.accepts(X) if self.model is not None and n else np.zeros(n, dtype=bool)
        )
        p = self.heuristic.predict_proba(X)[:, 1] if n else np.empty(0)
        if by_model.any():
            assert self.model is not None
            p[by_model] = self.model.predict_proba(X[by_model])[:, 1]
        return p, by_model

    def score(self, X: np.ndarray, top: int = 3) -> ScoreBatch:
        n = X.shape[0]
        p = np.empty(n)
        # One shared placeholder, not a million empty lists: every row is overwritten below
        # (by the model's reasons or the heuristic's), so the placeholder never escapes.
        reasons: list[list[str]] = [[]] * n
        source = ["heuristic"] * n
        use_model = (
            self.model.accepts(X) if self.model is not None and n else np.zeros(n, dtype=bool)
        )
        if use_model.any():
            assert self.model is not None
            Xm = X[use_model]
            p[use_model] = self.model.predict_proba(Xm)[:, 1]
            model_reasons = explain(Xm, self.model.terms(Xm), top)
            for i, r in zip(np.flatnonzero(use_model), model_reasons, strict=True):
                reasons[i] = r
                source[i] = "model"
        rest = ~use_model
        if rest.any():
            Xh = X[rest]
            p[rest] = self.heuristic.predict_proba(Xh)[:, 1]
            rule_reasons = explain(Xh, self.heuristic.terms(Xh), top)
            for i, r in zip(np.flatnonzero(rest), rule_reasons, strict=True):
                reasons[i] = r
        return ScoreBatch(p, source, reasons)


def score_states(
    states: Sequence[CustomerState],
    snapshot: Snapshot,
    scorer: Scorer,
    policy: Policy = DEFAULT,
) -> pd.DataFrame:
    """Score the given customers of `snapshot` as of its `as_of`."""
    X = feature_matrix(states, snapshot.reps, snapshot.as_of, policy)
    batch = scorer.score(X)
    values = [expected_value(s, policy.horizon_days) for s in states]
    ev = np.array([v for v, _ in values], dtype=float)
    forecast = scorer.value.model if scorer.value is not None else None
    if forecast is not None and len(states):
        orders = forecast.expected_orders(X)
        revenue = forecast.predict(X)
        basis = "forecast"
    else:
        orders = batch.p_close * orders_if_close(states, snapshot.as_of, policy.horizon_days)
        revenue = orders * ev
        basis = "fallback"
    frame = pd.DataFrame(
        {
            "customer_id": [s.customer_id for s in states],
            "owner_rep_id": [s.owner for s in states],
            "status": [s.status for s in states],
            "stage": [s.stage for s in states],
            "effective_contacts": [s.effective for s in states],
            "p_close": batch.p_close,
            "source": batch.source,
            "expected_value": ev.round(2),
            "value_basis": [b for _, b in values],
            "expected_orders": orders,
            "expected_revenue": np.round(revenue, 2),
            "revenue_basis": basis,
            "predicted_value": np.round(revenue, 2),
            "reasons": ["; ".join(r) for r in batch.reasons],
        },
        columns=list(SCORE_COLUMNS),
    )
    return frame


def orders_if_close(states: Sequence[CustomerState], as_of: int, horizon_days: int) -> np.ndarray:
    """Orders a customer places in the horizon if it orders at all (the fallback's count):
    its own past pace, orders per horizon since its first order, at least one."""
    horizon_us = horizon_days * DAY_US
    out = np.ones(len(states))
    for i, s in enumerate(states):
        if s.orders > 1 and s.first_order_ts is not None:
            elapsed = max(as_of - s.first_order_ts, horizon_us)
            out[i] = max(1.0, s.orders * horizon_us / elapsed)
    return out


def score_snapshot(snapshot: Snapshot, scorer: Scorer, policy: Policy = DEFAULT) -> pd.DataFrame:
    """Every customer known as of the snapshot's time, whatever its status."""
    states = sorted(snapshot.customers.values(), key=lambda s: s.customer_id)
    return score_states(states, snapshot, scorer, policy)
