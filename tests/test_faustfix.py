"""The faust recovery fix (streams/faustfix.py), on faust's own flow control.

End to end it is exercised by tests/reliability (SIGKILL mid-stream, store deleted,
restart: every state must equal the replay).
"""

from __future__ import annotations

import asyncio

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
