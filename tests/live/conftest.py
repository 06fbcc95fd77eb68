"""Live tests run against the real local Apache Kafka broker (``streams/broker.py``).

The session-scoped ``kafka_broker`` fixture starts the broker (idempotent: a broker that is
already up, e.g. after ``python -m streams.broker up``, is reused) and FAILS the tests that
use it, with the tail of the broker log, if it does not come up. Nothing is skipped.

At the end of the session the broker is stopped only if this session started it, so a
developer's running broker stays up and CI leaves no JVM behind. Set
``CLOSECAST_KAFKA_KEEP=1`` to keep a broker this session started running anyway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from streams import broker  # noqa: E402


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[broker.BrokerInfo]:
    try:
        info = broker.start(timeout=120)
    except broker.BrokerError as exc:
        pytest.fail(f"the local Kafka broker did not come up:\n{exc}", pytrace=False)
    yield info
    keep = os.environ.get("CLOSECAST_KAFKA_KEEP", "").strip() not in {"", "0", "false"}
    if info.started and info.pid is not None and not keep:
        broker.stop()
