"""`closecast pool`: the public pool and a recommended assignment to reps, written to a
file the manager can edit and then accept with `closecast assign`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from closecast.commands.common import add_log_args, add_model_args, check_out
from closecast.commands.manager import add_pool_args


def register(sub: Any) -> None:
    p = sub.add_parser("pool", help="recommend who takes which public-pool customer")
    add_log_args(p, as_of_required=True, workers=True)
    add_model_args(p)
    add_pool_args(p)
    p.add_argument(
        "--out", type=Path, required=True, help="assignment file to write (.csv or .xlsx)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from closecast.commands.books import load_books
    from features.policy import Policy
    from planning.export import write_tables
    from planning.pool import recommend

    check_out(args.out)
    policy = Policy.from_env()
    books = load_books(args, policy)
    rec = recommend(books.now, books.snapshot.reps, policy, args.capacity, args.new_quota)
    fmt = "xlsx" if args.out.suffix.lower() == ".xlsx" else "csv"
    write_tables({"pool_assignment": rec.assignment}, args.out, fmt)
    new = int(rec.assignment["new_rep"].sum()) if len(rec.assignment) else 0
    print(
        f"public pool: {rec.pool_size:,} customers; {len(rec.receivers)} reps can take "
        f"customers ({int(rec.receivers['new_rep'].sum())} new)"
    )
    print(
        f"recommended {len(rec.assignment):,} assignments worth {rec.total_value:,.0f} "
        f"({new} to new reps, {rec.reserved_filled} reserved slots filled) -> {args.out}"
    )
    print("edit it if you like (change rep_id, or blank it to keep a customer in the pool),")
    print(f"then: closecast assign {args.out} --log {args.files[0]} --by MANAGER_ID")
    return 0
