"""Crash and restart through the Faust worker on the real broker.

The main log streams into the events topic at a steady pace while the worker folds it,
and something dies mid-stream:

- the worker, SIGKILLed at random points (5 times in the full form) and restarted;
- the broker itself, SIGKILLed once and started again on the same data;
- one of two workers in one consumer group, killed for good: the other takes over.

Every kill is checked to be mid-stream (the group has not committed everything yet).
At the end every customer's and rep's state must equal the embedded replay of the log.
Recovery time is from the kill until the group's committed offsets move again (for the
takeover: until the survivor serves every partition's customers and folds again).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from streams.worker.producer import partition_of
from tests.reliability.cluster import (
    Producer,
    Worker,
    consumed,
    converge,
    create_topic,
)
from tests.reliability.logs import Log
from tests.reliability.profile import Profile
from tests.reliability.table import Row, Table
from tests.support.workerproc import (
    delete_topics,
    fresh_app_id,
    lag,
    wait_for,
)
from tools import broker

pytestmark = [pytest.mark.reliability, pytest.mark.live]

# A restart (process start, group join, table recovery) takes about 5-8 s here.
RESTART_S = 8.0


PARTITIONS = 4  # the worker's default (streams/worker/settings.py), which these tests keep


def owned_partitions(worker: Worker) -> set[int]:
    """The events partitions whose customers the worker serves (its views answer from its
    own partitions only)."""
    return {partition_of(key.encode(), PARTITIONS) for key in worker.customers()}


def pace(log: Log, faults: int) -> float:
    """Events per second such that the log is still arriving while the faults happen and
    their restarts run: the stream lasts about the faults' restart time plus 10 s."""
    return len(log) / (faults * RESTART_S + 10.0)


def _converge_timeout(log: Log) -> float:
    return 120 + len(log) / 500


def _row(
    scenario: str, log: Log, producer: Producer, worker: Worker, profile: Profile
) -> tuple[Row, str]:
    done = converge(worker, log.expected, _converge_timeout(log), commit_wait=profile.commit_wait_s)
    row = Row.from_tally(scenario, producer.state.sent, log.expected, done.tally)
    state = "exact" if done.tally.exact else "NOT exact"
    row.notes = f"{state} {done.seconds:.0f} s after the last fault's end; {done.commit_note()}; "
    if producer.state.resent:
        row.notes += f"producer re-sent {producer.state.resent:,} after broker errors; "
    return row, done.tally.describe()


def test_worker_sigkilled_at_random_points(
    kafka_broker: broker.BrokerInfo, main_log: Log, profile: Profile, table: Table, tmp_path: Path
) -> None:
    app_id = fresh_app_id("cc-rel-crash")
    topic = create_topic(app_id)
    worker = Worker(app_id, tmp_path).start()
    rng = random.Random(1907)
    total = len(main_log)
    shares = sorted(rng.uniform(0.1, 0.85) for _ in range(profile.kills))
    recoveries: list[float] = []
    try:
        producer = Producer(topic, main_log.lines, pace(main_log, len(shares))).start()
        for share in shares:
            target = share * total
            wait_for(
                lambda: consumed(app_id) >= target,  # noqa: B023 (called within the loop)
                300,
                f"{share:.0%} of the log folded",
                [worker],
            )
            time.sleep(rng.uniform(0, 0.5))  # anywhere inside a batch, not just after one
            worker.kill()
            killed = time.monotonic()
            # Read after the kill: nothing can commit now, so any later move is the
            # restarted worker's.
            before = consumed(app_id)
            assert before < total, "the kill must come mid-stream"
            worker.start()
            wait_for(
                lambda: consumed(app_id) > before,  # noqa: B023 (called within the loop)
                120,
                "folding to resume",
                [worker],
            )
            recoveries.append(time.monotonic() - killed)
        producer.wait(300)
        row, detail = _row(
            f"crash: worker SIGKILLed ×{len(shares)}, restarted",
            main_log,
            producer,
            worker,
            profile,
        )
    finally:
        worker.stop()
        delete_topics(app_id)
    row.recovery_s = max(recoveries)
    row.recovery_what = "max, kill → folding again"
    row.notes += "killed at " + ", ".join(f"{s:.0%}" for s in shares) + " of the log"
    table.add(row)
    assert row.exact, detail


def test_broker_restarted_mid_stream(
    kafka_broker: broker.BrokerInfo, main_log: Log, profile: Profile, table: Table, tmp_path: Path
) -> None:
    app_id = fresh_app_id("cc-rel-broker")
    topic = create_topic(app_id)
    worker = Worker(app_id, tmp_path).start()
    total = len(main_log)
    try:
        producer = Producer(topic, main_log.lines, pace(main_log, 2)).start()
        wait_for(lambda: consumed(app_id) >= 0.4 * total, 300, "40% of the log folded", [worker])
        assert consumed(app_id) < total, "the broker must die mid-stream"
        broker.kill_broker()
        killed = time.monotonic()
        broker.start(timeout=120)
        back = time.monotonic() - killed
        # Offsets read once the broker is back; the next move is folding after the outage.
        before = consumed(app_id)
        assert before < total, "the broker must die mid-stream"
        wait_for(lambda: consumed(app_id) > before, 180, "folding to resume", [worker])
        recovery = time.monotonic() - killed
        producer.wait(300)
        row, detail = _row(
            "crash: broker SIGKILLed and restarted", main_log, producer, worker, profile
        )
        assert worker.starts == 1, "the worker must ride out the broker restart by itself"
    finally:
        worker.stop()
        delete_topics(app_id)
    row.recovery_s = recovery
    row.recovery_what = "broker kill → folding again"
    row.notes += f"broker serving again after {back:.1f} s; worker never restarted"
    table.add(row)
    assert row.exact, detail


def test_two_workers_one_killed_for_good(
    kafka_broker: broker.BrokerInfo, main_log: Log, profile: Profile, table: Table, tmp_path: Path
) -> None:
    app_id = fresh_app_id("cc-rel-pair")
    topic = create_topic(app_id)
    first = Worker(app_id, tmp_path, name="worker-a").start()
    second = Worker(app_id, tmp_path, name="worker-b").start()
    total = len(main_log)
    events_topic = f"{app_id}-events"
    try:
        producer = Producer(topic, main_log.lines, pace(main_log, 1)).start()
        # Both must be folding (each owns partitions) before one dies.
        wait_for(
            lambda: first.progress()["messages"] > 0 and second.progress()["messages"] > 0,
            120,
            "both workers folding",
            [first, second],
        )
        wait_for(
            lambda: consumed(app_id) >= 0.35 * total, 300, "35% of the log folded", [first, second]
        )
        behind = {tp for tp, n in lag(app_id, [events_topic]).per_partition.items() if n > 0}
        # Mid-stream: work is left for the survivor to take over, either messages on the
        # topic not yet committed or messages the paced producer has still to send (the
        # workers may be keeping up with it, so no partition need be behind).
        still_sending = not producer.state.done.is_set()
        assert consumed(app_id) < total and (behind or still_sending), (
            "the kill must come mid-stream"
        )
        mine = owned_partitions(second)
        assert mine != set(range(PARTITIONS)), "the survivor must have had only some partitions"
        first.kill()
        killed = time.monotonic()
        folded = second.progress()["messages"]
        # Taken over: the survivor serves every partition's customers (tables recovered
        # from the changelogs) and folds messages again. Judged by what it serves and
        # folds, not by committed offsets, which faust may commit slowly after a
        # rebalance (see streams/worker/faustfix.py).
        wait_for(
            lambda: (
                owned_partitions(second) == set(range(PARTITIONS))
                and second.progress()["messages"] > folded
            ),
            180,
            "the survivor to take every partition over",
            [second],
        )
        recovery = time.monotonic() - killed
        producer.wait(300)
        row, detail = _row(
            "crash: 2 workers in a group, one killed for good", main_log, producer, second, profile
        )
    finally:
        first.stop()
        second.stop()
        delete_topics(app_id)
    row.recovery_s = recovery
    row.recovery_what = "kill → survivor serves and folds all partitions"
    row.notes += (
        f"survivor had partitions {sorted(mine)} before, {len(behind)} partitions behind at "
        f"the kill, producer {'still sending' if still_sending else 'done'}"
    )
    table.add(row)
    assert row.exact, detail
