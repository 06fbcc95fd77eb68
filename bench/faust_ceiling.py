"""The most any Faust agent can do here: an agent that takes the events topic's messages
in the worker's batches and does nothing with them.

Run by `bench/bench_stream.py` as a subprocess, on a topic already filled:
`python -m bench.faust_ceiling APP_ID TOPIC PARTITIONS EXPECTED`. It builds the app exactly
as the worker does (`streams.worker.app.create_app`: same consumer and fetch settings, same raw
schema, faust's recovery fix and the inline hand-off), with a memory store and no
tables, in a consumer group of its own. Prints one JSON line: the seconds from the first
batch to the last message, then exits.

It prices faust's own path (fetch, hand-off, event, stream, buffer, acknowledgement),
which every agent pays per message before it does any work: the worker's rate cannot
exceed this one.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from closecast.commands.worker import _event_loop, _worker_class
from streams.worker import faustfix, handoff
from streams.worker.app import create_app
from streams.worker.settings import StreamSettings
from streams.worker.topics import RawSchema


def main(app_id: str, topic: str, partitions: int, expected: int) -> None:
    settings = StreamSettings.from_env(
        app_id=app_id,
        partitions=partitions,
        store="memory://",
        data_dir=Path(os.environ.get("TMPDIR", "/tmp")) / app_id,
        web_enabled=False,
    )
    app = create_app(settings)
    faustfix.apply()
    handoff.apply()
    events = app.topic(topic, schema=RawSchema(), partitions=partitions)
    # faust's worker sends sys.stdout to its log: keep the real one for the result.
    result = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    seen = 0
    first = first_cpu = 0.0

    @app.agent(events, name="take-only")
    async def take_only(stream: Any) -> None:
        nonlocal seen, first, first_cpu
        async for batch in stream.take_events(settings.batch_max, settings.batch_within):
            if not first:
                first, first_cpu = time.perf_counter(), time.process_time()
            seen += len(batch)
            if seen >= expected:
                measured = {
                    "seconds": time.perf_counter() - first,
                    "cpu_seconds": time.process_time() - first_cpu,
                }
                result.write(orjson.dumps(measured).decode())
                result.write("\n")
                result.flush()
                os._exit(0)  # a measurement, not a service: nothing to hand over

    _worker_class()(
        app, loglevel="WARNING", quiet=True, loop=_event_loop()
    ).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
