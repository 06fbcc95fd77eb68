"""Replay throughput and memory per customer state, on a ~1,000,000-event log.

Baseline for speed: a plain loop that reads the same file and `json.loads` each line,
counting them, in the same run. Baseline for memory: the average size of one customer's
raw events in the log (the state is a summary; it should be much smaller).
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.logs import million_event_log
from streams.replay import replay_files


def _plain_loop(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            count += 1
    return count, time.perf_counter() - started


def run() -> list[dict[str, Any]]:
    path = million_event_log()
    lines, plain_s = _plain_loop(path)
    started = time.perf_counter()
    snapshot = replay_files([path])
    replay_s = time.perf_counter() - started
    events = snapshot.stats.events_read
    customers = len(snapshot.customers)
    del snapshot
    gc.collect()
    tracemalloc.start()
    snapshot = replay_files([path])
    rep_weeks = sum(len(r.to_dict()["weeks"]) for r in snapshot.reps.values())
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_customer = held / customers
    raw_per_customer = path.stat().st_size / customers
    return [
        {
            "name": "replay_events_per_s",
            "value": round(events / replay_s),
            "unit": "events/s",
            "events": events,
            "baseline_name": "json_loads_count_loop_lines_per_s",
            "baseline_value": round(lines / plain_s),
            "target": "value >= 0.5 * baseline",
        },
        {
            "name": "memory_per_customer_state",
            "value": round(per_customer),
            "unit": "bytes",
            "customers": customers,
            "note": f"all states held after replay, reps included ({rep_weeks} rep-weeks)",
            "baseline_name": "raw_log_bytes_per_customer",
            "baseline_value": round(raw_per_customer),
            "target": "value < 2048",
        },
    ]
