"""Retraining: backtest every recipe beside the calibrated fallback (and the current
model's recipe), pick the best, refit it on every labelled row, and promote the refit
only through the gate (`models.promotion`).

1. **Backtest** (`training.backtest`): every recipe in `TrainingConfig.recipes`, the
   calibrated fallback and, when the registry has a current model, its recipe, on the
   same walk-forward folds. What is graded is what would be served: the model where it
   accepts a row, the fallback (calibrated on what was known at that origin) elsewhere.
2. **Choose** the recipe with the best pooled ROC AUC (then the lower ECE).
3. **Refit** it on every labelled row: labels complete up to the data's end, so the
   newest rows are as-of minus one horizon. Its calibration map is fitted on the most
   recent labelled window (`models.learned`). Its metadata says that the artifact is a
   refit and that its quality numbers come from the backtest of its recipe.
4. **Gate** the backtest numbers against what would serve otherwise; register the refit
   either way (as a candidate when refused) and promote it when the gate allows.
5. **Fallback**: the scorecard's calibration map, fitted on the latest labelled window,
   is stored beside the models (`Registry.save_fallback`), so the heuristic that scores
   without a model, or a row the model declines, speaks the log's own close rate.
6. **Value**: the expected-revenue model (`models.revenue`) is backtested at the same
   origins (`training.value.backtest_value`: revenue total ratio, revenue capture@10%,
   interval coverage), refit on every labelled row with the backtest's systematic error,
   and stored with the version (`value.joblib`), so the served probability and the
   served revenue come from one training run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from features.policy import DEFAULT, Policy
from models.heuristic import HeuristicModel
from models.learned import RECIPES, Recipe, TrainedModel, fit_model
from models.promotion import Decision, PromotionRule, decide
from models.registry import Registry, RegistryError
from models.revenue import UNTESTED, ValueForecast
from models.scoring import Scorer
from training import backtest
from training.backtest import Outcome, Plan, Predictor, calibrated_fallback, iso
from training.dataset import Dataset
from training.value import ValueBacktest, backtest_value, fit_value


@dataclass(frozen=True)
class TrainingConfig:
    recipes: tuple[Recipe, ...] = RECIPES
    rule: PromotionRule = field(default_factory=PromotionRule)
    folds: int = backtest.FOLDS


@dataclass
class Candidate:
    recipe: Recipe
    outcome: Outcome

    @property
    def name(self) -> str:
        return self.recipe.name


@dataclass
class RetrainResult:
    plan: Plan
    fallback: Outcome
    fallback_note: str | None  # why the served fallback is not calibrated, if it is not
    candidates: list[Candidate]
    failures: dict[str, str]  # recipe name -> why it could not be trained
    best: Candidate | None
    decision: Decision
    current_version: str | None  # current before this run
    current: Outcome | None  # the current model's recipe on the same backtest
    current_note: str | None  # why the current model was not compared, or a caveat
    model: TrainedModel | None = None  # the refit of the best recipe
    version: str | None = None  # the refit's version, once registered
    promoted: str | None = None
    value: ValueForecast | None = None  # the expected-revenue refit
    value_backtest: ValueBacktest | None = None
    value_note: str | None = None  # why there is no value forecast, or a caveat

    def table(self) -> list[dict[str, Any]]:
        """One row per scorer on the backtest, pooled over its origins."""
        rows = [{"scorer": "calibrated fallback", **self.fallback.pooled.to_dict()}]
        if self.current is not None:
            rows.append(
                {
                    "scorer": f"current {self.current_version} ({self.current.name})",
                    **self.current.pooled.to_dict(),
                    "model_share": round(self.current.model_share, 4),
                }
            )
        for c in self.candidates:
            rows.append(
                {
                    "scorer": c.name,
                    **c.outcome.pooled.to_dict(),
                    "model_share": round(c.outcome.model_share, 4),
                }
            )
        return rows


def _served(model: TrainedModel, fallback: HeuristicModel) -> Predictor:
    scorer = Scorer(model, fallback.policy, calibration=fallback.calibration)
    return scorer.probabilities


class _Grader:
    """The labelled rows and the folds, with one way to fit each kind of scorer on a fold."""

    def __init__(self, data: Dataset, policy: Policy, folds: int) -> None:
        self.X = data.X
        self.y = data.y.astype(int)
        self.as_of = data.as_of
        self.groups = data.meta["customer_id"].to_numpy()
        self.heuristic = HeuristicModel(policy).fit()
        self.plan = backtest.plan(
            self.as_of, self.y, self.groups, data.config.horizon_days, folds=folds
        )
        self._fallbacks: dict[int, HeuristicModel] = {}

    def fallback_at(self, train: np.ndarray) -> HeuristicModel:
        key = hash(train.tobytes())
        if key not in self._fallbacks:
            self._fallbacks[key] = calibrated_fallback(
                self.X[train], self.y[train], self.as_of[train], self.heuristic
            )[0]
        return self._fallbacks[key]

    def fallback(self) -> Outcome:
        def fit(train: np.ndarray) -> Predictor:
            model = self.fallback_at(train)
            return lambda X: (model.predict_proba(X)[:, 1], np.zeros(len(X), dtype=bool))

        return backtest.run("calibrated fallback", self.plan, self.X, self.y, self.as_of, fit)

    def recipe(self, recipe: Recipe) -> Outcome:
        def fit(train: np.ndarray) -> Predictor:
            model = fit_model(
                recipe,
                self.X[train],
                self.y[train],
                self.as_of[train],
                self.groups[train],
                explain=False,
            )
            return _served(model, self.fallback_at(train))

        return backtest.run(recipe.name, self.plan, self.X, self.y, self.as_of, fit)


def _current_recipe(
    registry: Registry | None,
) -> tuple[str | None, Recipe | None, str | None]:
    if registry is None:
        return None, None, None
    version = registry.current()
    if version is None:
        return None, None, None
    try:
        meta = registry.metadata(version)
    except RegistryError as exc:
        return version, None, f"current model {version} not compared: {exc}"
    recipe = meta.get("recipe")
    if not isinstance(recipe, dict):
        return (
            version,
            None,
            (
                f"current model {version} predates recipes: not re-run on the backtest; "
                "compared with the fallback only"
            ),
        )
    try:
        return version, Recipe.from_dict(recipe), None
    except (KeyError, TypeError, ValueError):
        return version, None, f"current model {version}: recipe unreadable, not compared"


def _rank(c: Candidate) -> tuple[float, float]:
    auc, ece = c.outcome.pooled.roc_auc, c.outcome.pooled.ece
    return (-(auc if not math.isnan(auc) else -1.0), ece if not math.isnan(ece) else 1.0)


def _metadata(
    result: RetrainResult, data: Dataset, fallback_model: HeuristicModel, fit_seconds: float
) -> dict[str, Any]:
    assert result.best is not None and result.model is not None
    model, cfg, y = result.model, data.config, data.y
    window = model.window
    plan = result.plan
    return {
        "recipe": result.best.recipe.to_dict(),
        "params": {k: str(v) for k, v in model.estimator.get_params().items()},
        "fit_seconds": round(fit_seconds, 2),
        "artifact": (
            f"refit of recipe {result.best.name} on every labelled row "
            f"({iso(window.first_as_of)} to {iso(window.last_as_of)}, labels complete to "
            f"{iso(data.end)}); calibrated on the as-of dates from "
            f"{iso(window.calibration_first_as_of)} ({window.calibration_rows} rows, "
            "out-of-fold by customer). Quality numbers are from the walk-forward backtest "
            "of this recipe, not of this artifact"
        ),
        "training": {
            "first_as_of": iso(window.first_as_of),
            "last_as_of": iso(window.last_as_of),
            "rows": window.rows,
            "positives": window.positives,
            "horizon_days": cfg.horizon_days,
            "cadence_days": cfg.cadence_days,
            "warmup_days": cfg.warmup_days,
            "max_rows_per_as_of": cfg.max_rows_per_as_of,
            "statuses": list(cfg.statuses),
            "calibration_first_as_of": iso(window.calibration_first_as_of),
            "calibration_rows": window.calibration_rows,
            "calibration_note": window.calibration_note,
        },
        "backtest": {
            **plan.describe(),
            "rows": len(result.best.outcome.rows),
            "positives": int(y[result.best.outcome.rows].sum()),
            "candidate": result.best.outcome.to_dict(plan),
            "fallback": result.fallback.to_dict(plan),
            "current": None if result.current is None else result.current.to_dict(plan),
            "others": [c.outcome.to_dict(plan) for c in result.candidates if c is not result.best],
        },
        # The numbers every reader wants first: the backtest's, pooled over the origins.
        "metrics": result.best.outcome.pooled.to_dict(),
        "metrics_source": "walk-forward backtest of the recipe (pooled over origins)",
        "coverage": round(result.best.outcome.model_share, 6),
        "fallback_metrics": result.fallback.pooled.to_dict(),
        "fallback_calibration": (
            None if fallback_model.calibration is None else fallback_model.calibration.to_dict()
        ),
        "current_at_training": (
            None
            if result.current_version is None
            else {
                "version": result.current_version,
                "metrics": None if result.current is None else result.current.pooled.to_dict(),
            }
        ),
        "data": {
            "fingerprint": data.fingerprint,
            "events": data.events,
            "labels_complete_to": iso(data.end),
        },
        "decision": result.decision.to_dict(),
        "value": {
            "backtest": None if result.value_backtest is None else result.value_backtest.to_dict(),
            "forecast": None if result.value is None else result.value.to_dict(),
            "note": result.value_note,
        },
        "training_window": {
            "first_as_of": iso(window.first_as_of),
            "last_as_of": iso(window.last_as_of),
        },
        "note": (
            "; ".join(result.decision.reasons)
            if result.decision.reasons
            else "passed the promotion gate"
        ),
    }


def _fit_value(result: RetrainResult, data: Dataset) -> None:
    """Backtest the revenue model at the classifier's origins and refit it (step 6)."""
    meta = data.meta
    if "revenue" not in meta:
        result.value_note = "the data set has no revenue labels"
        return
    horizon = data.config.horizon_days
    revenue = meta["revenue"].to_numpy(dtype=float)
    orders = meta["orders_next"].to_numpy(dtype=float)
    owners = meta["owner_rep_id"]
    if not (revenue > 0).any():
        result.value_note = "no order in the labelled horizons: no value model"
        return
    try:
        if result.plan.scheme == "walk-forward":
            origins = [f.origin for f in result.plan.folds]
            result.value_backtest = backtest_value(
                data.X, revenue, data.as_of, owners, origins, horizon, orders
            )
        else:
            result.value_note = (
                "value not backtested: the history is too short for walk-forward origins, "
                "so its interval carries the untested systematic error"
            )
        backtested = result.value_backtest
        if backtested is None or backtested.per_origin.empty:
            # Nothing measured the systematic miss: the forecast carries the untested one.
            backtested = ValueBacktest(
                horizon, pd.DataFrame(), pd.DataFrame(), UNTESTED, np.empty(0)
            )
        result.value = fit_value(data.X, revenue, data.as_of, backtested, horizon, orders)
    except ValueError as exc:
        result.value_note = f"no value model: {exc}"


def retrain(
    dataset: Dataset,
    registry: Registry | None = None,
    config: TrainingConfig = TrainingConfig(),
    created_at: datetime | None = None,
    policy: Policy = DEFAULT,
    register: bool = True,
) -> RetrainResult:
    """Backtest, choose, refit, register and (through the gate) promote; see module doc.

    With `register=False` the registry is only read (its current model's recipe is
    backtested beside the new ones) and nothing is saved or promoted: a dry run.

    The boosters run on one OpenMP thread: on a two-core machine shared with a worker,
    two threads spin against the other processes (one fit took 78 s at load 12, 3.9 s
    on one thread), and every recipe is fitted a dozen times.
    """
    with threadpool_limits(limits=1):
        return _retrain(dataset, registry, config, created_at, policy, register)


def _retrain(
    dataset: Dataset,
    registry: Registry | None,
    config: TrainingConfig,
    created_at: datetime | None,
    policy: Policy,
    register: bool,
) -> RetrainResult:
    data = dataset.subset(dataset.labelled)
    grader = _Grader(data, policy, config.folds)
    fallback = grader.fallback()
    current_version, current_recipe, current_note = _current_recipe(registry)
    candidates: list[Candidate] = []
    failures: dict[str, str] = {}
    recipes = list(config.recipes)
    for recipe in recipes:
        try:
            candidates.append(Candidate(recipe, grader.recipe(recipe)))
        except ValueError as exc:
            failures[recipe.name] = str(exc)
    current: Outcome | None = None
    if current_recipe is not None:
        same = next((c for c in candidates if c.recipe == current_recipe), None)
        try:
            current = same.outcome if same else grader.recipe(current_recipe)
        except ValueError as exc:
            current_note = f"current model's recipe could not be re-run: {exc}"
    ranked = sorted(candidates, key=_rank)
    best = ranked[0] if ranked else None
    served_fallback, fallback_note = calibrated_fallback(
        grader.X, grader.y, grader.as_of, grader.heuristic
    )
    result = RetrainResult(
        grader.plan,
        fallback,
        fallback_note,
        candidates,
        failures,
        best,
        Decision(False, [f"no model could be trained: {failures}"]),
        current_version,
        current,
        current_note,
    )
    if registry is not None and register:
        registry.save_fallback(served_fallback.calibration, fallback_note, created_at)
    if best is None:
        return result
    started = time.perf_counter()
    result.model = fit_model(best.recipe, grader.X, grader.y, grader.as_of, grader.groups)
    seconds = time.perf_counter() - started
    result.decision = decide(
        best.outcome.pooled.to_dict(),
        fallback.pooled.to_dict(),
        None if current is None else current.pooled.to_dict(),
        result.model.window.rows,
        result.model.window.positives,
        config.rule,
        same_recipe_as_current=current_recipe == best.recipe,
    )
    _fit_value(result, data)
    if registry is not None and register:
        meta = _metadata(result, data, served_fallback, seconds)
        result.version = registry.save(result.model, meta, created_at, value=result.value)
        if result.decision.promote:
            registry.promote(result.version)
            result.promoted = result.version
    return result
