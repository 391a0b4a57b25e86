"""The Thresholds and Compare tabs and the code export, wired to the state (no browser)."""

from __future__ import annotations

import ast
import subprocess
import sys

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
