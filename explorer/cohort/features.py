"""Screening features at each subject's index date: a canonical Cohort -> a Screening for the engines.

Rules (docs/data.md, "Screening features"):

- age: completed years at the index date, as registries state age limits ("18-65 years": 65 years and
  6 months is 65): from the birth date by the calendar (the birthday itself counts; someone born on
  29 February turns a year older on 1 March in other years), else the subjects table's `age` rounded
  down to whole years.
- diabetes_duration: (index date - diagnosis date) in years, else a static `diabetes_duration` column.
- a date that gives an age or duration outside the catalogue's plausible range (a placeholder birth date
  1900-01-01 gives 124 years) gives no value: unknown, with the reason (FROM_DATES); the loaders refuse
  such dates unless on_invalid="reject".
- static subject columns that are catalogue variables (sex, diabetes_type, hiv_positive, ...) as they are.
- measurements: for each catalogue number variable, the latest value measured within the look-back
  window: from `lookback_days` before the index date through the end of the index day (several values
  at that latest time: their mean, the loaders warn of them). Where the
  latest lab row carries a reference range, its upper limit becomes `<variable>_uln` when the catalogue
  has that variable (alt_uln, ast_uln, bilirubin_uln): the ULN of the lab that measured the value.
- derived when absent: bmi = weight / height^2 (kg, m); homa_ir = fasting glucose (mmol/L) x fasting
  insulin (microU/mL) / 22.5 (Matthews et al., Diabetologia 1985), only from the same sample (same
  time); insulin_dose_per_kg = insulin_dose / weight.
- CGM, from the readings in the `cgm_days` (14) days before the index date (the index day excluded):
  cgm_active = readings x sensor interval / window length (%, at most 100); when it is at least 70 %
  (International Consensus on Time in Range, Battelino et al., Diabetes Care 2019;42:1593) the consensus
  metrics tir, tbr_70, tbr_54, tar_180, tar_250, cgm_mean, cgm_cv and gmi (3.31 + 0.02392 x mean mg/dL,
  Bergenstal et al., Diabetes Care 2018) are computed as explorer.clinical.cgm.cgm_metrics defines them;
  otherwise they are unknown with the reason.
- events: the events table with days_before_index (0 = the index day; later events are not screening
  events); event_lookback from the cohort's event_history; event_counts from its reported counts.

Missing stays missing (NaN / NA) and `missing_reasons` says why, per subject and variable, for every
variable the source provides for at least one subject. Everything is vectorised over integer codes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from explorer.catalogue import Catalogue, default_catalogue
from explorer.clinical.age import completed_years  # the one age rule
from explorer.clinical.cgm import MIN_ACTIVE_PERCENT, cgm_metrics  # the one definition of the CGM metrics
from explorer.clinical.homa import NOT_VALID_ON_INSULIN, homa_ir, treated_with_insulin
from explorer.cohort.screening import Screening, empty_events
from explorer.cohort.tables import Cohort
from explorer.cohort.values import censored_bounds, censored_reason, subject_censoring
from explorer.errors import DataError

DAY_NS = 86_400 * 10**9
DAYS_PER_YEAR = 365.25
CGM_METRICS = ("tir", "tbr_70", "tbr_54", "tar_180", "tar_250", "cgm_mean", "cgm_cv", "gmi")
SUBJECT_FIELDS = {"subject_id", "birth_date", "diagnosis_date", "index_date", "age"}
# the reason of a value measured in the look-back window whose every row there had no usable value (Cohort.unusable)
UNUSABLE_REASON = "measured in the look-back window, but without a usable value (blank, not a number or rejected at load)"


class _Reasons:
    """Why features are unknown: per variable, blocks of (subject positions, reason)."""

    def __init__(self, ids: pd.Index):
        self.ids = ids
        self.by_variable: dict[str, list[tuple[np.ndarray, str]]] = {}

    def add(self, missing: np.ndarray, variable: str, reason: str) -> None:
        positions = np.flatnonzero(missing)
        if positions.size:
            self.by_variable.setdefault(variable, []).append((positions, reason))

    def reset(self, variable: str) -> None:
        """Forget the reasons of a variable whose values a later step recomputes."""
        self.by_variable.pop(variable, None)

    def flagged(self, variable: str) -> np.ndarray:
        out = np.zeros(len(self.ids), bool)
        for positions, _ in self.by_variable.get(variable, []):
            out[positions] = True
        return out

    def frame(self) -> pd.DataFrame:
        blocks = [(p, v, r) for v, items in self.by_variable.items() for p, r in items]
        if not blocks:
            return pd.DataFrame({"subject_id": pd.Categorical([], categories=self.ids),
                                 "variable": pd.Categorical([]), "reason": pd.Categorical([])})
        positions = np.concatenate([b[0] for b in blocks])
        variables = [b[1] for b in blocks]
        reasons = [b[2] for b in blocks]
        sizes = [len(b[0]) for b in blocks]
        var_categories, var_codes = np.unique(variables, return_inverse=True)
        reason_categories, reason_codes = np.unique(reasons, return_inverse=True)
        return pd.DataFrame({
            # categorical subject ids: millions of rows cost one int32 each, not a string each
            "subject_id": pd.Categorical.from_codes(positions, categories=self.ids),
            "variable": pd.Categorical.from_codes(np.repeat(var_codes, sizes), categories=var_categories),
            "reason": pd.Categorical.from_codes(np.repeat(reason_codes, sizes), categories=reason_categories),
        })


class Intervals:
    """Censored features: per variable, the subjects whose chosen value was given as a limit, with the closed
    bounds of the interval its true value lies in and the reason a criterion may be unknown because of it.
    Only variables with a censored value have an entry: the others cost nothing."""

    def __init__(self, ids: pd.Index):
        self.ids = ids
        self.by_variable: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def set(self, variable: str, positions: np.ndarray, low: np.ndarray, high: np.ndarray, reasons) -> None:
        if positions.size:
            self.by_variable[variable] = (positions, low, high, np.broadcast_to(np.asarray(reasons, dtype=object),
                                                                                positions.shape))
        else:
            self.by_variable.pop(variable, None)

    def dense(self, variable: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(low, high) over every subject (the value itself where exact), or None when nothing is censored."""
        if variable not in self.by_variable:
            return None
        positions, low, high, _ = self.by_variable[variable]
        lows, highs = np.array(values, dtype="float64"), np.array(values, dtype="float64")
        lows[positions], highs[positions] = low, high
        return lows, highs

    def frame(self) -> pd.DataFrame | None:
        if not self.by_variable:
            return None
        items = sorted(self.by_variable.items())
        positions = np.concatenate([p for _, (p, *_) in items])
        variables = [v for v, _ in items]
        return pd.DataFrame({
            "subject_id": pd.Categorical.from_codes(positions, categories=self.ids),
            "variable": pd.Categorical.from_codes(np.repeat(np.arange(len(variables)), [len(p) for _, (p, *_) in items]),
                                                  categories=variables),
            "low": np.concatenate([lo for _, (_, lo, _, _) in items]),
            "high": np.concatenate([hi for _, (_, _, hi, _) in items]),
        })

    def reasons_frame(self) -> pd.DataFrame:
        """The censored values' reasons as a long table of missing reasons (add_reasons' rows)."""
        reasons = _Reasons(self.ids)
        self.add_reasons(reasons)
        return reasons.frame()

    def add_reasons(self, reasons: _Reasons) -> None:
        """Each censored value's reason among the missing reasons, which every engine counts per variable (the
        unknown-reasons table): it says why a criterion *may* be unknown, since a threshold outside the
        interval still decides it."""
        for variable, (positions, _, _, texts) in self.by_variable.items():
            for text in pd.unique(texts):
                mask = np.zeros(len(self.ids), bool)
                mask[positions[texts == text]] = True
                reasons.add(mask, variable, str(text))


def screening_features(cohort: Cohort, *, lookback_days: float | Mapping[str, float] = 365, cgm_days: float = 14,
                       catalogue: Catalogue | None = None) -> Screening:
    """The Screening (features, events, event look-back and counts, missing reasons) of a cohort.

    `lookback_days` is one window for every measurement, or a mapping variable -> days (others: 365).
    """
    catalogue = catalogue or default_catalogue()
    subjects = cohort.subjects
    if "index_date" not in subjects.columns or subjects["index_date"].isna().any():
        raise DataError("every subject needs an index_date to derive screening features", column="index_date")
    ids = pd.Index(subjects["subject_id"].astype("string"), name="subject_id")
    if not ids.is_unique:
        raise DataError("duplicate subject ids", column="subject_id",
                        rows=ids[ids.duplicated()].unique().tolist()[:10])
    index_ns = _ns(subjects["index_date"])
    reasons = _Reasons(ids)
    intervals = Intervals(ids)
    features: dict[str, object] = {}

    _static(subjects, catalogue, features, reasons)
    _age(subjects, index_ns, catalogue, features, reasons)
    _duration(subjects, index_ns, catalogue, features, reasons)
    times = _latest_measurements(cohort.measurements, ids, index_ns, lookback_days, catalogue, features, reasons,
                                 intervals, unusable=cohort.unusable)
    _derived(features, times, catalogue, reasons, len(ids))
    for variable, cells in static_censored_cells(subjects, catalogue).items():
        add_static_intervals(intervals, variable, *cells, np.asarray(features.get(variable), dtype="float64"),
                             catalogue)
    derived_intervals(lambda name: features.get(name), intervals)
    if len(cohort.cgm):
        _cgm(cohort.cgm, ids, index_ns, cgm_days, features, reasons)

    intervals.add_reasons(reasons)
    frame = pd.DataFrame(_typed(features, catalogue), index=ids)
    frame = frame[[c for c in catalogue.names() if c in frame.columns]]
    screening = Screening(
        features=frame,
        events=_events(cohort.events, ids, index_ns),
        event_lookback=_lookback(cohort, ids, index_ns),
        event_counts=_counts(cohort.event_counts, ids),
        missing_reasons=reasons.frame(),
        source=cohort.source,
        censored=intervals.frame(),
    )
    return screening.validate(catalogue)


# --- subject-level features -------------------------------------------------------------------------

def _codes(values, categories: pd.Index) -> np.ndarray:
    """Position of each value in `categories` (-1 where absent or missing), hashed in Arrow, not in Python.

    Subject ids are strings; turning millions of them into Python objects would cost more than all the
    arithmetic after it, so the lookup runs on Arrow arrays (categorical columns use their codes).
    """
    values = pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        mapping = _codes(pd.Series(values.cat.categories), categories)
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, mapping[codes], -1).astype(np.int64)
    array = pa.array(values.astype("string").array)
    value_set = pa.array(categories.astype("string").array)
    if len(array) > 1:
        # Tables sorted by subject repeat each id in a run: look up one id per run, then repeat.
        changes = pc.fill_null(pc.not_equal(array[1:], array[:-1]), True).to_numpy(zero_copy_only=False)
        heads = np.concatenate(([0], 1 + np.flatnonzero(changes)))
        if len(heads) < len(array) // 2:
            found = pc.index_in(array.take(pa.array(heads)), value_set=value_set)
            head_codes = found.fill_null(-1).to_numpy().astype(np.int64)
            return np.repeat(head_codes, np.diff(np.append(heads, len(array))))
    found = pc.index_in(array, value_set=value_set)
    return found.fill_null(-1).to_numpy().astype(np.int64)


def _take(ids: pd.Index, positions: np.ndarray) -> pd.arrays.StringArray:
    return pd.array(ids.array.take(positions), dtype="string")


def _ns(values) -> np.ndarray:
    """Datetimes as int64 nanoseconds (NaT -> the int64 minimum, which every comparison handles)."""
    return np.asarray(pd.Series(values).to_numpy(dtype="datetime64[ns]")).astype(np.int64)


_NAT = np.iinfo(np.int64).min


def _static(subjects: pd.DataFrame, catalogue: Catalogue, features: dict, reasons: _Reasons) -> None:
    for column in subjects.columns:
        var = catalogue.get(column)
        if column in SUBJECT_FIELDS or var is None or var.kind == "event":
            continue
        values = subjects[column]
        features[column] = values.to_numpy()
        reasons.add(values.isna().to_numpy(), column, "not recorded in the source")


def _age(subjects: pd.DataFrame, index_ns: np.ndarray, catalogue: Catalogue, features: dict,
         reasons: _Reasons) -> None:
    derived = from_dates(subjects, index_ns)
    age = derived.get("age", np.full(len(subjects), np.nan))
    outside = _outside(age, catalogue, "age")
    age[outside] = np.nan  # a placeholder birth date gives no age; a given `age` may still fill it
    if "age" in subjects.columns:
        given = np.floor(subjects["age"].to_numpy(dtype="float64", na_value=np.nan))
        age = np.where(np.isnan(age), given, age)
    if "birth_date" in subjects.columns or "age" in subjects.columns:
        features["age"] = age
        if outside.any():
            reasons.add(np.isnan(age) & outside, "age", outside_reason("age", catalogue))
        reasons.add(np.isnan(age) & ~outside, "age", "no birth date or age in the source")


def _duration(subjects: pd.DataFrame, index_ns: np.ndarray, catalogue: Catalogue, features: dict,
              reasons: _Reasons) -> None:
    duration = from_dates(subjects, index_ns).get("diabetes_duration", np.full(len(subjects), np.nan))
    after = duration < 0
    duration[after] = np.nan
    outside = _outside(duration, catalogue, "diabetes_duration")
    duration[outside] = np.nan
    if "diabetes_duration" in features:
        given = np.asarray(features["diabetes_duration"], dtype="float64")
        duration = np.where(np.isnan(duration), given, duration)
    if "diagnosis_date" in subjects.columns or "diabetes_duration" in features:
        features["diabetes_duration"] = duration
        reasons.reset("diabetes_duration")
        reasons.add(after, "diabetes_duration", "diagnosis date after the index date")
        if outside.any():
            reasons.add(np.isnan(duration) & outside, "diabetes_duration",
                        outside_reason("diabetes_duration", catalogue))
        reasons.add(np.isnan(duration) & ~after & ~outside, "diabetes_duration",
                    "no diagnosis date or diabetes duration in the source")


# --- numbers derived from a subject's dates ------------------------------------------------------------
# Exports often code an unknown date as a placeholder (1900-01-01), which gives an age of 124. Such a value
# is refused at load naming the date column (loaders.common.check_from_dates), or, with on_invalid="reject",
# counted there and unknown here with outside_reason; never pass or fail. features_sql derives the same.
FROM_DATES = {"age": ("birth_date", "an age", "ages"),
              "diabetes_duration": ("diagnosis_date", "a diabetes duration", "durations")}


def from_dates(subjects: pd.DataFrame, index_ns: np.ndarray) -> dict[str, np.ndarray]:
    """The numbers FROM_DATES derives from the subjects' dates at their index dates (NaN where a date is missing)."""
    out = {}
    if "birth_date" in subjects.columns:
        birth = _ns(subjects["birth_date"])
        known = birth != _NAT
        age = np.full(len(subjects), np.nan)
        age[known] = completed_years(birth[known].astype("datetime64[ns]"), index_ns[known].astype("datetime64[ns]"))
        out["age"] = age
    if "diagnosis_date" in subjects.columns:
        diagnosed = _ns(subjects["diagnosis_date"])
        known = diagnosed != _NAT
        duration = np.full(len(subjects), np.nan)
        duration[known] = (index_ns[known] - diagnosed[known]) / DAY_NS / DAYS_PER_YEAR
        out["diabetes_duration"] = duration
    return out


def _outside(values: np.ndarray, catalogue: Catalogue, feature: str) -> np.ndarray:
    """Where a derived value lies outside the feature's plausible range (NaN is not outside)."""
    var = catalogue.get(feature)
    if var is None or not var.range:
        return np.zeros(len(values), bool)
    with np.errstate(invalid="ignore"):
        return (values < var.range[0]) | (values > var.range[1])


def outside_from_dates(subjects: pd.DataFrame, catalogue: Catalogue) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per FROM_DATES feature the subjects have a date for: (derived values, where outside the plausible range).

    A date after the index date is not counted here: the loaders refuse it with its own message."""
    derived = from_dates(subjects, _ns(subjects["index_date"]))
    return {feature: (values, _outside(values, catalogue, feature) & ~(values < 0))
            for feature, values in derived.items()}


def outside_reason(feature: str, catalogue: Catalogue, *, named: str | None = None) -> str:
    """The missing reason of a value FROM_DATES derives outside its plausible range (the dashboard's "why unknown").
    `named`: the source's own field(s) for the date (OMOP's year_of_birth...), if not the canonical column."""
    column, what, _ = FROM_DATES[feature]
    column = named or column
    var = catalogue[feature]
    return (f"the {column.replace('_', ' ')} gives {what} outside the plausible {var.range[0]:g}-{var.range[1]:g} "
            f"{var.unit} (a placeholder for an unknown date?)")


def outside_message(feature: str, catalogue: Catalogue, *, subject: str, date: pd.Timestamp, value: float,
                    index_date: pd.Timestamp, count: int, named: str | None = None) -> str:
    """The load error for dates giving values outside the plausible range: the first subject, and what to do."""
    column, what, plural = FROM_DATES[feature]
    column = named or column
    var = catalogue[feature]
    more = f" (and {count - 1} more subject{'s' if count > 2 else ''})" if count > 1 else ""
    return (f"subject {subject!r}: {column} {date.date()} gives {what} of {value:.4g} at the index date "
            f"{index_date.date()}, outside the plausible {var.range[0]:g}-{var.range[1]:g} {var.unit}{more}; "
            f"correct or blank the {column.replace('_', ' ')} ({date.date()} is often a placeholder for unknown), "
            f"or load with on_invalid='reject' to treat such {plural} as unknown")


# --- measurements ----------------------------------------------------------------------------------

def _latest_measurements(measurements: pd.DataFrame, ids: pd.Index, index_ns: np.ndarray, lookback_days,
                         catalogue: Catalogue, features: dict, reasons: _Reasons,
                         intervals: Intervals | None = None,
                         unusable: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Latest value per subject and number variable within the window; returns the chosen times.

    `unusable` (Cohort.unusable): rows measured without a usable value. They decide nothing, but a subject with
    one in the window is "measured ... without a usable value", not "never measured" (features_sql says the same).
    """
    n = len(ids)
    if measurements is None or measurements.empty:
        return {}
    numbers = catalogue.names("number")
    variables = measurements["variable"]
    in_source = set(pd.Series(variables).astype("string").unique())
    if unusable is not None and len(unusable):  # measured, if never with a usable value: its reasons say so
        in_source |= set(unusable["variable"].astype("string").unique())
    present = [v for v in numbers if v in in_source]
    if not present:
        return {}
    var_code = _codes(variables, pd.Index(present))
    subject = _codes(measurements["subject_id"], ids)
    keep = (var_code >= 0) & (subject >= 0)
    value = measurements["value"].to_numpy(dtype="float64", na_value=np.nan)
    keep &= ~np.isnan(value)
    time = _ns(measurements["time"])
    keep &= time != _NAT
    var_code, subject, value, time = var_code[keep], subject[keep], value[keep], time[keep]
    ref_high = measurements["ref_high"].to_numpy(dtype="float64", na_value=np.nan)[keep] \
        if "ref_high" in measurements.columns else np.full(len(value), np.nan)

    window = _windows(lookback_days, present)
    before, after = _outside_window(time, index_ns[subject], window[var_code])
    inside = ~after & ~before

    n_vars = len(present)
    cell = subject * n_vars + var_code  # one cell per (subject, variable) of a flat n x n_vars grid
    seen_before = np.zeros(n * n_vars, bool)
    seen_before[cell[before]] = True
    seen_after = np.zeros(n * n_vars, bool)
    seen_after[cell[after]] = True

    # Latest time per cell without sorting: a running maximum, then the rows that reach it. Several rows
    # at that time (three blood pressures at a visit; the load report warns of them) give their mean, so
    # the result never depends on row order; equal values give that value exactly.
    inside_rows = np.flatnonzero(inside)
    inside_cells = cell[inside_rows]
    latest_time = np.full(n * n_vars, _NAT, dtype=np.int64)
    np.maximum.at(latest_time, inside_cells, time[inside_rows])
    reaches = time[inside_rows] == latest_time[inside_cells]
    latest = _mean_per_cell(inside_cells[reaches], value[inside_rows[reaches]], n * n_vars)
    has = ~np.isnan(latest)
    latest_uln = _mean_per_cell(inside_cells[reaches], ref_high[inside_rows[reaches]], n * n_vars)
    latest, latest_uln = latest.reshape(n, n_vars), latest_uln.reshape(n, n_vars)
    latest_time = latest_time.reshape(n, n_vars)
    seen_before, seen_after = seen_before.reshape(n, n_vars), seen_after.reshape(n, n_vars)
    void_before, void_after, void_inside = _unusable_cells(unusable, ids, index_ns, window, present)
    seen_before |= void_before
    seen_after |= void_after
    seen = has.reshape(n, n_vars) | seen_before | seen_after | void_inside

    censored = _latest_intervals(measurements, keep, var_code, value, inside_rows[reaches], inside_cells[reaches],
                                 present, catalogue, n) if intervals is not None else {}

    times = {}
    for j, variable in enumerate(present):
        column = latest[:, j]
        if variable in censored:
            intervals.set(variable, *censored[variable])
        if variable in features:  # a static column of the same variable fills the gaps
            column = np.where(np.isnan(column), np.asarray(features[variable], dtype="float64"), column)
            reasons.reset(variable)
        features[variable] = column
        times[variable] = latest_time[:, j]
        missing = np.isnan(column)
        days = window[j]
        reasons.add(missing & void_inside[:, j], variable, UNUSABLE_REASON)
        unmeasured = missing & ~void_inside[:, j]
        reasons.add(unmeasured & seen_before[:, j], variable,
                    f"last measured more than {days:g} days before the index date")
        reasons.add(unmeasured & seen[:, j] & ~seen_before[:, j], variable, "measured only after the index date")
        reasons.add(unmeasured & ~seen[:, j], variable, "never measured")
        uln_name = f"{variable}_uln"
        if uln_name in catalogue and not np.isnan(latest_uln[:, j]).all():
            uln = latest_uln[:, j]
            if uln_name in features:  # an explicit ULN measurement fills gaps
                uln = np.where(np.isnan(uln), np.asarray(features[uln_name], dtype="float64"), uln)
                reasons.reset(uln_name)
            features[uln_name] = uln
            reasons.add(np.isnan(uln) & ~missing, uln_name, f"the latest {variable} has no reference range")
            reasons.add(np.isnan(uln) & missing, uln_name, f"no {variable} in the look-back window")
    return times


def _outside_window(time: np.ndarray, index: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(before the look-back window, after the index day) of each row: the whole index day counts."""
    return time < index - (days * DAY_NS).astype(np.int64), time >= index + DAY_NS


def _unusable_cells(unusable: pd.DataFrame | None, ids: pd.Index, index_ns: np.ndarray, window: np.ndarray,
                    present: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(before the window, after the index day, inside the window) per (subject, variable) cell, for the rows
    measured without a usable value; all False where the source has none."""
    n, n_vars = len(ids), len(present)
    flags = [np.zeros((n, n_vars), bool) for _ in range(3)]
    if unusable is None or unusable.empty:
        return tuple(flags)
    var_code = _codes(unusable["variable"], pd.Index(present))
    subject = _codes(unusable["subject_id"], ids)
    time = _ns(unusable["time"])
    keep = (var_code >= 0) & (subject >= 0) & (time != _NAT)
    var_code, subject, time = var_code[keep], subject[keep], time[keep]
    before, after = _outside_window(time, index_ns[subject], window[var_code])
    for flag, rows in zip(flags, (before, after, ~before & ~after), strict=True):
        flag[subject[rows], var_code[rows]] = True
    return tuple(flags)


def _latest_intervals(measurements: pd.DataFrame, keep: np.ndarray, var_code: np.ndarray, value: np.ndarray,
                      rows: np.ndarray, cells: np.ndarray, present: list[str], catalogue: Catalogue,
                      n: int) -> dict[str, tuple]:
    """Per variable with a censored chosen value: (subject positions, low, high, reasons) of the cells whose
    latest value was given as a limit (cell_intervals). Nothing is done for a table without censored values."""
    if "censored" not in measurements.columns:
        return {}
    code = measurements["censored"].to_numpy(dtype="float64", na_value=0)[keep].astype(np.int8)
    if not code[rows].any():
        return {}
    limit = measurements["limit"].to_numpy(dtype="float64", na_value=np.nan)[keep]
    n_vars = len(present)
    return cell_intervals(cells // n_vars, var_code[rows], value[rows], code[rows], limit[rows], present, catalogue)


def cell_intervals(subject: np.ndarray, variable: np.ndarray, value: np.ndarray, code: np.ndarray, limit: np.ndarray,
                   present: list[str], catalogue: Catalogue) -> dict[str, tuple]:
    """The intervals of the chosen values, from the rows at each (subject, variable)'s latest time (`variable`:
    positions in `present`): {variable: (subjects, low, high, reasons)} for the cells with a censored row.

    Several rows at the latest time give the mean of their bounds (the point value's rule, _mean_per_cell; the
    mean is monotone in each value, so the bounds are exact). The SQL derivation (engine.features_sql) selects
    the same rows and calls this: one rule for every engine."""
    n_vars = len(present)
    floors = np.array([censoring_floor(catalogue, v) for v in present])[variable]
    low, high = censored_bounds(value, code, limit, floors)
    cells = subject.astype(np.int64) * n_vars + variable
    censored_cells = np.unique(cells[code != 0])
    local = np.searchsorted(censored_cells, cells)
    local = np.where((local < len(censored_cells)) & (censored_cells[np.minimum(local, len(censored_cells) - 1)]
                                                      == cells), local, -1)
    mine = local >= 0
    size = len(censored_cells)
    cell_low = _mean_per_cell(local[mine], low[mine], size)
    cell_high = _mean_per_cell(local[mine], high[mine], size)
    # the limit a cell was reported with, for the reason (several censored rows at one time: the last one's)
    cell_code, cell_limit = np.zeros(size, np.int8), np.full(size, np.nan)
    given = mine & (code != 0)
    cell_code[local[given]], cell_limit[local[given]] = code[given], limit[given]
    out = {}
    for j, name in enumerate(present):
        here = np.flatnonzero((censored_cells % n_vars == j) & (cell_low != cell_high) & ~np.isnan(cell_low))
        if here.size:
            unit = catalogue[name].unit
            reasons = np.array([censored_reason(c, lim, unit) for c, lim in zip(cell_code[here].tolist(),
                                                                                 cell_limit[here].tolist(),
                                                                                 strict=True)], dtype=object)
            out[name] = (censored_cells[here] // n_vars, cell_low[here], cell_high[here], reasons)
    return out


# Derived features and their formulas, each monotone in every input over the plausible ranges (weights, heights,
# glucose, insulin and doses are positive), so a formula's extremes over its inputs' intervals are at corners.
DERIVED_FORMULAS = {
    "bmi": (("weight", "height"), lambda weight, height: weight / (height / 100.0) ** 2),
    "homa_ir": (("fasting_glucose", "fasting_insulin"), lambda glucose, insulin: homa_ir(glucose, insulin)),
    "insulin_dose_per_kg": (("insulin_dose", "weight"), lambda dose, weight: dose / weight),
}


def static_censored_cells(subjects: pd.DataFrame, catalogue: Catalogue) -> dict[str, tuple]:
    """Per number variable of a subjects table with a censored cell ("<5"; values.subject_censoring's companion
    columns): (subject positions, point values, codes, limits) of those cells."""
    out = {}
    for column in subjects.columns:
        var = catalogue.get(column)
        code_column, limit_column = subject_censoring(column)
        if var is None or var.kind != "number" or code_column not in subjects.columns:
            continue
        code = subjects[code_column].to_numpy(dtype="float64", na_value=np.nan)
        points = subjects[column].to_numpy(dtype="float64", na_value=np.nan)
        positions = np.flatnonzero(~np.isnan(code) & (code != 0) & ~np.isnan(points))
        out[column] = (positions, points[positions], code[positions].astype(np.int8),
                       subjects[limit_column].to_numpy(dtype="float64", na_value=np.nan)[positions])
    return out


def add_static_intervals(intervals: Intervals, variable: str, positions: np.ndarray, points: np.ndarray,
                         codes: np.ndarray, limits: np.ndarray, feature: np.ndarray, catalogue: Catalogue) -> None:
    """The intervals of a subject column's censored cells, where that cell is the feature's value: a measurement
    of the same variable wins over the subject column (it fills only the gaps), so a subject keeps the cell's
    interval only where it has no measured interval and its feature is the cell's point. (A measured exact
    value equal to the point by chance keeps the interval: unknown where a threshold lies inside it, never a
    wrong decision.) The SQL derivation (engine.features_sql) calls this too: one rule for every engine."""
    keep = feature[positions] == points
    existing = intervals.by_variable.get(variable)
    if existing is not None:
        keep &= ~np.isin(positions, existing[0])
    if not keep.any():
        return
    found = cell_intervals(positions[keep], np.zeros(int(keep.sum()), np.int64), points[keep], codes[keep],
                           limits[keep], [variable], catalogue).get(variable)
    if found is None:
        return
    if existing is not None:
        found = tuple(np.concatenate([a, b]) for a, b in zip(existing, found, strict=True))
    intervals.set(variable, *found)


def derived_intervals(column, intervals: Intervals) -> None:
    """Intervals of the derived features computed from a censored input: the formula at every corner of the
    inputs' intervals (min and max), where the feature's value is the formula of the inputs' point values (it
    was derived from them, not given by the source). `column(name)`: the feature's values or None."""
    for name, (inputs, formula) in DERIVED_FORMULAS.items():
        value = column(name)
        if value is None or not any(i in intervals.by_variable for i in inputs):
            continue
        points = [column(i) for i in inputs]
        if any(p is None for p in points):
            continue
        value = np.asarray(value, dtype="float64")
        points = [np.asarray(p, dtype="float64") for p in points]
        censored = [k for k, i in enumerate(inputs) if i in intervals.by_variable]
        dense = {k: intervals.dense(inputs[k], points[k]) for k in censored}
        with np.errstate(all="ignore"):
            derived = ~np.isnan(value) & np.isclose(value, formula(*points), rtol=1e-9, atol=0)
            corners = []
            for corner in np.ndindex(*(2,) * len(censored)):
                args = list(points)
                for k, side in zip(censored, corner, strict=True):
                    args[k] = dense[k][side]
                corners.append(formula(*args))
            low, high = np.min(corners, axis=0), np.max(corners, axis=0)
        positions = np.flatnonzero(derived & ~np.isnan(low) & ~np.isnan(high) & (low != high))
        # the inputs censored for this subject, not for anyone: the text must not depend on the other subjects
        # derived with it (a writer derives one range of subjects at a time)
        which = np.zeros(len(intervals.ids), np.int64)  # a bit per censored input
        for bit, k in enumerate(censored):
            which[intervals.by_variable[inputs[k]][0]] |= 1 << bit
        combos, at = np.unique(which[positions], return_inverse=True)
        texts = np.array([f"derived from a censored {' and '.join(inputs[k] for bit, k in enumerate(censored) if combo >> bit & 1)}"
                          ": unknown where a threshold lies inside the range its limits allow" for combo in combos],
                         dtype=object)
        intervals.set(name, positions, low[positions], high[positions], texts[at.reshape(-1)] if len(at) else texts[:0])


def censoring_floor(catalogue: Catalogue, variable: str) -> float:
    """The least value a censored "<L" of the variable can be: 0, or -inf where its plausible range allows
    negative values."""
    var = catalogue.get(variable)
    return -np.inf if var is not None and var.range and var.range[0] < 0 else 0.0


def _mean_per_cell(cells: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per cell: the value when all its (non-NaN) values agree, else their mean; NaN for cells without any."""
    known = ~np.isnan(values)
    cells, values = cells[known], values[known]
    low, high = np.full(size, np.inf), np.full(size, -np.inf)
    np.minimum.at(low, cells, values)
    np.maximum.at(high, cells, values)
    total, count = np.zeros(size), np.zeros(size)
    np.add.at(total, cells, values)
    np.add.at(count, cells, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count == 0, np.nan, np.where(low == high, low, total / count))


def _windows(lookback_days, variables: list[str]) -> np.ndarray:
    """Look-back days per variable: one number for all, or a mapping with an optional "default" (365)."""
    if isinstance(lookback_days, Mapping):
        default = float(lookback_days.get("default", 365))
        return np.array([float(lookback_days.get(v, default)) for v in variables])
    return np.full(len(variables), float(lookback_days))


def _derived(features: dict, times: dict, catalogue: Catalogue, reasons: _Reasons, n: int) -> None:
    def known(name):
        return np.asarray(features[name], dtype="float64") if name in features else np.full(n, np.nan)

    if "weight" in features and "height" in features:
        bmi = known("weight") / (known("height") / 100.0) ** 2
        low, high = catalogue["bmi"].range
        implausible = (bmi < low) | (bmi > high)
        bmi[implausible] = np.nan
        given = known("bmi")
        fill = np.isnan(given) & ~np.isnan(bmi)
        if fill.any() or "bmi" not in features:
            features["bmi"] = np.where(np.isnan(given), bmi, given)
            reasons.reset("bmi")
            missing = np.isnan(features["bmi"])
            reasons.add(missing & implausible, "bmi", "weight and height give an implausible BMI")
            reasons.add(missing & ~implausible, "bmi", "no BMI, or weight and height, in the look-back window")
    if "fasting_glucose" in features and "fasting_insulin" in features:
        same_sample = times["fasting_glucose"] == times["fasting_insulin"]
        on_insulin = treated_with_insulin(features["on_insulin"]) if "on_insulin" in features else np.zeros(n, bool)
        homa = np.where(same_sample, homa_ir(known("fasting_glucose"), known("fasting_insulin"), on_insulin), np.nan)
        low, high = catalogue["homa_ir"].range
        implausible = (homa < low) | (homa > high)
        homa[implausible] = np.nan
        given = known("homa_ir")
        if "homa_ir" not in features or (np.isnan(given) & ~np.isnan(homa)).any():
            features["homa_ir"] = np.where(np.isnan(given), homa, given)
            reasons.reset("homa_ir")
            missing = np.isnan(features["homa_ir"])
            reasons.add(missing & on_insulin, "homa_ir", NOT_VALID_ON_INSULIN)
            reasons.add(missing & implausible, "homa_ir", "glucose and insulin give an implausible HOMA-IR")
            reasons.add(missing & ~on_insulin & ~implausible, "homa_ir",
                        "no fasting glucose and insulin from the same sample in the look-back window")
    if "insulin_dose" in features and "weight" in features:
        per_kg = known("insulin_dose") / known("weight")
        low, high = catalogue["insulin_dose_per_kg"].range
        per_kg[(per_kg < low) | (per_kg > high)] = np.nan
        given = known("insulin_dose_per_kg")
        if "insulin_dose_per_kg" not in features or (np.isnan(given) & ~np.isnan(per_kg)).any():
            features["insulin_dose_per_kg"] = np.where(np.isnan(given), per_kg, given)
            reasons.reset("insulin_dose_per_kg")
            reasons.add(np.isnan(features["insulin_dose_per_kg"]), "insulin_dose_per_kg",
                        "no insulin dose and weight in the look-back window")


# --- CGM -------------------------------------------------------------------------------------------

def _cgm(cgm: pd.DataFrame, ids: pd.Index, index_ns: np.ndarray, cgm_days: float, features: dict,
         reasons: _Reasons) -> None:
    n = len(ids)
    subject = _codes(cgm["subject_id"], ids)
    time = _ns(cgm["time"])
    glucose = cgm["glucose"].to_numpy(dtype="float64", na_value=np.nan)
    valid = (subject >= 0) & (time != _NAT) & ~np.isnan(glucose)
    has_cgm = np.zeros(n, bool)
    has_cgm[subject[valid]] = True
    index_of_row = index_ns[np.where(valid, subject, 0)]
    inside = valid & (time < index_of_row) & (time >= index_of_row - int(cgm_days * DAY_NS))

    active = np.where(has_cgm, 0.0, np.nan)
    metrics = {name: np.full(n, np.nan) for name in CGM_METRICS}
    if inside.any():
        window = pd.DataFrame({"subject_id": subject[inside], "time": time[inside].astype("datetime64[ns]"),
                               "glucose": glucose[inside]})
        # Active percent over the whole window (not the span worn): the consensus asks for 70 % of the
        # readings 14 days could give, which is cgm_metrics' fixed-period mode.
        result = cgm_metrics(window, by=("subject_id",), period_days=cgm_days)
        rows = result["subject_id"].to_numpy(dtype=np.int64)
        # duplicated readings could count above 100 %
        active[rows] = np.minimum(100.0, result["cgm_active"].to_numpy(dtype="float64"))
        for name in CGM_METRICS:
            metrics[name][rows] = result[name].to_numpy(dtype="float64")
    sufficient = active >= MIN_ACTIVE_PERCENT
    # Subjects without readings keep the summary values a source reported as measurements (e.g. a
    # clinic's TIR from a CGM report); readings replace them only for the subjects who have readings.
    previous_active = features.get("cgm_active")
    if previous_active is not None:
        active = np.where(has_cgm, active, previous_active)
    features["cgm_active"] = active
    reasons.add(~has_cgm & np.isnan(active), "cgm_active", "no CGM data")
    reasons.add(has_cgm & np.isnan(active), "cgm_active", "too few readings to infer the sensor interval")
    for name in CGM_METRICS:
        values = np.where(sufficient, metrics[name], np.nan)
        previous = features.get(name)
        if previous is not None:
            values = np.where(has_cgm, values, previous)
        features[name] = values
        reasons.add(~has_cgm & np.isnan(values), name, "no CGM data")
        reasons.add(has_cgm & ~sufficient, name,
                    f"CGM insufficient: fewer than {MIN_ACTIVE_PERCENT:g}% of possible readings in the "
                    f"{cgm_days:g} days before the index date")


# --- events ----------------------------------------------------------------------------------------

def _events(events: pd.DataFrame, ids: pd.Index, index_ns: np.ndarray) -> pd.DataFrame:
    if events is None or events.empty:
        return empty_events()
    subject = _codes(events["subject_id"], ids)
    time = _ns(events["time"])
    known = (subject >= 0) & (time != _NAT)
    days = np.full(len(events), np.nan)
    days[known] = index_ns[subject[known]] // DAY_NS - time[known] // DAY_NS
    keep = known & (days >= 0)
    severity = events["severity"] if "severity" in events.columns else pd.Series(pd.NA, index=events.index)
    return pd.DataFrame({
        "subject_id": _take(ids, subject[keep]),
        "event": pd.array(events["event"].astype("string").array[keep], dtype="string"),
        "days_before_index": days[keep],
        "severity": pd.array(severity.array[keep], dtype="Int64"),
    })


def _lookback(cohort: Cohort, ids: pd.Index, index_ns: np.ndarray) -> pd.DataFrame | None:
    """Days of complete event records before the index date, per subject and event type (NaN: none)."""
    history = cohort.event_history
    if history is None or history.empty:
        return None
    subject = _codes(history["subject_id"], ids)
    start = _ns(history["recorded_from"])
    known = (subject >= 0) & (start != _NAT)
    days = (index_ns[np.where(known, subject, 0)] // DAY_NS - start // DAY_NS).astype("float64")
    days[~known | (days < 0)] = np.nan  # records starting after the index date cover no window before it
    return _wide(subject, history["event"].astype("string"), days, ids)


def _counts(counts: pd.DataFrame, ids: pd.Index) -> pd.DataFrame | None:
    if counts is None or counts.empty:
        return None
    column = counts["event"].astype("string") + "@" + counts["within_days"].map(lambda d: f"{float(d):g}")
    return _wide(_codes(counts["subject_id"], ids), column, counts["count"].to_numpy(dtype="float64", na_value=np.nan),
                 ids)


def _wide(subject: np.ndarray, column: pd.Series, values: np.ndarray, ids: pd.Index) -> pd.DataFrame:
    """One float column per distinct `column` value, one row per subject: the max of its values (else NaN)."""
    out = {}
    names = column.to_numpy(dtype=object)
    for name in pd.unique(names):
        rows = (names == name) & (subject >= 0) & ~np.isnan(values)
        best = pd.Series(values[rows]).groupby(subject[rows]).max()
        full = np.full(len(ids), np.nan)
        full[best.index.to_numpy()] = best.to_numpy()
        out[str(name)] = full
    return pd.DataFrame(out, index=ids)


# --- dtypes ----------------------------------------------------------------------------------------

def _typed(features: dict, catalogue: Catalogue) -> dict[str, object]:
    out = {}
    for name, values in features.items():
        var = catalogue.get(name)
        if var is None:
            continue
        if var.kind == "number":
            out[name] = pd.array(np.asarray(pd.to_numeric(pd.Series(values), errors="raise"), dtype="float64"),
                                 dtype="float64")
        elif var.kind == "boolean":
            out[name] = pd.array(values, dtype="boolean")
        else:
            out[name] = pd.array(values, dtype="string")
    return out
