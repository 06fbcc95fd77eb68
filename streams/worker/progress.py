"""Counters of one worker process, for its progress view, the benchmark and the logs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Progress:
    messages: int = 0  # events-topic messages handled (each exactly once per delivery)
    applied: int = 0  # customer or rep events that changed a state (first delivery)
    duplicates: int = 0  # customer events already in their customer's state
    rejected: int = 0  # messages dead-lettered
    rekeyed: int = 0  # messages re-sent under the key the contract asks for
    rep_messages: int = 0  # rep-events messages handled (each a batch of one rep's events)
    rep_events: int = 0  # events folded into rep states (first or repeated delivery)
    scored: int = 0  # customer scores published
    batches: int = 0
    watermark: int = 0  # the newest occurred_at (epoch µs) this worker has folded
    # Events-topic messages on this worker's partitions not yet folded, as the consumer
    # last saw the partitions' ends (after each batch): the fold's backlog.
    backlog: int = 0
    # Where the events agent's time goes: its own work, and waiting for the broker's
    # acknowledgements (forwards, then changelog) before a batch may be acknowledged.
    work_seconds: float = 0.0
    wait_seconds: float = 0.0
    # Events dated ahead of the clock (streams.core.held): sent to the held topic by the fold,
    # and sent back to the events topic by the hold agent once due.
    held: int = 0
    released: int = 0
    # What the hold agent holds now, by event id (ids, types and times, no payload); it
    # sees every held event once per recheck, so after a restart the list fills again.
    holding: dict[str, dict[str, Any]] = field(default_factory=dict)

    def see(self, ts: int) -> None:
        if ts > self.watermark:
            self.watermark = ts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
