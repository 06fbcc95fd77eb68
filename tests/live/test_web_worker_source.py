"""The web layer's worker mode against the real broker: no test doubles.

A topic holds the web test team's log, produced by a plain Kafka producer. The web's
`WorkerSource` must fold it into exactly the states and portraits the embedded replay
computes from the same events, record new events by producing them (and show them as
soon as it reads them back), and a fresh source must rebuild the same ledger.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # webworld

from features.policy import Policy
from models.scoring import Scorer
from streams.core.contract import validate
from streams.core.portrait import fold_portraits
from streams.embedded.replay import replay_events
from tests.support.webworld import team_log
from tools.broker import BrokerInfo
from web.ledger import Ledger
from web.worker_source import WorkerSource

pytestmark = pytest.mark.live


async def _scenario(bootstrap: str, tmp: Path) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"closecast-webtest-{uuid.uuid4().hex[:8]}-events"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    events = [validate(e) for e in team_log(datetime.now(UTC))]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    for event in events:
        await producer.send_and_wait(topic, event.to_json(), key=event.partition_key.encode())
    await producer.stop()
    policy = Policy()
    try:
        first = WorkerSource(
            Ledger(Scorer(None, policy), policy), bootstrap, topic, tmp / "d.jsonl"
        )
        await first.start()
        replay = replay_events(events)
        assert dict(first.ledger.customers) == replay.customers
        assert dict(first.ledger.reps) == replay.reps
        portraits = fold_portraits(events)
        assert {c: first.ledger.portrait(c) for c in portraits} == portraits
        assert set(first.ledger.scores) == set(replay.customers)

        contact = validate(
            {
                "event_id": "web-live-1",
                "type": "contact_made",
                "occurred_at": datetime.now(UTC).isoformat(),
                "customer_id": "c1",
                "rep_id": "r1",
                "payload": {"channel": "visit"},
            }
        )
        before = first.ledger.customers["c1"].effective
        await first.append([contact])
        assert first.ledger.customers["c1"].effective == before + 1  # read back, folded
        await first.close()

        second = WorkerSource(
            Ledger(Scorer(None, policy), policy), bootstrap, topic, tmp / "d.jsonl"
        )
        await second.start()
        assert dict(second.ledger.customers) == replay_events([*events, contact]).customers
        await second.close()
    finally:
        await admin.delete_topics([topic])
        await admin.close()


def test_worker_source_folds_the_topic_like_the_replay(
    kafka_broker: BrokerInfo, tmp_path: Path
) -> None:
    # A thread of its own: a browser test in the same session may hold this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _scenario(kafka_broker.bootstrap, tmp_path)).result(300)
