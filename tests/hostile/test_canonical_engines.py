"""Hostile canonical folders give the same histograms, or the same refusal, on every path to an engine.

The paths: the pandas loader and derivation (memory), DuckDB reading the folder in place, DuckDB deriving it range
by range into a screening folder (ranges of 1-3 subjects, so ranges split the cohort). The folders come from
random_cohort.write_hostile_canonical; scripts/fuzz_canonical.py runs many more seeds, and Spark in place with
--spark (a Spark derivation of one small folder took over a minute at load 14: too slow for the suite).
"""

from __future__ import annotations

import shutil

import pytest
from engine_fuzz import CANONICAL_BAD, run_canonical
from project_paths import FIXTURES

from explorer.engine.canonical_sql import canonical_screening_folder
from explorer.errors import DataError

SEEDS = [9, 109, *range(200, 212)]  # 9 and 109 were refused naming the temporary screening folder (ranged path)


def test_hostile_canonical_folders_agree_on_every_path():
    bad = []
    counts = run_canonical(SEEDS, on_case=lambda seed, outcome, detail: bad.append((seed, outcome, detail))
                           if outcome in CANONICAL_BAD else None)
    assert not bad, bad
    assert counts["agree"] >= 2, counts  # the folders are not all refused: the histograms were compared


@pytest.mark.parametrize("column, value", [("birth_date", "1900-02-28")])
def test_a_derived_value_out_of_range_names_the_folder_the_user_gave_on_the_ranged_path(tmp_path, column, value):
    """A birth date in 1900 derives an age of 124: the ranged path's error named its temporary screening
    folder's features.parquet, and only when the folder was first evaluated; then the folder the user gave and
    column `age`, which the user's files do not have. Now it names their subjects file and the date column."""
    folder = tmp_path / "canonical"
    shutil.copytree(FIXTURES / "cohort" / "canonical", folder)
    text = (folder / "subjects.csv").read_text()
    (folder / "subjects.csv").write_text(text.replace("1980-05-01", value, 1))
    with pytest.raises(DataError) as caught:
        canonical_screening_folder(folder, tmp_path / "screening", range_subjects=1)
    assert caught.value.file == str(folder / "subjects.csv") and caught.value.column == column
    assert f"{column} {value} gives an age of 124 at the index date 2024-03-01, outside the plausible 0-120 " \
           "years" in str(caught.value)



def test_a_folder_refused_after_it_was_written_is_not_left_behind(tmp_path, monkeypatch):
    """Above sources.FOLDER_ABOVE subjects the screening is written to a temporary folder, then checked
    (check_written): a refusal there left the folder on disk until the process ended (canonical tables) or for
    good (an OMOP CDM). Now the refusal removes it and still names the user's file."""
    import tempfile

    import explorer.sources as sources
    from explorer.sources import DataSource, open_source

    folder = tmp_path / "canonical"
    shutil.copytree(FIXTURES / "cohort" / "canonical", folder)
    text = (folder / "subjects.csv").read_text()
    (folder / "subjects.csv").write_text(text.replace("1980-05-01", "1900-02-28", 1))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(sources, "FOLDER_ABOVE", 2)
    with pytest.raises(DataError) as caught:
        open_source(DataSource(kind="path", path=str(folder), engine="duckdb"), read_folder=False, engine="duckdb")
    assert caught.value.file == str(folder / "subjects.csv") and "age of 124" in str(caught.value)
    assert not list(temporary.glob("trial-explorer-screening-*"))
