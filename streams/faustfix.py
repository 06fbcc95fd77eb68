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

The fix: the flow control clears its queues only when flow really resumes after a
suspension (the queues then hold a rebalance's stale messages), never while it already
runs, when they hold messages of the current assignment. It is faust's own `resume` with
that one test added. `apply` refuses other faust versions, whose recovery it was not
checked against.

What remains (reported, not fixed here): step 2 still records a gap over messages that
were handed out, so they are acked twice, and commits then advance one offset per commit
interval for a while after a restart. That costs a longer re-read if the worker dies
again soon after, never an event.
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
