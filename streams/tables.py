"""The worker's tables: per-customer state, per-rep state and the latest score.

Keys are the raw id bytes (the same bytes as the topics' keys); values are JSON: the
state's `to_dict()` (the same form `CustomerState.from_dict` reads back), or the score.

Every table records the delivery futures of its changelog writes, so an agent can wait
until the broker has them before its batch is acknowledged: faust's own flush before an
offset commit gives up after 0.1 s of no progress (see streams/README.md), and a write
lost that way could never be recovered from the changelog.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import faust
import orjson

from streams.settings import StreamSettings
from streams.state import CustomerState, RepState


class TrackedTable(faust.Table):
    """A faust Table that remembers the changelog sends not yet known delivered."""

    track_delivery = False

    def send_changelog(self, *args: Any, **kwargs: Any) -> Any:
        fut = super().send_changelog(*args, **kwargs)
        if self.track_delivery:
            self.__dict__.setdefault("_undelivered", []).append(fut)
        return fut

    async def delivered(self) -> None:
        """Wait until every changelog write made so far is acknowledged by the broker."""
        pending: list[asyncio.Future[Any]] = self.__dict__.pop("_undelivered", [])
        if pending:
            # A failed write raises here, which stops the agent before its batch is
            # acknowledged: the batch is then redelivered, never skipped.
            await asyncio.gather(*pending)


@dataclass(frozen=True)
class Tables:
    customers: TrackedTable
    reps: TrackedTable
    scores: TrackedTable

    def all(self) -> tuple[TrackedTable, ...]:
        return (self.customers, self.reps, self.scores)


def _table(
    app: faust.App,
    name: str,
    settings: StreamSettings,
    help: str,
    topic_config: dict[str, Any] | None = None,
) -> TrackedTable:
    table = TrackedTable(
        app,
        name=name,
        key_type=bytes,
        value_type=bytes,  # bytes keys and values use faust's "raw" codec
        partitions=settings.partitions,
        beacon=app.tables.beacon,
        help=help,
        extra_topic_configs=topic_config or {},
    )
    # Scores are derived (and reconciled after a restart): nobody waits for them.
    table.track_delivery = settings.await_delivery and name != "scores"
    app.tables.add(table)
    return table


def define_tables(app: faust.App, settings: StreamSettings, max_message_bytes: int) -> Tables:
    # Rep states hold every event id their rep touched, so a busy rep's record outgrows
    # Kafka's 1 MB default message size; its changelog allows more.
    big = {"max.message.bytes": max_message_bytes}
    return Tables(
        customers=_table(app, "customers", settings, "CustomerState.to_dict() by customer_id"),
        reps=_table(app, "reps", settings, "RepState.to_dict() by rep_id", big),
        scores=_table(app, "scores", settings, "latest score by customer_id"),
    )


def encode_customer(state: CustomerState) -> bytes:
    return orjson.dumps(state.to_dict())


def decode_customer(value: bytes) -> CustomerState:
    return CustomerState.from_dict(orjson.loads(value))


def encode_rep(state: RepState) -> bytes:
    return orjson.dumps(state.to_dict())


def decode_rep(value: bytes) -> RepState:
    return RepState.from_dict(orjson.loads(value))
