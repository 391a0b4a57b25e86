"""Plotly's first use made cheap: one small figure of each kind built and serialised ahead of any chart."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.app.widgets import plotly_bundle


def warm_up_figures() -> None:
    """Build and serialise one small figure of each kind the views draw, so that plotly loads its
    validators and the template (1-2 s the first time) before anyone opens a tab with a chart."""
    from explorer.plots import TEMPLATE

    fig = go.Figure([go.Bar(x=[1], y=["a"], orientation="h"), go.Scatter(x=[1], y=[1])])
    fig.update_layout(template=TEMPLATE, title="warm-up")
    plotly_bundle(fig)
