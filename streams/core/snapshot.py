"""What a fold of the log as of a time holds: every customer's and rep's state, and how the
reading went. The embedded replay returns it; models, planning and the web read it, and
the Faust worker builds one from its tables to score and to serve call lists."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from streams.core.contract import Event
from streams.core.held import REPORT_LIMIT, held_item
from streams.core.state import CustomerState, RepState


@dataclass
class ReplayStats:
    events_read: int = 0
    events_applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    after_as_of: int = 0
    # Dated beyond the allowed skew ahead of the clock: kept, not folded (streams.core.held).
    held: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "events_read": self.events_read,
            "events_applied": self.events_applied,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "after_as_of": self.after_as_of,
            "held": self.held,
            "rejected_by_field": dict(self.reasons.most_common()),
        }


@dataclass
class Snapshot:
    """All states folded from the events with `occurred_at <= as_of`."""

    customers: dict[str, CustomerState]
    reps: dict[str, RepState]
    as_of: int
    stats: ReplayStats
    # The events held as ahead of the clock, in the contract's order (not folded).
    held: list[Event] = field(default_factory=list)
    # How the replay went (workers, seconds per phase), for benchmarks; not a result.
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def summary(self) -> dict[str, Any]:
        by_status = Counter(s.status for s in self.customers.values())
        by_stage = Counter(s.stage for s in self.customers.values())
        return {
            **self.stats.to_dict(),
            "held_events": [held_item(e) for e in self.held[:REPORT_LIMIT]],
            "customers": len(self.customers),
            "reps": len(self.reps),
            "by_status": dict(sorted(by_status.items())),
            "by_stage": dict(sorted(by_stage.items())),
        }
