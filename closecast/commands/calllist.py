"""`closecast calllist`: today's prioritised contacts for one rep or all, with reasons."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closecast.commands.common import add_log_args, add_model_args
from closecast.errors import UserError

if TYPE_CHECKING:
    from planning.calllist import CallLine


def register(sub: Any) -> None:
    p = sub.add_parser("calllist", help="a rep's prioritised call list for a day")
    add_log_args(p, as_of_required=True, workers=True)
    add_model_args(p)
    p.add_argument("--rep", help="one rep's list (default: every active rep)")
    p.add_argument("--limit", type=int, default=None, help="lines per rep (default: capacity)")
    p.add_argument("--format", choices=("table", "csv", "json", "xlsx"), default="table")
    p.add_argument("--out", type=Path, default=None, help="file to write (needed for xlsx)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import orjson

    from closecast.commands.books import load_books
    from features.policy import Policy
    from planning.calllist import call_lists, lines_frame
    from planning.export import write_tables

    if args.format == "xlsx" and args.out is None:
        raise UserError("--format xlsx needs --out FILE.xlsx")
    policy = Policy.from_env()
    book = load_books(args, policy).now
    if args.rep is not None and args.rep not in book.rep_ids:
        raise UserError(f"--rep: no rep {args.rep!r} in the log")
    lists = call_lists(book, policy, args.rep, args.limit)
    if args.format in ("csv", "xlsx") and args.out is not None:
        write_tables({"call_list": lines_frame(lists)}, args.out, args.format)
        lines = sum(len(v) for v in lists.values())
        print(f"wrote {lines} lines for {len(lists)} reps to {args.out}")
    elif args.format == "csv":
        lines_frame(lists).to_csv(sys.stdout, index=False)
    elif args.format == "json":
        rows = [line.to_dict() for rep_lines in lists.values() for line in rep_lines]
        text = orjson.dumps(rows).decode()
        _emit(text, args.out)
    else:
        _emit("\n".join(render_table(r, lines) for r, lines in lists.items()), args.out)
    return 0


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        print(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")


def render_table(rep_id: str, lines: list[CallLine]) -> str:
    out = [f"== {rep_id}: {len(lines)} to contact today =="]
    if not lines:
        out.append("   (nobody due today)")
    for line in lines:
        flags = f"  [{', '.join(line.flags)}]" if line.flags else ""
        out.append(
            f"{line.rank:>3}. {line.customer_id:<12} {line.action:<8}"
            f" p={line.p_close:5.1%}  value={line.predicted_value:>10,.0f}{flags}"
        )
        for why in line.why:
            out.append(f"       - {why}")
        if line.reasons:
            out.append(f"       score ({line.score_source}): {'; '.join(line.reasons)}")
    return "\n".join(out)
