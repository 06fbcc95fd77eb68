"""The faust recovery fix (streams/faustfix.py), on faust's own flow control.

End to end it is exercised by tests/reliability (SIGKILL mid-stream, store deleted,
restart: every state must equal the replay).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams import faustfix


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

    with caplog.at_level(logging.WARNING, logger="streams.faustfix"):
        asyncio.run(run())
    assert not consumer._gap  # nothing acknowledged: the commit waits for the fold
    assert "events[0]: the fetcher jumped over offsets 301..311" in caplog.text
