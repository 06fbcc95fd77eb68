"""The walk-forward backtest: how each way of scoring would have done, origin by origin.

**Walk-forward** (the default). The labelled as-of dates are ordered. From the first date
that has `min_train_share` of the dates a full horizon before it, the later dates are cut
into up to `folds` contiguous slices; each slice's first date is an *origin*. At an
origin, a scorer is fitted on the rows whose labels had closed by then (`as_of + horizon
<= origin`: what an analyst on that day could have known) and tested on the slice's
rows. So every number describes a model scoring dates it never saw, fitted the way the
served model is fitted, as the log was at the time.

**Customer-grouped folds** (short histories). When the labelled dates span less than a
horizon plus a little (six months of log hold three months of labelled dates, and a
90-day horizon leaves no origin with closed labels before it), the rows are cut by a hash
of the customer id instead and each group is scored by a scorer fitted on the others:
no customer's future order labels both sides, but drift over time is not measured. The
plan says which scheme it used, and why.

Every scorer is given the same folds, and what is graded is what would be served: a
model where it accepts a row, the calibrated fallback where it declines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from models.calibration import TooFewLabels, fit_platt
from models.heuristic import HeuristicModel
from models.learned import customer_folds, recent_window
from streams.core.contract import to_datetime
from streams.core.state import DAY_US
from training.evaluate import Metrics, metrics, reliability

FOLDS: Final = 4
MIN_TRAIN_SHARE: Final = 0.3
WINDOW_SHARE: Final = 0.25  # the fallback's calibration window, as the models'
MIN_FOLD_POSITIVES: Final = 10

# A fitted scorer: p_close per row, and whether the model (not the fallback) scored it.
Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
# Fits a predictor on the training rows of a fold (given as a boolean mask).
Fitter = Callable[[np.ndarray], Predictor]


@dataclass(frozen=True)
class Fold:
    origin: int  # first test as-of (epoch µs); for grouped folds the first date
    train: np.ndarray  # boolean masks over the labelled rows
    test: np.ndarray


@dataclass(frozen=True)
class Plan:
    scheme: str  # "walk-forward" | "customer-grouped"
    folds: tuple[Fold, ...]
    note: str

    def describe(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "origins": [iso(f.origin) for f in self.folds],
            "folds": len(self.folds),
            "note": self.note,
        }


def iso(ts: int) -> str:
    """An epoch-µs time as ISO 8601 UTC with `Z`, as the model metadata spells times."""
    return to_datetime(int(ts)).isoformat().replace("+00:00", "Z")


def plan(
    as_of: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    horizon_days: int,
    folds: int = FOLDS,
    min_train_share: float = MIN_TRAIN_SHARE,
) -> Plan:
    """The folds every scorer is graded on (module doc); ValueError if none can be made."""
    times = np.unique(as_of)
    if len(times) < 2:
        raise ValueError("need labelled rows at two or more as-of dates to backtest")
    horizon = horizon_days * DAY_US
    need = max(3, math.ceil(min_train_share * len(times)))
    eligible = [t for t in times if int(np.sum(times + horizon <= t)) >= need]
    made: list[Fold] = []
    if len(eligible) >= 2:
        for block in np.array_split(np.asarray(eligible), min(folds, len(eligible))):
            train = as_of + horizon <= block[0]
            test = (as_of >= block[0]) & (as_of <= block[-1])
            if _usable(y, train, test):
                made.append(Fold(int(block[0]), train, test))
        if len(made) >= 2:
            span = (times[-1] - times[0]) / DAY_US
            return Plan(
                "walk-forward",
                tuple(made),
                f"{len(made)} origins over {span:.0f} days of labelled as-of dates; each "
                f"trained on labels closed before it ({horizon_days}-day horizon)",
            )
    fold = customer_folds(groups, folds)
    grouped = tuple(
        Fold(int(as_of[fold == k].min()), fold != k, fold == k)
        for k in range(folds)
        if _usable(y, fold != k, fold == k)
    )
    if not grouped:
        raise ValueError(
            f"too little labelled history to grade a model: {len(y)} rows, {int(y.sum())} "
            f"closes at {len(times)} as-of dates"
        )
    span = (times[-1] - times[0]) / DAY_US
    return Plan(
        "customer-grouped",
        grouped,
        f"labelled as-of dates span {span:.0f} days, too short for origins with "
        f"{horizon_days}-day labels closed before them: {len(grouped)} folds of customers "
        "(no customer on both sides; drift over time not measured)",
    )


def _usable(y: np.ndarray, train: np.ndarray, test: np.ndarray) -> bool:
    return bool(test.any()) and int(y[train].sum()) >= MIN_FOLD_POSITIVES and not y[train].all()


@dataclass
class Outcome:
    """One scorer on the backtest: per fold, pooled, and its reliability curve."""

    name: str
    per_fold: list[Metrics]
    pooled: Metrics
    model_share: float  # share of test rows the model (not the fallback) scored
    reliability: pd.DataFrame
    p: np.ndarray  # pooled test predictions, in `rows` order
    rows: np.ndarray  # indices of the pooled test rows

    def to_dict(self, plan: Plan) -> dict[str, Any]:
        return {
            "name": self.name,
            "pooled": self.pooled.to_dict(),
            "model_share": round(self.model_share, 6),
            "origins": [
                {"origin": iso(f.origin), **m.to_dict()}
                for f, m in zip(plan.folds, self.per_fold, strict=True)
            ],
            "reliability": [
                {k: (round(float(v), 6) if isinstance(v, float) else int(v)) for k, v in r.items()}
                for r in self.reliability.to_dict("records")
            ],
        }


def run(
    name: str, plan: Plan, X: np.ndarray, y: np.ndarray, as_of: np.ndarray, fit: Fitter
) -> Outcome:
    """Fit at every fold, predict its test rows, grade per fold and pooled."""
    per_fold: list[Metrics] = []
    ps: list[np.ndarray] = []
    used: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for fold in plan.folds:
        predict = fit(fold.train)
        idx = np.flatnonzero(fold.test)
        p, by_model = predict(X[idx])
        per_fold.append(metrics(p, y[idx], as_of[idx]))
        ps.append(p)
        used.append(by_model)
        rows.append(idx)
    p_all, idx_all = np.concatenate(ps), np.concatenate(rows)
    return Outcome(
        name,
        per_fold,
        metrics(p_all, y[idx_all], as_of[idx_all]),
        float(np.concatenate(used).mean()),
        reliability(p_all, y[idx_all]),
        p_all,
        idx_all,
    )


def calibrated_fallback(
    X: np.ndarray, y: np.ndarray, as_of: np.ndarray, heuristic: HeuristicModel
) -> tuple[HeuristicModel, str | None]:
    """The scorecard with a Platt map fitted on the latest window of these labelled rows,
    or the scorecard alone and why (too few labels)."""
    window = recent_window(as_of, WINDOW_SHARE)
    try:
        platt = fit_platt(heuristic.raw_decision(X[window]), y[window])
    except TooFewLabels as exc:
        return HeuristicModel(heuristic.policy).fit(), f"fallback not calibrated: {exc}"
    return HeuristicModel(heuristic.policy, platt).fit(), None
