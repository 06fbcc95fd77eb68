"""`closecast serve`: the web pages and JSON API for reps, managers, analysts and admins."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path
from typing import Any

from closecast.commands.common import DEFAULT_MODEL_DIR, with_value
from closecast.errors import UserError
from features.policy import Policy
from models.registry import load_scorer
from models.scoring import Scorer
from web.access import AccessFileError
from web.settings import Settings, SettingsError
from web.users import UsersFileError, hash_password


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the web pages and the JSON API")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--log", type=Path, help="embedded mode: replay this log file, append new events to it"
    )
    mode.add_argument(
        "--worker",
        metavar="BOOTSTRAP",
        help="worker mode: follow the worker's events topic on this Kafka broker "
        "(host:port, or 'auto' for the project's broker settings) and produce new events to it",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--users", type=Path, help="users file (default: $CLOSECAST_USERS_FILE)")
    p.add_argument(
        "--access", type=Path, help="need-to-know file (default: $CLOSECAST_ACCESS_FILE)"
    )
    p.add_argument("--audit-log", type=Path, help="audit log (default: $CLOSECAST_AUDIT_LOG)")
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--heuristic-only", action="store_true", help="ignore trained models")
    p.add_argument(
        "--clock",
        choices=("now", "log"),
        default="now",
        help="'now': lists are for today (live teams); 'log': as of the newest event in the "
        "log (a replayed or simulated log)",
    )
    p.add_argument(
        "--refresh-seconds",
        type=float,
        default=300.0,
        help="re-score every customer this often when something changed (0: never)",
    )
    p.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password from the terminal (or stdin), print its hash for the users file",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.hash_password:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
        password = password.rstrip("\n")
        if len(password) < 10:
            raise UserError("--hash-password: use at least 10 characters")
        print(hash_password(password))
        return 0
    if args.log is None and args.worker is None:
        raise UserError("choose a mode: --log FILE (embedded) or --worker BOOTSTRAP")
    try:
        settings = Settings.from_env(
            users_file=args.users, access_file=args.access, audit_log=args.audit_log
        )
    except SettingsError as exc:
        raise UserError(f"refusing to start: {exc}") from None
    policy = Policy.from_env()
    scorer = (
        Scorer(None, policy)
        if args.heuristic_only
        else with_value(load_scorer(args.model_dir, policy), args.model_dir)
    )
    try:
        asyncio.run(_serve(args, settings, scorer, policy))
    except (UsersFileError, AccessFileError) as exc:
        raise UserError(f"refusing to start: {exc}") from None
    return 0


async def _serve(
    args: argparse.Namespace, settings: Settings, scorer: Scorer, policy: Policy
) -> None:
    from aiohttp import web

    from web.app import AccessLog, create_app
    from web.ledger import Ledger, wall_clock
    from web.source import EmbeddedSource, StateSource

    logging.getLogger("aiohttp.access").setLevel(logging.INFO)
    ledger = Ledger(scorer, policy, clock=wall_clock if args.clock == "now" else None)
    source: StateSource
    if args.log is not None:
        source = EmbeddedSource(args.log, ledger)
    else:
        from web.worker_source import WorkerSource

        source = WorkerSource.from_bootstrap(args.worker, ledger)
    app = create_app(
        settings,
        source,
        scorer,
        policy,
        model_dir=None if args.heuristic_only else args.model_dir,
        refresh_seconds=args.refresh_seconds,
    )
    runner = web.AppRunner(app, access_log_class=AccessLog)
    print(f"closecast serve: loading ({source.description}) ...", file=sys.stderr, flush=True)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    print(
        f"closecast serve: {len(ledger.customers):,} customers, {len(ledger.reps)} reps; "
        f"listening on http://{args.host}:{args.port}/ (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
