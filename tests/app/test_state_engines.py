"""The dashboard's state over DuckDB and Spark sources: only the status histogram is held, and every
number the tabs show equals the memory state's, through toggles, reorders, policies and a threshold change.
"""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.app.scenario import Scenario
from explorer.app.state import ExplorerState
from explorer.app.views import BaselineView, guarded
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.engine import write_screening
from explorer.engine.histogram import HistogramMatrix
from explorer.errors import DefinitionError, ExplorerError
from explorer.sources import DataSource

N = 2500

# each edit as (method, arguments); applied in turn to every state
EDITS = [
    ("toggle", ("I2", False)),
    ("move", ("E3", -4)),
    ("set_policy", ("E4", "pass")),
    ("set_policy", ("I1", "fail")),
    ("toggle", ("I2", True)),
    ("set_parameter", ("I2", "hba1c_min", 8.2)),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A synthetic cohort as a screening folder (Parquet), as a large cohort would be kept."""
    return write_screening(generate_screening("t1d", N, seed=3), tmp_path_factory.mktemp("screening"))


def state_on(source: DataSource) -> ExplorerState:
    return ExplorerState(Scenario(data=source), with_baseline=False)


def assert_same_numbers(memory: ExplorerState, other: ExplorerState, ids=(False, True)) -> None:
    assert isinstance(other.matrix, HistogramMatrix) and other.histogram_only
    assert memory.error == other.error == ""
    for name in ("funnel", "impact", "shapley", "overlap", "shapley_excluded"):
        pd.testing.assert_frame_equal(getattr(memory, name), getattr(other, name), obj=name)
    assert memory.counts == other.counts
    for possibly in ids:  # each is a query the engine runs
        assert list(memory.eligible_ids(possibly)) == list(other.eligible_ids(possibly))


def test_a_duckdb_state_holds_the_histogram_and_gives_the_memory_numbers(folder):
    memory = state_on(DataSource("path", path=str(folder)))
    duck = state_on(DataSource("path", path=str(folder), engine="duckdb"))
    assert isinstance(duck.screening, type(folder))  # the folder stays on disk, read in place
    assert_same_numbers(memory, duck)
    for method, args in EDITS:
        assert getattr(memory, method)(*args) and getattr(duck, method)(*args), duck.error
        assert_same_numbers(memory, duck)
    unedited = state_on(DataSource("path", path=str(folder)))
    assert not duck.funnel.equals(unedited.funnel) and not duck.impact.equals(unedited.impact)  # the edits told


def test_a_synthetic_source_through_duckdb_matches_memory():
    memory = state_on(DataSource("synthetic", "t1d", N, 5))
    duck = state_on(DataSource("synthetic", "t1d", N, 5, engine="duckdb"))
    assert_same_numbers(memory, duck)
    assert duck.set_order(list(reversed(memory.order))) and memory.set_order(list(reversed(memory.order)))
    assert_same_numbers(memory, duck)


def test_a_spark_state_gives_the_memory_numbers(spark, folder):
    memory = state_on(DataSource("path", path=str(folder)))
    on_spark = state_on(DataSource("path", path=str(folder), engine="spark"))
    assert on_spark.matrix.engine == "spark"
    assert_same_numbers(memory, on_spark, ids=())  # every Spark query costs seconds: ids once, at the end
    # toggles, order and policies are histogram arithmetic; the threshold is counted again by Spark
    for method, args in EDITS:
        assert getattr(memory, method)(*args) and getattr(on_spark, method)(*args), on_spark.error
    assert_same_numbers(memory, on_spark, ids=(False,))
    assert_same_baseline(memory, on_spark)


def assert_same_baseline(memory: ExplorerState, other: ExplorerState) -> None:
    """Table 1 from the engine's aggregates: counts equal, means, SDs and quartiles to the last bits."""
    memory.with_baseline = other.with_baseline = True
    expected, got = memory.baseline, other.baseline
    assert len(got) > 10 and got["eligible_n"].iloc[0] == memory.counts["eligible"]
    pd.testing.assert_frame_equal(expected, got, check_exact=False, rtol=1e-9)
    for column in [c for c in expected.columns if c.endswith(("_n", "_missing"))]:
        pd.testing.assert_series_equal(expected[column], got[column], check_exact=True)
    assert expected.attrs == got.attrs


def test_table_1_is_one_aggregate_query_with_the_memory_numbers(folder):
    memory = state_on(DataSource("path", path=str(folder)))
    duck = state_on(DataSource("path", path=str(folder), engine="duckdb"))
    assert_same_baseline(memory, duck)
    assert memory.set_policy("E4", "pass") and duck.set_policy("E4", "pass") and memory.toggle("I5", False) \
        and duck.toggle("I5", False)
    assert_same_baseline(memory, duck)
    view = BaselineView(duck)
    guarded(duck, view.refresh)
    assert duck.error == "" and "hba1c" in view._table.value.lower()


def test_what_the_histogram_cannot_answer_is_said_never_guessed(folder):
    duck = state_on(DataSource("path", path=str(folder), engine="duckdb"))
    # a rule that counts events has no edit table to stand in for the cohort (I2's curve: test_state_sensitivity_sql)
    for ask, what in ((lambda: duck.sensitivity("E10", "window_days"), "threshold"), (duck.comparison, "comparison")):
        with pytest.raises(ExplorerError, match=f"{what}.*duckdb engine.*memory engine"):
            ask()
    from explorer.app.analysis_views import CompareView
    guarded(duck, CompareView(duck).refresh)
    assert "comparison" in duck.error and "duckdb" in duck.error


def test_variables_a_source_lacks_are_named_from_its_columns(tmp_path):
    screening = generate_screening("t1d", 400, seed=2)
    lacking = Screening(screening.features.drop(columns=["hba1c"]), screening.events, screening.event_lookback,
                        screening.event_counts, source="no hba1c")
    write_screening(lacking, tmp_path)
    memory = state_on(DataSource("path", path=str(tmp_path)))
    duck = state_on(DataSource("path", path=str(tmp_path), engine="duckdb"))
    assert memory.absent_variables() == duck.absent_variables()
    assert {r["variable"] for r in duck.absent_variables()} == {"hba1c"}


def test_the_engine_is_part_of_the_data_source_and_its_address():
    source = DataSource("path", path="/data/cohort;x", engine="spark", master="sc://warehouse:15002")
    assert DataSource.from_text(source.to_text()) == source
    scenario = Scenario(data=source)
    assert Scenario.from_query(scenario.to_query()).data == source
    assert DataSource.from_text("synthetic:t1d:100:1").engine == "memory"
    assert "[duckdb]" in DataSource("synthetic", engine="duckdb").describe()
    with pytest.raises(DefinitionError, match="engine 'polars'"):
        DataSource(engine="polars").validate()
    with pytest.raises(DefinitionError, match="Spark master"):
        DataSource(engine="duckdb", master="spark://h:7077").validate()
    with pytest.raises(DefinitionError, match="cannot read data source"):
        DataSource.from_text("engine=duckdb,threads=2;path:/x")


def test_the_data_panel_opens_a_source_with_the_chosen_engine():
    from explorer.app.views import DataPanel

    state = state_on(DataSource("synthetic", "t1d", 300, 1))
    panel = DataPanel(state)

    def button(label):
        stack = [panel]
        while stack:
            widget = stack.pop()
            if getattr(widget, "description", None) == label and hasattr(widget, "click"):
                return widget
            stack.extend(getattr(widget, "children", ()))
        raise AssertionError(f"no button {label!r}")

    assert panel._master.layout.display == "none"
    panel._engine.value = "spark"
    assert panel._master.layout.display == ""  # the master field shows for Spark only
    panel._engine.value = "duckdb"
    button("Use synthetic data").click()
    assert state.error == "" and state.histogram_only and state.scenario.data.engine == "duckdb"
    panel._engine.value = "memory"
    panel.refresh()  # the panel shows the engine the state has
    assert panel._engine.value == "duckdb"


def test_outcome_enrolment_reads_only_the_enrolled_from_a_folder(folder):
    """The outcome panel enrols the eligible and simulates their outcomes: over DuckDB the engine names
    them and only their rows are read from the folder; the outcomes equal the memory state's."""
    from explorer.app.outcome_view import OutcomePanel

    results = {}
    for engine in ("memory", "duckdb"):
        state = state_on(DataSource("path", path=str(folder), engine=engine))
        panel = OutcomePanel(state)
        guarded(state, panel.refresh)
        assert state.error == ""
        results[engine] = panel.results
    enrolled = state.screening_of(state.eligible_ids())
    assert list(enrolled.features.index) == list(state.eligible_ids())  # their rows, not the cohort's
    for table in ("values", "endpoints", "subjects"):
        pd.testing.assert_frame_equal(getattr(results["memory"], table), getattr(results["duckdb"], table))
