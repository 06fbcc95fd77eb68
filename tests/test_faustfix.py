"""The faust recovery fix (streams/faustfix.py), on faust's own flow control.

End to end it is exercised by tests/reliability (SIGKILL mid-stream, store deleted,
restart: every state must equal the replay).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

from faust.transport.consumer import Consumer
from faust.types import TP
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


P0, P1 = TP("events", 0), TP("events", 1)


class _SeekingConsumer:
    """Just what faust's `Consumer.perform_seek` touches: read and committed offsets, the
    app's flow control and a seek to the committed offsets."""

    def __init__(self, flow: FlowControlEvent, committed: dict[TP, int]) -> None:
        self.app = SimpleNamespace(flow_control=flow)
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset: dict[TP, int | None] = {}
        self.committed = committed

    async def seek_to_committed(self) -> dict[TP, int]:
        return dict(self.committed)


def test_a_seek_while_the_flow_runs_keeps_what_was_handed_out() -> None:
    faustfix.apply()

    async def run() -> None:
        flow = FlowControlEvent(initially_suspended=False)
        consumer = _SeekingConsumer(flow, {P0: 300, P1: 120})
        consumer._read_offset[P0] = 306  # 300..306 queued for the agents
        await Consumer.perform_seek(consumer)  # type: ignore[arg-type]
        # A fetch of 307 next is no jump (no gap acknowledged over 300..306), and the
        # broker's re-sent 300..305 are dropped as already handed out.
        assert consumer._read_offset[P0] == 306
        assert consumer._read_offset[P1] == 120  # nothing handed out: the seek's
        assert consumer._committed_offset == {P0: 300, P1: 120}

    asyncio.run(run())


def test_a_seek_while_the_flow_is_suspended_reads_again_from_the_committed_offset() -> None:
    faustfix.apply()

    async def run() -> None:
        flow = FlowControlEvent(initially_suspended=True)  # its queues clear on resume
        consumer = _SeekingConsumer(flow, {P0: 300})
        consumer._read_offset[P0] = 306
        await Consumer.perform_seek(consumer)  # type: ignore[arg-type]
        assert consumer._read_offset[P0] == 300

    asyncio.run(run())
