"""`closecast`: the command line, the composition root that wires the packages together.

Each command lives in its own module under `closecast/commands/` and registers itself
here; this file only builds the parser and turns failures into clear messages and exit
codes (2 for bad usage or input, 1 for a failed run).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from closecast.commands import COMMANDS
from closecast.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="closecast",
        description="Close-probability forecasts, call lists and allocation from a contact log.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"closecast {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
