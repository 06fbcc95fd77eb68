"""Sending log files into the events topic, keyed as the contract says.

Each line goes out as it is (the exact bytes), keyed by `customer_id`, or by `rep_id` for
rep events. A line that breaks the contract is sent too, under the best key it offers
(its `customer_id` or `rep_id` if it has one, else none): the worker dead-letters it with
its raw bytes and the reason, so every rejection lives in one place, the dead-letter
topic, whoever produced the message. The sender still counts them, to report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2
from tqdm import tqdm

from streams.core.contract import InvalidEvent, parse
from streams.core.log import read_lines

# Sends in flight before waiting for their acknowledgements (bounds memory, keeps batching).
WINDOW = 20_000


@dataclass
class Sent:
    messages: int = 0
    invalid: int = 0
    seconds: float = 0.0


def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java's and aiokafka's) gives `key`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class BatchSent:
    """One producer batch on its way: its delivery future and how many records it holds."""

    future: asyncio.Future[Any]
    records: int

    def last_offset(self) -> int:
        """The offset of its last record (once delivered)."""
        base: int = self.future.result().offset
        return base + self.records - 1


async def send_batched(
    producer: AIOKafkaProducer, topic: str, records: Iterable[tuple[bytes | None, bytes, int]]
) -> list[BatchSent]:
    """Send (key, value, partition) records as whole producer batches, in their order
    within each partition; return the batches, whose futures resolve on delivery.

    `producer.send` builds a future and its metadata for every record (~15 µs here); a
    batch built whole costs a few µs a record and one future a batch. For thousands of
    records at once: a worker's changelog writes, `closecast produce`.
    """
    by_partition: dict[int, list[tuple[bytes | None, bytes]]] = {}
    for key, value, partition in records:
        by_partition.setdefault(partition, []).append((key, value))
    sent: list[BatchSent] = []
    for partition, items in by_partition.items():
        batch = producer.create_batch()
        held = 0
        for key, value in items:
            # A full batch refuses the record; an empty one takes any (a record larger
            # than a batch goes alone, up to the producer's maximum request size).
            if held and batch.append(key=key, value=value, timestamp=None) is None:
                future = await producer.send_batch(batch, topic, partition=partition)
                sent.append(BatchSent(future, held))
                batch = producer.create_batch()
                held = 0
            if not held:
                batch.append(key=key, value=value, timestamp=None)
            held += 1
        future = await producer.send_batch(batch, topic, partition=partition)
        sent.append(BatchSent(future, held))
    return sent


def key_for(raw: bytes) -> tuple[bytes | None, bool]:
    """(the message key, whether the line is a valid event)."""
    try:
        return parse(raw).partition_key.encode(), True
    except InvalidEvent:
        pass
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, False
    if isinstance(obj, dict):
        for field in ("customer_id", "rep_id"):
            value = obj.get(field)
            if isinstance(value, str) and value:
                return value.encode(), False
    return None, False


async def ensure_topic(
    bootstrap: str, topic: str, partitions: int, config: dict[str, str] | None = None
) -> int:
    """Create `topic` with `partitions` (and `config`) if missing; return its partition
    count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            try:
                await admin.create_topics([NewTopic(topic, partitions, 1, topic_configs=config)])
            except Exception as exc:  # a concurrent creator won the race: fine
                if "TopicAlreadyExists" not in type(exc).__name__ + str(exc):
                    raise
        # Right after a create, the broker may describe the topic before its partitions
        # exist (0 partitions): ask again, briefly, before believing it.
        for _ in range(50):
            described = await admin.describe_topics([topic])
            found = len(described[0]["partitions"])
            if found:
                return found
            await asyncio.sleep(0.1)
        return found
    finally:
        await admin.close()


async def send_lines(
    producer: AIOKafkaProducer,
    topic: str,
    lines: Iterable[bytes],
    on_sent: Callable[[int], None] | None = None,
) -> Sent:
    """Send each line keyed by the contract; wait for every acknowledgement."""
    sent = Sent()
    started = time.perf_counter()
    partitions = len(await producer.partitions_for(topic))
    window: list[tuple[bytes | None, bytes, int]] = []
    for raw in lines:
        key, valid = key_for(raw)
        # Keyed as the partitioner would; a line without a key goes round the partitions.
        partition = partition_of(key, partitions) if key else sent.messages % partitions
        window.append((key, raw, partition))
        sent.messages += 1
        sent.invalid += not valid
        if len(window) >= WINDOW:
            await _deliver(producer, topic, window, on_sent)
    if window:
        await _deliver(producer, topic, window, on_sent)
    sent.seconds = time.perf_counter() - started
    return sent


async def _deliver(
    producer: AIOKafkaProducer,
    topic: str,
    window: list[tuple[bytes | None, bytes, int]],
    on_sent: Callable[[int], None] | None,
) -> None:
    # The window is delivered before the next is sent: a key's lines keep their order.
    batches = await send_batched(producer, topic, window)
    await asyncio.gather(*(batch.future for batch in batches))
    if on_sent is not None:
        on_sent(len(window))
    window.clear()


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    # acks=all + idempotence: a retried send is never written twice (a duplicate would be
    # harmless to the fold, but it would inflate the dead-letter topic for bad lines).
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


def count_lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                total += chunk.count(b"\n")
    return total


async def send_files(
    paths: list[Path], topic: str, bootstrap: str, partitions: int, progress: bool = False
) -> Sent:
    await ensure_topic(bootstrap, topic, partitions)
    producer = new_producer(bootstrap)
    await producer.start()
    bar = tqdm(
        total=count_lines(paths) if progress else None,
        unit="msg",
        unit_scale=True,
        desc="produce",
        disable=not progress,
    )
    try:
        lines = (line.raw for line in read_lines(paths))

        def advance(n: int) -> None:
            bar.update(n)

        return await send_lines(producer, topic, lines, advance)
    finally:
        bar.close()
        await producer.stop()
