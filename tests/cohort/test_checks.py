"""A Screening built in Python is checked like a screening folder: same rules, same one-line messages.

One function set (explorer.cohort.checks, through Screening.validate) serves both paths, and both
engines run it on an in-memory Screening before they read it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.screening import Screening
from explorer.engine import write_screening
from explorer.engine.matrix import evaluate
from explorer.errors import DataError
from explorer.trial import load_trial


@pytest.fixture(scope="module")
def trial():
    return load_trial("NCT06196996")


def good_features() -> pd.DataFrame:
    ids = pd.Index(["s1", "s2", "s3", "s4"], name="subject_id", dtype="string")
    return pd.DataFrame({
        "age": [30.0, 41.0, np.nan, 65.0],
        "hba1c": [7.0, 8.5, 6.1, np.nan],
        "diabetes_type": pd.array(["T1D", "T1D", None, "T2D"], dtype="string"),
        "hypoglycemia_unawareness": pd.array([True, False, None, True], dtype="boolean"),
    }, index=ids)


def with_value(column: str, value, row: int = 1, *, ids=None) -> pd.DataFrame:
    frame = good_features()
    if ids is not None:
        frame.index = pd.Index(ids, name="subject_id", dtype="string")
    values = frame[column].astype(object)
    values.iloc[row] = value
    frame[column] = values
    return frame


# what a notebook user might build, and what each must be told
BAD = {
    "out of range": (with_value("hba1c", 90.0), "hba1c", "values ['90'] are not finite numbers in the plausible range [3, 20] %"),
    "infinite": (with_value("age", np.inf), "age", "values ['inf'] are not finite numbers"),
    "text number": (with_value("age", "forty"), "age", "values ['forty'] are not finite numbers"),
    "lower-case category": (with_value("diabetes_type", "t1d"), "diabetes_type", "values ['t1d'] are not among"),
    "boolean word": (with_value("hypoglycemia_unawareness", "yes"), "hypoglycemia_unawareness",
                     "values ['yes'] are not booleans"),
    "duplicate ids": (with_value("age", 30.0, ids=["s1", "s2", "s2", "s4"]), "subject_id",
                      "duplicate subject ids"),
    "duplicate ids, unsorted": (with_value("age", 30.0, ids=["s4", "s2", "s1", "s2"]), "subject_id",
                                "duplicate subject ids"),
    "blank id": (with_value("age", 30.0, ids=["s1", " ", "s3", "s4"]), "subject_id", "blank subject ids"),
}


def _without_file(message: str) -> str:
    return re.sub(r"^file [^,]+, ", "", message)


@pytest.mark.parametrize("case", list(BAD))
def test_an_in_memory_screening_gets_the_folder_message(case, tmp_path):
    features, column, words = BAD[case]
    with pytest.raises(DataError) as in_memory:
        Screening(features, source="my notebook").validate()
    message = str(in_memory.value)
    assert message.startswith("file my notebook, ") and "\n" not in message
    assert f"column {column!r}" in message and words in message
    # the same values written as a CSV folder: the same words, rows and column
    folder = tmp_path / "folder"
    folder.mkdir()
    features.reset_index().to_csv(folder / "features.csv", index=False)
    from explorer.engine.layout import read_screening
    with pytest.raises(DataError) as from_folder:
        read_screening(folder)
    assert _without_file(str(from_folder.value)) == _without_file(message)


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
@pytest.mark.parametrize("case", list(BAD))
def test_both_engines_check_an_in_memory_screening_before_reading_it(trial, case, engine):
    features, _, words = BAD[case]
    with pytest.raises(DataError, match=re.escape(words)):
        evaluate(trial, Screening(features, source="my notebook"), engine=engine)


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_an_untyped_column_is_refused_with_what_to_do_and_validate_types_it(trial, engine):
    features = good_features()
    features["age"] = pd.array([30, 41, None, 65], dtype="Int64")  # right values, not the engines' dtype
    data = Screening(features, source="my notebook")
    with pytest.raises(DataError, match=r"column 'age'.*Screening.validate\(\) returns the screening typed"):
        evaluate(trial, data, engine=engine)
    typed = data.validate()
    assert typed.features["age"].dtype == "float64" and typed.checked
    matrix = evaluate(trial, typed, engine=engine)
    assert matrix.n_subjects == 4


def test_events_of_an_in_memory_screening_are_checked_like_a_folders():
    events = pd.DataFrame({"subject_id": ["s1", "s9"], "event": ["severe_hypoglycemia"] * 2,
                           "days_before_index": [3.0, 4.0]})
    with pytest.raises(DataError, match=r"column 'subject_id', rows 2: 1 rows name subjects that are not in features"):
        Screening(good_features(), events, source="my notebook").validate()
    events = events.assign(subject_id=["s1", "s2"], days_before_index=[3.0, -1.0])
    with pytest.raises(DataError, match=r"column 'days_before_index', rows 2: 1 values \['-1'\] are not days"):
        Screening(good_features(), events, source="my notebook").validate()


def test_a_valid_screening_passes_unchanged_and_a_checked_copy_is_not_checked_again(trial, monkeypatch):
    data = Screening(good_features(), source="my notebook")
    checked = data.validate()
    assert checked.features is data.features  # typed already: no copy
    import explorer.cohort.screening as screening_module
    monkeypatch.setattr(screening_module, "typed_features", lambda *a, **k: pytest.fail("checked twice"))
    memory = evaluate(trial, checked, engine="memory")
    duck = evaluate(trial, checked, engine="duckdb")
    assert memory.to_frame().equals(duck.to_frame())


def test_folder_and_memory_round_trip_gives_the_same_matrix(trial, tmp_path):
    data = Screening(good_features(), source="my notebook").validate()
    folder = write_screening(data, tmp_path / "csv", format="csv")
    assert evaluate(trial, folder).to_frame().equals(evaluate(trial, data).to_frame())


def test_checking_a_typed_frame_holds_no_second_copy_of_it():
    """validate() on a typed frame returns it as it is; the checked columns are dropped one by one, so the
    check never holds a second copy of the frame (it did: 4.4 GB at 10^7 subjects)."""
    import tracemalloc

    from explorer.catalogue import default_catalogue
    from explorer.cohort.checks import typed_features

    n = 100_000
    numbers = list(default_catalogue().names("number"))[:40]  # the ids cost a few MB; the columns 32 MB
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({v: np.full(n, np.nan) for v in numbers},
                         index=pd.Index(pd.array([f"S{i}" for i in range(n)], dtype="string"), name="subject_id"))
    frame.iloc[::7, 0] = rng.uniform(0, 1, len(frame.iloc[::7]))
    tracemalloc.start()
    try:
        checked = typed_features(frame, default_catalogue(), file=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert checked is frame
    assert peak < 0.5 * sum(frame[v].to_numpy().nbytes for v in numbers)


def test_ids_in_increasing_order_are_checked_without_pandas_hash_table(monkeypatch):
    """Strictly increasing ids (the generator's) are distinct by their order: Index.is_unique, which held every
    id as a Python string (0.8 GB at 10^7, the peak of a 10^7 state), is not asked; any other order still is."""
    from explorer.cohort.checks import check_ids

    asked = []
    monkeypatch.setattr(pd.Index, "is_unique", property(lambda index: asked.append(len(index)) or True))
    check_ids(pd.Index(["s1", "s2", "s3"], dtype="string"), file=None, table="features")
    assert asked == []
    check_ids(pd.Index(["s2", "s1", "s3"], dtype="string"), file=None, table="features")
    assert asked == [3]
