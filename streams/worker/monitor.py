"""Faust's Monitor sensor without its per-message bookkeeping.

Faust calls its Monitor for every message in and out, every stream event, table read,
table write and send: counters, timestamps and latency deques behind its `/stats/` and
`/performance/` views, which the worker does not serve (they check no token; see
streams/README.md). At thousands of events a second that bookkeeping was time the fold
could use. Kept: the one record faust itself reads back, the time a partition's stream
last took an event (its "slow processing" warnings), and the commit and rebalance hooks,
which run once a second or less. The hooks it overrides, and their signatures, are listed
in `streams.worker.internals.USED` (checked by its unit test).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors import Monitor


class LeanMonitor(Monitor):
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> None:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None
