"""The fetcher's inline hand-off (streams/worker/handoff.py), on mode's own service and queues.

What faust's fetcher relies on: a hand-off to a queue with room completes; one blocked on
a full queue completes once there is room, or is abandoned (and lets go of the queue)
when the flow is suspended first; errors reach the fetcher either way. End to end it
runs in every live test and the reliability suite.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from mode import Service
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from streams.worker import handoff


class Fetcher(Service):
    """A service to call `wait_first` on, as faust's consumer does."""


class HandOff:
    """A hand-off of one message, as faust's conductor does it: put it on a queue."""

    def __init__(self, queue: asyncio.Queue[str]) -> None:
        self.queue = queue
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False

    async def __call__(self, message: str) -> str:
        self.task = asyncio.current_task()
        try:
            await self.queue.put(message)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return f"queued {message}"


def _queue(size: int) -> ThrowableQueue[str]:
    """A queue like a faust channel's, with its flow running."""
    return ThrowableQueue(maxsize=size, flow_control=FlowControlEvent(initially_suspended=False))


async def _wait_first(fetcher: Service, *coros: Any) -> Any:
    return await handoff.first_inline(fetcher, Service.wait_first, coros, None)


def test_a_hand_off_with_room_completes_in_the_fetcher_s_own_task() -> None:
    async def run() -> None:
        fetcher, suspend = Fetcher(), asyncio.Event()
        queue: ThrowableQueue[str] = _queue(2)
        put = HandOff(queue)
        before = len(asyncio.all_tasks())
        results = await _wait_first(fetcher, first := put("m1"), suspend.wait())
        assert put.task is asyncio.current_task()  # no task made for it
        assert len(asyncio.all_tasks()) == before
        assert results.done == [first]
        assert results.results == ["queued m1"]
        assert not results.stopped
        assert queue.get_nowait() == "m1"

    # pytest turns warnings into errors: the unawaited suspend.wait() was closed quietly.
    asyncio.run(run())


def test_a_blocked_hand_off_completes_once_the_queue_has_room() -> None:
    async def run() -> None:
        fetcher, suspend = Fetcher(), asyncio.Event()
        queue: ThrowableQueue[str] = _queue(1)
        queue.put_nowait("m0")
        put = HandOff(queue)
        waiting = asyncio.ensure_future(_wait_first(fetcher, first := put("m1"), suspend.wait()))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # blocked on the full queue
        assert await queue.get() == "m0"  # an agent takes a message: room for one
        results = await asyncio.wait_for(waiting, 1)
        assert put.task is not asyncio.current_task()  # it went on in a task of its own
        assert results.done == [first]
        assert results.results == ["queued m1"]
        assert queue.get_nowait() == "m1"

    asyncio.run(run())


def test_a_suspension_abandons_a_blocked_hand_off_and_frees_the_queue() -> None:
    async def run() -> None:
        fetcher, suspend = Fetcher(), asyncio.Event()
        queue: ThrowableQueue[str] = _queue(1)
        queue.put_nowait("m0")
        put = HandOff(queue)
        waiting = asyncio.ensure_future(_wait_first(fetcher, put("m1"), suspend.wait()))
        await asyncio.sleep(0.01)
        suspend.set()  # a rebalance starts
        results = await asyncio.wait_for(waiting, 1)
        await asyncio.sleep(0)  # the abandoned hand-off's cancellation runs
        assert not results.stopped
        assert len(results.done) == 1 and results.results == [True]  # the suspension won
        assert put.cancelled
        assert not queue._putters
        assert queue.get_nowait() == "m0"
        assert queue.empty()  # m1 was never queued: the fetcher reads it again

    asyncio.run(run())


def test_errors_reach_the_fetcher_before_and_after_a_wait() -> None:
    async def fails_at_once(message: str) -> None:
        raise ValueError(f"bad {message}")

    async def fails_after_a_wait(message: str) -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        raise KeyError(message)

    async def run() -> None:
        fetcher, suspend = Fetcher(), asyncio.Event()
        with pytest.raises(ValueError, match="bad m1"):
            await _wait_first(fetcher, fails_at_once("m1"), suspend.wait())
        with pytest.raises(KeyError, match="m2"):
            await _wait_first(fetcher, fails_after_a_wait("m2"), suspend.wait())

    asyncio.run(run())


def test_a_stopped_fetcher_is_told_so_even_when_the_hand_off_completes() -> None:
    async def run() -> None:
        fetcher, suspend = Fetcher(), asyncio.Event()
        fetcher._stopped.set()
        queue: ThrowableQueue[str] = _queue(1)
        results = await _wait_first(fetcher, HandOff(queue)("m1"), suspend.wait())
        assert results.stopped and results.done == []
        assert queue.get_nowait() == "m1"

    asyncio.run(run())


def test_anything_but_a_coroutine_first_is_faust_s_own_wait_first() -> None:
    async def run() -> None:
        fetcher, ready = Fetcher(), asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, ready.set)
        results = await _wait_first(fetcher, ready)
        assert results.done == [ready] and not results.stopped

    asyncio.run(run())


def test_apply_installs_it_on_faust_s_consumer_once() -> None:
    handoff.apply()
    installed = Consumer.wait_first
    handoff.apply()
    assert Consumer.wait_first is installed
    assert installed.__qualname__.endswith("wait_first_inline")
