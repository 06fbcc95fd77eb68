"""`closecast calllist`: today's prioritised contacts for one rep or all, with reasons."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

import orjson

from closecast.commands.common import add_log_args, add_model_args, load_snapshot, make_scorer
from features.policy import Policy
from models.scoring import score_snapshot
from planning.calllist import CallLine, build_call_lists


def register(sub: Any) -> None:
    p = sub.add_parser("calllist", help="a rep's prioritised call list for a day")
    add_log_args(p, as_of_required=True)
    add_model_args(p)
    p.add_argument("--rep", help="one rep's list (default: every active rep)")
    p.add_argument("--limit", type=int, default=None, help="lines per rep (default: capacity)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    policy = Policy.from_env()
    snapshot = load_snapshot(args)
    scores = score_snapshot(snapshot, make_scorer(args, policy), policy)
    lists = build_call_lists(
        snapshot.customers, snapshot.reps, scores, snapshot.as_of, policy, args.rep, args.limit
    )
    lines = [line for rep_lines in lists.values() for line in rep_lines]
    if args.format == "json":
        print(orjson.dumps([line.to_dict() for line in lines]).decode())
    elif args.format == "csv":
        write_csv(lines)
    else:
        for rep_id, rep_lines in lists.items():
            print(render_table(rep_id, rep_lines))
    return 0


def write_csv(lines: list[CallLine]) -> None:
    writer = csv.writer(sys.stdout)
    header = list(CallLine.__dataclass_fields__)
    writer.writerow(header)
    for line in lines:
        row = line.to_dict()
        row["flags"] = "|".join(row["flags"])
        row["why"] = "; ".join(row["why"])
        writer.writerow([row[h] for h in header])


def render_table(rep_id: str, lines: list[CallLine]) -> str:
    out = [f"== {rep_id}: {len(lines)} to contact today =="]
    if not lines:
        out.append("   (nobody due today)")
    for line in lines:
        flags = f"  [{', '.join(line.flags)}]" if line.flags else ""
        out.append(
            f"{line.rank:>3}. {line.customer_id:<10} {line.action:<28}"
            f" p={line.p_close:5.1%}  value={line.predicted_value:>10,.0f}{flags}"
        )
        for why in line.why:
            out.append(f"       - {why}")
    return "\n".join(out)
