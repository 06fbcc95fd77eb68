"""The buy-till-you-die model: from orders alone, customers simulated from a BG/NBD
process are ranked by their chance to order again as the process says."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from features.customer import FEATURE_NAMES, INDEX
from models.btyd import BTYDModel, rfm

HORIZON = 90.0


def bgnbd(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows of customers living a BG/NBD process (first order at time 0, observed
    T days later), their true chance of an order in the next 90 days, and whether one came."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.8, 1 / 40.0, n)  # orders per day while alive: a mean of one per 50 days
    drop = rng.beta(1.0, 4.0, n)  # chance of dropping out after each order
    age = rng.uniform(60, 700, n)
    X = np.zeros((n, len(FEATURE_NAMES)))
    truth = np.zeros(n)
    came = np.zeros(n, dtype=bool)
    for i in range(n):
        t, last, repeats, alive = 0.0, 0.0, 0, True
        while alive:
            t += rng.exponential(1 / lam[i])
            if t > age[i]:
                break
            repeats, last = repeats + 1, t
            alive = rng.random() >= drop[i]
        if alive:
            truth[i] = 1 - np.exp(-lam[i] * HORIZON)
            came[i] = rng.exponential(1 / lam[i]) <= HORIZON  # memoryless: from `age` on
        X[i, INDEX["orders"]] = repeats + 1
        X[i, INDEX["days_since_first_order"]] = age[i]
        X[i, INDEX["days_since_order"]] = age[i] - last
        X[i, INDEX["lead_age_days"]] = age[i]
    return X, truth, came


def test_rfm_counts_repeat_orders_from_the_first_one() -> None:
    X = np.zeros((2, len(FEATURE_NAMES)))
    X[0, [INDEX["orders"], INDEX["days_since_first_order"], INDEX["days_since_order"]]] = 3, 200, 20
    X[1, INDEX["lead_age_days"]] = 45  # a lead that never ordered
    data = rfm(X)
    assert data[["frequency", "recency", "T"]].to_numpy().tolist() == [[2, 180, 200], [0, 0, 45]]


def test_btyd_recovers_the_rank_order_of_a_bgnbd_process(tmp_path: object) -> None:
    X, truth, came = bgnbd(3000, seed=1)
    model = BTYDModel().fit(X)
    # The process's own parameters come back (r, alpha: the order rates; a, b: drop-out).
    simulated = {"r": 0.8, "alpha": 40.0, "a": 1.0, "b": 4.0}
    for name, value in simulated.items():
        assert model.params_[name] == pytest.approx(value, rel=0.25), name
    proba = model.predict_proba(X)
    assert proba.shape == (3000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    p = proba[:, 1]
    # Who orders next is ranked from frequency, recency and age together better than by
    # any one of them, and close to the truth's ranking (which knows who is still alive).
    auc = roc_auc_score(came, p)
    assert auc > 0.75
    assert auc > roc_auc_score(came, X[:, INDEX["orders"]]) + 0.02
    assert auc > roc_auc_score(came, -X[:, INDEX["days_since_order"]]) + 0.01
    assert auc > roc_auc_score(came, truth) - 0.15
    # And its probabilities are about right on average.
    assert p.mean() == pytest.approx(came.mean(), abs=0.03)
    expected = model.expected_orders(X)
    assert (expected >= p - 1e-9).all()  # E[N] >= P(N >= 1)
    assert np.array_equal(np.argsort(model.decision_function(X)), np.argsort(np.log(p / (1 - p))))
    # It survives the registry's joblib round trip (only the parameters are kept).
    path = tmp_path / "btyd.joblib"  # type: ignore[operator]
    joblib.dump(model, path)
    np.testing.assert_allclose(joblib.load(path).predict_proba(X[:50]), proba[:50])


def test_btyd_fits_the_latest_cross_section_and_refuses_what_it_cannot_learn() -> None:
    X, _, _ = bgnbd(400, seed=2)
    stamps = np.repeat([1, 2], 200)
    model = BTYDModel().fit(X, as_of=stamps)
    assert model.customers_ == 200
    with pytest.raises(ValueError, match="repeat orders"):
        BTYDModel().fit(np.zeros((50, len(FEATURE_NAMES))))
