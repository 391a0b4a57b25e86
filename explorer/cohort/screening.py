"""Screening features at the index date: the one input the criteria engines read.

This is the contract between the cohort layer (loaders, the synthetic generator, feature derivation)
and the engines (explorer.engine). Everything upstream ends in a `Screening`; everything downstream
trusts it.

    features        index `subject_id` (str, unique); one column per catalogue variable that the source
                    provides. number -> float64 (NaN = unknown); boolean -> pandas "boolean" (NA = unknown);
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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.catalogue import Catalogue, default_catalogue
from explorer.errors import DataError

EVENT_COLUMNS = ["subject_id", "event", "days_before_index", "severity"]


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": pd.Series(dtype="string"), "event": pd.Series(dtype="string"),
        "days_before_index": pd.Series(dtype="float64"), "severity": pd.Series(dtype="Int64"),
    })


@dataclass(frozen=True)
class Screening:
    features: pd.DataFrame
    events: pd.DataFrame = field(default_factory=empty_events)
    event_lookback: pd.DataFrame | None = None
    event_counts: pd.DataFrame | None = None
    missing_reasons: pd.DataFrame | None = None
    source: str = ""

    @property
    def subject_ids(self) -> pd.Index:
        return self.features.index

    def __len__(self) -> int:
        return len(self.features)

    def validate(self, catalogue: Catalogue | None = None) -> Screening:
        """Check the contract; raise DataError naming the column and rows that break it."""
        catalogue = catalogue or default_catalogue()
        f = self.features
        if f.index.name != "subject_id":
            raise DataError("features must be indexed by 'subject_id'", file=self.source or None)
        if not f.index.is_unique:
            dup = f.index[f.index.duplicated()].unique().tolist()
            raise DataError("duplicate subject ids; each subject must appear once",
                            file=self.source or None, column="subject_id", rows=dup)
        for col in f.columns:
            var = catalogue.get(col)
            if var is None:
                raise DataError(f"{col!r} is not a catalogue variable; rename it or add it to the catalogue",
                                file=self.source or None, column=col)
            s = f[col]
            if var.kind == "number":
                if not pd.api.types.is_float_dtype(s):
                    raise DataError(f"number variable must be float64, got {s.dtype}", column=col,
                                    file=self.source or None)
                if var.range is not None:
                    lo, hi = var.range
                    bad = s[(s < lo) | (s > hi)]
                    if len(bad):
                        raise DataError(f"values outside the plausible range [{lo}, {hi}] {var.unit or ''}",
                                        file=self.source or None, column=col, rows=bad.index.tolist())
            elif var.kind == "boolean":
                if str(s.dtype) != "boolean":
                    raise DataError(f"boolean variable must have dtype 'boolean', got {s.dtype}", column=col,
                                    file=self.source or None)
            elif var.kind == "category":
                bad = s[s.notna() & ~s.isin(var.categories)]
                if len(bad):
                    raise DataError(f"values {sorted(set(bad.astype(str)))[:5]} are not among {list(var.categories)}",
                                    file=self.source or None, column=col, rows=bad.index.tolist())
            else:
                raise DataError(f"event {col!r} belongs in the events table, not in features", column=col)
        missing = [c for c in EVENT_COLUMNS if c not in self.events.columns]
        if missing:
            raise DataError(f"events table lacks columns {missing}", file=self.source or None)
        if len(self.events) and (np.asarray(self.events["days_before_index"], dtype=float) < 0).any():
            raise DataError("events after the index date (days_before_index < 0) are not screening events",
                            column="days_before_index")
        return self
