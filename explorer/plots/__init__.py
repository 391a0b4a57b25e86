"""Figures as pure functions returning plotly figures, a shared colour-blind-safe palette, and export.

Figure functions live in submodules (eligibility.py: funnel, Shapley, overlap, CONSORT flow; outcomes.py:
trajectories, time in range, AGP, responders); they
build a `plotly.graph_objects.Figure` from DataFrames and do no I/O. `save_figure` is the one place a
figure touches the disk.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from explorer.errors import ExplorerError

# Okabe & Ito, "Color Universal Design" (2008): eight colours distinguishable with the common colour
# vision deficiencies; ordered so the first few differ most in hue and lightness.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
NEUTRAL = "#7F7F7F"

# The five consensus CGM ranges in the AGP report's hues (Battelino et al., Diabetes Care 2019;42:1593,
# Fig. 1: very low dark red, low red, target green, high yellow, very high orange), drawn from the
# Okabe-Ito set where it has the hue, so neighbours stay apart in lightness for colour-blind readers.
CGM_RANGE_COLOURS: dict[str, str] = {
    "very_low": "#8C1D18",   # dark red
    "low": "#D55E00",        # vermillion
    "in_range": "#009E73",   # bluish green
    "high": "#F0E442",       # yellow
    "very_high": "#E69F00",  # orange
}

TEMPLATE = "plotly_white"

_IMAGE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg",
                  ".webp": "webp"}


def colour(index: int) -> str:
    """The palette colour for the index-th series (cycling when there are more series than colours)."""
    return PALETTE[index % len(PALETTE)]


def save_figure(fig: go.Figure, path: str | Path, *, width: int | None = None,
                height: int | None = None, scale: float | None = None) -> Path:
    """Write a figure as PNG/SVG/PDF (static, through kaleido and Chromium) or HTML, by the file suffix.

    HTML files embed plotly.js so they open offline. Static export needs a Chromium-based browser
    (kaleido finds /usr/bin/chromium itself). Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        fig.write_html(path, include_plotlyjs=True, full_html=True)
    elif suffix in _IMAGE_FORMATS:
        try:
            fig.write_image(path, format=_IMAGE_FORMATS[suffix], width=width, height=height, scale=scale)
        except (RuntimeError, ValueError, OSError) as error:
            raise ExplorerError(f"could not export {path.name}: {error}. Static export needs kaleido "
                                "and a Chromium-based browser (e.g. apt-get install chromium); "
                                "HTML export needs neither.") from error
    else:
        raise ExplorerError(f"cannot export a figure as {suffix or 'a file without suffix'!r}; use one of "
                            f"{sorted(['.html', *_IMAGE_FORMATS])}")
    return path
