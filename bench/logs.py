"""Simulated logs for the benchmarks, generated once and cached under bench/out/."""

from __future__ import annotations

from pathlib import Path

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
