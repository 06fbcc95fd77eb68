"""The stream worker's settings: defaults here, each overridable by a `CLOSECAST_*` variable.

One app id names everything the worker owns on the broker (consumer group, topics, table
changelogs), so two workers with different ids never see each other's data; tests use a
fresh id per run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Final

from streams.core.settings import SettingsError

__all__ = ["SettingsError", "StreamSettings", "local_bootstrap", "local_port"]

AT_LEAST_ONCE: Final = "at_least_once"
EXACTLY_ONCE: Final = "exactly_once"


# The project's local development broker (`tools/broker/`) listens here; the tool reads the
# same two variables, so a worker and the broker it was started beside agree.
LOCAL_HOST: Final = "127.0.0.1"
LOCAL_PORT: Final = 19092


def local_port() -> int:
    """The local broker's client port on 127.0.0.1 (env `CLOSECAST_KAFKA_PORT`)."""
    raw = os.environ.get("CLOSECAST_KAFKA_PORT", "").strip()
    if not raw:
        return LOCAL_PORT
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"CLOSECAST_KAFKA_PORT={raw!r} is not a port number") from None
    if not 1 <= value <= 65534:
        raise SettingsError(f"CLOSECAST_KAFKA_PORT={value} is out of range (1..65534)")
    return value


def local_bootstrap() -> str:
    """`CLOSECAST_KAFKA_BOOTSTRAP`, or the local broker's address."""
    external = os.environ.get("CLOSECAST_KAFKA_BOOTSTRAP", "").strip()
    return external or f"{LOCAL_HOST}:{local_port()}"


@dataclass(frozen=True)
class StreamSettings:
    app_id: str = "closecast"
    # Empty means local_bootstrap() (the project's local broker, `tools/broker/`).
    bootstrap: str = ""
    # Partitions of every topic the app owns. The events topic, the customer table's
    # changelog and the scores table's changelog must agree (co-partitioning).
    partitions: int = 4
    # Faust's warm copies of other workers' table partitions (0 on a single node).
    standby_replicas: int = 0
    processing_guarantee: str = AT_LEAST_ONCE
    # rocksdb:// (rocksdict) for workers; memory:// for broker-less unit tests.
    store: str = "rocksdb://"
    data_dir: Path = Path(".closecast/worker")
    web_port: int = 6066
    web_bind: str = "127.0.0.1"
    web_enabled: bool = True
    # An events batch is what the agent folds between two waits for the broker's acks.
    batch_max: int = 2000
    batch_within: float = 0.02
    # Rep states are large (every event id a rep touched), so the rep agent writes each
    # rep at most once per batch and takes longer batches.
    rep_batch_max: int = 20000
    rep_batch_within: float = 1.0
    # The lazy scorer: how often it looks for customers to re-score, how many per pass,
    # and the share of the worker's time it may take while a backlog is folded (low: in a
    # backlog a score is soon stale, and the fewer passes, the more changes per score).
    score_interval: float = 0.02
    score_max_batch: int = 500
    score_cpu_share: float = 0.1
    # Wait for the broker to acknowledge every send and changelog write of a batch
    # before the batch is acknowledged (see streams/README.md). Off only in unit tests,
    # which have no broker.
    await_delivery: bool = True
    commit_interval: float = 1.0
    session_timeout: float = 10.0
    # Customers whose decoded state the agent keeps in memory between batches.
    cache_size: int = 200_000
    # How often the worker looks for a change in its model registry (a promotion, a
    # rollback, a damaged or deleted file) and loads again.
    model_check_interval: float = 5.0
    # How often the hold agent looks again at events held as dated ahead of the clock.
    held_recheck: float = 30.0

    @property
    def events_topic(self) -> str:
        return f"{self.app_id}-events"

    @property
    def reps_topic(self) -> str:
        return f"{self.app_id}-rep-events"

    @property
    def scores_topic(self) -> str:
        return f"{self.app_id}-scores"

    @property
    def deadletter_topic(self) -> str:
        return f"{self.app_id}-deadletter"

    @property
    def held_topic(self) -> str:
        """Events dated ahead of the clock, kept until their time (streams.core.held)."""
        return f"{self.app_id}-held"

    def bootstrap_servers(self) -> str:
        """`host:port[,host:port...]`: the setting, or the project's local broker."""
        if self.bootstrap:
            return self.bootstrap
        return local_bootstrap()

    def broker_url(self) -> str:
        return ";".join(f"kafka://{host}" for host in self.bootstrap_servers().split(","))

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> StreamSettings:
        """Defaults, then `CLOSECAST_<FIELD>` variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        defaults = cls()
        for f in fields(cls):
            text = env.get(f"CLOSECAST_{f.name.upper()}")
            if text is None:
                continue
            values[f.name] = _convert(f.name, getattr(defaults, f.name), text)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(defaults, **values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if self.partitions < 1:
            raise SettingsError("CLOSECAST_PARTITIONS: must be at least 1")
        if self.standby_replicas < 0:
            raise SettingsError("CLOSECAST_STANDBY_REPLICAS: must be 0 or more")
        if self.processing_guarantee == EXACTLY_ONCE:
            # faust-streaming runs one transaction per *source* partition and commits it
            # with that partition's offsets; our rep forwards go to other partitions (keyed
            # by rep), whose transactions only commit when their own topic is consumed.
            # That stalls or splits the forward from its source commit, so it is refused
            # rather than half-working. At-least-once plus the idempotent fold is exact.
            raise SettingsError(
                "CLOSECAST_PROCESSING_GUARANTEE: exactly_once is not supported: Faust's "
                "transactions cannot cover the re-keyed rep forwards; at_least_once with the "
                "idempotent fold gives exact states (see streams/README.md)"
            )
        if self.processing_guarantee != AT_LEAST_ONCE:
            raise SettingsError("CLOSECAST_PROCESSING_GUARANTEE: must be at_least_once")
        if not self.model_check_interval > 0:
            raise SettingsError("CLOSECAST_MODEL_CHECK_INTERVAL: must be a number of seconds > 0")
        if not self.store.startswith(("rocksdb://", "memory://")):
            raise SettingsError("CLOSECAST_STORE: must be rocksdb:// or memory://")
        if not 0 < self.score_cpu_share <= 1:
            raise SettingsError("CLOSECAST_SCORE_CPU_SHARE: must be in (0, 1]")


def _convert(name: str, default: object, text: str) -> object:
    try:
        if isinstance(default, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, Path):
            return Path(text)
    except ValueError:
        kind = type(default).__name__
        raise SettingsError(f"CLOSECAST_{name.upper()}: expected a {kind}, got {text!r}") from None
    return text
