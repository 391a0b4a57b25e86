"""explorer.engine.duck: DuckDB's memory settings, and the event tables of a folder checked in bounded memory."""

from __future__ import annotations

import pandas as pd
import pytest

from explorer.cohort.synthetic import generate_screening
from explorer.engine import duck, write_screening
from explorer.engine.duck import DuckDBBackend
from explorer.engine.matrix import evaluate
from explorer.errors import DataError
from explorer.trial import load_trial


@pytest.fixture(scope="module")
def trial():
    return load_trial("NCT06196996")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_screening(generate_screening("t1d", 60, seed=5), tmp_path_factory.mktemp("duck") / "cohort")


def _setting(backend: DuckDBBackend, name: str):
    return backend.con.execute(f"SELECT current_setting('{name}')").fetchone()[0]


def test_duckdb_is_held_to_the_memory_limit_and_spills_outside_the_working_folder(folder, trial, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    backend = DuckDBBackend(folder, trial.catalogue)
    assert _setting(backend, "memory_limit") in ("953.6 MiB", "1.0 GiB", "1000.0 MB")  # DuckDB prints 1GB so
    assert _setting(backend, "preserve_insertion_order") is False
    assert _setting(backend, "enable_progress_bar") is False  # it is drawn on stdout, into the CLI's JSON
    assert not str(_setting(backend, "temp_directory")).startswith(str(tmp_path))
    assert DuckDBBackend(folder, trial.catalogue, memory_limit="2GB").con.execute(
        "SELECT current_setting('memory_limit')").fetchone()[0] != _setting(backend, "memory_limit")


def test_the_memory_limit_is_raised_by_an_environment_variable_and_a_bad_one_is_named(folder, trial, monkeypatch):
    monkeypatch.setenv(duck.MEMORY_ENV, "3GB")
    raised = _setting(DuckDBBackend(folder, trial.catalogue), "memory_limit")
    assert raised != _setting(DuckDBBackend(folder, trial.catalogue, memory_limit="1GB"), "memory_limit")
    assert raised in ("2.7 GiB", "2.8 GiB", "3.0 GiB", "3000.0 MB")
    monkeypatch.setenv(duck.MEMORY_ENV, "lots")
    with pytest.raises(DataError, match=duck.MEMORY_ENV):
        DuckDBBackend(folder, trial.catalogue)


def test_a_valid_folder_is_checked_without_reading_whole_event_tables_into_pandas(folder, trial, monkeypatch):
    """The whole-file check (every id and every event row in pandas) made DuckDB's peak 4.3 GB at 10^7
    subjects; a valid folder must pass on the batched check alone, with the memory engine's statuses."""
    def whole_file_check(*args, **kwargs):
        raise AssertionError("layout.check_event_files read the whole event tables")

    monkeypatch.setattr(duck, "check_event_files", whole_file_check)
    monkeypatch.setattr(duck, "CHECK_BATCH", 16)  # several batches per table
    in_duckdb = evaluate(trial, folder, engine="duckdb")
    in_memory = evaluate(trial, folder, engine="memory")
    assert in_duckdb.to_frame().equals(in_memory.to_frame())


@pytest.mark.parametrize(("table", "column", "value", "words"), [
    ("events", "days_before_index", -3.0, ">= 0"),
    ("events", "subject_id", "NOBODY-1", "not in features"),
    ("event_lookback", "severe_hypoglycemia", -1.0, "are not days of complete records"),
    ("event_lookback", "subject_id", "NOBODY-2", "not in features"),
])
def test_a_bad_row_in_a_later_batch_gets_the_memory_engines_message(folder, trial, tmp_path, monkeypatch, table,
                                                                   column, value, words):
    """Checked 16 rows at a time, a bad row far down still gets the message that numbers it over the whole
    file, the same as the memory engine's."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for path in folder.iterdir():
        if path.name != "screening.json":  # the manifest's sizes would void the edited file anyway
            (bad / path.name).write_bytes(path.read_bytes())
    frame = pd.read_parquet(bad / f"{table}.parquet")
    row = len(frame) - 2
    assert row >= 32  # beyond the first two batches
    frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    frame[column] = frame[column].astype("string" if column == "subject_id" else "float64")
    frame.to_parquet(bad / f"{table}.parquet", index=False)
    monkeypatch.setattr(duck, "CHECK_BATCH", 16)
    messages = []
    for engine in ("memory", "duckdb"):
        with pytest.raises(DataError) as err:
            evaluate(trial, bad, engine=engine)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert words in messages[1] and f"file {bad / f'{table}.parquet'}" in messages[1]
