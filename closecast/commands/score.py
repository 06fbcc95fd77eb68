"""`closecast score`: p_close, source, value and reasons for every customer as of a time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from closecast.commands.common import (
    add_log_args,
    add_model_args,
    check_out,
    load_snapshot,
    make_scorer,
    require_events,
    run_watch,
)


def register(sub: Any) -> None:
    p = sub.add_parser("score", help="score every customer known as of a time, to CSV")
    add_log_args(p, as_of_required=True, workers=True)
    add_model_args(p)
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    p.add_argument(
        "--no-watch",
        action="store_true",
        help="skip the drift watch (by default labels completed since the model's training "
        "are checked first, and a decayed model recalibrated)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from features.policy import Policy
    from models.scoring import score_snapshot

    check_out(args.out)
    policy = Policy.from_env()
    snapshot = load_snapshot(args)
    require_events(snapshot, args.files)
    if not (args.no_watch or args.heuristic_only):
        run_watch(args, policy)
    scorer = make_scorer(args, policy)
    if scorer.fallback_note:
        print(f"note: {scorer.fallback_note}", file=sys.stderr)
    frame = score_snapshot(snapshot, scorer, policy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    by_source = frame["source"].value_counts().to_dict()
    print(f"scored {len(frame):,} customers with {scorer.name} -> {args.out} {by_source}")
    return 0
