"""`closecast demo`: simulate a log, replay it, train a model on it, score, print call lists
and a manager summary."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from features.policy import Policy


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the whole product on a simulated log, in process")
    p.add_argument("--dir", type=Path, default=Path(".closecast/demo"), help="working folder")
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--days", type=int, default=540)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="score with this registry's current model instead of training one on the demo log",
    )
    p.add_argument("--show-reps", type=int, default=3, help="call lists to print")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from closecast.commands.calllist_view import render_table
    from features.policy import Policy
    from models.registry import load_scorer
    from models.scoring import score_snapshot
    from planning.calllist import build_call_lists
    from planning.summary import summarise
    from streams.core.contract import to_datetime
    from streams.embedded.replay import replay_files
    from training.simulator import SimulationConfig, write_log

    started = time.perf_counter()
    policy = Policy.from_env()
    args.dir.mkdir(parents=True, exist_ok=True)
    log = args.dir / "events.jsonl"
    if log.exists():
        log.unlink()  # the demo's own scratch log, rebuilt each run; never a user's log
    config = SimulationConfig(
        customers=args.customers, reps=args.reps, days=args.days, seed=args.seed
    )
    summary = write_log(config, log)
    print(
        f"1. simulated {summary.events:,} events: {summary.customers:,} customers, "
        f"{summary.reps} reps, {summary.deals:,} deals won over {args.days} days -> {log}"
    )
    snapshot = replay_files([log], dead_letters=args.dir / "rejected.jsonl")
    s = snapshot.summary()
    print(
        f"2. replayed {s['events_applied']:,} events into {s['customers']:,} customers "
        f"and {s['reps']} reps, as of {to_datetime(snapshot.as_of):%Y-%m-%d %H:%M} UTC"
    )
    print(f"   by status {s['by_status']}")
    print(f"   by stage  {s['by_stage']}")
    model_dir = args.model_dir
    if model_dir is None:
        model_dir = args.dir / "models"
        _train(log, args.dir / "rejected.jsonl", model_dir, policy)
    scorer = load_scorer(model_dir, policy)
    scores = score_snapshot(snapshot, scorer, policy)
    scores.to_csv(args.dir / "scores.csv", index=False)
    print(f"4. scored every customer with {scorer.name} -> {args.dir / 'scores.csv'}")
    if scorer.fallback_note:
        print(f"   ({scorer.fallback_note})")
    lists = build_call_lists(snapshot.customers, snapshot.reps, scores, snapshot.as_of, policy)
    busiest = sorted(lists, key=lambda r: -len(lists[r]))[: args.show_reps]
    print(f"5. today's call lists ({len(lists)} reps; the {len(busiest)} fullest shown)")
    for rep_id in busiest:
        print(render_table(rep_id, lists[rep_id][:8]))
    print("6. manager summary")
    for line in summarise(snapshot.customers, snapshot.reps, scores, snapshot.as_of).lines():
        print(f"   - {line}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def _train(log: Path, dead_letters: Path, model_dir: Path, policy: Policy) -> None:
    """What an analyst does with `closecast train`: point-in-time snapshots of the log,
    every recipe backtested walk-forward beside the calibrated rules, the best refit on
    every labelled row and promoted only through the gate."""
    from models.registry import Registry
    from training.dataset import DatasetConfig, build_dataset, read_events
    from training.retrain import retrain

    events = read_events([log], None, dead_letters)
    dataset = build_dataset(events, DatasetConfig(horizon_days=policy.horizon_days), policy)
    result = retrain(dataset, Registry(model_dir), policy=policy)
    best = result.best
    rows = int(dataset.labelled.sum())
    print(f"3. trained on {rows:,} point-in-time snapshots -> {model_dir}")
    fallback = result.fallback.pooled
    print(
        f"   backtest ({len(result.plan.folds)} origins) ROC AUC / ECE: calibrated rules "
        f"{fallback.roc_auc:.3f} / {fallback.ece:.3f}",
        end="",
    )
    if best is not None:
        mine = best.outcome.pooled
        print(f", best recipe ({best.name}) {mine.roc_auc:.3f} / {mine.ece:.3f}", end="")
    print()
    if result.promoted:
        print(
            f"   promoted {result.promoted} (a refit on every labelled row): "
            "it beats the rules on every gate"
        )
    else:
        print(f"   nothing promoted: {'; '.join(result.decision.reasons)}")
