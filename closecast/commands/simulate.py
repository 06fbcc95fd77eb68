"""`closecast simulate`: write a realistic synthetic log (and its hidden ground truth)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from training.simulator import SimulationConfig, truth_path, write_log


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="write a synthetic contact log for N reps, M customers")
    p.add_argument("--out", type=Path, required=True, help="log file to write (.jsonl)")
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = SimulationConfig(
        customers=args.customers, reps=args.reps, days=args.days, seed=args.seed
    )
    summary = write_log(config, args.out, progress=args.progress)
    print(f"wrote {args.out}: {summary}")
    print(f"hidden ground truth (not part of the log): {truth_path(args.out)}")
    return 0
