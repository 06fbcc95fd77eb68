"""The local Kafka broker serves real clients: aiokafka and Kafka's own console producer."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from tests.support.workerproc import consume_topic, fresh_app_id
from tools import broker

pytestmark = pytest.mark.live


def _fresh_topic(prefix: str) -> str:
    return fresh_app_id(prefix)


async def _consume(topic: str, expected: int) -> list[tuple[str, str]]:
    """``expected`` records of ``topic`` from the beginning, as (key, value) strings."""
    return [
        ((key or b"").decode(), value.decode())
        for key, value in await consume_topic(topic, expected)
    ]


def test_status_reports_running(kafka_broker: broker.BrokerInfo) -> None:
    st = broker.status()
    assert st.running
    assert st.ready, st.detail
    assert st.bootstrap == kafka_broker.bootstrap == broker.bootstrap_servers()
    if kafka_broker.pid is not None:
        assert st.pid == kafka_broker.pid
        assert st.version == broker.kafka_version()
    assert "brokers 1@" in st.detail


def test_aiokafka_round_trip(kafka_broker: broker.BrokerInfo) -> None:
    topic = _fresh_topic("cc-live-roundtrip")
    sent = [(f"contact-{i % 3}", f"event-{i}") for i in range(20)]

    async def scenario() -> tuple[list[tuple[str, str]], set[int] | None]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in sent:
                await producer.send_and_wait(topic, value.encode(), key=key.encode())
            partitions = await producer.partitions_for(topic)
        finally:
            await producer.stop()
        return await _consume(topic, len(sent)), partitions

    got, partitions = asyncio.run(scenario())
    # auto-created with the broker's default of 4 partitions
    assert partitions == {0, 1, 2, 3}
    assert sorted(got) == sorted(sent)
    # per key, order is preserved (one key -> one partition)
    for key in {k for k, _ in sent}:
        assert [v for k, v in got if k == key] == [v for k, v in sent if k == key]


def test_console_producer_keyed_lines(kafka_broker: broker.BrokerInfo) -> None:
    topic = _fresh_topic("cc-live-console")
    lines = [
        'acct-1\t{"event": "call", "n": 1}',
        'acct-2\t{"event": "email", "n": 2}',
        'acct-1\t{"event": "meeting", "n": 3}',
        "acct 3\tvalue with spaces",
    ]
    broker.console_produce(topic, lines)
    got = asyncio.run(_consume(topic, len(lines)))
    expected = [tuple(line.split("\t", 1)) for line in lines]
    assert sorted(got) == sorted(expected)
    assert [v for k, v in got if k == "acct-1"] == [
        '{"event": "call", "n": 1}',
        '{"event": "meeting", "n": 3}',
    ]


def test_console_producer_custom_separator(kafka_broker: broker.BrokerInfo) -> None:
    topic = _fresh_topic("cc-live-console-sep")
    broker.console_produce(topic, ["k1|v1", "k2|v2|with|pipes"], key_separator="|")
    got = asyncio.run(_consume(topic, 2))
    assert sorted(got) == [("k1", "v1"), ("k2", "v2|with|pipes")]


def test_console_produce_rejects_unkeyed_line(kafka_broker: broker.BrokerInfo) -> None:
    with pytest.raises(ValueError, match="no key separator"):
        broker.console_produce(_fresh_topic("cc-live-bad"), ["no separator here"])
