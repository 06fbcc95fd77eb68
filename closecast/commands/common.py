"""Arguments and steps several commands share."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from closecast.errors import UserError
from features.policy import Policy
from models.registry import Registry, load_scorer
from models.revenue import load_value
from models.scoring import Scorer
from streams.contract import InvalidEvent, parse_as_of
from streams.replay import Snapshot, replay_files
from streams.settings import SettingsError

DEFAULT_MODEL_DIR = Path(os.environ.get("CLOSECAST_MODEL_DIR", ".closecast/models"))


def add_log_args(
    parser: argparse.ArgumentParser, as_of_required: bool = False, workers: bool = False
) -> None:
    """The log files and how to read them; `workers`: the command folds them with
    `load_snapshot`, which can split the work over processes."""
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="event log (.jsonl)")
    parser.add_argument(
        "--as-of",
        required=as_of_required,
        help="only events with occurred_at <= this count (ISO date-time with offset, or a date)",
    )
    parser.add_argument(
        "--dead-letters",
        type=Path,
        default=None,
        help="write rejected lines here (default: FILE.rejected.jsonl beside the first file)",
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    if not workers:
        return
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes for the replay (default: one per core for logs over 32 MB; "
        "the result is the same)",
    )


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument(
        "--heuristic-only", action="store_true", help="ignore trained models, use the rules"
    )


def as_of_arg(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_as_of(text)
    except InvalidEvent as exc:
        raise UserError(f"--as-of: {str(exc).split(': ', 1)[-1]}") from None


def load_snapshot(args: argparse.Namespace) -> Snapshot:
    for path in args.files:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    dead = args.dead_letters or args.files[0].with_name(args.files[0].name + ".rejected.jsonl")
    workers = getattr(args, "workers", None)  # None: chosen by the log's size
    if workers is not None and workers < 1:
        raise UserError("--workers: must be 1 or more")
    try:
        snapshot = replay_files(
            args.files, as_of_arg(args.as_of), dead, progress=args.progress, workers=workers
        )
    except SettingsError as exc:  # CLOSECAST_REPLAY_WORKERS not a number
        raise UserError(str(exc)) from None
    if snapshot.stats.rejected:
        print(
            f"{snapshot.stats.rejected} invalid lines skipped, kept with reasons in {dead}",
            file=sys.stderr,
        )
    return snapshot


def make_scorer(args: argparse.Namespace, policy: Policy) -> Scorer:
    if getattr(args, "heuristic_only", False):
        return Scorer(None, policy)
    return with_value(load_scorer(args.model_dir, policy), args.model_dir)


def with_value(scorer: Scorer, model_dir: Path | None) -> Scorer:
    """The scorer with the revenue forecast of its model's version, if one is stored:
    until the registry stores it, an optional value.joblib beside model.joblib."""
    if scorer.model is not None and model_dir is not None:
        registry = Registry(model_dir)
        scorer.value = load_value(registry.versions_dir / scorer.model.version)
    return scorer
