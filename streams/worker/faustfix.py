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
- No jump in offsets is handed out, nor taken as acknowledged. Faust records a jump
  from the last message it handed out to the next one as a "gap" and counts the offsets
  in between as acknowledged, meant for compacted or transactional topics. Our topics
  are neither, so a jump only comes from faust's own bookkeeping: after step 2 the
  fetcher goes on with the rest of a batch fetched before the seek, right after the read
  offset went back (and a partition faust filtered while paused resumes past what it
  filtered). The messages in between were then committed before any agent folded them
  (a crash in that window loses them) and, acknowledged a second time once folded,
  broke faust's run of consecutive offsets, so commits crawled one offset per interval.
  Now a message that would jump is not handed out: its partition is rewound to the read
  offset, and the broker sends the messages in between again, in order
  (`rewind_jumps`); what an agent then gets twice, the fold drops as a duplicate. As a
  last guard a gap is never taken as acknowledged (`no_gaps_acknowledged`): an offset is
  committed only once its message and every one before it were folded.

- A partition the group never committed is read again from its start at every such
  seek (`seek_uncommitted_to_start`). aiokafka's seek to the committed offsets skips a
  partition without one, so its position stayed past the messages the rebalance had
  just dropped from the queues, and with no committed offset faust has no lower bound
  either: the next messages' acknowledgements committed past the dropped ones. Seen as
  one partition's events missing after a worker was killed twice early in a log (the
  second start joined the group while the dead member still held partitions).

`apply` refuses other versions of faust, mode and aiokafka than those its fixes were read
against (`streams.worker.internals.check_versions`), and reaches every private name it
uses through `streams.worker.internals`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from streams.worker import internals

log = logging.getLogger(__name__)


def apply() -> None:
    """Install the fix, once per process (idempotent).

    It patches the class: the app's flow control is made later, on the worker's event
    loop. Raises RuntimeError on library versions the fix was not checked against.
    """
    internals.check_versions()
    keep_running_queues()
    seek_uncommitted_to_start()
    rewind_jumps()
    no_gaps_acknowledged()


def keep_running_queues() -> None:
    """`FlowControlEvent.resume()` clears the queues only when the flow was suspended."""

    def without_dropping(resume: Any) -> Any:
        def resume_without_dropping(self: Any) -> None:
            if self.is_active():
                return  # running already: what the queues hold belongs to this assignment
            resume(self)

        return resume_without_dropping

    internals.replace_method(
        internals.flow_control_class(), "resume", without_dropping, "_keeps_running_queues"
    )


def seek_uncommitted_to_start() -> None:
    """`Consumer.perform_seek()` also seeks each partition without a committed offset
    (of a topic whose offsets are committed) to its start."""

    def uncommitted_too(perform_seek: Any) -> Any:
        async def perform_seek_uncommitted_too(self: Any) -> None:
            await perform_seek(self)
            for tp in self.assignment():
                # After faust's seek the read offset is the committed one: none (or 0)
                # means aiokafka was not sought at all.
                if not internals.read_offset(self, tp) and self.app.topics.acks_enabled_for(
                    tp.topic
                ):
                    await self.seek(tp, 0)

        return perform_seek_uncommitted_too

    internals.replace_method(
        internals.consumer_class(), "perform_seek", uncommitted_too, "_seeks_uncommitted_to_start"
    )


def rewind_jumps() -> None:
    """`Consumer.getmany()` never hands out a message past a jump; it rewinds instead."""

    def jumps_rewound(getmany: Any) -> Any:
        def getmany_without_jumps(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
            return without_jumps(self, getmany(self, timeout))

        return getmany_without_jumps

    internals.replace_method(internals.consumer_class(), "getmany", jumps_rewound, "_rewinds_jumps")


async def without_jumps(
    consumer: Any, messages: AsyncIterator[tuple[Any, Any]]
) -> AsyncIterator[tuple[Any, Any]]:
    """`messages` as faust's fetcher would hand them out, but a message that would jump
    past the partition's read offset (the jump faust takes for a gap) rewinds the
    partition to that offset instead, and the rest of the batch for it is dropped: the
    broker sends it again from there."""
    rewound: set[Any] = set()
    async for tp, message in messages:
        if tp in rewound:
            continue
        read = internals.read_offset(consumer, tp)
        # faust's own test for a gap (`Consumer._drain_messages`), on acknowledged topics
        if read and message.offset - read > 1 and consumer.app.topics.acks_enabled_for(tp.topic):
            log.warning(
                "%s[%s]: offset %s fetched after %s, a jump: not handed out; reading again from %s",
                tp.topic,
                tp.partition,
                message.offset,
                read,
                read,
            )
            rewound.add(tp)
            await consumer.seek(tp, read)
            continue
        yield tp, message


def no_gaps_acknowledged() -> None:
    """`Consumer._add_gap()` records nothing: only folded messages are acknowledged."""

    async def add_no_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        log.warning(
            "%s[%s]: the fetcher jumped over offsets %s..%s; not taken as acknowledged "
            "(commits wait until they are folded)",
            tp.topic,
            tp.partition,
            offset_from,
            offset_to - 1,
        )

    internals.replace_method(
        internals.consumer_class(), "_add_gap", lambda _: add_no_gap, "_acknowledges_no_gaps"
    )
