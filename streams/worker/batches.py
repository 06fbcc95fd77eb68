"""What the agents do with one batch of messages: decode, fold, forward, write back.

The fold is `streams.core.fold.apply` / `apply_rep`, the very functions the replay uses; nothing
here decides what an event means. This module only decides what to send where, and in
which order, so that a crash at any instant loses nothing (see streams/README.md):

1. decode every message by the contract; bad ones become dead letters;
2. fold the customer events into their states (kept decoded in memory between batches);
3. send the rep side of each *newly applied* event, the dead letters and the re-keyed
   messages, and wait until the broker has them;
4. only then write the changed states back to the table, and wait for the changelog.

After step 3 a state that holds an event implies its rep side was delivered, so a
redelivered event that the state already holds needs no new forward: a duplicate is
dropped exactly as the replay drops it. Duplicates still write their (unchanged) state
back, which re-sends a changelog record that a crash may have lost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import orjson

from streams.core.contract import REP_EVENT_TYPES, Event, InvalidEvent, parse
from streams.core.deadletter import reject
from streams.core.fold import apply, apply_rep, touches_customer
from streams.core.held import held_item, is_ahead, skew_us, wall_clock
from streams.core.state import WEEK_US, CustomerState, RepState
from streams.worker.producer import partition_of
from streams.worker.progress import Progress
from streams.worker.tables import (
    TrackedTable,
    acting_for,
    decode_customer,
    encode_customer,
    read_rep,
    rep_rows,
)

log = logging.getLogger(__name__)


class Sendable(Protocol):
    """A topic's sender (`streams.worker.topics.RawSender`, or a test double): `await send(...)`
    returns the delivery future, `await send_many(...)` the futures of its batches."""

    async def send(self, *, key: bytes | None, value: bytes) -> Any: ...

    async def send_many(self, records: list[tuple[bytes, bytes]]) -> list[Any]: ...


Ready = Callable[[], Awaitable[None]]
# A partition's end offset (the next offset to be written) as the consumer last saw it.
Highwater = Callable[[Any], int | None]


def unknown_highwater(tp: Any) -> int | None:
    return None


async def no_wait() -> None:
    return None


class ScoreQueue(Protocol):
    def mark(self, key: bytes, partition: int) -> None: ...


class Deliveries:
    """Sends of one batch, and a wait until the broker has acknowledged them all."""

    def __init__(self, await_delivery: bool) -> None:
        self.await_delivery = await_delivery
        self.pending: list[Any] = []

    async def send(self, topic: Sendable, key: bytes | None, value: bytes) -> None:
        fut = await topic.send(key=key, value=value)
        if self.await_delivery:
            self.pending.append(fut)

    async def send_many(self, topic: Sendable, records: list[tuple[bytes, bytes]]) -> None:
        if records:
            futures = await topic.send_many(records)
            if self.await_delivery:
                self.pending.extend(futures)

    async def delivered(self) -> None:
        pending, self.pending = self.pending, []
        if pending:
            await asyncio.gather(*pending)


def dead_letter(message: Any, reason: str) -> bytes:
    """A dead-letter record: where the message was, why it was refused, its raw text."""
    raw = message.value if isinstance(message.value, bytes) else b""
    rejection = reject(f"{message.topic}[{message.partition}]", message.offset, raw, reason)
    record = rejection.to_dict()
    record["key"] = message.key.decode("utf-8", "replace") if message.key else None
    return orjson.dumps(record)


class Cache:
    """Decoded states by key, so a busy customer is not decoded from JSON per event.

    Only the agent that owns a key's partition writes it, so the cache cannot go stale
    while the partition stays assigned; it is cleared whenever partitions move.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: dict[bytes, Any] = {}

    def get(self, key: bytes) -> Any:
        return self.items.get(key)

    def put(self, key: bytes, value: Any) -> None:
        items = self.items
        items[key] = value
        if len(items) > self.limit:
            # Evict the oldest tenth at once (insertion order): cheap per put, and a
            # cold key is only decoded from the table again.
            for old in list(itertools.islice(items, max(1, self.limit // 10))):
                del items[old]

    def clear(self) -> None:
        self.items.clear()


class EventsBatch:
    """Folds batches of the events topic into the customer table."""

    def __init__(
        self,
        customers: TrackedTable,
        rep_events: Sendable,
        events: Sendable,
        deadletter: Sendable,
        scores: ScoreQueue,
        progress: Progress,
        partitions: int,
        await_delivery: bool,
        cache_size: int,
        ready: Ready = no_wait,
        highwater: Highwater = unknown_highwater,
        held: Sendable | None = None,
        clock: Callable[[], int] = wall_clock,
        skew: int | None = None,
    ) -> None:
        self.held = held
        self.clock = clock
        self.skew = skew_us() if skew is None else skew
        self.ready = ready
        self.highwater = highwater
        self.customers = customers
        self.rep_events = rep_events
        self.events = events
        self.deadletter = deadletter
        self.scores = scores
        self.progress = progress
        self.partitions = partitions
        self.await_delivery = await_delivery
        self.cache = Cache(cache_size)
        self._partition_memo: dict[bytes, int] = {}
        self._behind: dict[Any, int] = {}  # partition -> messages after its last batch

    def forget(self) -> None:
        """Partitions moved: what was cached or counted of them may be someone else's."""
        self.cache.clear()
        self._behind.clear()
        self.progress.backlog = 0

    def _count_backlog(self, batch: Sequence[Any]) -> None:
        last: dict[Any, int] = {}
        for event in batch:
            message = event.message
            last[message.tp] = message.offset
        for tp, offset in last.items():
            end = self.highwater(tp)
            if end is not None:
                self._behind[tp] = max(0, end - offset - 1)
        self.progress.backlog = sum(self._behind.values())

    def state(self, key: bytes, event: Any) -> CustomerState | None:
        """The customer's current state: from memory, else from the table."""
        state: CustomerState | None = self.cache.get(key)
        if state is None:
            with acting_for(event):
                raw = self.customers.get(key)
            if raw is not None:
                state = decode_customer(raw)
                self.cache.put(key, state)
        return state

    def _well_placed(self, message: Any, event: Event) -> bytes | None:
        """The key the message should have had, or None if it is where it belongs."""
        wanted = event.partition_key.encode()
        memo = self._partition_memo
        partition = memo.get(wanted)
        if partition is None:
            partition = memo[wanted] = partition_of(wanted, self.partitions)
            if len(memo) > 1_000_000:
                memo.clear()
        if message.key == wanted and message.partition == partition:
            return None
        return wanted

    async def process(self, batch: Sequence[Any]) -> Progress:
        """Handle one batch of faust events (message + value); return what it did."""
        await self.ready()
        started = time.perf_counter()
        progress = self.progress
        out = Deliveries(self.await_delivery)
        forwards: dict[bytes, list[bytes]] = {}
        changed: dict[bytes, tuple[CustomerState, Any]] = {}
        done = Progress()
        horizon = self.clock()
        for event in batch:
            message = event.message
            raw = message.value
            done.messages += 1
            try:
                decoded = parse(raw if isinstance(raw, bytes) else b"")
            except InvalidEvent as exc:
                await out.send(self.deadletter, message.key, dead_letter(message, str(exc)))
                done.rejected += 1
                continue
            try:
                wanted = self._well_placed(message, decoded)
                if wanted is not None:
                    # Outside producers may key by something else; co-partitioning needs
                    # the customer's (or rep's) key, so the event goes round once more.
                    await out.send(self.events, wanted, raw)
                    done.rekeyed += 1
                    continue
                if self.held is not None and is_ahead(decoded.ts, horizon, self.skew):
                    # Not yet effective: kept in the held topic (delivered before this
                    # batch is acknowledged), folded when the hold agent sends it back.
                    await out.send(self.held, message.key, raw)
                    progress.holding[decoded.event_id] = held_item(decoded)
                    done.held += 1
                    continue
                if not touches_customer(decoded):
                    # rep_joined / rep_left: the rep's alone.
                    forwards.setdefault(decoded.partition_key.encode(), []).append(raw)
                    progress.see(decoded.ts)
                    continue
                key = message.key
                before = changed[key][0] if key in changed else self.state(key, event)
                after = apply(before, decoded)
                changed[key] = (after, event)
                if after is before:
                    done.duplicates += 1
                    continue
                done.applied += 1
                progress.see(decoded.ts)
                if decoded.rep_id is not None:
                    forwards.setdefault(decoded.rep_id.encode(), []).append(raw)
            except Exception as exc:  # never let one message stop the agent
                log.exception(
                    "event at %s[%s]@%s failed", message.topic, message.partition, message.offset
                )
                reason = f"internal: {type(exc).__name__} while folding (see worker log)"
                await out.send(self.deadletter, message.key, dead_letter(message, reason))
                done.rejected += 1
        await out.send_many(
            self.rep_events, [(rep, b"\n".join(lines)) for rep, lines in forwards.items()]
        )
        # The rep sides first: a state written below may then be trusted to imply them.
        waiting = time.perf_counter()
        await out.delivered()
        written = time.perf_counter()
        for key, (state, event) in changed.items():
            self.cache.put(key, state)
            self.customers.write(key, encode_customer(state), event)
            self.scores.mark(key, event.message.partition)
        flushing = time.perf_counter()
        await self.customers.delivered()
        done.wait_seconds = (written - waiting) + (time.perf_counter() - flushing)
        done.work_seconds = (waiting - started) + (flushing - written)
        _add(progress, done)
        self._count_backlog(batch)
        return done


class RepsBatch:
    """Folds batches of the rep-events topic into the rep table."""

    def __init__(
        self,
        reps: TrackedTable,
        deadletter: Sendable,
        progress: Progress,
        await_delivery: bool,
        ready: Ready = no_wait,
    ) -> None:
        self.ready = ready
        self.reps = reps
        self.deadletter = deadletter
        self.progress = progress
        self.await_delivery = await_delivery
        self.cache = Cache(100_000)

    def state(self, key: bytes, event: Any) -> RepState | None:
        state: RepState | None = self.cache.get(key)
        if state is None:
            with acting_for(event):
                state = read_rep(self.reps.get, key)
            if state is not None:
                self.cache.put(key, state)
        return state

    async def process(self, batch: Sequence[Any]) -> Progress:
        await self.ready()
        out = Deliveries(self.await_delivery)
        touched: dict[bytes, tuple[RepState, Any]] = {}
        weeks: dict[bytes, set[int]] = {}  # per rep, the week rows its events fall in
        done = Progress()
        for event in batch:
            message = event.message
            done.rep_messages += 1
            key = message.key or b""
            value = message.value if isinstance(message.value, bytes) else b""
            for line in value.split(b"\n"):
                try:
                    decoded = parse(line)
                    if decoded.rep_id is None or decoded.rep_id.encode() != key:
                        raise InvalidEvent("rep_id: does not match the rep-events key")
                    before = touched[key][0] if key in touched else self.state(key, event)
                    # Always written back, duplicate or not: see the module docstring.
                    touched[key] = (apply_rep(before, decoded), event)
                    rows = weeks.setdefault(key, set())
                    if decoded.type not in REP_EVENT_TYPES:  # those change the profile only
                        rows.add(decoded.ts // WEEK_US)
                    done.rep_events += 1
                except Exception as exc:  # a foreign or broken message: keep it, go on
                    reason = str(exc) if isinstance(exc, InvalidEvent) else repr(exc)
                    await out.send(self.deadletter, key, dead_letter(_Line(message, line), reason))
                    done.rejected += 1
        await out.delivered()
        for key, (state, event) in touched.items():
            self.cache.put(key, state)
            for row, value in rep_rows(state, weeks[key]):
                self.reps.write(row, value, event)
        await self.reps.delivered()
        _add(self.progress, done)
        return done


class _Line:
    """One line of a rep-events message, shaped like a message for `dead_letter`."""

    def __init__(self, message: Any, line: bytes) -> None:
        self.topic = message.topic
        self.partition = message.partition
        self.offset = message.offset
        self.key = message.key
        self.value = line


def _add(total: Progress, part: Progress) -> None:
    total.messages += part.messages
    total.applied += part.applied
    total.duplicates += part.duplicates
    total.rejected += part.rejected
    total.rekeyed += part.rekeyed
    total.rep_messages += part.rep_messages
    total.rep_events += part.rep_events
    total.work_seconds += part.work_seconds
    total.wait_seconds += part.wait_seconds
    total.held += part.held
    total.released += part.released
    total.batches += 1


class HeldBatch:
    """Looks again at held events: sends the due ones back to the events topic, and the
    others round the held topic once more, then waits `recheck` seconds (so a held event
    costs one message per recheck, and none is ever only in memory)."""

    def __init__(
        self,
        events: Sendable,
        held: Sendable,
        progress: Progress,
        recheck: float,
        await_delivery: bool,
        clock: Callable[[], int] = wall_clock,
        skew: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.events = events
        self.held = held
        self.progress = progress
        self.recheck = recheck
        self.await_delivery = await_delivery
        self.clock = clock
        self.skew = skew_us() if skew is None else skew
        self.sleep = sleep

    async def process(self, batch: Sequence[Any]) -> Progress:
        out = Deliveries(self.await_delivery)
        done = Progress()
        now = self.clock()
        kept = 0
        for event in batch:
            message = event.message
            done.messages += 1
            raw = message.value if isinstance(message.value, bytes) else b""
            try:
                decoded = parse(raw)
            except InvalidEvent as exc:  # cannot happen for what the fold held; kept anyway
                await out.send(self.held, message.key, raw)
                log.warning("held message at offset %s unreadable: %s", message.offset, exc)
                continue
            if is_ahead(decoded.ts, now, self.skew):
                await out.send(self.held, message.key, raw)
                self.progress.holding[decoded.event_id] = held_item(decoded)
                kept += 1
            else:
                await out.send(self.events, message.key, raw)
                self.progress.holding.pop(decoded.event_id, None)
                done.released += 1
        await out.delivered()
        self.progress.released += done.released
        if kept:
            await self.sleep(self.recheck)
        return done
