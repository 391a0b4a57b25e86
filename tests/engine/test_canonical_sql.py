"""Canonical tables read in place by DuckDB and Spark (explorer/engine/canonical_sql.py) against the pandas loader.

The reference is the pandas path (load_canonical, then explorer.cohort.features): the in-place path must
give the same features, missing reasons, events and statuses, the same load report, and the same one-line
error for every breakage the loader names.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from cli_json import funnel_json
from engine_fuzz import canonical_paths
from screening_compare import assert_same_screening, assert_same_statuses

from explorer.catalogue import default_catalogue
from explorer.cohort.features import UNUSABLE_REASON, outside_reason, screening_features
from explorer.cohort.loaders import load, load_canonical
from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort
from explorer.engine.canonical_sql import canonical_screening_folder, canonical_screening_sql, register
from explorer.engine.features_sql import DuckRunner, derive
from explorer.engine.layout import read_screening
from explorer.errors import DataError

# Cells the loader has a rule for, added to the canonical fixture: missing markers, censored values, partial
# dates, repeated labs with different values, a column the catalogue lacks, CGM words and censored readings,
# categorical counts.
MESSY = {
    "measurements.csv": ["A1,2024-02-01,fasting_cpeptide,NA,nmol/L,,", "A2,2024-02-15,fasting_glucose,>600,mg/dL,,",
                         "A3,2023,hba1c,7.1,%,,", "A3,2023-12,weight,80,kg,,", "A1,2024-02-01,weight,72,kg,,",
                         "A2,2024-02-15,fasting_insulin,  12 ,microU/mL,,"],
    "cgm.csv": ["A2,2024-02-20 00:00:00,LO", "A2,2024-02-20 00:15:00,HI", "A2,2024-02-20 00:30:00,<45",
                "A2,2024-02-20 00:45:00,", "A2,2024-02-20 01:00:00,>400", "A1,2024-02-16 00:00:00,50"],
    "event_counts.csv": ["A1,severe_hypoglycemia,365,>3", "A2,severe_hypoglycemia,730,<=2"],
}


@pytest.fixture
def folder(fixtures_dir, tmp_path) -> Path:
    """The canonical fixture with messy cells added."""
    target = tmp_path / "canonical"
    shutil.copytree(fixtures_dir / "cohort" / "canonical", target)
    for name, rows in MESSY.items():
        with open(target / name, "a") as handle:
            handle.write("\n".join(rows) + "\n")
    subjects = pd.read_csv(target / "subjects.csv", dtype=str, keep_default_na=False)
    subjects["favourite_colour"] = ["red", "", "blue"]
    subjects.to_csv(target / "subjects.csv", index=False)
    return target


def pandas_path(path, **options):
    loaded = load_canonical(path, **options)
    return screening_features(loaded.cohort), loaded.report


def assert_same(path, **options) -> None:
    expected, expected_report = pandas_path(path, **options)
    got, report = canonical_screening_sql(path, **options)
    assert_same_screening(expected, got)
    assert_same_statuses(expected, got)
    assert report.summary() == expected_report.summary()


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


# --- the same screening and report ----------------------------------------------------------------------------

def test_the_messy_fixture_reaches_the_loaders_rules(folder):
    _, report = pandas_path(folder)
    text = report.summary()
    for expected in ("value: below_limit", "value: above_limit", "time: partial date (year only)",
                     "time: partial date (year-month)", "unit hba1c: mmol/mol -> %", "favourite_colour",
                     "repeated measurements at one time", "below the sensor range", "above the sensor range",
                     "glucose missing", "duplicate reading", "count: open_range", "count: range"):
        assert expected in text, expected


def test_in_place_equals_the_pandas_loader_on_the_messy_fixture(folder):
    assert_same(folder)


def test_a_folder_named_like_a_glob_is_read_as_itself(folder, tmp_path):
    """DuckDB globs the paths it reads: `site[1]` would read `site1`'s files, and `site*` both folders."""
    named = tmp_path / "site[1]*"
    shutil.copytree(folder, named)
    decoy = tmp_path / "site1"
    shutil.copytree(folder, decoy)
    subjects = pd.read_csv(decoy / "subjects.csv", dtype=str, keep_default_na=False)
    pd.concat([subjects, subjects.assign(subject_id=subjects["subject_id"] + "-decoy")]).to_csv(
        decoy / "subjects.csv", index=False)
    assert_same(named)
    assert len(canonical_screening_sql(named)[0].features) == len(pandas_path(named)[0].features)


def test_parquet_text_tables_equal_the_csv(folder, tmp_path):
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    for csv in folder.glob("*.csv"):
        pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""]).to_parquet(parquet / f"{csv.stem}.parquet")
    assert_same(parquet)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_synthetic_export_equals_the_pandas_loader(tmp_path, fmt):
    # typed Parquet columns (doubles, timestamps, booleans) take the loader's typed paths
    out = tmp_path / fmt
    write_cohort(generate_cohort("t1d", 120, seed=5, cgm_readings=3), out, format=fmt)
    assert_same(out)


def test_register_fills_the_views_a_benchmark_derives_from(tmp_path):
    out = tmp_path / "synthetic"
    write_cohort(generate_cohort("t2d", 60, seed=2, cgm_readings=0), out)
    expected, _ = pandas_path(out)
    con = duckdb.connect()
    columns, views, report = register(con, out)
    assert "measurements" in views and report.kind == "canonical"
    assert_same_screening(expected, derive(DuckRunner(con), views, columns, source=str(out)))


def test_a_measurement_without_a_usable_value_is_said_so_alike_on_every_path(folder, tmp_path):
    """A1's C-peptide of 2024-02-01 is "NA" and, rejected, A2's creatinine of 95 mg/dL is implausible: both were
    measured in the window, so neither is "never measured" (it was, before: the loaders dropped the rows)."""
    replace(folder / "measurements.csv", "creatinine,1.0,mg/dL", "creatinine,95,mg/dL")
    expected, _ = pandas_path(folder, on_invalid="reject")
    why = expected.missing_reasons.astype(str).set_index(["subject_id", "variable"])["reason"]
    assert why["A1", "fasting_cpeptide"] == why["A2", "creatinine"] == UNUSABLE_REASON
    assert why["A3", "creatinine"] == "never measured"
    assert_same(folder, on_invalid="reject")
    # range by range into a screening folder (ranges of one subject), as a large folder is read
    screening = read_screening(canonical_screening_folder(folder, tmp_path / "screening", on_invalid="reject",
                                                          range_subjects=1)[0])
    pd.testing.assert_frame_equal(screening.missing_reasons.astype(str).sort_values(["subject_id", "variable"])
                                  .reset_index(drop=True),
                                  expected.missing_reasons.astype(str).sort_values(["subject_id", "variable"])
                                  .reset_index(drop=True))


# --- the loader's errors and rejects ------------------------------------------------------------------------

BREAKAGES = {
    "text in a number": ("measurements.csv", "hba1c,7.5,", "hba1c,seven,"),
    "unit of another quantity": ("measurements.csv", "hba1c,7.5,%", "hba1c,7.5,mg/dL"),
    "unknown unit": ("measurements.csv", "weight,70,kg", "weight,70,stone-ish"),
    "out of range": ("measurements.csv", "hba1c,7.5,", "hba1c,95,"),
    "duplicate subject ids": ("subjects.csv", "A3,male", "A1,male"),
    "not an ISO date": ("measurements.csv", "A1,2023-06-01", "A1,06/01/2023"),
    "date beyond 2262": ("measurements.csv", "A1,2023-06-01", "A1,2999-06-01"),
    "missing column": ("subjects.csv", "index_date", "index_day"),
    "bad sex": ("subjects.csv", "A1,female", "A1,femme"),
    "bad yes/no": ("subjects.csv", "T1D,false", "T1D,maybe"),
    "bad category": ("subjects.csv", "T2D", "T3D"),
    "unknown subject": ("events.csv", "A2,2024-01-10", "Z9,2024-01-10"),
    "before birth": ("measurements.csv", "A1,2023-06-01", "A1,1970-06-01"),
    "event in the future": ("events.csv", "2024-05-01", "2099-05-01"),
    "fractional severity": ("events.csv", "severe_hypoglycemia,3", "severe_hypoglycemia,2.5"),
    "unknown event": ("events.csv", "2023-12-01,severe_hypoglycemia", "2023-12-01,alien_abduction"),
    "CGM outside the sensor range": ("cgm.csv", "2024-02-16 00:00:00,50", "2024-02-16 00:00:00,5"),
    "two CGM values at one time": ("cgm.csv", "A1,2024-02-16 00:15:00,50", "A1,2024-02-16 00:00:00,55"),
    "diagnosis after the index date": ("subjects.csv", "2000-01-01", "2025-01-01"),
    "negative count window": ("event_counts.csv", "365,5 - 9", "-1,5 - 9"),
    "unknown subject of a count": ("event_counts.csv", "A3,", "Q7,"),
}
REJECTABLE = ("out of range", "unknown subject", "before birth", "event in the future", "unknown event",
              "CGM outside the sensor range", "two CGM values at one time", "negative count window",
              "unknown subject of a count")


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_a_breakage_gives_the_loaders_error(folder, name):
    file, old, new = BREAKAGES[name]
    replace(folder / file, old, new)
    with pytest.raises(DataError) as expected:
        load_canonical(folder)
    with pytest.raises(DataError) as got:
        canonical_screening_sql(folder)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("name", REJECTABLE)
def test_rejected_rows_are_the_loaders(folder, name):
    file, old, new = BREAKAGES[name]
    replace(folder / file, old, new)
    assert_same(folder, on_invalid="reject")


# --- trial-explorer funnel --engine duckdb equals --engine memory ------------------------------------------

def no_pandas_loader(*args, **kwargs):
    raise AssertionError("the in-place path must not load the canonical tables through pandas")


def test_funnel_duckdb_reads_the_folder_in_place_and_equals_memory(capsys, folder, tmp_path, monkeypatch):
    import explorer.cohort.loaders as loaders

    synthetic = tmp_path / "synthetic"
    write_cohort(generate_cohort("t1d", 150, seed=9, cgm_readings=2), synthetic, format="csv")
    memory = {data: funnel_json(capsys, data, "memory") for data in (folder, synthetic)}
    monkeypatch.setattr(loaders, "load", no_pandas_loader)
    monkeypatch.setattr(loaders, "load_canonical", no_pandas_loader)
    monkeypatch.setattr("explorer.sources.load", no_pandas_loader)
    for data, expected in memory.items():
        assert funnel_json(capsys, data, "duckdb") == expected


# --- every shared dataset the loaders read, exported as canonical tables --------------------------------------

SHARED_SOURCES = {
    "sdtm": "subjects/cdisc_pilot_pharmaversesdtm",
    "shanghai": "subjects/shanghai_summary",
    "t1d_exchange": "subjects/weinstock2016_t1d_exchange",
    "omop": "subjects/omop_synthea27nj/Synthea27Nj_5.4.zip",
    "iglu": "cgm/iglu_r_package/example_data_5_subject.csv",
    "shanghai_cgm": "cgm/shanghai_t1dm_t2dm/shanghai_cgm_long.csv",
}


@pytest.mark.shared
@pytest.mark.parametrize("name", list(SHARED_SOURCES))
def test_a_shared_dataset_exported_to_canonical_tables_reads_in_place(shared_data, tmp_path, name):
    source = shared_data / SHARED_SOURCES[name]
    if not source.exists():
        pytest.skip(f"{source} is not in this copy of ../shared/data")
    if source.suffix == ".zip":  # the OMOP archive: its tables as a folder, as the loader reads them
        folder = tmp_path / "cdm"
        folder.mkdir()
        with zipfile.ZipFile(source) as z:
            for member in z.namelist():
                if member.lower().endswith(".csv") and not member.startswith("__MACOSX/"):
                    (folder / Path(member).name).write_bytes(z.read(member))
        source = folder
    out = tmp_path / "canonical"
    write_cohort(load(source).cohort, out, format="csv")
    assert_same(out)


# --- Spark ------------------------------------------------------------------------------------------

def test_spark_reads_the_messy_fixture_in_place(spark, folder):
    expected, expected_report = pandas_path(folder)
    got, report = canonical_screening_sql(folder, engine="spark", spark=spark)
    assert_same_screening(expected, got)
    assert report.summary() == expected_report.summary()


# --- times with a time zone -------------------------------------------------------------------------------------

# A zone per table: with daylight-saving time (Paris, New York), a fixed offset, UTC.
ZONES = {"subjects": "UTC", "measurements": "+05:00", "events": "America/New_York", "cgm": "Europe/Paris",
         "event_history": "Asia/Kolkata"}
TIME_COLUMNS = ("time", "birth_date", "diagnosis_date", "index_date", "recorded_from")


def zoned_exports(tmp_path: Path, fmt: str, unit: str = "us") -> tuple[Path, Path]:
    """The same synthetic tables twice: naive wall-clock times, and those wall-clock times in ZONES (rows whose
    clock time a daylight-saving change skips or repeats left out of both); Parquet timestamps in `unit` ("ns"
    is pandas' default)."""
    naive, zoned = tmp_path / "naive", tmp_path / f"zoned_{fmt}"
    write_cohort(generate_cohort("t1d", 60, seed=7, cgm_readings=400), naive, format="parquet")
    zoned.mkdir()
    for path in naive.glob("*.parquet"):
        table = pd.read_parquet(path)
        keep = pd.Series(True, index=table.index)
        for column in TIME_COLUMNS:
            if column in table.columns:
                aware = table[column].dt.tz_localize(ZONES[path.stem], ambiguous="NaT", nonexistent="NaT")
                keep &= aware.notna() | table[column].isna()
                table[column] = aware
        table = table[keep]
        coerce = {} if unit == "ns" else {"coerce_timestamps": unit, "allow_truncated_timestamps": True}
        if fmt == "parquet":
            table.to_parquet(zoned / path.name, **coerce)
        else:
            table.to_csv(zoned / f"{path.stem}.csv", index=False)
        pd.read_parquet(path)[keep].to_parquet(path, **coerce)
    return naive, zoned


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_times_with_a_time_zone_are_the_wall_clock_times_as_the_loader_reads_them(tmp_path, fmt):
    """The loader keeps a zoned time's wall-clock time in its own zone (parse_dates): a Parquet timestamp with a
    zone is stored as a UTC instant, which DuckDB converted to UTC (or the session's zone) before; CSV's offsets
    are dropped from the text."""
    naive, zoned = zoned_exports(tmp_path, fmt)
    if fmt == "parquet":
        assert str(pd.read_parquet(zoned / "cgm.parquet")["time"].dt.tz) == "Europe/Paris"
    else:
        assert "+05:00" in (zoned / "measurements.csv").read_text()
    assert_same(zoned)
    expected, _ = pandas_path(naive)
    got, _ = canonical_screening_sql(zoned)
    assert_same_screening(expected, got)


def test_spark_reads_parquet_times_with_a_time_zone_as_wall_clock_times(spark, tmp_path):
    naive, zoned = zoned_exports(tmp_path, "parquet")
    expected, _ = pandas_path(naive)
    got, _ = canonical_screening_sql(zoned, engine="spark", spark=spark)
    assert_same_screening(expected, got)


def test_a_time_zone_duckdb_does_not_know_is_refused_naming_the_file_and_column(tmp_path):
    import pyarrow as pa

    naive, zoned = zoned_exports(tmp_path, "parquet")
    table = pq.read_table(zoned / "events.parquet")
    at = table.schema.get_field_index("time")
    table = table.set_column(at, pa.field("time", pa.timestamp("us", tz="America/New_York")),
                             table["time"].cast(pa.timestamp("us", tz="America/New_York")))
    schema = table.schema.set(at, pa.field("time", pa.timestamp("us", tz="Mars/Olympus_Mons")))
    pq.write_table(pa.Table.from_arrays(table.columns, schema=schema), zoned / "events.parquet")
    with pytest.raises(DataError, match=r"events\.parquet, column 'time': timestamps in the time zone 'Mars/Olympus_Mons'"):
        canonical_screening_sql(zoned)


# --- a canonical folder too large for a Screening in memory: written as a screening folder ------------------

def test_a_large_folder_becomes_a_screening_folder_and_its_funnel_equals_memory(capsys, folder, tmp_path,
                                                                                monkeypatch):
    """Above sources.FOLDER_ABOVE subjects, --engine duckdb derives the features range by range into a temporary
    screening folder and evaluates it in place: the funnel equals the memory engine's (unknowns included)."""
    import explorer.sources as sources
    from explorer.engine import omop_sql

    synthetic = tmp_path / "synthetic"
    write_cohort(generate_cohort("t1d", 150, seed=9, cgm_readings=2), synthetic, format="parquet")
    memory = {data: funnel_json(capsys, data, "memory") for data in (folder, synthetic)}
    written, original = [], omop_sql.write_screening_folder

    def small_ranges(run, tables, names, out, **options):  # ranges of 7: the messy fixture's 3 in one, 150 in 22
        written.append(out)
        return original(run, tables, names, out, **{**options, "range_subjects": 7})

    monkeypatch.setattr(sources, "FOLDER_ABOVE", 2)
    monkeypatch.setattr(omop_sql, "write_screening_folder", small_ranges)
    monkeypatch.setattr("explorer.sources.load", no_pandas_loader)
    for data, expected in memory.items():
        assert funnel_json(capsys, data, "duckdb") == expected
    assert len(written) == 2 and all((out / "features.parquet").is_file() for out in written)
    # and why each unknown is unknown, as the memory engine's derivation says (explorer.engine.layout reads it)
    from explorer.engine.layout import read_screening

    for data, out in zip(memory, written, strict=True):
        expected = screening_features(load(data).cohort).missing_reasons
        got = read_screening(out).missing_reasons
        rows = [sorted(zip(*(r[c].astype(str) for c in ("subject_id", "variable", "reason")), strict=True))
                for r in (got, expected)]
        assert rows[0] and rows[0] == rows[1]


def test_spark_reads_pandas_nanosecond_timestamps_naive_and_zoned(spark, tmp_path):
    """pandas writes Parquet timestamps in nanoseconds, which Spark has no type for (it refused the project's own
    `write_cohort` export with PARQUET_TYPE_ILLEGAL): read as counts and floored to the microsecond, they give
    the loader's features, wall-clock times (birth dates before 1970 among them) and zoned instants alike."""
    naive, zoned = zoned_exports(tmp_path, "parquet", unit="ns")
    assert str(pq.read_schema(naive / "subjects.parquet").field("birth_date").type) == "timestamp[ns]"
    assert str(pq.read_schema(zoned / "cgm.parquet").field("time").type) == "timestamp[ns, tz=Europe/Paris]"
    assert (pd.read_parquet(naive / "subjects.parquet")["birth_date"] < "1970-01-01").any()
    expected, _ = pandas_path(naive)
    for folder in (naive, zoned):
        got, _ = canonical_screening_sql(folder, engine="spark", spark=spark)
        assert_same_screening(expected, got)
    assert spark.conf.get("spark.sql.legacy.parquet.nanosAsLong") == "false"  # set only while a file is read


# --- a placeholder date: an age or duration outside the plausible range -----------------------------------------
# Exports code an unknown birth date as 1900-01-01, an age of 124: every path refused the whole folder naming
# column `age`, also with on_invalid="reject". Now the date column is named; with "reject" the value is unknown.
PLACEHOLDERS = {  # column: (old subject row start, new one, row, subject, the derived value as the message says it)
    "birth_date": ("A1,female,1980-05-01", "A1,female,1900-01-01", 2, "A1", "an age of 124"),
    "diagnosis_date": ("A3,male,,,", "A3,male,,1900-01-01,", 4, "A3", "a diabetes duration of 124.2"),
}


def placeholder_folder(fixtures_dir: Path, tmp_path: Path, column: str) -> Path:
    target = tmp_path / "placeholder"
    shutil.copytree(fixtures_dir / "cohort" / "canonical", target)
    old, new, *_ = PLACEHOLDERS[column]
    replace(target / "subjects.csv", old, new)
    return target


@pytest.fixture(params=list(PLACEHOLDERS))
def placeholder(request, fixtures_dir, tmp_path) -> tuple[Path, str]:
    return placeholder_folder(fixtures_dir, tmp_path, request.param), request.param


def test_a_placeholder_date_is_refused_naming_the_date_column_on_every_path(placeholder, tmp_path):
    folder, column = placeholder
    _, _, row, subject, value = PLACEHOLDERS[column]
    errors = {}
    for name, path in canonical_paths(folder, tmp_path / "screening", on_invalid="raise", range_subjects=1).items():
        with pytest.raises(DataError) as caught:
            path()
        errors[name] = caught.value
    for error in errors.values():
        assert (error.file, error.column, error.rows) == (str(folder / "subjects.csv"), column, [row])
        assert f"subject '{subject}': {column} 1900-01-01 gives {value} at the index date 2024-03-01, outside the " \
               "plausible" in error.reason
        assert "1900-01-01 is often a placeholder for unknown" in error.reason
        assert "on_invalid='reject'" in error.reason
    assert len({str(e) for e in errors.values()}) == 1, errors


def test_with_reject_a_placeholder_date_gives_an_unknown_value_alike_on_every_path(placeholder, tmp_path):
    folder, column = placeholder
    _, new, _, subject, _ = PLACEHOLDERS[column]
    feature = {"birth_date": "age", "diagnosis_date": "diabetes_duration"}[column]
    expected, report = pandas_path(folder, on_invalid="reject")
    reasons = expected.missing_reasons.astype(str)
    mine = reasons[(reasons["subject_id"] == subject) & (reasons["variable"] == feature)]["reason"].tolist()
    assert mine == [outside_reason(feature, default_catalogue())]  # the dashboard's "why unknown"
    assert report.conversions[f"{column}: {mine[0]} -> {feature} unknown"] == 1
    blank = tmp_path / "blank"  # the same folder with the date left empty: every other value is kept
    shutil.copytree(folder, blank)
    replace(blank / "subjects.csv", new, new.replace("1900-01-01", ""))
    pd.testing.assert_frame_equal(expected.features, pandas_path(blank)[0].features)
    assert_same(folder, on_invalid="reject")  # features, reasons, statuses and the load report, DuckDB in place
    histograms = {name: path() for name, path in
                  canonical_paths(folder, tmp_path / "screening", on_invalid="reject", range_subjects=1).items()}
    assert histograms["duckdb"] == histograms["memory"] and histograms["duckdb_ranges"] == histograms["memory"]
    ranged = read_screening(tmp_path / "screening").features  # ranges are written in any order
    pd.testing.assert_frame_equal(ranged.loc[expected.features.index, expected.features.columns], expected.features,
                                  check_dtype=False)


def test_spark_refuses_or_makes_unknown_a_placeholder_date_as_the_loader_does(spark, fixtures_dir, tmp_path):
    folder = placeholder_folder(fixtures_dir, tmp_path, "birth_date")  # one case: a Spark derivation is slow
    with pytest.raises(DataError) as expected:
        pandas_path(folder)
    with pytest.raises(DataError) as got:
        canonical_screening_sql(folder, engine="spark", spark=spark)
    assert str(got.value) == str(expected.value)
    expected_screening, expected_report = pandas_path(folder, on_invalid="reject")
    screening, report = canonical_screening_sql(folder, engine="spark", spark=spark, on_invalid="reject")
    assert_same_screening(expected_screening, screening)
    assert report.summary() == expected_report.summary()


def test_repeated_labs_are_warned_about_only_where_their_values_differ(folder):
    # equal repeats are counted, not warned about; a different value (one of three) names its variable, as the
    # loader does (the SQL tells them apart by the least and greatest value of a group)
    replace(folder / "measurements.csv", "A1,2024-02-01,weight,72,kg,,",
            "A1,2024-02-01,weight,72,kg,,\nA1,2024-02-01,weight,72.0,kg,,\nA2,2024-02-15,hba1c,7.0,%,,\n"
            "A2,2024-02-15,hba1c,7.0,%,,\nA2,2024-02-15,hba1c,7.2,%,,\nA3,2024-01-05,height,170,cm,,\n"
            "A3,2024-01-05,height,170,cm,,")
    _, report = pandas_path(folder)
    text = report.summary()
    assert "repeated measurements at one time" in text and "hba1c" in text.split("with a different value")[1]
    assert_same(folder)
