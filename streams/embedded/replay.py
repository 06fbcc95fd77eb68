"""The embedded engine: fold log files into every customer's and rep's state, in process.

This is the default way to run closecast (one machine, no server). The Faust worker
computes the same states with the same fold; `tests/live` proves they agree.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from streams.core.collector import collector_paused
from streams.core.contract import REP_EVENT_TYPES, Event, InvalidEvent, parse
from streams.core.deadletter import DeadLetterFile, Rejection, reject
from streams.core.fold import apply_in_place, apply_rep_in_place, event_digest
from streams.core.held import Hold, is_ahead, skew_us, wall_clock
from streams.core.log import numbered_lines
from streams.core.snapshot import ReplayStats, Snapshot
from streams.core.state import CustomerState, RepState


class Replayer:
    """Folds events into states it owns, so it may use the in-place fold.

    Without an explicit `as_of` the clock is `now` (default: the wall clock when the
    replayer is made): events dated beyond the allowed skew ahead of it are held, not
    folded, and `release` folds them once the clock has reached them. `latest`, the
    log's own clock, therefore never follows a claimed future time.
    """

    def __init__(
        self, as_of: int | None = None, now: int | None = None, skew: int | None = None
    ) -> None:
        self.as_of = as_of
        self.customers: dict[str, CustomerState] = {}
        self.reps: dict[str, RepState] = {}
        self.stats = ReplayStats()
        self.latest = 0
        self.skew = skew_us() if skew is None else skew
        self.now = wall_clock() if now is None else now
        self.hold = Hold()

    def feed(self, event: Event) -> bool:
        """Fold one event. Return True if it changed anything (a held one changes nothing)."""
        stats = self.stats
        stats.events_read += 1
        ts = event.ts
        if self.as_of is not None and ts > self.as_of:
            stats.after_as_of += 1
            return False
        if self.as_of is None and is_ahead(ts, self.now, self.skew):
            if self.hold.add(event):
                stats.held += 1
            else:
                stats.duplicates += 1
            return False
        return self._fold(event)

    def due(self, now: int) -> list[Event]:
        """Move the clock on to `now`; take out the held events it reached, in order, for
        `fold` (they were counted as read when they came)."""
        self.now = max(self.now, now)
        released = self.hold.due(self.now, self.skew)
        self.stats.held -= len(released)
        return released

    def release(self, now: int) -> list[Event]:
        """`due`, folded; return those that changed something."""
        return [event for event in self.due(now) if self.fold(event)]

    def fold(self, event: Event) -> bool:
        """Fold an event that is due (no clock or as-of check)."""
        return self._fold(event)

    def _fold(self, event: Event) -> bool:
        stats = self.stats
        ts = event.ts
        applied = for_customer = False
        digest = event_digest(event.event_id)
        customer_id = event.customer_id
        # touches_customer(event), inlined: this runs once per event.
        if customer_id is not None and event.type not in REP_EVENT_TYPES:
            for_customer = True
            state = self.customers.get(customer_id)
            if state is None:
                state = self.customers[customer_id] = CustomerState(customer_id)
            applied = apply_in_place(state, event, digest)
        rep_id = event.rep_id
        if rep_id is not None and (applied or not for_customer):
            rep = self.reps.get(rep_id)
            if rep is None:
                rep = self.reps[rep_id] = RepState(rep_id)
            applied = apply_rep_in_place(rep, event, digest) or applied
        if applied:
            stats.events_applied += 1
            if ts > self.latest:
                self.latest = ts
        else:
            stats.duplicates += 1
        return applied

    def reject(self, rejection: Rejection) -> None:
        self.stats.events_read += 1
        self.stats.rejected += 1
        self.stats.reasons[rejection.reason.split(":", 1)[0]] += 1

    def snapshot(self) -> Snapshot:
        as_of = self.as_of if self.as_of is not None else self.latest
        return Snapshot(self.customers, self.reps, as_of, self.stats, list(self.hold.events))


def replay_events(
    events: Iterable[Event], as_of: int | None = None, now: int | None = None
) -> Snapshot:
    replayer = Replayer(as_of, now)
    with collector_paused():
        for event in events:
            replayer.feed(event)
    return replayer.snapshot()


def replay_files(
    paths: Iterable[Path],
    as_of: int | None = None,
    dead_letters: Path | None = None,
    progress: bool = False,
    workers: int | None = None,
    now: int | None = None,
) -> Snapshot:
    """Fold log files. Bad lines go to the dead-letter file (if given) and are counted.

    `workers` > 1 splits the work by customer over that many processes (see
    `streams.embedded.parallel`; the result is the same); None chooses by the log's size.
    """
    # Imported here: streams.embedded.parallel builds on this module.
    from streams.embedded.parallel import auto_workers, can_fork, replay_parallel

    paths = list(paths)
    # One clock for the whole replay, so every worker holds the same events.
    now = wall_clock() if now is None else now
    if workers is None:
        workers = auto_workers(paths)
    if workers > 1 and can_fork():
        snapshot = replay_parallel(paths, as_of, dead_letters, progress, workers, now)
        if snapshot is not None:
            return snapshot
    return replay_single(paths, as_of, dead_letters, progress, now)


def replay_single(
    paths: list[Path],
    as_of: int | None,
    dead_letters: Path | None,
    progress: bool,
    now: int | None = None,
) -> Snapshot:
    """`replay_files` in this process."""
    started = time.perf_counter()
    replayer = Replayer(as_of, now)
    feed = replayer.feed
    with DeadLetterFile(dead_letters) as dlq, collector_paused():
        for _, source, number, raw in numbered_lines(paths, progress):
            try:
                event = parse(raw)
            except InvalidEvent as exc:
                rejection = reject(source, number, raw, str(exc))
                replayer.reject(rejection)
                dlq.write(rejection)
                continue
            feed(event)
    snapshot = replayer.snapshot()
    snapshot.timings.update(workers=1, fold_s=time.perf_counter() - started)
    return snapshot
