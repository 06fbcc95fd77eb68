"""The Faust app factory: one call wires settings, topics, tables, agents, scorer and views.

`build(settings)` returns a `Worker` holding every part, so unit tests can drive the agents
with `agent.test_context()` on a `memory://` store and the CLI can run the same app on
RocksDB against the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust

from features.policy import Policy
from models.registry import load_scorer
from models.scoring import Scorer
from models.watch import ModelWatch
from streams.worker import faustfix, handoff
from streams.worker.agents import Agents, define_agents
from streams.worker.batches import EventsBatch, HeldBatch, Highwater, RepsBatch
from streams.worker.livescore import LiveScorer
from streams.worker.monitor import LeanMonitor
from streams.worker.progress import Progress
from streams.worker.repdirectory import RepDirectory, follow_changelog
from streams.worker.settings import StreamSettings
from streams.worker.tables import Tables, define_tables
from streams.worker.topics import Senders, Topics, define_topics, senders
from streams.worker.web import ApiContext, register_views

log = logging.getLogger(__name__)

# Rep states hold every event id their rep touched (8 bytes each, base64 in JSON), so a
# busy rep's changelog record outgrows Kafka's 1 MB default; our topics allow this much.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
PRODUCER_BATCH_BYTES = 512 * 1024
FETCH_BYTES_PER_PARTITION = 1024 * 1024


@dataclass
class Worker:
    settings: StreamSettings
    app: faust.App
    topics: Topics
    senders: Senders  # what the agents and the scorer send through
    tables: Tables
    agents: Agents
    events: EventsBatch
    reps: RepsBatch
    scorer: LiveScorer
    directory: RepDirectory
    progress: Progress
    # Reloads the scorer when the model registry changes (None: the scorer stays as given).
    models: ModelWatch | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    # Sends held events back once due (set by `build`).
    held: HeldBatch | None = None


def create_app(settings: StreamSettings) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=settings.broker_url(),
        store=settings.store,
        datadir=str(settings.data_dir),
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=settings.standby_replicas,
        processing_guarantee=settings.processing_guarantee,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=max(0.5, settings.session_timeout / 10),
        broker_max_poll_records=5000,
        stream_buffer_maxsize=20000,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        # aiokafka keeps one open batch per partition and one request in flight to the
        # broker (its sources): a send that finds its partition's batch full waits until
        # that batch is drained into the next request. With the default 16 KB, a batch's
        # changelog records (hundreds of KB) left 16 KB per partition per round trip.
        # (Below the broker's 1 MB default message size, which the customers' changelog
        # keeps.)
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        # Per partition and fetch. The broker fills a fetch's partitions in order up to
        # its total limit (50 MB), so with this at 16 MB a backlog on the events topic
        # left nothing for the rep-events partitions behind it, and the rep agent
        # starved until the backlog was gone. A record larger than this still comes
        # whole: the broker always returns a partition's first batch (KIP-74).
        consumer_max_fetch_size=FETCH_BYTES_PER_PARTITION,
        producer_linger=0.0,
        # A send the broker never answers fails after this (faust's default is 20 min),
        # which stops the agent before its batch is acknowledged instead of hanging.
        producer_request_timeout=30.0,
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_host=settings.web_bind,
        # Faust's built-in endpoints list table contents (/table), key routing (/router),
        # the topology (/graph) and statistics (/stats, /assignment, /performance) to
        # anyone who asks. None of them checks a token, so none is served.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        # Faust's default Monitor does bookkeeping for every message, read only by the
        # views switched off above (see streams/worker/monitor.py).
        Monitor=LeanMonitor,
        debug=False,
    )


def build(
    settings: StreamSettings,
    scorer: Scorer | None = None,
    policy: Policy | None = None,
    api_token: str = "",
    models: ModelWatch | None = None,
) -> Worker:
    policy = policy or Policy.from_env()
    scorer = scorer or load_scorer(None, policy)
    app = create_app(settings)
    faustfix.apply()  # faust's recovery must neither drop nor double-count offsets
    handoff.apply()  # checked against the faust version faustfix.apply() just pinned
    topics = define_topics(app, settings, MAX_MESSAGE_BYTES)
    tables = define_tables(app, settings, MAX_MESSAGE_BYTES)
    out = senders(topics)
    progress = Progress()
    directory = RepDirectory()

    declared = _once(_declarer(topics, settings))
    live = LiveScorer(
        scorer,
        policy,
        tables.scores,
        out.scores,
        directory,
        progress,
        settings.score_interval,
        settings.score_max_batch,
        settings.score_cpu_share,
        settings.events_topic,
        backlog_limit=settings.batch_max,
    )
    events = EventsBatch(
        tables.customers,
        out.rep_events,
        out.events,
        out.deadletter,
        live,
        progress,
        settings.partitions,
        settings.await_delivery,
        settings.cache_size,
        declared,
        _highwater(app),
        held=out.held,
    )
    held = HeldBatch(out.events, out.held, progress, settings.held_recheck, settings.await_delivery)
    live.events = events
    live.ready = declared
    reps = RepsBatch(tables.reps, out.deadletter, progress, settings.await_delivery, declared)
    agents = define_agents(app, settings, topics, events, reps, held)
    worker = Worker(
        settings, app, topics, out, tables, agents, events, reps, live, directory, progress, models
    )
    worker.held = held
    context = ApiContext(
        tables, directory, progress, scorer, policy, api_token, lambda: len(live.pending)
    )
    register_views(app, context)
    _wire_lifecycle(worker)
    return worker


def _declarer(topics: Topics, settings: StreamSettings) -> Callable[[], Awaitable[None]]:
    async def declare() -> None:
        # Nobody consumes the scores and dead-letter topics here, so faust does not
        # create them; a send to a missing topic stalls in the client's metadata wait.
        if settings.await_delivery:
            await topics.scores.maybe_declare()
            await topics.deadletter.maybe_declare()

    return declare


def settle_heap() -> None:
    """Exempt every object alive now from the cyclic garbage collector's passes.

    What exists once the worker is built (pandas, scikit-learn, faust and their modules)
    or has recovered its tables lives as long as the worker. Left in the collector's
    oldest generation, it is scanned by every full pass: 100-150 ms on this worker, during
    which no agent runs, and the largest share of the stream's p99 latency. Frozen
    objects are still freed by reference counting when dropped; only cycles among them
    would stay.
    """
    gc.collect()
    gc.freeze()


def _highwater(app: faust.App) -> Highwater:
    def highwater(tp: Any) -> int | None:
        try:
            end: int | None = app.consumer.highwater(tp)
        except Exception:  # not assigned (any more), or the consumer not started
            return None
        return end

    return highwater


def _once(step: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """`step` run by the first caller; later (and concurrent) callers wait for it."""
    lock = asyncio.Lock()
    done = False

    async def run() -> None:
        nonlocal done
        if done:
            return
        async with lock:
            if not done:
                await step()
                done = True

    return run


_background: set[asyncio.Future[int]] = set()


def _wire_lifecycle(worker: Worker) -> None:
    app = worker.app

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Another worker may now own some of these keys: forget what we cached of them.
        worker.events.forget()
        worker.reps.cache.clear()
        worker.scorer.forget()

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        worker.events.forget()
        worker.reps.cache.clear()

    @app.on_rebalance_complete.connect
    async def _recovered(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        settle_heap()
        # In the background: the agents resume as soon as this returns.
        task = asyncio.ensure_future(
            worker.scorer.reconcile(worker.tables.customers, worker.settings.partitions)
        )
        _background.add(task)
        task.add_done_callback(_background.discard)

    @app.task
    async def _quiet_buffer() -> None:
        # Faust warns and throttles whenever its send buffer holds over 100 records; every
        # batch here writes thousands at once and then waits for them itself.
        app.producer.buffer.max_messages = 10 * worker.settings.batch_max

    @app.task
    async def _score() -> None:
        await worker.scorer.run(worker.stop)

    @app.task
    async def _watch_models() -> None:
        models = worker.models
        while models is not None and not worker.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.stop.wait(), worker.settings.model_check_interval)
            try:
                if not models.stale():
                    continue
                fresh, fingerprint = await asyncio.to_thread(models.load)
                if models.adopt(fresh, fingerprint):
                    # Every stored score came from the other scorer: score them all again.
                    await worker.scorer.reconcile(
                        worker.tables.customers, worker.settings.partitions, everyone=True
                    )
            except Exception:  # the watch must outlive a bad moment on the disk
                log.exception("looking at the model registry failed; trying again")

    @app.task
    async def _follow_reps() -> None:
        settings = worker.settings
        bootstrap = settings.bootstrap_servers()
        await follow_changelog(
            worker.directory,
            worker.tables.reps.changelog_topic.get_topic_name(),
            bootstrap,
            settings.partitions,
            worker.stop,
            MAX_MESSAGE_BYTES,
        )

    @app.on_before_shutdown.connect
    async def _stopping(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Let a scoring pass in flight finish its sends while the producer still runs.
        worker.stop.set()
        await worker.scorer.stopped(timeout=10)
