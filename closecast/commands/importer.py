"""`closecast import`: a follow-up spreadsheet (.xlsx or .csv) into contract events,
appended to a log. Importing the same sheet again adds nothing; rows that cannot be read
are listed with their row number and reason."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from closecast.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="turn a follow-up spreadsheet into events in a log")
    p.add_argument("sheet", type=Path, metavar="FILE", help="the spreadsheet (.xlsx or .csv)")
    p.add_argument("--mapping", type=Path, required=True, help="column mapping (.toml or .json)")
    p.add_argument("--out", type=Path, required=True, help="log to append to (.jsonl)")
    p.add_argument("--rejects", type=Path, default=None, help="write unreadable rows here (.csv)")
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ingest.existing import known_in_log
    from ingest.mapping import MappingError, load_mapping
    from ingest.sheet import SheetError, read_sheet
    from ingest.spreadsheet import translate
    from streams.core.log import append_events

    for path in (args.sheet, args.mapping):
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    try:
        mapping = load_mapping(args.mapping, args.sheet)
        sheet = read_sheet(args.sheet, mapping.worksheet, mapping.header_row)
        ids, customers = known_in_log(args.out)
        result = translate(sheet, mapping)
    except (MappingError, SheetError) as exc:
        raise UserError(str(exc)) from None
    # A customer the log knows from elsewhere gets no lead from this sheet; one whose lead
    # came from this sheet keeps it, as "already there", so a second import counts the
    # same events as the first.
    result.events = [
        e
        for e in result.events
        if not (e.type == "lead_created" and e.customer_id in customers and e.event_id not in ids)
    ]
    new = [e for e in result.events if e.event_id not in ids]
    if new and not args.dry_run:
        append_events(args.out, new)
    verb = "would append" if args.dry_run else "appended"
    print(
        f"{args.sheet.name} [{result.sheet}]: {result.rows} rows -> {len(result.events)} events; "
        f"{verb} {len(new)} to {args.out}, {len(result.events) - len(new)} already there"
    )
    for warning in result.warnings:
        print(f"  row {warning.row}: {warning.reason}", file=sys.stderr)
    if result.problems:
        print(f"{len(result.problems)} rows could not be read:", file=sys.stderr)
        for problem in result.problems:
            print(f"  row {problem.row}: {problem.reason}", file=sys.stderr)
    if args.rejects is not None:
        args.rejects.parent.mkdir(parents=True, exist_ok=True)
        with args.rejects.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "reason"])
            writer.writerows((p.row, p.reason) for p in result.problems)
    return 0
