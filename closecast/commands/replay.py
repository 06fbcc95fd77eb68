"""`closecast replay`: fold log files into states and print a summary."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from closecast.commands.common import add_log_args, load_snapshot
from streams.core.contract import to_datetime


def register(sub: Any) -> None:
    p = sub.add_parser("replay", help="fold log files and summarise the customers' states")
    add_log_args(p, workers=True)
    p.add_argument("--json", action="store_true", help="end with one JSON object line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    snapshot = load_snapshot(args)
    summary = snapshot.summary()
    summary["as_of"] = to_datetime(snapshot.as_of).isoformat() if snapshot.as_of else None
    if args.json:
        print(orjson.dumps(summary).decode())
        return 0
    print(f"as of {summary['as_of']}")
    for key in ("events_read", "events_applied", "duplicates", "rejected", "after_as_of", "held"):
        print(f"  {key.replace('_', ' '):<16} {summary[key]:>10,}")
    print(f"  {'customers':<16} {summary['customers']:>10,}")
    print(f"  {'reps':<16} {summary['reps']:>10,}")
    print("  by status: " + ", ".join(f"{k} {v:,}" for k, v in summary["by_status"].items()))
    print("  by stage:  " + ", ".join(f"{k} {v:,}" for k, v in summary["by_stage"].items()))
    if summary["rejected_by_field"]:
        print(
            "  rejected by field: "
            + ", ".join(f"{k} {v:,}" for k, v in summary["rejected_by_field"].items())
        )
    if summary["held_events"]:
        # Dated beyond the allowed skew ahead of the clock: kept, not counted (streams.core.held).
        print("  held (dated ahead of the clock):")
        for held in summary["held_events"]:
            print(f"    {held['event_id']} {held['type']} {held['occurred_at']}")
    return 0
