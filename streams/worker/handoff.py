"""The fetcher's hand-off of a message to the agents, without four tasks per message.

faust's fetcher (`Consumer._drain_messages`) hands every message to its topic's queues
with `await self.wait_first(callback(message), self.suspend_flow.wait())`, so that a
rebalance (which sets `suspend_flow`) can abandon a hand-off blocked on a full queue.
mode's `Service.wait_first` wraps each argument, and the service's `stopped` and `crashed`
events, in a task of its own and waits for the first of the four: four tasks and an
`asyncio.wait` per message. py-spy put that at 15% of the worker's CPU, more than the
fold itself. Yet almost every hand-off completes without waiting (the queue has room).

So `Consumer.wait_first` is wrapped: when its first argument is a coroutine, that
coroutine runs up to its first real wait in the caller's own task, as the task made for
it would have run first. If it completes there, nothing was left to abandon: the other
waitables are closed unawaited and the result is the one faust's `wait_first` gives for
a finished first argument. If it waits, the rest of it goes on in a task
(`_resume_in_task`, which passes on results, errors and cancellation as a task would),
and faust's own `wait_first` races that task against the rest, exactly as before.
Running inline shares the fetcher's context variables, which nothing on faust's hand-off
path sets (faust sets its current event in the agent's stream, another task).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from mode.services import WaitResults

from streams.worker import internals


def apply() -> None:
    """Install the hand-off on faust's consumer class, once per process (idempotent).
    Raises RuntimeError on library versions it was not checked against."""
    internals.check_versions()

    def inline(wait_first: Any) -> Any:
        async def wait_first_inline(self: Any, *coros: Any, timeout: Any = None) -> WaitResults:
            return await first_inline(self, wait_first, coros, timeout)

        return wait_first_inline

    internals.replace_method(internals.consumer_class(), "wait_first", inline, "_hands_off_inline")


async def first_inline(service: Any, wait_first: Any, coros: Any, timeout: Any) -> WaitResults:
    """`wait_first(service, *coros, timeout=timeout)`, with `coros[0]` run inline first."""
    first = coros[0] if coros else None
    if not asyncio.iscoroutine(first):
        return await wait_first(service, *coros, timeout=timeout)
    try:
        waiting_on = first.send(None)
    except StopIteration as finished:
        _close(coros[1:])
        if internals.stopped_or_crashed(service):
            return WaitResults([], [], True)
        return WaitResults([first], [finished.value], False)
    except BaseException:
        _close(coros[1:])
        raise
    rest = asyncio.ensure_future(_resume_in_task(first, waiting_on))
    # A task cancelled before its first step never runs its coroutine: close `first`
    # then, so that it lets go of what it waits on (a queue's putter) at once.
    rest.add_done_callback(lambda _: first.close())
    results: WaitResults = await wait_first(service, rest, *coros[1:], timeout=timeout)
    return results._replace(done=[first if done is rest else done for done in results.done])


async def _resume_in_task(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Drive `coro` on from where it yielded `waiting_on`, as asyncio's Task would: wake it
    when what it waits on is done (its error, or this task's cancellation, thrown in)."""
    while True:
        try:
            if waiting_on is None:
                await asyncio.sleep(0)  # it yielded bare, as asyncio.sleep(0) does
            else:
                # The future was yielded marked "blocking" for a task to take up; a task
                # clears the mark before it waits, and awaiting it marked fails.
                waiting_on._asyncio_future_blocking = False
                await waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as finished:
                return finished.value
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration as finished:
            return finished.value


def _close(waitables: Any) -> None:
    for waitable in waitables:
        if asyncio.iscoroutine(waitable):
            waitable.close()  # never awaited, on purpose: no "never awaited" warning
