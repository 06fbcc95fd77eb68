"""Simulated logs for the suite, and the ways a delivery can mangle them."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.core.deadletter import Rejection
from streams.core.snapshot import Snapshot
from streams.embedded.replay import replay_files
from training.simulator import SimulationConfig, write_log


@dataclass(frozen=True)
class Log:
    path: Path
    lines: list[bytes]
    expected: Snapshot

    def __len__(self) -> int:
        return len(self.lines)


def simulated(config: SimulationConfig, directory: Path) -> Log:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "events.jsonl"
    write_log(config, path)
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    return Log(path, lines, replay_files([path]))


def write_lines(path: Path, lines: Iterable[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


@dataclass(frozen=True)
class Mangled:
    lines: list[bytes]
    resent: int
    moved: int


def resend_and_disorder(
    lines: Sequence[bytes], resend: float, disorder: float, seed: int
) -> Mangled:
    """The log as a sloppy delivery gives it: a share re-sent, a share out of order.

    A re-sent event is a second copy inserted at a random later place (a producer's retry
    that arrives late). A disordered event is taken out and put back at a random place
    anywhere in the log, earlier or later, so it overtakes or falls behind others of its
    customer (a partition then delivers it out of `occurred_at` order).
    """
    rng = random.Random(seed)
    n = len(lines)
    # Each line gets a place on [0, n); the delivery is the lines sorted by place.
    places = [float(i) for i in range(n)]
    moved = rng.sample(range(n), round(n * disorder))
    for i in moved:
        places[i] = rng.uniform(0, n)
    copies = rng.sample(range(n), round(n * resend))
    placed = [(place, i) for i, place in enumerate(places)]
    placed += [(rng.uniform(places[i], n), i) for i in copies]
    placed.sort()
    return Mangled([lines[i] for _, i in placed], len(copies), len(moved))


def reason_label(reason: str) -> str:
    """A short label for a rejection reason: the field it names (`payload.note` counts as
    `payload`), or for the message as a whole, what was wrong with it."""
    field, _, text = reason.partition(":")
    top = field.split(".")[0].strip()
    if top == "event":
        if "not valid JSON" in text:
            return "invalid JSON"
        if "larger than" in text:
            return "too large"
        if "JSON object" in text:
            return "not an object"
    if top.startswith("internal"):
        return "internal"
    return top


def reasons(rejections: Iterable[Rejection | str]) -> Counter[str]:
    return Counter(reason_label(r.reason if isinstance(r, Rejection) else r) for r in rejections)
