"""An OMOP CDM read in place by DuckDB (explorer/engine/omop_sql.py) against the pandas OMOP loader.

The reference is the pandas path (load_omop, then explorer.cohort.features): the in-place path must give
the same features, missing reasons, events and statuses, the same load report, and the same one-line
error for every breakage the loader names.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import duckdb
import pytest
from project_paths import SHARED
from screening_compare import assert_same_screening, assert_same_statuses

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import load
from explorer.cohort.loaders.omop import default_mapping
from explorer.engine.omop_sql import omop_screening_sql, rounded
from explorer.errors import DataError, UnitError

SHARED_SYNTHEA = SHARED / "data/subjects/omop_synthea27nj/Synthea27Nj_5.4.zip"

# --- a hand-made CDM that reaches every mapping branch -------------------------------------------------

CONCEPT = """concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code
3004410,Hemoglobin A1c/Hemoglobin.total in Blood,Measurement,LOINC,Lab Test,S,4548-4
3000001,Hemoglobin A1c IFCC,Measurement,LOINC,Lab Test,S,59261-8
3004501,Glucose [Mass/volume] in Serum or Plasma,Measurement,LOINC,Lab Test,S,2345-7
3016723,Creatinine [Mass/volume] in Serum or Plasma,Measurement,LOINC,Lab Test,S,2160-0
3006923,Alanine aminotransferase,Measurement,LOINC,Lab Test,S,1742-6
3027018,Heart rate,Measurement,LOINC,Clinical Observation,S,8867-4
201826,Type 2 diabetes mellitus,Condition,SNOMED,Clinical Finding,S,44054006
201254,Type 1 diabetes mellitus,Condition,SNOMED,Clinical Finding,S,46635009
4299535,Normal pregnancy,Condition,SNOMED,Clinical Finding,S,72892002
4000001,Hypoglycemia,Condition,SNOMED,Clinical Finding,S,302866003
4251306,Stress,Condition,SNOMED,Clinical Finding,S,73595000
4298794,Smoker,Observation,SNOMED,Clinical Finding,S,77176002
8554,percent,Unit,UCUM,Unit,S,%
9579,millimole per mole,Unit,UCUM,Unit,S,mmol/mol
8840,milligram per deciliter,Unit,UCUM,Unit,S,mg/dL
8645,unit per liter,Unit,UCUM,Unit,S,U/L
1596977,insulin lispro 100 UNT/ML Injectable Solution,Drug,RxNorm,Clinical Drug,S,1652639
1127433,Acetaminophen 325 MG Oral Tablet,Drug,RxNorm,Clinical Drug,S,313782
"""
# 1: birth_datetime; 2: month given, day missing (imputed); 3: birth from the year alone, dies before the
# end of the period (index capped); 4: unknown gender concept
PERSON = """person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime
1,8507,1970,3,5,1970-03-05 00:00:00
2,8532,1985,6,,
3,8507,1960,,,
4,0,1990,1,2,1990-01-02
"""
OBSERVATION_PERIOD = """observation_period_id,person_id,observation_period_start_date,observation_period_end_date
1,1,2010-01-01,2023-06-30
2,2,2015-01-01,2023-03-31
3,3,2000-01-01,2023-06-30
4,4,2018-01-01,2022-12-31
5,1,2001-01-01,2005-01-01
"""
DEATH = """person_id,death_date
3,2022-11-15
"""
# unit from unit_concept_id (UCUM), from unit_source_value, conversions (mg/dL -> mmol/L, mmol/mol -> %),
# a censored value ("<"), a reference range, a blank value, an unmapped concept, repeated values
MEASUREMENT = """measurement_id,person_id,measurement_concept_id,measurement_date,measurement_datetime,operator_concept_id,value_as_number,unit_concept_id,unit_source_value,range_low,range_high
1,1,3004410,2023-05-01,2023-05-01 09:00:00,0,8.1,8554,,,
2,1,3004501,2023-05-01,,0,180,8840,,70,99
3,2,3000001,2023-02-01,2023-02-01 10:00:00,0,64,9579,,,
4,2,3016723,2023-02-01,2023-02-01 10:00:00,4171756,0.5,0,mg/dL,0.6,1.2
5,3,3006923,2022-10-01,2022-10-01 08:00:00,0,40,8645,,7,56
6,3,3027018,2022-10-01,2022-10-01 08:00:00,0,72,0,/min,,
7,3,3004410,2022-10-01,2022-10-01 08:00:00,0,,8554,,,
8,4,3004410,2022-06-01,2022-06-01 08:00:00,0,6.0,0,%,,
9,4,3004410,2022-06-01,2022-06-01 08:00:00,0,6.4,0,%,,
10,1,3004410,2020-05-01,2020-05-01 09:00:00,0,9.3,8554,,,
"""
CONDITION_OCCURRENCE = """condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_end_date
1,1,201254,2012-04-01,
2,2,201826,2016-02-01,
3,2,201826,2018-02-01,
4,2,201254,2019-02-01,
5,2,4299535,2022-09-01,
6,3,4299535,2010-03-01,2010-12-01
7,1,4000001,2022-12-24,2022-12-24
8,1,4000001,2023-09-01,2023-09-01
9,4,4251306,2020-01-01,
"""
OBSERVATION = """observation_id,person_id,observation_concept_id,observation_date
1,3,4298794,2015-05-05
2,4,4298794,2023-01-05
"""
DRUG_EXPOSURE = """drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,days_supply
1,1,1596977,2023-05-10,,30
2,3,1596977,2010-01-01,2010-02-01,
3,2,1127433,2023-03-01,2023-03-10,
4,4,1596977,2022-11-20,,
"""
TABLES = {"CONCEPT": CONCEPT, "PERSON": PERSON, "OBSERVATION_PERIOD": OBSERVATION_PERIOD, "DEATH": DEATH,
          "MEASUREMENT": MEASUREMENT, "CONDITION_OCCURRENCE": CONDITION_OCCURRENCE, "OBSERVATION": OBSERVATION,
          "DRUG_EXPOSURE": DRUG_EXPOSURE}


def event_mapping() -> dict:
    """The bundled mapping plus a condition that is an event (the default maps none)."""
    mapping = copy.deepcopy(default_mapping())
    mapping["condition"]["SNOMED 302866003"] = {"event": "severe_hypoglycemia"}
    return mapping


def write_cdm(folder: Path, changes: dict[str, tuple[str, str]] | None = None) -> Path:
    """The hand-made CDM as CSV files; `changes` replaces text in a table ({table: (old, new)})."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, text in TABLES.items():
        old, new = (changes or {}).get(table, ("", ""))
        if old:
            assert old in text, (table, old)
            text = text.replace(old, new, 1)
        (folder / f"{table}.csv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cdm(tmp_path_factory) -> Path:
    return write_cdm(tmp_path_factory.mktemp("cdm"))


def pandas_path(path, **options):
    mapping, on_invalid = options.get("mapping"), options.get("on_invalid", "raise")
    loaded = load(path, mapping=mapping, on_invalid=on_invalid)
    return screening_features(loaded.cohort), loaded.report


def test_the_handmade_cdm_reaches_every_branch(cdm):
    _, report = pandas_path(cdm, mapping=event_mapping())
    text = report.summary()
    for expected in ("unit random_glucose: mg/dL -> mmol/L", "unit hba1c: mmol/mol -> %",
                     "operator '<' (below limit) -> half the limit", "value_as_number blank",
                     "birth date: month or day missing", "diabetes_type: records of more than one type",
                     "index date capped at the death date for 1 person(s)", "Heart rate [3027018]",
                     "Stress [4251306]", "drug not mapped", "repeated measurements at one time"):
        assert expected in text, expected
    loaded = load(cdm, mapping=event_mapping()).cohort
    # a history per person for each mapped event: severe hypoglycaemia here, myocardial infarction and stroke by default
    assert len(loaded.events) == 2 and len(loaded.event_history) == 4 * 3
    s = loaded.subjects.set_index("subject_id")
    assert s.loc["2", "diabetes_type"] == "T2D" and bool(s.loc["2", "pregnant"]) and not s.loc["3", "pregnant"]
    assert bool(s.loc["1", "on_insulin"]) and not s.loc["3", "on_insulin"] and bool(s.loc["3", "smoking_history"])


@pytest.mark.parametrize("mapping", [None, "events"])
def test_in_place_equals_the_pandas_loader_on_the_handmade_cdm(cdm, mapping):
    options = {"mapping": event_mapping()} if mapping else {}
    expected, expected_report = pandas_path(cdm, **options)
    got, report = omop_screening_sql(cdm, **options)
    assert_same_screening(expected, got)
    assert_same_statuses(expected, got)
    assert report.summary() == expected_report.summary()


def test_parquet_tables_and_a_duckdb_database_give_the_same_screening(cdm, tmp_path):
    expected, _ = pandas_path(cdm, mapping=event_mapping())
    con = duckdb.connect(str(tmp_path / "cdm.duckdb"))
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    for table in TABLES:
        source = str(cdm / f"{table}.csv")
        con.execute(f"CREATE TABLE {table.lower()} AS SELECT * FROM read_csv('{source}', all_varchar = true)")
        con.execute(f"COPY {table.lower()} TO '{parquet / (table.lower() + '.parquet')}' (FORMAT parquet)")
    con.close()
    for path in (parquet, tmp_path / "cdm.duckdb"):
        got, _ = omop_screening_sql(path, mapping=event_mapping())
        assert_same_screening(expected, got)


# --- every breakage the loader names gives the same one-line error ---------------------------------------

BREAKAGES = {
    "text in value_as_number": ("MEASUREMENT", ("0,8.1,8554", "0,8.1x,8554"), DataError),
    "unknown unit": ("MEASUREMENT", ("0,6.0,0,%", "0,6.0,0,furlongs"), UnitError),
    "unit of another quantity": ("MEASUREMENT", ("0,6.0,0,%", "0,6.0,0,mg/dL"), UnitError),
    "value out of range": ("MEASUREMENT", ("0,6.4,0,%", "0,64,0,%"), DataError),
    "duplicate person ids": ("PERSON", ("4,0,1990", "3,0,1990"), DataError),
    # an age of 120+ at the index date: refused naming birth_date; with "reject" an unknown age, counted alike
    "placeholder birth date": ("PERSON", ("4,0,1990,1,2,1990-01-02", "4,0,1890,1,1,1890-01-01"), DataError),
    "date not ISO 8601": ("CONDITION_OCCURRENCE", ("2016-02-01", "02/01/2016"), DataError),
    "measurement of an unknown person": ("MEASUREMENT", ("8,4,3004410", "8,9,3004410"), DataError),
    "measurement before birth": ("MEASUREMENT", ("2022-06-01,2022-06-01 08:00:00,0,6.0",
                                                 "1980-06-01,1980-06-01 08:00:00,0,6.0"), DataError),
    "date beyond 2262": ("CONDITION_OCCURRENCE", ("2023-09-01,2023-09-01", "2999-09-01,2999-09-01"), DataError),
    "event after today": ("CONDITION_OCCURRENCE", ("2023-09-01,2023-09-01", "2099-09-01,2099-09-01"), DataError),
    "no observation period": ("OBSERVATION_PERIOD", ("4,4,2018-01-01,2022-12-31\n", ""), DataError),
}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_a_breakage_gives_the_loaders_error(tmp_path, name):
    table, change, error = BREAKAGES[name]
    path = write_cdm(tmp_path / "cdm", {table: change})
    with pytest.raises(error) as expected:
        pandas_path(path, mapping=event_mapping())
    with pytest.raises(error) as got:
        omop_screening_sql(path, mapping=event_mapping())
    # the pandas loader lists every problem of the load in one error; the SQL path stops at the first of them
    assert str(got.value) == str(expected.value) or (got.value.file, got.value.column) in expected.value.places


@pytest.mark.parametrize("name", ["value out of range", "measurement of an unknown person", "event after today",
                                  "measurement before birth", "placeholder birth date"])
def test_rejected_rows_are_the_loaders(tmp_path, name):
    table, change, _ = BREAKAGES[name]
    path = write_cdm(tmp_path / "cdm", {table: change})
    expected, expected_report = pandas_path(path, mapping=event_mapping(), on_invalid="reject")
    got, report = omop_screening_sql(path, mapping=event_mapping(), on_invalid="reject")
    assert_same_screening(expected, got)
    assert report.summary() == expected_report.summary()


def test_a_zip_archive_or_a_database_for_spark_is_refused_in_one_line(cdm, tmp_path):
    archive = tmp_path / "cdm.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for table in TABLES:
            z.write(cdm / f"{table}.csv", f"{table}.csv")
    with pytest.raises(DataError, match="ZIP archive is read by the pandas loader"):
        omop_screening_sql(archive)
    database = tmp_path / "cdm.duckdb"
    duckdb.connect(str(database)).close()
    with pytest.raises(DataError, match="a DuckDB database is read with --engine duckdb"):
        omop_screening_sql(database, engine="spark")


def test_sql_rounding_is_the_units_rounding():
    from explorer.cohort.units import round_reported

    values = [2.675, -2.675, 6.9938, 0.125, 1e-9, 0.0, 126 / 18.016, 7.049999999]
    con = duckdb.connect()
    for decimals in (0, 1, 2):
        got = [con.execute(f"SELECT {rounded('CAST($v AS DOUBLE)', str(decimals))}", {"v": v}).fetchone()[0]
               for v in values]
        assert got == list(round_reported(values, decimals)), decimals


# --- trial-explorer funnel --engine duckdb equals --engine memory ------------------------------------------

def funnel_json(capsys, data, engine: str) -> tuple[dict, str]:
    from explorer.cli.entry import main

    code = main(["funnel", "NCT06196996", "--data", str(data), "--engine", engine, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert out.pop("engine") == engine
    return out, captured.err


def test_funnel_duckdb_reads_the_cdm_in_place_and_equals_memory(capsys, cdm, monkeypatch):
    import explorer.cohort.loaders as loaders

    memory = funnel_json(capsys, cdm, "memory")

    def no_pandas_loader(*args, **kwargs):
        raise AssertionError("the in-place path must not load the CDM through pandas")

    monkeypatch.setattr(loaders, "load", no_pandas_loader)
    monkeypatch.setattr("explorer.sources.load", no_pandas_loader)
    assert funnel_json(capsys, cdm, "duckdb") == memory


# --- the shared Synthea CDM --------------------------------------------------------------------------------

def unzip(archive: Path, folder: Path) -> Path:
    """The CSV tables of a CDM archive as files in a folder (in place means files the engine can read)."""
    folder.mkdir(parents=True)
    with zipfile.ZipFile(archive) as z:
        for member in z.namelist():
            if member.lower().endswith(".csv") and not member.startswith("__MACOSX/"):
                (folder / Path(member).name).write_bytes(z.read(member))
    return folder


@pytest.mark.shared
def test_synthea_in_place_equals_the_pandas_loader(shared_data, tmp_path, capsys):
    if not SHARED_SYNTHEA.exists():
        pytest.skip(f"{SHARED_SYNTHEA} is not in this copy of ../shared/data")
    folder = unzip(SHARED_SYNTHEA, tmp_path / "synthea")
    expected, expected_report = pandas_path(folder)
    got, report = omop_screening_sql(folder)
    assert_same_screening(expected, got)
    assert_same_statuses(expected, got)
    assert report.summary() == expected_report.summary()
    assert funnel_json(capsys, folder, "duckdb") == funnel_json(capsys, folder, "memory")

def test_a_duckdb_database_opens_with_the_memory_engine_and_refuses_outcomes(capsys, cdm, tmp_path):
    from explorer.cli.entry import main

    database = tmp_path / "cdm.duckdb"
    con = duckdb.connect(str(database))
    for table in TABLES:
        con.execute(f"CREATE TABLE {table.lower()} AS SELECT * FROM read_csv('{cdm / (table + '.csv')}', "
                    "all_varchar = true)")
    con.close()
    from_database, _ = funnel_json(capsys, database, "memory")
    from_folder, _ = funnel_json(capsys, cdm, "memory")
    assert from_database.pop("source") != from_folder.pop("source")
    assert from_database == from_folder
    assert main(["outcomes", "NCT06196996", "--data", str(database)]) != 0
    assert "DuckDB database is read in place by DuckDB for screening only" in capsys.readouterr().err


def test_spark_reads_the_handmade_cdm_in_place(spark, cdm):
    # The hand-made CDM reaches every mapping branch; Synthea through Spark takes minutes of Spark jobs here,
    # so it is checked by `scripts/check_spark_connect.py --data <synthea folder>`, and through DuckDB above.
    expected, expected_report = pandas_path(cdm, mapping=event_mapping())
    got, report = omop_screening_sql(cdm, engine="spark", spark=spark, mapping=event_mapping())
    assert_same_screening(expected, got)
    assert report.summary() == expected_report.summary()


# --- a CDM of more persons than a Screening in memory should hold: written to a screening folder -------------

def sorted_screening(screening):
    """A screening's tables in subject order and its features' columns by name (a folder's subjects are in the
    order of its ranges, its columns in the derivation's)."""
    import dataclasses

    order = screening.features.index.argsort()
    aligned = {t: getattr(screening, t).sort_index() for t in ("event_lookback", "event_counts")
               if getattr(screening, t) is not None}
    events = screening.events.sort_values(list(screening.events.columns)).reset_index(drop=True)
    features = screening.features.iloc[order]
    return dataclasses.replace(screening, features=features[sorted(features.columns)], events=events, **aligned)


def test_a_large_cdm_is_written_to_a_screening_folder_and_counts_as_memory(capsys, cdm, monkeypatch, tmp_path):
    """Above sources.FOLDER_ABOVE persons, --engine duckdb writes the CDM's screening range by range to a temporary
    folder and evaluates it in place (it was derived into a Screening in memory: 7-8 GB at 10^6 subjects): the
    funnel equals the memory engine's, and the folder the in-memory derivation."""
    import explorer.sources as sources
    from explorer.engine import omop_sql
    from explorer.engine.layout import read_screening

    memory = funnel_json(capsys, cdm, "memory")
    written, original = [], omop_sql.write_screening_folder

    def recorded(*args, **options):
        written.append(args[3])
        return original(*args, **options)

    monkeypatch.setattr(omop_sql, "write_screening_folder", recorded)
    monkeypatch.setattr(sources, "FOLDER_ABOVE", 2)
    assert funnel_json(capsys, cdm, "duckdb") == memory
    assert len(written) == 1
    expected, report = omop_screening_sql(cdm)
    folder, folder_report = omop_screening_sql(cdm, out=tmp_path / "screening", out_above=0)
    assert folder == tmp_path / "screening" and folder_report.summary() == report.summary()
    assert_same_screening(sorted_screening(expected), sorted_screening(read_screening(folder)))
    # at or below the threshold the Screening stays in memory, as before
    assert not isinstance(omop_screening_sql(cdm, out=tmp_path / "small", out_above=10**6)[0], Path)


def test_spark_writes_the_cdm_folder_duckdb_derives(spark, cdm, tmp_path):
    from explorer.engine.layout import read_screening

    expected, _ = omop_screening_sql(cdm)
    folder, _ = omop_screening_sql(cdm, engine="spark", spark=spark, out=tmp_path / "screening", out_above=0)
    assert_same_screening(sorted_screening(expected), sorted_screening(read_screening(folder)))
