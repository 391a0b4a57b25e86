"""Loaders: the canonical folder, wide tables with a mapping, format detection, and bad input at the boundary.

Every bad-input case checks that the error names the file, the column and the first offending row
(spreadsheet row numbers: the header is row 1), or that `on_invalid="reject"` counts what it dropped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders import detect, load, load_canonical, load_wide
from explorer.errors import DataError, UnitError


@pytest.fixture
def canonical(fixtures_dir, tmp_path) -> Path:
    """A writable copy of the canonical fixture folder."""
    target = tmp_path / "canonical"
    shutil.copytree(fixtures_dir / "cohort" / "canonical", target)
    return target


@pytest.fixture
def wide(fixtures_dir, tmp_path) -> Path:
    target = tmp_path / "wide"
    shutil.copytree(fixtures_dir / "cohort" / "wide", target)
    return target


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def assert_located(err: pytest.ExceptionInfo, file: str, column: str, row: int | None = None) -> None:
    message = str(err.value)
    assert file in message, message
    assert f"column '{column}'" in message, message
    if row is not None:
        assert f"rows {row}" in message, message


# --- the canonical folder ---------------------------------------------------------------------------

def test_canonical_folder_loads_with_units_converted(canonical):
    cohort, report = load_canonical(canonical)
    assert list(cohort.subjects["subject_id"]) == ["A1", "A2", "A3"]
    assert cohort.subjects["sex"].tolist() == ["female", "male", "male"]  # "M" normalised
    m = cohort.measurements.set_index(["subject_id", "variable", "time"])
    assert m.loc[("A1", "hba1c", pd.Timestamp("2024-02-01")), "value"] == pytest.approx(8.0, abs=0.01)  # 64 mmol/mol
    assert m.loc[("A1", "fasting_glucose", pd.Timestamp("2024-02-01")), "value"] == 7.0  # 126 mg/dL, as reported
    assert m.loc[("A1", "height", pd.Timestamp("2024-02-01")), "value"] == 175.0
    assert m.loc[("A2", "fasting_cpeptide", pd.Timestamp("2024-02-15")), "value"] == pytest.approx(0.0085)
    assert set(cohort.measurements["unit"]) <= {"%", "mmol/L", "cm", "kg", "U/L", "nmol/L", "microU/mL", "umol/L"}
    assert report.balanced()
    assert report.tables["measurements.csv"].rejected == {"value missing (unknown; no row needed)": 1}
    assert report.conversions["value: below_limit"] == 1
    assert report.conversions["unit hba1c: mmol/mol -> %"] == 1
    assert str(cohort.subjects["hiv_positive"].dtype) == "boolean"
    assert cohort.measurements.dtypes["time"] == "datetime64[ns]"


def test_canonical_end_to_end_features(canonical):
    s = screening_features(load(canonical).cohort)
    assert s.features.loc["A1", "tir"] == pytest.approx(75.0)
    assert s.features.loc["A1", "alt_uln"] == 40.0
    assert s.event_counts.loc["A3", "severe_hypoglycemia@365"] == 5.0  # "5 - 9" -> lower bound


def test_parquet_tables_load_like_csv(canonical, tmp_path):
    folder = tmp_path / "parquet"
    folder.mkdir()
    for csv in canonical.glob("*.csv"):
        pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(folder / f"{csv.stem}.parquet")
    a, b = load(canonical).cohort, load(folder).cohort
    pd.testing.assert_frame_equal(a.measurements, b.measurements)
    pd.testing.assert_frame_equal(a.subjects, b.subjects)


def test_missing_required_column(canonical):
    (canonical / "subjects.csv").write_text("subject_id,sex\nA1,female\n")
    with pytest.raises(DataError) as err:
        load_canonical(canonical)
    assert_located(err, "subjects.csv", "index_date")
    assert "required column" in str(err.value)


def test_wrong_type_date(canonical):
    replace(canonical / "subjects.csv", "A2,M,1970-01-15", "A2,M,15/01/1970")
    with pytest.raises(DataError, match="ISO 8601") as err:
        load_canonical(canonical)
    assert_located(err, "subjects.csv", "birth_date", 3)


def test_text_in_numeric_column(canonical):
    replace(canonical / "measurements.csv", "A1,2024-02-01,alt,50,", "A1,2024-02-01,alt,high,")
    with pytest.raises(DataError, match="text in a numeric column") as err:
        load_canonical(canonical)
    assert_located(err, "measurements.csv", "value", 4)


def test_impossible_value_hba1c_90_percent(canonical):
    replace(canonical / "measurements.csv", "A1,2023-06-01,hba1c,7.5,%", "A1,2023-06-01,hba1c,90,%")
    with pytest.raises(DataError, match=r"hba1c = 90 % is outside the plausible range \[3, 20\]") as err:
        load_canonical(canonical)
    assert_located(err, "measurements.csv", "value", 2)


def test_impossible_value_can_be_rejected_and_counted(canonical):
    replace(canonical / "measurements.csv", "A1,2023-06-01,hba1c,7.5,%", "A1,2023-06-01,hba1c,90,%")
    cohort, report = load_canonical(canonical, on_invalid="reject")
    assert report.tables["measurements.csv"].rejected["value: value outside the plausible range of its variable"] == 1
    assert report.balanced()
    assert len(cohort.measurements) == 10


def test_negative_age(canonical):
    (canonical / "subjects.csv").write_text("subject_id,age,index_date\nA1,34,2024-03-01\nA2,-3,2024-03-01\n"
                                            "A3,40,2024-03-01\n")
    with pytest.raises(DataError, match=r"age = -3 is outside the plausible range \[0, 120\]") as err:
        load_canonical(canonical)
    assert_located(err, "subjects.csv", "age", 3)


def test_duplicate_subject_ids(canonical):
    replace(canonical / "subjects.csv", "A3,male", "A1,male")
    with pytest.raises(DataError, match=r"duplicate subject ids \['A1'\]") as err:
        load_canonical(canonical)
    assert_located(err, "subjects.csv", "subject_id", 2)
    assert "rows 2, 4" in str(err.value)


@pytest.mark.parametrize("year", ["2100", "2999"])
def test_date_in_the_future(canonical, year):
    replace(canonical / "measurements.csv", "A2,2024-04-01,hba1c", f"A2,{year}-04-01,hba1c")
    with pytest.raises(DataError, match="date in the future") as err:
        load_canonical(canonical)
    assert_located(err, "measurements.csv", "time", 12)


def test_birth_date_in_the_future(canonical):
    replace(canonical / "subjects.csv", "A2,M,1970-01-15", "A2,M,2090-01-15")
    with pytest.raises(DataError, match="date in the future") as err:
        load_canonical(canonical)
    assert_located(err, "subjects.csv", "birth_date", 3)


def test_date_before_birth(canonical):
    replace(canonical / "events.csv", "A1,2023-01-01,severe", "A1,1975-01-01,severe")
    with pytest.raises(DataError, match="before the birth date") as err:
        load_canonical(canonical)
    assert_located(err, "events.csv", "time", 3)


def test_index_date_before_birth(canonical):
    replace(canonical / "subjects.csv", "A1,female,1980-05-01,2000-01-01,2024-03-01", "A1,female,1980-05-01,,1979-03-01")
    with pytest.raises(DataError, match="index_date is before the birth date") as err:
        load_canonical(canonical)
    assert_located(err, "subjects.csv", "index_date", 2)


def test_empty_file(canonical):
    (canonical / "events.csv").write_text("")
    with pytest.raises(DataError, match="the file is empty") as err:
        load_canonical(canonical)
    assert "events.csv" in str(err.value)


def test_header_without_rows(canonical):
    """No events is a table of events with no rows (noted); no subjects stops the load (tests/hostile/test_empty_tables)."""
    (canonical / "events.csv").write_text("subject_id,time,event,severity\n")
    cohort, report = load_canonical(canonical)
    assert cohort.events.empty and "events.csv has a header but no rows" in report.notes[0]
    (canonical / "subjects.csv").write_text("subject_id,index_date\n")
    with pytest.raises(DataError, match="header but no rows: no subjects") as err:
        load_canonical(canonical)
    assert "subjects.csv" in str(err.value)


def test_unknown_unit(canonical):
    replace(canonical / "measurements.csv", "A2,2024-02-15,creatinine,1.0,mg/dL", "A2,2024-02-15,creatinine,1.0,furlongs")
    with pytest.raises(UnitError, match="unknown unit 'furlongs' for 'creatinine'") as err:
        load_canonical(canonical)
    assert_located(err, "measurements.csv", "unit", 11)


def test_inconsistent_unit(canonical):
    replace(canonical / "measurements.csv", "A1,2023-06-01,hba1c,7.5,%", "A1,2023-06-01,hba1c,7.5,mg/dL")
    with pytest.raises(UnitError, match="cannot convert from 'mg/dL'") as err:
        load_canonical(canonical)
    assert_located(err, "measurements.csv", "unit", 2)


def test_unknown_variable_and_event(canonical):
    replace(canonical / "events.csv", "A2,2024-01-10,severe_hypoglycemia", "A2,2024-01-10,hypo")
    with pytest.raises(DataError, match="not a catalogue event") as err:
        load_canonical(canonical)
    assert_located(err, "events.csv", "event", 5)


def test_file_that_is_not_what_its_extension_says(canonical, tmp_path):
    pd.DataFrame({"a": [1]}).to_parquet(canonical / "events.csv")
    with pytest.raises(DataError, match="promises a text .CSV. file, but the content is a Parquet file") as err:
        load_canonical(canonical)
    assert "events.csv" in str(err.value)
    fake = tmp_path / "readings.parquet"
    fake.write_text("id,time,gl\nA,2024-01-01 00:00,100\n")
    with pytest.raises(DataError, match="promises a Parquet file, but the content is a text"):
        load(fake)


def test_unknown_sex_and_category_values(canonical):
    replace(canonical / "subjects.csv", "A1,female", "A1,x")
    with pytest.raises(DataError, match="sex must be female/male") as err:
        load_canonical(canonical)
    assert_located(err, "subjects.csv", "sex", 2)


def test_orphan_rows_are_errors_or_rejected(canonical):
    replace(canonical / "events.csv", "A2,2024-01-10", "Z9,2024-01-10")
    with pytest.raises(DataError, match="not in the subjects table") as err:
        load_canonical(canonical)
    assert_located(err, "events.csv", "subject_id", 5)
    cohort, report = load_canonical(canonical, on_invalid="reject")
    assert report.tables["events.csv"].rejected == {"subject_id: subject id not in the subjects table": 1}
    assert report.balanced() and len(cohort.events) == 3


# --- wide tables ------------------------------------------------------------------------------------

def test_wide_table_with_mapping(wide):
    cohort, report = load(wide / "mapping.yaml")
    s = cohort.subjects.set_index("subject_id")
    assert s["sex"].tolist() == ["female", "male", "female"]
    assert s["diabetes_type"].tolist() == ["T1D", "T2D", "T1D"]
    assert s["smoking_history"].tolist()[:2] == [False, True] and pd.isna(s.loc["P03", "smoking_history"])
    m = cohort.measurements.set_index(["subject_id", "variable"])
    assert m.loc[("P01", "hba1c"), "value"] == pytest.approx(8.0, abs=0.01)
    assert m.loc[("P02", "alt"), "ref_high"] == 40
    assert ("P02", "fasting_glucose") not in m.index  # "n.d." declared missing in the mapping
    counts = cohort.event_counts.set_index("subject_id")["count"]
    assert counts.tolist() == [2.0, 10.0, 0.0]
    assert report.conversions["severe_hypoglycemia@365 (Hypos last year): range"] == 1
    assert report.conversions["hba1c: missing"] == 1
    assert "Comments" in " ".join(report.notes)
    f = screening_features(cohort).features
    assert f.loc["P02", "alt"] / f.loc["P02", "alt_uln"] == pytest.approx(2.125)


def test_wide_excel_export_loads_like_csv(wide):
    pytest.importorskip("openpyxl")
    frame = pd.read_csv(wide / "export.csv", dtype=str, keep_default_na=False)
    for column in ("Sex", "Age", "ALT", "ALT ULN"):  # Excel stores numbers as numbers
        frame[column] = pd.to_numeric(frame[column])
    frame.to_excel(wide / "export.xlsx", index=False)
    a = load_wide(wide / "export.csv", wide / "mapping.yaml").cohort
    b = load_wide(wide / "export.xlsx", wide / "mapping.yaml").cohort
    pd.testing.assert_frame_equal(a.measurements, b.measurements)
    pd.testing.assert_frame_equal(a.subjects, b.subjects)


def test_wide_excel_named_csv_is_refused(wide):
    pytest.importorskip("openpyxl")
    pd.DataFrame({"a": [1]}).to_excel(wide / "export.csv", index=False)
    with pytest.raises(DataError, match="content is an Excel"):
        load(wide / "mapping.yaml")


def test_wide_mapping_errors_name_the_mapping_key(wide):
    replace(wide / "mapping.yaml", "variable: hba1c", "variable: haemoglobin")
    with pytest.raises(DataError, match="'haemoglobin' is not a catalogue variable") as err:
        load(wide / "mapping.yaml")
    assert "mapping.yaml" in str(err.value) and "columns.HbA1c (mmol/mol).variable" in str(err.value)


def test_wide_mapping_needs_units(wide):
    replace(wide / "mapping.yaml", "{variable: fasting_glucose, unit: mg/dL}", "{variable: fasting_glucose}")
    with pytest.raises(DataError, match="needs a `unit`"):
        load(wide / "mapping.yaml")


def test_wide_mapping_column_not_in_file(wide):
    replace(wide / "mapping.yaml", "ALT: {variable: alt", "ALAT: {variable: alt")
    with pytest.raises(DataError, match="lacks required column") as err:
        load(wide / "mapping.yaml")
    assert_located(err, "export.csv", "ALAT")


def test_wide_unknown_mapping_key(wide):
    replace(wide / "mapping.yaml", "subject_id: Patient ID", "subject_id: Patient ID\nsheeet: 2")
    with pytest.raises(DataError, match="sheeet"):
        load(wide / "mapping.yaml")


def test_wide_duplicate_subject_rows(wide):
    replace(wide / "export.csv", "P03,", "P01,")
    with pytest.raises(DataError, match="duplicate subject ids") as err:
        load(wide / "mapping.yaml")
    assert_located(err, "export.csv", "subject_id")


def test_wide_label_not_in_values(wide):
    replace(wide / "export.csv", "P01,2024-01-10,1,", "P01,2024-01-10,3,")
    with pytest.raises(DataError, match="sex must be female/male") as err:
        load(wide / "mapping.yaml")
    assert_located(err, "export.csv", "Sex", 2)


def test_wide_impossible_value_names_the_source_column(wide):
    replace(wide / "export.csv", "P01,2024-01-10,1,34,T1DM,64", "P01,2024-01-10,1,34,T1DM,900")
    with pytest.raises(DataError, match="outside the plausible range") as err:
        load(wide / "mapping.yaml")
    assert_located(err, "export.csv", "HbA1c (mmol/mol)", 2)


def test_wide_visits_fold_into_one_subject(tmp_path):
    (tmp_path / "visits.csv").write_text("id,date,hba1c,sex\nX,2024-01-01,7.0,F\nX,2024-06-01,6.5,F\nY,2024-02-01,8.0,M\n")
    mapping = {"subject_id": "id", "index_date": {"value": "2024-07-01"}, "measured_at": "date",
               "sex": "sex", "columns": {"hba1c": {"variable": "hba1c", "unit": "%"}}}
    cohort, _ = load_wide(tmp_path / "visits.csv", mapping)
    assert cohort.subjects["subject_id"].tolist() == ["X", "Y"] and len(cohort.measurements) == 3
    assert screening_features(cohort).features.loc["X", "hba1c"] == 6.5


# --- detection --------------------------------------------------------------------------------------

def test_detect_each_fixture(fixtures_dir):
    root = fixtures_dir / "cohort"
    assert detect(root / "canonical") == "canonical"
    assert detect(root / "sdtm") == "sdtm"
    assert detect(root / "omop") == "omop"
    assert detect(root / "t1dexchange") == "t1d_exchange"
    assert detect(root / "shanghai") == "shanghai"
    assert detect(root / "cgm" / "iglu_style.csv") == "cgm"
    assert detect(root / "wide" / "mapping.yaml") == "wide"


def test_detect_refuses_unknown_tables(fixtures_dir, tmp_path):
    with pytest.raises(DataError, match="cannot tell what this table holds") as err:
        load(fixtures_dir / "cohort" / "wide" / "export.csv")
    assert "mapping=" in str(err.value)
    with pytest.raises(DataError, match="cannot tell what this folder holds"):
        load(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nothing.csv")


def test_every_loader_balances_its_report(fixtures_dir):
    root = fixtures_dir / "cohort"
    for path, options in [(root / "canonical", {}), (root / "wide" / "mapping.yaml", {}), (root / "sdtm", {}),
                          (root / "omop", {}), (root / "cgm" / "iglu_style.csv", {}), (root / "t1dexchange", {}),
                          (root / "shanghai", {"cgm": root / "shanghai" / "shanghai_cgm_long.csv"})]:
        cohort, report = load(path, **options)
        assert report.balanced(), report.summary()
        assert report.summary().startswith(report.kind)
        assert set(report.to_frame()["outcome"]) <= {"read", "kept", "rejected"}
        screening_features(cohort).validate()
        assert np.all(cohort.subjects["index_date"].notna())


@pytest.mark.shared
def test_wide_mapping_on_a_real_excel_export(shared_data, tmp_path):
    """A researcher's mapping for the ShanghaiT1DM workbook as published (Excel, "/" for missing)."""
    workbook = shared_data / "cgm" / "shanghai_t1dm_t2dm" / "original" / "Shanghai_T1DM_Summary.xlsx"
    mapping = tmp_path / "shanghai.yaml"
    mapping.write_text(f"""
file: {workbook}
subject_id: Patient Number
index_date: {{value: "2021-12-31"}}
sex: {{column: "Gender (Female=1, Male=2)", values: {{"1": female, "2": male}}}}
age: Age (years)
columns:
  HbA1c (mmol/mol): {{variable: hba1c, unit: mmol/mol}}
  Fasting Plasma Glucose (mg/dl): {{variable: fasting_glucose, unit: mg/dl}}
  Fasting Insulin (pmol/L): {{variable: fasting_insulin, unit: pmol/L}}
  Type of Diabetes: {{variable: diabetes_type, values: {{T1DM: T1D}}}}
""")
    cohort, report = load(mapping)
    assert len(cohort.subjects) == 16 and report.balanced()
    assert report.conversions["unit hba1c: mmol/mol -> %"] == 15
    assert report.conversions["fasting_insulin: missing"] == 5  # "/" cells
    assert len(report.unmapped["Shanghai_T1DM_Summary.xlsx columns (neither mapped nor ignored)"]) == 26  # 33 - 7 used
    f = screening_features(cohort).features
    assert f["hba1c"].dropna().between(5, 17.5).all() and (f["diabetes_type"] == "T1D").all()  # up to 17.3 %


# --- silent wrong results and hostile files (issue 12) ------------------------------------------------

def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_conflicting_duplicate_measurements_are_reported_and_averaged_not_last_row_wins(canonical):
    append(canonical / "measurements.csv", "A1,2024-02-01,alt,70,U/L,7,40\n")
    cohort, report = load_canonical(canonical)
    assert report.warnings[0].startswith("measurements.csv: 2 measurements share"), report.warnings
    assert "alt" in " ".join(report.warnings) and "warning:" in report.summary()
    # both rows are kept, and screening uses their mean whatever their order in the file
    assert screening_features(cohort).features.loc["A1", "alt"] == 60.0


def test_equal_repeated_measurements_are_kept_and_counted(canonical):
    # three blood pressures at one visit may be equal: dropping one would shift the mean of the others
    append(canonical / "measurements.csv", "A1,2024-02-01,alt,50,U/L,7,40\nA1,2024-02-01,alt,56,U/L,7,40\n")
    cohort, report = load_canonical(canonical)
    assert report.conversions["value: repeated measurements at one time (kept; screening uses their mean)"] == 3
    assert report.balanced() and report.warnings[0].startswith("measurements.csv: 3 measurements share")
    alt = cohort.measurements[(cohort.measurements["variable"] == "alt") & (cohort.measurements["subject_id"] == "A1")]
    assert len(alt) == 3
    assert screening_features(cohort).features.loc["A1", "alt"] == 52.0  # (50 + 50 + 56) / 3


def test_conflicting_readings_in_a_canonical_cgm_table_are_invalid(canonical):
    append(canonical / "cgm.csv", "A1,2024-02-16 00:15:00,180\n")
    with pytest.raises(DataError, match="two different values for one reading") as err:
        load_canonical(canonical)
    assert_located(err, "cgm.csv", "glucose")
    cohort, report = load_canonical(canonical, on_invalid="reject")
    rejected = report.tables["cgm.csv"].rejected
    assert sum(n for reason, n in rejected.items() if "two different values" in reason) == 2
    assert not ((cohort.cgm["subject_id"] == "A1") & (cohort.cgm["time"] == pd.Timestamp("2024-02-16 00:15"))).any()


def test_an_exact_duplicate_cgm_reading_is_dropped_and_counted(canonical):
    append(canonical / "cgm.csv", "A1,2024-02-16 00:15:00,50\n")
    _, report = load_canonical(canonical)
    assert report.tables["cgm.csv"].rejected["duplicate reading (same subject_id, time and glucose)"] == 1
    assert report.balanced()


def test_partial_dates_are_imputed_to_mid_period_and_counted(canonical):
    append(canonical / "measurements.csv", "A2,2023-11,alt,30,U/L,,\nA2,2023,ast,30,U/L,,\n")
    cohort, report = load_canonical(canonical)
    assert report.conversions["time: partial date (year-month) -> 15th"] == 1
    assert report.conversions["time: partial date (year only) -> 1 July"] == 1
    times = cohort.measurements.set_index(["subject_id", "variable"])["time"]
    assert times[("A2", "alt")] == pd.Timestamp("2023-11-15") and times[("A2", "ast")] == pd.Timestamp("2023-07-01")


def test_full_width_digits_are_not_numbers(canonical):
    append(canonical / "measurements.csv", "A2,2024-02-01,alt,\uff15\uff10,U/L,,\n")
    with pytest.raises(DataError, match="full-width") as err:
        load_canonical(canonical)
    assert_located(err, "measurements.csv", "value")


def test_a_file_that_is_not_a_table_is_never_echoed(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASH$abc:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    for attempt in (lambda: load(secret), lambda: load(secret, kind="cgm"), lambda: load_canonical(tmp_path)):
        with pytest.raises(DataError) as err:
            attempt()
        assert "SECRETHASH" not in str(err.value) and "99999" not in str(err.value)


def test_a_missing_column_suggests_a_near_spelling_only(canonical):
    replace(canonical / "subjects.csv", "subject_id,", "Subject_ID,")
    with pytest.raises(DataError, match="did you mean 'Subject_ID'"):
        load_canonical(canonical)


@pytest.mark.parametrize("name, content, fragment", [
    ("broken.parquet", b"PAR1" + b"\x00garbage" * 20, "cannot be read as a Parquet file"),
    ("fake.xlsx", b"PK\x03\x04 this is not a zip archive at all", "cannot be opened as one"),
    ("fake.csv", b"PK\x05\x06" + b"\x00" * 18, "the content is a ZIP archive"),
    ("random.xlsx", b"PK" + bytes(range(256)) * 4, "cannot be opened as one"),
])
def test_corrupt_binary_files_are_data_errors(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=fragment) as err:
        load(path, kind="cgm")
    assert name in str(err.value) and "\n" not in str(err.value)


def test_a_corrupt_xlsx_inside_a_valid_zip_is_a_data_error(tmp_path):
    import zipfile
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "not xml <<<")
    with pytest.raises(DataError, match="book.xlsx"):
        load(path, kind="cgm")


@pytest.mark.parametrize("extra, fragment", [
    ("subject_id: Patient ID\n", "duplicate key 'subject_id'"),
    ("x: &a [1, 2]\ny: *a\n", "aliases"),
])
def test_a_mapping_with_duplicate_keys_or_aliases_is_refused(wide, extra, fragment):
    append(wide / "mapping.yaml", extra)
    with pytest.raises(DataError, match=fragment) as err:
        load_wide(None, wide / "mapping.yaml")
    assert "mapping.yaml" in str(err.value)


# --- lab reference ranges (issue 13) ------------------------------------------------------------------

def test_a_constant_upper_limit_of_normal_per_test(wide):
    replace(wide / "mapping.yaml", "ALT: {variable: alt, unit: U/L, ref_high: ALT ULN}",
            "ALT: {variable: alt, unit: U/L, ref_high: {value: 0.75, unit: ukat/L}}")
    replace(wide / "mapping.yaml", "ignore: [Comments]", "ignore: [Comments, ALT ULN]")
    cohort, report = load_wide(None, wide / "mapping.yaml")
    alt = cohort.measurements[cohort.measurements["variable"] == "alt"]
    assert alt["ref_high"].tolist() == [45.0, 45.0]  # 0.75 ukat/L = 45 U/L for every row
    assert screening_features(cohort).features["alt_uln"].tolist()[:2] == [45.0, 45.0]
    assert not report.warnings


def test_a_constant_limit_in_another_unit_than_the_values(wide):
    replace(wide / "mapping.yaml", "FPG (mg/dL): {variable: fasting_glucose, unit: mg/dL}",
            "FPG (mg/dL): {variable: bilirubin, unit: umol/L, ref_high: {value: 1.2, unit: mg/dL}}")
    cohort, _ = load_wide(None, wide / "mapping.yaml")
    bili = cohort.measurements[cohort.measurements["variable"] == "bilirubin"]
    assert set(bili["ref_high"]) == {21.0}  # 1.2 mg/dL = 20.5 umol/L, reported as 21


def test_without_any_uln_the_load_report_warns(wide):
    replace(wide / "mapping.yaml", "ALT: {variable: alt, unit: U/L, ref_high: ALT ULN}", "ALT: {variable: alt, unit: U/L}")
    replace(wide / "mapping.yaml", "ignore: [Comments]", "ignore: [Comments, ALT ULN]")
    cohort, report = load_wide(None, wide / "mapping.yaml")
    assert len(report.warnings) == 1 and "alt_uln" in report.warnings[0] and "unknown for everyone" in report.warnings[0]
    assert "warning: alt" in report.summary()
    assert screening_features(cohort).features.get("alt_uln") is None


@pytest.mark.parametrize("limit, fragment", [
    ("{value: 40, column: ALT ULN}", "exactly one of"), ("{column: ALT ULN, unit: U/L}", "`unit` is for a constant"),
    ("{value: .inf, unit: U/L}", "finite")])
def test_bad_limits_name_the_mapping_key(wide, limit, fragment):
    replace(wide / "mapping.yaml", "ref_high: ALT ULN}", f"ref_high: {limit}}}")
    with pytest.raises(DataError, match=fragment) as err:
        load_wide(None, wide / "mapping.yaml")
    assert "columns.ALT.ref_high" in str(err.value)


def test_the_documented_yaml_date_for_everyone_is_accepted(wide):
    replace(wide / "mapping.yaml", "index_date: Visit date", "index_date: {value: 2024-05-01}")
    replace(wide / "mapping.yaml", "ignore: [Comments]", "ignore: [Comments, Visit date]")
    cohort, _ = load_wide(None, wide / "mapping.yaml")
    assert set(cohort.subjects["index_date"]) == {pd.Timestamp("2024-05-01")}


def test_a_mapping_can_ask_for_full_width_digits_to_be_read(wide):
    replace(wide / "export.csv", "P01,2024-01-10,1,34,T1DM,64,", "P01,2024-01-10,1,34,T1DM,\uff16\uff14,")
    with pytest.raises(DataError, match="non-ASCII digits"):
        load_wide(None, wide / "mapping.yaml")
    replace(wide / "mapping.yaml", "{variable: hba1c, unit: mmol/mol}", "{variable: hba1c, unit: mmol/mol, digits: normalise}")
    cohort, report = load_wide(None, wide / "mapping.yaml")
    assert report.conversions["hba1c: normalised_digits"] == 1
    hba1c = cohort.measurements.set_index(["subject_id", "variable"])["value"]
    assert hba1c[("P01", "hba1c")] == 8.0  # 64 mmol/mol
