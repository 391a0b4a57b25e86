"""NCT06196996 names the CGM metrics hypoglycaemia-focused islet trials report (LBGI, episodes per week, GRI,
MAGE) as outcome measures marked as additions, every registered outcome unchanged (issue 13): they compute
on the synthetic cohort with units and definitions, and the dashboard's outcome panel lists them."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from explorer.app.outcome_view import OutcomePanel
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic import generate_outcomes
from explorer.outcomes.measures import outcome_measures, summarise_outcomes
from explorer.trial import load_trial

ADDED = {"lbgi": ["lbgi"], "hypo_episodes": ["hypo_70_per_week", "hypo_54_per_week"], "gri": ["gri", "gri_hypo"],
         "mage": ["mage"]}
REGISTERED = ["tir", "hba1c", "c_peptide", "insulin", "insulin_dose", "adverse_events"]


@pytest.fixture(scope="module")
def trial():
    return load_trial("NCT06196996")


def test_additions_are_marked_and_registered_outcomes_stay_first(trial):
    ids = [o.id for o in trial.outcomes]
    assert ids[:len(REGISTERED)] == REGISTERED
    for outcome in trial.outcomes:
        if outcome.id in ADDED:
            assert outcome.variables == ADDED[outcome.id]
            assert outcome.kind == "other" and "[added, not registered]" in outcome.name
            assert outcome.note.startswith("Not a registered outcome")
        else:
            assert "added" not in outcome.name
    assert set(ADDED) <= set(ids)


@pytest.fixture(scope="module")
def summary(trial):
    cohort = generate_outcomes(60, "islet", visits_days=trial.visits, seed=3, cgm_readings=60)
    results = outcome_measures(trial, cohort)
    return summarise_outcomes(results, outcomes=list(ADDED))


@pytest.mark.parametrize("outcome", list(ADDED))
def test_added_measures_compute_on_the_synthetic_cohort_with_units_and_definitions(summary, outcome):
    rows = summary[(summary["outcome"].astype(str) == outcome) & (summary["statistic"] == "value")]
    assert sorted(rows["measure"].astype(str).unique()) == sorted(ADDED[outcome])
    for measure in ADDED[outcome]:
        at = rows[rows["measure"].astype(str) == measure].set_index(rows["visit"].astype(str)[
            rows["measure"].astype(str) == measure])
        assert at.loc["baseline", "n"] >= 50 and at.loc["m12", "n"] >= 50
        assert np.isfinite(at.loc[["baseline", "m12"], "mean"]).all()
        assert at["unit"].iloc[0] and at["definition"].iloc[0]
    assert set(rows["unit"]) <= {"1", "%", "mg/dL", "events/week"}


def test_the_outcome_panel_lists_them_with_unit_and_definition():
    state = ExplorerState(Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", 10_000, 0)),
                          with_baseline=False)
    with contextlib.redirect_stdout(io.StringIO()):
        panel = OutcomePanel(state)
        panel.refresh()
        labels = dict((value, label) for label, value in panel._outcome.options)
        assert set(ADDED) <= set(labels)
        assert "[added, not registered]" in labels["lbgi"]
        panel._outcome.value = "hypo_episodes"
        assert [*panel._measure.options] == ADDED["hypo_episodes"]
        assert "events/week" in panel._table.value and "Battelino 2023" in panel._table.value
        panel._outcome.value = "lbgi"
        assert "Kovatchev 1998" in panel._table.value
    assert not state.error
