"""The trained models: scikit-learn's contract, what they accept, and reasons that add up
and read as plain words."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from features.customer import FEATURE_NAMES, INDEX
from models.heuristic import HeuristicModel
from models.learned import (
    AGES,
    CalibratedGBM,
    DependenceContributions,
    RegularisedLogistic,
    TrainedModel,
    purged_folds,
)
from models.reasons import MIN_EFFECT, explain, explain_row, template_fields
from models.scoring import Scorer
from models.wording import SUFFIX, TOPICS
from streams.core.state import DAY_US
from training.dataset import Dataset
from training.evaluate import time_split
from training.retrain import RetrainResult


@pytest.fixture(scope="module")
def split_data(training_dataset: Dataset) -> dict[str, np.ndarray]:
    split = time_split(training_dataset.as_of, training_dataset.config.horizon_days)
    X, y, a = training_dataset.X, training_dataset.y.astype(int), training_dataset.as_of
    return {
        "X": X[split.train],
        "y": y[split.train],
        "as_of": a[split.train],
        "X_test": X[split.test],
        "y_test": y[split.test],
    }


@pytest.fixture(scope="module")
def models(trained_registry: tuple[Path, RetrainResult]) -> dict[str, TrainedModel]:
    """The models `retrain` fit on the training part of `split_data` (same split)."""
    return {c.kind: c.model for c in trained_registry[1].candidates}


# ---------------------------------------------------------------- estimator contract


@pytest.mark.parametrize("estimator", [CalibratedGBM(max_iter=20), RegularisedLogistic()])
def test_estimators_follow_the_sklearn_contract(
    estimator: CalibratedGBM | RegularisedLogistic, split_data: dict[str, np.ndarray]
) -> None:
    params = estimator.get_params()
    fresh = clone(estimator)
    assert fresh.get_params() == params
    assert not any(name.endswith("_") for name in vars(fresh))  # __init__ stores only params
    # Every third training row: few enough to be quick, spanning the whole window so the
    # purged calibration folds have data on both sides.
    X, y, a = split_data["X"][::3], split_data["y"][::3], split_data["as_of"][::3]
    assert fresh.fit(X, y, as_of=a) is fresh
    assert list(fresh.classes_) == [0, 1]
    proba = fresh.predict_proba(split_data["X_test"][:50])
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(fresh.predict(split_data["X_test"][:50]))) <= {0, 1}
    assert fresh.get_params() == params  # fitting changed no hyperparameter


def test_a_fit_is_reproducible(split_data: dict[str, np.ndarray]) -> None:
    X, y, a = split_data["X"][::3], split_data["y"][::3], split_data["as_of"][::3]
    p1 = CalibratedGBM(max_iter=20).fit(X, y, as_of=a).predict_proba(split_data["X_test"])
    p2 = CalibratedGBM(max_iter=20).fit(X, y, as_of=a).predict_proba(split_data["X_test"])
    np.testing.assert_array_equal(p1, p2)


def test_one_class_only_is_refused(split_data: dict[str, np.ndarray]) -> None:
    X = split_data["X"][:500]
    with pytest.raises(ValueError, match="both outcomes"):
        RegularisedLogistic().fit(X, np.zeros(500, dtype=int))


def test_calibration_folds_are_purged_blocks() -> None:
    as_of = np.repeat(np.arange(20) * 14 * DAY_US, 5)
    gap = 90 * DAY_US
    folds = purged_folds(as_of, 4, gap)
    tested = np.sort(np.concatenate([test for _, test in folds]))
    np.testing.assert_array_equal(tested, np.arange(len(as_of)))  # a partition
    for train, test in folds:
        lo, hi = as_of[test].min(), as_of[test].max()
        assert ((as_of[train] < lo - gap) | (as_of[train] > hi + gap)).all()
        assert len(train) > 0


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
        bad[0, INDEX["effective_contacts"]] = 1e6
        bad[1, INDEX["potential_value_log"]] = np.nan
        bad[2, INDEX["rep_contacts_4w"]] = np.inf
        bad[3, INDEX["quotes"]] = -5.0
        bad[4, INDEX["lead_age_days"]] = np.inf  # an age: open above, but never infinite
        mask = model.accepts(bad)
        assert not mask[:5].any()
        assert mask[5:].all()


def test_ages_beyond_the_training_window_are_accepted(models: dict[str, TrainedModel]) -> None:
    model = models["logistic"]
    row = ((model.seen_lo + model.seen_hi) / 2)[None, :].copy()
    row[0, INDEX["lead_age_days"]] = model.seen_hi[INDEX["lead_age_days"]] * 3 + 1000
    assert model.accepts(row).all()
    # ...and the logistic model treats them as the oldest it saw, not extrapolating.
    edge = row.copy()
    edge[0, INDEX["lead_age_days"]] = model.seen_hi[INDEX["lead_age_days"]]
    np.testing.assert_allclose(model.predict_proba(row), model.predict_proba(edge))
    assert set(AGES) <= set(FEATURE_NAMES)


# ---------------------------------------------------------------- contributions and reasons


def test_logistic_contributions_add_up_to_the_log_odds(
    models: dict[str, TrainedModel], split_data: dict[str, np.ndarray]
) -> None:
    model = models["logistic"]
    X = np.clip(split_data["X_test"][:500], model.seen_lo, model.seen_hi)
    total = sum(model.contributions(X).values())
    logit = model.estimator.decision_function(X)
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
