"""`closecast manager`: the manager's tables (funnel, alerts, pool, dormant, pipeline,
turnover) as of a time, printed or exported to CSV or Excel."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closecast.commands.common import add_log_args, add_model_args
from closecast.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from features.policy import Policy
    from planning.manager import ManagerReport

TABLES = (
    "funnel_reps",
    "funnel_teams",
    "activity_alerts",
    "manager_join",
    "violations",
    "never_suspend_unowned",
    "pool",
    "pool_receivers",
    "pool_assignment",
    "dormant",
    "pipeline_rep",
    "pipeline_team",
    "pipeline_source",
    "pipeline_stage",
    "turnover",
    "revenue_reps",
)


def register(sub: Any) -> None:
    p = sub.add_parser("manager", help="manager tables: funnel, alerts, pool, dormant, pipeline")
    add_log_args(p, as_of_required=True)
    add_model_args(p)
    add_pool_args(p)
    p.add_argument("--table", choices=("all", *TABLES), default="all")
    p.add_argument("--format", choices=("table", "csv", "xlsx"), default="table")
    p.add_argument(
        "--out", type=Path, default=None, help="xlsx file, csv file (one table) or folder"
    )
    p.add_argument("--rows", type=int, default=20, help="rows per table printed (table format)")
    p.set_defaults(run=run)


def add_pool_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--capacity", type=int, default=None, help="pool customers per rep")
    p.add_argument("--new-quota", type=int, default=None, help="slots reserved per new rep")


def build(args: argparse.Namespace, policy: Policy) -> ManagerReport:
    from closecast.commands.books import load_books
    from planning.manager import build_manager_report

    books = load_books(args, policy, last_week=True)
    assert books.snapshot_last_week is not None
    return build_manager_report(
        books.now,
        books.snapshot.reps,
        policy,
        books.last_week,
        books.snapshot_last_week.reps,
        args.capacity,
        args.new_quota,
        books.value,
    )


def run(args: argparse.Namespace) -> int:
    from features.policy import Policy
    from planning.export import write_tables

    if args.format != "table" and args.out is None:
        raise UserError(f"--format {args.format} needs --out")
    policy = Policy.from_env()
    report = build(args, policy)
    tables = report.tables()
    if args.table != "all":
        tables = {args.table: tables[args.table]}
    if args.format == "table":
        print("\n".join(report.headline()))
        print("by rep:")
        print("\n".join(f"  {line}" for line in report.revenue.rep_lines()))
        for name, table in tables.items():
            print(f"\n== {name} ({len(table):,} rows)")
            print(text_table(table, args.rows))
        return 0
    written = write_tables(tables, args.out, args.format)
    print(
        f"wrote {len(tables)} tables to {', '.join(str(p) for p in written[:3])}"
        + (" ..." if len(written) > 3 else "")
    )
    return 0


def text_table(table: pd.DataFrame, rows: int) -> str:
    if table.empty:
        return "(none)"
    shown = table.drop(columns=[c for c in ("reasons",) if c in table.columns]).head(rows)
    more = f"\n... {len(table) - rows:,} more" if len(table) > rows else ""
    import pandas as pd

    # Chinese names take two terminal columns each: pandas pads by display width then.
    with pd.option_context("display.unicode.east_asian_width", True):
        return shown.to_string(index=False) + more
