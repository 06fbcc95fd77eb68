"""The faust recovery fix (streams/worker/faustfix.py), on faust's own flow control.

End to end it is exercised by tests/reliability (SIGKILL mid-stream, store deleted,
restart: every state must equal the replay).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams.worker import faustfix


def test_a_running_flow_keeps_its_queues_and_a_resumed_one_drops_stale_messages() -> None:
    faustfix.apply()

    async def run() -> None:
        flow = FlowControlEvent(initially_suspended=True)
        queue: FlowControlQueue[str] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
        flow.resume()  # recovery starts the flow to read the changelogs
        queue.put_nowait("offset 306, fetched once the stream partitions were resumed")
        flow.resume()  # recovery completed: the flow was running all along
        assert queue.qsize() == 1
        flow.suspend()  # a rebalance: what is queued now may belong to another worker
        flow.resume()
        assert queue.qsize() == 0

    asyncio.run(run())


def test_a_jump_in_offsets_is_never_taken_as_acknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faustfix.apply()
    consumer = SimpleNamespace(
        _gap=defaultdict(IntervalTree), _committed_offset={TP("events", 0): 300}
    )

    async def run() -> None:
        # The fetcher handed out 306, then (after a seek back to 300) 312: faust would
        # take 301..311 as acknowledged, though 307..311 were never handed out.
        await Consumer._add_gap(consumer, TP("events", 0), 301, 312)  # type: ignore[arg-type]

    with caplog.at_level(logging.WARNING, logger="streams.worker.faustfix"):
        asyncio.run(run())
    assert not consumer._gap  # nothing acknowledged: the commit waits for the fold
    assert "events[0]: the fetcher jumped over offsets 301..311" in caplog.text


class _Fetching:
    """A consumer as `without_jumps` sees it; `handed_out` plays faust's fetcher, which
    sets the read offset to each message it hands out."""

    def __init__(self, read: dict[TP, int]) -> None:
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None, read)
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True))
        self.seeks: list[tuple[TP, int]] = []

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self._read_offset[tp] = offset

    async def handed_out(self, batch: list[tuple[TP, int]]) -> list[tuple[TP, int]]:
        async def fetched() -> AsyncIterator[tuple[TP, Any]]:
            for tp, offset in batch:
                yield tp, SimpleNamespace(offset=offset)

        out = []
        async for tp, message in faustfix.without_jumps(self, fetched()):
            out.append((tp, message.offset))
            self._read_offset[tp] = message.offset
        return out


def test_a_message_past_a_jump_is_not_handed_out_its_partition_is_read_again() -> None:
    p0, p1 = TP("events", 0), TP("events", 1)
    # The seek put partition 0 back to its committed 300 while 300..306 were queued; the
    # rest of a batch fetched before the seek still holds 307..309 for it.
    consumer = _Fetching({p0: 300, p1: 120})
    batch = [(p0, 307), (p1, 121), (p0, 308), (p1, 122), (p0, 309)]
    handed = asyncio.run(consumer.handed_out(batch))
    assert handed == [(p1, 121), (p1, 122)]
    assert consumer.seeks == [(p0, 300)]  # once, whatever the batch still held
    # What the broker then sends again, from 300 on, goes out in order.
    again = asyncio.run(consumer.handed_out([(p0, 300), (p0, 301), (p0, 302)]))
    assert again == [(p0, 300), (p0, 301), (p0, 302)] and consumer.seeks == [(p0, 300)]


def test_consecutive_offsets_and_a_first_read_pass_untouched() -> None:
    p0 = TP("events", 0)
    consumer = _Fetching({})  # nothing read yet on this partition
    handed = asyncio.run(consumer.handed_out([(p0, 55), (p0, 56), (p0, 57)]))
    assert handed == [(p0, 55), (p0, 56), (p0, 57)] and consumer.seeks == []


class _Seeking:
    """What faust's `Consumer.perform_seek` touches, with a broker that has committed
    offsets for some partitions only."""

    def __init__(self, committed: dict[TP, int | None], changelog: TP) -> None:
        self.committed = committed
        self.changelog = changelog
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset: dict[TP, int | None] = {}
        acks = {changelog.topic: False}
        self.app = SimpleNamespace(
            topics=SimpleNamespace(acks_enabled_for=lambda t: acks.get(t, True))
        )
        self.seeks: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return {*self.committed, self.changelog}

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


def test_a_partition_never_committed_is_read_again_from_its_start() -> None:
    faustfix.apply()
    p0, p1, p2 = TP("events", 0), TP("events", 1), TP("events", 2)
    consumer = _Seeking({p0: 300, p1: None, p2: 0}, changelog=TP("customers-changelog", 1))
    asyncio.run(Consumer.perform_seek(consumer))  # type: ignore[arg-type]
    # p0 was sought to 300 by aiokafka itself; p1 and p2 were not: from their start.
    # Changelogs are read by the table recovery, never acknowledged: left alone.
    assert sorted(consumer.seeks) == [(p1, 0), (p2, 0)]
    assert consumer._read_offset[p0] == 300
