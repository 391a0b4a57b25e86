"""Censored lab values ("<0.017", ">600") are decided on their interval by every engine (docs/engine.md,
"Censored values"): a comparison whose outcome differs across the interval is unknown, one decided over the
whole interval is decided as before. Handmade cohort: limits below, at and above the thresholds, both
directions, "<", "<=", ">", ">=", a chain and a derived feature (HOMA-IR)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from explorer.cohort.features import screening_features
from explorer.cohort.loaders.canonical import load_canonical
from explorer.engine import read_screening, write_screening
from explorer.engine.canonical_sql import canonical_screening_folder, canonical_screening_sql
from explorer.engine.duck import DuckDBBackend
from explorer.engine.features_sql import screening_features_sql
from explorer.engine.layout import ordered_reasons
from explorer.engine.memory import MemoryBackend
from explorer.expr import parse

SUBJECTS = ["below_033", "below_or_at_033", "exact_050", "below_0017", "above_600", "at_or_above_600",
            "exact_glucose_8", "below_1ngml"]
MEASUREMENTS = """subject_id,time,variable,value,unit
below_033,2024-01-01,fasting_cpeptide,<0.33,nmol/L
below_or_at_033,2024-01-01,fasting_cpeptide,<=0.33,nmol/L
exact_050,2024-01-01,fasting_cpeptide,0.5,nmol/L
below_0017,2024-01-01,fasting_cpeptide,<0.017,nmol/L
above_600,2024-01-01,fasting_glucose,>600,mg/dL
above_600,2024-01-01,fasting_insulin,10,uU/mL
at_or_above_600,2024-01-01,fasting_glucose,>=33.3,mmol/L
exact_glucose_8,2024-01-01,fasting_glucose,8,mmol/L
exact_glucose_8,2024-01-01,fasting_insulin,<2,uU/mL
below_1ngml,2024-01-01,fasting_cpeptide,<1.0,ng/mL
"""

P, F, U = 1, 0, 2
# expected truth codes per subject, in SUBJECTS order ("<1.0 ng/mL" is [0, 0.331) nmol/L: the limit is converted
# unrounded, so a threshold at 0.33 lies inside it)
EXPECTED = {
    "fasting_cpeptide >= 0.3": [U, U, P, F, U, U, U, U],     # the closing note's case: inside [0, 0.33): unknown
    "fasting_cpeptide >= 0.33": [F, U, P, F, U, U, U, U],    # at the limit: "<" fails for certain, "<=" does not
    "fasting_cpeptide > 0.33": [F, F, P, F, U, U, U, U],
    "fasting_cpeptide < 0.33": [P, U, F, P, U, U, U, U],
    "fasting_cpeptide <= 0.33": [P, P, F, P, U, U, U, U],
    "fasting_cpeptide < 0.5": [P, P, F, P, U, U, U, P],      # above the limit: decided as before
    "fasting_cpeptide < 0.01": [U, U, F, U, U, U, U, U],     # below the limit: unknown
    "fasting_cpeptide >= 0.017": [U, U, P, F, U, U, U, U],
    "0.1 <= fasting_cpeptide <= 0.2": [U, U, F, F, U, U, U, U],  # a range inside the interval: never decided
    "fasting_glucose > 33.3": [U, U, U, U, P, U, F, U],
    "fasting_glucose >= 33.3": [U, U, U, U, P, P, F, U],
    "fasting_glucose > 20": [U, U, U, U, P, P, F, U],
    "fasting_glucose < 40": [U, U, U, U, U, U, P, U],
    "homa_ir > 5": [U, U, U, U, P, U, F, U],   # >33.3 mmol/L x 10 / 22.5 > 14.8; 8 x [0, 2) / 22.5 < 0.72
    "homa_ir < 1": [U, U, U, U, F, U, P, U],                  # 8 x [0, 2) / 22.5 < 0.72
    "homa_ir >= 0.5": [U, U, U, U, P, U, U, U],
    "fasting_cpeptide == 0.1": [U, U, F, U, U, U, U, U],  # 0.1 may be the value, though neither end is
    "fasting_cpeptide != 0.5": [U, U, F, U, U, U, U, U],
    # not monotone: true near 0.1, false at both ends of [0, 0.33) (the corners said false); below_0017's |x - 0.1|
    # is never < 0.05, but the rule is sound rather than sharp there: unknown wherever the value is censored
    "abs(fasting_cpeptide - 0.1) < 0.05": [U, U, F, U, U, U, U, U],
    "fasting_cpeptide * (fasting_cpeptide - 0.2) < 0": [U, U, F, U, U, U, U, U],  # x(x - 0.2) dips below 0 inside
    "fasting_glucose * 18.1 >= 600 or fasting_cpeptide < 0.5": [P, P, U, P, P, P, U, P],  # >33.3 x 18.1 > 602
}


@pytest.fixture(scope="module")
def canonical_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("censored_canonical")
    rows = "\n".join(f"{s},{'F' if i % 2 else 'M'},2024-01-10,1980-01-01" for i, s in enumerate(SUBJECTS))
    (folder / "subjects.csv").write_text("subject_id,sex,index_date,birth_date\n" + rows + "\n")
    (folder / "measurements.csv").write_text(MEASUREMENTS)
    return folder


@pytest.fixture(scope="module")
def screening(canonical_folder):
    return screening_features(load_canonical(canonical_folder).cohort)


def criteria():
    return [SimpleNamespace(id=f"c{i}", tree=parse(text), expression=text, parameter_values=dict)
            for i, text in enumerate(EXPECTED)]


def codes(backend) -> dict[str, list[int]]:
    return {text: list(map(int, c)) for text, c in zip(EXPECTED, backend.truth_codes(criteria()), strict=True)}


def test_the_memory_engine_decides_on_the_interval(screening):
    assert list(screening.features.index) == SUBJECTS
    assert codes(MemoryBackend(screening)) == EXPECTED


def test_the_point_value_stays_for_displays(screening):
    # half the limit (Hornung & Reed 1990) for "<", the limit for ">": what histograms and statistics read
    cpeptide = screening.features["fasting_cpeptide"]
    assert cpeptide["below_0017"] == pytest.approx(0.0085)
    assert screening.features["fasting_glucose"]["above_600"] == pytest.approx(33.3)


def test_only_censored_values_have_intervals(screening):
    table = screening.censored
    assert sorted(set(table["variable"].astype(str))) == ["fasting_cpeptide", "fasting_glucose", "fasting_insulin",
                                                          "homa_ir"]
    assert len(table) == 9  # 5 C-peptides, 2 glucoses, 1 insulin, 1 HOMA-IR from >600; exact values have none
    low = dict(zip(table["subject_id"].astype(str) + "/" + table["variable"].astype(str), table["low"], strict=True))
    high = dict(zip(table["subject_id"].astype(str) + "/" + table["variable"].astype(str), table["high"], strict=True))
    assert low["below_0017/fasting_cpeptide"] == 0 and high["below_0017/fasting_cpeptide"] < 0.017
    assert high["below_or_at_033/fasting_cpeptide"] == 0.33
    assert low["at_or_above_600/fasting_glucose"] == 33.3 and high["at_or_above_600/fasting_glucose"] == np.inf


def test_the_reason_names_the_limit(screening):
    reasons = screening.missing_reasons
    mine = reasons[(reasons["subject_id"].astype(str) == "below_033")
                   & (reasons["variable"].astype(str) == "fasting_cpeptide")]["reason"].astype(str).tolist()
    assert mine == ["censored below the limit of quantification (<0.33 nmol/L): unknown where a threshold lies "
                    "inside the interval"]
    homa = reasons[(reasons["variable"].astype(str) == "homa_ir")
                   & reasons["reason"].astype(str).str.startswith("derived from a censored")]
    homa = dict(zip(homa["subject_id"].astype(str), homa["reason"].astype(str).str.split(":").str[0], strict=True))
    # each subject's own censored input is named, not every input censored for someone in the cohort (the text
    # said "fasting_glucose and fasting_insulin" for both, and a folder written by ranges said otherwise)
    assert homa == {"above_600": "derived from a censored fasting_glucose",
                    "exact_glucose_8": "derived from a censored fasting_insulin"}


def test_duckdb_agrees_on_a_screening_and_on_a_folder(screening, tmp_path):
    assert codes(DuckDBBackend(screening)) == EXPECTED
    folder = write_screening(screening, tmp_path / "screening")
    assert codes(DuckDBBackend(folder)) == EXPECTED
    assert codes(MemoryBackend(read_screening(folder))) == EXPECTED


def test_a_csv_folder_keeps_the_intervals_too(screening, tmp_path):
    # a CSV layout folder used to leave the intervals out: read back, it decided "<0.33" on half the limit
    folder = write_screening(screening, tmp_path / "screening_csv", format="csv")
    assert (folder / "censored.parquet").is_file()
    assert codes(MemoryBackend(read_screening(folder))) == EXPECTED
    assert codes(DuckDBBackend(folder)) == EXPECTED


def test_a_source_without_censored_values_has_no_interval_table(tmp_path):
    (tmp_path / "subjects.csv").write_text("subject_id,sex,index_date\na,F,2024-01-10\n")
    (tmp_path / "measurements.csv").write_text("subject_id,time,variable,value,unit\n"
                                               "a,2024-01-01,fasting_cpeptide,0.2,nmol/L\n")
    loaded = load_canonical(tmp_path).cohort
    assert "censored" not in loaded.measurements.columns and "limit" not in loaded.measurements.columns
    assert screening_features(loaded).censored is None


def test_spark_agrees(spark, screening, tmp_path):
    from explorer.engine.spark import SparkBackend

    assert codes(SparkBackend(screening, spark=spark)) == EXPECTED
    folder = write_screening(screening, tmp_path / "screening")
    assert codes(SparkBackend(folder, spark=spark)) == EXPECTED


def same_intervals(a, b) -> None:
    def rows(s):
        t = s.censored
        return sorted(zip(t["subject_id"].astype(str), t["variable"].astype(str), t["low"], t["high"], strict=True))
    assert rows(a) == rows(b)
    assert ordered_reasons(a.missing_reasons).astype(str).reset_index(drop=True).equals(
        ordered_reasons(b.missing_reasons).astype(str).reset_index(drop=True))


def test_the_sql_derivations_give_the_same_intervals_and_reasons(screening, canonical_folder, tmp_path):
    # a Cohort's tables derived in DuckDB, canonical tables read in place, and written range by range to a folder
    same_intervals(screening, screening_features_sql(load_canonical(canonical_folder).cohort))
    in_place, _ = canonical_screening_sql(canonical_folder)
    same_intervals(screening, in_place)
    assert codes(DuckDBBackend(in_place)) == EXPECTED
    folder, _ = canonical_screening_folder(canonical_folder, tmp_path / "written")
    same_intervals(screening, read_screening(folder))
    assert codes(DuckDBBackend(folder)) == EXPECTED
    # the intervals are written one range of subjects at a time, as the features are: ranges of 3 (and of 1)
    # (a folder written by ranges holds its subjects in subject id order: the rows are compared as sets)
    def rows(s):
        t, r = s.censored, s.missing_reasons
        return (sorted(zip(t["subject_id"].astype(str), t["variable"].astype(str), t["low"], t["high"], strict=True)),
                sorted(zip(r["subject_id"].astype(str), r["variable"].astype(str), r["reason"].astype(str), strict=True)))

    for size in (3, 1):
        folder, _ = canonical_screening_folder(canonical_folder, tmp_path / f"ranges_{size}", range_subjects=size)
        assert rows(read_screening(folder)) == rows(screening)
        order = DuckDBBackend(folder).subject_ids().astype(str).tolist()
        assert sorted(order) == sorted(SUBJECTS)
        assert {text: [got[order.index(s)] for s in SUBJECTS] for text, got in codes(DuckDBBackend(folder)).items()} \
            == EXPECTED
        assert not list(folder.glob("*.censored")) and not list(folder.glob("*.appending"))


def test_spark_derives_the_same_intervals(spark, screening, canonical_folder):
    same_intervals(screening, screening_features_sql(load_canonical(canonical_folder).cohort, engine="spark",
                                                     spark=spark))


def test_an_omop_operator_gives_an_interval_in_both_loaders(tmp_path):
    # "<" 0.5 mg/dL creatinine (operator_concept_id 4171756) is [0, 44.21) umol/L: the limit converted unrounded
    import importlib.util
    from pathlib import Path

    from explorer.engine.omop_sql import omop_screening_sql

    # the handmade CDM of test_omop_sql (its person 2 has a creatinine with operator "<")
    spec = importlib.util.spec_from_file_location("omop_cases", Path(__file__).with_name("test_omop_sql.py"))
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    pandas_path = cases.pandas_path
    cdm = cases.write_cdm(tmp_path)
    pandas, _ = pandas_path(cdm)
    in_place, _ = omop_screening_sql(cdm)
    same_intervals(pandas, in_place)
    table = pandas.censored
    assert table["variable"].astype(str).tolist() == ["creatinine"]
    assert table["high"].iloc[0] == pytest.approx(0.5 * 88.42, rel=1e-9) and table["low"].iloc[0] == 0
    rule = [SimpleNamespace(id="c", tree=parse("creatinine < 30"), expression="creatinine < 30",
                            parameter_values=dict)]
    person = list(pandas.features.index).index("2")
    for backend in (MemoryBackend(pandas), DuckDBBackend(in_place)):
        assert backend.truth_codes(rule)[0][person] == U  # 22 (half the limit) passed "< 30" on a guess


def test_edits_of_a_rule_reading_censored_values_are_counted_by_the_engine(screening):
    from explorer.engine.edit_histogram import censored_variables

    assert censored_variables(DuckDBBackend(screening)) >= {"fasting_cpeptide", "homa_ir"}
    assert censored_variables(MemoryBackend(screening)) >= {"fasting_cpeptide", "homa_ir"}


def test_an_sdtm_character_result_gives_an_interval(fixtures_dir):
    # LBSTRESC "<3.42" umol/L bilirubin: half the limit for displays, [0, 3.42) for criteria
    from explorer.cohort.loaders import load_sdtm

    cohort, _ = load_sdtm(fixtures_dir / "cohort" / "sdtm")
    screening = screening_features(cohort)
    table = screening.censored
    mine = table[(table["subject_id"].astype(str) == "D-002") & (table["variable"].astype(str) == "bilirubin")]
    assert len(mine) == 1 and mine["low"].iloc[0] == 0 and mine["high"].iloc[0] == np.nextafter(3.42, 0)
    assert screening.features.loc["D-002", "bilirubin"] == pytest.approx(1.71)
    rule = [SimpleNamespace(id="c", tree=parse("bilirubin < 2"), expression="bilirubin < 2", parameter_values=dict)]
    assert MemoryBackend(screening).truth_codes(rule)[0][list(screening.features.index).index("D-002")] == U


def test_a_wide_export_keeps_the_limit_of_one_column_and_not_of_the_others(tmp_path):
    from explorer.cohort.loaders.wide import load_wide

    (tmp_path / "export.csv").write_text("Patient ID,Visit date,Sex,C-peptide (nmol/L),FPG (mg/dL)\n"
                                         "P01,2024-01-10,F,<0.33,150\nP02,2024-01-12,M,0.5,>600\n")
    mapping = {"file": "export.csv", "subject_id": "Patient ID", "index_date": "Visit date", "sex": "Sex",
               "columns": {"C-peptide (nmol/L)": {"variable": "fasting_cpeptide", "unit": "nmol/L"},
                           "FPG (mg/dL)": {"variable": "fasting_glucose", "unit": "mg/dL"}}}
    cohort, _ = load_wide(tmp_path / "export.csv", mapping)
    screening = screening_features(cohort)
    rules = [SimpleNamespace(id=f"c{i}", tree=parse(t), expression=t, parameter_values=dict)
             for i, t in enumerate(["fasting_cpeptide >= 0.3", "fasting_glucose > 20"])]
    first, second = MemoryBackend(screening).truth_codes(rules)
    assert first.tolist() == [U, P] and second.tolist() == [F, P]


def test_a_subset_of_the_screening_keeps_its_subjects_intervals(screening):
    # enrolment's subset (the outcomes read it) used to drop the censored table: "<0.33" was half the limit again
    from explorer.cohort.synthetic.enrolment import screening_subset

    chosen = ["exact_glucose_8", "below_033", "above_600"]
    subset = screening_subset(screening, chosen)
    assert sorted(set(subset.censored["subject_id"].astype(str))) == sorted(chosen)
    where = [SUBJECTS.index(s) for s in chosen]
    assert codes(MemoryBackend(subset)) == {text: [want[i] for i in where] for text, want in EXPECTED.items()}


def test_a_rule_reading_many_censored_variables_is_unknown_where_any_is_censored_on_both_engines():
    # 2^k corners for k censored variables would exhaust time and memory (and SQL text) on a hostile rule;
    # above expr.MAX_CORNER_VARIABLES both engines decide on the point values and leave censored subjects unknown
    import pandas as pd

    from explorer.catalogue import default_catalogue
    from explorer.cohort.screening import Screening
    from explorer.expr import MAX_CORNER_VARIABLES

    variables = ["hba1c", "bmi", "egfr", "fasting_glucose", "fasting_insulin", "fasting_cpeptide", "alt", "ast",
                 "creatinine", "weight"][:MAX_CORNER_VARIABLES + 2]
    rng = np.random.default_rng(11)
    n = 300
    ids = pd.Index([f"s{i}" for i in range(n)], name="subject_id")
    catalogue = default_catalogue()
    ranges = {v: catalogue.variables[v].range for v in variables}  # plausible ranges: the values must pass checks
    features = pd.DataFrame({v: rng.uniform(lo + (hi - lo) * 0.2, lo + (hi - lo) * 0.4, n)
                             for v, (lo, hi) in ranges.items()}, index=ids)
    rows = [(ids[i], v, ranges[v][0], ranges[v][0] + (ranges[v][1] - ranges[v][0]) * 0.1)
            for v in variables for i in np.flatnonzero(rng.random(n) < 0.05)]
    for subject, variable, low, high in rows:
        features.loc[subject, variable] = (low + high) / 2
    censored = pd.DataFrame(rows, columns=["subject_id", "variable", "low", "high"]).assign(reason="censored")
    screening = Screening(features, censored=censored)
    middle = sum(lo + (hi - lo) * 0.3 for lo, hi in ranges.values())
    text = " + ".join(variables) + f" > {middle:.6f}"
    rule = [SimpleNamespace(id="c0", tree=parse(text), expression=text, parameter_values=dict)]
    memory = MemoryBackend(screening).truth_codes(rule)[0]
    duckdb = DuckDBBackend(screening).truth_codes(rule)[0]
    assert list(map(int, memory)) == list(map(int, duckdb))
    any_censored = features.index.isin(censored["subject_id"])
    assert (memory[any_censored] == U).all() and (memory[~any_censored] != U).all()
    assert len(set(memory[~any_censored].tolist())) == 2  # both pass and fail among the others


def test_censored_reasons_are_appended_to_the_file_without_losing_or_moving_a_row(tmp_path):
    """folder_writer._append_reasons streams the reasons file into its new version (read whole, 10^6 subjects'
    reasons took 1.3 GB: benchmarks/results/reasons_append.md): every row kept, in order, the new ones last."""
    import pyarrow as pa

    from explorer.engine.folder_writer import _append_reasons

    path = tmp_path / "missing_reasons.parquet"
    rows = {"subject_id": [f"S{i}" for i in range(2500)], "variable": ["hba1c", "bmi"] * 1250,
            "reason": ["not measured"] * 2500}
    pq.write_table(pa.table(rows), path, row_group_size=1000)  # three row groups
    added = pd.DataFrame({"subject_id": ["S7", "S9"], "variable": ["fasting_cpeptide"] * 2,
                          "reason": ["below the assay's limit"] * 2})
    extra = tmp_path / "added.parquet"
    pq.write_table(pa.Table.from_pandas(added, preserve_index=False), extra)
    _append_reasons(path, extra)
    got = pq.read_table(path).to_pydict()
    assert got == {c: rows[c] + added[c].tolist() for c in rows}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["added.parquet", "missing_reasons.parquet"]


def test_only_a_censored_value_at_the_latest_time_gives_an_interval_in_every_derivation(spark, tmp_path):
    # several rows a cell: a censored value followed by an exact one is no interval, an exact one followed by a
    # censored one is; two rows at the latest time, one censored, give the mean of their bounds; a censored value
    # before the look-back window is not read at all (the SQL first keeps the cells with any censored row, then
    # takes their latest time: each of these cells must come out as the pandas derivation has it)
    subjects = ["later_exact", "later_censored", "same_time_mixed", "old_censored", "exact_only"]
    (tmp_path / "subjects.csv").write_text("subject_id,sex,index_date,birth_date\n" + "\n".join(
        f"{s},F,2024-01-10,1980-01-01" for s in subjects) + "\n")
    (tmp_path / "measurements.csv").write_text(
        "subject_id,time,variable,value,unit\n"
        "later_exact,2023-12-01,fasting_cpeptide,<0.1,nmol/L\n"
        "later_exact,2024-01-01,fasting_cpeptide,0.4,nmol/L\n"
        "later_censored,2023-12-01,fasting_cpeptide,0.4,nmol/L\n"
        "later_censored,2024-01-01,fasting_cpeptide,<0.1,nmol/L\n"
        "same_time_mixed,2024-01-01,fasting_cpeptide,<0.1,nmol/L\n"
        "same_time_mixed,2024-01-01,fasting_cpeptide,0.3,nmol/L\n"
        "old_censored,2020-01-01,fasting_cpeptide,<0.1,nmol/L\n"
        "old_censored,2024-01-01,fasting_glucose,8,mmol/L\n"
        "exact_only,2024-01-01,fasting_cpeptide,0.2,nmol/L\n")
    expected = screening_features(load_canonical(tmp_path).cohort)
    cells = sorted(zip(expected.censored["subject_id"].astype(str), expected.censored["low"],
                       expected.censored["high"], strict=True))
    assert [c[0] for c in cells] == ["later_censored", "same_time_mixed"]
    assert cells[0][1:] == pytest.approx((0.0, 0.1)) and cells[1][1:] == pytest.approx((0.15, 0.2))
    in_place, _ = canonical_screening_sql(tmp_path)
    same_intervals(expected, in_place)
    same_intervals(expected, screening_features_sql(load_canonical(tmp_path).cohort))
    same_intervals(expected, canonical_screening_sql(tmp_path, engine="spark", spark=spark)[0])
