"""What `closecast calllist` does: today's prioritised contacts for one rep or all, with
reasons, as a table, CSV, JSON or a workbook (the parser is `closecast.commands.calllist`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import orjson
import pandas as pd
from wcwidth import wcswidth

from closecast.commands.books import CallBooks, load_call_books
from closecast.commands.common import as_of_arg, check_out
from closecast.errors import UserError
from features.policy import Policy
from planning.calllist import TREND_DAYS, CallLine, call_lists, due_counts, lines_frame
from planning.export import MONEY, PERCENT, write_tables, write_workbook
from streams.core.contract import to_datetime


def N_(message: str) -> str:
    """Marks a message for the catalogues; translated when the workbook is written."""
    return message


# The workbook's columns: what a rep reads, in the order they read it (gettext messages:
# the headers are in the language asked for with --lang).
SHEET_COLUMNS: Final = {
    "rank": N_("Rank"),
    "company": N_("Company"),
    "contact_name": N_("Contact"),
    "phone": N_("Phone"),
    "customer_id": N_("Customer id"),
    "due_state": N_("Due"),
    "action": N_("Action"),
    "channel": N_("Channel"),
    "p_close": N_("Chance to close"),
    "trend": N_("Trend (30 days)"),
    "trend_change": N_("Change"),
    "predicted_value": N_("Predicted value"),
    "effective_contacts": N_("Effective contacts"),
    "days_since_contact": N_("Days since contact"),
    "why": N_("Why"),
    "reasons": N_("Score reasons"),
}
_FORMATS: Final = {
    "p_close": PERCENT,
    "trend_change": "+0.0%;-0.0%;0.0%",
    "predicted_value": MONEY,
    "days_since_contact": "0",
}


def run(args: argparse.Namespace) -> int:
    # Every argument is checked before the log is read or a model looked at.
    if args.format == "xlsx" and args.out is None:
        raise UserError("--format xlsx needs --out FILE.xlsx")
    if args.limit is not None and args.limit < 1:
        raise UserError("--limit: must be 1 or more")
    check_out(args.out)
    as_of_arg(args.as_of)
    policy = Policy.from_env()
    books = load_call_books(args, policy, TREND_DAYS)
    book = books.now
    if args.rep is not None and args.rep not in book.rep_ids:
        raise UserError(_no_rep(args.rep, books))
    lists = call_lists(book, policy, args.rep, args.limit, books.contacts, books.earlier_p)
    lines = sum(len(v) for v in lists.values())
    if args.format == "xlsx":
        from web.i18n import Lang, using

        with using(Lang(args.lang)):
            tables, formats = workbook_tables(lists)
        write_workbook(tables, args.out, formats)
        print(f"wrote {lines} lines for {len(lists)} reps to {args.out}")
    elif args.format == "csv" and args.out is not None:
        write_tables({"call_list": lines_frame(lists)}, args.out, args.format)
        print(f"wrote {lines} lines for {len(lists)} reps to {args.out}")
    elif args.format == "csv":
        lines_frame(lists).to_csv(sys.stdout, index=False)
    elif args.format == "json":
        rows = [line.to_dict() for rep_lines in lists.values() for line in rep_lines]
        _emit(orjson.dumps(rows).decode(), args.out)
    else:
        _emit("\n".join(render_table(r, lines) for r, lines in lists.items()), args.out)
    return 0


def _no_rep(rep: str, books: CallBooks) -> str:
    first = books.later_reps.get(rep)
    if first is not None:
        day = to_datetime(first).date().isoformat()
        return f"--rep: {rep!r} has no event up to --as-of (its first is on {day})"
    return f"--rep: no rep {rep!r} in the log"


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")


def workbook_tables(
    lists: Mapping[str, list[CallLine]],
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """A summary sheet, then one sheet per rep (named after the rep), in the current
    language (`web.i18n.using`); and the number format of each column."""
    from web.i18n import gettext
    from web.labels import label, why_text
    from web.reasons import translate

    header = {k: gettext(v) for k, v in SHEET_COLUMNS.items()}
    summary = []
    sheets: dict[str, pd.DataFrame] = {}
    for rep, lines in lists.items():
        name = next((x.rep_name for x in lines if x.rep_name), "") or rep
        counts = due_counts(lines)
        summary.append(
            {
                gettext("Rep"): name,
                gettext("Rep id"): rep,
                gettext("Lines"): len(lines),
                gettext("overdue"): counts["overdue"],
                gettext("due today"): counts["due"],
                gettext("new lead"): counts["new"],
                gettext("Predicted value"): sum(x.predicted_value for x in lines),
            }
        )
        rows = []
        for line in lines:
            row = line.to_dict()
            row["due_state"] = label("due", line.due_state)
            row["action"] = label("action", line.action)
            row["channel"] = label("channel", line.channel)
            row["trend"] = label("trend", line.trend) if line.trend else ""
            row["why"] = "; ".join(why_text(m, v) for m, v in line.why_parts)
            row["reasons"] = "; ".join(translate(r) for r in line.reasons)
            rows.append({header[k]: row[k] for k in SHEET_COLUMNS})
        frame = pd.DataFrame(rows, columns=list(header.values()))
        sheets[name if name not in sheets else f"{name} ({rep})"] = frame
    formats = {header[k]: v for k, v in _FORMATS.items()}
    formats[gettext("Predicted value")] = MONEY
    return {gettext("Summary"): pd.DataFrame(summary), **sheets}, formats


def pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two)."""
    shown = wcswidth(text)
    return text + " " * max(0, width - (shown if shown >= 0 else len(text)))


def trend_text(line: CallLine) -> str:
    """'up +2.3 pts' over the trend's window ('' without an earlier score)."""
    if line.trend_change is None:
        return ""
    return f"{line.trend} {line.trend_change * 100:+.1f} pts"


def render_table(rep_id: str, lines: list[CallLine]) -> str:
    name = next((x.rep_name for x in lines if x.rep_name), "")
    who = f"{name} ({rep_id})" if name else rep_id
    counts = due_counts(lines)
    out = [
        f"== {who}: {len(lines)} to contact today: {counts['overdue']} overdue, "
        f"{counts['due']} due, {counts['new']} new leads =="
    ]
    if not lines:
        out.append("   (nobody due today)")
    for line in lines:
        flags = f"  [{', '.join(f.replace('_', ' ') for f in line.flags)}]" if line.flags else ""
        company = line.contact.company or line.customer_id
        person = " ".join(x for x in (line.contact.contact_name, line.contact.phone) if x)
        out.append(
            f"{line.rank:>3}. {pad(company, 20)} {pad(person, 24)} {pad(line.action, 8)}"
            f" {line.p_close:6.1%} {trend_text(line):<13}"
            f" value {line.predicted_value:>10,.0f}{flags}"
        )
        for why in line.why:
            out.append(f"       - {why}")
        if line.reasons:
            out.append(f"       score ({line.score_source}): {'; '.join(line.reasons)}")
    return "\n".join(out)
