"""The Data tab's choice of what the loaders do with invalid values, tested on the state without a browser."""

from __future__ import annotations

import pytest

from explorer.app.code_export import scenario_code
from explorer.app.data_panel import data_report_html
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.app.views import DataPanel
from explorer.errors import DefinitionError

SUBJECTS = ("subject_id,sex,birth_date,diabetes_type,diagnosis_date,index_date\n"
            "A1,female,1900-01-01,T1D,2010-01-01,2024-03-01\n"   # a placeholder birth date: an age of 124
            "B2,male,1980-05-01,T1D,2010-01-01,2024-03-01\n"
            "C3,male,1975-05-01,T1D,2012-01-01,2024-03-01\n")
MEASUREMENTS = ("subject_id,time,variable,value,unit\n"
                "A1,2024-01-01,hba1c,7.5,%\n"
                "B2,2024-01-02,hba1c,95,%\n"                       # outside HbA1c's plausible range
                "C3,2024-01-02,hba1c,8.1,%\n")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "subjects.csv").write_text(SUBJECTS)
    (tmp_path / "measurements.csv").write_text(MEASUREMENTS)
    return tmp_path


def widgets(root):
    """The widget and everything inside it, depth first."""
    yield root
    for child in getattr(root, "children", ()):
        yield from widgets(child)


def button(panel, label):
    return next(w for w in widgets(panel) if getattr(w, "description", None) == label and hasattr(w, "click"))


def panel_on_synthetic():
    state = ExplorerState(Scenario(trial="NCT06196996", data=DataSource("synthetic", "t1d", 200, 0)))
    return state, DataPanel(state)


def test_the_default_is_the_apis_and_raise_keeps_the_error(folder):
    state, panel = panel_on_synthetic()
    assert panel._on_invalid.value == DataSource().on_invalid == "raise"
    panel._path.value = str(folder)
    button(panel, "Load real data").click()
    assert "measurements.csv" in state.error and "'value'" in state.error and "rows 3" in state.error
    assert state.scenario.data.kind == "synthetic"  # the previous data stay


def test_unknown_loads_and_shows_how_many_values_and_where(folder):
    state, panel = panel_on_synthetic()
    panel._on_invalid.value = "reject"
    panel._path.value = str(folder)
    button(panel, "Load real data").click()
    assert state.error == ""
    assert state.scenario.data.on_invalid == "reject" and len(state.screening.features) == 3
    where = {(v.column, v.rows, v.count) for v in state.load_report.invalid}
    assert ("birth_date", (2,), 1) in where       # subjects.csv row 2 (the header is row 1)
    assert ("value", (3,), 1) in where            # measurements.csv row 3
    shown = data_report_html(state)
    assert "data-testid='invalid-values'" in shown and "2 invalid value(s)" in shown
    for text in ("subjects.csv", "measurements.csv", "birth_date", "age unknown"):
        assert text in shown
    panel._on_invalid.value = "raise"
    panel.refresh()  # the panel shows the choice the state has
    assert panel._on_invalid.value == "reject"


def test_the_choice_travels_with_the_scenario_and_the_exported_code(folder):
    source = DataSource("path", path=str(folder), on_invalid="reject")
    assert DataSource.from_text(source.to_text()) == source
    assert Scenario.from_json(Scenario(data=source).to_json()).data == source
    assert Scenario.from_query(Scenario(data=source).to_query()).data == source
    assert "on_invalid='reject'" in scenario_code(Scenario(data=source))
    with pytest.raises(DefinitionError, match="on_invalid 'drop'"):
        DataSource("path", path="x", on_invalid="drop").validate()
