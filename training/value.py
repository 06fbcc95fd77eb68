"""The value forecast's walk-forward backtest and its refit on every labelled row.

`backtest_value` walks forward over rolling origins: at each origin a `RevenueModel` is
fit on the rows whose label is complete by then (`as_of + horizon <= origin`) and
predicts the rows with `as_of` in `[origin, next origin)`. For every as-of time in that
slice it compares the team's and each rep's predicted total with what came, and checks
whether the 80% interval covered it. The interval at an origin uses only what was known
before it: the systematic error measured on earlier slices' as-of times whose labels were
complete by the origin (none at the first origin: noise only, and it is counted as such).

`fit_value` refits on every labelled row and carries the systematic error measured over
the whole backtest, which is what the served interval needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.base import clone

from models.revenue import RevenueModel, Systematic, ValueForecast
from streams.core.state import DAY_US

LEVEL: Final = 0.8
TEAM: Final = "__team__"  # the records' group for the whole team
TOP_SHARE: Final = 0.1


def noise_variance(predicted: np.ndarray | float, order_mean: float, order_shape: float) -> Any:
    """Variance of a compound Poisson-Gamma total with this mean: λ E[X²] = P m (1 + 1/k)."""
    return np.asarray(predicted) * order_mean * (1.0 + 1.0 / order_shape)


def systematic_error(records: pd.DataFrame) -> Systematic:
    """Relative error of totals beyond noise, from backtest records (one row per as-of
    time and group: group, origin, predicted, realised, noise_var; group TEAM for the team).

    Team: the mean over as-of times of ((R - P)² - noise) / P². Reps: the same summed over
    as-of times and reps and divided by ΣP², so big books weigh more than a rep with one
    expected order. Both floored at zero (the noise explained all of it).
    """
    if records.empty:
        return Systematic()
    ok = records[records["predicted"] > 0]
    excess = (ok["realised"] - ok["predicted"]) ** 2 - ok["noise_var"]
    team = ok["group"] == TEAM
    team_sd = 0.0
    if team.any():
        team_sd = math.sqrt(max(0.0, float((excess[team] / ok["predicted"][team] ** 2).mean())))
    group_sd = 0.0
    reps = ~team
    if reps.any():
        ratio = float(excess[reps].sum() / (ok["predicted"][reps] ** 2).sum())
        group_sd = math.sqrt(max(0.0, ratio))
    return Systematic(team_sd, group_sd, int(records["origin"].nunique()))


def capture(predicted: np.ndarray, realised: np.ndarray, share: float = TOP_SHARE) -> float:
    """Share of the realised revenue among the top `share` of rows by predicted revenue."""
    total = float(realised.sum())
    if not len(predicted) or total <= 0:
        return float("nan")
    k = max(1, math.ceil(share * len(predicted)))
    top = np.argsort(-predicted, kind="stable")[:k]
    return float(realised[top].sum() / total)


@dataclass(frozen=True)
class ValueBacktest:
    """Per origin, per as-of time and group, and pooled results of `backtest_value`."""

    horizon_days: int
    per_origin: pd.DataFrame  # origin, train_rows, test_rows, predicted, realised, ratio,
    # capture10, team_coverage, group_coverage, systematic_team, systematic_group
    records: pd.DataFrame  # origin, as_of, group, customers, predicted, realised, noise_var,
    # low, high, covered
    systematic: Systematic  # from every record: what the refit's interval carries
    predictions: np.ndarray  # per input row, the backtest's prediction (NaN: not tested)

    @property
    def revenue_ratio(self) -> float:
        """Realised / predicted team revenue, pooled over every tested as-of time."""
        team = self.records[self.records["group"] == TEAM]
        predicted = float(team["predicted"].sum())
        return float(team["realised"].sum()) / predicted if predicted > 0 else float("nan")

    def coverage(self, team: bool = True) -> float:
        """Share of tested (as-of time, team or rep) totals inside their interval."""
        rows = self.records[(self.records["group"] == TEAM) == team]
        return float(rows["covered"].mean()) if len(rows) else float("nan")

    @property
    def capture10(self) -> float:
        rows = self.per_origin
        weights = rows["realised"]
        if not len(rows) or weights.sum() <= 0:
            return float("nan")
        return float((rows["capture10"] * weights).sum() / weights.sum())

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, float) and math.isnan(value):
                return None
            return value.item() if hasattr(value, "item") else value

        return {
            "horizon_days": self.horizon_days,
            "level": LEVEL,
            "origins": len(self.per_origin),
            "revenue_ratio": plain(self.revenue_ratio),
            "capture10": plain(self.capture10),
            "team_coverage": plain(self.coverage(team=True)),
            "rep_coverage": plain(self.coverage(team=False)),
            "systematic": self.systematic.to_dict(),
            "per_origin": [
                {str(k): plain(v) for k, v in row.items()}
                for row in self.per_origin.to_dict(orient="records")
            ],
        }


def _labelled(revenue: np.ndarray) -> np.ndarray:
    return np.isfinite(np.asarray(revenue, dtype=np.float64))


def backtest_value(
    X: np.ndarray,
    revenue: np.ndarray,
    as_of: np.ndarray,
    groups: Sequence[str | None] | pd.Series,
    origins: Sequence[int],
    horizon_days: int,
    orders: np.ndarray | None = None,
    model: RevenueModel | None = None,
) -> ValueBacktest:
    """Walk forward over `origins` (epoch µs); see the module doc. Unlabelled rows
    (`revenue` NaN) are never trained on nor tested."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(revenue, dtype=np.float64)
    t = np.asarray(as_of, dtype=np.int64)
    # Missing owners (None, or NaN from pandas) are one group: the pool.
    g = np.asarray([x if isinstance(x, str) else None for x in groups], dtype=object)
    if not (len(X) == len(y) == len(t) == len(g)):
        raise ValueError("X, revenue, as_of and groups must have one entry per row")
    horizon = horizon_days * DAY_US
    labelled = _labelled(y)
    cuts = sorted(int(o) for o in origins)
    if not cuts:
        raise ValueError("origins: at least one is needed")
    template = model if model is not None else RevenueModel()
    predictions = np.full(len(y), np.nan)
    per_origin: list[dict[str, Any]] = []
    records: list[pd.DataFrame] = []
    for k, origin in enumerate(cuts):
        end = cuts[k + 1] if k + 1 < len(cuts) else np.iinfo(np.int64).max
        train = labelled & (t + horizon <= origin)
        test = labelled & (t >= origin) & (t < end)
        if not test.any() or not (y[train] > 0).any():
            continue
        fitted = _clone(template, horizon_days).fit(
            X[train], y[train], t[train], None if orders is None else orders[train]
        )
        p = fitted.predict(X[test])
        predictions[test] = p
        # What was known before this origin: earlier records whose horizon has closed.
        known = pd.concat(records) if records else _empty_records()
        known = known[known["as_of"] + horizon <= origin]
        forecast = ValueForecast(fitted, systematic_error(known), horizon_days)
        block = _records(forecast, origin, t[test], g[test], p, y[test])
        records.append(block)
        team = block[block["group"] == TEAM]
        reps = block[block["group"] != TEAM]
        captures = [
            (capture(p[t[test] == s], y[test][t[test] == s]), y[test][t[test] == s].sum())
            for s in np.unique(t[test])
        ]
        weight = sum(w for c, w in captures if not math.isnan(c))
        per_origin.append(
            {
                "origin": origin,
                "train_rows": int(train.sum()),
                "test_rows": int(test.sum()),
                "predicted": float(team["predicted"].sum()),
                "realised": float(team["realised"].sum()),
                "ratio": float(team["realised"].sum() / team["predicted"].sum()),
                "capture10": (
                    sum(c * w for c, w in captures if not math.isnan(c)) / weight
                    if weight > 0
                    else float("nan")
                ),
                "team_coverage": float(team["covered"].mean()),
                "group_coverage": float(reps["covered"].mean()) if len(reps) else float("nan"),
                "systematic_team": forecast.systematic.team,
                "systematic_group": forecast.systematic.group,
            }
        )
    every = pd.concat(records, ignore_index=True) if records else _empty_records()
    return ValueBacktest(
        horizon_days, pd.DataFrame(per_origin), every, systematic_error(every), predictions
    )


def fit_value(
    X: np.ndarray,
    revenue: np.ndarray,
    as_of: np.ndarray,
    backtest: ValueBacktest,
    horizon_days: int,
    orders: np.ndarray | None = None,
    model: RevenueModel | None = None,
) -> ValueForecast:
    """The served forecast: refit on every labelled row, the backtest's systematic error."""
    y = np.asarray(revenue, dtype=np.float64)
    labelled = _labelled(y)
    fitted = _clone(model if model is not None else RevenueModel(), horizon_days).fit(
        np.asarray(X, dtype=np.float64)[labelled],
        y[labelled],
        np.asarray(as_of)[labelled],
        None if orders is None else np.asarray(orders)[labelled],
    )
    return ValueForecast(fitted, backtest.systematic, horizon_days)


def _clone(model: RevenueModel, horizon_days: int) -> RevenueModel:
    """A fresh copy of `model`'s settings, at this horizon (its recent-level window)."""
    fresh: RevenueModel = clone(model).set_params(horizon_days=horizon_days)
    return fresh


def _empty_records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": pd.Series(dtype=np.int64),
            "as_of": pd.Series(dtype=np.int64),
            "group": pd.Series(dtype=object),
            "customers": pd.Series(dtype=np.int64),
            "predicted": pd.Series(dtype=np.float64),
            "realised": pd.Series(dtype=np.float64),
            "noise_var": pd.Series(dtype=np.float64),
            "low": pd.Series(dtype=np.float64),
            "high": pd.Series(dtype=np.float64),
            "covered": pd.Series(dtype=bool),
        }
    )


def _records(
    forecast: ValueForecast,
    origin: int,
    as_of: np.ndarray,
    groups: np.ndarray,
    predicted: np.ndarray,
    realised: np.ndarray,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for stamp in np.unique(as_of):
        at = as_of == stamp
        p, r = predicted[at], realised[at]
        value, low, high = forecast.total(p, LEVEL)
        rows.append(
            {
                "group": TEAM,
                "customers": int(at.sum()),
                "predicted": value,
                "realised": float(r.sum()),
                "low": low,
                "high": high,
            }
        )
        members = list(groups[at])
        table = forecast.interval(p, members, LEVEL)
        for row in table.to_dict(orient="records"):
            key = row["group"]
            mine = np.array([m is None if key is None else m == key for m in members])
            realised_g = float(r[mine].sum())
            rows.append(
                {
                    "group": key,
                    "customers": row["customers"],
                    "predicted": row["expected"],
                    "realised": realised_g,
                    "low": row["low"],
                    "high": row["high"],
                }
            )
        for entry in rows[-len(table) - 1 :]:
            entry["as_of"] = int(stamp)
    frame = pd.DataFrame(rows)
    frame["origin"] = origin
    frame["noise_var"] = noise_variance(frame["predicted"].to_numpy(), *forecast.order_moments())
    frame["covered"] = (frame["realised"] >= frame["low"]) & (frame["realised"] <= frame["high"])
    return frame[list(_empty_records().columns)]


def value_origins(as_of: np.ndarray, horizon_days: int, count: int = 4) -> list[int]:
    """`count` backtest origins one horizon apart, the last one at the newest labelled
    as-of time, so each origin's systematic error can use every earlier origin's slice.
    Fewer when the history is too short (an origin needs a labelled horizon before it)."""
    stamps = np.unique(np.asarray(as_of, dtype=np.int64))
    if not len(stamps):
        return []
    step = horizon_days * DAY_US
    first, last = int(stamps[0]), int(stamps[-1])
    # Every origin needs at least one as-of time whose label closed before it.
    return [o for o in (last - k * step for k in range(count - 1, -1, -1)) if o >= first + step]


def train_value(
    dataset: Any, horizon_days: int | None = None, count: int = 4
) -> tuple[ValueForecast, ValueBacktest]:
    """Backtest over `value_origins` and refit on every labelled row of a
    `training.dataset.Dataset`; groups are the rows' owners at their as-of time."""
    meta = dataset.meta
    horizon = horizon_days or dataset.config.horizon_days
    labelled = meta["revenue"].notna().to_numpy()
    X, as_of = dataset.X[labelled], meta["as_of"].to_numpy()[labelled]
    revenue = meta["revenue"].to_numpy()[labelled]
    orders = meta["orders_next"].to_numpy()[labelled]
    groups = list(meta["owner_rep_id"][labelled])
    origins = value_origins(as_of, horizon, count)
    if not origins:
        raise ValueError("too short a labelled history for a value backtest (one horizon)")
    backtest = backtest_value(X, revenue, as_of, groups, origins, horizon, orders=orders)
    return fit_value(X, revenue, as_of, backtest, horizon, orders=orders), backtest
