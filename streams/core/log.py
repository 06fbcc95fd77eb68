"""The event log on disk: JSON Lines files, read line by line, appended to, never rewritten."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from streams.core.contract import Event, InvalidEvent, parse
from streams.core.deadletter import Rejection, reject


@dataclass(frozen=True, slots=True)
class Line:
    source: str
    number: int
    raw: bytes


def read_lines(paths: Iterable[Path], progress: bool = False) -> Iterator[Line]:
    """Every non-blank line of every file, numbered from 1, with a byte-based progress bar."""
    for _, source, number, raw in numbered_lines(paths, progress):
        yield Line(source, number, raw)


def numbered_lines(
    paths: Iterable[Path], progress: bool = False
) -> Iterator[tuple[int, str, int, bytes]]:
    """`read_lines` as plain tuples (file index, source, line number, raw): the replay's
    hot loop, where building a `Line` per line would cost more than reading it."""
    paths = list(paths)
    # No bar at all unless asked: even a disabled one starts tqdm's monitor thread, and a
    # process with threads should not fork (the parallel replay forks).
    bar: tqdm[Any] | _Progress = _Progress()
    if progress:
        total = sum(p.stat().st_size for p in paths)
        bar = tqdm(
            total=total, unit="B", unit_scale=True, desc="replay", mininterval=0.5, leave=False
        )
    try:
        for index, path in enumerate(paths):
            source = str(path)
            done = 0
            with path.open("rb") as handle:
                for number, raw in enumerate(handle, start=1):
                    done += len(raw)
                    if number % 4096 == 0:  # a per-line update would cost more than the line
                        bar.update(done)
                        done = 0
                    raw = raw.rstrip(b"\r\n")
                    if raw and not raw.isspace():
                        yield index, source, number, raw
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


class _Progress:
    """A progress bar that shows nothing."""

    def update(self, n: float) -> None:
        pass

    def close(self) -> None:
        pass
