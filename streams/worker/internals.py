"""Every use of faust-streaming's, mode-streaming's and aiokafka's internals, in one place.

The worker reaches past these libraries' public APIs in a few places, each for a reason
given where it is used: faust's recovery fixes (`faustfix.py`), the fetcher's hand-off
(`handoff.py`), table writes as RocksDB write batches and changelog records sent as whole
producer batches (`tables.py`, `topics.py`), faust's current event (`tables.py`), and a
monitor without per-message bookkeeping (`monitor.py`). Those modules reach the internals
only through this one: `USED` lists every private name (and every method whose signature
a wrapper or an override depends on), `check_versions` refuses any library version other
than the exact ones all of it was read against, and `tests/unit/test_internals.py` checks
that each name in `USED` still exists with the signature written here.

Upgrading faust-streaming, mode-streaming, aiokafka or Python means: read the new sources
of everything in `USED` (and `faustfix.py`'s reasoning), run the unit, live and
reliability suites, then change `CHECKED` and the pins in pyproject.toml together.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

# The exact versions everything below was read against (pyproject.toml pins the same).
CHECKED: Final[dict[str, str]] = {
    "faust-streaming": "0.15.3",
    "mode-streaming": "0.7.1",
    "aiokafka": "0.14.0",
}
CHECKED_PYTHON: Final = (3, 11)


def version_problems() -> list[str]:
    """What differs from `CHECKED` here: one line per library (empty: all as checked)."""
    problems = []
    for package, wanted in CHECKED.items():
        try:
            found = version(package)
        except PackageNotFoundError:
            found = "not installed"
        if found != wanted:
            problems.append(f"{package} {found} (checked: {wanted})")
    running = sys.version_info[:2]
    if running != CHECKED_PYTHON:
        problems.append(
            f"Python {running[0]}.{running[1]} (checked: {CHECKED_PYTHON[0]}.{CHECKED_PYTHON[1]})"
        )
    return problems


def check_versions() -> None:
    """Raise RuntimeError unless every library is the exact version in `CHECKED`."""
    problems = version_problems()
    if problems:
        raise RuntimeError(
            "streams/worker/internals.py relies on faust's, mode's and aiokafka's internals "
            f"as of {', '.join(f'{p} {v}' for p, v in CHECKED.items())}, Python "
            f"{CHECKED_PYTHON[0]}.{CHECKED_PYTHON[1]}; found {'; '.join(problems)}. "
            "Re-read what it lists (USED) against the new sources, then update it."
        )


@dataclass(frozen=True)
class Internal:
    """One name of a library the worker depends on beyond its public API.

    `kind`: "method" (its parameter names are `params`), "attribute" (on the class or
    module), or "instance" (an attribute the class's `__init__` sets on each instance).
    """

    owner: str  # "module:Class" or "module"
    name: str
    kind: str
    params: tuple[str, ...] = ()
    why: str = ""


_CONSUMER = "faust.transport.consumer:Consumer"
_MONITOR = "faust.sensors:Monitor"

USED: Final[tuple[Internal, ...]] = (
    # faustfix.py: recovery must neither drop nor double-count offsets.
    Internal("mode.utils.queues:FlowControlEvent", "resume", "method", ("self",), "wrapped"),
    Internal("mode.utils.queues:FlowControlEvent", "is_active", "method", ("self",)),
    Internal(_CONSUMER, "perform_seek", "method", ("self",), "wrapped"),
    Internal(_CONSUMER, "getmany", "method", ("self", "timeout"), "wrapped"),
    Internal(_CONSUMER, "_add_gap", "method", ("self", "tp", "offset_from", "offset_to")),
    Internal(_CONSUMER, "_read_offset", "instance", (), "the read offset per partition"),
    Internal(_CONSUMER, "seek", "method", ("self", "partition", "offset")),
    Internal(_CONSUMER, "assignment", "method", ("self",)),
    # handoff.py: the fetcher's hand-off without four tasks per message.
    Internal(_CONSUMER, "wait_first", "method", ("self", "coros", "timeout"), "wrapped"),
    Internal(_CONSUMER, "_drain_messages", "method", ("self", "fetcher"), "calls wait_first"),
    Internal("mode.services:Service", "_stopped", "instance"),
    Internal("mode.services:Service", "_crashed", "instance"),
    # tables.py: faust's current event picks a table write's partitions.
    Internal("faust.streams", "_current_event", "attribute"),
    # tables.py: a batch's table writes as one RocksDB write batch per partition.
    Internal("faust.stores.rocksdb:Store", "_key_index", "instance"),
    Internal("faust.stores.rocksdb:Store", "_db_for_partition", "method", ("self", "partition")),
    Internal("faust.stores.rocksdb:Store", "use_rocksdict", "instance"),
    Internal(
        "faust.stores.rocksdb:Store", "set_persisted_offset", "method", ("self", "tp", "offset")
    ),
    # tables.py, topics.py: whole producer batches, through faust's aiokafka producer.
    Internal("faust.transport.drivers.aiokafka:Producer", "_ensure_producer", "method", ("self",)),
    Internal("aiokafka:AIOKafkaProducer", "create_batch", "method", ("self",)),
    Internal(
        "aiokafka:AIOKafkaProducer", "send_batch", "method", ("self", "batch", "topic", "partition")
    ),
    # topics.py: a pass-through schema overrides compile.
    Internal(
        "faust:Schema",
        "compile",
        "method",
        ("self", "app", "on_key_decode_error", "on_value_decode_error", "default_propagate"),
    ),
    # monitor.py: the Monitor's per-message hooks, overridden to do nothing.
    Internal(_MONITOR, "on_message_in", "method", ("self", "tp", "offset", "message")),
    Internal(_MONITOR, "on_message_out", "method", ("self", "tp", "offset", "message")),
    Internal(_MONITOR, "on_stream_event_in", "method", ("self", "tp", "offset", "stream", "event")),
    Internal(
        _MONITOR,
        "on_stream_event_out",
        "method",
        ("self", "tp", "offset", "stream", "event", "state"),
    ),
    Internal(_MONITOR, "stream_inbound_time", "instance"),
    Internal(_MONITOR, "on_table_get", "method", ("self", "table", "key")),
    Internal(_MONITOR, "on_table_set", "method", ("self", "table", "key", "value")),
    Internal(
        _MONITOR,
        "on_send_initiated",
        "method",
        ("self", "producer", "topic", "message", "keysize", "valsize"),
    ),
    Internal(_MONITOR, "on_send_completed", "method", ("self", "producer", "state", "metadata")),
)


def resolve(owner: str) -> Any:
    """The module or class `owner` names ("module" or "module:Class")."""
    module_name, _, qualname = owner.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split(".") if qualname else ():
        found = getattr(found, part)
    return found


def _listed(owner: Any, name: str) -> None:
    label = owner.__name__ if isinstance(owner, type) else str(owner)
    for item in USED:
        if item.name == name and resolve(item.owner) is owner:
            return
    raise AssertionError(f"{label}.{name} is not listed in streams.worker.internals.USED")


def replace_method(owner: type, name: str, make: Callable[[Any], Any], marker: str) -> bool:
    """Replace `owner.name` by `make(original)`, once per process (`marker` records it).
    Returns False if it was replaced already. Every replaced name must be in `USED`."""
    _listed(owner, name)
    if getattr(owner, marker, False):
        return False
    setattr(owner, name, make(getattr(owner, name)))
    setattr(owner, marker, True)
    return True


# ---- the faust classes the fixes wrap


def consumer_class() -> Any:
    return resolve(_CONSUMER)


def flow_control_class() -> Any:
    return resolve("mode.utils.queues:FlowControlEvent")


# ---- private reads, each named in USED


def read_offset(consumer: Any, tp: Any) -> int | None:
    """The offset faust's fetcher last handed out for `tp` (None: none yet)."""
    offset: int | None = consumer._read_offset.get(tp)
    return offset


def stopped_or_crashed(service: Any) -> bool:
    """Whether a mode service has stopped or crashed (what its `wait_first` also races)."""
    return bool(service._stopped.is_set() or service._crashed.is_set())


def current_event() -> ContextVar[Any]:
    """faust's current event (a weak reference): it picks the local store partition and
    the changelog partition of a table write."""
    var: ContextVar[Any] = resolve("faust.streams")._current_event
    return var


def aiokafka_producer(app: Any) -> Any:
    """The aiokafka producer inside faust's: its batch API faust does not pass on."""
    return app.producer._ensure_producer()


def write_rocksdb_batches(store: Any, records: Iterable[tuple[bytes, bytes, int]]) -> None:
    """Write `(key, value, partition)` records into faust's RocksDB store as its own
    changelog recovery writes them: one WriteBatch per partition, and the key index
    faust's reads use to find a key's partition kept up to date."""
    import rocksdict

    batches: dict[int, Any] = {}
    key_index = store._key_index
    for key, value, partition in records:
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = rocksdict.WriteBatch(raw_mode=True)
        batch.put(key, value)
        key_index[key] = partition
    for partition, batch in batches.items():
        store._db_for_partition(partition).write(batch)
