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


# ---------------------------------------------------------------- curves

_CW, _CH, _PAD = 320, 260, 40
_COLOURS = ("#0b5cad", "#b45309", "#166534", "#7c3aed", "#be123c")


def curve_svg(
    title: str,
    series: dict[str, list[tuple[float, float]]],
    diagonal: bool = True,
    x_label: str = "",
    y_label: str = "",
) -> Markup:
    """Lines on the unit square (ROC, reliability, capture), one per series, with the
    diagonal (chance, perfect calibration) dotted for reference."""
    w, h, pad = _CW, _CH, _PAD

    def at(x: float, y: float) -> str:
        cx = pad + max(0.0, min(1.0, x)) * (w - pad - 10)
        cy = h - pad - max(0.0, min(1.0, y)) * (h - pad - 24)
        return f"{cx:.1f},{cy:.1f}"

    name = escape(title)
    parts = [
        f'<svg class="chart curve" viewBox="0 0 {w} {h + 18 * len(series)}" role="img" '
        f'aria-label="{name}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{name}</title>",
        f'<text x="0" y="16" class="chart-title">{name}</text>',
        f'<polyline class="axis" fill="none" stroke="#57606a" points="{at(0, 1)} {at(0, 0)} '
        f'{at(1, 0)}"/>',
        f'<text x="{pad}" y="{h - pad + 16}" font-size="12">0</text>',
        f'<text x="{w - 20}" y="{h - pad + 16}" font-size="12">1</text>',
        f'<text x="{w // 2}" y="{h - 6}" font-size="12" text-anchor="middle">'
        f"{escape(x_label)}</text>",
        f'<text x="4" y="{pad}" font-size="12">{escape(y_label)}</text>',
    ]
    if diagonal:
        parts.append(
            f'<polyline fill="none" stroke="#8c959f" stroke-dasharray="3 3" '
            f'points="{at(0, 0)} {at(1, 1)}"/>'
        )
    for k, (label, points) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        line = " ".join(at(x, y) for x, y in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>')
        parts.append(
            f'<text x="{pad}" y="{h + 14 + 18 * k}" fill="{colour}" font-size="13">'
            f"— {escape(label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
