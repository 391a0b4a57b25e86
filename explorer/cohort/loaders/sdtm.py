"""Loader for CDISC SDTM domains DM, LB, VS and MH, as CSV or SAS transport (XPT) files.

- DM (required): USUBJID -> subject_id, SEX, BRTHDTC -> birth_date, AGE/AGEU -> age. Index date: RFICDTC
  (informed consent, the screening start) if given, else DMDTC (demographics collection, at screening),
  else RFSTDTC (first study treatment).
- LB: standard results (LBSTRESN, or LBSTRESC for censored values such as "<3.42"; LBSTRESU) at LBDTC,
  with the lab's reference range LBSTNRLO/LBSTNRHI in the same units; LBSTNRHI is the upper limit of
  normal (alt_uln etc. in the screening features). LBTESTCD -> variable through LAB_CODES; glucose,
  insulin and C-peptide are fasting values only where LBFAST = "Y" (glucose and C-peptide otherwise go
  to random_glucose / random_cpeptide; non-fasting insulin is not mapped).
- VS: VSTESTCD WEIGHT, HEIGHT, BMI, SYSBP, DIABP (VSSTRESN, VSSTRESU, VSDTC).
- MH: diabetes type and diagnosis date (MHSTDTC) from the dictionary term (MHDECOD, else MHTERM).
  A record that says only "diabetes mellitus" gives no type (unknown). A subject without a diabetes
  record has diabetes_type unknown unless `mh_complete=True` says the history is complete ("none").
- Partial ISO dates (SDTM allows "2013" or "2013-12") are imputed to the middle of the period
  (1 July, the 15th), which is off by at most half the period; each imputation is counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue
from explorer.cohort.values import ParsedNumbers
from explorer.errors import DataError

from .common import (
    Boundary,
    OnInvalid,
    dates,
    finish_cohort,
    finish_measurements,
    loader_catalogue,
    normalise_sex,
    numbers,
    parsed_numbers,
    require_columns,
    subjects_frame,
    with_censoring,
)
from .problems import collects_problems
from .readers import read_tables
from .report import Loaded, LoadReport

DOMAINS = ("dm", "lb", "vs", "mh")
SUFFIXES = (".xpt", ".csv", ".parquet")

# LBTESTCD -> variable (CDISC Controlled Terminology test codes). Tests whose meaning depends on the
# fasting state are in FASTING_DEPENDENT.
LAB_CODES = {"ALT": "alt", "AST": "ast", "BILI": "bilirubin", "CREAT": "creatinine", "URATE": "uric_acid",
             "HBA1C": "hba1c", "HBA1CHGB": "hba1c", "CREATCLR": "creatinine_clearance"}
FASTING_DEPENDENT = {"GLUC": ("fasting_glucose", "random_glucose"),
                     "CPEPTIDE": ("fasting_cpeptide", "random_cpeptide"),
                     "INSULIN": ("fasting_insulin", None)}
VITAL_CODES = {"WEIGHT": "weight", "HEIGHT": "height", "BMI": "bmi", "SYSBP": "systolic_bp", "DIABP": "diastolic_bp"}
DIABETES_TERMS = {  # MedDRA preferred terms (upper case) -> diabetes_type; None = type not stated
    "TYPE 1 DIABETES MELLITUS": "T1D", "DIABETES MELLITUS INSULIN-DEPENDENT": "T1D",
    "TYPE 2 DIABETES MELLITUS": "T2D", "DIABETES MELLITUS NON-INSULIN-DEPENDENT": "T2D",
    "LATENT AUTOIMMUNE DIABETES IN ADULTS": "other", "DIABETES MELLITUS": None,
}
AGE_UNITS = {"YEARS": 1.0, "MONTHS": 1 / 12, "WEEKS": 7 / 365.25, "DAYS": 1 / 365.25}


def domain_files(folder: Path, files: dict[str, str | Path] | None = None) -> dict[str, Path]:
    """The domain files: given explicitly, or found as dm.xpt / DM.csv / ... in the folder."""
    if files:
        return {d.lower(): (folder / f if not Path(f).is_absolute() else Path(f)) for d, f in files.items()}
    found = {}
    by_name = {p.name.lower(): p for p in folder.iterdir()} if folder.is_dir() else {}
    for domain in DOMAINS:
        for suffix in SUFFIXES:
            if f"{domain}{suffix}" in by_name:
                found[domain] = by_name[f"{domain}{suffix}"]
                break
    return found


@collects_problems
def load_sdtm(folder: str | Path, *, files: dict[str, str | Path] | None = None, mh_complete: bool = False,
              on_invalid: OnInvalid = "raise", catalogue: Catalogue | None = None) -> Loaded:
    """Read SDTM domains from a folder (or the explicit `files`, e.g. {"dm": "dm_metabolic.csv", ...})."""
    folder = Path(folder)
    paths = domain_files(folder, files)
    if "dm" not in paths:
        raise DataError("no DM domain (dm.xpt or dm.csv) found; DM is required", file=str(folder))
    report = LoadReport(source=str(folder), kind="sdtm")
    boundary = Boundary(report, on_invalid, loader_catalogue(catalogue))
    raw = read_tables(paths, subjects="dm", report=report)
    for d, frame in raw.items():
        report.read(paths[d].name, len(frame))

    subjects = _dm(raw["dm"], boundary, file=str(paths["dm"]))
    report.kept(paths["dm"].name, len(subjects))
    measurements = []
    if "lb" in raw:
        measurements.append(_lb(raw["lb"], boundary, file=str(paths["lb"])))
    if "vs" in raw:
        measurements.append(_vs(raw["vs"], boundary, file=str(paths["vs"])))
    if "mh" in raw:
        subjects = _mh(raw["mh"], subjects, boundary, file=str(paths["mh"]), complete=mh_complete)
    cohort = finish_cohort(subjects, boundary, file=str(paths["dm"]), source=str(folder),
                           measurements=pd.concat(measurements) if measurements else None,
                           files={"measurements": str(folder)})
    return Loaded(cohort, report)


def parse_partial_dates(series: pd.Series, *, file: str, column: str, report) -> pd.Series:
    """ISO 8601 dates that may be partial ("2013", "2013-12"): the loaders' one rule (common.dates)."""
    return dates(series, file=file, column=column, report=report)


def _dm(dm: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(dm, ["USUBJID", "SEX"], file=file, what="DM domain")
    report = boundary.report
    index = None
    for column in ("RFICDTC", "DMDTC", "RFSTDTC"):
        if column in dm.columns:
            dates = parse_partial_dates(dm[column], file=file, column=column, report=report)
            index = dates if index is None else index.fillna(dates)
            if index.notna().all():
                break
    if index is None:
        raise DataError("DM needs a screening date: RFICDTC, DMDTC or RFSTDTC", file=file, column="RFICDTC")
    report.note("index date: RFICDTC, else DMDTC, else RFSTDTC")
    columns: dict[str, object] = {
        "subject_id": dm["USUBJID"].astype("string").str.strip(),
        "sex": normalise_sex(dm["SEX"], file=file, column="SEX"),
        "index_date": index,
    }
    if "BRTHDTC" in dm.columns:
        columns["birth_date"] = parse_partial_dates(dm["BRTHDTC"], file=file, column="BRTHDTC", report=report)
    if "AGE" in dm.columns:
        age = numbers(dm["AGE"], file=file, column="AGE", report=report, kind="exact")
        if "AGEU" in dm.columns:
            unit = dm["AGEU"].astype("string").str.strip().str.upper()
            factor = unit.map(AGE_UNITS)
            bad = (unit.notna() & factor.isna()).to_numpy()
            if bad.any():
                raise DataError(f"unknown age unit {unit[bad].iloc[0]!r} (use {list(AGE_UNITS)})", file=file,
                                column="AGEU", rows=dm.index[bad][:10].tolist())
            age = age * factor.fillna(1.0).to_numpy(dtype="float64")
        negative = age < 0
        if negative.any():
            raise DataError("age cannot be negative", file=file, column="AGE", rows=dm.index[negative][:10].tolist())
        columns["age"] = age
    return subjects_frame(columns, index=dm.index, catalogue=boundary.catalogue)


def _lb(lb: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(lb, ["USUBJID", "LBTESTCD", "LBDTC"], file=file, what="LB domain")
    if "LBSTRESN" not in lb.columns and "LBSTRESC" not in lb.columns:
        raise DataError("LB needs standard results LBSTRESN or LBSTRESC (with LBSTRESU)", file=file,
                        column="LBSTRESN")
    report, name = boundary.report, Path(file).name
    code = lb["LBTESTCD"].astype("string").str.strip().str.upper()
    fasting = (lb["LBFAST"].astype("string").str.strip().str.upper() == "Y").fillna(False) \
        if "LBFAST" in lb.columns else pd.Series(False, index=lb.index)
    variable = code.map(LAB_CODES)
    for test, (when_fasting, otherwise) in FASTING_DEPENDENT.items():
        is_test = (code == test).fillna(False)
        variable = variable.mask(is_test & fasting, when_fasting)
        variable = variable.mask(is_test & ~fasting, otherwise)
    mapped = variable.notna().to_numpy()
    report.count_unmapped(f"{name} LBTESTCD", code[~mapped])
    report.reject(name, "test not mapped to a catalogue variable", int((~mapped).sum()))
    lb, variable = lb[mapped], variable[mapped]

    result = _standard_result(lb, "LB", file=file, report=report)
    value = result.values
    unit_column = "LBSTRESU" if "LBSTRESU" in lb.columns else None
    if unit_column is None:
        raise DataError("LB needs LBSTRESU (the unit of the standard result)", file=file, column="LBSTRESU")
    draft = pd.DataFrame({
        "subject_id": lb["USUBJID"].astype("string").str.strip(),
        "time": parse_partial_dates(lb["LBDTC"], file=file, column="LBDTC", report=report),
        "variable": variable, "value": value, "unit": lb[unit_column].astype("string").str.strip(),
        "ref_low": numbers(lb["LBSTNRLO"], file=file, column="LBSTNRLO", report=report, on_text="unknown",
                           count_missing=False)
        if "LBSTNRLO" in lb.columns else np.nan,
        "ref_high": numbers(lb["LBSTNRHI"], file=file, column="LBSTNRHI", report=report, on_text="unknown",
                            count_missing=False)
        if "LBSTNRHI" in lb.columns else np.nan,
        "source_column": "LBSTRESN",
    }, index=lb.index)
    if "VISIT" in lb.columns:
        draft["visit"] = lb["VISIT"].astype("string")
    draft = with_censoring(draft, result)
    missing = draft["value"].isna().to_numpy()
    report.reject(name, "no result (LBSTRESN/LBSTRESC blank)", int(missing.sum()))
    out = finish_measurements(boundary.set_aside(draft, missing), boundary, file=file)
    report.kept(name, len(out))
    return out


def _standard_result(frame: pd.DataFrame, prefix: str, *, file: str, report) -> ParsedNumbers:
    """LBSTRESN where numeric; else LBSTRESC parsed (censored values such as "<3.42" -> 1.71, counted, with
    their censoring code kept for the interval)."""
    numeric = numbers(frame[f"{prefix}STRESN"], file=file, column=f"{prefix}STRESN", report=report,
                      label=f"{prefix}STRESN", count_missing=False) \
        if f"{prefix}STRESN" in frame.columns else np.full(len(frame), np.nan)
    censored = np.zeros(len(frame), np.int8)
    if f"{prefix}STRESC" in frame.columns:
        blank = np.isnan(numeric)
        if blank.any():
            character = parsed_numbers(frame[f"{prefix}STRESC"][blank], file=file, column=f"{prefix}STRESC",
                                       report=report, label=f"{prefix}STRESC (character result)",
                                       count_missing=False)
            numeric = numeric.copy()
            numeric[blank] = character.values
            censored[blank] = character.censored
    return ParsedNumbers(numeric, censored)


def _vs(vs: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    require_columns(vs, ["USUBJID", "VSTESTCD", "VSSTRESU", "VSDTC"], file=file, what="VS domain")
    report, name = boundary.report, Path(file).name
    code = vs["VSTESTCD"].astype("string").str.strip().str.upper()
    variable = code.map(VITAL_CODES)
    mapped = variable.notna().to_numpy()
    report.count_unmapped(f"{name} VSTESTCD", code[~mapped])
    report.reject(name, "test not mapped to a catalogue variable", int((~mapped).sum()))
    vs, variable = vs[mapped], variable[mapped]
    draft = pd.DataFrame({
        "subject_id": vs["USUBJID"].astype("string").str.strip(),
        "time": parse_partial_dates(vs["VSDTC"], file=file, column="VSDTC", report=report),
        "variable": variable, "value": (result := _standard_result(vs, "VS", file=file, report=report)).values,
        "unit": vs["VSSTRESU"].astype("string").str.strip(), "source_column": "VSSTRESN",
    }, index=vs.index)
    draft = with_censoring(draft, result)
    missing = draft["value"].isna().to_numpy()
    report.reject(name, "no result (VSSTRESN blank)", int(missing.sum()))
    out = finish_measurements(boundary.set_aside(draft, missing), boundary, file=file)
    report.kept(name, len(out))
    return out


def _mh(mh: pd.DataFrame, subjects: pd.DataFrame, boundary: Boundary, *, file: str, complete: bool) -> pd.DataFrame:
    require_columns(mh, ["USUBJID"], file=file, what="MH domain")
    report, name = boundary.report, Path(file).name
    term = mh["MHDECOD"] if "MHDECOD" in mh.columns else mh["MHTERM"]
    term = term.astype("string").str.strip().str.upper()
    is_diabetes = term.isin(list(DIABETES_TERMS)).fillna(False).to_numpy()
    report.reject(name, "history term not mapped to a catalogue variable", int((~is_diabetes).sum()))
    report.kept(name, int(is_diabetes.sum()))
    records = mh[is_diabetes]
    dtype = term[is_diabetes].map(DIABETES_TERMS)
    start = parse_partial_dates(records["MHSTDTC"], file=file, column="MHSTDTC", report=report) \
        if "MHSTDTC" in records.columns else pd.Series(pd.NaT, index=records.index)
    per_subject = pd.DataFrame({"subject_id": records["USUBJID"].astype("string").str.strip(),
                                "diabetes_type": dtype, "diagnosis_date": start})
    # A stated type wins over "diabetes mellitus"; two different stated types are contradictory.
    stated = per_subject.dropna(subset=["diabetes_type"])
    conflicting = stated.groupby("subject_id")["diabetes_type"].nunique()
    if (conflicting > 1).any():
        subject = conflicting[conflicting > 1].index[0]
        raise DataError(f"subject {subject} has contradictory diabetes types in MH", file=file, column="MHDECOD",
                        rows=records.index[(per_subject["subject_id"] == subject).to_numpy()].tolist())
    dtype_by_subject = stated.groupby("subject_id")["diabetes_type"].first()
    diagnosed = per_subject.groupby("subject_id")["diagnosis_date"].min()
    untyped = set(per_subject["subject_id"]) - set(dtype_by_subject.index)
    report.convert("MH: diabetes recorded without its type -> diabetes_type unknown", len(untyped))
    out = subjects.copy()
    ids = out["subject_id"]
    default = "none" if complete else pd.NA
    out["diabetes_type"] = ids.map(dtype_by_subject).astype("string")
    has_record = ids.isin(per_subject["subject_id"])
    out.loc[~has_record.to_numpy(), "diabetes_type"] = default
    out["diagnosis_date"] = ids.map(diagnosed).astype("datetime64[ns]")
    if not complete:
        report.note("MH: subjects without a diabetes record have diabetes_type unknown (mh_complete=False)")
    return out
