"""Books for the planning commands: the log folded as of a time, scored, and, for the
weekly comparisons, folded once more as of a week before, in the same single read (the
way `streams.embedded.replay.replay_files` folds, with two replayers fed side by side)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from closecast.commands.common import as_of_arg, load_snapshot, make_scorer
from closecast.errors import UserError
from features.policy import Policy
from models.revenue import ValueForecast
from models.scoring import score_snapshot
from planning.book import Book, build_book
from streams.core.collector import collector_paused
from streams.core.contract import Event
from streams.core.deadletter import DeadLetterFile
from streams.core.log import decode, read_lines
from streams.core.snapshot import Snapshot
from streams.core.state import WEEK_US
from streams.embedded.replay import Replayer


@dataclass(frozen=True)
class Books:
    now: Book
    snapshot: Snapshot
    last_week: Book | None = None
    snapshot_last_week: Snapshot | None = None
    value: ValueForecast | None = None  # the scorer's revenue forecast, if one loaded


def load_books(args: argparse.Namespace, policy: Policy, last_week: bool = False) -> Books:
    """Fold args.files as of args.as_of (and a week before, if asked), score, build books."""
    scorer = make_scorer(args, policy)
    if not last_week:
        snapshot = load_snapshot(args)
        scores = score_snapshot(snapshot, scorer, policy)
        return Books(
            build_book(snapshot.customers, snapshot.reps, scores, snapshot.as_of),
            snapshot,
            value=scorer.value,
        )
    snapshot, earlier = _fold_twice(args)
    books = []
    for snap in (snapshot, earlier):
        scores = score_snapshot(snap, scorer, policy)
        books.append(build_book(snap.customers, snap.reps, scores, snap.as_of))
    return Books(books[0], snapshot, books[1], earlier, scorer.value)


def _fold_twice(args: argparse.Namespace) -> tuple[Snapshot, Snapshot]:
    """The log as of args.as_of and as of a week before, from one read of the files."""
    for path in args.files:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    as_of = as_of_arg(args.as_of)
    if as_of is None:
        raise UserError("--as-of is required")
    now, before = Replayer(as_of), Replayer(as_of - WEEK_US)
    dead = args.dead_letters or args.files[0].with_name(args.files[0].name + ".rejected.jsonl")
    with DeadLetterFile(dead) as dlq, collector_paused():
        for item in decode(read_lines(args.files, args.progress)):
            if isinstance(item, Event):
                now.feed(item)
                before.feed(item)
            else:
                now.reject(item)
                dlq.write(item)
    snapshot = now.snapshot()
    if snapshot.stats.rejected:
        print(
            f"{snapshot.stats.rejected} invalid lines skipped, kept with reasons in {dead}",
            file=sys.stderr,
        )
    return snapshot, before.snapshot()
