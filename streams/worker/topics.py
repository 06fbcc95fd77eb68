"""The worker's topics. Every value is raw bytes: we decode by the contract ourselves, so a
message that breaks it can be dead-lettered with its exact bytes and the reason.

- events: the contract's log, keyed by `customer_id` (`rep_id` for rep_joined/rep_left).
  Outside tools write it, so it is declared but never assumed well keyed.
- rep events: internal. The rep side of the events (rep events, and customer events that
  name a rep), keyed by `rep_id`, so each rep's state has one owner. One message carries
  a rep's events of one batch as JSON Lines: reps are few and busy, and one message per
  event would cost the worker more than folding them.
- scores: every re-score of a customer (JSON), keyed by `customer_id`.
- dead letters: rejected messages, their reason and their (redacted) raw text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import faust

from streams.worker import internals
from streams.worker.producer import ensure_topic, partition_of, send_batched
from streams.worker.settings import StreamSettings

# The events topic is the company's log and the dead-letter topic what it refused: Kafka
# deletes a topic's records after 7 days unless told otherwise, and nothing may be.
KEPT_FOREVER: Final = {"retention.ms": "-1", "retention.bytes": "-1"}


@dataclass(frozen=True)
class Topics:
    events: Any
    rep_events: Any
    scores: Any
    deadletter: Any
    held: Any


class RawSender:
    """Sends records of raw bytes to one topic straight through the app's producer.

    What faust's `Topic.send` adds (a future message, schema and serializer look-ups,
    sensors) is per record and costs the worker more than folding the event; here every
    record is bytes already. Returns the producer's delivery futures.
    """

    def __init__(self, topic: Any) -> None:
        self.app = topic.app
        self.name: str = topic.get_topic_name()
        self.partitions: int = topic.partitions

    async def send(self, *, key: bytes | None, value: bytes) -> Any:
        return await self.app.producer.send(self.name, key, value, None, None, None)

    async def send_many(self, records: list[tuple[bytes, bytes]]) -> list[Any]:
        """Send keyed records as whole producer batches (see `send_batched`), each to
        its key's partition; one delivery future per batch."""
        placed = [(key, value, partition_of(key, self.partitions)) for key, value in records]
        producer = internals.aiokafka_producer(self.app)  # the batch API is aiokafka's
        return [batch.future for batch in await send_batched(producer, self.name, placed)]


@dataclass(frozen=True)
class Senders:
    events: RawSender
    rep_events: RawSender
    scores: RawSender
    deadletter: RawSender
    held: RawSender


def senders(topics: Topics) -> Senders:
    return Senders(
        events=RawSender(topics.events),
        rep_events=RawSender(topics.rep_events),
        scores=RawSender(topics.scores),
        deadletter=RawSender(topics.deadletter),
        held=RawSender(topics.held),
    )


class RawSchema(faust.Schema):
    """Keys and values as the raw bytes they arrived as, like faust's "raw" codec, but
    without its per-message codec and serializer-registry look-ups (6% of the worker's
    CPU by py-spy): nothing is decoded here, so nothing can fail to decode. The event
    class is looked up once: `app.create_event` reads it from `app.conf` for every
    message, through faust's settings descriptors (a tenth of a do-nothing agent's CPU)."""

    def __init__(self) -> None:
        super().__init__(
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    def compile(self, app: Any, **_: Any) -> Any:
        event_type = app.conf.Event  # what `app.create_event` makes

        async def decode(message: Any, *, propagate: bool = False) -> Any:
            return event_type(app, message.key, message.value, message.headers, message)

        return decode


def _raw(app: faust.App, name: str, partitions: int, max_bytes: int) -> Any:
    return app.topic(
        name,
        schema=RawSchema(),
        partitions=partitions,
        internal=True,  # the worker creates it (with our partition count) if missing
        config={"max.message.bytes": max_bytes},
    )


def define_topics(app: faust.App, settings: StreamSettings, max_bytes: int) -> Topics:
    n = settings.partitions
    return Topics(
        events=_raw(app, settings.events_topic, n, max_bytes),
        rep_events=_raw(app, settings.reps_topic, n, max_bytes),
        scores=_raw(app, settings.scores_topic, n, max_bytes),
        deadletter=_raw(app, settings.deadletter_topic, 1, max_bytes),
        held=_raw(app, settings.held_topic, n, max_bytes),
    )


async def create_topics(settings: StreamSettings, max_bytes: int) -> dict[str, int]:
    """Create the worker's topics that are missing, before its consumer joins the group.

    Faust creates them itself too, but concurrently with joining: a topic created a
    moment after the group's assignment is left out of it ("Ignoring missing topic")
    until the client's next metadata refresh, minutes later, and its agent folds nothing
    meanwhile. Returns each topic's partition count.
    """
    bootstrap = settings.bootstrap_servers()
    config = {"max.message.bytes": str(max_bytes)}
    kept = {**config, **KEPT_FOREVER}
    wanted = {
        settings.events_topic: (settings.partitions, kept),
        settings.reps_topic: (settings.partitions, config),
        settings.scores_topic: (settings.partitions, config),
        settings.deadletter_topic: (1, kept),
        settings.held_topic: (settings.partitions, kept),
    }
    return {
        name: await ensure_topic(bootstrap, name, partitions, topic_config)
        for name, (partitions, topic_config) in wanted.items()
    }
