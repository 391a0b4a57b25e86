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


@pytest.mark.parametrize("value", [7.123456789, 0.1 + 0.2, 1e-7, 123456789.5, 2.5e20, -3.0, 70.0])
def test_a_link_opens_the_threshold_it_was_made_from(value):
    # "{:g}" kept six digits: a link to hba1c_max 7.123456789 opened 7.12346 and showed other counts
    scenario = T2D.with_setting("I3", "age_max", value)
    assert Scenario.from_query(scenario.to_query()).settings == scenario.settings


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
    assert not s.set_parameter("I1", "age_max", float("nan"))
    assert "give a number between 1 and 120" in s.error and "I1" in s.error
    assert s.counts == counts and s.trial.criterion("I1").parameters["age_max"].value == 65
    assert not s.select_data(DataSource("path", path="/no/such/folder"))
    assert "no such file or folder" in s.error and s.counts == counts
    assert not s.add_trial_file("/no/such/trial.yaml")
    assert "no such file or folder" in s.error and "/no/such/trial.yaml" in s.error


def test_a_value_outside_the_range_is_clamped_and_said():
    s = ExplorerState(T1D)
    assert s.set_parameter("I1", "age_max", 500)
    assert s.trial.criterion("I1").parameters["age_max"].value == 120
    assert "500 is outside the allowed range 1-120; using 120" in s.notice
    assert s.set_parameter("I1", "age_max", 120)  # the view echoing the clamped value keeps the notice
    assert "using 120" in s.notice
    s.toggle("E8", False)
    assert s.notice == ""


def test_computable_only_keeps_what_the_user_switched_off():
    s = ExplorerState(T1D)
    s.toggle("I2", False)
    from explorer.app.views import CriteriaPanel
    panel = CriteriaPanel(s)
    panel._computable_only.click()
    assert "I2" in s.scenario.disabled
    assert {c.id for c in s.trial.criteria if not c.computable} <= set(s.scenario.disabled)


def test_relative_paths_are_read_from_the_start_folder(monkeypatch, tmp_path):
    from explorer.app.folders import BASE_DIR_VARIABLE
    monkeypatch.setenv(BASE_DIR_VARIABLE, str(tmp_path))
    s = ExplorerState(T1D)
    assert not s.select_data(DataSource("path", path="cohort"))
    assert f"relative paths are read from {tmp_path.resolve()}" in s.error


def test_a_served_dashboard_reads_only_its_roots(tmp_path):
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("SECRET-FIRST-LINE,x\n1,2\n")
    s = ExplorerState(T1D, roots=[tmp_path / "allowed"])
    counts = dict(s.counts)
    assert not s.select_data(DataSource("path", path=str(secret)))
    assert "may not read" in s.error and "SECRET-FIRST-LINE" not in s.error and s.counts == counts
    assert not s.add_trial_file(str(secret))
    assert "may not read trial files" in s.error
    assert not s.restore(f"trial={secret}")
    assert "may not read" in s.error
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
    assert other.restore("?" + s.scenario.to_query())
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
    s.set_min_cell(11, "round")
    # every number shown is 0, "<11", or a multiple of 5 of at least 11
    for text in s.shown_counts().values():
        assert text in ("0", "<11") or (int(text.replace(",", "")) >= 11 and int(text.replace(",", "")) % 5 == 0)
    # the header and every table use one rule: 12 is "<11" under rounding, never "10"
    assert s.shown_count(12) == "<11" and s.shown_count(13) == "15"


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


def test_labels_state_the_threshold_in_force():
    s = ExplorerState(T1D)
    assert s.trial.criterion("I2").display_label == "HbA1c >= 7.5% or TIR < 70%"
    s.set_parameter("I2", "hba1c_min", 8.0)
    assert s.trial.criterion("I2").display_label == "HbA1c >= 8% or TIR < 70%"
    step = s.funnel[s.funnel["criterion"] == "I2"].iloc[0]
    assert step["label"] == "HbA1c >= 8% or TIR < 70%"
    assert "HbA1c >= 8% or TIR < 70%" in s.export_table_csv("funnel")
    assert trial_from_yaml(s.export_trial_yaml()).criterion("I2").label == "HbA1c >= 8% or TIR < 70%"


def test_exported_yaml_reproduces_the_funnel(tmp_path):
    s = ExplorerState(T1D)
    s.toggle("E8", False)
    s.move("I4", -2)
    s.set_policy("E7", "pass")
    s.set_parameter("I1", "age_max", 60)
    text = s.export_trial_yaml()
    assert "$schema=trial.schema.json" in text and "/explorer/schema" not in text
    path = tmp_path / "edited.yaml"
    path.write_text(text)
    other = ExplorerState(T1D)
    assert other.add_trial_file(path)
    assert other.scenario.disabled == ("E8",)
    pd.testing.assert_frame_equal(other.funnel, s.funnel)
    assert other.counts == s.counts


def test_real_data_is_protected_by_default():
    from explorer.app.scenario import Scenario as Sc
    real = Sc.from_query("trial=NCT01142050&data=path:somewhere")
    assert (real.min_cell, real.cell_method) == (11, "suppress")
    assert Sc.from_query(real.to_query()) == real
    off = replace(real, min_cell=0)
    assert Sc.from_query(off.to_query()).min_cell == 0  # switching it off is explicit, and links keep it
    assert T1D.with_data(DataSource("path", path="x")).protection.on


def test_no_unprotected_number_while_protection_is_computed():
    s = ExplorerState(T1D)
    seen = []
    s.observe(lambda ch: seen.append((ch["new"], dict(s.counts))), "concealed")
    s.set_min_cell(11, "suppress")
    assert seen[0][0] is True and seen[-1][0] is False
    assert s.scenario.min_cell == 11


# --- outcomes of the enrolled: computed by the state (explorer.app.outcome_state), no widgets -------------

T1D_OUTCOMES = replace(T1D, data=DataSource("synthetic", "t1d", 6000, 0))  # about two dozen eligible


def test_outcomes_are_recomputed_only_when_the_enrolled_set_or_data_change():
    s = ExplorerState(T1D_OUTCOMES, with_baseline=False)
    assert s.outcomes.computations == 0  # lazy: nothing until asked
    first = s.outcomes.results()
    assert len(first.subjects) == len(s.eligible_ids()) > 0 and s.outcomes.computations == 1
    assert s.set_order(list(reversed(s.order)))  # the same eligible set
    assert s.set_parameter("I1", "age_min", s.trial.criterion("I1").parameters["age_min"].value)
    assert s.outcomes.results() is first and s.outcomes.computations == 1
    assert s.toggle("E7", False)
    assert s.toggle("E7", True)  # changed and back before anyone asked: nothing computed
    assert s.outcomes.computations == 1
    assert s.toggle("E7", False)
    wider = s.outcomes.results()
    assert wider is not first and len(wider.subjects) == len(s.eligible_ids()) > len(first.subjects)
    assert s.toggle("E7", True)
    assert s.outcomes.results() is first and s.outcomes.computations == 2  # the earlier set is cached
    assert s.select_data(DataSource("synthetic", "t1d", 6000, 1))
    assert s.outcomes.results() is not first and s.outcomes.computations == 3


def test_simulation_choices_follow_the_trial_and_key_the_outcomes():
    s = ExplorerState(T1D_OUTCOMES, with_baseline=False)
    assert (s.outcomes.model, s.outcomes.allocation) == ("islet", "trial")
    first = s.outcomes.results()
    s.outcomes.choose(model="islet_edmonton")
    assert s.outcomes.results() is not first
    s.outcomes.choose(model="islet")
    assert s.outcomes.results() is first
    with pytest.raises(DataError, match="no response model 'nope'"):
        s.outcomes.choose(model="nope")
    assert s.select_trial("NCT01142050")
    assert (s.outcomes.model, s.outcomes.allocation) == ("msc", "trial")


def test_outcome_tables_use_the_same_protection_as_the_header():
    from explorer.engine.privacy import Protection
    from explorer.outcomes.measures import summarise_outcomes

    s = ExplorerState(T1D_OUTCOMES, with_baseline=False)
    first = s.outcomes.results()
    assert s.set_min_cell(5, "round")
    assert s.outcomes.protection == s.protection == Protection(5, "round")
    assert s.outcomes.results() is not first  # protection is part of the key
    raw = summarise_outcomes(s.outcomes.results(), outcomes=["hba1c"])
    raw = raw[raw["measure"].astype(str) == "hba1c"]
    shown = s.outcomes.summary_table("hba1c", "hba1c")
    assert len(shown) == len(raw) > 0
    assert shown["n"].tolist() == [s.protection.count(n) for n in raw["n"]]
    assert all(n % 5 == 0 for n in shown["n"].dropna())
    assert s.shown_counts()["eligible"] == s.protection.text(s.counts["eligible"])


def test_real_data_outcomes_are_protected_as_the_scenario_says():
    from explorer.cohort.synthetic import generate_outcomes
    from explorer.cohort.synthetic.enrolment import screening_subset

    trial = load_trial("NCT06196996")

    def load(source):  # a "real" dataset with trial visits: fewer than 11 subjects per visit
        screening = generate_screening("t1d", 6000, seed=0)
        matrix = engine.evaluate(trial, screening)
        eligible = matrix.subject_ids[engine.eligible_mask(matrix)][:8]
        cohort = generate_outcomes(screening_subset(screening, eligible), "islet", visits_days=trial.visits,
                                   seed=5, cgm_readings=0)
        return screening, cohort

    s = ExplorerState(Scenario.from_query("trial=NCT06196996&data=path:trial-data"), loader=load,
                      with_baseline=False)
    assert s.outcomes.uses_real_data
    assert s.outcomes.protection == s.protection == s.scenario.protection
    assert (s.protection.min_cell, s.protection.method) == (11, "suppress")
    table = s.outcomes.summary_table("hba1c", "hba1c")
    assert len(table) and table["n"].isna().all()  # every n is below 11: blanked


def test_a_toggle_computes_only_what_the_header_and_funnel_show(monkeypatch):
    """Issue 17: at 10^6 subjects impact and Shapley for closed tabs took most of a click. They are now
    computed when a view asks, once per change, and always for the current scenario."""
    s = ExplorerState(T1D, with_baseline=False)
    calls = []

    def counted(name, original):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return wrapper

    for name in ("impact", "shapley", "overlap"):
        monkeypatch.setattr(engine, name, counted(name, getattr(engine, name)))
    s.toggle("E7", False)
    assert calls == []
    first = s.impact
    assert s.impact is first and s.shapley is s.shapley
    assert calls == ["impact", "shapley"]  # once each, cached until the next change
    enabled = [c.id for c in s.trial.criteria if c.id != "E7"]
    pd.testing.assert_frame_equal(first, engine.impact(s.matrix, enabled=enabled, policies={}))
    s.toggle("E7", True)
    assert calls == ["impact", "shapley", "impact"]
    assert "E7" in set(s.impact["criterion"]) and "E7" not in set(first["criterion"])
    assert s.shapley["shapley"].sum() == pytest.approx(s.counts["eligible"] - s.counts["screened"])


def test_the_eligible_mask_is_built_once_per_change_for_ids_and_positions(monkeypatch):
    built = []
    group_mask = engine.baseline.group_mask
    monkeypatch.setattr(engine.baseline, "group_mask", lambda *a, **k: built.append(a[1]) or group_mask(*a, **k))
    s = ExplorerState(T1D)
    built.clear()
    ids, positions = s.eligible_ids(), s.eligible_positions()
    assert s.eligible_ids() is ids and built == ["eligible"]
    assert ids.equals(s.matrix.subject_ids[positions])
    s.apply(s.scenario.with_enabled("I5", False))  # a change: the next question builds the new mask
    assert len(s.eligible_ids()) > len(ids) and built == ["eligible", "eligible"]
    assert s.eligible_ids().equals(s.matrix.subject_ids[s.eligible_positions()])
