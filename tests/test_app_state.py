"""The dashboard's state object and scenario, tested directly (no widgets, no browser)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace

import pandas as pd
import pytest

from explorer import engine
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic import generate_screening
from explorer.errors import DataError, DefinitionError
from explorer.trial import load_trial, trial_from_yaml

N = 3000
T1D = Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", N, 0))
T2D = Scenario(trial="NCT01142050", data=DataSource("synthetic", "t2d", N, 1))


@pytest.fixture(scope="module")
def state():
    return ExplorerState(T1D)


def engine_counts(trial_id, data: DataSource, disabled=(), settings=(), policies=None):
    trial = load_trial(trial_id)
    for c, p, v in settings:
        trial = trial.with_parameter(c, p, v)
    matrix = engine.evaluate(trial, generate_screening(data.population, data.n, seed=data.seed))
    enabled = [c.id for c in trial.criteria if c.id not in disabled]
    return engine.final_counts(matrix, enabled=enabled, policies=policies)


def test_scenario_round_trips_through_query_and_json():
    scenario = (T2D.with_enabled("I6", False).with_setting("I3", "age_max", 70).with_policy("E1", "pass"))
    scenario = replace(scenario, order=("I5", "I4"), min_cell=11, cell_method="round")
    assert Scenario.from_query(scenario.to_query()) == scenario
    assert Scenario.from_json(scenario.to_json()) == scenario
    assert "off=I6" in scenario.to_query() and "set=I3.age_max:70" in scenario.to_query()
    assert Scenario.from_query("") == Scenario()


@pytest.mark.parametrize("query, fragment", [
    ("data=synthetic:t3d:10:0", "population"),
    ("data=nonsense", "cannot read data source"),
    ("set=I1.age_max:old", "page address"),
    ("min_cell=11&cells=blur", "small-cell method"),
])
def test_bad_page_addresses_are_clear_errors(query, fragment):
    with pytest.raises(DefinitionError, match=fragment):
        Scenario.from_query(query)


def test_bad_scenario_json():
    with pytest.raises(DefinitionError, match="not valid JSON"):
        Scenario.from_json("{")
    with pytest.raises(DefinitionError, match="unknown scenario fields"):
        Scenario.from_json('{"trail": "x"}')


def test_initial_counts_match_the_engine(state):
    assert state.counts == engine_counts("NCT06196996", T1D.data)
    assert state.funnel["remaining"].iloc[0] == N
    assert state.error == ""


def test_toggle_threshold_and_policy_match_the_engine():
    s = ExplorerState(T1D)
    assert s.toggle("E7", False)
    assert s.counts == engine_counts("NCT06196996", T1D.data, disabled=["E7"])
    assert s.set_parameter("I1", "age_max", 40)
    assert s.counts == engine_counts("NCT06196996", T1D.data, disabled=["E7"], settings=[("I1", "age_max", 40)])
    assert s.set_policy("E13", "pass")
    assert s.counts == engine_counts("NCT06196996", T1D.data, disabled=["E7"], settings=[("I1", "age_max", 40)],
                                     policies={"E13": "pass"})
    # the funnel never lists a disabled criterion; Shapley values add up to the exclusions
    assert "E7" not in set(s.funnel["criterion"].dropna())
    assert s.shapley["shapley"].sum() == pytest.approx(s.counts["eligible"] - s.counts["screened"])


def test_a_threshold_change_re_evaluates_only_its_criterion():
    s = ExplorerState(T1D)
    before = {cid: col for cid, col in zip(s.matrix.ids, s.matrix.columns, strict=True)}
    s.set_parameter("I2", "hba1c_min", 8.5)
    after = dict(zip(s.matrix.ids, s.matrix.columns, strict=True))
    assert [c for c in after if after[c] is not before[c]] == ["I2"]


def test_toggling_does_not_touch_the_matrix():
    s = ExplorerState(T1D)
    matrix = s.matrix
    s.toggle("E8", False)
    s.move("E8", -3)
    assert s.matrix is matrix


def test_bad_input_keeps_the_results_and_says_why():
    s = ExplorerState(T1D)
    counts = dict(s.counts)
    assert not s.set_parameter("I1", "age_max", 500)
    assert "outside its allowed range" in s.error and "I1" in s.error
    assert s.counts == counts and s.trial.criterion("I1").parameters["age_max"].value == 65
    assert not s.select_data(DataSource("path", path="/no/such/folder"))
    assert "no such file or folder" in s.error and s.counts == counts
    assert not s.add_trial_file("/no/such/trial.yaml")
    assert "no such trial file" in s.error
    assert s.toggle("E7", False) and s.error == ""  # the next good action clears the message


def test_first_scenario_must_work():
    with pytest.raises(DataError, match="no such file or folder"):
        ExplorerState(Scenario(data=DataSource("path", path="/no/such/folder")))


def test_reordering_changes_the_funnel_not_the_pool():
    s = ExplorerState(T2D)
    pool = dict(s.counts)
    s.set_order(["I6", "I5"])
    assert list(s.funnel["criterion"].iloc[1:3]) == ["I6", "I5"]
    assert s.counts == pool
    s.move("I5", -1)
    assert list(s.funnel["criterion"].iloc[1:3]) == ["I5", "I6"]


def test_switching_trial_follows_its_population():
    s = ExplorerState(T1D)
    assert s.select_trial("NCT01142050")
    assert s.scenario.data.population == "t2d" and s.trial.id == "NCT01142050"
    assert s.counts == engine_counts("NCT01142050", replace(T1D.data, population="t2d"))


def test_restore_from_link_and_json_gives_the_same_view():
    s = ExplorerState(T2D)
    s.toggle("I6", False)
    s.set_parameter("I3", "age_max", 70)
    other = ExplorerState(T1D)
    assert other.restore("?" + s.scenario.to_query().lstrip("?")) or other.restore(s.scenario.to_query())
    assert other.counts == s.counts
    third = ExplorerState(T1D)
    assert third.restore(s.scenario.to_json())
    assert third.counts == s.counts


def test_small_cell_protection_applies_to_display_and_export():
    s = ExplorerState(replace(T1D, min_cell=11))
    small = s.funnel[(s.funnel["excluded"] > 0) & (s.funnel["excluded"] < 11)]
    assert len(small), "the synthetic funnel has some small exclusion steps"
    shown = s.protected(s.funnel)
    assert shown.loc[small.index, "excluded"].isna().all()
    csv = pd.read_csv(io.StringIO(s.export_table_csv("funnel")))
    assert csv.loc[small.index, "excluded"].isna().all()
    s.set_min_cell(11, "round")  # the default, restated
    assert all(v.startswith("<") or int(v.replace(",", "")) % 5 == 0 for v in s.shown_counts().values())


def test_exports():
    s = ExplorerState(T1D)
    s.set_parameter("I2", "hba1c_min", 8.0)
    s.set_policy("E7", "pass")
    edited = trial_from_yaml(s.export_trial_yaml())
    assert edited.criterion("I2").parameters["hba1c_min"].value == 8.0
    assert edited.criterion("E7").unknown == "pass"
    ids = pd.read_csv(io.StringIO(s.export_eligible_ids_csv()))
    assert len(ids) == s.counts["eligible"] and ids["subject_id"].is_unique
    overlap = pd.read_csv(io.StringIO(s.export_table_csv("overlap")))
    assert overlap["count"].sum() == s.counts["screened"] - s.counts["remaining"] + (
        overlap.loc[overlap["size"] == 0, "count"].sum())


def test_lazy_tables_follow_the_current_scenario():
    s = ExplorerState(T1D)
    first = s.baseline
    assert first is s.baseline  # computed once per change
    s.toggle("I5", False)
    assert s.baseline is not first
    assert s.baseline.loc[0, "eligible_n"] == s.counts["eligible"]
    assert s.overlap["count"].sum() >= s.counts["excluded"]


def test_dashboard_views_follow_the_state():
    from explorer.app.dashboard import Dashboard

    with contextlib.redirect_stdout(io.StringIO()):
        dashboard = Dashboard(ExplorerState(T2D))
        row = dashboard.criteria._rows["I6"]
        row._toggle.value = False
    state = dashboard.state
    assert state.scenario.disabled == ("I6",)
    assert f"<b>{state.counts['eligible']:,}</b>" in dashboard.summary._counts.value
    assert dashboard.url.query == state.scenario.to_query()
    with contextlib.redirect_stdout(io.StringIO()):
        dashboard._opened_with({"new": T2D.with_enabled("I5", False).to_query()})
    assert state.scenario.disabled == ("I5",)
    assert dashboard.criteria._rows["I6"]._toggle.value is True
    assert dashboard.criteria._rows["I5"]._toggle.value is False
