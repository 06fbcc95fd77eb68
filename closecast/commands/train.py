"""`closecast train`: rebuild the point-in-time data set, backtest every recipe beside
the calibrated fallback (walk-forward), refit the best on every labelled row, register
it, and promote it only through the gate (`models.promotion`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closecast.commands.common import DEFAULT_MODEL_DIR, add_log_args, as_of_arg
from closecast.errors import UserError
from streams.core.contract import to_datetime

if TYPE_CHECKING:
    from features.policy import Policy
    from training.dataset import Dataset, DatasetConfig

# The parser's defaults are `None` and taken from `DatasetConfig` and `TrainingConfig` when
# the command runs: both live beside pandas and numpy, which `closecast --help` must not
# import. The help texts name the same numbers (a unit test compares them).
DEFAULT_FOLDS = 4
DEFAULT_MAX_ROWS_PER_AS_OF = 5000


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train close-probability models from a log; promote only one that beats the rest",
    )
    add_log_args(p)
    add_dataset_args(p)
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument(
        "--folds",
        type=int,
        default=DEFAULT_FOLDS,
        help=f"walk-forward origins of the backtest (default {DEFAULT_FOLDS})",
    )
    p.set_defaults(run=run)


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--horizon-days",
        type=int,
        default=None,
        help="a close is an order within this many days (default: the policy's, 90)",
    )
    p.add_argument(
        "--cadence-days",
        type=int,
        default=None,
        help="days between snapshots (default: adapts to the history, 3 to 14)",
    )
    p.add_argument(
        "--max-rows-per-as-of",
        type=int,
        default=None,
        help=f"customers sampled per snapshot (default {DEFAULT_MAX_ROWS_PER_AS_OF})",
    )


def dataset_from_args(
    args: argparse.Namespace, policy: Policy, config: DatasetConfig | None = None
) -> Dataset:
    from training.dataset import DatasetConfig, build_dataset, read_events

    for path in args.files:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    if config is None:
        defaults = DatasetConfig()
        horizon = args.horizon_days if args.horizon_days is not None else policy.horizon_days
        if horizon < 1 or (args.cadence_days is not None and args.cadence_days < 1):
            raise UserError("--horizon-days and --cadence-days must be at least 1")
        config = DatasetConfig(
            horizon_days=horizon,
            cadence_days=args.cadence_days,
            max_rows_per_as_of=(
                args.max_rows_per_as_of
                if args.max_rows_per_as_of is not None
                else defaults.max_rows_per_as_of
            ),
        )
    dead = args.dead_letters or args.files[0].with_name(args.files[0].name + ".rejected.jsonl")
    events = read_events(args.files, as_of_arg(args.as_of), dead, progress=args.progress)
    if events.rejected:
        print(f"{events.rejected} invalid lines skipped, kept in {dead}", file=sys.stderr)
    if events.held:
        print(
            f"{events.held} events dated ahead of the clock held: kept in the log, not "
            "trained on until their time comes",
            file=sys.stderr,
        )
    dataset = build_dataset(events, config, policy)
    labelled = dataset.labelled
    print(
        f"data set: {labelled.sum():,} labelled snapshots of customers at "
        f"{len(set(dataset.as_of[labelled].tolist()))} as-of dates, "
        f"{int(dataset.y[labelled].sum()):,} followed by an order within "
        f"{config.horizon_days} days; labels complete to {to_datetime(dataset.end):%Y-%m-%d} "
        f"(a snapshot every {dataset.config.cadence_days} days)"
    )
    return dataset


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from features.policy import Policy
    from models.promotion import PromotionRule
    from models.registry import Registry
    from training.retrain import TrainingConfig, retrain

    policy = Policy.from_env()
    if args.folds < 2:
        raise UserError("--folds must be at least 2")
    dataset = dataset_from_args(args, policy)
    registry = Registry(args.model_dir)
    rule = PromotionRule()
    try:
        result = retrain(dataset, registry, TrainingConfig(rule=rule, folds=args.folds))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(f"backtest ({result.plan.scheme}): {result.plan.note}")
    print("origins: " + ", ".join(f"{to_datetime(f.origin):%Y-%m-%d}" for f in result.plan.folds))
    table = pd.DataFrame(result.table())
    columns = ["scorer", "rows", "positives", "roc_auc", "pr_auc", "brier", "ece", "capture_10"]
    columns += ["model_share"] if "model_share" in table else []
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep=""))
    if result.fallback_note:
        print(f"note: {result.fallback_note}")
    for name, why in result.failures.items():
        print(f"{name}: not trained: {why}")
    if result.current_note:
        print(f"note: {result.current_note}")
    if result.best is None:
        raise UserError("; ".join(result.decision.reasons))
    assert result.model is not None
    window = result.model.window
    print(
        f"refit {result.best.name} on every labelled row: as-of "
        f"{to_datetime(window.first_as_of):%Y-%m-%d} to "
        f"{to_datetime(window.last_as_of):%Y-%m-%d} ({window.rows:,} rows, "
        f"{window.positives:,} closes), calibrated on the dates from "
        f"{to_datetime(window.calibration_first_as_of):%Y-%m-%d}"
    )
    if window.calibration_note:
        print(f"note: {window.calibration_note}")
    if result.promoted:
        print(f"promoted {result.promoted} to current ({rule.describe()})")
    else:
        print(f"kept {result.version} as a candidate, not promoted:")
        for reason in result.decision.reasons:
            print(f"  - {reason}")
        print(f"  (the gate: {rule.describe()})")
    return 0
