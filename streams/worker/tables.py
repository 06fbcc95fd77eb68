"""The worker's tables: per-customer state, per-rep state and the latest score.

Keys are the raw id bytes (the same bytes as the topics' keys); values are JSON: the
state's `to_json()` (`to_dict()`'s form, which `CustomerState.from_dict` reads back), or
the score.

A rep's state is stored as rows, not as one value: a profile row under the rep's key
(`RepState.profile_dict()` plus the list of its week indexes) and one row per week of
activity (`RepState.week_entry`, under `rep_week_key`). A rep's weeks hold the digests of
every event it ever touched, so one value per rep grew with its history and every rep
batch rewrote all of it (tens to hundreds of KB per rep, every second); as rows, a batch
rewrites only the weeks its events fall in. Reading a rep back assembles the same
`RepState` (`read_rep`, `reps_from_rows`), so every equality check still covers it all.

Every table records the delivery futures of its changelog writes, so an agent can wait
until the broker has them before its batch is acknowledged: faust's own flush before an
offset commit gives up after 0.1 s of no progress (see streams/README.md), and a write
lost that way could never be recovered from the changelog.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import faust
import orjson

from streams.core.state import CustomerState, RepState
from streams.worker import internals
from streams.worker.producer import BatchSent, send_batched
from streams.worker.settings import StreamSettings


class _PlaceMessage:
    __slots__ = ("partition", "topic")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition


class Place:
    """Stands in for faust's current event where only its topic and partition matter:
    for table reads and writes made outside a batch (the scorer's)."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, topic: str, partition: int) -> None:
        self.message = _PlaceMessage(topic, partition)


@functools.cache
def place(topic: str, partition: int) -> Place:
    # Cached: faust keeps only a weak reference to its current event.
    return Place(topic, partition)


@contextlib.contextmanager
def acting_for(event: Any) -> Iterator[None]:
    """Make `event` faust's current event while a table is read or written.

    Faust picks the local RocksDB partition and the changelog partition of a table write
    from the event being processed. A batch holds events of several partitions, so each
    write names the event (of the key's own partition) it is made for.
    """
    current = internals.current_event()
    token = current.set(weakref.ref(event))
    try:
        yield
    finally:
        current.reset(token)


class TrackedTable(faust.Table):
    """A faust Table written a record at a time by `write`, which remembers the changelog
    sends not yet known delivered."""

    track_delivery = False

    def write(self, key: bytes, value: bytes, event: Any) -> None:
        """`self[key] = value` for a key of `event`'s partition, as faust's own setter does
        it, but for a whole batch at once: with the next `flush`, into the partition's
        local store, and a changelog record to the same partition; once the broker has
        it, the store notes the changelog offset it holds (from which a restart recovers).
        Without the setter's per-record layers (future message, send buffer, schema
        look-ups, sensors), which cost the worker more than folding the event: the store
        takes one write batch per partition, the producer whole record batches.
        """
        self.__dict__.setdefault("_queued", []).append((key, value, event.message.partition))

    async def flush(self) -> None:
        """Store and send the changelog records of every `write` so far."""
        queued: list[tuple[bytes, bytes, int]] = self.__dict__.pop("_queued", [])
        if not queued:
            return
        name = self.__dict__.get("_changelog_name")
        if name is None:
            name = self.__dict__["_changelog_name"] = self.changelog_topic.get_topic_name()
        # Before the first await: nobody can read the table between `write` and here.
        self._write_local(name, queued)
        for batch in await self.send_records(name, queued):
            batch.future.add_done_callback(functools.partial(self._persist_offset, batch))
            if self.track_delivery:
                self.__dict__.setdefault("_undelivered", []).append(batch.future)

    def _write_local(self, changelog: str, records: list[tuple[bytes, bytes, int]]) -> None:
        store: Any = self.data
        if not getattr(store, "use_rocksdict", False):  # memory:// in unit tests
            for key, value, partition in records:
                with acting_for(place(changelog, partition)):
                    store[key] = value
            return
        # faust's RocksDB store, written as its own changelog recovery writes it: one
        # WriteBatch per partition.
        internals.write_rocksdb_batches(store, records)

    async def send_records(
        self, topic: str, records: list[tuple[bytes, bytes, int]]
    ) -> list[BatchSent]:
        # faust's producer wraps aiokafka's, whose batch API it does not pass on.
        return await send_batched(internals.aiokafka_producer(self.app), topic, records)

    def _persist_offset(self, batch: BatchSent, fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self.data.set_persisted_offset(fut.result().topic_partition, batch.last_offset())

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        # Writes made through faust's own setter (`table[key] = value`) are tracked too.
        fut = super().send_changelog(*args, **kwargs)
        if self.track_delivery:
            self.__dict__.setdefault("_undelivered", []).append(fut)
        return fut

    async def delivered(self) -> None:
        """Send what `write` queued, then wait until every changelog write made so far
        is acknowledged by the broker."""
        await self.flush()
        pending: list[asyncio.Future[Any]] = self.__dict__.pop("_undelivered", [])
        if pending:
            # A failed write raises here, which stops the agent before its batch is
            # acknowledged: the batch is then redelivered, never skipped.
            await asyncio.gather(*pending)


@dataclass(frozen=True)
class Tables:
    customers: TrackedTable
    reps: TrackedTable
    scores: TrackedTable

    def all(self) -> tuple[TrackedTable, ...]:
        return (self.customers, self.reps, self.scores)


def _table(
    app: faust.App,
    name: str,
    settings: StreamSettings,
    help: str,
    topic_config: dict[str, Any] | None = None,
) -> TrackedTable:
    table = TrackedTable(
        app,
        name=name,
        key_type=bytes,
        value_type=bytes,  # bytes keys and values use faust's "raw" codec
        partitions=settings.partitions,
        beacon=app.tables.beacon,
        help=help,
        extra_topic_configs=topic_config or {},
    )
    # Scores are derived (and reconciled after a restart): nobody waits for them.
    table.track_delivery = settings.await_delivery and name != "scores"
    app.tables.add(table)
    return table


def define_tables(app: faust.App, settings: StreamSettings, max_message_bytes: int) -> Tables:
    # A rep's week row holds every event id the rep touched that week, so an extreme
    # week could outgrow Kafka's 1 MB default message size; its changelog allows more.
    big = {"max.message.bytes": max_message_bytes}
    return Tables(
        customers=_table(app, "customers", settings, "CustomerState.to_dict() by customer_id"),
        reps=_table(app, "reps", settings, "rep profile and week rows by rep_id", big),
        scores=_table(app, "scores", settings, "latest score by customer_id"),
    )


def encode_customer(state: CustomerState) -> bytes:
    return state.to_json()


def decode_customer(value: bytes) -> CustomerState:
    return CustomerState.from_dict(orjson.loads(value))


# Marks a week row's key. 0xFF never occurs in UTF-8, so no rep id (a profile row's key)
# can look like a week row's key, and the rep id inside one cannot hold the separator.
WEEK_MARK: Final = b"\xff"


def rep_week_key(rep_key: bytes, week: int) -> bytes:
    return WEEK_MARK + rep_key + WEEK_MARK + str(week).encode()


def split_rep_key(key: bytes) -> tuple[bytes, int | None]:
    """(rep key, week index) of a week row; (rep key, None) of a profile row."""
    if not key.startswith(WEEK_MARK):
        return key, None
    rep_key, _, week = key[1:].rpartition(WEEK_MARK)
    return rep_key, int(week)


def encode_rep_profile(state: RepState) -> bytes:
    profile = state.profile_dict()
    profile["weeks"] = sorted(state.weeks)
    return orjson.dumps(profile)


def encode_rep_week(state: RepState, week: int) -> bytes:
    return orjson.dumps(state.week_entry(week))


def rep_rows(state: RepState, weeks: Iterable[int]) -> list[tuple[bytes, bytes]]:
    """The rows to write for `state` once `weeks` changed: those weeks, then the profile."""
    key = state.rep_id.encode()
    rows = [(rep_week_key(key, week), encode_rep_week(state, week)) for week in sorted(weeks)]
    rows.append((key, encode_rep_profile(state)))
    return rows


def decode_rep_rows(profile: bytes, week_row: Callable[[int], bytes | None]) -> RepState:
    """A rep's state from its profile row and `week_row(week)`, the raw row of each week.

    A week the profile lists but whose row is missing is left out: its write was lost in
    a crash, so the events it held were never acknowledged and are folded again when
    they are redelivered (as with a lost state of a customer).
    """
    data = orjson.loads(profile)
    state = RepState.from_profile(data)
    for week in data["weeks"]:
        raw = week_row(week)
        if raw is not None:
            index, activity = RepState.week_from_entry(orjson.loads(raw))
            state.weeks[index] = activity
    return state


def read_rep(get: Callable[[bytes], bytes | None], rep_key: bytes) -> RepState | None:
    """A rep's state from a table's `get`, or None if it has no profile row."""
    profile = get(rep_key)
    if profile is None:
        return None
    return decode_rep_rows(profile, lambda week: get(rep_week_key(rep_key, week)))


def reps_from_rows(rows: Iterable[tuple[bytes, bytes]]) -> dict[str, RepState]:
    """Every rep's state from (key, value) rows of the reps table, by rep id."""
    profiles: dict[bytes, bytes] = {}
    weeks: dict[tuple[bytes, int], bytes] = {}
    for key, value in rows:
        rep_key, week = split_rep_key(key)
        if week is None:
            profiles[key] = value
        else:
            weeks[rep_key, week] = value
    return {
        key.decode(): decode_rep_rows(raw, _week_rows(weeks, key)) for key, raw in profiles.items()
    }


def _week_rows(
    weeks: dict[tuple[bytes, int], bytes], rep_key: bytes
) -> Callable[[int], bytes | None]:
    return lambda week: weeks.get((rep_key, week))
