"""`closecast calllist`: each rep's prioritised call list for a day, printed or written
as CSV, JSON or an Excel workbook. The parser is here; what the command does, and the
pandas, openpyxl and wcwidth it needs, is in `closecast.commands.calllist_view`, imported
when the command runs (`closecast --help` must not pay for it)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Final

from closecast.commands.common import add_log_args, add_model_args

# The workbook's languages (web.i18n.LANGUAGES; the web modules load only for xlsx).
LANGS: Final = ("en", "zh-Hant", "zh-Hans")


def register(sub: Any) -> None:
    p = sub.add_parser("calllist", help="a rep's prioritised call list for a day")
    add_log_args(p, as_of_required=True, workers=True)
    add_model_args(p)
    p.add_argument("--rep", help="one rep's list (default: every active rep)")
    p.add_argument("--limit", type=int, default=None, help="lines per rep (default: capacity)")
    p.add_argument("--format", choices=("table", "csv", "json", "xlsx"), default="table")
    p.add_argument("--out", type=Path, default=None, help="file to write (needed for xlsx)")
    p.add_argument(
        "--lang",
        choices=LANGS,
        default=os.environ.get("CLOSECAST_LANG", "en")
        if os.environ.get("CLOSECAST_LANG") in LANGS
        else "en",
        help="the workbook's language (headers, states, reasons; default CLOSECAST_LANG or en)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from closecast.commands.calllist_view import run as run_calllist

    return run_calllist(args)
