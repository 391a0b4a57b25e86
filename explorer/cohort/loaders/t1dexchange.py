"""Loader for the T1D Exchange severe-hypoglycaemia study in older adults (Weinstock et al., Diabetes Care
2016;39:603), public pipe-delimited tables.

Tables used: BPtRoster (subjects), BDemoLifeDiabHxMgmt (sex, insulin use and dose, severe hypoglycaemia
counts), BMedChart (weight, height, each with its own unit per row), BSampleResults (central-lab HbA1c,
C-peptide, glucose, creatinine; long form). Source-specific decisions (docs/data.md):

- Dates are de-identified: times are days from enrolment. Enrolment is placed at `enrollment_date`
  (a nominal date: only differences between dates carry meaning); the index date is the chart visit
  (enrolment + VisitDaysFromEnroll), and the blood sample is taken to be drawn at that visit.
- Age is not in the public files (the study enrolled adults aged 60 or older with type 1 diabetes for
  20 years or more), so age and diabetes duration stay unknown; diagnosis age alone cannot give them.
- diabetes_type is T1D for everyone (the study's inclusion criterion); on_insulin is true for everyone
  with a recorded insulin delivery method (pump or injections).
- NumSHLastYr (severe hypoglycaemia in the last year, categories such as "10 - 19", ">19") becomes the
  reported count severe_hypoglycemia@365 (range -> lower bound, see explorer.cohort.values). Where it is
  blank and NumSHSinceT1DDiag is 0 (the questionnaire skips the question), the count is 0.
- HbA1c has no unit in the file; the central lab reports NGSP % (values 5-14), so % is used.
- The blood sample is not fasting: C-peptide and glucose go to random_cpeptide / random_glucose, not to
  the fasting variables. C-peptide "<0.017" nmol/L is below the assay's limit (-> 0.0085, counted, with its interval [0, 0.017):
  a criterion whose threshold lies inside it is unknown for that subject, as with every other source).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue
from explorer.errors import DataError

from .common import (
    Boundary,
    OnInvalid,
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
from .readers import read_table
from .report import Loaded, LoadReport

FILES = {"roster": "BPtRoster.txt", "demo": "BDemoLifeDiabHxMgmt.txt", "chart": "BMedChart.txt",
         "samples": "BSampleResults.txt"}
ANALYTES = {"HBA1C": ("hba1c", "%"), "CPEP": ("random_cpeptide", None), "GLU": ("random_glucose", None),
            "CREA-S": ("creatinine", None)}  # None: the unit is in the row
SEVERE_HYPO = "severe_hypoglycemia"


@collects_problems
def load_t1d_exchange(folder: str | Path, *, enrollment_date: str = "2014-01-01", on_invalid: OnInvalid = "raise",
                      catalogue: Catalogue | None = None) -> Loaded:
    """Read the study folder (the four tables above; the other questionnaires are not used)."""
    folder = Path(folder)
    missing = [name for name in FILES.values() if not (folder / name).exists()]
    if missing:
        raise DataError(f"not a T1D Exchange study folder: missing {missing}", file=str(folder))
    report = LoadReport(source=str(folder), kind="t1d_exchange")
    boundary = Boundary(report, on_invalid, loader_catalogue(catalogue))
    paths = {key: folder / name for key, name in FILES.items()}
    raw = {key: read_table(path, sep="|") for key, path in paths.items()}
    for key, frame in raw.items():
        report.read(paths[key].name, len(frame))
    enrolled = pd.Timestamp(enrollment_date)

    roster, demo, chart = raw["roster"], raw["demo"], raw["chart"]
    for key, columns in {"roster": ["PtID"], "demo": ["PtID", "Gender", "NumSHLastYr", "NumSHSinceT1DDiag"],
                         "chart": ["PtID", "VisitDaysFromEnroll", "Weight", "WeightUnits", "Height", "HeightUnits"],
                         "samples": ["PtID", "Analyte", "Value", "Units"]}.items():
        require_columns(raw[key], columns, file=str(paths[key]))
    ids = roster["PtID"].astype("string").str.strip()
    visit_day = _by_subject(chart, "VisitDaysFromEnroll", boundary, file=str(paths["chart"]))
    visit = enrolled + pd.to_timedelta(ids.map(visit_day).fillna(0.0).to_numpy(), unit="D")

    demo_by_id = demo.assign(PtID=demo["PtID"].astype("string").str.strip()).set_index("PtID")
    sex = normalise_sex(demo["Gender"], file=str(paths["demo"]), column="Gender")
    sex.index = demo_by_id.index
    on_insulin = demo_by_id["InsDeliveryMethod"].astype("string").str.strip().notna() \
        if "InsDeliveryMethod" in demo.columns else pd.Series(pd.NA, index=demo_by_id.index)
    subjects = subjects_frame({
        "subject_id": ids, "index_date": pd.Series(visit, index=roster.index),
        "sex": ids.map(sex), "diabetes_type": "T1D",
        "on_insulin": ids.map(on_insulin.where(on_insulin, pd.NA)).astype("boolean"),
    }, index=roster.index, catalogue=boundary.catalogue)
    report.note(f"enrolment placed at the nominal date {enrolled.date()}; index date = chart visit")
    report.note("age and diabetes duration are not in the public files (de-identified): unknown")

    measurements = [
        _chart_measurements(chart, visit_day, enrolled, boundary, file=str(paths["chart"])),
        _sample_measurements(raw["samples"], ids, visit, boundary, file=str(paths["samples"])),
    ]
    if "UnitsInsTotal" in demo.columns:
        measurements.append(_insulin_dose(demo, visit_day, enrolled, boundary, file=str(paths["demo"])))
    counts = _severe_hypo_counts(demo, boundary, file=str(paths["demo"]))

    cohort = finish_cohort(subjects, boundary, file=str(folder), source=str(folder),
                           measurements=pd.concat(measurements), event_counts=counts,
                           files={"event_counts": str(paths["demo"])})
    report.kept(paths["roster"].name, len(cohort.subjects))
    report.kept(paths["demo"].name, len(demo))
    return Loaded(cohort, report)


def _by_subject(frame: pd.DataFrame, column: str, boundary: Boundary, *, file: str) -> pd.Series:
    values = numbers(frame[column], file=file, column=column, report=boundary.report)
    return pd.Series(values, index=frame["PtID"].astype("string").str.strip()).groupby(level=0).max()


def _chart_measurements(chart: pd.DataFrame, visit_day: pd.Series, enrolled: pd.Timestamp, boundary: Boundary,
                        *, file: str) -> pd.DataFrame:
    """Weight and height, each row in its own unit (lbs/kg, in/cm)."""
    ids = chart["PtID"].astype("string").str.strip()
    time = enrolled + pd.to_timedelta(ids.map(visit_day).fillna(0.0).to_numpy(), unit="D")
    rows = []
    for variable, value_column, unit_column in (("weight", "Weight", "WeightUnits"), ("height", "Height", "HeightUnits")):
        values = numbers(chart[value_column], file=file, column=value_column, report=boundary.report, label=variable)
        rows.append(pd.DataFrame({"subject_id": ids, "time": time, "variable": variable, "value": values,
                                  "unit": chart[unit_column].astype("string").str.strip(),
                                  "source_column": value_column}, index=chart.index))
    draft = pd.concat(rows)
    kept = draft[draft["value"].notna()]
    # Each chart row yields up to two measurements; the chart row counts as kept when either is known.
    name = Path(file).name
    used = kept.index.unique()
    boundary.report.reject(name, "neither weight nor height recorded", len(chart) - len(used))
    out = finish_measurements(kept, boundary, file=file, cells=True)
    boundary.report.kept(name, len(used))
    return out


def _sample_measurements(samples: pd.DataFrame, ids: pd.Series, visit: pd.DatetimeIndex, boundary: Boundary,
                         *, file: str) -> pd.DataFrame:
    name = Path(file).name
    analyte = samples["Analyte"].astype("string").str.strip()
    known = analyte.isin(list(ANALYTES)).to_numpy()
    boundary.report.count_unmapped(f"{name} Analyte", analyte[~known])
    boundary.report.reject(name, "analyte not mapped to a catalogue variable", int((~known).sum()))
    samples = samples[known]
    analyte = analyte[known]
    parsed = parsed_numbers(samples["Value"], file=file, column="Value", report=boundary.report, label="lab value",
                            count_missing=False)
    values = parsed.values
    unit_in_row = samples["Units"].astype("string").str.strip()
    fixed_unit = analyte.map({k: u for k, (_, u) in ANALYTES.items()}).astype("string")
    subject = samples["PtID"].astype("string").str.strip()
    visit_by_id = pd.Series(visit, index=ids.to_numpy())
    draft = pd.DataFrame({
        "subject_id": subject, "time": subject.map(visit_by_id).to_numpy(dtype="datetime64[ns]"),
        "variable": analyte.map({k: v for k, (v, _) in ANALYTES.items()}),
        "value": values, "unit": fixed_unit.fillna(unit_in_row), "source_column": "Value",
    }, index=samples.index)
    draft = with_censoring(draft, parsed)  # "<0.017": its code and limit, for the interval
    missing = draft["value"].isna().to_numpy()
    boundary.report.reject(name, "result missing", int(missing.sum()))
    out = finish_measurements(boundary.set_aside(draft, missing), boundary, file=file)
    boundary.report.kept(name, len(out))
    boundary.report.convert("hba1c: unit blank in the file, read as % (central lab NGSP)",
                            int((analyte[~missing] == "HBA1C").sum()))
    return out


def _insulin_dose(demo: pd.DataFrame, visit_day: pd.Series, enrolled: pd.Timestamp, boundary: Boundary, *,
                  file: str) -> pd.DataFrame:
    ids = demo["PtID"].astype("string").str.strip()
    values = numbers(demo["UnitsInsTotal"], file=file, column="UnitsInsTotal", report=boundary.report,
                     label="insulin_dose")
    draft = pd.DataFrame({"subject_id": ids,
                          "time": enrolled + pd.to_timedelta(ids.map(visit_day).fillna(0.0).to_numpy(), unit="D"),
                          "variable": "insulin_dose", "value": values, "unit": "U/day",
                          "source_column": "UnitsInsTotal"}, index=demo.index)
    return finish_measurements(draft[draft["value"].notna()], boundary, file=file, cells=True)


def _severe_hypo_counts(demo: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    report = boundary.report
    last_year = numbers(demo["NumSHLastYr"], file=file, column="NumSHLastYr", report=report, kind="count",
                        label=f"{SEVERE_HYPO}@365 (NumSHLastYr)")
    ever = numbers(demo["NumSHSinceT1DDiag"], file=file, column="NumSHSinceT1DDiag", report=report, kind="count",
                   label="NumSHSinceT1DDiag")
    skipped = np.isnan(last_year) & (ever == 0)
    report.convert("NumSHLastYr blank with NumSHSinceT1DDiag = 0 (question skipped) -> 0", int(skipped.sum()))
    last_year = np.where(skipped, 0.0, last_year)
    return pd.DataFrame({"subject_id": demo["PtID"].astype("string").str.strip(), "event": SEVERE_HYPO,
                         "within_days": 365.0, "count": last_year}, index=demo.index)
