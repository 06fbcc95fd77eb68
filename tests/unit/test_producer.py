"""Records sent as whole producer batches: every record once, in order, per partition."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.worker.producer import send_batched


class FakeBatch:
    """aiokafka's BatchBuilder's contract: a full batch refuses a record (None), an
    empty one takes any."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.records: list[tuple[bytes | None, bytes]] = []

    def append(self, *, key: bytes | None, value: bytes, timestamp: Any) -> object | None:
        size = sum(len(v) for _, v in self.records)
        if self.records and size + len(value) > self.limit:
            return None
        self.records.append((key, value))
        return object()


class FakeProducer:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[tuple[str, int, list[tuple[bytes | None, bytes]]]] = []

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.limit)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        self.sent.append((topic, partition, batch.records))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        return fut


def test_records_go_in_full_batches_in_order_per_partition() -> None:
    producer = FakeProducer(limit=1000)
    records = [(f"k{i}".encode(), bytes(100), i % 3) for i in range(100)]
    records.append((b"huge", bytes(5000), 1))  # larger than a batch: goes alone
    records.append((b"last", bytes(10), 1))
    batches = asyncio.run(send_batched(producer, "t", records))
    assert [b.records for b in batches] == [len(r) for _, _, r in producer.sent]
    for partition in range(3):
        sent = [kv for _, p, r in producer.sent if p == partition for kv in r]
        assert sent == [(k, v) for k, v, p in records if p == partition]
        sizes = [sum(len(v) for _, v in r) for _, p, r in producer.sent if p == partition]
        assert all(size <= 1000 for size in sizes if size != 5000)
    assert [(b"huge", bytes(5000))] in [r for _, p, r in producer.sent if p == 1]
    assert len(producer.sent) > 3  # the 100-byte records did not fit in one batch each


def test_nothing_to_send_sends_nothing() -> None:
    producer = FakeProducer(limit=1000)
    assert asyncio.run(send_batched(producer, "t", [])) == []
    assert producer.sent == []
