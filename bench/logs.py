"""Simulated logs for the benchmarks, generated once and cached under bench/out/."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from training.simulator import SimulationConfig, write_log

OUT = Path(__file__).parent / "out"


def simulated_log(customers: int, reps: int, days: int, seed: int = 11) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"sim-{customers}c-{reps}r-{days}d-{seed}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_log(SimulationConfig(customers=customers, reps=reps, days=days, seed=seed), tmp)
        tmp.rename(path)
    return path


def million_event_log() -> Path:
    """About 1,000,000 events: 16,000 customers and 80 reps over two years."""
    return simulated_log(16_000, 80, 730)


def foreign_log(source: Path, seed: int = 5) -> Path:
    """`source` as another tool might write it: every object's keys in another order
    (reversed), a space after every colon and comma (`json.dumps`' default), times in
    UTC to the second (a seconds part drawn for each event), and the lines shuffled."""
    path = OUT / f"foreign-{source.stem}-{seed}.jsonl"
    if path.exists():
        return path
    rng = random.Random(seed)
    lines = []
    with source.open("rb") as handle:
        for raw in handle:
            event = orjson.loads(raw)
            at = datetime.fromisoformat(event["occurred_at"]) + timedelta(seconds=rng.randrange(60))
            event["occurred_at"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(json.dumps(_reversed(event), ensure_ascii=False))
    rng.shuffle(lines)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.rename(path)
    return path


def _reversed(value: object) -> object:
    if isinstance(value, dict):
        return {k: _reversed(v) for k, v in reversed(value.items())}
    return value
