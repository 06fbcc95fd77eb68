"""Plots for the pages: horizontal bar charts as inline SVG, drawn on the server.

No JavaScript and no image files: the chart is part of the page, scales to a phone's
width, and carries its numbers as text (and a title for screen readers).
"""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

_BAR = 30
_LABEL_W = 120
_WIDTH = 480


def plot(title: str, bars: list[tuple[str, float]]) -> dict[str, Any]:
    """A chart as data (what the API returns); `svg` draws it."""
    return {"title": title, "bars": [[label, round(float(v), 2)] for label, v in bars]}


def svg(chart: dict[str, Any]) -> Markup:
    bars = chart["bars"]
    title = escape(str(chart["title"]))
    top = max((float(v) for _, v in bars), default=0.0)
    height = _BAR * max(len(bars), 1) + 36
    room = _WIDTH - _LABEL_W - 90
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{title}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{title}</title>",
        f'<text x="0" y="20" class="chart-title">{title}</text>',
    ]
    if not bars:
        parts.append('<text x="0" y="40">nothing to show</text>')
    for k, (label, value) in enumerate(bars):
        y = 30 + k * _BAR
        width = 0.0 if top <= 0 else room * float(value) / top
        parts.append(
            f'<text x="{_LABEL_W - 6}" y="{y + 20}" text-anchor="end">'
            f"{escape(str(label))[:24]}</text>"
            f'<rect x="{_LABEL_W}" y="{y + 3}" width="{width:.1f}" height="{_BAR - 6}"/>'
            f'<text x="{_LABEL_W + width + 4:.1f}" y="{y + 20}">{float(value):,.0f}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
