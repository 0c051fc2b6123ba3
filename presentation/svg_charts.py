"""Charts as inline SVG, drawn on the server: no script, no CDN, nothing a strict CSP blocks
(presentation attributes, never `style`). Each chart has a <title> and a <desc> saying what
it shows (the page puts the same figures in a table beside it), and is `role="img"`.

Horizontal bars only: their labels read at a phone's width, and one kind of chart is one
kind to learn. Values are drawn to scale from zero; the largest fills the plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 480
BAR = 22
GAP = 8
LABEL = 160
VALUE = 70
TOP = 8
# The console's accent and text colours, with contrast over white above 4.5:1.
FILL = "#1f5fa8"
TEXT = "#1a1a1a"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    # How the value reads beside its bar ("12.5%", "3").
    shown: str


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> str:
    """An SVG of horizontal bars; an empty `bars` draws a chart that says so."""
    height = TOP * 2 + max(len(bars), 1) * (BAR + GAP)
    ids = f"{chart_id}-title {chart_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{ids}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'class="chart" id="{escape(chart_id)}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    if not bars:
        parts.append(
            f'<text x="0" y="{TOP + BAR - 6}" fill="{TEXT}" font-size="14">Nothing to show</text>'
        )
    largest = max((bar.value for bar in bars), default=0.0)
    plot = WIDTH - LABEL - VALUE
    for n, bar in enumerate(bars):
        y = TOP + n * (BAR + GAP)
        length = 0.0 if largest <= 0 else max(bar.value, 0.0) / largest * plot
        parts.append(
            f'<text x="{LABEL - 8}" y="{y + BAR - 6}" text-anchor="end" fill="{TEXT}" '
            f'font-size="14">{escape(_clip(bar.label))}</text>'
        )
        parts.append(
            f'<rect x="{LABEL}" y="{y}" width="{length:.1f}" height="{BAR}" fill="{FILL}"/>'
        )
        parts.append(
            f'<text x="{LABEL + length + 6:.1f}" y="{y + BAR - 6}" fill="{TEXT}" '
            f'font-size="14">{escape(bar.shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _clip(label: str, most: int = 20) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:g} h"
