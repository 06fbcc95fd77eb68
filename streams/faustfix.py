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
- No jump in offsets is ever taken as acknowledged (`no_gaps_acknowledged`). Faust
  records a jump from the last message it handed out to the next one as a "gap" and
  counts the offsets in between as acknowledged, meant for compacted or transactional
  topics. Our topics are neither, so a jump only comes from faust's own bookkeeping:
  after step 2 the fetcher may go on with messages fetched before the seek, right after
  the read offset went back. The queued messages in between were then committed before
  any agent folded them (a crash in that window loses them) and, acknowledged a second
  time once folded, broke faust's run of consecutive offsets, so commits crawled one
  offset per interval. Without the gap an offset is committed only once its message and
  every one before it were folded; a jump is logged. (Tried first and dropped: stopping
  the flow around the seek; a SIGKILL test then still lost events.)

`apply` refuses other faust versions, whose recovery it was not checked against.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import faust

log = logging.getLogger(__name__)

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
    no_gaps_acknowledged()


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


def no_gaps_acknowledged() -> None:
    """`Consumer._add_gap()` records nothing: only folded messages are acknowledged."""
    from faust.transport.consumer import Consumer

    if getattr(Consumer, "_acknowledges_no_gaps", False):
        return

    async def add_no_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        log.warning(
            "%s[%s]: the fetcher jumped over offsets %s..%s; not taken as acknowledged "
            "(commits wait until they are folded)",
            tp.topic,
            tp.partition,
            offset_from,
            offset_to - 1,
        )

    Consumer._add_gap = add_no_gap  # type: ignore[method-assign]
    Consumer._acknowledges_no_gaps = True  # type: ignore[attr-defined]
