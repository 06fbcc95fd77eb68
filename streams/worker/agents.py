"""The worker's agents. Thin on purpose: each takes a batch and hands it to
`streams.worker.batches`, where decoding, the (shared) fold, forwarding and write-back
happen in a fixed order.

Each agent yields what its batch did; faust acknowledges the batch's messages only after
the body returns, so an offset is committed only once everything the batch caused is
on the broker (see streams/README.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import faust

from streams.worker.batches import EventsBatch, HeldBatch, RepsBatch
from streams.worker.progress import Progress
from streams.worker.settings import StreamSettings
from streams.worker.topics import Topics


@dataclass(frozen=True)
class Agents:
    events: Any
    reps: Any
    held: Any


def define_agents(
    app: faust.App,
    settings: StreamSettings,
    topics: Topics,
    events_batch: EventsBatch,
    reps_batch: RepsBatch,
    held_batch: HeldBatch,
) -> Agents:
    @app.agent(topics.events, name="fold-events")
    async def fold_events(stream: Any) -> AsyncIterator[Progress]:
        async for batch in stream.take_events(settings.batch_max, settings.batch_within):
            yield await events_batch.process(batch)

    @app.agent(topics.rep_events, name="fold-reps")
    async def fold_reps(stream: Any) -> AsyncIterator[Progress]:
        async for batch in stream.take_events(settings.rep_batch_max, settings.rep_batch_within):
            yield await reps_batch.process(batch)

    @app.agent(topics.held, name="release-held")
    async def release_held(stream: Any) -> AsyncIterator[Progress]:
        async for batch in stream.take_events(1000, settings.batch_within):
            yield await held_batch.process(batch)

    return Agents(events=fold_events, reps=fold_reps, held=release_held)
