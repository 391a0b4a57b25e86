"""Screening features at the index date: the one input the criteria engines read.

This is the contract between the cohort layer (loaders, the synthetic generator, feature derivation)
and the engines (explorer.engine). Everything upstream ends in a `Screening`; everything downstream
trusts it.

    features        index `subject_id` (str, unique); one column per catalogue variable that the source
                    provides. number -> float64 (NaN = unknown), or the same values as level codes
                    (explorer.cohort.compact: a Categorical of float64 levels, -1 = unknown; the synthetic
                    generator's form, 1-2 bytes a subject; `compact.widened` gives float64 back for pandas
                    arithmetic); boolean -> pandas "boolean" (NA = unknown);
                    category -> pandas "string" with values from the variable's categories (NA = unknown).
                    A variable absent from the columns is unknown for every subject.
    events          long table of dated events: subject_id, event (catalogue event name),
                    days_before_index (float >= 0; 0 = the index day), severity (Int64, may be NA).
    event_lookback  index subject_id; one float column per event type: how many days before the index
                    date the source has complete records of that event (NaN = not recorded at all).
                    count(e, within_days=N) is known only where lookback >= N: a short history means an
                    unknown count, never a silent zero.
    event_counts    index subject_id; precomputed counts for sources that only report them, one column
                    per "event@days" (e.g. "severe_hypoglycemia@365"); float (NaN = unknown). Used when the
                    events table cannot answer count(e, within_days=days).
    missing_reasons long table subject_id, variable, reason: why a feature is unknown (optional).
    censored        long table subject_id, variable, low, high, reason: the interval a censored feature's true
                    value lies in (closed bounds, explorer.cohort.values.censored_bounds), one row per censored
                    (subject, variable) only; the feature keeps its point value for displays. Engines decide a
                    criterion on the interval: unknown where its outcome differs across it (optional).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from explorer.catalogue import Catalogue, default_catalogue
from explorer.cohort.checks import (  # noqa: F401 - EVENT_COLUMNS, empty_events: the model's, read from here
    EVENT_COLUMNS,
    empty_events,
    typed_events,
    typed_features,
    typed_per_subject,
)


@dataclass(frozen=True)
class Screening:
    features: pd.DataFrame
    events: pd.DataFrame = field(default_factory=empty_events)
    event_lookback: pd.DataFrame | None = None
    event_counts: pd.DataFrame | None = None
    missing_reasons: pd.DataFrame | None = None
    source: str = ""
    censored: pd.DataFrame | None = None
    # set by validate(): every value was checked, so an engine need not check again (a copy that keeps
    # fewer subjects, as dataclasses.replace makes, stays checked: dropping rows makes no value bad)
    checked: bool = field(default=False, repr=False, compare=False)

    @property
    def subject_ids(self) -> pd.Index:
        return self.features.index

    def __len__(self) -> int:
        return len(self.features)

    def validate(self, catalogue: Catalogue | None = None, *, undeclared: str = "refuse") -> Screening:
        """The Screening checked against its contract and typed (explorer.cohort.checks): raises DataError
        naming the table, column and rows of the first bad value; a folder, a loader and a Screening built
        in Python all pass through here. `undeclared="keep"` leaves columns outside the catalogue unchecked."""
        catalogue = catalogue or default_catalogue()
        source = self.source or None
        features = typed_features(self.features, catalogue, file=source, undeclared=undeclared)
        ids = features.index
        events = typed_events(self.events, ids, catalogue, file=source)
        per_subject = {name: None if getattr(self, name) is None else
                       typed_per_subject(getattr(self, name), name, ids, catalogue, file=source)
                       for name in ("event_lookback", "event_counts")}
        return replace(self, features=features, events=events, checked=True, **per_subject)
