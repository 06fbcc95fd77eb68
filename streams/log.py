"""The event log on disk: JSON Lines files, read line by line, appended to, never rewritten."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from streams.contract import Event, InvalidEvent, parse
from streams.deadletter import Rejection, reject


@dataclass(frozen=True, slots=True)
class Line:
    source: str
    number: int
    raw: bytes


def read_lines(paths: Iterable[Path], progress: bool = False) -> Iterator[Line]:
    """Every non-blank line of every file, numbered from 1, with a byte-based progress bar."""
    paths = list(paths)
    total = sum(p.stat().st_size for p in paths)
    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        desc="replay",
        disable=not progress,
        mininterval=0.5,
        leave=False,
    )
    try:
        for path in paths:
            source = str(path)
            done = 0
            with path.open("rb") as handle:
                for number, raw in enumerate(handle, start=1):
                    done += len(raw)
                    if number % 4096 == 0:  # a per-line update would cost more than the line
                        bar.update(done)
                        done = 0
                    raw = raw.rstrip(b"\r\n")
                    if raw.strip():
                        yield Line(source, number, raw)
            bar.update(done)
    finally:
        bar.close()


def decode(lines: Iterable[Line]) -> Iterator[Event | Rejection]:
    """Parse each line; a line that breaks the contract becomes a `Rejection`, never an error."""
    for line in lines:
        try:
            yield parse(line.raw)
        except InvalidEvent as exc:
            yield reject(line.source, line.number, line.raw, str(exc))


def append_events(path: Path, events: Iterable[Event]) -> int:
    """Append events to a log file and make them durable before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("ab") as handle:
        for event in events:
            handle.write(event.to_json() + b"\n")
            count += 1
        handle.flush()
        os.fsync(handle.fileno())
    return count
