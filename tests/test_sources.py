"""explorer.sources.open_source: one way from a data source to the engines' input, for every front end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.compact import widened
from explorer.cohort.synthetic import generate_cohort, generate_screening, write_cohort
from explorer.engine import write_screening
from explorer.errors import DataError, DefinitionError
from explorer.sources import DataSource, is_screening_folder, open_source
from explorer.trial import load_trial


@pytest.fixture(scope="module")
def cohort_folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("cohort")
    write_cohort(generate_cohort("t2d", 60, seed=4, cgm_readings=0), path, format="csv")
    return path


@pytest.fixture(scope="module")
def screening_folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("screening")
    write_screening(generate_screening("t1d", 80, seed=5), path, format="csv")
    return path


def test_synthetic_is_the_seeded_population():
    opened = open_source(DataSource("synthetic", "t2d", 150, 3))
    expected = generate_screening("t2d", 150, seed=3)
    # an opened source holds its numbers as level codes (compact): the same float64 values
    pd.testing.assert_frame_equal(widened(opened.screening.features), expected.features)
    assert opened.cohort is None and opened.report is None
    assert opened.label == "synthetic t2d n=150 seed=3"


def test_data_the_loaders_read_gives_screening_cohort_and_report(cohort_folder):
    trial = load_trial("NCT01142050")
    opened = open_source(DataSource("path", path=str(cohort_folder)), catalogue=trial.catalogue)
    assert len(opened.cohort.subjects) == 60 and opened.report.kind == "canonical"
    assert sorted(opened.screening.features.index) == sorted(opened.cohort.subjects["subject_id"])
    assert opened.label == f"{cohort_folder} (canonical)"
    tables_only = open_source(DataSource("path", path=str(cohort_folder)), screen=False)
    assert tables_only.screening is None and len(tables_only.cohort.subjects) == 60


def test_a_screening_folder_is_read_or_left_in_place(screening_folder, cohort_folder):
    assert is_screening_folder(screening_folder) and not is_screening_folder(cohort_folder)
    source = DataSource("path", path=str(screening_folder))
    read = open_source(source)
    assert len(read.screening.features) == 80 and read.cohort is None
    assert read.label == f"screening folder {screening_folder}"
    assert open_source(source, read_folder=False).screening == screening_folder


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no such file or folder") as caught:
        open_source(DataSource("path", path=str(tmp_path / "nothing")))
    assert str(tmp_path / "nothing") in str(caught.value)
    with pytest.raises(DefinitionError, match="synthetic size 0"):
        open_source(DataSource("synthetic", "t1d", 0, 0))
    with pytest.raises(DefinitionError, match="population 't3d'"):
        open_source(DataSource("synthetic", "t3d", 10, 0))
    with pytest.raises(DefinitionError, match="a data path is needed"):
        open_source(DataSource("path", path=""))


def test_relative_paths_are_read_from_base_dir(cohort_folder, tmp_path):
    relative = DataSource("path", path=cohort_folder.name)
    assert len(open_source(relative, base_dir=cohort_folder.parent).cohort.subjects) == 60
    with pytest.raises(DataError, match=f"relative paths are read from {tmp_path}"):
        open_source(relative, base_dir=tmp_path)


def test_text_form_round_trips():
    for source in (DataSource("synthetic", "t2d", 1234, 7), DataSource("path", path="/data/x")):
        assert DataSource.from_text(source.to_text()) == source


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_screening_folder_opened_for_memory_holds_its_numbers_compact_and_exact(tmp_path, file_format):
    # a 10^7 folder held as float64 took 6.6 GB resident (memory_1e7_engines.md); as level codes the values are the
    # same bit for bit, so every count is too
    from explorer.cohort.compact import is_number_levels
    from explorer.engine import evaluate, final_counts, read_screening

    screening = generate_screening("t1d", 400, seed=11)
    write_screening(screening, tmp_path, format=file_format)
    opened = open_source(DataSource("path", path=str(tmp_path)))
    wide = read_screening(tmp_path)
    numbers = [c for c in wide.features.columns if wide.features[c].dtype == "float64"]
    assert numbers and all(is_number_levels(opened.screening.features[c].dtype) for c in numbers)
    pd.testing.assert_frame_equal(widened(opened.screening.features), wide.features)
    trial = load_trial("NCT06196996")
    compact, floats = evaluate(trial, opened.screening), evaluate(trial, wide)
    assert np.array_equal(compact.codes, floats.codes) and final_counts(compact) == final_counts(floats)
