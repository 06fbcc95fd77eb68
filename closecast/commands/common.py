"""Arguments and steps several commands share."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from closecast.errors import UserError
from streams.core.contract import InvalidEvent, parse_as_of
from streams.worker.settings import SettingsError

if TYPE_CHECKING:
    from features.policy import Policy
    from models.scoring import Scorer
    from streams.core.snapshot import Snapshot

# Every command module imports this one to build its parser, before any command runs: the
# replay and the models are imported by the functions that use them, so `closecast --help`
# and the light commands start fast.

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


def check_logs(paths: list[Path]) -> None:
    """Each log given is a file that exists, or the user is told which is not and why."""
    for path in paths:
        if path.is_dir():
            raise UserError(f"{path}: is a folder, not a log file (give the .jsonl files in it)")
        if not path.is_file():
            raise UserError(f"{path}: no such file")


def check_out(path: Path | None) -> None:
    """An output file goes into a folder that exists: a typo never creates folders."""
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"--out {path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise UserError(f"--out {path}: the folder {path.parent} does not exist")


def load_snapshot(args: argparse.Namespace) -> Snapshot:
    from streams.embedded.replay import replay_files

    check_logs(args.files)
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


def require_events(snapshot: Snapshot, files: list[object]) -> None:
    """Nothing to plan from a log without one valid event: say so, never "0 lines"."""
    stats = snapshot.stats
    if stats.events_applied or stats.after_as_of:
        return
    names = ", ".join(str(f) for f in files)
    if stats.rejected:
        raise UserError(
            f"{names}: no valid event in {stats.rejected} lines (each rejected, with its "
            "reason, into the dead-letter file)"
        )
    raise UserError(f"{names}: the log is empty")


def make_scorer(args: argparse.Namespace, policy: Policy) -> Scorer:
    from models.registry import load_scorer
    from models.scoring import Scorer

    if getattr(args, "heuristic_only", False):
        return Scorer(None, policy)
    return load_scorer(args.model_dir, policy)


def run_watch(args: argparse.Namespace, policy: Policy) -> None:
    """The drift watch on the log given (`training.drift`), saying what it did."""
    from models.registry import Registry
    from training.drift import watch_log

    registry = Registry(args.model_dir)
    if registry.current() is None:
        return
    try:
        record = watch_log(args.files, registry, as_of_arg(args.as_of), policy)
    except ValueError as exc:
        raise UserError(f"drift watch: {exc}") from None
    if record is not None and record.action != "none":
        print(f"drift watch: {record.action}: {record.note}", file=sys.stderr)
