"""What a competent analyst builds in an afternoon, from the raw log, without the product.

- `read_log`: the JSON Lines log as a pandas frame of valid, de-duplicated events (a line
  that is not JSON, lacks a field or has an offset-less time is skipped, as the product
  rejects it).
- `counts`: simple per-customer counts as of a time (contacts, effective contacts, days
  since the last contact, orders, days since the last order, order value, quotes, age...).
- `Reference`: gradient boosting on those counts, trained on the most recent snapshots
  whose 90-day labels are complete, and a Poisson regression of 90-day revenue.
- `Btyd`: PyMC-Marketing's BG/NBD on the recency-frequency summary of orders, with a
  Gamma-Gamma spend model for revenue.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

DAY = pd.Timedelta(days=1)
DAY_S = 86_400.0
OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
FIELDS = ("event_id", "type", "occurred_at", "payload")


def read_log(path: Path) -> pd.DataFrame:
    """customer_id, type, ts (UTC, tz-naive), amount, effective: one row per valid event."""
    rows: dict[str, tuple[object, ...]] = {}
    with path.open("rb") as handle:
        for raw in handle:
            try:
                e = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(e, dict) or any(f not in e for f in FIELDS):
                continue
            if not isinstance(e["occurred_at"], str) or not OFFSET.search(e["occurred_at"]):
                continue
            payload = e["payload"] if isinstance(e["payload"], dict) else {}
            rows.setdefault(
                str(e["event_id"]),
                (
                    e.get("customer_id"),
                    e["type"],
                    e["occurred_at"],
                    payload.get("amount"),
                    payload.get("effective", True),
                ),
            )
    frame = pd.DataFrame(
        list(rows.values()), columns=["customer_id", "type", "ts", "amount", "effective"]
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601").dt.tz_localize(None)
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce").fillna(0.0)
    frame["effective"] = frame["effective"].astype(bool)
    return frame.dropna(subset=["customer_id"]).sort_values("ts", kind="stable")


def known(events: pd.DataFrame, t: pd.Timestamp) -> pd.Index:
    """Customers with at least one event at or before t."""
    return pd.Index(events.loc[events["ts"] <= t, "customer_id"].unique())


def outcome(events: pd.DataFrame, ids: pd.Index, t: pd.Timestamp, days: int = 90) -> pd.DataFrame:
    """y: an order in (t, t + days]; revenue: their total value."""
    orders = events[
        (events["type"] == "order_won") & (events["ts"] > t) & (events["ts"] <= t + days * DAY)
    ]
    revenue = orders.groupby("customer_id")["amount"].sum().reindex(ids, fill_value=0.0)
    return pd.DataFrame({"y": (revenue > 0).astype(int), "revenue": revenue}, index=ids)


def counts(events: pd.DataFrame, ids: pd.Index, t: pd.Timestamp) -> pd.DataFrame:
    past = events[events["ts"] <= t]
    out = pd.DataFrame(index=ids)
    age = (t - past.groupby("customer_id")["ts"].min()).dt.total_seconds() / DAY_S
    out["age_days"] = age.reindex(ids)
    for kind, name in (
        ("contact_made", "contacts"),
        ("order_won", "orders"),
        ("quote_sent", "quotes"),
    ):
        rows = past[past["type"] == kind]
        if kind == "contact_made":
            good = rows[rows["effective"]]
            out["effective_contacts"] = (
                good.groupby("customer_id").size().reindex(ids, fill_value=0)
            )
            last = (t - good.groupby("customer_id")["ts"].max()).dt.total_seconds() / DAY_S
            out["days_since_effective_contact"] = last.reindex(ids)
        out[name] = rows.groupby("customer_id").size().reindex(ids, fill_value=0)
        out[f"{name}_90d"] = (
            rows[rows["ts"] > t - 90 * DAY].groupby("customer_id").size().reindex(ids, fill_value=0)
        )
        out[f"days_since_{name[:-1]}"] = (
            (t - rows.groupby("customer_id")["ts"].max()).dt.total_seconds() / DAY_S
        ).reindex(ids)
    orders = past[past["type"] == "order_won"]
    out["order_value"] = orders.groupby("customer_id")["amount"].sum().reindex(ids, fill_value=0.0)
    recent = orders[orders["ts"] > t - 365 * DAY]
    out["order_value_365d"] = (
        recent.groupby("customer_id")["amount"].sum().reindex(ids, fill_value=0.0)
    )
    out["orders_365d"] = recent.groupby("customer_id").size().reindex(ids, fill_value=0)
    out["lost"] = (
        past[past["type"] == "order_lost"].groupby("customer_id").size().reindex(ids, fill_value=0)
    )
    # "Never" as a long time ago: a column that is all missing (no contacts in the log)
    # would break the binning.
    since = [str(c) for c in out.columns if str(c).startswith("days_since")]
    out[since] = out[since].fillna(10_000.0)
    return out.astype(float)


def training_times(start: pd.Timestamp, cut: pd.Timestamp, days: int = 90) -> list[pd.Timestamp]:
    """The latest snapshots whose labels close by the cut: cut - 90d and three before it,
    every 30 days, as long as the log has two weeks of history at them."""
    times = [cut - (days + 30 * k) * DAY for k in range(4)]
    kept = [t for t in times if t >= start + 14 * DAY]
    return kept or [t for t in times[:1] if t > start]


@dataclass
class Reference:
    classifier: HistGradientBoostingClassifier
    regressor: HistGradientBoostingRegressor

    @classmethod
    def fit(cls, events: pd.DataFrame, cut: pd.Timestamp) -> Reference:
        frames = []
        for t in training_times(events["ts"].min(), cut):
            ids = known(events, t)
            frames.append(counts(events, ids, t).join(outcome(events, ids, t)))
        data = pd.concat(frames)
        X = data.drop(columns=["y", "revenue"])
        classifier = HistGradientBoostingClassifier(random_state=0).fit(X, data["y"])
        regressor = HistGradientBoostingRegressor(loss="poisson", random_state=0).fit(
            X, data["revenue"]
        )
        return cls(classifier, regressor)

    def predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self.classifier.predict_proba(X)[:, 1], self.regressor.predict(X)


def _rfm(events: pd.DataFrame, ids: pd.Index, t: pd.Timestamp) -> pd.DataFrame:
    """BG/NBD's summary at t in days: repeat purchase days, recency and age from the first
    purchase, mean value of the repeat days. A customer without a purchase yet counts as
    born at their first event (an approximation: BG/NBD's clock starts at a purchase)."""
    past = events[events["ts"] <= t]
    orders = past[past["type"] == "order_won"].copy()
    orders["day"] = orders["ts"].dt.floor("D")
    daily = orders.groupby(["customer_id", "day"])["amount"].sum().reset_index()
    first = daily.groupby("customer_id")["day"].min()
    last = daily.groupby("customer_id")["day"].max()
    n_days = daily.groupby("customer_id").size()
    total = daily.groupby("customer_id")["amount"].sum()
    first_amount = daily.sort_values("day").groupby("customer_id")["amount"].first()
    born = past.groupby("customer_id")["ts"].min().dt.floor("D")
    t_day = t.floor("D")
    frequency = (n_days - 1).reindex(ids, fill_value=0).astype(float)
    start = first.reindex(ids).fillna(born.reindex(ids)).fillna(t_day)
    recency = ((last.reindex(ids) - first.reindex(ids)).dt.total_seconds() / DAY_S).fillna(0.0)
    repeat_value = ((total - first_amount) / (n_days - 1).where(n_days > 1)).reindex(ids)
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(ids)),
            "frequency": frequency.to_numpy(),
            "recency": recency.to_numpy(),
            "T": np.maximum(
                ((t_day - start).dt.total_seconds() / DAY_S).to_numpy(), recency.to_numpy()
            ),
            "monetary_value": repeat_value.fillna(0.0).to_numpy(),
        }
    )


def _mean(array: object) -> np.ndarray:
    dims = [d for d in ("chain", "draw") if d in array.dims]  # type: ignore[attr-defined]
    return np.asarray(array.mean(dims).values, dtype=float)  # type: ignore[attr-defined]


@dataclass
class Btyd:
    """BG/NBD for P(an order in 90 days) and expected orders; Gamma-Gamma for their value."""

    purchases: object
    spend: object | None

    @classmethod
    def fit(cls, events: pd.DataFrame, cut: pd.Timestamp) -> Btyd:
        from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

        logging.getLogger("pymc").setLevel(logging.ERROR)
        logging.getLogger("pymc_marketing").setLevel(logging.ERROR)
        buyers = pd.Index(events.loc[events["type"] == "order_won", "customer_id"].unique())
        rfm = _rfm(events, buyers, cut)
        rfm = rfm[rfm["T"] > 0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            purchases = BetaGeoModel(rfm[["customer_id", "frequency", "recency", "T"]])
            purchases.fit(fit_method="map", progressbar=False)
            repeat = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
            spend = None
            if len(repeat) >= 50:
                spend = GammaGammaModel(repeat[["customer_id", "frequency", "monetary_value"]])
                spend.fit(fit_method="map", progressbar=False)
        return cls(purchases, spend)

    def predict(
        self, events: pd.DataFrame, ids: pd.Index, t: pd.Timestamp, days: int = 90
    ) -> tuple[np.ndarray, np.ndarray]:
        rfm = _rfm(events, ids, t)
        rfm["T"] = rfm["T"].clip(lower=1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self.purchases
            none = _mean(model.expected_probability_no_purchase(days, rfm))  # type: ignore[attr-defined]
            n = _mean(model.expected_purchases(rfm, future_t=days))  # type: ignore[attr-defined]
            if self.spend is not None:
                spend = _mean(self.spend.expected_customer_spend(rfm))  # type: ignore[attr-defined]
            else:
                spend = np.full(
                    len(rfm), float(events.loc[events["type"] == "order_won", "amount"].mean())
                )
        p = np.clip(1.0 - none, 0.0, 1.0)
        value = np.where(np.isfinite(n * spend), n * spend, 0.0)
        return np.nan_to_num(p, nan=0.0), value


def finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else x
