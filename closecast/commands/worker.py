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
from features.policy import Policy
from models.registry import load_scorer
from streams.app import build
from streams.settings import SettingsError, StreamSettings


def register(sub: Any) -> None:
    p = sub.add_parser("worker", help="run the stream worker (Faust) on the Kafka broker")
    p.add_argument("--web-port", type=int, help="port of its web views (default 6066)")
    p.add_argument("--data-dir", type=Path, help="local RocksDB tables (default .closecast/worker)")
    p.add_argument("--model-dir", type=Path, default=None, help="trained models to score with")
    p.add_argument("--loglevel", default="warning", help="faust's log level (default warning)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
    worker = build(settings, load_scorer(args.model_dir, policy), policy, api_token=token)
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
