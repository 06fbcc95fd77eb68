"""Re-scoring changed customers, lazily, with the same code as `closecast score`.

Folding an event costs tens of microseconds; computing a customer's features costs over a
hundred. Scoring inside the fold would cap the worker at a few thousand events a second,
so the events agent only marks a customer as changed, and this scorer re-scores the marked
customers in batches, every `score_interval` seconds:

- at a steady rate every change is scored within about one interval (tens of ms);
- while a backlog is folded (more than `backlog_limit` messages wait on the worker's
  partitions), changes to one customer coalesce into one score, and the scorer takes at
  most `score_cpu_share` of the worker's time, so the fold keeps up. Without a backlog
  it is not held back: at a steady rate a throttled scorer would fall behind by itself
  (each pass longer than the last, each pause longer still) while the CPU sat idle.

The trade-off: a score may lag its customer's state by an interval (more while a backlog
is being folded), and it is never skipped: the newest state is always scored eventually.
A score is `models.scoring.score_states` of the customer's state, its owner's rep state
(`RepDirectory`), as of the newest event time this worker has folded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, NamedTuple

import orjson

from features.policy import Policy
from models.scoring import Scorer, score_states
from streams.core.contract import to_datetime
from streams.core.snapshot import ReplayStats, Snapshot
from streams.worker.batches import EventsBatch, Ready, Sendable, no_wait
from streams.worker.producer import partition_of
from streams.worker.progress import Progress
from streams.worker.repdirectory import RepDirectory
from streams.worker.tables import TrackedTable, place

log = logging.getLogger(__name__)


class LiveScorer:
    def __init__(
        self,
        scorer: Scorer,
        policy: Policy,
        scores: TrackedTable,
        scores_topic: Sendable,
        directory: RepDirectory,
        progress: Progress,
        interval: float,
        max_batch: int,
        cpu_share: float,
        topic: str,
        backlog_limit: int,
    ) -> None:
        self.topic = topic  # the events topic: its partitions are the customers'
        self.scorer = scorer
        self.policy = policy
        self.scores = scores
        self.scores_topic = scores_topic
        self.directory = directory
        self.progress = progress
        self.interval = interval
        self.max_batch = max_batch
        self.cpu_share = cpu_share
        self.backlog_limit = backlog_limit
        self.events: EventsBatch | None = None
        self.ready: Ready = no_wait
        # customer key -> its partition; insertion order is the order customers first
        # changed since their last score.
        self.pending: dict[bytes, int] = {}
        self._running = asyncio.Event()

    def mark(self, key: bytes, partition: int) -> None:
        self.pending.setdefault(key, partition)

    async def reconcile(
        self, customers: TrackedTable, partitions: int, everyone: bool = False
    ) -> int:
        """Mark every customer whose stored score is missing or older than its state
        (`everyone`: every customer, when what scores changed).

        Run after each rebalance: a worker killed between a state write and its score
        (or a table rebuilt from its changelog) would otherwise keep a stale score until
        the customer's next event.
        """
        marked = 0
        for i, (key, raw) in enumerate(list(customers.items())):
            score = None if everyone else self.scores.get(key)
            if score is None or orjson.loads(score)["events"] != orjson.loads(raw)["events"]:
                self.mark(key, partition_of(key, partitions))
                marked += 1
            if i % 500 == 499:
                await asyncio.sleep(0)  # a big table must not starve the agents
        return marked

    def forget(self) -> None:
        """Partitions moved: their new owner scores their next change."""
        self.pending.clear()

    async def run(self, stop: asyncio.Event) -> None:
        self._running.set()
        try:
            await self._loop(stop)
        finally:
            self._running.clear()

    async def stopped(self, timeout: float) -> None:
        """Wait (at most `timeout` s) until `run` has returned."""
        deadline = time.monotonic() + timeout
        while self._running.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def _loop(self, stop: asyncio.Event) -> None:
        await self.ready()
        while not stop.is_set():
            busy = 0.0
            try:
                started = time.perf_counter()
                await self.score_pending()
                # Its own time: a pass awaits only the producer's accepting its records.
                busy = time.perf_counter() - started
            except Exception:  # a scoring failure must not stop the fold
                log.exception("scoring pass failed; its customers stay pending")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.pause_after(busy))

    def pause_after(self, busy: float) -> float:
        """Seconds to wait after a pass that took `busy` seconds."""
        if self.progress.backlog > self.backlog_limit:
            # Keep the scorer to `cpu_share` of the time while the fold catches up.
            return max(self.interval, busy * (1 - self.cpu_share) / self.cpu_share)
        return self.interval

    async def score_pending(self) -> int:
        """Score up to `max_batch` pending customers and publish their scores."""
        scored = self.compute_pending()
        await self.publish(scored)
        return len(scored)

    def compute_pending(self) -> list[Scored]:
        if not self.pending or self.events is None:
            return []
        keys = list(self.pending)[: self.max_batch]
        picked = [(key, place(self.topic, self.pending.pop(key))) for key in keys]
        states = []
        events = []
        for key, event in picked:
            state = self.events.state(key, event)
            if state is not None:
                states.append(state)
                events.append(event)
        if not states:
            return []
        as_of = max(self.progress.watermark, max(s.last_ts for s in states))
        owners = {s.owner for s in states if s.owner is not None}
        snapshot = Snapshot({}, self.directory.snapshot(owners), as_of, ReplayStats())
        frame = score_states(states, snapshot, self.scorer, self.policy)
        stamp = to_datetime(as_of).isoformat()
        scored = []
        for row, state, event in zip(frame.to_dict("records"), states, events, strict=True):
            record = {
                **{k: _plain(v) for k, v in row.items()},
                "as_of": stamp,
                "events": state.events,
                "scorer": self.scorer.name,
            }
            scored.append(Scored(state.customer_id.encode(), orjson.dumps(record), event))
        return scored

    async def publish(self, scored: list[Scored]) -> None:
        for key, value, event in scored:
            self.scores.write(key, value, event)
        await self.scores.flush()
        # Not waited for: a score is derived, and a lost one is redone by `reconcile`
        # after a restart. Waiting would hold the next pass for a round trip to the
        # broker that the fold's own acknowledgements already compete for.
        for sent in await self.scores_topic.send_many([(s.key, s.value) for s in scored]):
            sent.add_done_callback(_log_failure)
        self.progress.scored += len(scored)


class Scored(NamedTuple):
    key: bytes
    value: bytes
    event: Any  # stands in for faust's current event when the score is written


def _log_failure(fut: Any) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("a score was not delivered (reconciled after restart): %r", fut.exception())


def _plain(value: Any) -> Any:
    # numpy scalars to Python ones, so the record is plain JSON.
    return value.item() if hasattr(value, "item") else value
