"""How big each scenario is: short (every CI run, a few minutes) or full (`make reliability`).

`CLOSECAST_RELIABILITY=full` selects the full form; unset, empty or `short` the short one.
Anything else is refused, so a typo never silently runs the small suite as if it were
the real one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from training.simulator import SimulationConfig

ENV: Final = "CLOSECAST_RELIABILITY"
MODEL_FAULTS: Final = ("deleted", "truncated", "other-library")


@dataclass(frozen=True)
class Profile:
    name: str
    # The main log: crash and restart, duplicates and disorder, back-pressure.
    log: SimulationConfig
    # A smaller log where the log is not the point (bad input, storage, model faults).
    small_log: SimulationConfig
    # SIGKILLs of the worker in the crash scenario.
    kills: int
    bad_messages: int
    # How long the burst of ten times the measured throughput lasts.
    burst_seconds: float
    # Worker resident memory (MiB) that the burst must stay under.
    rss_limit_mib: int
    # Model faults the worker is restarted into (the embedded scorer tries all of them).
    worker_model_faults: tuple[str, ...]
    slow_clients: int
    slow_seconds: float
    # At least this many events in the main log (the floor for the full form).
    min_events: int
    # How long, once the states are exact, to wait for the group's offsets to be
    # committed to the end (reported, not asserted: see cluster.converge).
    commit_wait_s: float


SHORT: Final = Profile(
    name="short",
    log=SimulationConfig(customers=400, reps=8, days=570, seed=71),  # ~19,000 events
    small_log=SimulationConfig(customers=150, reps=6, days=300, seed=72),  # ~4,000
    kills=2,
    bad_messages=2_000,
    burst_seconds=0.5,
    rss_limit_mib=1024,
    worker_model_faults=("truncated",),
    slow_clients=20,
    slow_seconds=4.0,
    min_events=15_000,
    commit_wait_s=10.0,
)

FULL: Final = Profile(
    name="full",
    log=SimulationConfig(customers=4_100, reps=41, days=570, seed=71),  # ~202,000 events
    small_log=SimulationConfig(customers=400, reps=8, days=570, seed=72),  # ~19,000
    kills=5,
    bad_messages=10_000,
    burst_seconds=3.0,
    rss_limit_mib=1536,
    worker_model_faults=MODEL_FAULTS,
    slow_clients=200,
    slow_seconds=15.0,
    min_events=200_000,
    commit_wait_s=120.0,
)


def current() -> Profile:
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "short"):
        return SHORT
    if value == "full":
        return FULL
    raise ValueError(f"{ENV}={value!r}: expected 'short' or 'full'")
