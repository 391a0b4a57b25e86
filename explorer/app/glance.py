"""Small glances beside a control: the sensitivity of one threshold as tiny inline SVG, its counts in words.

Plain SVG and HTML, no plotly bundle: a glance beside each numeric threshold costs a few hundred bytes and
is drawn only while its disclosure is open (explorer.app.views.CriterionRow). Every count goes through the
scenario's small-cell rule (explorer.engine.privacy.Protection).
"""

from __future__ import annotations

import html

import numpy as np

from explorer.plots import PALETTE


def unknown_share(result, protection) -> str:
    """The pool's share with no value, as text; "" when it would publish a hidden count (3 unknown of 400,
    or all but 3), so it is shown only where both the unknown and the known are counts protection shows."""
    unknown, known = protection.count(result.unknown), protection.count(result.pool - result.unknown)
    return f"{result.unknown_share:.0%}" if result.pool and unknown == unknown and known == known else ""


def _svg_path(points) -> str:
    """An SVG path through (x, y) points, broken where y is NaN (a count protection hides)."""
    parts, pen = [], "M"
    for x, y in points:
        if y != y:
            pen = "M"
            continue
        parts.append(f"{pen}{x:.1f},{y:.1f}")
        pen = "L"
    return " ".join(parts)


def sensitivity_svg(result, protection, *, width: int = 190, height: int = 64) -> str:
    """Two small panels: the variable among the pool (bars, cut-off drawn) and the eligible count by cut-off
    (line, current value marked). Plain SVG: no plotly bundle for a glance beside a control."""
    low, high = result.minimum, result.maximum
    span = (high - low) or 1.0

    def x_of(value: float) -> float:
        return 4 + (width - 8) * (min(max(value, low), high) - low) / span

    cut = x_of(result.current)
    marks = (f"<text x='4' y='{height + 12}' font-size='10' fill='#666'>{low:g}</text>"
             f"<text x='{width - 4}' y='{height + 12}' text-anchor='end' font-size='10' fill='#666'>{high:g}</text>")
    bars = ""
    if result.histogram is not None:
        counts = [protection.count(v) for v in result.histogram["pool"]]
        top = max([c for c in counts if c == c] + [1.0])
        for left, right, c in zip(result.histogram["left"], result.histogram["right"], counts, strict=True):
            if c == c and c > 0:
                h = (height - 4) * c / top
                bars += (f"<rect x='{x_of(left):.1f}' y='{height - h:.1f}' width='{max(x_of(right) - x_of(left) - 1, 1):.1f}'"
                         f" height='{h:.1f}' fill='{PALETTE[5]}'/>")
    else:
        bars = f"<text x='{width / 2}' y='{height / 2}' text-anchor='middle' font-size='10' fill='#666'>no single variable</text>"
    left_panel = (f"<svg width='{width}' height='{height + 16}' role='img' aria-label='distribution in the pool'>"
                  f"{bars}<line x1='{cut:.1f}' x2='{cut:.1f}' y1='0' y2='{height}' stroke='{PALETTE[3]}' "
                  f"stroke-dasharray='3,2' stroke-width='1.5'/>{marks}</svg>")
    curve = result.curve
    eligible = [protection.count(v) for v in curve["eligible"]]
    top = max([c for c in eligible if c == c] + [1.0])
    points = [(x_of(v), height - (height - 4) * c / top if c == c else float("nan"))
              for v, c in zip(curve["value"], eligible, strict=True)]
    now = int(np.argmin(np.abs(curve["value"].to_numpy() - result.current)))
    dot = ""
    if eligible[now] == eligible[now]:
        dot = f"<circle cx='{points[now][0]:.1f}' cy='{points[now][1]:.1f}' r='3.5' fill='{PALETTE[3]}'/>"
    right_panel = (f"<svg width='{width}' height='{height + 16}' role='img' aria-label='eligible count by cut-off'>"
                   f"<path d='{_svg_path(points)}' fill='none' stroke='{PALETTE[0]}' stroke-width='1.5'/>"
                   f"<line x1='{cut:.1f}' x2='{cut:.1f}' y1='0' y2='{height}' stroke='{PALETTE[3]}' "
                   f"stroke-dasharray='3,2' stroke-width='1'/>{dot}"
                   f"<text x='{width - 4}' y='10' text-anchor='end' font-size='10' fill='#666'>max "
                   f"{html.escape(protection.text(max(curve['eligible'])))}</text>{marks}</svg>")
    return left_panel + right_panel


def sensitivity_caption(result, protection, *, enabled: bool) -> str:
    """The counts of the two small panels, in words: the pool, its unknown share, the eligible count now."""
    share = f" ({unknown_share(result, protection)})" if unknown_share(result, protection) else ""
    now = result.at(result.current)["eligible"]
    switched = "" if enabled else " if it were switched on"
    variable = html.escape(result.variable or result.parameter)
    return (f"<div class='te-muted te-sens-caption' data-testid='param-sensitivity' data-criterion="
            f"'{html.escape(result.criterion)}' data-parameter='{html.escape(result.parameter)}'>"
            f"left: {variable} among the <span data-testid='sensitivity-pool'>{html.escape(protection.text(result.pool))}"
            f"</span> subjects every other criterion keeps, {html.escape(protection.text(result.unknown))} of them "
            f"unknown{share}; right: eligible by cut-off, at {result.current:g}{switched} "
            f"<b data-testid='sensitivity-eligible'>{html.escape(protection.text(now))}</b></div>")
