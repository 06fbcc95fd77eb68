"""`closecast worker`: run the Faust stream worker against the Kafka broker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from closecast.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run the stream worker (Faust) on the Kafka broker")
    p.add_argument("--web-port", type=int, help="port of its web views (default 6066)")
    p.add_argument("--data-dir", type=Path, help="local RocksDB tables (default .closecast/worker)")
    p.add_argument("--model-dir", type=Path, default=None, help="trained models to score with")
    p.add_argument("--loglevel", default="warning", help="faust's log level (default warning)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaError

    from features.policy import Policy
    from models.watch import ModelWatch
    from streams.worker.app import MAX_MESSAGE_BYTES, build, settle_heap
    from streams.worker.settings import SettingsError, StreamSettings
    from streams.worker.topics import create_topics

    try:
        settings = StreamSettings.from_env(web_port=args.web_port, data_dir=args.data_dir)
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    policy = Policy.from_env()
    token = os.environ.get("CLOSECAST_API_TOKEN", "")
    if not token:
        print(
            "closecast worker: CLOSECAST_API_TOKEN is not set: the web views will refuse "
            "every request (503) until it is",
            file=sys.stderr,
        )
    try:
        found = asyncio.run(create_topics(settings, MAX_MESSAGE_BYTES))
    except (KafkaError, OSError) as exc:
        raise UserError(
            f"cannot create the worker's topics on Kafka at {settings.bootstrap_servers()}: "
            f"{exc!r} (is the broker up? `make kafka-up`)"
        ) from None
    # The customer table is co-partitioned with the events topic: a topic made elsewhere
    # with another partition count would send customers' events to the wrong state.
    wrong = {
        name: n
        for name, n in found.items()
        if name != settings.deadletter_topic and n != settings.partitions
    }
    if wrong:
        raise UserError(
            f"topics {wrong} have another partition count than CLOSECAST_PARTITIONS="
            f"{settings.partitions}: set it to theirs, or use another CLOSECAST_APP_ID"
        )
    models = ModelWatch(args.model_dir, policy)
    worker = build(settings, models.scorer, policy, api_token=token, models=models)
    settle_heap()
    _worker_class()(
        worker.app, loglevel=args.loglevel, quiet=True, loop=_event_loop()
    ).execute_from_commandline()
    return 0


def _worker_class() -> type[Any]:
    import faust

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            # The root logger is left at DEBUG (only its handler filters), so every
            # library builds a debug record per message; that cost the worker ~7%.
            logger.setLevel(level or logging.WARNING)

    return Worker


def _event_loop() -> asyncio.AbstractEventLoop:
    # uvloop roughly doubles Faust's message rate (its consumer schedules several
    # tasks per message); plain asyncio works the same, only slower.
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
