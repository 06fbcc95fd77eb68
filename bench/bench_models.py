"""Model training time and scoring throughput at 10k, 100k and 1M snapshot rows.

Rows are real point-in-time feature rows from a simulated two-year log (4,000 customers,
~100,000 snapshots), tiled to reach 1,000,000. Scoring means what `closecast score`
does per customer after folding: the range check, p_close, and three worded reasons.

Baselines, measured in the same run: training time is compared with the logistic model
on the same rows; model scoring throughput with the heuristic's on the same rows. The
target from issue 4 is 1,000,000 customers scored in under 10 seconds (100,000/s).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

from bench.logs import simulated_log
from models.learned import Recipe, fit_model
from models.scoring import Scorer
from training.dataset import DatasetConfig, build_dataset, read_events

SIZES = (10_000, 100_000, 1_000_000)


def _rows(n: int, X: np.ndarray, y: np.ndarray, as_of: np.ndarray) -> tuple[np.ndarray, ...]:
    """n rows spanning the whole period: a sample when fewer than we have, else tiled."""
    if n <= len(X):
        pick = np.sort(np.random.default_rng(0).choice(len(X), size=n, replace=False))
        return tuple(np.ascontiguousarray(a[pick]) for a in (X, y, as_of))
    reps = -(-n // len(X))
    return tuple(
        np.ascontiguousarray(np.tile(a, (reps,) + (1,) * (a.ndim - 1))[:n]) for a in (X, y, as_of)
    )


def _timed(action: Any) -> tuple[Any, float]:
    gc.collect()
    started = time.perf_counter()
    out = action()
    return out, time.perf_counter() - started


def _label(n: int) -> str:
    return f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"


def run() -> list[dict[str, Any]]:
    log = simulated_log(4000, 40, 730)
    data = build_dataset(read_events([log]), DatasetConfig(max_rows_per_as_of=None))
    X, y, as_of = data.X, data.y.astype(int), data.as_of
    records: list[dict[str, Any]] = []
    served = None
    for n in SIZES:
        Xn, yn, an = _rows(n, X, y, as_of)
        # Tiled rows repeat customers: each copy counts as another customer for the folds.
        groups = np.arange(len(yn)).astype(str)
        gbm, gbm_s = _timed(
            lambda Xn=Xn, yn=yn, an=an, g=groups: fit_model(Recipe("gbm"), Xn, yn, an, g)
        )
        _, logistic_s = _timed(
            lambda Xn=Xn, yn=yn, an=an, g=groups: fit_model(Recipe("logistic"), Xn, yn, an, g)
        )
        records.append(
            {
                "name": f"train_gbm_{_label(n)}_rows",
                "value": round(gbm_s, 2),
                "unit": "s",
                "rows": n,
                "baseline_name": f"train_logistic_{_label(n)}_rows",
                "baseline_value": round(logistic_s, 2),
            }
        )
        if n == 100_000:
            served = gbm
    assert served is not None
    # Warm up (thread pools, first-call imports) so the 10k figure measures scoring.
    Scorer(served).score(X[:1000])
    Scorer(None).score(X[:1000])
    for n in SIZES:
        Xn = _rows(n, X, y, as_of)[0]
        batch, model_s = _timed(lambda Xn=Xn: Scorer(served).score(Xn))
        share = float(np.mean(np.asarray(batch.source) == "model"))
        del batch
        _, rules_s = _timed(lambda Xn=Xn: Scorer(None).score(Xn))
        record: dict[str, Any] = {
            "name": f"score_gbm_{_label(n)}_customers",
            "value": round(n / model_s),
            "unit": "customers/s",
            "seconds": round(model_s, 2),
            "model_share": round(share, 4),
            "baseline_name": f"score_heuristic_{_label(n)}_customers",
            "baseline_value": round(n / rules_s),
        }
        if n == 1_000_000:
            record["target"] = "seconds < 10 (value > 100000)"
        records.append(record)
    return records
