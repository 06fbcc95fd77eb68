"""`closecast train`: rebuild the point-in-time data set, train every model kind, grade
them on the time-ordered holdout, register them, and promote the best only through the
gate (`models.promotion`)."""

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
DEFAULT_TEST_SHARE = 0.25
DEFAULT_CADENCE_DAYS = 14
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
        "--test-share",
        type=float,
        default=None,
        help=f"share of the latest as-of dates held out for grading (default {DEFAULT_TEST_SHARE})",
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
        help=f"days between snapshots (default {DEFAULT_CADENCE_DAYS})",
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
        cadence = args.cadence_days if args.cadence_days is not None else defaults.cadence_days
        if horizon < 1 or cadence < 1:
            raise UserError("--horizon-days and --cadence-days must be at least 1")
        config = DatasetConfig(
            horizon_days=horizon,
            cadence_days=cadence,
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
    dataset = build_dataset(events, config, policy)
    labelled = dataset.labelled
    print(
        f"data set: {labelled.sum():,} labelled snapshots of customers at "
        f"{len(set(dataset.as_of[labelled].tolist()))} as-of dates, "
        f"{int(dataset.y[labelled].sum()):,} followed by an order within "
        f"{config.horizon_days} days; labels complete to {to_datetime(dataset.end):%Y-%m-%d}"
    )
    return dataset


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from features.policy import Policy
    from models.promotion import PromotionRule
    from models.registry import Registry
    from training.retrain import TrainingConfig, retrain

    policy = Policy.from_env()
    test_share = TrainingConfig().test_share if args.test_share is None else args.test_share
    if not 0.0 < test_share < 1.0:
        raise UserError("--test-share must be between 0 and 1")
    dataset = dataset_from_args(args, policy)
    registry = Registry(args.model_dir)
    rule = PromotionRule()
    try:
        result = retrain(dataset, registry, TrainingConfig(test_share=test_share, rule=rule))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    split = result.split
    print(
        f"holdout: as-of {to_datetime(split.test_window[0]):%Y-%m-%d} to "
        f"{to_datetime(split.test_window[1]):%Y-%m-%d}; training: "
        f"{to_datetime(split.train_window[0]):%Y-%m-%d} to "
        f"{to_datetime(split.train_window[1]):%Y-%m-%d} ({split.gap_days}-day gap)"
    )
    table = pd.DataFrame(result.table())
    columns = ["scorer", "rows", "positives", "roc_auc", "pr_auc", "brier", "ece", "capture_10"]
    columns += ["coverage"] if "coverage" in table else []
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for kind, why in result.failures.items():
        print(f"{kind}: not trained: {why}")
    if result.current_note:
        print(f"note: {result.current_note}")
    if result.promoted:
        print(f"promoted {result.promoted} to current ({rule.describe()})")
    elif result.best is not None:
        print(f"kept {result.best.version} as a candidate, not promoted:")
        for reason in result.decision.reasons:
            print(f"  - {reason}")
        print(f"  (the gate: {rule.describe()})")
    else:
        raise UserError("; ".join(result.decision.reasons))
    return 0
