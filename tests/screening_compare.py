"""Assertions that two screenings agree: the pandas derivation against one done by SQL (features, missing
reasons, events, look-back and counts; then the statuses of both bundled trials)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.engine.matrix import evaluate
from explorer.trial import load_trial

TRIALS = ("NCT06196996", "NCT01142050")


def assert_same_screening(expected, got) -> None:
    """The pandas screening and the SQL one agree on every table (floats to 1e-12 relative)."""
    fa, fb = expected.features, got.features
    assert list(fa.columns) == list(fb.columns)
    assert fa.index.equals(fb.index)
    for column in fa.columns:
        if fa[column].dtype == "float64":
            np.testing.assert_allclose(fb[column].to_numpy(), fa[column].to_numpy(), rtol=1e-12, atol=0,
                                       equal_nan=True, err_msg=column)
        else:
            pd.testing.assert_series_equal(fb[column], fa[column], check_names=False)

    def reasons(s):
        r = s.missing_reasons.astype(str)
        return r.sort_values(list(r.columns)).reset_index(drop=True)

    pd.testing.assert_frame_equal(reasons(got), reasons(expected))
    pd.testing.assert_frame_equal(got.events.reset_index(drop=True), expected.events.reset_index(drop=True))
    for table in ("event_lookback", "event_counts"):
        a, b = getattr(expected, table), getattr(got, table)
        assert (a is None) == (b is None), table
        if a is not None:
            pd.testing.assert_frame_equal(b, a, check_names=False)


def assert_same_statuses(expected, got) -> None:
    for trial_id in TRIALS:
        trial = load_trial(trial_id)
        a, b = evaluate(trial, expected), evaluate(trial, got)
        np.testing.assert_array_equal(b.codes, a.codes, err_msg=trial_id)
