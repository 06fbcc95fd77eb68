"""Shared fixtures. Simulated logs are written once per session (they take seconds) and
reused read-only by every test that needs one; tests that change files copy them first."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.learned import Recipe
from models.registry import Registry
from tests.support.webworld import LiveServer, World, make_world
from tools import broker
from training.dataset import Dataset, DatasetConfig, EventSet, build_dataset, read_events
from training.retrain import RetrainResult, TrainingConfig, retrain
from training.simulator import SimulationConfig, write_log

# Two years of a small team: enough as-of times for a time-ordered holdout with a 90-day
# gap and purged calibration folds, small enough to build its data set in seconds.
TRAINING_LOG = SimulationConfig(customers=1500, reps=15, days=730, seed=5)
# At most 400 customers per snapshot (of ~900 open): ~17,000 rows, quick to fit.
TRAINING_ROWS = DatasetConfig(max_rows_per_as_of=400)


@pytest.fixture(scope="session")
def training_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated log (~90k events) for the training, registry and fallback tests."""
    path = tmp_path_factory.mktemp("training-log") / "sim.jsonl"
    write_log(TRAINING_LOG, path)
    return path


@pytest.fixture(scope="session")
def training_events(training_log: Path) -> EventSet:
    return read_events([training_log])


@pytest.fixture(scope="session")
def training_dataset(training_events: EventSet) -> Dataset:
    """Point-in-time rows of `training_log` (labelled only), `TRAINING_ROWS` settings."""
    return build_dataset(training_events, TRAINING_ROWS)


@pytest.fixture(scope="session")
def trained_registry(
    training_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, RetrainResult]:
    """A registry after two trainings on `training_log` (the logistic recipe alone, then
    every recipe), and the second's result. Read-only: copy it to change it."""
    root = tmp_path_factory.mktemp("registry") / "models"
    first = TrainingConfig(recipes=(Recipe("logistic"),))
    retrain(training_dataset, Registry(root), first, datetime(2029, 1, 1, tzinfo=UTC))
    result = retrain(training_dataset, Registry(root))
    return root, result


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[broker.BrokerInfo]:
    """The real local Apache Kafka broker (`tools/broker/`), for live tests.

    Starts it (idempotent: a broker already up, e.g. after `python -m tools.broker up`,
    is reused) and FAILS the tests that use it, with the tail of the broker log, if it
    does not come up. Nothing is skipped. At the end of the session the broker is stopped
    only if this session started it, so a developer's running broker stays up and CI
    leaves no JVM behind; `CLOSECAST_KAFKA_KEEP=1` keeps it running anyway.
    """
    try:
        info = broker.start(timeout=120)
    except broker.BrokerError as exc:
        pytest.fail(f"the local Kafka broker did not come up:\n{exc}", pytrace=False)
    yield info
    keep = os.environ.get("CLOSECAST_KAFKA_KEEP", "").strip() not in {"", "0", "false"}
    if info.started and info.pid is not None and not keep:
        broker.stop()


# The web tests' team and server: one per test module (each module's tests may change
# the world they share, never another module's).
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[LiveServer]:
    live = LiveServer(world).start()
    yield live
    live.stop()
