"""Sloppy and hostile input through the Faust worker on the real broker.

- Duplicates and disorder: the main log with 5% of its events re-sent late and 10% moved
  to random places must fold into exactly the replay's states.
- Bad input: thousands of fuzzed bad messages mixed into the valid stream. Each must land
  in the dead-letter topic with its reason (matched by the hash of its exact bytes), the
  worker must never stop (one process, alive at the end), and the valid events' states
  must be exactly the replay's.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.core.contract import parse
from streams.core.fold import touches_customer
from tests.reliability.badinput import KINDS, bad_messages, mix
from tests.reliability.cluster import (
    Worker,
    converge,
    create_topic,
    produce,
)
from tests.reliability.logs import Log, reasons, resend_and_disorder
from tests.reliability.profile import Profile
from tests.reliability.table import Row, Table
from tests.support.workerproc import (
    delete_topics,
    fresh_app_id,
    read_topic,
)
from tools import broker

pytestmark = [pytest.mark.reliability, pytest.mark.live]


def test_duplicates_and_disorder_through_the_worker(
    kafka_broker: broker.BrokerInfo, main_log: Log, profile: Profile, table: Table, tmp_path: Path
) -> None:
    mangled = resend_and_disorder(main_log.lines, 0.05, 0.10, seed=8)
    app_id = fresh_app_id("cc-rel-disorder")
    topic = create_topic(app_id)
    worker = Worker(app_id, tmp_path).start()
    try:
        started = time.monotonic()
        sent = produce(topic, mangled.lines)
        done = converge(
            worker,
            main_log.expected,
            120 + len(mangled.lines) / 500,
            commit_wait=profile.commit_wait_s,
        )
        result = done.tally
        seconds = time.monotonic() - started
        progress = worker.progress()
    finally:
        worker.stop()
        delete_topics(app_id)
    row = table.add(
        Row.from_tally(
            "duplicates 5% + disorder 10% (worker)", sent.sent, main_log.expected, result
        )
    )
    row.notes = (
        f"{mangled.resent:,} re-sent, {mangled.moved:,} moved; worker dropped "
        f"{progress['duplicates']:,} repeats; {sent.sent / seconds:,.0f} events/s end to end; "
        f"{done.commit_note()}"
    )
    assert result.exact, result.describe()
    assert row.exact
    # The worker counts the repeats its customer fold dropped (a repeated rep_joined or
    # rep_left goes straight to the rep fold, which drops it without counting).
    copies = Counter(mangled.lines) - Counter(main_log.lines)
    customer_copies = sum(n for line, n in copies.items() if touches_customer(parse(line)))
    assert sum(copies.values()) == mangled.resent
    assert progress["duplicates"] == customer_copies


def test_bad_input_through_the_worker(
    kafka_broker: broker.BrokerInfo,
    main_log: Log,
    profile: Profile,
    table: Table,
    tmp_path: Path,
) -> None:
    templates = [orjson.loads(line) for line in main_log.lines[::5]]
    bad = bad_messages(profile.bad_messages, templates, seed=13)
    mixed = mix(main_log.lines, bad, seed=14)
    app_id = fresh_app_id("cc-rel-badinput")
    topic = create_topic(app_id)
    worker = Worker(app_id, tmp_path).start()
    try:
        sent = produce(topic, [raw for raw, _ in mixed])
        done = converge(
            worker, main_log.expected, 120 + len(mixed) / 500, commit_wait=profile.commit_wait_s
        )
        result = done.tally
        progress = worker.progress()
        letters = [
            orjson.loads(value)
            for _, value in read_topic(f"{app_id}-deadletter", len(bad), timeout=120)
        ]
        alive = worker.alive() and worker.starts == 1
    finally:
        worker.stop()
        delete_topics(app_id)
    row = table.add(
        Row.from_tally(f"bad input ×{len(bad):,} (worker)", sent.sent, main_log.expected, result)
    )
    row.rejected = reasons(letter["reason"] for letter in letters)
    row.notes = (
        f"{len(KINDS)} kinds; dead-letter topic holds {len(letters):,}; "
        f"one worker process throughout; {done.commit_note()}"
    )
    assert result.exact, result.describe()
    assert row.exact
    assert alive, "the worker stopped"
    assert progress["rejected"] == len(bad) == len(letters)
    # Each bad message is in the dead-letter topic exactly once, with a reason naming the
    # field, and the hash of its exact bytes (the stored text may be redacted).
    assert Counter(letter["raw_sha256"] for letter in letters) == Counter(
        hashlib.sha256(m.raw).hexdigest() for m in bad
    )
    assert all(":" in letter["reason"] for letter in letters)
    assert not any(letter["reason"].startswith("internal") for letter in letters)
