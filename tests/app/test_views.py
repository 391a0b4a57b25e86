"""Views say what they show: the CONSORT diagram has a box per step, empty panels say why, shares never
print "-0.0", and criteria a dataset cannot decide are named."""

from __future__ import annotations

import pandas as pd

from explorer.app import explore
from explorer.app.outcome_view import OutcomePanel
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic import generate_screening
from explorer.plots.eligibility import consort_figure


def test_consort_has_one_box_per_step_and_lists_what_is_off():
    s = ExplorerState(Scenario(data=DataSource("synthetic", "t1d", 2000, 0), min_cell=11, cell_method="suppress"))
    s.toggle("E8", False)
    funnel = s.protected(s.funnel)
    fig = consort_figure(funnel, trial_id="X", min_cell=11, off=[("E8", "a label " * 20)])
    texts = [a.text for a in fig.layout.annotations]
    excluded = [t for t in texts if t.startswith("<b>Excluded")]
    assert len(excluded) == len(funnel) - 1
    for step, text in zip(funnel.iloc[1:].itertuples(), excluded, strict=True):
        assert f"{step.criterion} " in text
    off = [t for t in texts if "switched off" in t]
    assert len(off) == 1 and "E8" in off[0]
    assert all(len(line) <= 70 for t in texts for line in t.split("<br>"))  # long labels wrap, never clip


def test_empty_cgm_panels_say_how_many_have_readings():
    state = ExplorerState(Scenario(trial="NCT01142050", data=DataSource("synthetic", "t2d", 3000, 0)))
    panel = OutcomePanel(state)
    panel.refresh()
    r = panel.results
    panel._time_in_range(r.__class__(**{**r.__dict__, "tir_bands": r.tir_bands.iloc[:0]}), None)
    assert "tir" not in panel.figures
    assert panel._with_cgm(r).endswith("enrolled have CGM readings")


def test_shapley_shares_never_print_minus_zero():
    ex = explore("NCT06196996", n=2000)
    ex.impact.refresh()
    assert "-0.0" not in ex.impact._table.value
    assert "shares only the" in ex.impact._note.value


def test_criteria_a_dataset_cannot_decide_are_named():
    screening = generate_screening("t1d", 800, seed=1)
    without_hba1c = type(screening)(**{**screening.__dict__,
                                        "features": screening.features.drop(columns=["hba1c"])})
    ex = explore("NCT06196996", without_hba1c)
    rows = pd.DataFrame(ex.state.absent_variables())
    assert {"I2"} <= set(rows.loc[rows["variable"] == "hba1c", "criterion"])
    ex.summary.refresh()
    assert "uln-unknown" not in ex.summary._uln.value  # every ULN is known here: no header warning
    no_uln = type(screening)(**{**screening.__dict__, "features": screening.features.drop(
        columns=["alt_uln", "ast_uln", "bilirubin_uln"])})
    ex = explore("NCT06196996", no_uln)
    ex.summary.refresh()
    assert "E4" in ex.summary._uln.value and "ref_high" in ex.summary._uln.value  # said in the header


def test_criterion_rows_share_one_layout_and_style_per_kind_of_widget():
    """Issue 17: a Layout or style per widget is a model the first render must send; alike widgets share one,
    also across a switch of trial (the rows are rebuilt with the panel's models)."""
    ex = explore("NCT06196996", n=2000)
    first, second = list(ex.criteria._rows.values())[:2]
    assert first.layout is second.layout and first._toggle.layout is second._toggle.layout
    assert first._toggle.style is second._toggle.style
    boxes = [box for row in ex.criteria._rows.values() for box in row._inputs.values()]
    assert len(boxes) > 2 and len({id(box.layout) for box in boxes}) == 1 and len({id(b.style) for b in boxes}) == 1
    ex.state.select_trial("NCT01142050")
    other = next(iter(ex.criteria._rows.values()))
    assert ex.state.trial.id == "NCT01142050" and other is not first  # a new row, the same models
    assert other.layout is first.layout and other._toggle.style is first._toggle.style
