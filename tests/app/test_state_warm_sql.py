"""The dashboard's state over DuckDB warms its edit tables (ExplorerState._evaluate asks for it): after the source
opens and after each edit, every criterion with a threshold has its table, and the edits then equal the memory
state's without a query."""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.app.scenario import Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.engine import write_screening
from explorer.engine.edit_histogram import editable
from explorer.engine.edit_warmup import WARMER
from explorer.sources import DataSource


@pytest.fixture
def folder(tmp_path):
    yield write_screening(generate_screening("t1d", 1500, seed=5), tmp_path / "screening")
    WARMER.stop()
    assert WARMER.wait_idle(timeout=60)


def test_a_duckdb_state_warms_its_edit_tables_and_its_edits_equal_the_memory_states(folder):
    memory = ExplorerState(Scenario(data=DataSource("path", path=str(folder))), with_baseline=False)
    duck = ExplorerState(Scenario(data=DataSource("path", path=str(folder), engine="duckdb")), with_baseline=False)
    edits = duck.matrix.edits
    thresholds = [c.id for c in duck.matrix.trial.criteria if editable(c)]
    assert len(thresholds) >= 5
    assert edits.wait_warm(timeout=120)
    assert edits.warmed(duck.matrix.trial) == thresholds
    for criterion in thresholds[:3]:
        parameter = sorted(duck.matrix.trial.criterion(criterion).parameters)[0]
        value = duck.matrix.trial.criterion(criterion).parameters[parameter]
        new = value.min + (value.max - value.min) * 0.4 if value.min is not None else value.value * 0.9
        assert memory.set_parameter(criterion, parameter, new) and duck.set_parameter(criterion, parameter, new)
        assert edits.last in ("table", "warmed table"), (criterion, edits.last)
        pd.testing.assert_frame_equal(memory.funnel.reset_index(drop=True), duck.funnel.reset_index(drop=True),
                                      obj=f"{criterion}.{parameter} = {new}")
        assert edits.wait_warm(timeout=120)
