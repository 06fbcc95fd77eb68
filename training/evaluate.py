"""Time-ordered evaluation: the holdout split, the metrics, and the curves behind them.

**Split.** The as-of times are ordered; the last `test_share` of them are the holdout.
Training rows are those whose label window `(t, t + horizon]` ends by the first holdout
time, so a gap of one horizon separates the two. Without it, a training row a week
before the holdout would be labelled by an order placed inside the holdout period, the
same order that labels the holdout rows of that customer: the model would be graded on
outcomes it was trained on. Never a random split across time, for the same reason.

**Metrics** (each for a vector of probabilities on the same rows):
- `roc_auc`, `pr_auc` (average precision), `brier`;
- `ece`: expected calibration error, 15 equal-width probability bins, the absolute gap
  between mean predicted probability and observed rate weighted by the bin's rows;
- `capture_10`: the share of all next-horizon closes that fall among the top-ranked tenth
  of customers, ranking the customers of each as-of time separately (what a rep's list
  drawn that day would catch) and pooling the counts over as-of times. Ties at the cut
  share the remaining places in proportion, as if broken at random.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from streams.core.state import DAY_US

ECE_BINS: Final = 15
TOP_SHARE: Final = 0.10


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # boolean masks over the rows
    test: np.ndarray
    train_window: tuple[int, int]  # first and last as-of time used (epoch µs)
    test_window: tuple[int, int]
    gap_days: int


def time_split(as_of: np.ndarray, horizon_days: int, test_share: float = 0.25) -> Split:
    """Train on earlier as-of times, test on the last `test_share`, one horizon between."""
    times = np.unique(as_of)
    if len(times) < 2:
        raise ValueError("need labelled rows at two or more as-of times to split by time")
    first_test = times[min(len(times) - 1, math.floor(len(times) * (1 - test_share)))]
    test = as_of >= first_test
    train = as_of + horizon_days * DAY_US <= first_test
    if not train.any():
        raise ValueError(
            f"the log is too short: no as-of time is a full horizon ({horizon_days} days) "
            "before the holdout; use a longer log or a shorter horizon"
        )
    return Split(
        train,
        test,
        (int(as_of[train].min()), int(as_of[train].max())),
        (int(as_of[test].min()), int(as_of[test].max())),
        horizon_days,
    )


@dataclass(frozen=True)
class Metrics:
    rows: int
    positives: int
    base_rate: float
    mean_p: float
    roc_auc: float
    pr_auc: float
    brier: float
    ece: float
    capture_10: float

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    table = reliability(p, y, bins)
    weights = table["rows"] / max(1, len(p))
    return float((weights * (table["mean_p"] - table["rate"]).abs()).sum())


def reliability(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per equal-width bin: its rows, mean predicted probability and observed rate."""
    index = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    rows = np.bincount(index, minlength=bins)
    sum_p = np.bincount(index, weights=p, minlength=bins)
    sum_y = np.bincount(index, weights=y, minlength=bins)
    kept = rows > 0
    return pd.DataFrame(
        {
            "bin_low": (np.arange(bins) / bins)[kept],
            "rows": rows[kept],
            "mean_p": sum_p[kept] / rows[kept],
            "rate": sum_y[kept] / rows[kept],
        }
    )


def _captured(ps: np.ndarray, ys: np.ndarray, k: float) -> float:
    """Expected positives among the top `k` (fractional) rows of `ps` sorted descending,
    ties at the cut broken at random."""
    whole = math.floor(k)
    if k <= 0:
        return 0.0
    if whole >= len(ps):
        return float(ys.sum())
    cut = ps[whole]
    above = ps > cut
    at = ps == cut
    room = k - int(above.sum())
    return float(ys[above].sum() + room / at.sum() * ys[at].sum())


def capture_curve(
    p: np.ndarray, y: np.ndarray, as_of: np.ndarray, shares: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Share of all positives caught when each as-of time's top `share` is contacted."""
    shares = np.linspace(0.0, 1.0, 51) if shares is None else shares
    caught = np.zeros(len(shares))
    total = float(np.sum(y))
    for t in np.unique(as_of):
        rows = as_of == t
        order = np.argsort(-p[rows], kind="stable")
        ps, ys = p[rows][order], y[rows][order]
        caught += [_captured(ps, ys, s * len(ps)) for s in shares]
    return shares, (caught / total if total else np.zeros(len(shares)))


def capture_at(p: np.ndarray, y: np.ndarray, as_of: np.ndarray, share: float = TOP_SHARE) -> float:
    return float(capture_curve(p, y, as_of, np.array([share]))[1][0])


def metrics(p: np.ndarray, y: np.ndarray, as_of: np.ndarray) -> Metrics:
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=int)
    both = 0 < y.sum() < len(y)
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()) if len(y) else math.nan,
        mean_p=float(p.mean()) if len(p) else math.nan,
        roc_auc=float(roc_auc_score(y, p)) if both else math.nan,
        pr_auc=float(average_precision_score(y, p)) if both else math.nan,
        brier=float(brier_score_loss(y, p)) if len(y) else math.nan,
        ece=expected_calibration_error(p, y),
        capture_10=capture_at(p, y, as_of) if both else math.nan,
    )


def permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    max_rows: int = 10_000,
    repeats: int = 2,
    seed: int = 0,
) -> pd.Series:
    """Drop in ROC AUC when one feature's column is shuffled, per feature, largest first."""
    rng = np.random.default_rng(seed)
    if X.shape[0] > max_rows:
        keep = rng.choice(X.shape[0], size=max_rows, replace=False)
        X, y = X[keep], y[keep]
    if not 0 < y.sum() < len(y):
        return pd.Series(np.zeros(len(names)), index=list(names))
    base = roc_auc_score(y, predict(X))
    drops = np.zeros(len(names))
    work = X.copy()
    for j in range(len(names)):
        if np.ptp(X[:, j]) == 0:
            continue
        for _ in range(repeats):
            work[:, j] = X[rng.permutation(X.shape[0]), j]
            drops[j] += (base - roc_auc_score(y, predict(work))) / repeats
        work[:, j] = X[:, j]
    return pd.Series(drops, index=list(names)).sort_values(ascending=False)
