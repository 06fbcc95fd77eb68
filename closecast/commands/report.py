"""`closecast report`: the manager report as one self-contained HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from closecast.commands.common import add_log_args, add_model_args, check_out
from closecast.commands.manager import add_pool_args, build


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="the manager report as one HTML page with charts")
    add_log_args(p, as_of_required=True)
    add_model_args(p)
    add_pool_args(p)
    p.add_argument("--out", type=Path, required=True, help="HTML file to write")
    p.add_argument("--title", default="closecast manager report")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from features.policy import Policy
    from planning.report import render

    check_out(args.out)
    policy = Policy.from_env()
    report = build(args, policy)
    args.out.write_text(render(report, args.title), encoding="utf-8")
    print("\n".join(report.headline()))
    print(f"report -> {args.out}")
    return 0
