"""What a screening folder read for the memory engine holds: the ids once (per-subject tables written in the
features' order share the features' index), the events' names as codes, and every status and count the same as
the plain reading of the same files (strings, each table with its own ids)."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from explorer.catalogue import default_catalogue
from explorer.cohort.compact import compact_text, is_number_levels
from explorer.cohort.screening import Screening
from explorer.cohort.synthetic import generate_outcomes
from explorer.cohort.synthetic.enrolment import screening_subset
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.engine import evaluate, funnel, read_screening, write_screening
from explorer.engine.baseline import baseline_table, eligible_mask
from explorer.engine.memory import MemoryContext
from explorer.trial import bundled_trials, load_trial

EVENTS = sorted(default_catalogue().names(kind="event"))


def _text_bytes(values) -> int:
    """Bytes of a text column as Arrow holds it: the characters plus an 8-byte offset a row."""
    text = pa.array(pd.Series(values).astype("string").array)
    return int(pc.sum(pc.binary_length(text)).as_py() or 0) + 8 * len(text)


def _bound(features: pd.DataFrame, events: pd.DataFrame, lookback_columns: int) -> int:
    """What a compact reading may hold, from the column kinds: the ids once; a number column 2 bytes a subject
    (int16 level codes); a boolean 2 (value and mask); a category its texts; an event its subject's id, 1 byte of
    name, 8 of days and 9 of severity (Int64 and its mask); 8 bytes a subject per event_lookback column."""
    catalogue = default_catalogue()
    per_kind = {"number": 2, "boolean": 2}
    total = _text_bytes(features.index)
    for name in features.columns:
        kind = catalogue[name].kind
        total += per_kind[kind] * len(features) if kind in per_kind else _text_bytes(features[name])
    total += _text_bytes(events["subject_id"]) + (1 + 8 + 9) * len(events)
    return total + 8 * lookback_columns * len(features)


def test_a_folder_read_for_the_memory_engine_holds_no_more_than_its_column_kinds_need(tmp_path):
    """Failed before: event_lookback kept its own copy of every id (19 bytes a subject) and each event its name
    as text (27 bytes), 14 % over this bound at 2*10^5 subjects."""
    n = 200_000
    folder = write_screening(generate_screening("t1d", n, seed=5, missing_reasons=False), tmp_path / "s")
    read_screening(folder, compact=True)  # imports and first-use caches out of the measurement
    gc.collect()
    arrow_before = pa.total_allocated_bytes()
    tracemalloc.start()
    try:
        screening = read_screening(folder, compact=True)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] + pa.total_allocated_bytes() - arrow_before
    finally:
        tracemalloc.stop()
    features, events = screening.features, screening.events
    assert sum(is_number_levels(features[c].dtype) for c in features.columns) > 20 and len(events) > n // 2
    bound = _bound(features, events, len(screening.event_lookback.columns))
    assert held < 1.03 * bound, (held / n, bound / n)


def _hostile_screening(seed: int) -> Screening:
    """A synthetic cohort made hostile: unknown categories, unknown lookbacks, lookbacks of 0 and 10^300 days,
    events on the index day and 10^300 days before it, subjects with dozens of events, reported counts beside the
    lookbacks."""
    rng = np.random.default_rng(seed)
    s = generate_screening("t1d", 2000, seed=seed, missing_reasons=False)
    ids = s.features.index
    features = s.features.copy()
    for name in ("sex", "diabetes_type", "cancer_status"):
        features.loc[rng.random(len(ids)) < 0.1, name] = pd.NA
    lookback = s.event_lookback.copy()
    for col in lookback.columns:
        values = lookback[col].to_numpy(copy=True)
        pick = rng.random(len(values))
        values[pick < 0.1] = np.nan
        values[(pick >= 0.1) & (pick < 0.15)] = 0.0
        values[(pick >= 0.15) & (pick < 0.2)] = 1e300
        lookback[col] = values
    many = rng.choice(len(ids), 40)
    extra = pd.DataFrame({"subject_id": np.repeat(np.asarray(ids[many], dtype=object), 30),
                          "event": rng.choice(EVENTS, 1200),
                          "days_before_index": rng.choice([0.0, 1.0, 90.0, 365.0, 366.0, 1e300], 1200),
                          "severity": pd.array(rng.choice([1, 2, 3], 1200), dtype="Int64")})
    extra.loc[::7, "severity"] = pd.NA
    events = pd.concat([s.events.astype({"subject_id": object, "event": object}), extra], ignore_index=True)
    counts = pd.DataFrame({"severe_hypoglycemia@365": np.where(rng.random(len(ids)) < 0.3, np.nan,
                                                                rng.integers(0, 5, len(ids)).astype(float))},
                          index=ids)
    return Screening(features, events=events, event_lookback=lookback, event_counts=counts).validate()


def _plain_reading(folder) -> Screening:
    """Each file read whole into strings and float64, with its own ids, checked by Screening.validate."""
    tables = {name: pq.read_table(folder / f"{name}.parquet").to_pandas()
              for name in ("features", "events", "event_lookback", "event_counts")}
    return Screening(tables["features"].set_index("subject_id"), events=tables["events"],
                     event_lookback=tables["event_lookback"].set_index("subject_id"),
                     event_counts=tables["event_counts"].set_index("subject_id")).validate()


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("shuffled", [False, True])
def test_statuses_and_counts_equal_the_plain_reading_for_hostile_cohorts(tmp_path, seed, shuffled):
    folder = write_screening(_hostile_screening(seed), tmp_path / "s")
    if shuffled:  # a per-subject table in another order keeps its own ids and is aligned by the engine
        table = pq.read_table(folder / "event_lookback.parquet")
        pq.write_table(table.take(np.random.default_rng(seed).permutation(len(table))),
                       folder / "event_lookback.parquet")
    compact, plain = read_screening(folder, compact=True), _plain_reading(folder)
    assert (compact.event_lookback.index is compact.features.index) != shuffled
    assert isinstance(compact.events["event"].dtype, pd.CategoricalDtype)
    assert all(isinstance(compact.features[c].dtype, pd.CategoricalDtype) for c in ("sex", "cancer_status"))
    for trial_id in bundled_trials():
        trial = load_trial(trial_id)
        got, expected = evaluate(trial, compact), evaluate(trial, plain)
        assert np.array_equal(got.codes, expected.codes), trial_id
        pd.testing.assert_frame_equal(funnel(got), funnel(expected))
        pd.testing.assert_frame_equal(baseline_table(got, compact), baseline_table(expected, plain))
    ids = compact.features.index[eligible_mask(got, possibly=True)][:100]
    enrolled = (generate_outcomes(screening_subset(compact, ids), "islet", seed=3),
                generate_outcomes(screening_subset(plain, ids), "islet", seed=3))
    for table in ("subjects", "measurements", "events"):
        pd.testing.assert_frame_equal(getattr(enrolled[0], table), getattr(enrolled[1], table))
    ours, theirs = MemoryContext(compact), MemoryContext(plain)
    for event in EVENTS:
        for window in (0.0, 1.0, 90.0, 365.0, 1e300):
            np.testing.assert_array_equal(ours.count(event, window), theirs.count(event, window))


def test_compact_text_reads_back_every_text_and_keeps_missing_values_missing():
    values = pd.Series(["b", None, "a", "b", "", "a"], dtype="string")
    coded = compact_text(values)
    assert coded.codes.dtype == np.int8
    pd.testing.assert_series_equal(pd.Series(coded).astype("string"), values, check_names=False)
