"""Checks and conversions every loader shares: dates, sex, booleans, categories, measurements, the Cohort.

Loaders turn their source into draft canonical tables and hand them to `finish_cohort`, which converts
units, checks the contract (required columns, unique subjects, plausible values, dates neither in the
future nor before birth) and either raises a DataError naming the file, column and first rows, or,
with `on_invalid="reject"`, drops the offending rows and counts them in the load report.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue, Variable, default_catalogue
from explorer.cohort.features import FROM_DATES, outside_from_dates, outside_message, outside_reason
from explorer.cohort.tables import (
    CGM_COLUMNS,
    EVENT_COLUMNS,
    EVENT_COUNT_COLUMNS,
    EVENT_HISTORY_COLUMNS,
    MEASUREMENT_COLUMNS,
    UNUSABLE_COLUMNS,
    Cohort,
    empty,
)
from explorer.cohort.units import to_catalogue_units
from explorer.cohort.values import CENSORING_COLUMNS, MISSING_TOKENS, ParsedNumbers, parse_numbers
from explorer.errors import DataError

from . import problems
from .report import LoadReport, table_name

OnInvalid = Literal["raise", "reject"]

# Variables some sources measure that the catalogue does not have yet. Loaders keep such rows in the
# measurements table under these names (units converted, ranges checked) instead of relabelling a
# non-fasting glucose as fasting; screening_features ignores variables its catalogue does not know.
PENDING_VARIABLES: tuple[Variable, ...] = (
    Variable("random_glucose", "number", unit="mmol/L", range=(1.0, 60.0), role="screening",
             description="Plasma glucose without a stated fasting or post-meal condition"),
    Variable("random_cpeptide", "number", unit="nmol/L", range=(0.0, 15.0), role="screening",
             description="Serum C-peptide from a non-fasting (random) sample"),
)

SEX_VALUES = {"female": "female", "f": "female", "woman": "female", "w": "female",
              "male": "male", "m": "male", "man": "male"}
SEX_UNKNOWN = {"u", "unknown", "unk", "undifferentiated", "other", "not reported"}
BOOLEAN_VALUES = {"true": True, "t": True, "yes": True, "y": True, "1": True, "1.0": True, "positive": True,
                  "false": False, "f": False, "no": False, "n": False, "0": False, "0.0": False,
                  "negative": False}

# Plausible CGM readings (mg/dL): sensors report roughly 40-400 (some to 500); below 20 or above 600 is
# not a glucose value in mg/dL (often a mmol/L file).
CGM_RANGE = (20.0, 600.0)
CGM_OUTSIDE = (f"CGM glucose outside {CGM_RANGE[0]:g}-{CGM_RANGE[1]:g} mg/dL; is the file in mmol/L? "
               "(pass unit='mmol/L')")


def loader_catalogue(catalogue: Catalogue | None = None) -> Catalogue:
    """The catalogue plus the pending variables it does not define yet."""
    catalogue = catalogue or default_catalogue()
    return catalogue.extended(v for v in PENDING_VARIABLES if v.name not in catalogue)


@dataclass
class Boundary:
    """The checking context of one load: where errors point, and what happens to invalid rows."""

    report: LoadReport
    on_invalid: OnInvalid = "raise"
    catalogue: Catalogue = field(default_factory=loader_catalogue)
    now: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now().normalize() + pd.Timedelta(days=1))
    # the source's own field(s) a canonical column was read from, given its source rows (OMOP's birth_date is
    # year_of_birth, month_of_birth, day_of_birth or birth_datetime): errors name what the researcher's file has
    source_fields: dict[str, Callable[[list], str]] = field(default_factory=dict)
    # measurement rows without a usable value (blank, not a number, rejected as implausible): they decide nothing,
    # but Cohort.unusable keeps where and when they were, so "why unknown" can say so (finish_cohort)
    unusable: list[pd.DataFrame] = field(default_factory=list)

    def __post_init__(self):
        problems.adopt(self)  # inside a collecting loader, this boundary judges the problems it collects

    def field_name(self, column: str, rows: list) -> str:
        """The name errors give `column` for these source rows."""
        return self.source_fields[column](rows) if column in self.source_fields else column

    def set_aside(self, draft: pd.DataFrame, mask) -> pd.DataFrame:
        """`draft` (measurement rows) without the rows in `mask`, kept as measured without a usable value."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.unusable.append(draft.loc[mask, list(UNUSABLE_COLUMNS)])
        return draft[~mask]

    def invalid(self, frame: pd.DataFrame, mask, *, file: str, column: str, message: str,
                cells: bool = False) -> pd.DataFrame:
        """`frame` without the rows in `mask`; raises instead when on_invalid='raise'.

        `cells=True` says the rows are cells of a wide source row (a subject's lab value), so a rejected
        one is a value made unknown (counted under conversions), not a rejected source row.
        """
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return frame
        if "source_column" in frame.columns:  # name the column of the source file, not the draft's
            column = str(frame["source_column"].to_numpy()[mask][0])
        if self.on_invalid == "raise":
            if problems.collecting():  # kept with the load's other problems; the rows are left out meanwhile
                values = frame[column] if column in frame.columns else None
                problems.found(frame.index, mask, file=file, column=column, problem=message, values=values,
                               alone=message)
                return frame[~mask]
            raise DataError(message, file=file, column=column, rows=frame.index[mask][:20].tolist(),
                            count=int(mask.sum()))
        if cells:
            self.report.convert(f"{column}: {message} -> unknown", int(mask.sum()))
        else:
            self.report.reject(table_name(file), f"{column}: {message}", int(mask.sum()))
        self.report.record_invalid(file=file, column=column, problem=message, rows=frame.index[mask],
                                   made_unknown=cells)
        return frame[~mask]


# --- cell conversions ------------------------------------------------------------------------------

def parse_dates(series: pd.Series, *, file: str, column: str) -> pd.Series:
    """ISO 8601 dates/times (or native datetimes) as naive datetime64[ns] in local wall-clock time.

    Only ISO 8601 ("2021-07-30", "2021-07-30 16:43", "2021-07-30T16:43:00") is accepted for text:
    "03/04/2021" means different days in different countries, so it is refused rather than guessed.
    A UTC offset after a time ("+05:00", "-0400", "Z") is dropped and the wall-clock time kept, whether
    one offset runs through the column, the offset changes at daylight-saving time, or offsets mix with
    plain dates: the canonical model is local time, because the consensus metrics and the AGP read the
    clock the patient lived by (a reading at 08:00 is a breakfast reading in summer and in winter).
    Anything else that pandas cannot read is a DataError naming the file, column and rows.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)  # wall-clock time in the column's own zone
    else:
        text = series.astype("string").str.strip()
        text = text.mask(text == "")
        wall_clock = text.str.replace(UTC_OFFSET, r"\1", regex=True)
        try:
            out = pd.to_datetime(wall_clock, format="ISO8601", errors="coerce")
        except (ValueError, TypeError, OverflowError) as error:  # pandas refuses the column as a whole
            raise DataError(f"dates cannot be read together ({str(error).splitlines()[0]}); write them as "
                            "ISO 8601 (YYYY-MM-DD[ HH:MM[:SS]][+HH:MM])", file=file, column=column) from None
        bad = (text.notna() & out.isna()).to_numpy()
        if bad.any():
            hint = excel_serial_hint(text[bad].iloc[0])
            examples = ", ".join(repr(v) for v in text[bad].unique()[:3])
            problems.found(series.index, bad, file=file, column=column, values=text,
                           problem=f"not an ISO 8601 date (YYYY-MM-DD[ HH:MM[:SS]]){hint}", rejectable=False,
                           alone=f"not an ISO 8601 date (YYYY-MM-DD[ HH:MM[:SS]]): {examples}{hint}")
    # Nanosecond datetimes span 1677-2262; beyond that a date is a typo (e.g. 2999), not a measurement.
    late, early = (out > pd.Timestamp.max).to_numpy(), (out < pd.Timestamp.min).to_numpy()
    for bad, what in ((late, "date in the future"), (early, "date before 1678")):
        if bad.any():
            problems.found(series.index, bad, file=file, column=column, problem=what, values=out.astype(str),
                           rejectable=False, alone=f"{what} ({out[bad].iloc[0]})")
        out = out.mask(bad)
    return out.astype("datetime64[ns]")


# Excel stores a date as days since 1899-12-30 (its 1900 date system); a column not formatted as dates is
# exported as these numbers. 10,000 is 1927-05-18 and 2,958,465 is 9999-12-31: five to seven digits.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIALS = (10_000, 2_958_465)


def excel_serial_hint(value: str) -> str:
    """What to do when a date cell holds an Excel serial number ('45352' is 2024-03-01); "" otherwise.
    Never read as a date: a workbook may use the 1904 date system, four years apart."""
    try:
        serial = float(value)
    except ValueError:
        return ""
    if not EXCEL_SERIALS[0] <= serial <= EXCEL_SERIALS[1]:
        return ""
    day = (EXCEL_EPOCH + pd.Timedelta(days=serial)).date()
    return (f"; {value!r} looks like an Excel date serial number ({day} in Excel's usual 1900 date system): format "
            "the column as dates (YYYY-MM-DD) in the spreadsheet and export it again")


def dates(series: pd.Series, *, file: str, column: str, report: LoadReport) -> pd.Series:
    """Dates from a file, where partial ISO dates ("2013", "2013-12") are imputed and counted in the report.

    A partial date is imputed to the middle of its period (1 July, the 15th), off by at most half the
    period, and each imputation is counted under the column; everything else is parse_dates' rule.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return parse_dates(series, file=file, column=column)
    text = series.astype("string").str.strip()
    year = text.str.fullmatch(r"[0-9]{4}").fillna(False)
    month = text.str.fullmatch(r"[0-9]{4}-[0-9]{2}").fillna(False)
    report.convert(f"{column}: partial date (year only) -> 1 July", int(year.sum()))
    report.convert(f"{column}: partial date (year-month) -> 15th", int(month.sum()))
    completed = text.mask(year, text + "-07-01").mask(month, text + "-15")
    return parse_dates(completed, file=file, column=column)


# A UTC offset (or Z) right after a clock time (public: the SQL readers strip it with the same pattern); group 1 is everything up to the offset. Requiring the
# clock time keeps the day of a plain date ("2021-07-30") from being read as an offset "-30".
UTC_OFFSET = r"^(.*\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$"


def normalise_sex(series: pd.Series, *, file: str, column: str) -> pd.Series:
    """female/male (any case, F/M) -> "female"/"male"; unknown markers -> NA; anything else: DataError."""
    text = series.astype("string").str.strip().str.lower()
    mapped = text.map(SEX_VALUES)
    unknown = text.isna() | (text == "") | text.isin(SEX_UNKNOWN)
    bad = (mapped.isna() & ~unknown).to_numpy()
    if bad.any():
        problems.found(series.index, bad, file=file, column=column, values=text, rejectable=False,
                       problem="sex must be female/male (or F/M, or a marker of unknown such as 'unknown')",
                       alone=f"sex must be female/male (or F/M); got {sorted(set(text[bad]))[:5]}")
    return mapped.astype("string")


def normalise_boolean(series: pd.Series, *, file: str, column: str,
                      values: dict | None = None) -> pd.Series:
    """true/false, yes/no, 1/0, positive/negative (or the given mapping) -> pandas boolean; blank -> NA."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    mapping = {str(k).strip().lower(): v for k, v in (values or BOOLEAN_VALUES).items()}
    text = series.astype("string").str.strip().str.lower()
    missing = text.isna() | text.isin({"", "na", "n/a", "/", "unknown", "unk", "nan"})
    mapped = text.map(mapping)
    bad = (mapped.isna() & ~missing).to_numpy()
    if bad.any():
        problems.found(series.index, bad, file=file, column=column, values=text, rejectable=False,
                       problem="not a yes/no value (true/false, yes/no, 1/0, positive/negative)",
                       alone=f"not a yes/no value: {sorted(set(text[bad]))[:5]}")
    return mapped.astype("boolean")


def normalise_category(series: pd.Series, variable: Variable, *, file: str, column: str,
                       values: dict | None = None) -> pd.Series:
    """Category labels (case-insensitive, or through `values`) -> the catalogue's spelling; others: error."""
    mapping = {c.lower(): c for c in variable.categories}
    mapping.update({str(k).strip().lower(): v for k, v in (values or {}).items()})
    text = series.astype("string").str.strip().str.lower()
    missing = text.isna() | text.isin({"", "na", "n/a", "/", "unknown", "unk"})
    mapped = text.map(mapping)
    bad = (mapped.isna() & ~missing).to_numpy()
    if bad.any():
        problems.found(series.index, bad, file=file, column=column, values=text, rejectable=False,
                       problem=f"{variable.name} must be one of {list(variable.categories)[:12]}",
                       alone=f"{variable.name} must be one of {list(variable.categories)}; got "
                             f"{sorted(set(text[bad]))[:5]}")
    return mapped.astype("string")


def numbers(series: pd.Series, *, file: str, column: str, report: LoadReport, label: str | None = None,
            kind: str = "measurement", on_text: str = "raise", count_missing: bool = True,
            normalise_digits: bool = False) -> np.ndarray:
    """Parse a numeric column (explorer.cohort.values) and count every non-plain conversion in the report.

    `count_missing=False` for optional columns, and for long tables whose rows without a value are
    counted as rejected rows instead.
    """
    return parsed_numbers(series, file=file, column=column, report=report, label=label, kind=kind, on_text=on_text,
                          count_missing=count_missing, normalise_digits=normalise_digits).values


def parsed_numbers(series: pd.Series, *, file: str, column: str, report: LoadReport, label: str | None = None,
                   kind: str = "measurement", on_text: str = "raise", count_missing: bool = True,
                   normalise_digits: bool = False) -> ParsedNumbers:
    """`numbers`, keeping how each value was read: the censoring codes of limits such as "<0.017"."""
    judged_here = on_text == "raise" and problems.collecting()
    parsed = parse_numbers(series, column=column, file=file, kind=kind, on_text="unknown" if judged_here else on_text,
                           normalise_digits=normalise_digits)
    for rule, n in parsed.counts.items():
        if rule != "numeric" and (count_missing or rule != "missing") and not (judged_here and rule == "text_as_unknown"):
            report.convert(f"{label or column}: {rule}", n)
    if judged_here:
        check_text_cells(series, parsed.values, file=file, column=column)
    return parsed


def with_censoring(draft: pd.DataFrame, parsed: ParsedNumbers, kind: str = "measurement") -> pd.DataFrame:
    """Draft measurement rows with the optional `censored` (code) and `limit` columns, only when some value was
    given as a limit: a source without any pays nothing (docs/data.md, "Censored and categorical values")."""
    if parsed.censored.any():
        draft["censored"] = parsed.censored
        draft["limit"] = parsed.limits(kind)
    return draft


# What a number cell that cannot be read is, in the pandas loaders and the SQL loads alike (engine.canonical_sql)
TEXT_IN_NUMBERS = "text in a numeric column"
INFINITE_IN_NUMBERS = "infinite value in a numeric column"


def check_text_cells(series: pd.Series, values: np.ndarray, *, file: str, column: str) -> None:
    """Cells of a number column read as unknown that are neither blank nor a missing marker (text, "7,5", inf):
    problems.found, saying what would fix the commonest spellings."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        bad = np.isinf(series.to_numpy(dtype="float64", na_value=np.nan))
        problems.found(series.index, bad, file=file, column=column, values=series.astype(str),
                       problem=INFINITE_IN_NUMBERS, advice="blank or NA for a missing value")
        return
    text = series.astype("string").str.strip()
    bad = (np.isnan(values) & text.notna().to_numpy() & ~text.str.lower().isin(MISSING_TOKENS).to_numpy())
    if bad.any():
        problems.found(series.index, bad, file=file, column=column, values=text, problem=TEXT_IN_NUMBERS,
                       advice=f"{_number_hint(text[bad])}blank or NA for a missing value")


def _number_hint(cells: pd.Series) -> str:
    """What the unreadable number cells most likely are, said so that the fix is plain."""
    cells = cells.astype(str)
    if cells.str.fullmatch(r"-?[0-9]+,[0-9]+").any():
        return "a decimal comma, as in '7,5', is not read: write '7.5'; was the file saved with a ';' separator?; "
    if cells.str.fullmatch(r"-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?").any():
        return "thousands separators, as in '1,234', are not read: write '1234'; "
    if cells.map(lambda c: any(ch.isdigit() and not ch.isascii() for ch in c)).any():
        return "non-ASCII digits, e.g. full-width, are not read as numbers: retype them as 0-9; "
    if cells.str.fullmatch(r"(?i)[+-]?(inf|infinity|nan)|.*e[+]?[0-9]{3,}").any():
        return "infinite or overflowing numbers are not measurements; "
    if cells.str.fullmatch(r"\s*(<=?|>=?|≤|≥)\s*[0-9.]+\s*").any():
        # only exact quantities (an age, a window in days) refuse a limit: lab columns read it as censored
        return "a limit such as '<18' is not a value here (an age or a count of days is exact): give the value; "
    return ""


# --- the tables ------------------------------------------------------------------------------------

def finish_measurements(draft: pd.DataFrame, boundary: Boundary, *, file: str, cells: bool = False) -> pd.DataFrame:
    """Draft measurement rows (values in source units) -> canonical rows in catalogue units, checked.

    `draft` has subject_id, time, variable, value, unit and optionally ref_low, ref_high, visit, and
    source_column (named in errors); its index is the source row. Rows whose value is missing must
    already be removed (and reported). `cells=True` for wide sources (see Boundary.invalid).
    """
    if draft.empty:
        return empty(MEASUREMENT_COLUMNS)
    draft = draft.copy()
    for column in ("ref_low", "ref_high"):
        if column not in draft.columns:
            draft[column] = np.nan
    unknown = ~draft["variable"].isin(boundary.catalogue.names("number"))
    draft = boundary.invalid(draft, unknown.to_numpy(), file=file, column="variable",
                             message="not a number variable of the catalogue", cells=cells)
    # a censored value's limit is converted with it (the limit is what decides a criterion)
    converted, counts = to_catalogue_units(draft, catalogue=boundary.catalogue, file=file,
                                           value_columns=("value", "ref_low", "ref_high", "limit"),
                                           unrounded=("limit",))
    for what, n in counts.items():
        boundary.report.convert(f"unit {what}", n)
    converted = check_ranges(converted, boundary, file=file, cells=cells)
    check_upper_limits(converted, boundary, file=file)
    keys = ["subject_id", "time", "variable"] + (["visit"] if "visit" in converted.columns else [])
    converted = drop_duplicates(converted, keys, "value", boundary, file=file, cells=cells,
                                what="measurement", column="value", conflicts="report")
    columns = list(MEASUREMENT_COLUMNS) + (["visit"] if "visit" in converted.columns else [])
    censoring = {c: t for c, t in CENSORING_COLUMNS.items() if c in converted.columns}
    if "censored" in converted.columns:  # rows of sources (wide columns) without any censored value: exact
        converted["censored"] = converted["censored"].fillna(0)
    out = converted[columns + list(censoring)].astype(
        {**MEASUREMENT_COLUMNS, **({"visit": "string"} if "visit" in columns else {}), **censoring})
    return out


def check_ranges(measurements: pd.DataFrame, boundary: Boundary, *, file: str,
                 value_column: str = "value", cells: bool = False) -> pd.DataFrame:
    """Rows whose value lies outside the variable's plausible range are invalid (e.g. HbA1c 90 %)."""
    variables = measurements["variable"].astype("string")
    low = variables.map({v.name: v.range[0] for v in boundary.catalogue if v.range}).astype("float64")
    high = variables.map({v.name: v.range[1] for v in boundary.catalogue if v.range}).astype("float64")
    value = measurements[value_column].to_numpy(dtype="float64", na_value=np.nan)
    outside = (value < low.to_numpy()) | (value > high.to_numpy())
    if outside.any():
        first = np.flatnonzero(outside)[0]
        message = outside_range(boundary.catalogue[variables.iloc[first]], value[first], boundary.on_invalid)
        if boundary.on_invalid == "reject":  # measured, but the value is not usable
            boundary.set_aside(measurements, outside)
        measurements = boundary.invalid(measurements, outside, file=file, column=value_column, message=message,
                                        cells=cells)
    return measurements


def check_upper_limits(measurements: pd.DataFrame, boundary: Boundary, *, file: str) -> None:
    """A reference upper limit (ref_high, after unit conversion) outside the range of the lab's `<variable>_uln`
    (an ALT limit of 40 U/L given on a creatinine row in mg/dL: 3,537 umol/L) is refused naming the file, ref_high
    and rows, whatever on_invalid says: it becomes the subject's ULN, and every engine refuses that feature."""
    if "ref_high" not in measurements.columns or measurements.empty:
        return
    ranges = {v.name[:-4]: v.range for v in boundary.catalogue if v.name.endswith("_uln") and v.range}
    variables = measurements["variable"].astype("string")
    low = variables.map({k: r[0] for k, r in ranges.items()}).astype("float64").to_numpy()
    high = variables.map({k: r[1] for k, r in ranges.items()}).astype("float64").to_numpy()
    limit = measurements["ref_high"].to_numpy(dtype="float64", na_value=np.nan)
    outside = (limit < low) | (limit > high)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        var = boundary.catalogue[f"{variables.iloc[first]}_uln"]
        problems.found(measurements.index, outside, file=file, column="ref_high", rejectable=False,
                       values=pd.Series(limit, index=measurements.index).map("{:g}".format),
                       problem=f"an upper limit of normal outside the plausible range of {var.name} "
                               f"[{var.range[0]:g}, {var.range[1]:g}] {var.unit} (after unit conversion; first: "
                               f"{variables.iloc[first]} {limit[first]:g} {var.unit}); is it another lab's limit, "
                               "or in another unit than the value?")


def outside_range(var: Variable, value: float, on_invalid: OnInvalid) -> str:
    """check_ranges' message for the first value outside its variable's range (one line for all when rejected)."""
    if on_invalid == "reject":
        return "value outside the plausible range of its variable"
    return (f"{var.name} = {value:g} {var.unit} is outside the plausible range [{var.range[0]:g}, "
            f"{var.range[1]:g}] {var.unit} (after unit conversion); check the value and its unit")


def drop_duplicates(frame: pd.DataFrame, keys: list[str], value: str, boundary: Boundary, *, file: str,
                    what: str, column: str, cells: bool = False,
                    conflicts: Literal["invalid", "report"] = "invalid") -> pd.DataFrame:
    """Rows repeating another row's keys, by `conflicts`:

    "invalid" (CGM: a sensor gives one reading per time): an exact repeat is dropped and counted, two
    different values are invalid rows (raise, or drop and count).
    "report" (labs and vital signs): every row is kept, because sources with day-resolution times record
    real repeated readings (three blood pressures at a visit, equal or not); screening features use their
    mean (explorer.cohort.features), the repeats are counted and different values are warned of.
    "Last row wins" would pick one of two conflicting values by file order, which nobody can see.
    """
    if frame.empty:
        return frame
    if conflicts == "report":
        repeated = frame.duplicated(keys, keep=False).to_numpy()
        if repeated.any():
            boundary.report.convert(f"{column}: repeated {what}s at one time (kept; screening uses their mean)",
                                    int(repeated.sum()))
            distinct = frame[repeated].groupby(keys, dropna=False, observed=True)[value].transform("nunique")
            differing = int((distinct > 1).sum())
            if differing:
                variables = sorted(set(frame[repeated][(distinct > 1).to_numpy()]["variable"].astype(str))) \
                    if "variable" in frame else []
                boundary.report.warn(f"{table_name(file)}: {differing} {what}s share subject, time and variable "
                                     f"with a different value ({', '.join(variables[:6])}); screening uses the "
                                     "mean of such values")
        return frame
    exact = frame.duplicated(keys + [value]).to_numpy()
    if exact.any():
        reason = f"duplicate {what} (same {', '.join(keys)} and {value})"
        if cells:
            boundary.report.convert(f"{column}: {reason} -> kept once", int(exact.sum()))
        else:
            boundary.report.reject(table_name(file), reason, int(exact.sum()))
        frame = frame[~exact]
    clash = frame.duplicated(keys, keep=False).to_numpy()
    return boundary.invalid(frame, clash, file=file, column=column, cells=cells,
                            message=f"two different values for one {what} (same {', '.join(keys)}); "
                                    "keep the right one or give them different times")


def finish_cgm(draft: pd.DataFrame, boundary: Boundary, *, file: str) -> pd.DataFrame:
    """Draft CGM readings (subject_id, time, glucose in mg/dL) -> checked canonical readings, sorted."""
    if draft.empty:
        return empty(CGM_COLUMNS)
    glucose = draft["glucose"].to_numpy(dtype="float64", na_value=np.nan)
    outside = (glucose < CGM_RANGE[0]) | (glucose > CGM_RANGE[1])
    draft = boundary.invalid(draft, outside, file=file, column="glucose", message=CGM_OUTSIDE)
    draft = drop_duplicates(draft, ["subject_id", "time"], "glucose", boundary, file=file, what="reading",
                            column="glucose")
    out = draft[list(CGM_COLUMNS)].astype(CGM_COLUMNS)
    return out.sort_values(["subject_id", "time"], kind="stable")


def finish_cohort(subjects: pd.DataFrame, boundary: Boundary, *, file: str,
                  measurements: pd.DataFrame | None = None, events: pd.DataFrame | None = None,
                  cgm: pd.DataFrame | None = None, event_history: pd.DataFrame | None = None,
                  event_counts: pd.DataFrame | None = None, files: dict[str, str] | None = None,
                  source: str = "") -> Cohort:
    """Check the canonical tables against each other and return the Cohort.

    `files` names the file each table came from (for error messages); `file` is the default.
    """
    problems.raise_collected()  # the cells' problems first: the checks below would repeat them as consequences
    files = files or {}
    sfile = files.get("subjects", file)
    _check_subjects(subjects, boundary, file=sfile)
    tables = {
        "measurements": measurements if measurements is not None else empty(MEASUREMENT_COLUMNS),
        "events": events if events is not None else empty(EVENT_COLUMNS),
        "cgm": cgm if cgm is not None else empty(CGM_COLUMNS),
        "event_history": event_history if event_history is not None else empty(EVENT_HISTORY_COLUMNS),
        "event_counts": event_counts if event_counts is not None else empty(EVENT_COUNT_COLUMNS),
    }
    m = tables["measurements"]
    if "censored" in m.columns and m["censored"].isna().any():  # tables of one source stacked, some without limits
        tables["measurements"] = m.assign(censored=m["censored"].fillna(0)).astype(
            {c: t for c, t in CENSORING_COLUMNS.items() if c in m.columns})
    known_ids = pd.Index(subjects["subject_id"].astype("string"))
    birth = subjects.set_index("subject_id")["birth_date"] if "birth_date" in subjects.columns else None
    for name, table in tables.items():
        if table.empty:
            continue
        tfile = files.get(name, file)
        orphan = ~table["subject_id"].astype("string").isin(known_ids)
        table = boundary.invalid(table, orphan.to_numpy(), file=tfile, column="subject_id",
                                 message="subject id not in the subjects table")
        time_column = {"event_history": "recorded_from"}.get(name, "time")
        if time_column in table.columns:
            table = _check_times(table, time_column, birth, boundary, file=tfile)
        tables[name] = table.reset_index(drop=True)
    subjects = subjects.reset_index(drop=True)
    _warn_without_uln(tables["measurements"], subjects, boundary)
    return Cohort(subjects=subjects, source=source or file, unusable=_unusable(boundary, known_ids), **tables)


def _unusable(boundary: Boundary, known_ids: pd.Index) -> pd.DataFrame:
    """The rows set aside as measured without a usable value, of known subjects, number variables and dated."""
    if not boundary.unusable:
        return empty(UNUSABLE_COLUMNS)
    rows = pd.concat(boundary.unusable, ignore_index=True)
    rows = rows.astype({"subject_id": "string", "variable": "string"})
    keep = (rows["subject_id"].isin(known_ids) & rows["variable"].isin(boundary.catalogue.names("number"))
            & pd.to_datetime(rows["time"], errors="coerce").notna())
    return rows[keep.to_numpy()].astype(UNUSABLE_COLUMNS).drop_duplicates().reset_index(drop=True)


def _warn_without_uln(measurements: pd.DataFrame, subjects: pd.DataFrame, boundary: Boundary) -> None:
    """Warn where a lab has values but no upper limit of normal at all: every "x ULN" rule is then unknown."""
    if measurements.empty:
        return
    variables = measurements["variable"].astype("string")
    for variable in sorted(set(variables.dropna())):
        uln = f"{variable}_uln"
        if uln not in boundary.catalogue or uln in subjects.columns or (variables == uln).any():
            continue
        rows = (variables == variable).to_numpy()
        if measurements.loc[rows, "ref_high"].isna().all():
            boundary.report.warn(f"{variable}: none of its {int(rows.sum())} values has an upper limit of normal, "
                                 f"so a criterion using {uln} (\"x ULN\") is unknown for everyone; give "
                                 "ref_high (a column, or a constant with its unit) in the mapping")


def _check_subjects(subjects: pd.DataFrame, boundary: Boundary, *, file: str) -> None:
    for column in ("subject_id", "index_date"):
        if column not in subjects.columns:
            raise DataError(f"the subjects table needs a {column!r} column", file=file, column=column)
    ids = subjects["subject_id"]
    if ids.isna().any():
        raise DataError("subject id is missing", file=file, column="subject_id",
                        rows=subjects.index[ids.isna().to_numpy()][:10].tolist())
    check_unique_ids(ids, file=file)
    index = subjects["index_date"]
    if index.isna().any():
        raise DataError("index (screening) date is missing", file=file, column="index_date",
                        rows=subjects.index[index.isna().to_numpy()][:10].tolist())
    for column in ("birth_date", "diagnosis_date", "index_date"):
        if column in subjects.columns:
            future = (subjects[column] > boundary.now).to_numpy()
            if future.any():
                raise DataError(f"date in the future ({subjects[column][future].iloc[0].date()})", file=file,
                                column=column, rows=subjects.index[future][:10].tolist())
    if "birth_date" in subjects.columns:
        for column in ("diagnosis_date", "index_date"):
            if column in subjects.columns:
                before = (subjects[column] < subjects["birth_date"]).to_numpy()
                if before.any():
                    raise DataError(f"{column} is before the birth date", file=file, column=column,
                                    rows=subjects.index[before][:10].tolist())
    if "diagnosis_date" in subjects.columns:
        after = (subjects["diagnosis_date"] > subjects["index_date"]).to_numpy()
        if after.any():
            raise DataError("diagnosis date is after the index date", file=file, column="diagnosis_date",
                            rows=subjects.index[after][:10].tolist())
    if "age" in subjects.columns:
        age = subjects["age"].to_numpy(dtype="float64", na_value=np.nan)
        low, high = boundary.catalogue["age"].range
        bad = (age < low) | (age > high)
        if bad.any():
            raise DataError(f"age {age[bad][0]:g} is impossible (must lie in [{low:g}, {high:g}] years)",
                            file=file, column="age", rows=subjects.index[bad][:10].tolist())
    check_from_dates(subjects, boundary, file=file)


def check_from_dates(subjects: pd.DataFrame, boundary: Boundary, *, file: str) -> None:
    """A date that gives an age or duration outside its plausible range (a placeholder birth date 1900-01-01: an age
    of 124) is an error naming the date column; with on_invalid="reject" it is counted, and the derived value is
    unknown with its reason (features.FROM_DATES), every other value of the subject kept. `subjects` is indexed by
    source row; canonical_sql passes the candidate rows of its folder."""
    for feature, (values, outside) in outside_from_dates(subjects, boundary.catalogue).items():
        if not outside.any():
            continue
        column = FROM_DATES[feature][0]
        rows = subjects.index[outside].tolist()
        if boundary.on_invalid == "raise":
            first = int(np.flatnonzero(outside)[0])
            named = boundary.field_name(column, rows[:1])
            message = outside_message(feature, boundary.catalogue, subject=str(subjects["subject_id"].iloc[first]),
                                      date=subjects[column].iloc[first], value=float(values[first]),
                                      index_date=subjects["index_date"].iloc[first], count=int(outside.sum()),
                                      named=named)
            raise DataError(message, file=file, column=named, rows=rows[:10])
        named = boundary.field_name(column, rows)
        reason = f"{outside_reason(feature, boundary.catalogue, named=named)} -> {feature} unknown"
        boundary.report.convert(f"{named}: {reason}", len(rows))
        boundary.report.record_invalid(file=file, column=named, problem=reason, rows=rows)


def check_unique_ids(ids: pd.Series, *, file: str, column: str = "subject_id") -> None:
    """Each subject once: a DataError naming the repeated ids and their rows (`ids` indexed by source row)."""
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        dup = sorted(set(ids[duplicated].astype(str)))[:5]
        raise DataError(f"duplicate subject ids {dup}; each subject must appear once", file=file,
                        column=column, rows=ids.index[duplicated.to_numpy()][:10].tolist())


def check_ids_across(ids_by_file: dict[str, pd.Series], *, column: str = "subject_id") -> None:
    """Each subject in one table of subjects only (a dataset split into several summaries): a DataError naming the
    first id given in two files, both files and rows (`ids` indexed by source row). Within a file, check_unique_ids."""
    stacked = pd.concat({file: ids.astype("string") for file, ids in ids_by_file.items()}, names=["file", "row"])
    owners = stacked.reset_index().drop_duplicates(["file", stacked.name or 0])
    value = owners.columns[-1]
    repeated = owners[owners.duplicated(value, keep=False)]
    if len(repeated):
        first = repeated[value].iloc[0]
        where = repeated[repeated[value] == first]
        places = " and ".join(f"{table_name(f)} row {r}" for f, r in zip(where["file"], where["row"], strict=True))
        raise DataError(f"subject id {first!r} is in {places} ({repeated[value].nunique()} id(s) in more than one "
                        "file); each subject must appear in one table of subjects", column=column)


def _check_times(table: pd.DataFrame, column: str, birth: pd.Series | None, boundary: Boundary, *,
                 file: str) -> pd.DataFrame:
    times = table[column]
    missing = times.isna().to_numpy()
    table = boundary.invalid(table, missing, file=file, column=column, message="time is missing")
    future = (table[column] > boundary.now).to_numpy()
    table = boundary.invalid(table, future, file=file, column=column, message="date in the future")
    if birth is not None:
        born = table["subject_id"].map(birth).to_numpy(dtype="datetime64[ns]")
        before = table[column].to_numpy(dtype="datetime64[ns]") < born  # NaT compares False
        table = boundary.invalid(table, before, file=file, column=column, message="date before the birth date")
    return table


def require_columns(frame: pd.DataFrame, columns, *, file: str, what: str = "table") -> None:
    """A DataError naming the first missing required column and the columns the file does have."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        # Suggest near spellings only, rather than list the header: a file that is not a table would
        # otherwise have its first line shown as "columns" (see loaders.detect).
        spelled = {str(c).lower(): str(c) for c in frame.columns if len(str(c)) <= 64}
        near = difflib.get_close_matches(str(missing[0]).lower(), list(spelled), n=1, cutoff=0.75)
        hint = (f"; did you mean {spelled[near[0]]!r}?" if near
                else f"; the file has {len(frame.columns)} other column(s)")
        raise DataError(f"the {what} lacks required column(s) {missing}{hint}", file=file, column=missing[0])


def subjects_frame(columns: dict[str, object], *, index: pd.Index, catalogue: Catalogue) -> pd.DataFrame:
    """A subjects table with the contract's dtypes: ids and categories as strings, dates as datetime64[ns],
    numbers as float64, booleans as pandas boolean."""
    frame = pd.DataFrame(columns, index=index)
    dtypes: dict[str, str] = {"subject_id": "string", "sex": "string"}
    for column in frame.columns:
        if column.endswith("_date"):
            dtypes[column] = "datetime64[ns]"
        elif column in catalogue:
            kind = catalogue[column].kind
            dtypes[column] = {"number": "float64", "boolean": "boolean", "category": "string"}.get(kind, "string")
    return frame.astype({c: t for c, t in dtypes.items() if c in frame.columns})
