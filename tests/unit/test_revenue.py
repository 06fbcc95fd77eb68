"""Expected revenue: totals that add up to what comes, intervals that cover it about as
often as they say, and a backtest that never trains on a label it could not have known."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from models.revenue import (
    RevenueModel,
    Systematic,
    ValueForecast,
    load_value,
    order_size,
    save_value,
)
from streams.core.state import DAY_US
from training.dataset import Dataset
from training.value import (
    TEAM,
    backtest_value,
    fit_value,
    noise_variance,
    systematic_error,
    train_value,
    value_origins,
)

SHAPE = 2.0  # Gamma shape of order amounts (CV 0.71)
MEAN_ORDER = 1000.0


def world(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and each customer's true orders per horizon and mean order amount."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 3))
    rate = np.exp(-2.0 + 2.5 * X[:, 0])  # 0.14 to 1.65 orders per horizon
    amount = MEAN_ORDER * (0.5 + X[:, 1])  # bigger customers order more per order
    return X, np.column_stack([rate, amount])


def draw(truth: np.ndarray, rng: np.random.Generator, shock: float = 1.0) -> tuple[Any, Any]:
    """One horizon: orders per customer (Poisson) and their summed Gamma amounts."""
    orders = rng.poisson(truth[:, 0] * shock)
    revenue = np.zeros(len(orders))
    some = orders > 0
    revenue[some] = rng.gamma(orders[some] * SHAPE, truth[some, 1] / SHAPE)
    return revenue, orders


def test_predicted_totals_match_the_expected_revenue_of_poisson_customers() -> None:
    X, truth = world(20_000, seed=1)
    revenue, orders = draw(truth, np.random.default_rng(2))
    model = RevenueModel().fit(X, revenue, orders=orders)
    X_new, truth_new = world(20_000, seed=3)
    predicted = model.predict(X_new)
    expected = truth_new[:, 0] * truth_new[:, 1]
    assert predicted.sum() == pytest.approx(expected.sum(), rel=0.03)
    # Per customer it is orders x spend, not one order x p: high-rate customers are
    # expected to bring more than one order's worth.
    busy = truth_new[:, 0] > 1.2
    assert predicted[busy].mean() > 1.1 * truth_new[busy, 1].mean()
    assert np.corrcoef(predicted, expected)[0, 1] > 0.85
    # The order size is measured on the single orders.
    assert model.order_mean_ == pytest.approx(MEAN_ORDER, rel=0.05)
    # Pooled amounts: Var = E[m²]/2 + Var(m) = 0.625 x 1000², so a shape of 1 / 0.625.
    assert model.order_shape_ == pytest.approx(1 / 0.625, rel=0.1)


def test_order_size_without_counts_takes_each_revenue_row_as_one_order() -> None:
    mean, shape = order_size(np.array([0.0, 100.0, 300.0, 0.0]))
    assert mean == 200.0
    assert shape == pytest.approx(200.0**2 / np.var([100.0, 300.0], ddof=1))
    with pytest.raises(ValueError, match="no order"):
        order_size(np.zeros(3))


def test_fit_rejects_bad_revenue_with_a_clear_error() -> None:
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="finite and >= 0"):
        RevenueModel().fit(X, np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="no row has any revenue"):
        RevenueModel().fit(X, np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        RevenueModel().fit(X, np.zeros(2))


def fitted_forecast(systematic: Systematic | None = None) -> ValueForecast:
    X, truth = world(5_000, seed=11)
    revenue, orders = draw(np.column_stack([truth[:, 0], np.full(len(X), MEAN_ORDER)]), rng(12))
    model = RevenueModel(max_iter=20).fit(X, revenue, orders=orders)
    return ValueForecast(model, systematic or Systematic())


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("customers", [30, 20_000])
def test_the_interval_of_a_sum_covers_its_noise_about_80_percent_of_the_time(
    customers: int,
) -> None:
    forecast = fitted_forecast()
    _, truth = world(customers, seed=21)
    truth[:, 1] = MEAN_ORDER
    expected = truth[:, 0] * truth[:, 1]
    value, low, high = forecast.total(expected)
    assert low < value < high
    gen = rng(22)
    covered = [low <= draw(truth, gen)[0].sum() <= high for _ in range(200)]
    assert 0.70 <= np.mean(covered) <= 0.90
    # The width follows the size: a rep's interval is wide, the team's narrow.
    width = (high - low) / value
    assert (width > 0.3) if customers == 30 else (width < 0.05)


def test_interval_with_a_shared_shock_measured_in_a_backtest_covers_about_80_percent() -> None:
    """Every horizon the whole book's rates move together (a base-rate drift); noise alone
    would give the 20,000-customer team an interval of +-1.5% that almost never covers.
    The backtest measures the miss over 12 past horizons and the interval then covers new
    horizons at about the stated rate, for the team and for each 30-customer rep."""
    forecast = fitted_forecast()
    _, truth = world(20_000, seed=31)
    truth[:, 1] = MEAN_ORDER
    expected = truth[:, 0] * MEAN_ORDER
    reps = np.array([f"r{i % 20}" for i in range(8_000)] + [None] * 12_000, dtype=object)
    gen = rng(32)
    model = forecast.model

    def horizon() -> tuple[float, pd.Series]:
        revenue, _ = draw(truth, gen, shock=float(np.exp(gen.normal(0, 0.1))))
        return float(revenue.sum()), pd.Series(revenue[:8_000]).groupby(reps[:8_000]).sum()

    rows = []
    per_rep = pd.Series(expected[:8_000]).groupby(reps[:8_000]).sum()
    for origin in range(12):
        team, by_rep = horizon()
        rows.append(
            {"origin": origin, "group": TEAM, "predicted": expected.sum(), "realised": team}
        )
        rows.extend(
            {"origin": origin, "group": r, "predicted": per_rep[r], "realised": by_rep[r]}
            for r in per_rep.index
        )
    records = pd.DataFrame(rows)
    records["noise_var"] = noise_variance(
        records["predicted"].to_numpy(), *forecast.order_moments()
    )
    measured = systematic_error(records)
    assert 0.05 < measured.team < 0.2 and measured.origins == 12
    served = ValueForecast(model, measured)
    _, low, high = served.total(expected)
    table = served.interval(expected[:8_000], list(reps[:8_000]))
    bounds = table.set_index("group")
    team_hits, rep_hits = [], []
    for _ in range(200):
        team, by_rep = horizon()
        team_hits.append(low <= team <= high)
        rep_hits.append(((by_rep >= bounds["low"]) & (by_rep <= bounds["high"])).mean())
    assert 0.70 <= np.mean(team_hits) <= 0.90
    assert 0.70 <= np.mean(rep_hits) <= 0.90


def test_interval_has_one_row_per_group_and_the_pool_last() -> None:
    forecast = fitted_forecast(Systematic(0.05, 0.1, 4))
    expected = np.array([10_000.0, 20_000.0, 30_000.0, 50.0])
    table = forecast.interval(expected, ["b", None, "b", "a"])
    assert list(table.columns) == ["group", "customers", "expected", "low", "high"]
    assert list(table["group"]) == ["a", "b", None]
    assert list(table["customers"]) == [1, 2, 1]
    assert list(table["expected"]) == [50.0, 40_000.0, 20_000.0]
    big = table.iloc[1:]
    assert (big["low"] < big["expected"]).all() and (big["expected"] < big["high"]).all()
    # A twentieth of one order's worth most likely brings nothing at all (95%).
    assert (table["low"].iloc[0], table["high"].iloc[0]) == (0.0, 0.0)
    # Missing owners from pandas or numpy (NaN) are the pool too.
    again = forecast.interval(expected, pd.Series(["b", np.nan, "b", "a"], dtype=object))
    assert list(again["group"]) == ["a", "b", None]
    with pytest.raises(ValueError, match="3 groups for 4"):
        forecast.interval(np.ones(4), ["a", "b", "c"])


def test_value_file_round_trip_and_absence(tmp_path: Path) -> None:
    assert load_value(tmp_path) is None
    forecast = fitted_forecast(Systematic(0.05, 0.1, 4))
    save_value(forecast, tmp_path)
    loaded = load_value(tmp_path)
    assert loaded is not None and loaded.systematic == forecast.systematic
    (tmp_path / "value.joblib").write_bytes(b"not a pickle")
    assert load_value(tmp_path) is None


# ---------------------------------------------------------------- the backtest


class RecordingModel(RevenueModel):
    fits: ClassVar[list[np.ndarray]] = []

    def fit(
        self,
        X: np.ndarray,
        revenue: np.ndarray,
        as_of: np.ndarray | None = None,
        orders: np.ndarray | None = None,
    ) -> RecordingModel:
        assert as_of is not None
        RecordingModel.fits.append(np.asarray(as_of).copy())
        super().fit(X, revenue, as_of, orders)
        return self


def panel(customers: int, times: int, seed: int) -> dict[str, Any]:
    """A stationary book seen every 30 days with a 90-day horizon, the tail unlabelled."""
    X, truth = world(customers, seed)
    gen = rng(seed + 1)
    blocks = [draw(truth, gen) for _ in range(times)]
    stamps = np.repeat(np.arange(times, dtype=np.int64) * 30 * DAY_US, customers)
    revenue = np.concatenate([b[0] for b in blocks])
    revenue[stamps >= (times - 3) * 30 * DAY_US] = np.nan  # horizons not closed yet
    return {
        "X": np.tile(X, (times, 1)),
        "revenue": revenue,
        "orders": np.concatenate([b[1] for b in blocks]),
        "as_of": stamps,
        "groups": [f"r{i % 10}" for i in range(customers)] * times,
    }


def test_backtest_trains_only_on_labels_closed_by_each_origin() -> None:
    data = panel(1_000, 16, seed=41)
    origins = [k * 90 * DAY_US for k in (1, 2, 3, 4)]
    RecordingModel.fits.clear()
    result = backtest_value(
        data["X"], data["revenue"], data["as_of"], data["groups"], origins, 90,
        orders=data["orders"], model=RecordingModel(max_iter=30),
    )  # fmt: skip
    assert len(RecordingModel.fits) == 4
    for origin, seen in zip(origins, RecordingModel.fits, strict=True):
        assert seen.max() + 90 * DAY_US <= origin
    # Each origin predicts its own slice, labelled rows only.
    tested = ~np.isnan(result.predictions)
    assert (data["as_of"][tested] >= origins[0]).all()
    assert not (tested & np.isnan(data["revenue"])).any()
    assert list(result.per_origin["origin"]) == origins
    # The first origin knew no earlier miss; later ones only misses of closed horizons.
    assert result.per_origin["systematic_team"].iloc[0] == 0.0
    assert result.systematic.origins == 4
    # On a stationary book the totals add up and the top tenth carries a big share.
    assert result.revenue_ratio == pytest.approx(1.0, abs=0.05)
    assert result.capture10 > 0.2
    summary = result.to_dict()
    assert summary["origins"] == 4 and 0.0 <= summary["team_coverage"] <= 1.0
    served = fit_value(
        data["X"], data["revenue"], data["as_of"], result, 90, orders=data["orders"],
        model=RecordingModel(max_iter=30),
    )  # fmt: skip
    # The refit sees every labelled row, the newest included, and no unlabelled one.
    labelled_max = data["as_of"][~np.isnan(data["revenue"])].max()
    assert RecordingModel.fits[-1].max() == labelled_max
    assert len(RecordingModel.fits[-1]) == int((~np.isnan(data["revenue"])).sum())
    assert served.systematic == result.systematic


def test_counts_follow_a_growing_book_one_horizon_ahead() -> None:
    """Orders per customer grow 8% a month, which no feature shows: the booster alone
    predicts the past's level; the newest window's level carries the growth forward."""
    X, truth = world(2_000, seed=51)
    gen = rng(52)
    months = 15
    blocks = [draw(truth * [1.08**m, 1.0], gen) for m in range(months + 3)]
    stamps = np.repeat(np.arange(months, dtype=np.int64) * 30 * DAY_US, len(X))
    revenue = np.concatenate([b[0] for b in blocks[:months]])
    orders = np.concatenate([b[1] for b in blocks[:months]])
    Xs = np.tile(X, (months, 1))
    # The next as-of time after the data: labels three months on from the last one.
    came = truth[:, 0].sum() * 1.08 ** (months + 2)
    flat = RevenueModel(max_iter=50).fit(Xs, revenue, orders=orders)
    level = RevenueModel(max_iter=50).fit(Xs, revenue, stamps, orders)
    assert flat.level_ == 1.0 and level.level_ > 1.2
    assert abs(np.log(level.expected_orders(X).sum() / came)) < 0.5 * abs(
        np.log(flat.expected_orders(X).sum() / came)
    )


def test_value_origins_are_one_horizon_apart_and_end_at_the_newest_labels() -> None:
    day = DAY_US
    stamps = np.arange(0, 400 * day, 14 * day)
    origins = value_origins(stamps, 90)
    assert origins == [int(stamps[-1]) - k * 90 * day for k in (3, 2, 1, 0)]
    # A short history gets fewer, each with a closed horizon before it.
    short = value_origins(np.arange(0, 150 * day, 14 * day), 90)
    assert short == [int(140 * day)]
    assert value_origins(np.arange(0, 60 * day, 14 * day), 90) == []


def test_train_value_on_a_dataset_serves_and_backtests(training_dataset: Dataset) -> None:
    forecast, backtest = train_value(training_dataset)
    assert backtest.systematic.origins == len(backtest.per_origin) >= 3
    assert forecast.backtested and forecast.systematic == backtest.systematic
    labelled = training_dataset.meta["revenue"].notna().to_numpy()
    expected = forecast.expected_revenue(training_dataset.X[labelled])
    assert (expected >= 0).all()
    assert 0.5 < backtest.revenue_ratio < 2.0
    summary = backtest.to_dict()
    assert summary["origins"] == len(summary["per_origin"])
