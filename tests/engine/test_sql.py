"""SQL compilation (bound values, quoted identifiers) and identical results from the memory and DuckDB engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cohort_helpers import screening
from engine_cases import (
    CONSTRUCTS,
    INJECTION,
    assert_same_matrix,
    assert_same_statistics,
    construct_screening,
    construct_trial,
    valid_for_files,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from random_cohort import random_screening

from explorer.catalogue import default_catalogue
from explorer.cohort.screening import Screening
from explorer.engine import (
    FAIL,
    PASS,
    UNKNOWN,
    evaluate,
    read_screening,
    write_screening,
)
from explorer.engine.duck import DuckDBBackend
from explorer.engine.layout import find_tables, table_columns
from explorer.engine.sql import DUCKDB, SPARK, condition_sql
from explorer.errors import DataError, ExpressionError
from explorer.expr import compile_expression, parse
from explorer.trial import load_trial, trial_from_dict

CAT = default_catalogue()

@pytest.fixture(scope="module")
def constructs():
    return construct_trial(), construct_screening()


def test_every_construct_gives_identical_matrices(constructs, tmp_path):
    trial, data = constructs
    memory = evaluate(trial, data, engine="memory")
    assert_same_matrix(memory, evaluate(trial, data, engine="duckdb"))
    valid = valid_for_files(data, trial)
    memory = evaluate(trial, valid, engine="memory")
    write_screening(valid, tmp_path / "parquet")
    write_screening(valid, tmp_path / "csv", format="csv")
    for folder in ("parquet", "csv"):
        assert_same_matrix(memory, evaluate(trial, tmp_path / folder, engine="duckdb"))
        assert_same_matrix(memory, evaluate(trial, tmp_path / folder, engine="memory"))
    assert_same_statistics(memory, evaluate(trial, tmp_path / "parquet", engine="duckdb"))


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_a_folder_with_a_value_outside_the_categories_is_refused(constructs, tmp_path, engine, file_format):
    trial, data = constructs
    write_screening(data, tmp_path, format=file_format)  # "bogus" diabetes type, "zzz" site
    with pytest.raises(DataError, match="not among") as info:
        evaluate(trial, tmp_path, engine=engine)
    assert "features" in str(info.value) and "p07" in str(info.value)


def test_constructs_by_hand(constructs):
    trial, data = constructs
    m = evaluate(trial, data)
    truth = {name: m.column(f"C{i}") for i, name in enumerate(CONSTRUCTS)}
    T, F, U = 1, 0, 2
    # inclusion criteria (even positions) keep the truth codes as statuses
    assert truth["chain"].tolist() == [T, T, F, F, U, T, U, T, T, F, F, T]
    # p00: 2 events within 365 days (the 366-day one is outside); p01: history too short, reported 5;
    # p02: no history, reported 1; p03: full history, no events; p04: one dated event (the other has no day)
    # in exactly 365 days of history; p06: a zero-day history and nothing reported; p11: 364.9 < 365, reported 3
    assert truth["count_year"].tolist() == [T, T, F, F, F, F, U, F, F, T, F, T]
    # x / 0 is unknown, not infinite (p01, p07)
    assert truth["division"].tolist() == [F, U, U, T, U, F, T, U, F, U, F, T]
    # "zzz" is not a category of site: unknown, like a missing value
    assert truth["own_variable"].tolist() == [T, T, F, U, T, F, T, U, U, T, F, F]
    # exclusion criteria (odd positions): FAIL where the expression is true; "bogus" is unknown
    assert truth["in"].tolist() == [FAIL, PASS, FAIL, U, FAIL, PASS, FAIL, U, PASS, FAIL, FAIL, FAIL]
    assert truth["sex"].tolist() == [U] * 12  # the column is absent


@pytest.mark.parametrize("trial_id", ["NCT06196996", "NCT01142050"])
def test_seed_trials_agree_on_random_cohorts(trial_id, tmp_path):
    trial = load_trial(trial_id)
    data = random_screening(3000, seed=11)
    memory = evaluate(trial, data)
    duck = evaluate(trial, data, engine="duckdb")
    assert_same_matrix(memory, duck)
    assert_same_statistics(memory, duck)
    write_screening(data, tmp_path)
    from_files = evaluate(trial, tmp_path, engine="duckdb")
    assert_same_matrix(memory, from_files)
    edited = memory.with_parameter(trial, memory.ids[0] if trial_id == "NCT06196996" else "I3",
                                   "age_max", 50)
    assert_same_matrix(edited, from_files.with_parameter(trial, edited.ids[0] if trial_id == "NCT06196996"
                                                         else "I3", "age_max", 50))


def test_seed_trials_agree_on_synthetic_cohorts(tmp_path):
    synthetic = pytest.importorskip("explorer.cohort.synthetic.screening_table")
    for trial_id, population in (("NCT06196996", "t1d"), ("NCT01142050", "t2d")):
        data = synthetic.generate_screening(population, 2000, seed=3)
        trial = load_trial(trial_id)
        memory = evaluate(trial, data)
        assert_same_matrix(memory, evaluate(trial, data, engine="duckdb"))
        write_screening(data, tmp_path / population)
        duck = evaluate(trial, tmp_path / population, engine="duckdb")
        assert_same_matrix(memory, duck)
        assert_same_statistics(memory, duck)


@pytest.mark.shared
def test_engines_agree_on_a_real_cohort(shared_data, tmp_path):
    loaders = pytest.importorskip("explorer.cohort.loaders")
    features = pytest.importorskip("explorer.cohort.features")
    folder = shared_data / "subjects" / "shanghai_summary"
    if not folder.is_dir():
        pytest.skip("shanghai_summary is not in ../shared/data")
    data = features.screening_features(loaders.load(folder, on_invalid="reject").cohort)
    for trial_id in ("NCT06196996", "NCT01142050"):
        trial = load_trial(trial_id)
        memory = evaluate(trial, data)
        write_screening(data, tmp_path / trial_id)
        duck = evaluate(trial, tmp_path / trial_id, engine="duckdb")
        assert_same_matrix(memory, duck)
        assert_same_statistics(memory, duck)


# --- compilation ------------------------------------------------------------------------------

def test_values_are_bound_never_pasted():
    trial = construct_trial()
    backend = DuckDBBackend(construct_screening(), trial.catalogue)
    sql, params = backend.query([c for c in trial.criteria], trial.catalogue)
    assert INJECTION not in sql and "a'b" not in sql and "DROP" not in sql
    assert INJECTION in params.values() and "a'b" in params.values()
    assert "70" not in sql and 70.0 in params.values()   # parameter values are bound too
    assert "severe_hypoglycemia@365" in sql              # a validated, quoted column name
    text, values = condition_sql(parse('hba1c >= 7.25 and diabetes_type == "T1D\' OR \'1\'=\'1"'), CAT)
    assert "7.25" not in text and "OR '1'" not in text
    assert list(values.values()) == [7.25, "T1D' OR '1'='1"]


def test_identifiers_are_checked_and_quoted():
    with pytest.raises(ExpressionError, match="not_a_variable"):
        condition_sql(parse("not_a_variable > 1"), CAT)
    assert DUCKDB.quote('odd"name') == '"odd""name"'
    assert SPARK.quote("odd`name") == "`odd``name`"
    text, _ = condition_sql(compile_expression("hba1c >= 7"), CAT)
    assert text == '("hba1c" >= $p0)'


def test_spark_dialect_compiles():
    text, values = condition_sql(compile_expression("min(alt, ast) / alt_uln >= 2"), CAT, dialect=SPARK)
    assert ":p0" in text and "`alt`" in text and "NULLIF(`__te_b0`, CAST('NaN' AS DOUBLE))" in text
    assert values == {"p0": 2.0}


def test_missing_columns_are_unknown_for_everyone():
    text, _ = condition_sql(compile_expression("hba1c >= 7 or pregnant"), CAT, features=["pregnant"])
    assert "CAST(NULL AS DOUBLE)" in text


def test_layout_round_trip(tmp_path):
    data = valid_for_files(construct_screening(), construct_trial())
    folder = write_screening(data, tmp_path / "s")
    assert set(find_tables(folder)) == {"features", "events", "event_lookback", "event_counts"}
    assert "site" in table_columns(folder)["features"]
    back = read_screening(folder, catalogue=construct_trial().catalogue)
    assert back.features.index.tolist() == data.features.index.tolist()
    pd.testing.assert_series_equal(back.features["hba1c"], data.features["hba1c"], check_names=False)
    assert back.features["pregnant"].isna().sum() == data.features["pregnant"].isna().sum()
    with pytest.raises(DataError, match="features"):
        find_tables(tmp_path)
    # a table as Spark writes it, a folder of part files: said, with what to do (it was "no features.parquet")
    parts = tmp_path / "parts" / "features.parquet"
    parts.mkdir(parents=True)
    (folder / "features.parquet").rename(parts / "part-00000.parquet")
    with pytest.raises(DataError, match="features.parquet is a folder .* join its parts into one file, or give "
                                        "the folder to the Spark engine as a URL"):
        find_tables(tmp_path / "parts")


def test_tables_in_features_order_are_joined_by_position_only_when_they_are(constructs, tmp_path):
    trial, data = constructs
    data = valid_for_files(data, trial)
    memory = evaluate(trial, data)
    folder = write_screening(data, tmp_path / "s")
    counting = [c for c in trial.criteria if c.expression and "count(" in c.expression]
    sql, _ = DuckDBBackend(folder, trial.catalogue).query(counting)
    assert "POSITIONAL JOIN lb" in sql and "POSITIONAL JOIN ec" in sql
    # shuffle a table but leave the manifest claiming alignment (sizes patched): the check catches it
    import json

    import pyarrow.parquet as pq
    table = pq.read_table(folder / "event_lookback.parquet")
    pq.write_table(table.take(list(range(table.num_rows))[::-1]), folder / "event_lookback.parquet")
    manifest = json.loads((folder / "screening.json").read_text())
    manifest["files"]["event_lookback.parquet"] = (folder / "event_lookback.parquet").stat().st_size
    (folder / "screening.json").write_text(json.dumps(manifest))
    backend = DuckDBBackend(folder, trial.catalogue)
    assert "POSITIONAL JOIN lb" in backend.query(counting)[0]  # claimed, not yet checked
    backend.truth_codes(counting, trial.catalogue)              # the check runs inside the query
    sql, _ = backend.query(counting)
    assert "LEFT JOIN lb ON" in sql and "POSITIONAL JOIN ec" in sql
    assert_same_matrix(memory, evaluate(trial, folder, engine="duckdb"))
    # a longer table (a subject not screened appended) is refused, not joined by position
    import pyarrow as pa
    ghost = table.slice(0, 1).set_column(table.schema.get_field_index("subject_id"), "subject_id",
                                         pa.array(["ghost"], type=table.schema.field("subject_id").type))
    pq.write_table(pa.concat_tables([table, ghost]), folder / "event_lookback.parquet")
    manifest["files"]["event_lookback.parquet"] = (folder / "event_lookback.parquet").stat().st_size
    (folder / "screening.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="not in features"):
        evaluate(trial, folder, engine="duckdb")


# --- hostile and broken input (issue 12): the same answer, or the same clear error, from both engines ---

ENGINES = ["memory", "duckdb"]


def one_rule_trial(expression: str, variables: dict | None = None):
    return trial_from_dict({"id": "HOSTILE", "title": "one rule", "variables": variables or {},
                            "criteria": [{"id": "I1", "kind": "inclusion", "text": "rule", "expression": expression}]})


def features_file(folder, frame: pd.DataFrame, file_format: str):
    folder.mkdir(parents=True, exist_ok=True)
    if file_format == "csv":
        frame.to_csv(folder / "features.csv", index=False)
    else:
        frame.to_parquet(folder / "features.parquet", index=False)
    return folder


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_a_variable_named_rowid_is_an_ordinary_column(tmp_path, file_format):
    # DuckDB's rowid once stood for the row order of a CSV: a user's `rowid` column then moved statuses
    # to other subjects (1-based values: IndexError; all zeros: one eligible subject silently dropped)
    trial = one_rule_trial("rowid >= 1", {"rowid": {"kind": "number", "unit": "1"}})
    folder = features_file(tmp_path / "f", pd.DataFrame({"subject_id": ["a", "b", "c"], "rowid": [0.0, 0.0, 1.0]}),
                           file_format)
    for engine in ENGINES:
        m = evaluate(trial, folder, engine=engine)
        assert m.subject_ids.tolist() == ["a", "b", "c"]
        assert m.column("I1").tolist() == [FAIL, FAIL, PASS], engine


@pytest.mark.parametrize("name", ["__row", "subject_id", "file_row_number", "__te_row"])
def test_reserved_names_cannot_be_variables(name):
    with pytest.raises(ExpressionError, match="keep for themselves"):
        one_rule_trial(f"{name} >= 1", {name: {"kind": "number", "unit": "1"}})


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
@pytest.mark.parametrize("engine", ENGINES)
def test_reserved_and_case_colliding_columns_are_refused(tmp_path, engine, file_format):
    trial = one_rule_trial("Age >= 1", {"Age": {"kind": "number", "unit": "years"},
                                         "file_row_number": {"kind": "number", "unit": "1"}})
    frame = pd.DataFrame({"subject_id": ["a", "b"], "Age": [50.0, 5.0], "age": [5.0, 50.0]})
    with pytest.raises(DataError, match="differ only in case"):
        evaluate(trial, features_file(tmp_path / "case", frame, file_format), engine=engine)
    frame = pd.DataFrame({"subject_id": ["a", "b"], "Age": [50.0, 5.0], "file_row_number": [1.0, 0.0]})
    with pytest.raises(DataError, match="keep for themselves"):
        evaluate(trial, features_file(tmp_path / "reserved", frame, file_format), engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_screening_with_case_colliding_columns_is_refused(engine):
    trial = one_rule_trial("Age >= 18", {"Age": {"kind": "number", "unit": "years"}})
    features = pd.DataFrame({"Age": [50.0, 5.0], "age": [5.0, 50.0]},
                            index=pd.Index(["a", "b"], name="subject_id"))
    with pytest.raises(DataError, match="differ only in case"):
        evaluate(trial, Screening(features), engine=engine)


@pytest.mark.parametrize("folder, sibling", [("cohort[1]", "cohort1"), ("site*", "site_b"), ("q?x", "qyx"),
                                             ("a{b,c}", "ab")])
def test_folder_names_are_literal_not_glob_patterns(tmp_path, folder, sibling):
    trial = one_rule_trial("age >= 18")
    features_file(tmp_path / folder, pd.DataFrame({"subject_id": ["mine"], "age": [50.0]}), "parquet")
    features_file(tmp_path / sibling, pd.DataFrame({"subject_id": ["other"], "age": [5.0]}), "parquet")
    m = evaluate(trial, tmp_path / folder, engine="duckdb")
    assert m.subject_ids.tolist() == ["mine"] and m.column("I1").tolist() == [PASS]


def test_nan_from_arithmetic_is_unknown_and_overflow_is_infinite_in_both_engines(recwarn):
    inf = float("inf")
    features = pd.DataFrame({"alt": [inf, 100.0, 1e300, 0.0, 50.0], "alt_uln": [inf, 40.0, 1e300, inf, 0.0]},
                            index=pd.Index(list("abcde"), name="subject_id"))
    data = Screening(features, checked=True)  # infinities the checks refuse: what the engines do with them
    rules = {
        "inf - inf": ("alt - alt_uln > 0", [UNKNOWN, PASS, FAIL, FAIL, PASS]),
        "0 * inf": ("alt * alt_uln >= 0", [PASS, PASS, PASS, UNKNOWN, PASS]),
        "overflow": ("alt * alt_uln > 1", [PASS, PASS, PASS, UNKNOWN, FAIL]),
        "inf / inf, x / 0": ("alt / alt_uln >= 1", [UNKNOWN, PASS, PASS, FAIL, UNKNOWN]),
        "min of NaN": ("min(alt - alt_uln, 5) < 10", [UNKNOWN, PASS, PASS, PASS, PASS]),
        "known(NaN)": ("known(alt - alt_uln)", [FAIL, PASS, PASS, PASS, PASS]),  # 0 - inf is -inf: known
    }
    for name, (rule, expected) in rules.items():
        trial = one_rule_trial(rule)
        for engine in ENGINES:
            assert evaluate(trial, data, engine=engine).column("I1").tolist() == expected, (name, engine)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # nothing leaks to stderr


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_booleans_in_files_mean_the_same_to_both_engines(tmp_path, file_format):
    trial = one_rule_trial("pregnant")
    frame = pd.DataFrame({"subject_id": list("abcdef"), "pregnant": ["TRUE", "true", "False", "1", "0", None]})
    folder = features_file(tmp_path / "ok", frame, file_format)
    for engine in ENGINES:
        assert evaluate(trial, folder, engine=engine).column("I1").tolist() == [
            PASS, PASS, FAIL, PASS, FAIL, UNKNOWN], engine
    for spelling in ("T", "yes", "maybe", " true"):
        bad = features_file(tmp_path / spelling, pd.DataFrame({"subject_id": ["a", "b"], "pregnant": ["true", spelling]}),
                            file_format)
        for engine in ENGINES:
            with pytest.raises(DataError, match="not booleans") as info:
                evaluate(trial, bad, engine=engine)
            assert "pregnant" in str(info.value) and "b" in str(info.value.rows)


BROKEN_FEATURES = {
    "text in a number": ({"hba1c": ["7.5", "high"]}, "not finite numbers"),
    "inf": ({"hba1c": ["7.5", "inf"]}, "not finite numbers"),
    "HbA1c 90 %": ({"hba1c": ["7.5", "90"]}, "plausible range"),
    "lower-case category": ({"diabetes_type": ["T1D", "t1d"]}, "not among"),
    "misspelled column": ({"hba1c_": ["7.5", "8"]}, "not a catalogue variable"),
}


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(BROKEN_FEATURES))
def test_broken_screening_folders_are_refused_by_both_engines(tmp_path, engine, file_format, case):
    columns, message = BROKEN_FEATURES[case]
    frame = pd.DataFrame({"subject_id": ["a", "b"], **columns})
    if file_format == "parquet" and case in ("HbA1c 90 %",):
        frame = frame.astype({"hba1c": "float64"})  # typed Parquet, still implausible
    folder = features_file(tmp_path, frame, file_format)
    with pytest.raises(DataError, match=message) as info:
        evaluate(one_rule_trial("hba1c >= 7"), folder, engine=engine)
    assert "features" in str(info.value)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ids, message", [(["a", "a"], "duplicate"), (["a", " "], "blank"), (["a", None], "blank")])
def test_duplicate_and_blank_ids_are_refused_by_both_engines(tmp_path, engine, file_format, ids, message):
    folder = features_file(tmp_path, pd.DataFrame({"subject_id": ids, "hba1c": [7.0, 8.0]}), file_format)
    with pytest.raises(DataError, match=message):
        evaluate(one_rule_trial("hba1c >= 7"), folder, engine=engine)


def test_generated_sql_grows_linearly_with_nesting():
    def nested(levels: int) -> str:
        text = "alt"
        for i in range(levels):
            text = f"{'min' if i % 2 else 'max'}({text} / alt_uln * ast, ast)"
        return f"{text} >= 2"
    sizes = [len(condition_sql(compile_expression(nested(k)), CAT)[0]) for k in (5, 10, 20)]
    assert sizes[2] < 2.5 * sizes[1] < 6 * sizes[0]  # linear: doubling the depth doubles the text
    assert sizes[2] < 20_000                         # was 96 MB at 20 levels
    data = random_screening(200, seed=5)
    trial = one_rule_trial(nested(20))
    assert_same_matrix(evaluate(trial, data), evaluate(trial, data, engine="duckdb"))


def test_the_deepest_allowed_expression_runs_in_both_engines_from_deep_in_the_stack():
    from explorer.expr import MAX_DEPTH
    rule = "not " * (MAX_DEPTH - 3) + "(hba1c > 7)"
    trial = one_rule_trial(rule)
    data = random_screening(50, seed=1)

    def deep(frames: int):  # a dashboard callback runs a few hundred frames down
        return deep(frames - 1) if frames else (evaluate(trial, data), evaluate(trial, data, engine="duckdb"))
    memory, duck = deep(600)
    assert_same_matrix(memory, duck)
    with pytest.raises(ExpressionError, match="limit"):
        one_rule_trial("not " * 480 + "pregnant")
    with pytest.raises(ExpressionError, match="limit"):
        one_rule_trial("-" * 350 + "hba1c < 0")


# --- engine agreement as a property: extreme values, NaN / inf, CSV booleans, colliding names -----------

FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 40.0, 100.0]), st.none())
RULES = ["alt - alt_uln > 0", "alt * alt_uln >= ast", "alt / alt_uln >= 2", "min(alt, ast) * 1e300 > alt_uln",
         "max(alt / alt_uln, ast / alt_uln) < 3", "known(alt * ast - alt_uln)", "abs(-alt) == alt",
         "2 <= alt / alt_uln <= ast / alt_uln", "not (alt + ast != alt_uln) or alt > ast"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.tuples(FLOATS, FLOATS, FLOATS), min_size=1, max_size=8), rule=st.sampled_from(RULES))
def test_engines_agree_on_extreme_numbers(values, rule):
    columns = {name: np.array([np.nan if v[i] is None else v[i] for v in values], dtype="float64")
               for i, name in enumerate(("alt", "alt_uln", "ast"))}
    data = Screening(pd.DataFrame(columns, index=pd.Index([f"s{i}" for i in range(len(values))], name="subject_id")),
                     checked=True)  # extremes the checks refuse: what the engines do with them
    trial = one_rule_trial(rule)
    assert_same_matrix(evaluate(trial, data), evaluate(trial, data, engine="duckdb"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(flags=st.lists(st.sampled_from(["true", "false", "TRUE", "False", "1", "0", "", "T", "yes"]), min_size=1,
                      max_size=6),
       name=st.sampled_from(["rowid", "filename", "row_number", "Age", "site_rowid"]))
def test_engines_agree_on_csv_booleans_and_colliding_names(tmp_path_factory, flags, name):
    folder = tmp_path_factory.mktemp("csv")
    n = len(flags)
    frame = pd.DataFrame({"subject_id": [f"s{i}" for i in range(n)], "pregnant": flags,
                          name: [float(i % 3) for i in range(n)]})
    frame.to_csv(folder / "features.csv", index=False)
    trial = one_rule_trial(f"pregnant or {name} >= 1", {name: {"kind": "number", "unit": "1"}})
    results = []
    for engine in ENGINES:
        try:
            results.append(evaluate(trial, folder, engine=engine).column("I1").tolist())
        except DataError as err:
            results.append(err.column)
    assert results[0] == results[1]
    assert (results[0] == "pregnant") == bool(set(flags) & {"T", "yes"})  # refused exactly when misspelled


@pytest.mark.parametrize("source", ["screening", "parquet", "csv"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_subject_twice_in_event_lookback_is_refused_by_both_engines(tmp_path, engine, source):
    index = pd.Index(["a", "b"], name="subject_id")
    lookback = pd.DataFrame({"severe_hypoglycemia": [400.0, 10.0, 400.0]},
                            index=pd.Index(["a", "b", "b"], name="subject_id"))
    data = Screening(pd.DataFrame({"age": [30.0, 40.0]}, index=index), event_lookback=lookback)
    if source != "screening":
        folder = tmp_path / source
        features_file(folder, pd.DataFrame({"subject_id": ["a", "b"], "age": [30.0, 40.0]}), source)
        frame = lookback.reset_index()
        frame.to_csv(folder / "event_lookback.csv", index=False) if source == "csv" else frame.to_parquet(
            folder / "event_lookback.parquet", index=False)
        data = folder
    with pytest.raises(DataError, match="lists a subject twice") as info:
        evaluate(one_rule_trial("count(severe_hypoglycemia, within_days=365) == 0"), data, engine=engine)
    assert info.value.rows == ["b"]


@pytest.mark.parametrize("engine", ENGINES)
def test_typed_parquet_numbers_nan_is_unknown_and_infinity_refused(tmp_path, engine):
    # DuckDB settles most typed columns from the row groups' minimum and maximum; NaN is left out of
    # those statistics, infinity is not
    trial = one_rule_trial("hba1c >= 7")
    ok = features_file(tmp_path / "nan", pd.DataFrame({"subject_id": ["a", "b", "c"], "hba1c": [7.5, np.nan, 6.0]}),
                       "parquet")
    assert evaluate(trial, ok, engine=engine).column("I1").tolist() == [PASS, UNKNOWN, FAIL]
    bad = features_file(tmp_path / "inf", pd.DataFrame({"subject_id": ["a", "b"], "hba1c": [7.5, np.inf]}), "parquet")
    with pytest.raises(DataError, match="not finite numbers") as info:
        evaluate(trial, bad, engine=engine)
    assert info.value.rows == ["b"]


# --- at_least(n, ...): "N of the following", three-valued in every engine ------------------------------------

TRI = st.sampled_from([True, False, None])
AT_LEAST_RULES = ["at_least(1, pregnant, lactating, hba1c > 8)", "at_least(2, pregnant, lactating, hba1c > 8)",
                  "at_least(3, pregnant, lactating, hba1c > 8)", "at_least(2, pregnant, not lactating)",
                  "not at_least(2, pregnant, lactating or hba1c > 8, at_least(1, smoking_history, alcohol_abuse))"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(TRI, TRI, TRI, TRI, TRI), min_size=1, max_size=12), rule=st.sampled_from(AT_LEAST_RULES))
def test_at_least_gives_the_same_statuses_in_memory_and_duckdb(rows, rule):
    columns = dict(zip(("pregnant", "lactating", "smoking_history", "alcohol_abuse"), zip(*rows, strict=True),
                       strict=False))
    hba1c = [None if r[4] is None else (9.0 if r[4] else 7.0) for r in rows]
    data = screening(**{k: list(v) for k, v in columns.items()}, hba1c=hba1c)
    trial = one_rule_trial(rule)
    assert_same_matrix(evaluate(trial, data), evaluate(trial, data, engine="duckdb"))


def test_at_least_binds_each_condition_once_and_its_numbers():
    text, values = condition_sql(compile_expression("at_least(2, hba1c > 7.25, pregnant, lactating)"), CAT)
    assert "7.25" not in text and 7.25 in values.values() and 2.0 in values.values()
    # each condition is read twice (counted true, counted false): a comparison is written once, as a bound column
    assert text.count('"hba1c"') == 1
