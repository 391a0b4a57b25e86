"""Threshold edits as arithmetic on a criterion's edit table (explorer.engine.edit_histogram): after any sequence of
edits the histogram equals a fresh GROUP BY of the engine and the memory engine's, with values exactly at every new
threshold for every comparator, NULLs, and the cases that must fall back to the engine."""

from __future__ import annotations

import os
import random
import threading
import time

import numpy as np
import pandas as pd
import pytest
from engine_cases import INJECTION
from random_cohort import random_screening

from explorer.cohort.screening import Screening
from explorer.engine import evaluate
from explorer.engine.duck import DuckDBBackend
from explorer.engine.edit_histogram import EditTables, editable, rule_variables
from explorer.engine.edit_warmup import WARMER
from explorer.engine.histogram import HistogramMatrix, evaluate_histogram
from explorer.errors import DataError, DefinitionError
from explorer.trial import trial_from_dict

PCT = {"unit": "%", "min": 0, "max": 100}
# one criterion per comparator and construct a threshold can sit in; CN and CK count events (the count is a value
# column of the table at one window: a new window takes a new table)
CRITERIA = [
    {"id": "GE", "kind": "inclusion", "expression": "hba1c >= a", "parameters": {"a": {"value": 7.5, **PCT}}},
    {"id": "GT", "kind": "exclusion", "expression": "hba1c > a", "parameters": {"a": {"value": 11.0, **PCT}}},
    {"id": "LE", "kind": "inclusion", "expression": "tir <= a or hba1c < b",
     "parameters": {"a": {"value": 70.0, **PCT}, "b": {"value": 9.0, **PCT}}},
    {"id": "EQ", "kind": "exclusion", "expression": "bmi == a", "parameters": {
        "a": {"value": 30.0, "unit": "kg/m2", "min": 8, "max": 90}}},
    {"id": "NE", "kind": "inclusion", "expression": "age != a or pregnant", "parameters": {
        "a": {"value": 40.0, "unit": "years", "min": 0, "max": 120}}},
    {"id": "CH", "kind": "inclusion", "expression": "a <= bmi <= b and diabetes_type in (\"T1D\", \"other\")",
     "parameters": {"a": {"value": 18.0, "unit": "kg/m2", "min": 8, "max": 90},
                    "b": {"value": 35.0, "unit": "kg/m2", "min": 8, "max": 90}}},
    {"id": "RA", "kind": "exclusion", "expression": "alt >= m * alt_uln or not known(alt)",
     "parameters": {"m": {"value": 2.0, "min": 0, "max": 10}}},
    {"id": "SI", "kind": "inclusion", "expression": f"site in (\"a'b\", '{INJECTION}') or age >= a",
     "parameters": {"a": {"value": 60.0, "unit": "years", "min": 0, "max": 120}}},
    {"id": "PL", "kind": "inclusion", "text": "Consent"},
    {"id": "CN", "kind": "exclusion", "expression": "count(severe_hypoglycemia, within_days=w) >= 1",
     "parameters": {"w": {"value": 91, "unit": "days", "min": 0, "max": 730}}},
    {"id": "CK", "kind": "inclusion", "expression": "count(severe_hypoglycemia, within_days=w) >= k or hba1c > a",
     "parameters": {"w": {"value": 365, "unit": "days", "min": 0, "max": 730}, "k": {"value": 2, "min": 0, "max": 20},
                    "a": {"value": 12.0, **PCT}}},
]
PARAMETERS = [(c["id"], p) for c in CRITERIA for p in c.get("parameters", {})]


def make_trial(criteria=CRITERIA):
    return trial_from_dict({"id": "EDITS", "title": "threshold edits",
                            "criteria": [{"text": c["id"], **c} for c in criteria],
                            "variables": {"site": {"kind": "category", "categories": ["a'b", INJECTION, "c"]}}})


def boundary_screening() -> Screening:
    """Values exactly at the thresholds the tests move to (and just beside them), NaN, NA, -0.0."""
    nan = np.nan
    hba1c = [7.5, 7.4, 7.6, 8.0, 11.0, 11.1, 9.0, nan, 6.0, 8.0, 7.5, nan, 12.0, 5.0]
    n = len(hba1c)
    ids = pd.Index([f"b{i:02d}" for i in range(n)], name="subject_id", dtype="string")
    f = pd.DataFrame(index=ids)
    f["hba1c"] = hba1c
    f["tir"] = [70.0, 69.9, 70.1, nan, 50.0, 80.0, 70.0, 60.0, nan, 100.0, 0.0, 70.0, 55.0, 71.0]
    f["bmi"] = [30.0, 18.0, 35.0, 35.1, 17.9, nan, 25.0, 30.0, 30.0, 22.0, 40.0, 18.0, nan, 33.0]
    f["age"] = [40.0, 41.0, 39.0, nan, 40.0, 70.0, 18.0, 40.0, 25.0, nan, 60.0, 40.0, 33.0, 12.0]
    f["alt"] = [80.0, 79.0, nan, 0.0, 120.0, 40.0, -0.0, 81.0, 20.0, 60.0, nan, 100.0, 30.0, 90.0]
    f["alt_uln"] = [40.0, 40.0, 40.0, 40.0, 40.0, nan, 30.0, 40.0, 10.0, 30.0, 40.0, 50.0, 15.0, 45.0]
    f["pregnant"] = pd.array([False, True, None, False, False, None, True, False, None, False, False, True, None,
                              False], dtype="boolean")
    f["diabetes_type"] = pd.array(["T1D", "T2D", "other", None, "T1D", "T1D", "none", "T1D", "other", None, "T1D",
                                   "T2D", "T1D", "other"], dtype="string")
    # the trial's own category, with quotes, SQL text and a value outside its categories (unknown)
    f["site"] = pd.array(["a'b", INJECTION, "c", None, "zzz", "a'b", "c", INJECTION, None, "c", "a'b", "c", "c", "zzz"],
                         dtype="string")
    return Screening(f, source="boundaries", checked=True)


def memory_histogram(trial, screening) -> HistogramMatrix:
    return HistogramMatrix.of(evaluate(trial, screening))


def assert_same(a: HistogramMatrix, b: HistogramMatrix, what: str) -> None:
    assert a.ids == b.ids, what
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), obj=what)


def check_edits(matrix: HistogramMatrix, screening, edits, *, fresh_every: bool = True) -> HistogramMatrix:
    """Apply the edits one by one; each result equals a fresh GROUP BY and the memory engine's histogram."""
    trial = matrix.trial
    for criterion, parameter, value in edits:
        trial = trial.with_parameter(criterion, parameter, value)
        matrix = matrix.with_trial(trial)
        what = f"{criterion}.{parameter} = {value} ({matrix.edits.last})"
        assert_same(matrix, memory_histogram(trial, screening), what)
        if fresh_every:
            assert_same(matrix, evaluate_histogram(trial, None, backend=matrix.backend), what)
    return matrix


def test_every_comparator_at_its_boundaries_equals_a_fresh_count_and_the_memory_engine():
    screening = boundary_screening()
    matrix = evaluate_histogram(make_trial(), screening, "duckdb")
    assert_same(matrix, memory_histogram(make_trial(), screening), "start")
    edits = [("GE", "a", 8.0), ("GE", "a", 7.6), ("GE", "a", 7.4), ("GT", "a", 11.1), ("GT", "a", 9.0),
             ("LE", "a", 69.9), ("LE", "b", 7.5), ("LE", "a", 100.0), ("EQ", "a", 18.0), ("EQ", "a", 35.0),
             ("NE", "a", 41.0), ("NE", "a", 12.0), ("CH", "a", 30.0), ("CH", "b", 30.0), ("CH", "a", 35.1),
             ("RA", "m", 3.0), ("RA", "m", 0.0), ("RA", "m", 2.5), ("SI", "a", 40.0), ("SI", "a", 12.0)]
    answers = []
    for edit in edits:
        matrix = check_edits(matrix, screening, [edit])
        answers.append(matrix.edits.last)
    # the first edit of a criterion takes its table, the next ones (same others) are arithmetic on it
    assert answers[:3] == ["new table", "table", "table"]
    assert answers[3:5] == ["new table", "table"]
    assert answers[-5:] == ["new table", "table", "table", "new table", "table"]


def test_an_edit_table_keeps_null_as_its_own_value_and_leaves_out_a_variable_the_source_lacks():
    screening = boundary_screening()
    lacking = Screening(screening.features.drop(columns=["tir"]), source="no tir")
    matrix = evaluate_histogram(make_trial(), lacking, "duckdb")
    matrix = check_edits(matrix, lacking, [("LE", "b", 8.0), ("LE", "b", 11.0), ("LE", "a", 0.0)])
    (table,) = [t for t in matrix.edits._tables.values()]
    assert list(table.values.columns) == ["hba1c"]  # tir is absent: unknown for everyone, as the rule reads it
    assert table.values["hba1c"].isna().any()
    assert table.counts.sum() == len(screening.features)


def test_random_edit_sequences_on_random_cohorts_equal_a_fresh_count_and_the_memory_engine():
    for seed in range(3):
        screening = random_screening(400, seed, missing=0.2)
        rng = random.Random(seed)
        matrix = evaluate_histogram(make_trial(), screening, "duckdb")
        edits = []
        for _ in range(14):
            criterion, parameter = rng.choice(PARAMETERS)
            spec = make_trial().criterion(criterion).parameters[parameter]
            column = rule_variables(make_trial().criterion(criterion), make_trial().catalogue)
            observed = screening.features[column[0]].dropna().to_numpy() if column else []
            # mostly values some subject has exactly (boundaries), else anywhere in the range
            if len(observed) and rng.random() < 0.7 and spec.min <= (v := float(rng.choice(list(observed)))) <= spec.max:
                value = v
            else:
                value = round(rng.uniform(spec.min, spec.max), 1)
            edits.append((criterion, parameter, value))
        check_edits(matrix, screening, edits)


def test_too_large_tables_and_several_changes_are_counted_by_the_engine():
    screening = random_screening(300, 7)
    trial = make_trial()
    matrix = evaluate_histogram(trial, screening, "duckdb")
    both = matrix.trial.with_parameter("GE", "a", 9.0).with_parameter("GT", "a", 9.5)
    edited = matrix.with_trial(both)
    assert matrix.edits.last == "2 criteria changed"
    assert_same(edited, memory_histogram(both, screening), "two at once")

    small = evaluate_histogram(trial, screening, "duckdb", edits=EditTables(limit=5))
    small = check_edits(small, screening, [("GE", "a", 8.0), ("GE", "a", 9.0)])
    assert small.edits.last == "the edit table has more than 5 rows"


def test_a_table_taken_before_another_criterion_changed_is_not_used():
    screening = random_screening(300, 11)
    matrix = evaluate_histogram(make_trial(), screening, "duckdb")
    matrix = check_edits(matrix, screening, [("GE", "a", 8.0)], fresh_every=False)
    matrix = check_edits(matrix, screening, [("GT", "a", 9.0)], fresh_every=False)
    # GE's table holds GT's old statuses: a new one is taken, and then used
    matrix = check_edits(matrix, screening, [("GE", "a", 6.5)], fresh_every=False)
    assert matrix.edits.last == "new table"
    check_edits(matrix, screening, [("GE", "a", 7.0)], fresh_every=False)
    assert matrix.edits.last == "table"


def test_edits_that_change_no_rule_keep_the_histogram():
    screening = boundary_screening()
    matrix = evaluate_histogram(make_trial(), screening, "duckdb")
    relabelled = matrix.trial.with_criterion("GE", label="HbA1c", unknown="fail")
    kept = matrix.with_trial(relabelled)
    assert kept.histogram is matrix.histogram and kept.criterion("GE").unknown == "fail"


def test_threshold_edits_on_spark_equal_the_memory_engine(spark):
    screening = boundary_screening()
    matrix = evaluate_histogram(make_trial(), screening, "spark", spark=spark)
    edits = [("GE", "a", 8.0), ("GE", "a", 7.6), ("CH", "a", 30.0), ("CH", "b", 30.0)]
    matrix = check_edits(matrix, screening, edits, fresh_every=False)
    assert matrix.edits.last == "table"
    assert_same(matrix, evaluate_histogram(matrix.trial, None, backend=matrix.backend), "fresh Spark count")


def test_the_stand_in_gives_the_memory_engines_threshold_curves_and_refuses_what_it_cannot_answer():
    from explorer.analysis.sensitivity import threshold_sensitivity

    screening = boundary_screening()
    matrix = evaluate_histogram(make_trial(), screening, "duckdb").with_policies(unknown={"LE": "pass"})
    memory = evaluate(make_trial(), screening).with_policies(unknown={"LE": "pass"})
    for criterion, parameter in (("GE", "a"), ("LE", "b"), ("CH", "a"), ("RA", "m")):
        stand_in, values = matrix.stand_in(criterion)
        assert stand_in.n_subjects == len(screening.features)
        for enabled in (None, ["GE", "CH", criterion, "NE"]):
            a = threshold_sensitivity(memory, screening, criterion, parameter, enabled=enabled)
            b = threshold_sensitivity(stand_in, values, criterion, parameter, enabled=enabled)
            pd.testing.assert_frame_equal(a.curve, b.curve, obj=f"{criterion} curve")
            assert (a.pool, a.unknown, a.below, a.above) == (b.pool, b.unknown, b.below, b.above)
            if a.histogram is not None:
                pd.testing.assert_frame_equal(a.histogram, b.histogram, obj=f"{criterion} histogram")
    with pytest.raises(DefinitionError, match="counts events"):
        matrix.stand_in("CN")
    with pytest.raises(DefinitionError, match="stands 14 subjects in.*limit is 5"):
        matrix.edits.stand_in(matrix.trial, "GE", matrix.criteria, matrix.backend, limit=5)


def counting_screening() -> Screening:
    """Events exactly at and just past the windows the tests move to, histories shorter than, equal to and
    longer than each window (or absent), and counts the source reports where the history is too short."""
    nan = np.nan
    # (days of history, days before index of each severe hypoglycaemia, reported count @365, hba1c)
    rows = [(365, [365], nan, 7.0), (365, [366], nan, 7.0), (364, [10], nan, 7.0), (364, [10], 3.0, 7.0),
            (nan, [], nan, 13.0), (nan, [], 0.0, 7.0), (730, [1, 2, 365, 366, 730], nan, 7.0), (730, [], nan, nan),
            (91, [91, 91], nan, 7.0), (90, [1, 1], 1.0, 7.0), (1000, [0, 0, 0], nan, 12.0), (365, [365, 365], 9.0, 7.0)]
    ids = pd.Index([f"c{i:02d}" for i in range(len(rows))], name="subject_id", dtype="string")
    f = pd.DataFrame({"hba1c": [r[3] for r in rows]}, index=ids)
    days = [(ids[i], d) for i, r in enumerate(rows) for d in r[1]]
    events = pd.DataFrame({"subject_id": pd.array([i for i, _ in days], dtype="string"),
                           "event": pd.array(["severe_hypoglycemia"] * len(days), dtype="string"),
                           "days_before_index": [float(d) for _, d in days]})
    lookback = pd.DataFrame({"severe_hypoglycemia": [float(r[0]) for r in rows]}, index=ids)
    reported = pd.DataFrame({"severe_hypoglycemia@365": [r[2] for r in rows]}, index=ids)
    return Screening(f, events, lookback, reported, source="counts").validate()


def test_a_count_threshold_and_its_window_are_arithmetic_on_the_latest_events_at_the_boundaries():
    screening = counting_screening()
    trial = make_trial()
    matrix = evaluate_histogram(trial, screening, "duckdb")
    assert_same(matrix, memory_histogram(trial, screening), "start")
    answers = []
    for edit in [("CK", "k", 1), ("CK", "k", 3), ("CK", "k", 0), ("CK", "a", 11.0), ("CK", "k", 9),
                 ("CK", "w", 366), ("CK", "k", 2), ("CK", "k", 5), ("CK", "w", 365), ("CK", "k", 4),
                 ("CN", "w", 730), ("CN", "w", 90), ("CK", "w", 0), ("CK", "k", 1)]:
        matrix = check_edits(matrix, screening, [edit])
        answers.append(matrix.edits.last)
    # the count's threshold, its window and the other threshold are arithmetic on one table (its latest events:
    # edit_rule.window_counts); CK's table is taken again once CN (one of the others) changed
    assert answers == ["new table", "table", "table", "table", "table", "table", "table", "table",
                       "table", "table", "new table", "table", "new table", "table"]
    table = [t for k, t in matrix.edits._tables.items() if k[0][-1][0] == "CK" and len(k[0][-1]) == 6][-1]
    # unknown (NULL kept) where no history covers the window and no count is reported: at 0 days the two without a
    # history; at 365 days the 364- and 91-day histories without a reported count and the subject without either
    # (a reported count fills in for the others)
    at = {w: table._counts_at(matrix.trial.with_parameter("CK", "w", w).criterion("CK")) for w in (0, 365)}
    assert table.counts[at[0]["severe_hypoglycemia@0"].isna().to_numpy()].sum() == 2
    unknown = at[365]["severe_hypoglycemia@365"].isna().to_numpy()
    assert table.counts[unknown].sum() == 3 and table.counts.sum() == len(screening.features)


def test_count_edits_on_random_cohorts_with_unknown_histories_equal_a_fresh_count_and_the_memory_engine():
    for seed in range(2):
        screening = random_screening(400, 20 + seed, missing=0.2)
        rng = random.Random(seed)
        matrix = evaluate_histogram(make_trial(), screening, "duckdb")
        edits = [("CK", rng.choice(["k", "k", "k", "w", "a"]), 0) for _ in range(10)]
        edits = [(c, p, {"k": rng.randint(0, 4), "w": rng.choice([91, 365, 400, 100]),
                         "a": round(rng.uniform(6, 13), 1)}[p]) for c, p, _ in edits]
        check_edits(matrix, screening, edits)


# --- warm-up: tables taken in the background, never a wrong or stale answer -----------------------------------

@pytest.fixture
def warmer(monkeypatch):
    monkeypatch.setattr(WARMER, "delay", 0.05)  # the tests wait for the warm-up themselves
    yield WARMER
    WARMER.stop()
    assert WARMER.wait_idle(timeout=60)


class Gated:
    """A DuckDB backend whose edit tables are recorded, and whose first warm-up query waits for a gate."""

    def __init__(self, backend):
        self.inner, self.calls, self.gate, self.waiting = backend, [], threading.Event(), threading.Event()
        self.fail_if_interrupted = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def edit_table(self, criteria, j, variables, catalogue, limit, con=None):
        background = con is not None
        self.calls.append((criteria[j].id, background, tuple(c.parameter_values().get("a") for c in criteria)))
        if background and not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(60)
            if self.fail_if_interrupted and WARMER._interrupted:
                raise DataError("interrupted")  # what an interrupted DuckDB query raises, through duckdb_edit_table
        return self.inner.edit_table(criteria, j, variables, catalogue, limit, con=con)


def editable_ids(trial):
    return [c.id for c in trial.criteria if editable(c)]


def test_warm_up_takes_every_editable_criterions_table_and_the_edits_are_then_arithmetic(warmer):
    screening = random_screening(300, 5, missing=0.2)
    trial = make_trial()
    matrix = evaluate_histogram(trial, screening, "duckdb", warm=True)
    assert matrix.edits.wait_warm(timeout=60)
    # every criterion with a threshold or a window (its table keeps the latest events); not PL (no rule)
    assert editable_ids(trial) == [c["id"] for c in CRITERIA if c["id"] != "PL"]
    assert matrix.edits.warmed(trial) == editable_ids(trial)
    for edit in [("GE", "a", 8.0), ("CK", "k", 1)]:
        matrix = check_edits(matrix, screening, [edit])
        assert matrix.edits.last == "table", edit
        # each edit warms the new state: every other criterion's table is taken again for it
        assert matrix.edits.wait_warm(timeout=60)
        assert matrix.edits.warmed(matrix.trial) == editable_ids(trial)
    # a window edit is arithmetic on the warmed table too (edit_rule.window_counts)
    matrix = check_edits(matrix, screening, [("CK", "w", 91)])
    assert matrix.edits.last == "table"


def test_an_edit_waits_for_the_table_the_warm_up_is_taking_and_a_newer_state_supersedes_the_warm_up(warmer):
    screening = boundary_screening()
    trial = make_trial()
    gated = Gated(DuckDBBackend(screening, trial.catalogue))
    matrix = evaluate_histogram(trial, None, backend=gated, warm=True)
    assert gated.waiting.wait(30)  # the warm-up is taking GE's table, held at the gate
    threading.Timer(0.5, gated.gate.set).start()
    edited = check_edits(matrix, screening, [("GE", "a", 8.0)])
    assert edited.edits.last == "warmed table"
    assert [c[:2] for c in gated.calls if c[0] == "GE"] == [("GE", True)]  # taken once, by the warm-up
    # a newer state (GT edited) supersedes the warm-up of the first: no table of it is taken after the switch
    gated2 = Gated(DuckDBBackend(screening, trial.catalogue))
    matrix = evaluate_histogram(trial, None, backend=gated2, warm=True)
    assert gated2.waiting.wait(30)
    moved = check_edits(matrix, screening, [("GT", "a", 9.0)], fresh_every=False)
    gated2.gate.set()
    assert moved.edits.wait_warm(timeout=60)
    background = [c for c in gated2.calls if c[1]]
    assert background[0][0] == "GE" and background[0][2][1] == 11.0  # the one in flight at the switch
    assert all(c[2][1] == 9.0 for c in background[1:])  # then only the new state's tables
    assert moved.edits.warmed(moved.trial) == editable_ids(trial)


def test_an_interrupted_warm_up_query_is_taken_again_after_the_edit_and_the_budget_bounds_the_tables(warmer):
    screening = boundary_screening()
    trial = make_trial()
    gated = Gated(DuckDBBackend(screening, trial.catalogue))
    gated.fail_if_interrupted = True
    matrix = evaluate_histogram(trial, None, backend=gated, warm=True)
    assert gated.waiting.wait(30)
    with WARMER.foreground():  # an edit's query: the warm-up's is interrupted and waits
        gated.gate.set()
        time.sleep(0.3)
        assert matrix.edits.warmed(trial) == []
    assert matrix.edits.wait_warm(timeout=60)
    assert [c[0] for c in gated.calls[:2]] == ["GE", "GE"]  # taken again after the edit
    assert matrix.edits.warmed(trial) == editable_ids(trial)

    small = evaluate_histogram(trial, screening, "duckdb", edits=EditTables(budget=1, warm=True))
    assert small.edits.wait_warm(timeout=60)
    assert small.edits.warmed(trial) == ["GE"]  # the budget was spent by the first table: the warm-up stopped
    small = check_edits(small, screening, [("RA", "m", 3.0)], fresh_every=False)
    assert small.edits.last == "new table"
    assert small.edits.wait_warm(timeout=60)
    assert small.edits.warmed(small.trial) == ["RA"]  # the edit's own table evicted the least recently used
    # a state reached without a table (two criteria at once): the warm-up drops the older state's tables for it
    both = small.trial.with_parameter("GE", "a", 9.0).with_parameter("GT", "a", 9.5)
    small = small.with_trial(both)
    assert small.edits.last == "2 criteria changed"
    assert small.edits.wait_warm(timeout=60)
    assert small.edits.warmed(both) == ["GE"] and len(small.edits._tables) == 1


def test_a_state_replaced_within_the_delay_is_never_warmed(warmer):
    screening = boundary_screening()
    trial = make_trial()
    warmer.delay = 1.0
    gated = Gated(DuckDBBackend(screening, trial.catalogue))
    gated.gate.set()
    matrix = evaluate_histogram(trial, None, backend=gated, warm=True)
    for value in (8.0, 8.5, 9.0):  # a slider dragged: each value a new state, within the delay of the last
        matrix = matrix.with_trial(matrix.trial.with_parameter("GT", "a", value))
    assert matrix.edits.wait_warm(timeout=60)
    background = [c for c in gated.calls if c[1]]
    assert background and all(c[2][1] == 9.0 for c in background)  # only the state that stayed
    assert matrix.edits.warmed(matrix.trial) == editable_ids(trial)


def test_the_warm_up_takes_spark_tables_from_its_own_thread(spark, warmer):
    screening = counting_screening()
    trial = make_trial([c for c in CRITERIA if c["id"] in ("GE", "RA", "CN", "CK")])
    matrix = evaluate_histogram(trial, screening, "spark", spark=spark, warm=True)
    assert matrix.edits.wait_warm(timeout=300)
    assert matrix.edits.warmed(trial) == ["GE", "RA", "CN", "CK"]  # CN's window: its latest events
    for edit in [("CK", "k", 1), ("CN", "w", 364), ("GE", "a", 7.0)]:
        matrix = check_edits(matrix, screening, [edit], fresh_every=False)
        assert matrix.edits.last == "table"
        assert matrix.edits.wait_warm(timeout=300)  # the new state's tables (GE's after CK's edit)


EXIT_MID_WARM_UP = """
import sys, time
from explorer.engine import edit_warmup
from explorer.engine.histogram import evaluate_histogram
from random_cohort import random_screening
from tests_trial import make_trial
edit_warmup.WARMER.delay = 0
matrix = evaluate_histogram(make_trial(), random_screening(20000, 1, missing=0.2), "duckdb", warm=True)
time.sleep(float(sys.argv[1]))
print(edit_warmup.WARMER.taken)
"""


@pytest.mark.parametrize("seconds", [0.3])
def test_the_interpreter_exits_cleanly_in_the_middle_of_a_warm_up(tmp_path, seconds):
    """A daemon thread stopped inside DuckDB at exit aborts the interpreter (exit code 134); the warm-up's query
    is interrupted and the thread parked first."""
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    (tmp_path / "tests_trial.py").write_text(
        "from test_edit_histogram import make_trial\n", encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(tests), str(tests / "engine"),
                                          str(tests.parent)]), "PATH": os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-c", EXIT_MID_WARM_UP, str(seconds)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
