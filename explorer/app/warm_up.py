"""Work a tab's first chart would otherwise wait for, done ahead: plotly's first use (one small figure built and
serialised) and the opening scenario's outcomes."""

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


def warm_up_outcomes(state) -> None:
    """The opening scenario's outcomes (explorer.app.outcome_state), computed before anyone opens the Outcomes
    tab: on it, the tab then only draws (the outcomes cost about 1 s at 10^6 subjects, issue 17)."""
    try:
        state.outcomes.prepare()
    except Exception:  # the tab computes them again when opened, and says there what is wrong
        return
