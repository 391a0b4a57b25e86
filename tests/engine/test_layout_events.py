"""Event tables in screening folders are checked like the features file, by both engines, with one message.

Each bad value in events / event_lookback / event_counts is a one-line DataError naming the file, the
column and the rows, the same from the memory engine and from DuckDB (Parquet read in place, or CSV),
never an unknown or a silent zero count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.synthetic import generate_screening
from explorer.engine import write_screening
from explorer.engine.matrix import evaluate
from explorer.errors import DataError
from explorer.trial import load_trial

ENGINES = ("memory", "duckdb")


@pytest.fixture(scope="module")
def trial():
    return load_trial("NCT06196996")  # counts severe hypoglycaemia in two windows and trial participation


@pytest.fixture(scope="module")
def screening():
    data = generate_screening("t1d", 40, seed=3)
    counts = pd.DataFrame({"severe_hypoglycemia@365": np.arange(40, dtype=float) % 3},
                          index=data.features.index)
    return type(data)(data.features, data.events, data.event_lookback, counts, source="events-test")


def folder_with(screening, tmp_path: Path, file_format: str, table: str, change) -> Path:
    """A screening folder whose `table` file is replaced by `change(frame)` (text cells for CSV)."""
    folder = write_screening(screening, tmp_path / file_format, format=file_format)
    path = folder / f"{table}.{file_format}"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False) if file_format == "csv" else pd.read_parquet(path)
    frame = change(frame)
    if file_format == "csv":
        frame.to_csv(path, index=False)
    else:  # a changed column as numbers where it still is numbers, else as text (Parquet has one type)
        for col in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
            numbers = pd.to_numeric(frame[col], errors="coerce")
            text = numbers.isna() & frame[col].notna()
            frame[col] = frame[col].astype("string") if text.any() else numbers
        frame.to_parquet(path, index=False)
    return folder


def _set(column: str, value, row: int = 1):
    def change(frame):
        frame = frame.copy()
        if frame[column].dtype != object:
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame
    return change


def _rename(old: str, new: str):
    return lambda frame: frame.rename(columns={old: new})


CASES = {
    # events: one row per event
    "unknown subject": ("events", _set("subject_id", "NOBODY-1"), "subject_id", "not in features"),
    "blank subject": ("events", _set("subject_id", "  "), "subject_id", "blank subject ids in events"),
    "unknown event": ("events", _set("event", "severe_hypo"), "event", "not catalogue events"),
    "days as text": ("events", _set("days_before_index", "2024-03"), "days_before_index",
                     "are not days before the index date"),
    "negative days": ("events", _set("days_before_index", "-3"), "days_before_index", ">= 0"),
    "infinite days": ("events", _set("days_before_index", "inf"), "days_before_index",
                      "are not days before the index date"),
    "blank days": ("events", _set("days_before_index", None), "days_before_index", "events without days_before_index"),
    "fractional severity": ("events", _set("severity", "1.5"), "severity", "are not whole numbers"),
    "extra column": ("events", lambda f: f.assign(date="2024-01-01"), "date", "does not use"),
    # event_lookback: one row per subject, one column per event
    "lookback negative": ("event_lookback", _set("severe_hypoglycemia", "-1"), "severe_hypoglycemia",
                          "are not days of complete records"),
    "lookback text": ("event_lookback", _set("severe_hypoglycemia", "two years"), "severe_hypoglycemia",
                      "are not days of complete records"),
    "lookback unknown event": ("event_lookback", _rename("severe_hypoglycemia", "hypos"), "hypos",
                               "is not a catalogue event"),
    "lookback unknown subject": ("event_lookback", _set("subject_id", "NOBODY-2"), "subject_id", "not in features"),
    "lookback twice": ("event_lookback", lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True), "subject_id",
                       "lists a subject twice"),
    # event_counts: one row per subject, one column per event@days
    "count fractional": ("event_counts", _set("severe_hypoglycemia@365", "1.5"), "severe_hypoglycemia@365",
                         "are not whole-number counts"),
    "count negative": ("event_counts", _set("severe_hypoglycemia@365", "-2"), "severe_hypoglycemia@365",
                       "are not whole-number counts"),
    "count column": ("event_counts", _rename("severe_hypoglycemia@365", "severe_hypoglycemia@year"),
                     "severe_hypoglycemia@year", "is not event@days"),
}


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_event_table_is_one_error_naming_file_column_and_rows_in_both_engines(trial, screening, tmp_path,
                                                                                      case, file_format):
    table, change, column, words = CASES[case]
    folder = folder_with(screening, tmp_path, file_format, table, change)
    messages = []
    for engine in ENGINES:
        with pytest.raises(DataError) as err:
            evaluate(trial, folder, engine=engine)
        messages.append(str(err.value))
    assert messages[0] == messages[1], "the engines say different things"
    message = messages[0]
    assert "\n" not in message
    assert f"file {folder / f'{table}.{file_format}'}" in message
    assert f"column {column!r}" in message
    assert words in message
    if column in ("subject_id", "days_before_index", "severity", "event") and table == "events":
        assert "rows 2" in message  # the second data row, the one changed


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_identical_event_rows_are_two_events_in_both_engines(trial, tmp_path, file_format):
    """A day can hold two severe hypoglycaemias (records are kept by day, and the generator makes such
    days too): an identical row is a second event, counted by both engines, neither dropped nor refused."""
    from explorer.cohort.screening import Screening

    ids = pd.Index(["a", "b"], name="subject_id", dtype="string")
    features = pd.DataFrame({"age": [30.0, 40.0]}, index=ids)
    events = pd.DataFrame({"subject_id": pd.array(["a", "a", "b"], dtype="string"),
                           "event": pd.array(["severe_hypoglycemia"] * 3, dtype="string"),
                           "days_before_index": [10.0, 10.0, 10.0], "severity": pd.array([3, 3, 3], dtype="Int64")})
    lookback = pd.DataFrame({"severe_hypoglycemia": [365.0, 365.0], "trial_participation": [365.0, 365.0]},
                            index=ids)
    folder = write_screening(Screening(features, events, lookback), tmp_path / file_format, format=file_format)
    two = trial.model_copy(update={"criteria": [trial.criteria[0].model_copy(update={
        "expression": "count(severe_hypoglycemia, within_days=365) >= 2", "parameters": {}})]})
    for engine in ENGINES:
        assert evaluate(two, folder, engine=engine).columns[0].tolist() == [1, 0], engine




def test_writing_a_folder_checks_the_screening_first(tmp_path):
    """write_screening once cast a severity of 1.5 with a raw TypeError (fuzz seed 93) and dropped the
    event_lookback rows of subjects not screened without a word; both are now the checks' errors."""
    from explorer.cohort.screening import Screening

    ids = pd.Index(["a", "b"], name="subject_id", dtype="string")
    features = pd.DataFrame({"age": [30.0, 40.0]}, index=ids)
    events = pd.DataFrame({"subject_id": ["a"], "event": ["severe_hypoglycemia"], "days_before_index": [3.0],
                           "severity": [1.5]})
    with pytest.raises(DataError, match=r"column 'severity', rows 1: 1 values \['1.5'\] are not whole numbers"):
        write_screening(Screening(features, events, source="mine"), tmp_path / "a")
    lookback = pd.DataFrame({"severe_hypoglycemia": [365.0, 365.0, 365.0]},
                            index=pd.Index(["a", "b", "ghost"], name="subject_id", dtype="string"))
    with pytest.raises(DataError, match="event_lookback|not in features"):
        write_screening(Screening(features, event_lookback=lookback, source="mine"), tmp_path / "b")
