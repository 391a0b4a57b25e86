"""Loader for "wide" tables (one row per subject or visit) described by a small YAML mapping file.

A researcher points the explorer at a spreadsheet export by writing which column holds which catalogue
variable and in which unit; nothing is inferred from column names. Example (docs/data.md has the full
reference):

    file: screening_export.xlsx          # optional; relative to this mapping file
    sheet: Screening                     # Excel only
    subject_id: Patient ID
    index_date: Visit date               # a column, or {value: 2024-05-01} for everyone
    measured_at: Lab date                # optional: when the labs were taken (default: the index date)
    sex: {column: Sex, values: {"1": female, "2": male}}
    birth_date: DOB                      # or age: Age (years at the index date)
    missing: ["n.d."]                    # extra missing markers besides blank, "/", "NA", ...
    columns:
      HbA1c (mmol/mol): {variable: hba1c, unit: mmol/mol}
      ALT: {variable: alt, unit: U/L, ref_high: ALT ULN}     # or ref_high: {value: 40, unit: U/L}
      Diabetes: {variable: diabetes_type, values: {T1DM: T1D, T2DM: T2D}}
      Hypos last year: {event: severe_hypoglycemia, within_days: 365}
    ignore: [Comments]

Number variables become dated measurements, except those marked `static: true` (age and
diabetes_duration are static by default), which become subject columns; boolean and category variables
become subject columns; `event` columns become reported event counts. Columns neither mapped nor
ignored are listed in the load report. Several rows per subject are allowed when `measured_at` is
given (one per visit); subject columns must then agree across a subject's rows.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from explorer.catalogue import Catalogue
from explorer.cohort.units import conversion, convert
from explorer.cohort.values import subject_censoring_columns
from explorer.errors import DataError
from explorer.strict_input import RefusedInput, load_yaml

from .common import (
    Boundary,
    OnInvalid,
    dates,
    finish_cohort,
    finish_measurements,
    loader_catalogue,
    normalise_boolean,
    normalise_category,
    normalise_sex,
    numbers,
    parse_dates,
    parsed_numbers,
    require_columns,
    subjects_frame,
    with_censoring,
)
from .problems import collects_problems
from .readers import read_table
from .report import Loaded, LoadReport

STATIC_BY_DEFAULT = {"age", "diabetes_duration", "cancer_remission_years"}
_YAML_TRUE, _YAML_FALSE = ("true", "yes", "y", "on"), ("false", "no", "n", "off")


class Field(BaseModel):
    """A subject field: a column (optionally with value labels) or one constant value for everyone."""

    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    value: str | None = None
    values: dict[str | int | float | bool, str | bool] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data):
        if isinstance(data, str):
            return {"column": data}
        if isinstance(data, dict) and isinstance(data.get("value"), datetime.date | int | float):
            # YAML reads `{value: 2024-05-01}` as a date (and `{value: 40}` as a number): take it as written
            value = data["value"]
            return {**data, "value": value.isoformat() if isinstance(value, datetime.date) else str(value)}
        return data

    @model_validator(mode="after")
    def _one_source(self):
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of `column` or `value`")
        return self


class Limit(BaseModel):
    """A reference limit (ref_low / ref_high): a column of per-row limits, or one constant with its unit."""

    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    value: float | None = None
    unit: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _limit_from_text(cls, data):
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _limit_source(self):
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of `column` or `value` (a constant limit, with its `unit`)")
        if self.value is not None and not np.isfinite(self.value):
            raise ValueError("a constant limit must be a finite number")
        if self.column is not None and self.unit is not None:
            raise ValueError("a column of limits is in the unit of its values; `unit` is for a constant")
        return self


class ColumnRule(BaseModel):
    """What one source column holds."""

    model_config = ConfigDict(extra="forbid")
    variable: str | None = None
    unit: str | None = None
    unit_column: str | None = None
    ref_low: Limit | None = None
    ref_high: Limit | None = None
    values: dict[str | int | float | bool, str | bool] | None = None
    static: bool | None = None
    event: str | None = None
    within_days: float | None = None
    measured_at: str | None = None
    on_text: Literal["raise", "unknown"] = "raise"
    digits: Literal["ascii", "normalise"] = "ascii"  # normalise: read full-width digits, counted

    @model_validator(mode="after")
    def _variable_or_event(self):
        if (self.variable is None) == (self.event is None):
            raise ValueError("give exactly one of `variable` or `event`")
        if self.event is not None and not self.within_days:
            raise ValueError("an event count needs `within_days` (the period the count covers)")
        return self


class WideMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str | None = None
    sheet: str | int = 0
    sep: str | None = None
    subject_id: str
    index_date: Field
    measured_at: str | None = None
    sex: Field | None = None
    birth_date: Field | None = None
    age: Field | None = None
    diagnosis_date: Field | None = None
    missing: list[str] = []
    columns: dict[str, ColumnRule] = {}
    ignore: list[str] = []


def read_mapping(path: str | Path) -> WideMapping:
    """Parse and validate a mapping file; errors name the file and the offending key."""
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except RefusedInput as err:
        raise DataError(str(err), file=str(path)) from None
    except yaml.YAMLError as err:
        raise DataError(f"not valid YAML: {' '.join(str(err).split())}", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read the mapping file ({type(err).__name__}); is it UTF-8 text?",
                        file=str(path)) from None
    if not isinstance(data, dict):
        raise DataError("a mapping file must be a YAML mapping (subject_id:, index_date:, columns: ...)",
                        file=str(path))
    return parse_mapping(data, source=str(path))


def parse_mapping(data: dict, *, source: str = "mapping") -> WideMapping:
    try:
        return WideMapping.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{first['msg']} (in {len(err.errors())} place(s))", file=source, column=where) from None


@collects_problems
def load_wide(path: str | Path | None = None, mapping: str | Path | dict | WideMapping | None = None, *,
              on_invalid: OnInvalid = "raise", catalogue: Catalogue | None = None) -> Loaded:
    """Read a wide table with its mapping. `path` may be omitted when the mapping file names `file:`."""
    mapping_source = str(mapping) if isinstance(mapping, str | Path) else "mapping"
    if isinstance(mapping, str | Path):
        spec = read_mapping(mapping)
        base = Path(mapping).parent
    elif isinstance(mapping, dict):
        spec, base = parse_mapping(mapping), Path(".")
    elif isinstance(mapping, WideMapping):
        spec, base = mapping, Path(".")
    else:
        raise DataError("load_wide needs a mapping (a YAML file path, a dict or a WideMapping)")
    if path is None:
        if spec.file is None:
            raise DataError("the mapping does not name the data `file:`; pass the data path", file=mapping_source)
        path = base / spec.file
    path = Path(path)
    frame = read_table(path, sheet=spec.sheet, sep=spec.sep, subjects=True)
    report = LoadReport(source=str(path), kind="wide")
    boundary = Boundary(report, on_invalid, loader_catalogue(catalogue))
    report.read(path.name, len(frame))
    tables = wide_tables(frame, spec, boundary, file=str(path), mapping_file=mapping_source)
    cohort = finish_cohort(tables.pop("subjects"), boundary, file=str(path), source=str(path), **tables)
    report.kept(path.name, len(frame))
    return Loaded(cohort, report)


def wide_tables(frame: pd.DataFrame, spec: WideMapping, boundary: Boundary, *, file: str,
                mapping_file: str = "mapping", consumed: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
    """Draft canonical tables from a wide frame: subjects, measurements, event_counts.

    Every source row is used (a row is a subject or a subject's visit), so rows are never rejected
    here; missing cells become unknown values, counted in the report's conversions. `consumed` names
    columns a source-specific loader has already turned into derived columns.
    """
    catalogue, report = boundary.catalogue, boundary.report
    unmapped = [c for c in _check_spec(spec, frame, catalogue, file=file, mapping_file=mapping_file)
                if c not in consumed]
    if unmapped:
        report.count_unmapped(f"{Path(file).name} columns (neither mapped nor ignored)", pd.Series(unmapped))
    if spec.ignore:
        report.note(f"{Path(file).name}: columns ignored as the mapping says: {', '.join(spec.ignore)}")
    missing_tokens = {t.lower() for t in spec.missing}
    frame = frame.apply(lambda s: s.mask(s.astype("string").str.strip().str.lower().isin(missing_tokens))
                        if s.dtype == object or pd.api.types.is_string_dtype(s) else s)

    ids = frame[spec.subject_id].astype("string").str.strip()
    index_date = _field_dates(frame, spec.index_date, file=file, name="index_date", report=report)
    measured_at = (dates(frame[spec.measured_at], file=file, column=spec.measured_at, report=report)
                   if spec.measured_at else index_date)
    columns: dict[str, object] = {"subject_id": ids, "index_date": index_date}
    if spec.sex:
        columns["sex"] = normalise_sex(_labelled(frame, spec.sex), file=file, column=spec.sex.column or "sex")
    if spec.birth_date:
        columns["birth_date"] = _field_dates(frame, spec.birth_date, file=file, name="birth_date", report=report)
    if spec.diagnosis_date:
        columns["diagnosis_date"] = _field_dates(frame, spec.diagnosis_date, file=file, name="diagnosis_date", report=report)
    if spec.age:
        columns["age"] = _numbers(_labelled(frame, spec.age), file=file, column=spec.age.column or "age",
                                  report=report, kind="exact")

    measurements, counts = [], []
    for column, rule in spec.columns.items():
        if rule.event is not None:
            counts.append(_event_count(frame, ids, column, rule, report, file=file))
            continue
        var = catalogue[rule.variable]
        cells = _labelled(frame, Field(column=column, values=rule.values))
        if var.kind == "boolean":
            columns[var.name] = normalise_boolean(cells, file=file, column=column)
        elif var.kind == "category":
            columns[var.name] = normalise_category(cells, var, file=file, column=column)
        elif rule.static or (rule.static is None and var.name in STATIC_BY_DEFAULT):
            # an age takes no censored form ("<18" is text), as the `age` field and the canonical subjects' age
            parsed = parsed_numbers(cells, file=file, column=column, report=report, on_text=rule.on_text,
                                    normalise_digits=rule.digits == "normalise", label=var.name,
                                    kind="exact" if var.name == "age" else "measurement")
            columns[var.name] = parsed.values
            columns.update(subject_censoring_columns(var.name, parsed))  # "<5": its interval, as a measurement's
        else:
            time = dates(frame[rule.measured_at], file=file, column=rule.measured_at, report=report) \
                if rule.measured_at else measured_at
            measurements.append(_measurement(frame, ids, time, column, rule, report, file=file))

    subjects = pd.DataFrame(columns, index=frame.index)
    if spec.measured_at:  # one row per visit: fold a subject's rows into one
        subjects = _one_row_per_subject(subjects, file=file)
    subjects = subjects_frame({c: subjects[c] for c in subjects.columns}, index=subjects.index, catalogue=catalogue)
    draft = pd.concat(measurements) if measurements else pd.DataFrame()
    return {
        "subjects": subjects,
        "measurements": finish_measurements(draft, boundary, file=file, cells=True) if len(draft) else None,
        "event_counts": pd.concat(counts) if counts else None,
    }


def _check_spec(spec: WideMapping, frame: pd.DataFrame, catalogue: Catalogue, *, file: str,
                mapping_file: str) -> list[str]:
    referenced = [spec.subject_id, spec.measured_at]
    for name in ("index_date", "sex", "birth_date", "age", "diagnosis_date"):
        f = getattr(spec, name)
        if f is not None:
            referenced.append(f.column)
    for column, rule in spec.columns.items():
        referenced += [column, rule.unit_column, rule.measured_at]
        referenced += [limit.column for limit in (rule.ref_low, rule.ref_high) if limit is not None]
        if rule.variable is not None:
            var = catalogue.get(rule.variable)
            if var is None:
                raise DataError(f"{rule.variable!r} is not a catalogue variable", file=mapping_file,
                                column=f"columns.{column}.variable")
            if var.kind == "event":
                raise DataError(f"{var.name!r} is an event; map it as `event: {var.name}` with within_days",
                                file=mapping_file, column=f"columns.{column}")
            if var.kind == "number" and var.name not in STATIC_BY_DEFAULT and not rule.static \
                    and rule.unit is None and rule.unit_column is None:
                raise DataError(f"{column!r} ({var.name}) needs a `unit` (catalogue unit: {var.unit})",
                                file=mapping_file, column=f"columns.{column}.unit")
        elif rule.event not in catalogue.names("event"):
            raise DataError(f"{rule.event!r} is not a catalogue event", file=mapping_file,
                            column=f"columns.{column}.event")
    require_columns(frame, [c for c in referenced if c], file=file, what="file (as the mapping describes it)")
    unmapped = [c for c in frame.columns if c not in set(referenced) | set(spec.ignore)]
    return unmapped


def _labelled(frame: pd.DataFrame, field: Field) -> pd.Series:
    """The field's cells, with value labels applied (YAML turns yes/no keys into booleans: both match)."""
    if field.value is not None:
        return pd.Series(field.value, index=frame.index, dtype="string")
    cells = frame[field.column]
    if not field.values:
        return cells
    mapping: dict[str, object] = {}
    for key, label in field.values.items():
        if isinstance(key, bool):
            for spelling in (_YAML_TRUE if key else _YAML_FALSE):
                mapping[spelling] = label
        else:
            mapping[_cell_text(key)] = label
    text = cells.map(_cell_text, na_action="ignore").astype("string").str.lower()
    labelled = text.map({k.lower(): v for k, v in mapping.items()})
    # Cells without a label stay as they are, so the normaliser can still accept or reject them.
    return labelled.where(labelled.notna(), cells.astype("string"))


def _cell_text(value) -> str:
    """A cell as text, with Excel's 1.0 for 1 written as 1 so numeric codes match their labels."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


def _field_dates(frame: pd.DataFrame, field: Field, *, file: str, name: str, report: LoadReport) -> pd.Series:
    if field.value is not None:
        return parse_dates(pd.Series(field.value, index=frame.index), file=file, column=name)
    return dates(frame[field.column], file=file, column=field.column, report=report)


def _numbers(cells: pd.Series, *, file: str, column: str, report: LoadReport, on_text: str = "raise",
             normalise_digits: bool = False,
             kind: str = "measurement", label: str | None = None) -> np.ndarray:
    return numbers(cells, file=file, column=column, report=report, on_text=on_text, kind=kind,
                   normalise_digits=normalise_digits,
                   label=label or column)


def _measurement(frame, ids, time, column: str, rule: ColumnRule, report: LoadReport, *, file: str) -> pd.DataFrame:
    parsed = parsed_numbers(frame[column], file=file, column=column, report=report, on_text=rule.on_text,
                            normalise_digits=rule.digits == "normalise", label=rule.variable)
    unit = (frame[rule.unit_column].astype("string").str.strip() if rule.unit_column
            else pd.Series(rule.unit, index=frame.index, dtype="string"))
    draft = pd.DataFrame({"subject_id": ids, "time": time, "variable": rule.variable, "value": parsed.values,
                          "unit": unit, "source_column": column}, index=frame.index)
    draft = with_censoring(draft, parsed)  # "<0.017": its code and limit, for the interval
    for name in ("ref_low", "ref_high"):
        limit = getattr(rule, name)
        if limit is not None and limit.column is not None:
            draft[name] = _numbers(frame[limit.column], file=file, column=limit.column, report=report,
                                   label=limit.column)
        elif limit is not None:
            draft[name] = _constant_limit(limit, rule, unit, file=file, column=column, name=name)
    return draft[draft["value"].notna()]


def _constant_limit(limit: Limit, rule: ColumnRule, units: pd.Series, *, file: str, column: str,
                    name: str) -> np.ndarray:
    """A constant limit (e.g. ALT ULN 40 U/L) in each row's unit, so it converts with the row's value."""
    stated = limit.unit or rule.unit
    if stated is None:
        raise DataError(f"the constant {name} needs a `unit` (the values' unit comes from a column)",
                        file=file, column=f"columns.{column}.{name}")
    in_catalogue_unit = convert([limit.value], variable=rule.variable, unit=stated)[0]
    out = np.full(len(units), np.nan)
    for row_unit in units.dropna().unique():
        scale, offset = conversion(rule.variable, str(row_unit))
        out[(units == row_unit).to_numpy(dtype=bool, na_value=False)] = (in_catalogue_unit - offset) / scale
    return out


def _event_count(frame, ids, column: str, rule: ColumnRule, report: LoadReport, *, file: str) -> pd.DataFrame:
    counts = _numbers(frame[column], file=file, column=column, report=report, kind="count",
                      on_text=rule.on_text, label=f"{rule.event}@{rule.within_days:g} ({column})")
    negative = counts < 0
    if negative.any():
        raise DataError("an event count cannot be negative", file=file, column=column,
                        rows=frame.index[negative][:10].tolist())
    return pd.DataFrame({"subject_id": ids, "event": rule.event, "within_days": float(rule.within_days),
                         "count": counts}, index=frame.index)


def _one_row_per_subject(subjects: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """One row per subject; a subject's rows must agree on every subject column (the latest index date wins)."""
    if not subjects["subject_id"].duplicated().any():
        return subjects
    ordered = subjects.sort_values(["subject_id", "index_date"], kind="stable")
    static = [c for c in ordered.columns if c not in ("subject_id", "index_date")]
    disagree = ordered.groupby("subject_id", sort=False)[static].nunique(dropna=True).gt(1)
    if disagree.to_numpy().any():
        subject = disagree.index[disagree.any(axis=1)][0]
        column = disagree.columns[disagree.loc[subject]][0]
        rows = subjects.index[(subjects["subject_id"] == subject).to_numpy()].tolist()
        raise DataError(f"subject {subject!r} has rows that disagree on {column!r} (a duplicate subject id?)",
                        file=file, column=column, rows=rows)
    filled = ordered.groupby("subject_id", sort=False)[static].transform("last") if static else ordered[[]]
    latest = ordered.assign(**{c: filled[c] for c in static}).drop_duplicates("subject_id", keep="last")
    return latest
