"""Scoring: every customer of a snapshot gets p_close, its source, its reasons and a value.

`Scorer` holds the current trained model (if any loads) and the heuristic. Rows the model
declines (a feature outside what it saw) and every row when there is no usable model
fall back to the heuristic, so scoring never fails; each row says which one scored it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from features.customer import feature_matrix
from features.policy import DEFAULT, Policy
from models.heuristic import HeuristicModel
from models.reasons import Term, explain
from models.value import expected_value
from streams.core.snapshot import Snapshot
from streams.core.state import CustomerState

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
    ) -> None:
        self.model = model
        self.policy = policy
        self.heuristic = HeuristicModel(policy).fit()
        # Why there is no model, said once (not once per customer).
        self.fallback_note = fallback_note

    @property
    def name(self) -> str:
        return f"model {self.model.version}" if self.model else "heuristic"

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
            "predicted_value": (batch.p_close * ev).round(2),
            "reasons": ["; ".join(r) for r in batch.reasons],
        },
        columns=list(SCORE_COLUMNS),
    )
    return frame


def score_snapshot(snapshot: Snapshot, scorer: Scorer, policy: Policy = DEFAULT) -> pd.DataFrame:
    """Every customer known as of the snapshot's time, whatever its status."""
    states = sorted(snapshot.customers.values(), key=lambda s: s.customer_id)
    return score_states(states, snapshot, scorer, policy)
