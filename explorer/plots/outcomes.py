"""Outcome figures: trajectories, time-in-range bars, the Ambulatory Glucose Profile, responder rates.

Each function takes the DataFrames of explorer.outcomes (the long outcome table, cgm_metrics,
ambulatory_glucose_profile, responder_proportions) and returns a new plotly Figure; none reads files,
shows widgets or mutates its input. Axis titles carry units, taken from the catalogue where the measure
is a catalogue variable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from explorer.catalogue import default_catalogue
from explorer.clinical.cgm import HIGH, LOW, METRIC_UNITS, VERY_HIGH, VERY_LOW
from explorer.errors import DataError
from explorer.outcomes.summary import summarise
from explorer.plots import CGM_RANGE_COLOURS, NEUTRAL, TEMPLATE, colour

DEFAULT_MAX_SUBJECTS = 100

# The five consensus ranges, bottom of the stack first, as (key, label).
CGM_RANGES: tuple[tuple[str, str], ...] = (
    ("very_low", f"Very low (<{VERY_LOW} mg/dL)"),
    ("low", f"Low ({VERY_LOW}-{LOW - 1} mg/dL)"),
    ("in_range", f"In range ({LOW}-{HIGH} mg/dL)"),
    ("high", f"High ({HIGH + 1}-{VERY_HIGH} mg/dL)"),
    ("very_high", f"Very high (>{VERY_HIGH} mg/dL)"),
)

_VALUE_TITLES = {"value": "{label} ({unit})", "change": "Change from baseline in {label} ({unit})",
                 "relative_change": "Change from baseline in {label} (%)"}


def trajectory_figure(long: pd.DataFrame, *, measure: str, value: str = "value", by: str | None = None,
                      centre: str = "mean", max_subjects: int | None = DEFAULT_MAX_SUBJECTS,
                      seed: int = 0, unit: str | None = None, label: str | None = None,
                      show_subjects: bool = True, title: str | None = None) -> go.Figure:
    """One measure over visits: a line per subject plus the mean or median with its 95 % CI band.

    `long` is the long outcome table (subject_id, visit, measure, value), or the output of
    change_from_baseline with `value="change"` or `"relative_change"` for the change variants. `by`
    names a subgroup column: one colour, centre line and band per subgroup. With more than
    `max_subjects` subjects in a subgroup a seeded random sample of them is drawn (None draws all);
    the centre and band always use every subject. Per subgroup the traces are: subjects (one trace,
    lines separated by gaps), CI band, centre line.
    """
    if centre not in ("mean", "median"):
        raise DataError(f"centre must be 'mean' or 'median', got {centre!r}")
    if value not in _VALUE_TITLES:
        raise DataError(f"value must be one of {list(_VALUE_TITLES)}, got {value!r}")
    columns = ["subject_id", "visit", "measure", value, *([by] if by else [])]
    _require(long, columns, "outcome table")
    frame = long.loc[long["measure"] == measure, columns].dropna(subset=[value])
    if frame.empty:
        raise DataError(f"no values of measure {measure!r}", column="measure")
    # categories no row uses would become empty groups (and a pandas deprecation) in the summaries
    for column in {"visit", by} - {None}:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].cat.remove_unused_categories()
    visits = _levels(frame["visit"])
    frame = frame.assign(visit=pd.Categorical(frame["visit"], categories=visits))
    groups = _levels(frame[by]) if by else [None]

    summary = summarise(frame, by=["visit", *([by] if by else [])], value=value)
    centre_low, centre_high = ("ci_low", "ci_high") if centre == "mean" else ("median_ci_low",
                                                                              "median_ci_high")
    rng = np.random.default_rng(seed)
    fig = go.Figure()
    for index, group in enumerate(groups):
        rows = frame if group is None else frame[frame[by] == group]
        stats = summary if group is None else summary[summary[by] == group]
        name = "All" if group is None else str(group)
        tint = colour(index) if by else NEUTRAL
        line_colour = colour(index)
        if show_subjects:
            fig.add_trace(_subject_lines(rows, value, max_subjects, rng, name, tint))
        visit_labels = stats["visit"].astype(str).tolist()
        fig.add_trace(go.Scatter(
            x=visit_labels + visit_labels[::-1],
            y=np.concatenate([stats[centre_high].to_numpy(), stats[centre_low].to_numpy()[::-1]]),
            mode="lines", fill="toself", fillcolor=_transparent(line_colour, 0.2), line={"width": 0},
            hoverinfo="skip", name=f"{name}: 95% CI of the {centre}", legendgroup=name,
            showlegend=False,
        ))
        fig.add_trace(go.Scatter(
            x=visit_labels, y=stats[centre].to_numpy(), mode="lines+markers",
            line={"color": line_colour, "width": 3}, name=f"{name}: {centre}", legendgroup=name,
            customdata=np.column_stack([stats["n"], stats[centre_low], stats[centre_high]]),
            hovertemplate=("%{x}: %{y:.3g} (95% CI %{customdata[1]:.3g} to %{customdata[2]:.3g}; "
                           "n = %{customdata[0]})<extra>" + name + "</extra>"),
        ))

    y_title = _VALUE_TITLES[value].format(label=label or measure, unit=_unit(measure, unit))
    _finish(fig, title=title or f"{label or measure} by visit", x_title="Visit", y_title=y_title)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=[str(v) for v in visits])
    return fig


def time_in_range_figure(metrics: pd.DataFrame, *, x: str = "visit", by: str | None = None,
                         title: str | None = None) -> go.Figure:
    """Stacked bars of the five consensus CGM ranges per visit (or any `x` column), mean over subjects.

    `metrics` is cgm_metrics' output with `x` (and `by`) among its columns: tbr_54, tbr_70, tir,
    tar_180, tar_250 in %. Each subject counts once per bar (the mean of subjects' percentages, not
    of pooled readings). With `by`, bars are grouped per subgroup under each `x` value.
    """
    keys = [x, *([by] if by else [])]
    _require(metrics, [*keys, "tbr_54", "tbr_70", "tir", "tar_180", "tar_250"], "CGM metrics table")
    bands = time_in_range_bands(metrics)
    frame = pd.concat([metrics[keys].reset_index(drop=True), bands.reset_index(drop=True)], axis=1)
    frame = frame.dropna(subset=[key for key, _ in CGM_RANGES])
    if frame.empty:
        raise DataError("no subject has all five CGM range percentages")
    for key_column in keys:
        frame[key_column] = pd.Categorical(frame[key_column], categories=_levels(frame[key_column]))
    grouped = frame.groupby(keys, sort=True, observed=True)
    means = grouped[[key for key, _ in CGM_RANGES]].mean()
    counts = grouped.size()
    if by:
        positions = [means.index.get_level_values(0).astype(str).tolist(),
                     means.index.get_level_values(1).astype(str).tolist()]
    else:
        positions = means.index.astype(str).tolist()

    fig = go.Figure()
    for key, name in CGM_RANGES:
        fig.add_trace(go.Bar(
            x=positions, y=means[key].to_numpy(), name=name, marker_color=CGM_RANGE_COLOURS[key],
            customdata=counts.to_numpy(),
            hovertemplate="%{y:.1f}% of readings (mean of %{customdata} subjects)<extra>" + name
                          + "</extra>",
        ))
    _finish(fig, title=title or "Time in glucose ranges", x_title=x.replace("_", " ").capitalize(),
            y_title="Time in range (% of readings)")
    fig.update_layout(barmode="stack", legend={"traceorder": "reversed"})
    fig.update_yaxes(range=[0, 100])
    return fig


def time_in_range_bands(metrics: pd.DataFrame) -> pd.DataFrame:
    """The five non-overlapping consensus bands (%) from the cumulative CGM metrics; they sum to 100."""
    return pd.DataFrame({
        "very_low": metrics["tbr_54"],
        "low": metrics["tbr_70"] - metrics["tbr_54"],
        "in_range": metrics["tir"],
        "high": metrics["tar_180"] - metrics["tar_250"],
        "very_high": metrics["tar_250"],
    }, index=metrics.index)


def agp_figure(profile: pd.DataFrame, *, targets: tuple[float, float] = (LOW, HIGH),
               title: str | None = None) -> go.Figure:
    """The Ambulatory Glucose Profile: median, 25-75 % and 5-95 % bands by time of day.

    `profile` is one profile from ambulatory_glucose_profile (minute, p5, p25, p50, p75, p95): a
    subject's or a pooled group's. Traces: 5-95 % band, 25-75 % band, median; the target range is
    drawn as two horizontal lines.
    """
    _require(profile, ["minute", "p5", "p25", "p50", "p75", "p95"], "AGP profile")
    if profile["minute"].duplicated().any():
        raise DataError("the profile has several rows per time bin; pass one subject's or group's profile "
                        "(filter on the `by` column of ambulatory_glucose_profile)", column="minute")
    profile = profile.sort_values("minute")
    minutes = profile["minute"].to_numpy(dtype="float64")
    width = np.min(np.diff(minutes)) if len(minutes) > 1 else 60.0
    hours = (minutes + width / 2) / 60  # plot each bin at its centre

    fig = go.Figure()
    for low, high, opacity, name in (("p5", "p95", 0.15, "5-95th percentile"),
                                     ("p25", "p75", 0.35, "25-75th percentile")):
        fig.add_trace(go.Scatter(
            x=np.concatenate([hours, hours[::-1]]),
            y=np.concatenate([profile[high].to_numpy(), profile[low].to_numpy()[::-1]]),
            mode="lines", fill="toself", fillcolor=_transparent(colour(0), opacity), line={"width": 0},
            name=name, hoverinfo="skip",
        ))
    fig.add_trace(go.Scatter(x=hours, y=profile["p50"].to_numpy(), mode="lines", name="Median",
                             line={"color": colour(0), "width": 3},
                             hovertemplate="%{x:.2f} h: median %{y:.0f} mg/dL<extra></extra>"))
    for level in targets:
        fig.add_hline(y=level, line={"color": CGM_RANGE_COLOURS["in_range"], "width": 1.5, "dash": "dash"})
    _finish(fig, title=title or "Ambulatory Glucose Profile", x_title="Time of day (h)",
            y_title="Glucose (mg/dL)")
    fig.update_xaxes(range=[0, 24], tickmode="array", tickvals=list(range(0, 25, 3)),
                     ticktext=[f"{h:02d}:00" for h in range(0, 25, 3)])
    return fig


def responder_figure(proportions: pd.DataFrame, *, x: str = "visit", by: str | None = None,
                     title: str | None = None, y_title: str = "Responders (% of subjects)") -> go.Figure:
    """Responder proportions (%) over visits with Wilson 95 % CI error bars, one line per subgroup.

    `proportions` is responder_proportions' output (n, responders, proportion, ci_low, ci_high) with
    `x` (and `by`) among its columns.
    """
    keys = [x, *([by] if by else [])]
    _require(proportions, [*keys, "n", "responders", "proportion", "ci_low", "ci_high"],
             "responder table")
    groups = _levels(proportions[by]) if by else [None]
    order = [str(v) for v in _levels(proportions[x])]
    fig = go.Figure()
    for index, group in enumerate(groups):
        rows = proportions if group is None else proportions[proportions[by] == group]
        percent = 100 * rows["proportion"].to_numpy(dtype="float64")
        fig.add_trace(go.Scatter(
            x=rows[x].astype(str).tolist(), y=percent, mode="lines+markers",
            name="All" if group is None else str(group), line={"color": colour(index), "width": 2},
            error_y={"type": "data", "symmetric": False,
                     "array": 100 * rows["ci_high"].to_numpy(dtype="float64") - percent,
                     "arrayminus": percent - 100 * rows["ci_low"].to_numpy(dtype="float64")},
            customdata=np.column_stack([rows["responders"], rows["n"]]),
            hovertemplate="%{x}: %{y:.1f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
        ))
    _finish(fig, title=title or "Responders by visit", x_title=x.replace("_", " ").capitalize(),
            y_title=y_title)
    fig.update_yaxes(range=[0, 100])
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=order)
    return fig


# --- internals --------------------------------------------------------------------------------------

def _subject_lines(rows: pd.DataFrame, value: str, max_subjects: int | None,
                   rng: np.random.Generator, name: str, tint: str) -> go.Scatter:
    """All (or a sample of) subjects' lines as one trace, subjects separated by gaps.

    One trace instead of one per subject keeps figures with thousands of subjects fast to build and
    to draw; hovering still names the subject.
    """
    subjects = rows["subject_id"].unique()
    shown = subjects
    if max_subjects is not None and len(subjects) > max_subjects:
        shown = np.sort(rng.choice(subjects, size=max_subjects, replace=False))
        rows = rows[rows["subject_id"].isin(shown)]
    rows = rows.sort_values(["subject_id", "visit"], kind="stable")
    # A NaN row after each subject breaks the line there (plotly does not connect gaps).
    last_of_subject = rows["subject_id"].ne(rows["subject_id"].shift(-1)).to_numpy()
    positions = np.arange(len(rows)) + np.concatenate(([0], np.cumsum(last_of_subject)[:-1]))
    size = len(rows) + int(last_of_subject.sum())
    x = np.full(size, None, dtype=object)
    y = np.full(size, np.nan)
    text = np.full(size, None, dtype=object)
    x[positions] = rows["visit"].astype(str).to_numpy()
    y[positions] = rows[value].to_numpy(dtype="float64")
    text[positions] = rows["subject_id"].astype(str).to_numpy()
    sampled = f" ({len(shown)} of {len(subjects)} shown)" if len(shown) < len(subjects) else ""
    return go.Scatter(
        x=x, y=y, text=text, mode="lines", connectgaps=False,
        line={"color": _transparent(tint, 0.35), "width": 1},
        name=f"{name}: subjects{sampled}", legendgroup=name,
        hovertemplate="%{text}: %{y:.3g}<extra></extra>",
    )


def _levels(values: pd.Series) -> list:
    """Distinct values in category order, or in order of first appearance."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = set(values.dropna().unique())
        return [c for c in values.cat.categories if c in present]
    return list(values.dropna().unique())


def _unit(measure: str, unit: str | None) -> str:
    if unit is not None:
        return unit
    variable = default_catalogue().get(measure)
    if variable is not None and variable.unit is not None:
        return variable.unit
    if measure in METRIC_UNITS and METRIC_UNITS[measure]:
        return METRIC_UNITS[measure]
    raise DataError(f"measure {measure!r} is not in the catalogue, so its unit is unknown; pass unit=...")


def _transparent(hex_colour: str, opacity: float) -> str:
    red, green, blue = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{opacity})"


def _finish(fig: go.Figure, *, title: str, x_title: str, y_title: str) -> None:
    # The registered template is valid already: set it unvalidated, as plotly sets its default template.
    # `template=TEMPLATE` deep-copies and re-validates it, 20-40 ms a figure (issue 17); the figure is equal.
    fig.layout._validate = False
    try:
        fig.layout.template = pio.templates[TEMPLATE]
    finally:
        fig.layout._validate = fig._validate
    fig.update_layout(title={"text": title}, hovermode="closest", legend={"groupclick": "togglegroup"})
    fig.update_xaxes(title={"text": x_title})
    fig.update_yaxes(title={"text": y_title})


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"the {what} lacks column(s) {missing}; it has {list(frame.columns)}",
                        column=missing[0])
