"""The synthetic populations' C-peptide below the assay's limit (0.017 nmol/L) is an interval, as a loader keeps a
lab's "<0.017": the in-memory screening, its canonical tables, and those tables read back by pandas, DuckDB and
Spark give the same intervals, reasons and status histograms (docs/data.md, "Censored values are intervals").
Before, the synthetic screening kept the point 0.0085 alone, so "fasting_cpeptide >= 0.01" failed on a guess."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from explorer.catalogue import default_catalogue
from explorer.cohort.features import screening_features
from explorer.cohort.loaders.canonical import load_canonical
from explorer.cohort.synthetic import generate_cohort, generate_screening, write_cohort
from explorer.engine.canonical_sql import canonical_screening_sql
from explorer.engine.duck import DuckDBBackend
from explorer.engine.histogram import engine_histogram
from explorer.engine.memory import MemoryBackend
from explorer.errors import DataError
from explorer.expr import parse

P, F, U = 1, 0, 2
LIMIT = 0.017
REASON = ("censored below the limit of quantification (<0.017 nmol/L): unknown where a threshold lies inside the "
          "interval")
RULES = ["fasting_cpeptide >= 0.01", "fasting_cpeptide >= 0.3", "fasting_cpeptide < 0.017",
         "postmeal_cpeptide < 0.005", "random_cpeptide >= 0.2 or fasting_cpeptide >= 0.01", "hba1c >= 7"]


def criteria():
    return [SimpleNamespace(id=f"c{i}", tree=parse(text), expression=text, parameter_values=dict, kind="inclusion")
            for i, text in enumerate(RULES)]


def rows(screening) -> list[tuple]:
    t = screening.censored
    return sorted(zip(t["subject_id"].astype(str), t["variable"].astype(str), t["low"].astype(float),
                      t["high"].astype(float), strict=True))


def histogram(backend) -> dict[tuple, int]:
    patterns, counts = engine_histogram(backend, criteria(), default_catalogue())
    return {tuple(map(int, p)): int(c) for p, c in zip(patterns, counts, strict=True)}


# the T2D clinic's C-peptide is rarely below the limit: a clinic with low secretion puts many there
POPULATIONS = {"t1d": None, "t2d": {"cpeptide_median": 0.03}}


@pytest.fixture(scope="module", params=sorted(POPULATIONS))
def population(request):
    return request.param


@pytest.fixture(scope="module")
def synthetic(population):
    return generate_screening(population, 2000, seed=5, params=POPULATIONS[population])


@pytest.fixture(scope="module")
def folder(population, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"censored_{population}")
    write_cohort(generate_cohort(population, 2000, seed=5, params=POPULATIONS[population], cgm_readings=0), out,
                 format="parquet")
    return out


def test_values_below_the_limit_are_intervals_with_the_loaders_bounds(synthetic):
    censored = synthetic.censored
    assert censored is not None and len(censored)
    for variable in ("fasting_cpeptide", "postmeal_cpeptide", "random_cpeptide"):
        values = synthetic.features[variable].to_numpy(dtype="float64", na_value=np.nan)
        mine = censored[censored["variable"].astype(str) == variable]
        ids = set(mine["subject_id"].astype(str))
        # exactly the values reported as "<0.017" (their point, L / 2, stays for displays and outcomes)
        assert ids == set(synthetic.features.index[values == LIMIT / 2])
        assert (values[~np.isnan(values)] >= LIMIT / 2).all() and not ((values > LIMIT / 2) & (values < LIMIT)).any()
        assert set(mine["low"].astype(float)) == {0.0}
        assert set(mine["high"].astype(float)) == {np.nextafter(LIMIT, 0)}  # closed bounds of [0, 0.017)


def test_a_threshold_inside_the_interval_is_unknown_with_its_reason_and_one_outside_is_decided(synthetic):
    first, second = MemoryBackend(synthetic).truth_codes(criteria()[:2])
    values = synthetic.features["fasting_cpeptide"].to_numpy(dtype="float64", na_value=np.nan)
    below = values == LIMIT / 2
    assert below.sum() > 20
    assert (first[below] == U).all() and (second[below] == F).all()  # failed on the guess 0.0085 before
    assert (first[values >= LIMIT] == P).all()
    reasons = synthetic.missing_reasons
    mine = reasons[(reasons["variable"].astype(str) == "fasting_cpeptide") & (reasons["reason"].astype(str) == REASON)]
    assert set(mine["subject_id"].astype(str)) == set(synthetic.features.index[below])


def test_outcome_figures_keep_the_point():
    # displays, histograms and outcome trajectories read the point L / 2: the features are what they were
    screening = generate_screening("t1d", 500, seed=2)
    values = screening.features["fasting_cpeptide"].to_numpy(dtype="float64", na_value=np.nan)
    assert np.nanmin(values) == LIMIT / 2


def test_canonical_tables_read_back_give_the_same_intervals_and_histogram_in_pandas_and_duckdb(synthetic, folder):
    loaded = load_canonical(folder)
    pandas_screening = screening_features(loaded.cohort)
    in_place, report = canonical_screening_sql(folder)
    assert rows(pandas_screening) == rows(synthetic) == rows(in_place)
    assert report.conversions == loaded.report.conversions
    expected = histogram(MemoryBackend(synthetic))
    assert histogram(MemoryBackend(pandas_screening)) == expected
    assert histogram(DuckDBBackend(in_place)) == expected
    assert histogram(DuckDBBackend(synthetic)) == expected
    assert any(U in pattern for pattern in expected)


def test_a_csv_folder_writes_the_censored_columns_too(tmp_path):
    write_cohort(generate_cohort("t1d", 300, seed=1, cgm_readings=0), tmp_path, format="csv")
    header = (tmp_path / "measurements.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["censored", "limit"]
    assert rows(screening_features(load_canonical(tmp_path).cohort)) == rows(generate_screening("t1d", 300, seed=1))


def test_spark_reads_the_canonical_tables_to_the_same_histogram(spark, tmp_path):
    from explorer.engine.spark import SparkBackend

    synthetic = generate_screening("t1d", 400, seed=8)
    write_cohort(generate_cohort("t1d", 400, seed=8, cgm_readings=0), tmp_path, format="parquet")
    in_place, _ = canonical_screening_sql(tmp_path, engine="spark", spark=spark)
    assert rows(in_place) == rows(synthetic)
    assert histogram(SparkBackend(in_place, spark=spark)) == histogram(MemoryBackend(synthetic))


BAD = {
    "a censored row without its limit": ("a,2024-01-01,fasting_cpeptide,0.0085,nmol/L,-1,\n", "limit"),
    "a value that is not the point": ("a,2024-01-01,fasting_cpeptide,0.5,nmol/L,<,0.017\n", "value"),
    "a code that is no code": ("a,2024-01-01,fasting_cpeptide,0.0085,nmol/L,3,0.017\n", "censored"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_censored_columns_are_checked_alike_in_pandas_and_duckdb(case, tmp_path):
    line, column = BAD[case]
    (tmp_path / "subjects.csv").write_text("subject_id,sex,index_date\na,F,2024-01-10\n")
    (tmp_path / "measurements.csv").write_text("subject_id,time,variable,value,unit,censored,limit\n" + line)
    with pytest.raises(DataError) as pandas_error:
        load_canonical(tmp_path)
    with pytest.raises(DataError) as sql_error:
        canonical_screening_sql(tmp_path)
    assert sql_error.value.column == column
    assert f"column '{column}'" in str(pandas_error.value) or pandas_error.value.column == column


def test_a_symbol_or_a_blank_value_is_read_as_the_loaders_keep_it(tmp_path):
    (tmp_path / "subjects.csv").write_text("subject_id,sex,index_date\na,F,2024-01-10\nb,M,2024-01-10\n")
    (tmp_path / "measurements.csv").write_text("subject_id,time,variable,value,unit,censored,limit\n"
                                               "a,2024-01-01,fasting_cpeptide,,ng/mL,<,1.0\n"
                                               "b,2024-01-01,fasting_cpeptide,0.5,nmol/L,,\n")
    screening = screening_features(load_canonical(tmp_path).cohort)
    in_place, _ = canonical_screening_sql(tmp_path)
    assert rows(screening) == rows(in_place)
    assert rows(screening)[0][:3] == ("a", "fasting_cpeptide", 0.0) and rows(screening)[0][3] == pytest.approx(0.3311,
                                                                                                              abs=1e-4)
    assert pd.isna(screening.features["fasting_cpeptide"]["a"]) is False
