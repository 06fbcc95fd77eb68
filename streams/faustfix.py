"""A fix to faust-streaming 0.15's recovery, which otherwise can lose events for good.

Found by the reliability suite (tests/reliability: SIGKILL mid-stream, local store
deleted, restart): a restarted worker left events of the log unfolded, and committed
offsets past them, so a further restart did not bring them back either. Upstream:
faust-streaming/faust issue #596 (open; `master` has the same code). At the end of a
recovery (`Recovery.on_recovery_completed`, `_resume_streams`):

1. the stream partitions are resumed, so messages are fetched and queued for the agents
   (the flow already runs: recovery resumed it to read the changelogs);
2. the partitions are sought to their committed offsets, and `perform_seek` sets every
   read offset back to the committed one;
3. `app.flow_control.resume()` runs a second time, and a resume clears every stream
   queue: the messages queued in step 1 that no agent had taken yet are dropped.

The fetcher goes on after the dropped messages; since step 2 moved the read offset back,
the next message looks like a jump, faust records the range as a gap and counts it as
acked, and the dropped messages are committed without ever being folded. (When the first
dropped message falls just outside that gap, it is never acked and commits stop.)

Two fixes, each a small wrapper around faust's own method:

- The flow control clears its queues only when flow really resumes after a suspension
  (the queues then hold a rebalance's stale messages), never while it already runs, when
  they hold messages of the current assignment (`keep_running_queues`).
- With those messages kept, step 2 must not move the read offset back over them either:
  otherwise the next fetched message looks like a jump, faust records the range as a
  gap, and a gap counts as acknowledged. The queued messages would then be committed
  before any agent folded them (a crash in that window loses them) and, acknowledged a
  second time once folded, they break faust's run of consecutive offsets, so commits
  crawl one offset per interval. A seek while the flow runs therefore keeps each
  partition's read offset at what was already handed out (`seek_keeps_handed_out`): the
  broker re-sends from the committed offset and faust drops what it handed out already.
  A seek while the flow is suspended (its queues are cleared on resume) moves back as
  before, and no read offset outlives a rebalance (faust forgets them on revocation), so
  only messages of the current assignment are ever kept.

`apply` refuses other faust versions, whose recovery it was not checked against.
"""

from __future__ import annotations

from typing import Any, Final

import faust

CHECKED_VERSIONS: Final = ("0.15.",)


def apply() -> None:
    """Install the fix, once per process (idempotent).

    It patches the class: the app's flow control is made later, on the worker's event
    loop. Raises RuntimeError on a faust version the fix was not checked against.
    """
    if not faust.__version__.startswith(CHECKED_VERSIONS):
        raise RuntimeError(
            f"streams/faustfix.py was checked against faust-streaming {CHECKED_VERSIONS}, "
            f"not {faust.__version__}: re-check its recovery fix, then update it"
        )
    keep_running_queues()
    seek_keeps_handed_out()


def keep_running_queues() -> None:
    """`FlowControlEvent.resume()` clears the queues only when the flow was suspended."""
    from mode.utils.queues import FlowControlEvent

    if getattr(FlowControlEvent, "_keeps_running_queues", False):
        return
    resume = FlowControlEvent.resume

    def resume_without_dropping(self: Any) -> None:
        if self.is_active():
            return  # running already: what the queues hold belongs to this assignment
        resume(self)

    FlowControlEvent.resume = resume_without_dropping  # type: ignore[method-assign]
    FlowControlEvent._keeps_running_queues = True  # type: ignore[attr-defined]


def seek_keeps_handed_out() -> None:
    """`Consumer.perform_seek()` never moves a read offset back while the flow runs."""
    from faust.transport.consumer import Consumer

    if getattr(Consumer, "_keeps_handed_out", False):
        return
    perform_seek = Consumer.perform_seek

    async def perform_seek_keeping_handed_out(self: Any) -> None:
        running = self.app.flow_control.is_active()
        handed_out = {tp: offset for tp, offset in self._read_offset.items() if offset}
        await perform_seek(self)
        if not running:
            return  # the queues will be cleared: what was handed out must be read again
        for tp, offset in handed_out.items():
            if offset > (self._read_offset.get(tp) or 0):
                self._read_offset[tp] = offset

    Consumer.perform_seek = perform_seek_keeping_handed_out  # type: ignore[method-assign]
    Consumer._keeps_handed_out = True  # type: ignore[attr-defined]
