"""Threshold curves over a DuckDB source (ExplorerState.sensitivity with a histogram): the criterion's edit table
stands in for the cohort, and the curve, the variable's histogram and every count equal the memory state's."""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.app.scenario import Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.engine import write_screening
from explorer.sources import DataSource


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_screening(generate_screening("t1d", 1500, seed=4), tmp_path_factory.mktemp("screening"))


def assert_same_sensitivity(a, b) -> None:
    pd.testing.assert_frame_equal(a.curve, b.curve, obj="curve")
    if a.variable is None:  # no single variable beside the cut-off (E4): no histogram on either side
        assert a.histogram is None and b.histogram is None
    else:
        pd.testing.assert_frame_equal(a.histogram, b.histogram, obj="histogram")
    assert (a.pool, a.eligible_so_far, a.unknown, a.below, a.above, a.method, a.variable) == \
        (b.pool, b.eligible_so_far, b.unknown, b.below, b.above, b.method, b.variable)


def test_threshold_curves_over_duckdb_equal_the_memory_states(folder):
    memory = ExplorerState(Scenario(data=DataSource("path", path=str(folder))), with_baseline=False)
    duck = ExplorerState(Scenario(data=DataSource("path", path=str(folder), engine="duckdb")), with_baseline=False)
    asked = [("I2", "hba1c_min"), ("I1", "age_min"), ("E4", "uln_multiple")]
    for edit in (None, ("set_parameter", ("I2", "hba1c_min", 8.0)), ("toggle", ("E7", False)),
                 ("set_policy", ("I2", "fail"))):
        if edit is not None:
            assert getattr(memory, edit[0])(*edit[1]) and getattr(duck, edit[0])(*edit[1]), duck.error
        for criterion, parameter in asked:
            assert_same_sensitivity(memory.sensitivity(criterion, parameter), duck.sensitivity(criterion, parameter))
    curve = duck.sensitivity("I2", "hba1c_min").curve
    assert curve["eligible"].nunique() > 1  # the curve moves: the comparisons above compared something
