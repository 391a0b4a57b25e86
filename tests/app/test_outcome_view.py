"""The dashboard's outcome panel, driven in Python without a browser: pickers change what the figures
contain (checked through fig.to_dict()), the results come from the state (recomputed only when the
eligible set or model changes), real data with visits is used as loaded, and problems become readable
messages."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from explorer import engine
from explorer.app.outcome_view import OutcomePanel
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic import generate_outcomes, generate_screening
from explorer.cohort.synthetic.enrolment import screening_subset
from explorer.trial import load_trial

N = 20_000  # about 30 subjects eligible for the islet trial (an adult clinic: ~0.17 % of it)


@pytest.fixture(autouse=True)
def quiet():
    # FigureOutput displays figures; outside a notebook that is a printed repr
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@pytest.fixture(scope="module")
def state():
    return ExplorerState(Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", N, 0)),
                         with_baseline=False)


@pytest.fixture(scope="module")
def shared_panel(state):
    with contextlib.redirect_stdout(io.StringIO()):
        view = OutcomePanel(state)
        view.refresh()
    return view


@pytest.fixture
def panel(shared_panel):
    """One panel for the module (outcomes are cached per eligible set), pickers back at their defaults."""
    shared_panel._model.value = "islet"
    shared_panel._allocation.value = "trial"
    shared_panel._subgroup.value = ""
    shared_panel._endpoint.value = "all"
    shared_panel._outcome.value = "tir"
    return shared_panel


def trace_values(fig, name_part: str, axis: str = "y") -> np.ndarray:
    for trace in fig.to_dict()["data"]:
        if name_part in trace.get("name", ""):
            values = trace[axis]
            if isinstance(values, dict):  # plotly 6 typed arrays
                import base64
                return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
            return np.asarray(values)
    raise AssertionError(f"no trace named like {name_part!r}")


def test_default_view_has_every_figure_for_the_enrolled(panel, state):
    assert not state.error
    assert set(panel.figures) == {"trajectory", "change", "responders", "tir", "agp"}
    enrolled = len(state.eligible_ids())
    assert f"{enrolled:,} enrolled subjects" in panel._info.value and "islet transplantation" in panel._info.value
    assert len(panel.results.subjects) == enrolled
    assert panel.results is state.outcomes.results()  # the panel draws what the state computed
    assert [v for _, v in panel._outcome.options] == [o.id for o in state.trial.outcomes]
    assert "Time in Range" in panel.figures["trajectory"].to_dict()["layout"]["title"]["text"]
    assert "<table" in panel._table.value and ">baseline<" in panel._table.value


def test_outcome_and_measure_pickers_change_the_trajectory(panel, state):
    before = panel.figures["trajectory"].to_json()
    panel._outcome.value = "c_peptide"
    assert panel.figures["trajectory"].to_json() != before
    after = panel.figures["trajectory"].to_dict()
    assert "C-peptide: fasting cpeptide" in after["layout"]["title"]["text"]
    assert "nmol/L" in after["layout"]["yaxis"]["title"]["text"]
    assert [*panel._measure.options] == ["fasting_cpeptide", "postmeal_cpeptide"]
    assert panel._measure.layout.display != "none"
    fasting = trace_values(panel.figures["trajectory"], "All: mean")
    panel._measure.value = "postmeal_cpeptide"
    stimulated = trace_values(panel.figures["trajectory"], "All: mean")
    assert stimulated[-1] > fasting[-1] > fasting[0]  # a graft secretes, more after a meal
    panel._outcome.value = "insulin_dose"  # a percent_change outcome: the change figure is relative
    assert panel._measure.layout.display == "none"
    assert "(%)" in panel.figures["change"].to_dict()["layout"]["yaxis"]["title"]["text"]
    assert not state.error


def test_subgroup_splits_trajectories_bars_and_responders(panel):
    panel._subgroup.value = "sex"
    names = [t["name"] for t in panel.figures["trajectory"].to_dict()["data"]]
    assert any(n.startswith("female: mean") for n in names) and any(n.startswith("male: mean") for n in names)
    bars = panel.figures["tir"].to_dict()["data"][0]["x"]
    assert {"female", "male"} <= set(np.asarray(bars[1]).tolist())  # visit x sex
    panel._endpoint.value = "cit07"
    lines = {t["name"] for t in panel.figures["responders"].to_dict()["data"]}
    assert lines == {"female", "male"}
    assert "sex" in panel._table.value


def test_model_and_agp_pickers(panel, state):
    first = panel.results
    hba1c_before = trace_values(panel.figures["trajectory"], "All: mean")
    panel._model.value = "islet_edmonton"
    assert panel.results is not first and "Edmonton" in panel._info.value
    assert not np.array_equal(trace_values(panel.figures["trajectory"], "All: mean"), hba1c_before)
    agp_before = trace_values(panel.figures["agp"], "Median")
    panel._agp_visit.value = "baseline"
    assert trace_values(panel.figures["agp"], "Median").mean() > agp_before.mean() + 20  # glycaemia before the graft
    assert "baseline" in panel.figures["agp"].to_dict()["layout"]["title"]["text"]
    panel._model.value = "islet"  # back to the cached results: no new simulation
    assert panel.results is first
    assert not state.error


def test_refresh_recomputes_only_when_the_eligible_set_changes(panel, state):
    results, trajectory = panel.results, panel.figures["trajectory"]
    panel.refresh()
    assert panel.results is results and panel.figures["trajectory"] is trajectory
    before = len(state.eligible_ids())
    assert state.toggle("E7", False)
    try:
        panel.refresh()
        assert len(state.eligible_ids()) > before
        assert panel.results is not results and len(panel.results.subjects) == len(state.eligible_ids())
    finally:
        state.toggle("E7", True)
    panel.refresh()
    assert panel.results is results  # the earlier eligible set is still cached


def test_no_eligible_subject_is_a_message_not_an_error(panel, state):
    assert state.set_parameter("I1", "age_min", 100)
    try:
        panel.refresh()
        assert "No subject is eligible" in panel._info.value and panel.figures == {}
        assert not state.error
    finally:
        state.set_parameter("I1", "age_min", 6)
    panel.refresh()
    assert set(panel.figures) >= {"trajectory", "responders"}


def test_small_cell_protection_hides_subjects_and_small_counts(panel, state):
    assert state.set_min_cell(1000)  # more than the enrolled: every count is small
    try:
        panel.refresh()
        names = [t["name"] for t in panel.figures["trajectory"].to_dict()["data"]]
        assert not any("subjects" in n for n in names)  # no single subject's line
        assert "&lt;1000 enrolled subjects" in panel._info.value
        assert "<td>&ndash;</td>" in panel._table.value  # n and the statistics resting on it are blanked
    finally:
        state.set_min_cell(0)
    panel.refresh()
    assert any("subjects" in t["name"] for t in panel.figures["trajectory"].to_dict()["data"])


def test_switching_trial_rebuilds_the_pickers(panel, state):
    assert state.select_trial("NCT01142050")
    try:
        panel.refresh()
        assert [v for _, v in panel._outcome.options] == [o.id for o in load_trial("NCT01142050").outcomes]
        assert panel._model.value == "msc" and "UC-MSC" in panel._info.value
        panel._outcome.value = "sae"
        assert panel._measure.value == "serious_adverse_event_per_year"
        assert "tir" not in panel.figures and not state.error
    finally:
        state.select_trial("NCT06196996")


# --- real data with visits ----------------------------------------------------------------------------

def real_data_loader(drop_variable: str | None = None):
    trial = load_trial("NCT06196996")

    def load(source):
        screening = generate_screening("t1d", N, seed=0)
        matrix = engine.evaluate(trial, screening)
        eligible = matrix.subject_ids[engine.eligible_mask(matrix)]
        cohort = generate_outcomes(screening_subset(screening, eligible), "islet", visits_days=trial.visits, seed=5,
                                   cgm_readings=0)
        if drop_variable:
            m = cohort.measurements
            cohort = type(cohort)(subjects=cohort.subjects, measurements=m[m["variable"] != drop_variable],
                                  events=cohort.events)
        return screening, cohort

    return load


def test_real_data_with_visits_is_used_as_loaded():
    state = ExplorerState(Scenario(trial="NCT06196996", data=DataSource("path", path="trial-data")),
                          loader=real_data_loader("fasting_cpeptide"), with_baseline=False)
    view = OutcomePanel(state)
    view.refresh()
    assert "loaded dataset" in view._info.value and view._simulation.layout.display == "none"
    measured = state.cohort.measurements
    hba1c = measured[(measured["variable"] == "hba1c") & (measured["visit"] == "m12")]["value"]
    view._outcome.value = "hba1c"
    assert trace_values(view.figures["trajectory"], "All: mean")[-1] == pytest.approx(hba1c.mean())
    assert "not available: outcome c_peptide" in view._info.value
    view._outcome.value = "c_peptide"  # the data lack fasting C-peptide: a readable message in the page
    assert "outcome c_peptide (C-peptide) needs 'fasting_cpeptide'" in state.error


def test_the_dashboard_has_an_outcomes_tab():
    from explorer.app.dashboard import Dashboard

    state = ExplorerState(Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", 3000, 0)),
                          with_baseline=False)
    dashboard = Dashboard(state)
    titles = [dashboard.tabs.get_title(i) for i in range(len(dashboard.tabs.children))]
    assert "Outcomes" in titles and isinstance(dashboard.outcomes, OutcomePanel)
    assert not state.error
