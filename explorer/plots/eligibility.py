"""Eligibility figures: the attrition funnel, Shapley attribution, exclusion overlap and a CONSORT flow.

Pure functions from the engine's DataFrames (explorer.engine.stats) to plotly figures. Counts are
written out exactly ("%{value:d}"), because plotly's default "9.867k" is not what a protocol reports.
Suppressed cells (NA after small-cell protection) are labelled "<k", never drawn as zero.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from explorer.engine.privacy import Protection
from explorer.plots import NEUTRAL, PALETTE, TEMPLATE

ELIGIBLE, POSSIBLY, EXCLUDED = PALETTE[0], PALETTE[5], PALETTE[3]


def _count_text(value, min_cell: int = 0) -> str:
    """A count on a figure: the shared small-cell rule (explorer.engine.privacy.Protection) on a protected table."""
    return Protection(int(min_cell or 0)).text(value, missing="-")


def funnel_steps(funnel: pd.DataFrame) -> list[str]:
    return [("" if c is None or pd.isna(c) else f"{c} ") + str(lbl)
            for c, lbl in zip(funnel["criterion"], funnel["label"], strict=True)]


def funnel_figure(funnel: pd.DataFrame, *, min_cell: int = 0, title: str | None = None) -> go.Figure:
    """Horizontal funnel: per step the subjects remaining, split into eligible and possibly eligible.

    One bar per step (top to bottom in funnel order); the eligible part solid, the part whose status is
    unknown lighter, with the exact counts as text.
    """
    steps = [_wrap(s) for s in funnel_steps(funnel)]
    eligible = funnel["eligible"].astype("Float64")
    possibly = funnel["possibly_eligible"].astype("Float64")
    remaining = funnel["remaining"].astype("Float64")
    fig = go.Figure()
    fig.add_bar(
        name="eligible", y=steps, x=eligible.fillna(0).tolist(), orientation="h", marker_color=ELIGIBLE,
        text=[_count_text(v, min_cell) for v in eligible], textposition="inside", insidetextanchor="start",
        textangle=0,
        hovertemplate="%{y}<br>eligible: %{x:,d}<extra></extra>",
    )
    fig.add_bar(
        name="possibly eligible (unknown)", y=steps, x=possibly.fillna(0).tolist(), orientation="h",
        marker_color=POSSIBLY, text=[_count_text(v, min_cell) for v in possibly], textposition="inside",
        textangle=0,
        hovertemplate="%{y}<br>possibly eligible: %{x:,d}<extra></extra>",
    )
    start = remaining.iloc[0] if len(remaining) and not pd.isna(remaining.iloc[0]) else 0
    labels = [f"{_count_text(r, min_cell)}" + (f" ({100 * r / start:.1f}%)" if start and not pd.isna(r) else "")
              for r in remaining]
    fig.add_scatter(x=remaining.fillna(0).tolist(), y=steps, mode="text", text=labels, textposition="middle right",
                    showlegend=False, hoverinfo="skip", name="remaining", cliponaxis=False)
    fig.update_layout(
        template=TEMPLATE, barmode="stack", title=title, height=max(320, 34 * len(steps) + 120),
        margin=dict(l=10, r=130, t=50 if title else 20, b=40), legend=dict(orientation="h", y=-0.08),
        xaxis_title="subjects remaining", yaxis=dict(autorange="reversed", automargin=True),
        uniformtext=dict(minsize=9, mode="hide"),
    )
    return fig


def shapley_figure(shapley: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Each criterion's share of the excluded subjects (Shapley attribution), largest first."""
    frame = shapley.sort_values("excluded_share", ascending=True)
    fig = go.Figure(go.Bar(
        x=frame["excluded_share"], y=[f"{c} {_wrap(lbl, 30)}" for c, lbl in zip(frame["criterion"], frame["label"], strict=True)],
        orientation="h", marker_color=EXCLUDED,
        error_x=dict(type="data", array=(1.96 * frame["se"]).fillna(0).tolist(), visible=bool(frame["se"].fillna(0).any())),
        hovertemplate="%{y}<br>attributed exclusions: %{x:,.1f}<extra></extra>",
    ))
    fig.update_layout(template=TEMPLATE, title=title, height=max(300, 26 * len(frame) + 100),
                      xaxis_title="excluded subjects attributed (Shapley)", margin=dict(l=10, r=20, t=40, b=40),
                      yaxis=dict(automargin=True))
    return fig


def overlap_figure(overlap: pd.DataFrame, *, top: int = 15, min_cell: int = 0,
                   title: str | None = None) -> go.Figure:
    """The largest combinations of failed criteria (UpSet-style bars)."""
    frame = overlap[overlap["size"] > 0].head(top).iloc[::-1]
    counts = frame["count"].astype("Float64")
    fig = go.Figure(go.Bar(
        x=counts.fillna(0).tolist(), y=frame["label"].tolist(), orientation="h", marker_color=NEUTRAL,
        text=[_count_text(v, min_cell) for v in counts], textposition="outside",
        hovertemplate="fails %{y}<br>%{x:,d} subjects<extra></extra>",
    ))
    fig.update_layout(template=TEMPLATE, title=title, height=max(300, 24 * len(frame) + 100),
                      xaxis_title="subjects excluded by exactly this combination",
                      margin=dict(l=10, r=40, t=40, b=40), yaxis=dict(automargin=True, type="category"))
    return fig


def _wrap(text: str, width: int = 46) -> str:
    """Plotly annotations do not wrap: break long labels into lines so nothing is clipped."""
    return "<br>".join(textwrap.wrap(" ".join(str(text).split()), width)) or "&nbsp;"


def consort_figure(funnel: pd.DataFrame, *, trial_id: str = "", min_cell: int = 0,
                   off: Sequence[tuple[str, str]] = ()) -> go.Figure:
    """A CONSORT-style flow diagram: one box per funnel step with the number excluded there and why.

    The left column follows the subjects remaining after each step; each step's box on the right gives
    the criterion (its label wrapped, never clipped) and how many it excluded. Counts come from the
    protected funnel and are printed by the shared small-cell rule. Switched-off criteria (`off`, as
    (id, label)) are listed in a last box, so the diagram says what was not applied.
    """
    steps = funnel.iloc[1:]
    final = funnel.iloc[-1]
    row_height = 64
    n_rows = len(steps) + 2 + (1 if off else 0)
    height = max(520, row_height * n_rows + 120)

    def y(row: int) -> float:  # rows from the top, in paper coordinates
        return 1 - (row + 0.5) / n_rows

    fig = go.Figure()
    box = dict(showarrow=False, bordercolor="#333", borderwidth=1.2, borderpad=6, bgcolor="white")
    fig.add_annotation(x=0.25, y=y(0), text=f"<b>Assessed for eligibility</b><br>n = "
                       f"{_count_text(funnel['remaining'].iloc[0], min_cell)}", font=dict(size=13), **box)
    for row, step in enumerate(steps.itertuples(index=False), start=1):
        fig.add_annotation(x=0.25, y=y(row), text=f"remaining n = {_count_text(step.remaining, min_cell)}",
                           font=dict(size=11), **box)
        fig.add_annotation(x=0.52, y=y(row), xanchor="left", align="left", font=dict(size=11),
                           text=f"<b>Excluded: n = {_count_text(step.excluded, min_cell)}</b><br>"
                                f"{step.criterion} {_wrap(step.label)}", **box)
        fig.add_shape(type="line", x0=0.36, x1=0.52, y0=y(row), y1=y(row), xref="paper", yref="paper",
                      line=dict(color="#333", width=1))
    last = len(steps) + 1
    fig.add_annotation(x=0.25, y=y(last), font=dict(size=13),
                       text=f"<b>Eligible</b>: n = {_count_text(final['eligible'], min_cell)}<br>possibly "
                            f"eligible (missing data): n = {_count_text(final['possibly_eligible'], min_cell)}", **box)
    fig.add_shape(type="line", x0=0.25, x1=0.25, y0=y(0), y1=y(last), xref="paper", yref="paper",
                  line=dict(color="#333", width=1.5), layer="below")
    if off:
        listed = "<br>".join(f"{cid} {_wrap(label, 60)}" for cid, label in off)
        fig.add_annotation(x=0.52, y=y(last + 1), xanchor="left", align="left", font=dict(size=11),
                           text=f"<b>Not applied (switched off)</b><br>{listed}", **box)
    fig.update_layout(template=TEMPLATE, title=f"Eligibility flow{' - ' + trial_id if trial_id else ''}",
                      height=height, width=1100,
                      xaxis=dict(visible=False, range=[0, 1], fixedrange=True),
                      yaxis=dict(visible=False, range=[0, 1], fixedrange=True), margin=dict(l=20, r=20, t=60, b=20))
    return fig
