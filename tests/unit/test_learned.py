"""The trained models: scikit-learn's contract, what they accept, and reasons that add up
and read as plain words."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.base import clone

from features.customer import FEATURE_NAMES, INDEX
from models.heuristic import HeuristicModel
from models.learned import (
    DOMAINS,
    DependenceContributions,
    RecentlyCalibrated,
    Recipe,
    TrainedModel,
    customer_folds,
    fit_model,
    recent_window,
)
from models.reasons import MIN_EFFECT, explain, explain_row, template_fields
from models.scoring import Scorer
from models.wording import SUFFIX, TOPICS
from streams.core.state import DAY_US
from training.dataset import Dataset
from training.evaluate import time_split


@pytest.fixture(scope="module")
def split_data(training_dataset: Dataset) -> dict[str, np.ndarray]:
    split = time_split(training_dataset.as_of, training_dataset.config.horizon_days)
    X, y, a = training_dataset.X, training_dataset.y.astype(int), training_dataset.as_of
    ids = training_dataset.meta["customer_id"].to_numpy()
    return {
        "X": X[split.train],
        "y": y[split.train],
        "as_of": a[split.train],
        "groups": ids[split.train],
        "X_test": X[split.test],
        "y_test": y[split.test],
    }


@pytest.fixture(scope="module")
def models(split_data: dict[str, np.ndarray]) -> dict[str, TrainedModel]:
    """Both kinds fitted on the training part of `split_data`, as `closecast train` fits."""
    d = split_data
    return {
        kind: fit_model(Recipe(kind), d["X"], d["y"], d["as_of"], d["groups"])
        for kind in ("gbm", "logistic")
    }


# ---------------------------------------------------------------- estimator contract


@pytest.mark.parametrize(
    "estimator",
    [RecentlyCalibrated("gbm", {"max_iter": 20}), RecentlyCalibrated("logistic")],
)
def test_estimators_follow_the_sklearn_contract(
    estimator: RecentlyCalibrated, split_data: dict[str, np.ndarray]
) -> None:
    params = estimator.get_params()
    fresh = clone(estimator)
    assert fresh.get_params() == params
    assert not any(name.endswith("_") for name in vars(fresh))  # __init__ stores only params
    # Every third training row: few enough to be quick, spanning the whole window so the
    # purged calibration folds have data on both sides.
    X, y, a = split_data["X"][::3], split_data["y"][::3], split_data["as_of"][::3]
    assert fresh.fit(X, y, as_of=a, groups=split_data["groups"][::3]) is fresh
    assert list(fresh.classes_) == [0, 1]
    proba = fresh.predict_proba(split_data["X_test"][:50])
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(fresh.predict(split_data["X_test"][:50]))) <= {0, 1}
    assert fresh.get_params() == params  # fitting changed no hyperparameter


def test_a_fit_is_reproducible(split_data: dict[str, np.ndarray]) -> None:
    X, y, a = split_data["X"][::3], split_data["y"][::3], split_data["as_of"][::3]
    g = split_data["groups"][::3]
    fits = [RecentlyCalibrated("gbm", {"max_iter": 20}).fit(X, y, a, g) for _ in range(2)]
    p1, p2 = (f.predict_proba(split_data["X_test"]) for f in fits)
    np.testing.assert_array_equal(p1, p2)


def test_one_class_only_is_refused(split_data: dict[str, np.ndarray]) -> None:
    X = split_data["X"][:500]
    with pytest.raises(ValueError, match="both outcomes"):
        RecentlyCalibrated("logistic").fit(X, np.zeros(500, dtype=int))


def test_calibration_window_and_folds() -> None:
    as_of = np.repeat(np.arange(20) * 14 * DAY_US, 5)
    window = recent_window(as_of, 0.25)
    assert set(as_of[window]) == set(np.unique(as_of)[-5:])  # the last quarter of dates
    ids = np.array([f"c{i % 37}" for i in range(len(as_of))])
    folds = customer_folds(ids, 3)
    # A customer's rows are all in one fold (its snapshots share its future orders), and
    # the folds do not depend on the row order.
    for customer in set(ids):
        assert len(set(folds[ids == customer])) == 1
    np.testing.assert_array_equal(customer_folds(ids[::-1], 3), folds[::-1])
    assert set(folds) == {0, 1, 2}


def test_the_map_fixes_a_shifted_close_rate(split_data: dict[str, np.ndarray]) -> None:
    # Labels of the recent window with one close in three dropped: a lower base rate
    # there. The map is fitted on that window, so the served mean follows it.
    d = split_data
    window = recent_window(d["as_of"], 0.25)
    y = d["y"].copy()
    recent_closes = np.flatnonzero(window & (y == 1))
    y[recent_closes[::3]] = 0
    fitted = RecentlyCalibrated("logistic").fit(d["X"], y, d["as_of"], d["groups"])
    served = fitted.predict_proba(d["X"][window])[:, 1].mean()
    assert served == pytest.approx(y[window].mean(), rel=0.15)


def test_models_beat_the_heuristic_on_the_holdout(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    from sklearn.metrics import roc_auc_score

    X, y = split_data["X_test"], split_data["y_test"]
    rules = roc_auc_score(y, HeuristicModel().fit().predict_proba(X)[:, 1])
    for kind, model in models.items():
        auc = roc_auc_score(y, model.predict_proba(X)[:, 1])
        assert auc > rules, kind


# ---------------------------------------------------------------- what a model accepts


def test_accepts_rows_inside_the_widened_training_range(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    for model in models.values():
        inside = split_data["X"][:100].copy()
        assert model.accepts(inside).all()
        bad = inside.copy()
        bad[0, INDEX["tier"]] = 9.0  # a category beyond any seen
        bad[1, INDEX["potential_value_log"]] = np.nan
        bad[2, INDEX["rep_contacts_4w"]] = np.inf
        bad[3, INDEX["quotes"]] = -5.0
        bad[4, INDEX["lead_age_days"]] = np.inf  # an age: open above, but never infinite
        mask = model.accepts(bad)
        assert not mask[:5].any()
        assert mask[5:].all()


def test_counts_and_durations_beyond_the_training_window_are_accepted(
    models: dict[str, TrainedModel],
) -> None:
    # A log that ran longer than the training window: older leads, more contacts and
    # orders than any training row had. The model scores them (flat beyond its range).
    assert set(DOMAINS) < set(FEATURE_NAMES)
    model = models["logistic"]
    row = ((model.seen_lo + model.seen_hi) / 2)[None, :].copy()
    grown = row.copy()
    for j, name in enumerate(FEATURE_NAMES):
        if name not in DOMAINS:
            grown[0, j] = model.seen_hi[j] * 3 + 1000
    assert model.accepts(grown).all()
    # ...and the logistic model treats them as the largest it saw, not extrapolating.
    edge = row.copy()
    for j, name in enumerate(FEATURE_NAMES):
        if name not in DOMAINS:
            edge[0, j] = model.seen_hi[j]
    np.testing.assert_allclose(model.predict_proba(grown), model.predict_proba(edge))
    # A rate or a category the training rows never reached, inside its domain, is served
    # too (a young log's reps had converted 3% at most; three months on, 15%).
    for name, (_, top) in DOMAINS.items():
        unseen = row.copy()
        unseen[0, FEATURE_NAMES.index(name)] = top
        assert model.accepts(unseen).all(), name


# ---------------------------------------------------------------- contributions and reasons


def test_logistic_contributions_add_up_to_the_log_odds(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    model = models["logistic"]
    X = np.clip(split_data["X_test"][:500], model.seen_lo, model.seen_hi)
    assert model.contributions is not None
    total = sum(model.contributions(X).values())
    logit = model.estimator.decision_function(X)  # the served (calibrated) log-odds
    # Deviations from the training mean: the remainder is the log-odds of the mean customer.
    remainder = logit - total
    np.testing.assert_allclose(remainder, remainder[0], atol=1e-8)


def test_gbm_contributions_are_zero_at_the_median_and_follow_the_model(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    model = models["gbm"]
    X = split_data["X"]
    median = np.median(X, axis=0)[None, :]
    assert all(abs(float(t.values[0])) < 1e-9 for t in model.terms(median))
    # Moving the most influential feature moves its topic's contribution the same way as
    # the booster's partial dependence table says.
    contributions = model.contributions
    assert isinstance(contributions, DependenceContributions)
    j = max(range(len(contributions.features)), key=lambda k: np.ptp(contributions.values[k]))
    feature = contributions.features[j]
    grid, table = contributions.grids[j], contributions.values[j]
    rows = np.repeat(median, 2, axis=0)
    rows[0, feature], rows[1, feature] = grid[np.argmin(table)], grid[np.argmax(table)]
    name = FEATURE_NAMES[feature]
    topic = next(t.name for t in TOPICS if name in t.features)
    term = next(t for t in model.terms(rows) if t.name == topic)
    assert term.values[1] - term.values[0] == pytest.approx(np.ptp(table))


def test_placeholder_features_do_not_speak_for_customers_they_do_not_apply_to(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    # A lead never followed up has ineffective_share 0 by convention, not because every
    # follow-up got through: its contacts reason must not be credited for it.
    X = split_data["X"]
    row = np.median(X, axis=0)[None, :].copy()
    for name in ("effective_contacts", "total_contacts", "ineffective_share", "contacts_90d"):
        row[0, INDEX[name]] = 0.0
    for model in models.values():
        assert model.contributions is not None
        parts = model.contributions(row)
        contacts = next(t for t in model.terms(row) if t.name == "contacts")
        expected = sum(
            (parts.get(f, np.zeros(1)) for f in ("effective_contacts", "total_contacts")),
            np.zeros(1),
        )
        assert contacts.values[0] == pytest.approx(float(expected[0]))
        assert abs(float(parts.get("ineffective_share", np.zeros(1))[0])) > 0  # was zeroed


def test_every_feature_belongs_to_exactly_one_reason_topic() -> None:
    covered = [f for topic in TOPICS for f in topic.features]
    assert sorted(covered) == sorted(FEATURE_NAMES)
    for topic in TOPICS:
        assert topic.variants[-1][0] is None
        assert all(cond is not None for cond, _ in topic.variants[:-1])


def test_model_reasons_read_as_plain_words(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    X = split_data["X_test"][:3000]
    for model in models.values():
        reasons = explain(X, model.terms(X))
        lines = [line for row in reasons for line in row]
        assert len(lines) > 3000
        for line in set(lines):
            assert re.fullmatch(r"[+-] [^{}_]+ \(model\)", line), line
            assert "nan" not in line
        assert any(line.startswith("+ ") for line in lines)
        assert any(line.startswith("- ") for line in lines)


def test_fast_explain_equals_the_row_by_row_reference(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    X = split_data["X_test"][:1500]
    for terms in (
        HeuristicModel().fit().terms(X),
        models["gbm"].terms(X),
        models["logistic"].terms(X),
    ):
        fast = explain(X, terms)
        slow = [explain_row(X[i], terms, i) for i in range(len(X))]
        assert fast == slow
        for row, i in zip(fast, range(len(X)), strict=True):
            values = sorted((abs(float(t.values[i])) for t in terms), reverse=True)
            shown = sum(v >= MIN_EFFECT for v in values[:3])
            assert len(row) == shown


def test_every_template_renders(models: dict[str, TrainedModel]) -> None:
    for topic in TOPICS:
        for _, text in topic.variants:
            assert set(template_fields(text)) <= set(FEATURE_NAMES) | {
                "stage_name",
                "tier_name",
                "size_name",
                "need_value",
                "order_value",
                "potential_value",
            }
    assert SUFFIX == " (model)"


def test_the_scorer_serves_the_model_with_its_reasons(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    X = split_data["X_test"][:200]
    batch = Scorer(models["gbm"]).score(X)
    assert set(batch.source) == {"model"}
    np.testing.assert_allclose(batch.p_close, models["gbm"].predict_proba(X)[:, 1])
    assert all(all(line.endswith(SUFFIX) for line in r) for r in batch.reasons)
