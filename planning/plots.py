"""The report's charts as PNG bytes: the funnel, pipeline value, the pool assignment.

Drawn on a bare `Figure` with the Agg canvas (no pyplot, no display, no global state).
Rep and team names are often Chinese: the first installed CJK font is used; without one,
matplotlib draws boxes for those glyphs and its missing-glyph warnings are silenced.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from planning.funnel import NO_REP

# Common CJK fonts on Linux, macOS and Windows, traditional first.
CJK_FONTS = (
    "Noto Sans CJK TC",
    "Noto Sans CJK SC",
    "Source Han Sans TW",
    "Source Han Sans CN",
    "PingFang TC",
    "Heiti TC",
    "Microsoft JhengHei",
    "Microsoft YaHei",
    "WenQuanYi Zen Hei",
    "SimHei",
)
_NOW, _BEFORE, _NEW = "#1f6feb", "#9aa5b1", "#e8730c"
SHOWN_REPS = 30  # bars in the pool chart: beyond that the labels crowd out


@cache
def _fonts() -> list[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed] + ["DejaVu Sans"]


@contextmanager
def _style() -> Iterator[None]:
    with (
        matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": _fonts()}),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        yield


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _money(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def funnel_chart(teams: pd.DataFrame) -> bytes:
    """Leads, contacted, quoted and deals per team (log scale: deals are 1-5% of leads)."""
    stages = ["leads", "contacted", "quoted", "deals"]
    with _style():
        fig = Figure(figsize=(7.5, 3.6), layout="constrained")
        ax = fig.add_subplot()
        rows = teams[(teams["leads"] > 0) & (teams["team"] != NO_REP)]
        if rows.empty:
            _empty(ax, "no leads yet")
            return _png(fig)
        width = 0.8 / len(rows)
        x = np.arange(len(stages))
        for k, (_, row) in enumerate(rows.iterrows()):
            label = f"{row['team']} ({row['conversion']:.1%})"
            ax.bar(x + k * width, [max(row[s], 0.8) for s in stages], width, label=label)
        ax.set_yscale("log")
        ax.set_xticks(x + width * (len(rows) - 1) / 2, stages)
        ax.set_ylabel("customers (log scale)")
        ax.set_title("Funnel by team (conversion = deals / leads)")
        ax.legend(fontsize="small")
        return _png(fig)


def pipeline_chart(by_team: pd.DataFrame, by_stage: pd.DataFrame) -> bytes:
    """Predicted value now and a week before, by team and by stage."""
    with _style():
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        for k, (table, key) in enumerate(((by_team, "team"), (by_stage, "stage"))):
            ax = fig.add_subplot(1, 2, k + 1)
            if table.empty:
                _empty(ax, "no customers")
                continue
            x = np.arange(len(table))
            ax.bar(
                x - 0.2,
                table["value_last_week"].fillna(0),
                0.4,
                color=_BEFORE,
                label="a week before",
            )
            ax.bar(x + 0.2, table["value"], 0.4, color=_NOW, label="now")
            ax.set_xticks(x, table[key].astype(str), rotation=30, ha="right")
            ax.set_title(f"Pipeline value by {key}")
            _money(ax)
            ax.legend(fontsize="small")
        return _png(fig)


def pool_chart(assignment: pd.DataFrame) -> bytes:
    """Recommended value per receiving rep; new reps (their reserved share) in orange."""
    with _style():
        fig = Figure(figsize=(9, 3.6), layout="constrained")
        ax = fig.add_subplot()
        if assignment.empty:
            _empty(ax, "nothing to assign")
            return _png(fig)
        per_rep = (
            assignment.groupby("rep_id")
            .agg(
                value=("assigned_value", "sum"),
                customers=("customer_id", "size"),
                new=("new_rep", "first"),
            )
            .sort_values("value", ascending=False)
        )
        shown = per_rep.head(SHOWN_REPS)
        more = len(per_rep) - len(shown)
        colours = [_NEW if new else _NOW for new in shown["new"]]
        ax.bar(shown.index.astype(str), shown["value"], color=colours)
        for k, count in enumerate(shown["customers"]):
            top = shown["value"].iloc[k]
            ax.text(k, top, str(count), ha="center", va="bottom", fontsize=7)
        ax.tick_params(axis="x", rotation=60, labelsize=7)
        ax.set_ylabel("assigned predicted value")
        _money(ax)
        note = f"; {more} more reps in the table" if more else ""
        ax.set_title(f"Pool assignment by rep (labels: customers; orange: new reps{note})")
        return _png(fig)
