"""The analysis views (Thresholds, Compare, Representativeness, Relaxed criteria, the sensitivity beside each
threshold) and the code export, wired to the state (no browser)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.app import explore
from explorer.app.scenario import Scenario
from explorer.app.state import ExplorerState


def test_threshold_curve_meets_the_funnel_at_the_current_cut_off():
    ex = explore("NCT06196996", n=3000, seed=1)
    s = ex.state
    s.toggle("E7", False)
    ex.thresholds.refresh()  # a closed tab fills its choices when drawn
    ex.thresholds._choice.value = "I2.hba1c_min"
    ex.thresholds.refresh()
    result = s.sensitivity("I2", "hba1c_min")
    assert result.at(7.5)["eligible"] == s.counts["eligible"]
    assert "I2" in ex.thresholds._note.value
    assert s.set_parameter("I2", "hba1c_min", 8.0)
    assert s.sensitivity("I2", "hba1c_min").at(8.0)["eligible"] == s.counts["eligible"]


def test_compare_tab_sets_the_registered_trial_against_the_edits():
    ex = explore("NCT06196996", n=3000, seed=1)
    s = ex.state
    s.toggle("E7", False)
    ex.compare.refresh()
    registered = ExplorerState(Scenario(trial=s.scenario.trial, data=s.scenario.data)).counts
    counts = s.comparison().counts.set_index("count")
    assert counts.loc["eligible", "a"] == registered["eligible"] and counts.loc["eligible", "b"] == s.counts["eligible"]
    assert "the trial as registered" in ex.compare._which.value
    s.pin()
    s.toggle("E8", False)
    again = s.comparison().counts.set_index("count")
    assert again.loc["eligible", "a"] == counts.loc["eligible", "b"] and again.loc["eligible", "b"] == s.counts["eligible"]


def test_exported_code_reproduces_the_counts(tmp_path):
    s = explore("NCT01142050", n=2000, seed=3).state
    s.toggle("I6", False)
    s.set_parameter("I3", "age_max", 70)
    script = tmp_path / "scenario.py"
    script.write_text(s.export_code())
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True).stdout
    printed = ast.literal_eval(out.strip().splitlines()[-1])  # the script ends by printing the final counts
    assert printed == s.counts


# --- representativeness, relaxed outcomes, sensitivity beside each threshold (issue 17) ---------------------

def test_representativeness_view_shows_the_analysis_counts_and_says_it_is_not_gist_2():
    from explorer.analysis import representativeness

    ex = explore("NCT06196996", n=3000, seed=1)
    s = ex.state
    s.toggle("E7", False)
    ex.representativeness.refresh()
    want = representativeness(s.matrix, s.screening, enabled=[c for c in s.matrix.ids if c != "E7"])
    scores = ex.representativeness._scores.value
    assert f"mGIST {want.mgist:.3f}" in scores
    assert f"data-testid='gist-complete'>{want.complete:,}<" in scores
    assert "not the weighted GIST 2.0" in scores
    assert "doi:10.1016/j.jbi.2016.09.003" in ex.representativeness._about.value
    # it follows the scenario: switching a quantitative criterion off changes the score
    s.toggle("I5", False)
    ex.representativeness.refresh()
    assert f"mGIST {want.mgist:.3f}" not in ex.representativeness._scores.value


def test_representativeness_shares_that_would_publish_a_small_count_are_hidden():
    import pandas as pd

    from explorer.analysis.representativeness import Representativeness
    from explorer.engine.privacy import Protection

    traits = pd.DataFrame({"criterion": ["I1", "I2"], "label": ["a", "b"], "known": [500, 500],
                           "meeting": [490, 300], "sgist": [0.98, 0.6]})
    traits.attrs.update(counts=["known", "meeting"], percents={}, dependent={"sgist": "known"})
    smd = pd.DataFrame({"variable": ["age"], "level": [None], "screened_n": [500], "screened_value": [40.0],
                        "eligible_n": [5], "eligible_value": [38.0], "smd": [-0.2], "differs": [True]})
    smd.attrs.update(counts=["screened_n", "eligible_n"], percents={},
                     dependent={"eligible_value": "eligible_n", "smd": "eligible_n"})
    # 0.98 of 500 meet: the 10 who do not are a small cell; 0.006 of 500 meet: 3 people
    r = Representativeness(smd, traits, mgist=0.98, mgist_low=0.006, mgist_high=0.6, complete=500, screened=500)
    shown = r.protected(Protection(11, "suppress"))
    assert shown.mgist != shown.mgist and shown.mgist_low != shown.mgist_low
    assert shown.mgist_high == 0.6
    assert shown.traits["sgist"].isna().tolist() == [True, False]
    assert shown.smd["smd"].isna().all() and pd.isna(shown.smd["eligible_n"].iloc[0])
    assert r.protected(Protection(0)) is r


def test_relaxed_outcomes_view_counts_the_kept_and_added_as_the_comparison_does():
    ex = explore("NCT06196996", n=3000, seed=1)
    s = ex.state
    s.toggle("E7", False)
    ex.relaxed.refresh()
    movement = s.comparison().movement.set_index("group").loc["eligible"]
    groups = ex.relaxed._groups.value
    assert f"<td>kept (A and B)</td><td>{movement['in_both']:,}</td>" in groups
    assert f"<td>added by B</td><td>{movement['only_b (moved in)']:,}</td>" in groups
    assert "simulated" in ex.relaxed._source.value and "te-simulated" in ex.relaxed._source.value
    assert "Welch" in ex.relaxed._differences.value and "to" in ex.relaxed._differences.value
    # pinning the current scenario makes it A: nobody is added any more
    s.pin()
    ex.relaxed.refresh()
    assert "<td>added by B</td><td>0</td>" in ex.relaxed._groups.value
    assert "the scenario you pinned" in ex.relaxed._which.value


def test_relaxed_outcomes_view_hides_small_groups_under_protection():
    from explorer.analysis import compare

    ex = explore("NCT06196996", n=3000, seed=1, min_cell=11, cell_method="suppress")
    s = ex.state
    s.toggle("E7", False)
    ex.relaxed.refresh()
    raw = compare(s.scenario_a(), s.scenario, s.matrix, base_trial=s.base_trial, min_cell=0)
    movement = raw.movement.set_index("group").loc["eligible"]
    assert 0 < movement["only_b (moved in)"] < 11  # the fixture has a small group to hide
    for group, column in (("kept (A and B)", "in_both"), ("added by B", "only_b (moved in)")):
        want = s.shown_count(movement[column])
        assert f"<td>{group}</td><td>{want.replace('<', '&lt;')}</td>" in ex.relaxed._groups.value
    assert "<td>added by B</td><td>&lt;11</td>" in ex.relaxed._groups.value


def test_sensitivity_beside_a_threshold_draws_only_when_open_and_follows_other_criteria():
    ex = explore("NCT06196996", n=3000, seed=1)
    s = ex.state
    row = ex.criteria._rows["I2"]
    s.toggle("E7", False)
    assert not any(key.startswith("sensitivity:") for key in s._lazy)  # closed: nothing computed
    assert row._sensitivity["hba1c_min"].value == ""
    row._open["hba1c_min"].value = True
    drawn = row._sensitivity["hba1c_min"].value
    result = s.sensitivity("I2", "hba1c_min")
    assert "<svg" in drawn and f"data-testid='sensitivity-eligible'>{s.counts['eligible']:,}<" in drawn
    assert f"data-testid='sensitivity-pool'>{result.pool:,}<" in drawn
    s.toggle("E8", False)  # another criterion changes the pool and the count: the open panel follows
    assert s.sensitivity("I2", "hba1c_min").pool != result.pool
    assert f"data-testid='sensitivity-pool'>{s.sensitivity('I2', 'hba1c_min').pool:,}<" in \
        row._sensitivity["hba1c_min"].value
    assert f"data-testid='sensitivity-eligible'>{s.counts['eligible']:,}<" in row._sensitivity["hba1c_min"].value
    row._open["hba1c_min"].value = False
    assert row._sensitivity["hba1c_min"].value == ""
    s.toggle("E8", True)
    assert not any(key.startswith("sensitivity:") for key in s._lazy)


def test_sensitivity_svg_breaks_the_curve_where_protection_hides_a_count():
    from explorer.app.glance import sensitivity_svg
    from explorer.engine.privacy import Protection

    ex = explore("NCT06196996", n=3000, seed=1)
    result = ex.state.sensitivity("I2", "hba1c_min")
    hidden = sum(1 for v in result.curve["eligible"] if 0 < v < 11)
    assert hidden  # the fixture has small counts at some cut-offs
    svg = sensitivity_svg(result, Protection(11, "suppress"))
    path = svg.split("<path d='")[1].split("'")[0]
    shown = [not 0 < v < 11 for v in result.curve["eligible"]]
    runs = sum(1 for i, ok in enumerate(shown) if ok and (i == 0 or not shown[i - 1]))
    assert path.count("M") == runs and path.count("M") + path.count("L") == sum(shown)


def _column_numbers(table_html: str, columns) -> list[int]:
    """The integers in the named columns of one of our html tables ("<k" and "–" are not numbers)."""
    head = re.findall(r"<th>(.*?)</th>", table_html)
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", table_html)[1:]:
        cells = dict(zip(head, re.findall(r"<td>(.*?)</td>", row), strict=False))
        found += [int(c.replace(",", "")) for name in columns if re.fullmatch(r"[\d,]+", c := cells.get(name, ""))]
    return found


def _tagged_numbers(text: str, testids) -> list[int]:
    return [int(m.replace(",", "")) for t in testids
            for m in re.findall(rf"data-testid='{t}'>([\d,]+)<", text)]


@pytest.fixture(scope="module")
def protected_explorer():
    return explore("NCT06196996", n=1500, seed=3)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(off=st.sets(st.sampled_from(["E1", "E2", "E6", "E7", "E8", "E11", "I4", "I6"]), max_size=4),
       k=st.integers(2, 25), method=st.sampled_from(["suppress", "round"]))
def test_no_small_count_in_the_analysis_views(protected_explorer, off, k, method):
    ex = protected_explorer
    s = ex.state
    assert s.restore(Scenario(trial="NCT06196996", data=s.scenario.data, disabled=tuple(sorted(off)),
                              min_cell=k, cell_method=method))
    ex.representativeness.refresh()
    ex.relaxed.refresh()
    ex.criteria.show_sensitivity("I2", "hba1c_min")
    ex.criteria.show_sensitivity("I1", "age_max")
    rep, rel = ex.representativeness, ex.relaxed
    found = _tagged_numbers(rep._scores.value, ["gist-complete", "gist-screened"])
    found += _column_numbers(rep._sgist.value, ["known", "meeting"])
    found += _column_numbers(rep._table.value, ["screened n", "eligible n"])
    found += _column_numbers(rel._groups.value, ["eligible", "enrolled"])
    found += _column_numbers(rel._differences.value, ["kept n", "added n"])
    found += _column_numbers(rel._endpoints.value, ["n", "responders"])
    for criterion, parameter in (("I2", "hba1c_min"), ("I1", "age_max")):
        glance = ex.criteria._rows[criterion]._sensitivity[parameter].value
        found += _tagged_numbers(glance, ["sensitivity-pool", "sensitivity-eligible"])
        found += [int(v.replace(",", "")) for pair in re.findall(r"([\d,]+) of them unknown|>max ([\d,]+)<", glance)
                  for v in pair if v]
    assert found, "the views show counts"
    assert [c for c in found if 0 < c < k] == []
    assert s.error == ""


def test_the_unknown_share_is_not_shown_when_it_would_publish_a_hidden_count():
    from dataclasses import replace

    from explorer.app.glance import sensitivity_caption, unknown_share
    from explorer.engine.privacy import Protection

    result = explore("NCT06196996", n=3000, seed=1).state.sensitivity("I2", "hba1c_min")
    k11 = Protection(11, "suppress")
    assert unknown_share(replace(result, pool=400, unknown=3), k11) == ""     # 3 unknown
    assert unknown_share(replace(result, pool=400, unknown=397), k11) == ""   # 3 known
    assert unknown_share(replace(result, pool=400, unknown=100), k11) == "25%"
    assert unknown_share(replace(result, pool=400, unknown=3), Protection(0)) == "1%"
    caption = sensitivity_caption(replace(result, pool=400, unknown=3), k11, enabled=True)
    assert "&lt;11 of them unknown;" in caption and "%" not in caption.split("right:")[0]


def test_the_new_tabs_draw_only_when_opened():
    ex = explore("NCT06196996", n=3000, seed=1)
    s = ex.state
    titles = list(ex.tabs.titles)
    assert {"Representativeness", "Relaxed criteria"} <= set(titles)
    s.toggle("E7", False)
    assert not any(key.startswith(("relaxed_outcomes:", "representativeness")) for key in s._lazy)
    assert ex.relaxed.stale and ex.representativeness.stale
    ex.tabs.selected_index = titles.index("Relaxed criteria")
    assert any(key.startswith("relaxed_outcomes:") for key in s._lazy)
    assert "data-testid='relaxed-groups'" in ex.relaxed._groups.value
    s.toggle("E8", False)  # the open tab follows the scenario
    assert any(key.startswith("relaxed_outcomes:") for key in s._lazy)


def test_an_open_sensitivity_panel_hides_its_counts_while_a_protected_scenario_is_computed():
    ex = explore("NCT06196996", n=3000, seed=1)
    s = ex.state
    ex.criteria.show_sensitivity("I2", "hba1c_min")
    panel = ex.criteria._rows["I2"]._sensitivity["hba1c_min"]
    seen = []
    s.observe(lambda ch: seen.append(panel.value) if ch["new"] else None, "busy")
    assert "sensitivity-eligible" in panel.value
    s.set_min_cell(11, "suppress")
    assert seen[0] == ""  # blank when the computing starts, then redrawn under protection
    assert "sensitivity-eligible" in panel.value
