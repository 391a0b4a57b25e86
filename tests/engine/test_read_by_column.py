"""read_screening takes a features file one column at a time (compacting each number column as it arrives):
the same Screening, bit for bit, as reading the whole table, the same refusals, and a peak that is what is
held plus a column, not the whole file several times over."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from explorer.catalogue import default_catalogue
from explorer.cohort.checks import typed_features
from explorer.cohort.compact import compacted, is_number_levels
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.engine import evaluate, read_screening, write_screening
from explorer.engine.layout import find_tables
from explorer.errors import DataError
from explorer.trial import load_trial

T1D = load_trial("NCT06196996")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_screening(generate_screening("t1d", 3000, seed=11, missing_reasons=False),
                           tmp_path_factory.mktemp("bycolumn") / "s")


def whole_table_reading(folder, compact: bool) -> pd.DataFrame:
    """What read_screening did before: the whole file read, typed, then compacted."""
    path = find_tables(folder)["features"]
    features = typed_features(pq.read_table(path).to_pandas(), default_catalogue(), file=str(path))
    return compacted(features) if compact else features


@pytest.mark.parametrize("compact", [True, False])
def test_the_column_by_column_reading_gives_the_whole_tables_features_bit_for_bit(folder, compact):
    got = read_screening(folder, compact=compact).features
    expected = whole_table_reading(folder, compact)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    numbers = [c for c in got.columns if is_number_levels(got[c].dtype) or got[c].dtype == np.float64]
    assert numbers and all(is_number_levels(got[c].dtype) == compact for c in numbers)


def test_the_statuses_are_the_same_whichever_way_the_folder_is_read(folder):
    by_column = evaluate(T1D, read_screening(folder, compact=True))
    whole = evaluate(T1D, replace(read_screening(folder), features=whole_table_reading(folder, compact=False)))
    assert np.array_equal(by_column.codes, whole.codes) and by_column.subject_ids.equals(whole.subject_ids)


def test_a_bad_value_is_refused_with_the_whole_tables_message(tmp_path, folder):
    table = pq.read_table(find_tables(folder)["features"])
    at = table.schema.get_field_index("hba1c")
    values = table.column("hba1c").to_numpy(zero_copy_only=False).copy()
    values[7] = 99.0  # outside the plausible range
    pq.write_table(table.set_column(at, "hba1c", pa.array(values)), tmp_path / "features.parquet")
    with pytest.raises(DataError) as by_column:
        read_screening(tmp_path, compact=True)
    with pytest.raises(DataError) as whole:
        whole_table_reading(tmp_path, compact=True)
    assert str(by_column.value) == str(whole.value)
    assert "hba1c" in str(by_column.value) and "features.parquet" in str(by_column.value)


def test_a_pandas_index_written_into_the_file_is_not_read_as_a_column(tmp_path, folder):
    frame = pq.read_table(find_tables(folder)["features"]).to_pandas()
    frame.index = pd.RangeIndex(len(frame)) + 1000  # stored as __index_level_0__
    frame.to_parquet(tmp_path / "features.parquet", index=True)
    got = read_screening(tmp_path, compact=True).features
    pd.testing.assert_frame_equal(got, whole_table_reading(folder, compact=True), check_exact=True)


def test_the_peak_while_reading_is_what_is_held_plus_a_few_columns(tmp_path):
    """Failed before: the whole file was typed (every number column as float64, twice while the frame was
    built) before compaction, so the peak of NumPy's allocations was several times what is held."""
    n = 200_000
    folder = write_screening(generate_screening("t1d", n, seed=3, missing_reasons=False), tmp_path / "big")
    read_screening(folder, compact=True)  # imports and first-use caches out of the measurement
    tracemalloc.start()
    try:
        screening = read_screening(folder, compact=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    features, censored = screening.features, screening.censored
    held = features.memory_usage(deep=True).sum()
    numbers = sum(1 for c in features.columns if is_number_levels(features[c].dtype))
    assert numbers > 20 and len(censored) > n // 2  # a T1D cohort's C-peptides below 0.017 nmol/L
    # a few float64 columns of headroom (one being read, its checks, its codes), not all of them; and the
    # censored intervals, read after the features: a few 8-byte columns of their rows (the subjects' positions,
    # a bound being levelled, its codes), not a Python string a row (read as pandas text: 22 MB more at the peak)
    assert peak < held + 6 * 8 * n + 5 * 8 * len(censored), (peak / 1e6, held / 1e6)
