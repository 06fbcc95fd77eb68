"""Worker mode: the web layer follows the events topic the Faust worker consumes.

The web process reads the whole events topic (every partition, from the beginning, with
no consumer group: it commits nothing and takes no partitions from the worker), folds it
into its ledger with the same fold as the worker and the replay, and then follows it.
New events are produced to the topic, keyed like every other event (`customer_id`, or
`rep_id` for rep events), with `acks=all`; `append` returns once this process has read
them back and re-scored the customer, so the page shows the new score as soon as the
event is in the log everyone reads.

Why fold the topic rather than ask the worker's tables over HTTP: the worker's state
table holds no portrait values (by design) and no contact history, so the web layer must
read the topic for those anyway; a per-request call to the worker would put a network hop
and the worker's load in every page; and the fold is proven equal to the worker's tables
by the live tests. The worker keeps doing what only it does: scores for downstream
consumers, and the authenticated views of its own tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from streams.core.contract import Event, InvalidEvent, parse
from streams.core.deadletter import DeadLetterFile, Rejection, reject
from web.ledger import Ledger

log = logging.getLogger(__name__)
APPEND_TIMEOUT_S: Final = 5.0
TOPIC_WAIT_S: Final = 60.0


class SourceError(Exception):
    """The worker's topic cannot be followed; the message says what to start or fix."""


class WorkerSource:
    def __init__(
        self,
        ledger: Ledger,
        bootstrap: str,
        topic: str,
        dead_letters: Path = Path(".closecast/web-rejected.jsonl"),
    ) -> None:
        self.ledger = ledger
        self.bootstrap = bootstrap
        self.topic = topic
        self.description = f"worker: topic {topic} on {bootstrap}"
        self._dlq = DeadLetterFile(dead_letters)
        self._consumer: Any = None
        self._producer: Any = None
        self._follower: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[None]] = {}

    @classmethod
    def from_bootstrap(cls, bootstrap: str, ledger: Ledger) -> WorkerSource:
        """`auto` (or empty) means the project's broker settings (`streams.worker.settings`)."""
        from streams.worker.settings import StreamSettings

        settings = StreamSettings.from_env()
        if bootstrap in ("", "auto"):
            bootstrap = settings.bootstrap_servers()
        return cls(ledger, bootstrap.removeprefix("kafka://"), settings.events_topic)

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            await self._catch_up(consumer, TopicPartition)
        except BaseException:
            await consumer.stop()
            self._consumer = None
            raise
        self.ledger.score_all()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True
        )
        await self._producer.start()
        self._follower = asyncio.create_task(self._follow())

    async def _catch_up(self, consumer: Any, partition: Any) -> None:
        """Fold everything already in the topic, from the beginning, before serving."""
        assigned = [partition(self.topic, p) for p in sorted(await self._partitions(consumer))]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        while True:
            behind = [tp for tp in assigned if await consumer.position(tp) < ends[tp]]
            if not behind:
                return
            batch = await consumer.getmany(*behind, timeout_ms=500, max_records=5000)
            for records in batch.values():
                for record in records:
                    self._fold(record.value)

    async def _partitions(self, consumer: Any) -> set[int]:
        """The topic's partitions, waiting a while for the worker to create it."""
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            waited = 0.0
            while True:
                if self.topic in await consumer.topics():
                    described = await admin.describe_topics([self.topic])
                    found = {p["partition"] for d in described for p in d.get("partitions", [])}
                    if found:
                        return found
                if waited >= TOPIC_WAIT_S:
                    raise SourceError(
                        f"topic {self.topic} not found on {self.bootstrap}: "
                        "start the worker (`closecast worker`) first"
                    )
                await asyncio.sleep(1.0)
                waited += 1.0
        finally:
            await admin.close()

    async def append(self, events: Sequence[Event]) -> None:
        loop = asyncio.get_running_loop()
        futures = []
        for event in events:
            future: asyncio.Future[None] = loop.create_future()
            self._waiting[event.event_id] = future
            futures.append(future)
            await self._producer.send_and_wait(
                self.topic, event.to_json(), key=event.partition_key.encode()
            )
        try:
            await asyncio.wait_for(asyncio.gather(*futures), APPEND_TIMEOUT_S)
        except TimeoutError:
            # Durable in the topic all the same; the page shows it once it is read back.
            log.warning("%d event(s) sent but not yet read back from %s", len(events), self.topic)
        finally:
            for event in events:
                self._waiting.pop(event.event_id, None)

    def dead_letter(self, rejection: Rejection) -> None:
        self._dlq.write(rejection)
        self._dlq.close()

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        for client in (self._producer, self._consumer):
            if client is not None:
                await client.stop()
        self._dlq.close()

    async def _follow(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            touched: set[str] = set()
            done: list[str] = []
            for records in batch.values():
                for record in records:
                    event_id, changed = self._fold(record.value)
                    touched |= changed
                    if event_id is not None:
                        done.append(event_id)
            touched |= self.ledger.release()  # held events whose time has come
            if touched:
                self.ledger.rescore(touched)
            for event_id in done:
                future = self._waiting.get(event_id)
                if future is not None and not future.done():
                    future.set_result(None)

    def _fold(self, raw: bytes | None) -> tuple[str | None, set[str]]:
        try:
            event = parse(raw or b"")
        except InvalidEvent as exc:
            # The worker dead-letters bad messages on its own topic; here they are counted.
            self.ledger.reject(reject(self.topic, 0, raw or b"", str(exc)))
            return None, set()
        return event.event_id, self.ledger.feed(event)
