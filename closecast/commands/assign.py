"""`closecast assign`: accept a pool assignment file (as recommended or as edited) and
append its `customer_assigned` events to the log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from closecast.errors import UserError
from streams.core.contract import InvalidEvent, parse_as_of


def register(sub: Any) -> None:
    p = sub.add_parser("assign", help="accept a pool assignment: append customer_assigned events")
    p.add_argument("assignment", type=Path, help="file written by closecast pool (.csv/.xlsx)")
    p.add_argument("--log", type=Path, required=True, help="the event log to append to")
    p.add_argument("--by", required=True, help="the accepting manager's rep id")
    p.add_argument(
        "--at", default=None, help="when the assignment takes effect (default: the file's as_of)"
    )
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ingest.existing import known_in_log
    from ingest.sheet import SheetError, read_sheet
    from planning.reassignment import accept
    from streams.core.log import append_events
    from streams.embedded.replay import replay_files

    if not args.log.is_file():
        raise UserError(f"{args.log}: no such file")
    at = None
    if args.at is not None:
        try:
            parse_as_of(args.at)
        except InvalidEvent as exc:
            raise UserError(f"--at: {str(exc).split(': ', 1)[-1]}") from None
        at = args.at
    try:
        sheet = read_sheet(args.assignment)
    except (SheetError, OSError) as exc:
        raise UserError(str(exc)) from None
    snapshot = replay_files([args.log])
    if args.by not in snapshot.reps:
        print(f"note: --by {args.by!r} is not a rep or manager in the log", file=sys.stderr)
    result = accept(sheet.rows, snapshot.customers, snapshot.reps, args.by, at)
    existing = {e.event_id for e in result.events} & known_in_log(args.log)[0]
    new = [e for e in result.events if e.event_id not in existing]
    if not args.dry_run and new:
        append_events(args.log, new)
    verb = "would append" if args.dry_run else "appended"
    print(
        f"{verb} {len(new)} customer_assigned events to {args.log} "
        f"({len(existing)} already there, {result.unchanged} already owned by that rep, "
        f"{result.left_in_pool} left in the pool)"
    )
    for refusal in result.refused:
        print(f"  row {refusal.row}: {refusal.reason}", file=sys.stderr)
    return 0
