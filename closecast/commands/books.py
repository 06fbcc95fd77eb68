"""Books for the planning commands: the log folded as of a time, scored, and, for the
weekly comparisons, folded once more as of a week before, in the same single read (the
way `streams.embedded.replay.replay_files` folds, with two replayers fed side by side)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from closecast.commands.common import (
    as_of_arg,
    check_logs,
    load_snapshot,
    make_scorer,
    require_events,
)
from closecast.errors import UserError
from features.policy import Policy
from models.revenue import ValueForecast
from models.scoring import score_snapshot
from planning.book import Book, build_book
from planning.contacts import Contact, contact_of
from streams.core.collector import collector_paused
from streams.core.contract import Event
from streams.core.deadletter import DeadLetterFile
from streams.core.log import decode, read_lines
from streams.core.portrait import PortraitStore
from streams.core.snapshot import Snapshot
from streams.core.state import DAY_US, WEEK_US
from streams.embedded.replay import Replayer


@dataclass(frozen=True)
class Books:
    now: Book
    snapshot: Snapshot
    last_week: Book | None = None
    snapshot_last_week: Snapshot | None = None
    value: ValueForecast | None = None  # the scorer's revenue forecast, if one loaded


@dataclass(frozen=True)
class CallBooks:
    """What a call list needs beyond the book: contact details, earlier scores, and the
    reps the log names only after the as-of time (to say why a rep has no list yet)."""

    now: Book
    contacts: dict[str, Contact]
    earlier_p: dict[str, float]
    later_reps: dict[str, int]  # rep id -> its first occurred_at after as_of


def load_books(args: argparse.Namespace, policy: Policy, last_week: bool = False) -> Books:
    """Fold args.files as of args.as_of (and a week before, if asked), score, build books."""
    check_logs(args.files)
    as_of_arg(args.as_of)  # a bad --as-of is said before anything else
    if not last_week:
        snapshot = load_snapshot(args)
        require_events(snapshot, args.files)
        scorer = make_scorer(args, policy)  # its warning after the log's own errors
        scores = score_snapshot(snapshot, scorer, policy)
        return Books(
            build_book(snapshot.customers, snapshot.reps, scores, snapshot.as_of),
            snapshot,
            value=scorer.value,
        )
    snapshot, earlier, _ = _fold_twice(args, WEEK_US)
    require_events(snapshot, args.files)
    scorer = make_scorer(args, policy)
    books = []
    for snap in (snapshot, earlier):
        scores = score_snapshot(snap, scorer, policy)
        books.append(build_book(snap.customers, snap.reps, scores, snap.as_of))
    return Books(books[0], snapshot, books[1], earlier, scorer.value)


def load_call_books(args: argparse.Namespace, policy: Policy, trend_days: int) -> CallBooks:
    """The book as of args.as_of, with contacts and the scores `trend_days` before."""
    check_logs(args.files)
    as_of_arg(args.as_of)
    snapshot, earlier, extra = _fold_twice(args, trend_days * DAY_US)
    require_events(snapshot, args.files)
    scorer = make_scorer(args, policy)
    book = build_book(
        snapshot.customers, snapshot.reps, score_snapshot(snapshot, scorer, policy), snapshot.as_of
    )
    past = score_snapshot(earlier, scorer, policy)
    earlier_p = dict(zip(past["customer_id"].tolist(), past["p_close"].tolist(), strict=True))
    return CallBooks(book, extra.contacts, earlier_p, extra.later_reps)


@dataclass
class _Extra:
    contacts: dict[str, Contact]
    later_reps: dict[str, int]


def _fold_twice(args: argparse.Namespace, back_us: int) -> tuple[Snapshot, Snapshot, _Extra]:
    """The log as of args.as_of and as of `back_us` before, from one read of the files,
    with the contact details of `basic` as of args.as_of."""
    check_logs(args.files)
    as_of = as_of_arg(args.as_of)
    if as_of is None:
        raise UserError("--as-of is required")
    now, before = Replayer(as_of), Replayer(as_of - back_us)
    portraits = PortraitStore()
    later: dict[str, int] = {}
    dead = args.dead_letters or args.files[0].with_name(args.files[0].name + ".rejected.jsonl")
    with DeadLetterFile(dead) as dlq, collector_paused():
        for item in decode(read_lines(args.files, args.progress)):
            if isinstance(item, Event):
                now.feed(item)
                before.feed(item)
                if item.ts > as_of:
                    if item.rep_id is not None and item.ts < later.get(item.rep_id, 2**63):
                        later[item.rep_id] = item.ts
                elif item.type == "portrait_updated" and item.payload["section"] == "basic":
                    portraits.feed(item)
            else:
                now.reject(item)
                dlq.write(item)
    snapshot = now.snapshot()
    if snapshot.stats.rejected:
        print(
            f"{snapshot.stats.rejected} invalid lines skipped, kept with reasons in {dead}",
            file=sys.stderr,
        )
    contacts = {cid: contact_of(portraits.get(cid)) for cid in portraits}
    return snapshot, before.snapshot(), _Extra(contacts, later)
