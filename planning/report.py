"""The manager report as one self-contained HTML page: inline style, charts as base64 PNG.

Every value is HTML-escaped (customer and rep names come from spreadsheets). Long tables
show their first rows and say how many more the Excel export holds.
"""

from __future__ import annotations

import base64
import html

import pandas as pd

from planning.manager import ManagerReport
from planning.plots import funnel_chart, pipeline_chart, pool_chart

ROWS_SHOWN = 50
RATIOS = frozenset({"conversion", "p_close", "turnover", "change_pct"})  # shown as percentages
_STYLE = """
body { font-family: system-ui, "Noto Sans CJK TC", "Microsoft JhengHei", sans-serif;
       margin: 2rem auto; max-width: 1200px; color: #1b1f24; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
table { border-collapse: collapse; font-size: .82rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .2rem .45rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } tr:nth-child(even) td { background: #fbfcfd; }
.note { color: #57606a; font-size: .85rem; } img { max-width: 100%; }
ul.headline li { margin: .15rem 0; }
"""


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, empty: str = "none") -> str:
    if frame.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    shown = frame.head(ROWS_SHOWN).copy()
    for column in RATIOS.intersection(shown.columns):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.1%}")
    body = shown.to_html(
        index=False, escape=True, na_rep="", border=0, float_format="{:,.4g}".format
    )
    more = ""
    if len(frame) > ROWS_SHOWN:
        more = (
            f'<p class="note">first {ROWS_SHOWN} of {len(frame):,} rows; all of them are in '
            "<code>closecast manager ... --format xlsx --out tables.xlsx</code></p>"
        )
    return body + more


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _revenue_table(report: ManagerReport) -> str:
    forecast = report.revenue
    frame = forecast.reps.copy()
    column = f"expected revenue next {forecast.horizon_days} days"
    frame[column] = [
        f"{e:,.0f} ({lo:,.0f} to {hi:,.0f})"
        for e, lo, hi in zip(frame["expected"], frame["low"], frame["high"], strict=True)
    ]
    return _table(frame[["rep_id", "name", "customers", column]], "no rep")


def render(report: ManagerReport, title: str = "closecast manager report") -> str:
    rec = report.recommendation
    headline = "".join(f"<li>{html.escape(line)}</li>" for line in report.headline())
    sections = [
        _section(
            "Funnel (quantity probability)",
            _image(funnel_chart(report.funnel_teams), "funnel by team"),
            _note("Conversion = customers who ordered / leads; a new rep is expected at 1-5%."),
            _table(report.funnel_teams),
            _table(report.funnel_reps),
        ),
        _section(
            "Activity alerts",
            _note(
                "Reps whose distinct prospects contacted in the last 7 days fall short of "
                "the weekly target; new reps first."
            ),
            _table(report.activity_alerts, "every rep reached the weekly target"),
            _note("Customers at 10+ effective contacts without a deal: join the rep."),
            _table(report.manager_join),
            _note("Suspensions before the 12th effective contact or of never-suspend customers."),
            _table(report.violations, "no suspension broke the rules"),
            _note("Never-suspend customers without an active owner: assign them first."),
            _table(report.unowned_never_suspend),
        ),
        _section(
            "Public pool",
            _note(
                f"{rec.pool_size:,} customers in the pool. Recommended: {len(rec.assignment):,} "
                f"assignments worth {rec.total_value:,.0f} (predicted value x rep fit), "
                f"{rec.reserved_filled} reserved new-rep slots filled. Accept or edit the "
                "assignment file, then run closecast assign."
            ),
            _image(pool_chart(rec.assignment), "pool assignment by rep"),
            _table(rec.receivers, "no active rep can take customers"),
            _table(rec.assignment, "nothing to assign"),
            _table(report.pool, "the pool is empty"),
        ),
        _section(
            "Dormant customers (no order for 90+ days)",
            _note("Ranked by the chance and value of ordering again (predicted value)."),
            _table(report.dormant),
        ),
        _section(
            "Pipeline value",
            _image(
                pipeline_chart(report.pipeline["team"], report.pipeline["stage"]),
                "pipeline value by team and stage",
            ),
            *(_table(report.pipeline[dim]) for dim in ("rep", "team", "source", "stage")),
        ),
        _section(
            "Revenue forecast",
            _note(
                f"Team: {report.revenue.team_line()}. Each figure counts every order expected "
                "in the horizon (repeat orders and their size), with its 80% interval; a rep's "
                "covers the customers they own, the pool counts for the team only."
            ),
            _revenue_table(report),
        ),
        _section(
            "Team health",
            _note("Yearly turnover: 10-15% is healthy; above hurts results, below lacks drive."),
            _table(report.turnover),
        ),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><ul class="headline">{headline}</ul>'
        + "".join(sections)
        + "</body></html>\n"
    )
