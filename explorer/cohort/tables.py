"""The canonical subject-data model: four long tables every source is turned into.

Column contracts (name -> dtype, meaning). Times are timezone-naive pandas datetimes.

subjects      subject_id (string, unique), sex ("female"/"male"), birth_date (datetime) and/or age (float,
              years at index_date), diabetes_type (catalogue category), diagnosis_date (datetime),
              index_date (datetime, the screening date), plus any catalogue boolean/category variable as
              a static column (e.g. hiv_positive, cancer_status).
measurements  subject_id, time, variable (catalogue name), value (float, in the catalogue unit after
              loading), unit (string, the catalogue unit), ref_low, ref_high (float, the lab's reference
              range where known: ref_high is the upper limit of normal), visit (string, optional: a
              trial visit id for longitudinal outcomes)
events        subject_id, time, event (catalogue event name), severity (Int64, may be NA), visit (optional)
cgm           subject_id, time, glucose (float, mg/dL)
event_history subject_id, event (catalogue event name), recorded_from (datetime): the source has complete
              records of that event type for the subject from `recorded_from` up to the index date, so
              count(event, within_days=N) is known when recorded_from <= index_date - N days. No row means
              the source does not record that event for the subject (every count is unknown).
event_counts  subject_id, event, within_days (float), count (float, NaN = unknown): counts reported by
              sources without event dates (e.g. "severe hypoglycaemia in the last year" from a survey).
unusable      subject_id, time, variable: measurement rows of the source that name a catalogue number
              variable but carry no usable value (blank, not a number, or rejected at load as outside the
              plausible range). They decide nothing; they let "why unknown" say "measured in the look-back
              window, but no usable value" instead of "never measured".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

SUBJECT_COLUMNS = {"subject_id": "string", "sex": "string", "index_date": "datetime64[ns]"}
MEASUREMENT_COLUMNS = {"subject_id": "string", "time": "datetime64[ns]", "variable": "string",
                       "value": "float64", "unit": "string", "ref_low": "float64", "ref_high": "float64"}
EVENT_COLUMNS = {"subject_id": "string", "time": "datetime64[ns]", "event": "string", "severity": "Int64"}
CGM_COLUMNS = {"subject_id": "string", "time": "datetime64[ns]", "glucose": "float64"}
EVENT_HISTORY_COLUMNS = {"subject_id": "string", "event": "string", "recorded_from": "datetime64[ns]"}
EVENT_COUNT_COLUMNS = {"subject_id": "string", "event": "string", "within_days": "float64", "count": "float64"}
UNUSABLE_COLUMNS = {"subject_id": "string", "time": "datetime64[ns]", "variable": "string"}


def empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


@dataclass(frozen=True)
class Cohort:
    """Subject data in the canonical model, as loaded from one source."""

    subjects: pd.DataFrame
    measurements: pd.DataFrame = field(default_factory=lambda: empty(MEASUREMENT_COLUMNS))
    events: pd.DataFrame = field(default_factory=lambda: empty(EVENT_COLUMNS))
    cgm: pd.DataFrame = field(default_factory=lambda: empty(CGM_COLUMNS))
    source: str = ""
    event_history: pd.DataFrame = field(default_factory=lambda: empty(EVENT_HISTORY_COLUMNS))
    event_counts: pd.DataFrame = field(default_factory=lambda: empty(EVENT_COUNT_COLUMNS))
    unusable: pd.DataFrame = field(default_factory=lambda: empty(UNUSABLE_COLUMNS))
