"""`closecast forecast`: expected revenue in the next horizon for the team and per rep, each
with its 80% interval, as text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from closecast.commands.common import (
    add_log_args,
    add_model_args,
    load_snapshot,
    make_scorer,
    require_events,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "forecast", help="expected revenue next horizon, team and per rep, with 80% intervals"
    )
    add_log_args(p, as_of_required=True, workers=True)
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from features.policy import Policy
    from models.scoring import score_snapshot
    from planning.book import build_book
    from planning.forecast import revenue_forecast

    policy = Policy.from_env()
    snapshot = load_snapshot(args)
    require_events(snapshot, args.files)
    scorer = make_scorer(args, policy)
    if scorer.fallback_note:
        print(f"note: {scorer.fallback_note}", file=sys.stderr)
    scores = score_snapshot(snapshot, scorer, policy)
    book = build_book(snapshot.customers, snapshot.reps, scores, snapshot.as_of)
    forecast = revenue_forecast(book, snapshot.reps, scorer.value, policy.horizon_days)
    if args.json:
        print(json.dumps(forecast.to_dict()))
        return 0
    print(f"team: {forecast.team_line()}")
    for line in forecast.rep_lines():
        print(f"  {line}")
    return 0
