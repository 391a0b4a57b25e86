"""Why criteria are unknown: the reasons the derivation recorded, laid out per criterion variable, equal on the
memory engine and DuckDB, protected when protection is on, and shown in the Data tab."""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.analysis.unknown_reasons import COLUMNS, criterion_variables, unknown_reasons
from explorer.app.data_panel import reasons_html
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.features import UNUSABLE_REASON
from explorer.sources import SYNTHETIC_REASONS_UP_TO
from explorer.trial import load_trial

SUBJECTS = ("subject_id,sex,birth_date,diabetes_type,diagnosis_date,index_date\n"
            "A1,female,1900-01-01,T1D,2010-01-01,2024-03-01\n"   # placeholder birth date: age unknown, with why
            "B2,male,1980-05-01,T1D,2010-01-01,2024-03-01\n"     # HbA1c 95 %: left out as invalid (reject)
            "C3,male,1975-05-01,T1D,2012-01-01,2024-03-01\n"     # HbA1c measured three years before the index
            "D4,male,1985-05-01,T1D,2012-01-01,2024-03-01\n")    # never measured
MEASUREMENTS = ("subject_id,time,variable,value,unit\n"
                "A1,2024-01-01,hba1c,7.5,%\n"
                "B2,2024-01-02,hba1c,95,%\n"
                "C3,2021-01-02,hba1c,8.1,%\n")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "subjects.csv").write_text(SUBJECTS)
    (tmp_path / "measurements.csv").write_text(MEASUREMENTS)
    return tmp_path


def state_on(folder, engine="memory", **scenario) -> ExplorerState:
    state = ExplorerState(Scenario(data=DataSource("path", path=str(folder), on_invalid="reject", engine=engine),
                                   **scenario), with_baseline=False)
    assert state.error == ""
    return state


def test_reasons_are_laid_out_per_criterion_variable_most_frequent_first():
    trial = load_trial("NCT06196996")
    counts = {("hba1c", "never measured"): 3, ("hba1c", "outside the window"): 7, ("age", "no birth date"): 2,
              ("not_a_criterion_variable", "x"): 99, ("tir", "no CGM data"): 0}
    frame = unknown_reasons(trial, counts, 20)
    assert list(frame.columns) == COLUMNS
    hba1c = frame[frame["variable"] == "hba1c"]
    assert list(hba1c["reason"]) == ["outside the window", "never measured"]  # most frequent first
    assert list(hba1c["subjects"]) == [7, 3] and list(hba1c["% of screened"]) == [35.0, 15.0]
    assert set(hba1c["criterion"]) == {c.id for c, v in criterion_variables(trial) if v == "hba1c"}
    assert "not_a_criterion_variable" not in set(frame["variable"])  # only what a criterion reads
    assert "tir" not in set(frame["variable"])                          # a zero count is no row
    assert unknown_reasons(trial, {}, 20).empty


def test_each_subjects_reason_is_counted_and_the_engines_agree(folder):
    memory, duck = state_on(folder), state_on(folder, "duckdb")
    frame = memory.unknown_reasons()
    rows = {(r.variable, r.reason): r.subjects for r in frame.itertuples() if r.criterion in ("I1", "I2")}
    assert rows[("hba1c", "last measured more than 365 days before the index date")] == 1       # C3
    assert rows[("hba1c", "never measured")] == 1                                                 # D4
    assert rows[("hba1c", UNUSABLE_REASON)] == 1   # B2: its 95 % was measured, then rejected (was "never measured")
    assert sum(n for (v, why), n in rows.items() if v == "age" and "plausible" in why) == 1        # A1
    pd.testing.assert_frame_equal(frame, duck.unknown_reasons())


def test_reasons_follow_the_trial_not_the_clicks(folder):
    state = state_on(folder)
    before = state.unknown_reasons()
    assert state.toggle("I2", False)  # a switched-off criterion still reads its variable: its reasons stay
    pd.testing.assert_frame_equal(before, state.unknown_reasons())


def test_small_counts_are_blanked_under_protection(folder):
    state = state_on(folder)
    assert state.set_min_cell(5)
    frame = state.unknown_reasons()
    assert not frame.empty and frame["subjects"].isna().all() and frame["% of screened"].isna().all()


def test_the_data_tab_lists_the_reasons_and_says_what_invalid_rows_became(folder):
    page = reasons_html(state_on(folder))
    assert "data-testid='unknown-reasons'" in page and "never measured" in page
    assert "reasons-caveat" in page and "without a usable value" in page  # B2's HbA1c row was left out as invalid


def test_a_synthetic_population_says_its_reasons_are_simulated_and_drops_them_when_large():
    small = ExplorerState(Scenario(data=DataSource("synthetic", "t1d", 300, 1)), with_baseline=False)
    assert not small.unknown_reasons().empty and "simulated" in reasons_html(small)
    large = ExplorerState(Scenario(data=DataSource("synthetic", "t1d", SYNTHETIC_REASONS_UP_TO + 1, 1)),
                          with_baseline=False)
    assert large.screening.missing_reasons is None and large.unknown_reasons().empty
    assert "not kept" in reasons_html(large)


def test_a_written_screening_folder_keeps_its_reasons(tmp_path):
    from explorer.cohort.synthetic.screening_table import generate_screening
    from explorer.engine import write_screening
    from explorer.engine.layout import ordered_reasons, read_screening, reason_counts

    screening = generate_screening("t1d", 400, seed=5)
    assert screening.missing_reasons is not None and len(screening.missing_reasons)
    folder = write_screening(screening, tmp_path / "s")
    back = read_screening(folder)
    pd.testing.assert_frame_equal(ordered_reasons(back.missing_reasons).astype(str),
                                  ordered_reasons(screening.missing_reasons).astype(str))
    memory, duck = state_on(folder), state_on(folder, "duckdb")
    assert not memory.unknown_reasons().empty
    pd.testing.assert_frame_equal(memory.unknown_reasons(), duck.unknown_reasons())
    assert reason_counts(back.missing_reasons) == duck.matrix.backend.reason_counts()
