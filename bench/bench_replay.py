"""Replay throughput and memory per customer state, on a ~1,000,000-event log.

Baseline for speed: a plain loop that reads the same file and `json.loads` each line,
counting them, in one process, measured in the same run right before each replay (the
machine is shared: adjacent measurements see the same load), and the same loop with
`orjson.loads`. Two logs: our simulator's, and the same events as another tool might
write them (`bench.logs.foreign_log`: keys in another order, spaces after colons, times
in UTC to the second, lines shuffled), each replayed and each against both loops. The
replay is measured as `replay_files` runs it by default (split by customer over one
process per core) and, on our log, in one process. Memory: the deep size of every
customer state of the default replay (objects shared between states, such as interned
rep ids, counted once), per customer; baseline: the average size of one customer's raw
events in the log. The process's whole traced heap per customer (reps, caches and dict
slots included) is reported beside it.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import orjson

from bench.logs import foreign_log, million_event_log
from streams.embedded.replay import replay_files


def _plain_loop(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            count += 1
    return count, time.perf_counter() - started


def _orjson_loop(path: Path) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    loads = orjson.loads
    with path.open("rb") as handle:
        for line in handle:
            loads(line)
            count += 1
    return count, time.perf_counter() - started


def _log_rows(name: str, path: Path) -> list[dict[str, Any]]:
    """The default replay of `path` beside a json.loads and an orjson loop over it."""
    lines, plain_s = _plain_loop(path)
    _, orjson_s = _orjson_loop(path)
    started, cpu = time.perf_counter(), _cpu_s()
    snapshot = replay_files([path])
    replay_s, replay_cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    events, workers = snapshot.stats.events_read, snapshot.timings["workers"]
    del snapshot
    gc.collect()
    common = {"unit": "events/s", "events": events, "workers": workers, "log": path.name}
    return [
        {
            "name": f"replay_{name}_events_per_s",
            "value": round(events / replay_s),
            **common,
            "wall_s": round(replay_s, 2),
            "cpu_s": round(replay_cpu_s, 2),
            "baseline_name": "json_loads_count_loop_lines_per_s (1 process)",
            "baseline_value": round(lines / plain_s),
            "target": "value >= 0.5 * baseline",
        },
        {
            "name": f"replay_{name}_vs_orjson_events_per_s",
            "value": round(events / replay_s),
            **common,
            "baseline_name": "orjson_loads_count_loop_lines_per_s (1 process)",
            "baseline_value": round(lines / orjson_s),
        },
    ]


def _cpu_s() -> float:
    """CPU seconds of this process and its ended children: beside the wall time, it shows
    whether the workers had the cores to themselves (on a shared machine they may not)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def deep_size(obj: object, seen: set[int]) -> int:
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, tuple | list):
        size += sum(deep_size(x, seen) for x in obj)
    elif isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif hasattr(obj, "__slots__"):
        size += sum(deep_size(getattr(obj, name), seen) for name in obj.__slots__)
    return size


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run() -> list[dict[str, Any]]:
    path = million_event_log()
    load_before = round(os.getloadavg()[0], 2)
    lines, plain_s = _plain_loop(path)
    started, cpu = time.perf_counter(), _cpu_s()
    snapshot = replay_files([path])
    replay_s, replay_cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    timings = snapshot.timings
    events = snapshot.stats.events_read
    customers = len(snapshot.customers)
    del snapshot
    gc.collect()
    single_lines, single_plain_s = _plain_loop(path)
    started, cpu = time.perf_counter(), _cpu_s()
    single = replay_files([path], workers=1)
    single_s, single_cpu_s = time.perf_counter() - started, _cpu_s() - cpu
    del single
    gc.collect()
    tracemalloc.start()
    snapshot = replay_files([path])
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    seen: set[int] = set()
    per_customer = sum(deep_size(s, seen) for s in snapshot.customers.values()) / customers
    raw_per_customer = path.stat().st_size / customers
    foreign = foreign_log(path)
    both = _log_rows("simulator_log", path) + _log_rows("foreign_log", foreign)
    return [
        *both,
        {
            "name": "replay_events_per_s",
            "value": round(events / replay_s),
            "unit": "events/s",
            "events": events,
            "workers": timings["workers"],
            "cores": _cores(),
            "wall_s": round(replay_s, 2),
            "cpu_s": round(replay_cpu_s, 2),  # all workers together
            "baseline_wall_s": round(plain_s, 2),
            # What shipping the other workers' states back cost: pickling in the worker,
            # unpickling here; then merging the shares.
            "ship_s": round(timings.get("ship_s", 0.0), 3),
            "ship_bytes": timings.get("ship_bytes", 0),
            "merge_s": round(timings.get("merge_s", 0.0), 3),
            "baseline_name": "json_loads_count_loop_lines_per_s (1 process)",
            "baseline_value": round(lines / plain_s),
            "target": "value >= 0.5 * baseline",
            # Other jobs on the machine take cores from the workers, not from the loop.
            "load_avg_1m": load_before,
        },
        {
            "name": "replay_one_process_events_per_s",
            "value": round(events / single_s),
            "unit": "events/s",
            "events": events,
            "workers": 1,
            "wall_s": round(single_s, 2),
            "cpu_s": round(single_cpu_s, 2),
            "baseline_wall_s": round(single_plain_s, 2),
            "baseline_name": "json_loads_count_loop_lines_per_s (1 process)",
            "baseline_value": round(single_lines / single_plain_s),
        },
        {
            "name": "memory_per_customer_state",
            "value": round(per_customer),
            "unit": "bytes",
            "customers": customers,
            "workers": snapshot.timings["workers"],
            "heap_bytes_per_customer": round(held / customers),
            "baseline_name": "raw_log_bytes_per_customer",
            "baseline_value": round(raw_per_customer),
            "target": "value < 2048",
        },
    ]
