"""Time is the processing clock's: the one rule for events dated ahead of it.

The contract (section "Time and the clock"): "now" is the clock (the wall clock, or an
explicit as-of), never the newest `occurred_at` seen, and an event dated more than a
small skew ahead of it is valid but not yet effective: kept, counted nowhere until its
time comes, and reported as held. The embedded replay (`streams.embedded.replay`,
`streams.embedded.parallel`), the worker (`streams.worker.batches`) and the web layer (`web.ledger`)
all decide with `is_ahead` and keep what they hold in a `Hold`, so one event is held
or folded alike on every path.

The skew is a setting, `CLOSECAST_FUTURE_SKEW_SECONDS` (default 300): clocks of phones,
laptops and importers drift by seconds to minutes, not by days.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from streams.core.contract import Event, to_ts

SKEW_ENV: Final = "CLOSECAST_FUTURE_SKEW_SECONDS"
DEFAULT_SKEW_SECONDS: Final = 300.0
REPORT_LIMIT: Final = 200  # held events listed in a report; the count is always whole


class HeldSettingError(ValueError):
    """The skew setting is unusable; the message names it."""


def skew_us(env: Mapping[str, str] | None = None) -> int:
    """The allowed skew into the future, in microseconds, from the environment."""
    env = os.environ if env is None else env
    text = env.get(SKEW_ENV, "").strip()
    if not text:
        return int(DEFAULT_SKEW_SECONDS * 1_000_000)
    try:
        seconds = float(text)
    except ValueError:
        raise HeldSettingError(f"{SKEW_ENV}: not a number of seconds ({text!r})") from None
    if not 0 <= seconds <= 86_400:
        raise HeldSettingError(f"{SKEW_ENV}: must be between 0 and 86400 seconds")
    return int(seconds * 1_000_000)


def wall_clock() -> int:
    """Now, in epoch microseconds."""
    return to_ts(datetime.now(UTC))


def is_ahead(ts: int, now: int, skew: int) -> bool:
    """Whether an event at `ts` lies beyond the allowed skew ahead of the clock `now`."""
    return ts > now + skew


@dataclass
class Hold:
    """Events not yet effective, in time order, released as the clock reaches them."""

    events: list[Event] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)

    def add(self, event: Event) -> bool:
        """Keep an event until its time; False if this event id is held already."""
        if event.event_id in self._ids:
            return False
        self._ids.add(event.event_id)
        bisect.insort(self.events, event, key=lambda e: e.key)
        return True

    def due(self, now: int, skew: int) -> list[Event]:
        """Take out, in order, the held events that are no longer ahead of `now`."""
        cut = 0
        while cut < len(self.events) and not is_ahead(self.events[cut].ts, now, skew):
            cut += 1
        if not cut:
            return []
        released, self.events = self.events[:cut], self.events[cut:]
        for event in released:
            self._ids.discard(event.event_id)
        return released

    def __len__(self) -> int:
        return len(self.events)

    def report(self, limit: int = REPORT_LIMIT) -> dict[str, Any]:
        """A count and a list (ids, types, times: never a payload, it may be sensitive)."""
        return {"count": len(self.events), "events": [held_item(e) for e in self.events[:limit]]}


def held_item(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "customer_id": event.customer_id,
        "rep_id": event.rep_id,
    }
