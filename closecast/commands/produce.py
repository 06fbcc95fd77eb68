"""`closecast produce`: send log files into the worker's events topic, keyed by the contract."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from closecast.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("produce", help="send event log files into the Kafka events topic")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="event log (.jsonl)")
    p.add_argument("--topic", help="topic (default: the worker's events topic, <app id>-events)")
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: the local broker)")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.worker.app import MAX_MESSAGE_BYTES
    from streams.worker.producer import ensure_topic, send_files
    from streams.worker.settings import StreamSettings
    from streams.worker.topics import KEPT_FOREVER

    for path in args.files:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    settings = StreamSettings.from_env()
    topic = args.topic or settings.events_topic
    bootstrap = args.bootstrap or settings.bootstrap_servers()
    config = {**KEPT_FOREVER, "max.message.bytes": str(MAX_MESSAGE_BYTES)}
    found = asyncio.run(ensure_topic(bootstrap, topic, settings.partitions, config))
    if topic == settings.events_topic and found != settings.partitions:
        raise UserError(
            f"{topic} has {found} partitions but CLOSECAST_PARTITIONS is {settings.partitions}: "
            "the worker's tables must be co-partitioned with it"
        )
    sent = asyncio.run(send_files(args.files, topic, bootstrap, settings.partitions, args.progress))
    rate = sent.messages / sent.seconds if sent.seconds else 0.0
    print(f"sent {sent.messages:,} messages to {topic} in {sent.seconds:.1f} s ({rate:,.0f}/s)")
    if sent.invalid:
        print(f"  {sent.invalid:,} of them break the contract: the worker dead-letters them")
    return 0
