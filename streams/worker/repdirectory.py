"""Every rep's latest state, in every worker, for scoring customers.

A customer's score needs its owner's rep state, but the rep table is partitioned by rep,
so with several workers most reps live elsewhere. Reps are few (tens to hundreds), so
each worker keeps all of them: a plain consumer, outside the consumer group, reads every
partition of the rep table's changelog from the beginning and keeps the newest rows of
each rep. A GlobalTable would do the same inside faust; this is simpler to reason about
and to test, and it never takes part in rebalancing.

Consistency: eventual. A rep's state here lags the rep table by the changelog's delivery
(milliseconds), the rep agent's batch (`rep_batch_within`) and the decode interval
(`refresh`, 1 s). Rep features (tenure, 26-week conversion, 4-week activity) move
slowly, so a score computed in that window differs at most in the rep's very latest
events; the customer's own state is never late. Rows are kept raw and decoded only when
a score needs them; a rep's profile row is written after its week rows, so a profile
that has arrived finds the week rows it lists.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.core.state import RepState, RepWeek
from streams.worker.tables import split_rep_key

log = logging.getLogger(__name__)


class RepDirectory:
    """The newest raw rows of every rep; a rep is assembled on demand, at most once per
    `refresh` s.

    The reps table holds a profile row per rep and a row per week of its activity (see
    `streams.worker.tables`). A busy rep changes with almost every batch; assembling it for every
    scoring pass would cost more than the scoring. Between two assemblies of one rep,
    scores use the previous one: at most `refresh` seconds older. Week rows are decoded
    only when their raw value changed.
    """

    def __init__(self, refresh: float = 1.0) -> None:
        self.refresh = refresh
        self._raw: dict[str, bytes] = {}  # rep id -> profile row
        self._weeks: dict[str, dict[int, bytes]] = {}  # rep id -> week -> week row
        self._week_memo: dict[tuple[str, int], tuple[bytes, RepWeek]] = {}
        self._decoded: dict[str, tuple[bytes, float, RepState]] = {}

    def update(self, key: bytes, value: bytes | None) -> None:
        rep_key, week = split_rep_key(key)
        rep_id = rep_key.decode("utf-8", "replace")
        if week is not None:
            rows = self._weeks.setdefault(rep_id, {})
            if value is None:
                rows.pop(week, None)
                self._week_memo.pop((rep_id, week), None)
            else:
                rows[week] = value
        elif value is None:
            self._raw.pop(rep_id, None)
            self._decoded.pop(rep_id, None)
        else:
            self._raw[rep_id] = value

    def get(self, rep_id: str) -> RepState | None:
        raw = self._raw.get(rep_id)
        if raw is None:
            return None
        memo = self._decoded.get(rep_id)
        now = time.monotonic()
        if memo is None or (memo[0] is not raw and now - memo[1] >= self.refresh):
            memo = self._decoded[rep_id] = (raw, now, self._assemble(rep_id, raw))
        return memo[2]

    def _assemble(self, rep_id: str, profile: bytes) -> RepState:
        rows = self._weeks.get(rep_id, {})
        data = orjson.loads(profile)
        state = RepState.from_profile(data)
        for week in data["weeks"]:
            raw = rows.get(week)
            if raw is None:
                continue  # not arrived yet (or lost with its batch, see decode_rep_rows)
            memo = self._week_memo.get((rep_id, week))
            if memo is None or memo[0] is not raw:
                _, activity = RepState.week_from_entry(orjson.loads(raw))
                memo = self._week_memo[rep_id, week] = (raw, activity)
            state.weeks[week] = memo[1]
        return state

    def snapshot(self, rep_ids: Iterable[str] | None = None) -> dict[str, RepState]:
        """The reps asked for (default: every known rep), decoded."""
        wanted = self._raw if rep_ids is None else rep_ids
        out = {}
        for rep_id in wanted:
            state = self.get(rep_id)
            if state is not None:
                out[rep_id] = state
        return out

    def __len__(self) -> int:
        return len(self._raw)


async def follow_changelog(
    directory: RepDirectory,
    topic: str,
    bootstrap: str,
    partitions: int,
    stop: asyncio.Event,
    max_fetch_bytes: int,
) -> None:
    """Feed `directory` from every partition of `topic` until `stop` is set."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=max_fetch_bytes,
        fetch_max_bytes=max(max_fetch_bytes, 52_428_800),
    )
    await consumer.start()
    try:
        if not await _exists(consumer, topic, stop):
            return
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        directory.update(record.key, record.value)
    finally:
        await consumer.stop()


async def _exists(consumer: AIOKafkaConsumer, topic: str, stop: asyncio.Event) -> bool:
    # The worker declares the changelog topic itself as it starts; wait until it exists.
    while not stop.is_set():
        if topic in await consumer.topics():
            return True
        await asyncio.sleep(0.5)
    return False
