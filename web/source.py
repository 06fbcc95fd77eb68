"""Where the web layer's states come from, and where the events it records go.

One interface, two implementations, so the same pages and API serve both modes:

- `EmbeddedSource`: replays a log file in process, appends new events to that file
  (durably: fsync before answering) and folds them into the ledger at once; it also
  follows the file, so events another tool appends (`closecast import`) show up too.
- `WorkerSource` (`web.worker_source`): follows the Kafka events topic the Faust worker
  consumes and produces new events to it.

Either way the web process holds a `Ledger` folded by the same fold from the same events,
so both modes show equal states (the live tests prove the worker's tables equal the
replay). See `web/README.md` for why the web layer folds rather than asks the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Protocol

from streams.core.contract import Event, InvalidEvent, parse
from streams.core.deadletter import DeadLetterFile, Rejection, reject
from streams.core.log import append_events
from web.ledger import Ledger

log = logging.getLogger(__name__)
FOLLOW_EVERY_S: Final = 1.0


class StateSource(Protocol):
    """What the web layer needs from a mode: a loaded ledger and a way to record events."""

    ledger: Ledger
    description: str

    async def start(self) -> None:
        """Load the ledger (all events so far) and begin following new ones."""
        ...

    async def append(self, events: Sequence[Event]) -> None:
        """Record events durably; return once the ledger has folded and re-scored them."""
        ...

    def dead_letter(self, rejection: Rejection) -> None:
        """Keep a rejected submission (redacted) with its reason."""
        ...

    async def close(self) -> None: ...


class EmbeddedSource:
    def __init__(self, log_path: Path, ledger: Ledger, dead_letters: Path | None = None) -> None:
        self.log_path = log_path
        self.ledger = ledger
        self.description = f"embedded: {log_path}"
        self.dead_letters = dead_letters or log_path.with_name(log_path.name + ".rejected.jsonl")
        self._dlq = DeadLetterFile(self.dead_letters)
        self._offset = 0
        self._line = 0
        self._follower: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        self._read_new()
        self.ledger.score_all()
        self._follower = asyncio.create_task(self._follow())

    async def append(self, events: Sequence[Event]) -> None:
        async with self._lock:
            append_events(self.log_path, events)
            touched: set[str] = set()
            for event in events:
                touched |= self.ledger.feed(event)
            self.ledger.rescore(touched)

    def dead_letter(self, rejection: Rejection) -> None:
        self._dlq.write(rejection)
        self._dlq.close()  # one line at a time, closed: nothing sits in a buffer

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        self._dlq.close()

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_EVERY_S)
            async with self._lock:
                try:
                    touched = self._read_new()
                except OSError as exc:
                    log.warning("cannot read %s: %s", self.log_path, exc.strerror)
                    continue
                touched |= self.ledger.release()  # held events whose time has come
                if touched:
                    self.ledger.rescore(touched)

    def _read_new(self) -> set[str]:
        """Fold the complete lines added since the last read (ours come back as duplicates)."""
        touched: set[str] = set()
        source = str(self.log_path)
        with self.log_path.open("rb") as handle:
            handle.seek(self._offset)
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a line still being written: read it whole next time
                self._offset += len(raw)
                self._line += 1
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                try:
                    event = parse(line)
                except InvalidEvent as exc:
                    rejection = reject(source, self._line, line, str(exc))
                    self.ledger.reject(rejection)
                    self._dlq.write(rejection)
                    continue
                touched |= self.ledger.feed(event)
        self._dlq.close()
        return touched
