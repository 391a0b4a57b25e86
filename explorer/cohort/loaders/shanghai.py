"""Loader for the ShanghaiT1DM/T2DM clinical summaries (Zhao et al., Scientific Data 2023), with their CGM.

Each summary row is one recording (a hospital stay with CGM), "Patient Number" = patient_recording_date
(e.g. 1002_1_20210521). The screening unit is the patient: the labs of every recording become dated
measurements (at the recording date) and the subject fields come from the patient's latest recording.

Source-specific decisions (docs/data.md):
- HbA1c is in mmol/mol (IFCC) and converted to %; glucose mg/dL -> mmol/L; insulin pmol/L -> microU/mL
  (6.0); height m -> cm. Missing values are written "/".
- The "Uric Acid (mmol/L)" header is wrong: the values (about 150-600) are umol/L, the usual clinical
  range; 188 mmol/L would be lethal. The column is read as umol/L and the report says so.
- diabetes duration (years, at the recording) -> diagnosis date = recording date - duration.
- on_insulin: the "Hypoglycemic Agents" list names an insulin (generic or brand); "none" -> false.
- smoking_history: pack-years > 0.
- index date: the date of the patient's latest recording, or the day after their last CGM reading if
  that is later (CGM file given), so the labs of every stay lie before the index date and the 14-day CGM
  window is the end of the last recording.
Not mapped (listed in the report): glycated albumin, lipids, urea, complications and comorbidity
free text, other drugs, alcohol ("drinker" is not alcohol abuse), and "Hypoglycemia (yes/no)" (not
necessarily severe).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue
from explorer.errors import DataError

from .cgm import cgm_readings
from .common import (
    Boundary,
    OnInvalid,
    check_ids_across,
    finish_cgm,
    finish_cohort,
    loader_catalogue,
    numbers,
)
from .problems import collects_problems
from .readers import read_table, read_tables
from .report import Loaded, LoadReport
from .wide import ColumnRule, Field, WideMapping, wide_tables

SUMMARY_FILES = ("Shanghai_T1DM_Summary.csv", "Shanghai_T2DM_Summary.csv")
ID = "Patient Number"

# Lab and body columns (headers compared case- and space-insensitively) -> (variable, unit).
COLUMNS: dict[str, tuple[str, str]] = {
    "Height (m)": ("height", "m"),
    "Weight (kg)": ("weight", "kg"),
    "BMI (kg/m2)": ("bmi", "kg/m2"),
    "Fasting Plasma Glucose (mg/dl)": ("fasting_glucose", "mg/dL"),
    "2-hour Postprandial Plasma Glucose (mg/dl)": ("postmeal_glucose", "mg/dL"),
    "Fasting C-peptide (nmol/L)": ("fasting_cpeptide", "nmol/L"),
    "2-hour Postprandial C-peptide (nmol/L)": ("postmeal_cpeptide", "nmol/L"),
    "Fasting Insulin (pmol/L)": ("fasting_insulin", "pmol/L"),
    "2-hour Postprandial Insulin (pmol/L)": ("postmeal_insulin", "pmol/L"),
    "HbA1c (mmol/mol)": ("hba1c", "mmol/mol"),
    "Creatinine (umol/L)": ("creatinine", "umol/L"),
    "Estimated Glomerular Filtration Rate (ml/min/1.73m2)": ("egfr", "mL/min/1.73m2"),
    # The header says mmol/L; the values are umol/L (see the module docstring).
    "Uric Acid (mmol/L)": ("uric_acid", "umol/L"),
}
IGNORED = ("Alcohol Drinking History (drinker/non-drinker)", "Acute Diabetic Complications",
           "Diabetic Macrovascular Complications", "Diabetic Microvascular Complications", "Comorbidities",
           "Other Agents", "Glycated Albumin (%)", "Total Cholesterol (mmol/L)", "Triglyceride (mmol/L)",
           "High-Density Lipoprotein Cholesterol (mmol/L)", "Low-Density Lipoprotein Cholesterol (mmol/L)",
           "Blood Urea Nitrogen (mmol/L)", "Hypoglycemia (yes/no)")
SEX = "Gender (Female=1, Male=2)"
AGE = "Age (years)"
TYPE = "Type of Diabetes"
DURATION = "Duration of Diabetes (years)"
AGENTS = "Hypoglycemic Agents"
SMOKING = "Smoking History (pack year)"

# Insulins by generic and brand name as they appear in the summaries (and common others).
INSULIN = re.compile(r"insulin|humulin|novolin|gansulin|humalog|novolog|novorapid|novomix|lantus|levemir|"
                     r"toujeo|tresiba|apidra|basaglar|fiasp|ryzodeg|glargine|glarigine|detemir|degludec|"
                     r"aspart|lispro|glulisine", re.IGNORECASE)


@collects_problems
def load_shanghai(path: str | Path, *, cgm: str | Path | None = None, on_invalid: OnInvalid = "raise",
                  catalogue: Catalogue | None = None) -> Loaded:
    """Read one summary CSV, or a folder with both, optionally with the long CGM file (shanghai_cgm_long.csv)."""
    path = Path(path)
    files = [path / name for name in SUMMARY_FILES if (path / name).exists()] if path.is_dir() else [path]
    if not files:
        raise DataError(f"no Shanghai summary ({' or '.join(SUMMARY_FILES)}) in the folder", file=str(path))
    report = LoadReport(source=str(path), kind="shanghai")
    boundary = Boundary(report, on_invalid, loader_catalogue(catalogue))

    readings = None
    # a header-only CGM file is read as no readings (noted), as in the other loaders
    frame = None if cgm is None else read_tables({"CGM": Path(cgm)}, subjects="", report=report).get("CGM")
    if frame is not None:
        report.read(Path(cgm).name, len(frame))
        recording = frame["id"].astype("string").str.strip() if "id" in frame.columns else None
        if recording is None:
            raise DataError("the Shanghai CGM file needs an 'id' column (the recording id)", file=str(cgm), column="id")
        draft = cgm_readings(frame, boundary, file=str(cgm), subject_ids=recording.str.split("_").str[0])
        readings = finish_cgm(draft, boundary, file=str(cgm))
        report.kept(Path(cgm).name, len(readings))
    last_reading = readings.groupby("subject_id")["time"].max() if readings is not None else None

    subjects, measurements = [], []
    for file in files:
        frame = _normalised_headers(read_table(file, subjects=True))
        report.read(file.name, len(frame))
        prepared = _prepared(frame, boundary, file=str(file), last_reading=last_reading)
        tables = wide_tables(prepared, _mapping(frame), boundary, file=str(file),
                             consumed=(ID, DURATION, AGENTS, SMOKING))
        subjects.append(tables["subjects"])
        if tables["measurements"] is not None:
            measurements.append(tables["measurements"])
        report.kept(file.name, len(frame))
    report.note("uric acid: the header says mmol/L but the values are umol/L; read as umol/L")
    report.note("diabetes duration -> diagnosis date; Hypoglycemic Agents -> on_insulin; pack-years -> smoking_history")
    report.note("index date: the day after the last CGM reading" if cgm is not None
                else "index date: the latest recording date (no CGM file given)")
    check_ids_across({str(file): table["subject_id"] for file, table in zip(files, subjects, strict=True)})
    subjects = pd.concat(subjects, ignore_index=True)
    # Recordings without CGM readings get no CGM-based index date; a patient with CGM keeps theirs.
    cohort = finish_cohort(subjects, boundary, file=str(path), source=str(path),
                           measurements=pd.concat(measurements) if measurements else None, cgm=readings,
                           files={"cgm": str(cgm)} if cgm is not None else None)
    return Loaded(cohort, report)


def _normalised_headers(frame: pd.DataFrame) -> pd.DataFrame:
    """Headers matched case- and space-insensitively to the names this module uses (T1DM and T2DM differ)."""
    known = [ID, SEX, AGE, TYPE, DURATION, AGENTS, SMOKING, *COLUMNS, *IGNORED]
    by_key = {_key(name): name for name in known}
    return frame.rename(columns={c: by_key.get(_key(c), c) for c in frame.columns})


def _key(header: str) -> str:
    return re.sub(r"\s+", " ", str(header)).strip().lower()


def _prepared(frame: pd.DataFrame, boundary: Boundary, *, file: str, last_reading: pd.Series | None) -> pd.DataFrame:
    """The summary with derived columns: patient, recording date, and subject fields of the latest recording."""
    missing = [c for c in (ID, SEX, AGE, TYPE, DURATION, AGENTS, SMOKING) if c not in frame.columns]
    if missing:
        raise DataError(f"not a Shanghai summary: missing column(s) {missing}", file=file, column=missing[0])
    parts = frame[ID].astype("string").str.strip().str.extract(r"^(\d+)_(\d+)_(\d{8})$")
    bad = parts[0].isna().to_numpy()
    if bad.any():
        raise DataError("Patient Number must look like 1002_1_20210521 (patient_recording_yyyymmdd)", file=file,
                        column=ID, rows=frame.index[bad][:10].tolist())
    out = frame.copy()
    out["_patient"] = parts[0]
    recorded = pd.to_datetime(parts[2], format="%Y%m%d", errors="coerce")
    if recorded.isna().any():
        raise DataError("the date in Patient Number is not a valid date", file=file, column=ID,
                        rows=frame.index[recorded.isna().to_numpy()][:10].tolist())
    out["_recorded"] = recorded.dt.strftime("%Y-%m-%d")

    duration = numbers(frame[DURATION], file=file, column=DURATION, report=boundary.report,
                       label="diabetes_duration")
    diagnosed = recorded - pd.to_timedelta(duration * 365.25, unit="D")
    out["_diagnosed"] = diagnosed.dt.strftime("%Y-%m-%d")
    pack_years = numbers(frame[SMOKING], file=file, column=SMOKING, report=boundary.report, label="smoking")
    out["_smoker"] = np.where(np.isnan(pack_years), None, np.where(pack_years > 0, "yes", "no"))
    agents = frame[AGENTS].astype("string").str.strip()
    known_agents = agents.notna() & ~agents.isin(["", "/"])
    out["_on_insulin"] = np.where(known_agents, np.where(agents.str.contains(INSULIN, na=False), "yes", "no"), None)

    # Subject fields come from each patient's latest recording.
    order = out.sort_values(["_patient", "_recorded"], kind="stable")
    latest = order.groupby("_patient", sort=False).tail(1).set_index("_patient")
    for column in (SEX, AGE, TYPE, "_diagnosed", "_smoker", "_on_insulin"):
        out[column] = out["_patient"].map(latest[column])
    index = pd.to_datetime(out["_patient"].map(latest["_recorded"]))
    if last_reading is not None:  # never before the latest recording: its labs must not lie after the index
        after_cgm = pd.to_datetime(out["_patient"].map(last_reading.dt.normalize() + pd.Timedelta(days=1)))
        index = after_cgm.where(after_cgm > index, index)
    out["_index"] = pd.to_datetime(index).dt.strftime("%Y-%m-%d")
    return out


def _mapping(frame: pd.DataFrame) -> WideMapping:
    columns = {header: ColumnRule(variable=variable, unit=unit)
               for header, (variable, unit) in COLUMNS.items() if header in frame.columns}
    columns[TYPE] = ColumnRule(variable="diabetes_type", values={"T1DM": "T1D", "T2DM": "T2D"})
    columns["_smoker"] = ColumnRule(variable="smoking_history")
    columns["_on_insulin"] = ColumnRule(variable="on_insulin")
    return WideMapping(
        subject_id="_patient", index_date=Field(column="_index"), measured_at="_recorded",
        sex=Field(column=SEX, values={"1": "female", "2": "male"}), age=Field(column=AGE),
        diagnosis_date=Field(column="_diagnosed"), columns=columns,
        ignore=[c for c in IGNORED if c in frame.columns],
    )
