"""The synthetic screening populations: reproducible, valid, correlated as intended, realistically incomplete,
and the same population whether read from the fast path or from the canonical tables."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from explorer.catalogue import default_catalogue
from explorer.clinical.age import completed_years
from explorer.cohort import features
from explorer.cohort.compact import widened
from explorer.cohort.synthetic import (
    T1DClinicParams,
    generate_cohort,
    generate_screening,
    parameter_table,
    write_cohort,
)
from explorer.cohort.synthetic.cgm import metrics_from_readings
from explorer.cohort.synthetic.screening_table import NOT_GENERATED
from explorer.errors import DataError, DefinitionError


def wide_screening(*args, **kwargs):
    """generate_screening with its compact number columns read back as float64 (explorer.cohort.compact),
    so these checks can do pandas arithmetic on them; the values are the generator's, bit for bit."""
    screening = generate_screening(*args, **kwargs)
    return replace(screening, features=widened(screening.features))


N = 20_000


@pytest.fixture(scope="module")
def t1d():
    return wide_screening("t1d", N, seed=11)


@pytest.fixture(scope="module")
def t2d():
    return wide_screening("t2d", N, seed=11)


def sh_counts(screening, days: int) -> pd.Series:
    """count(severe_hypoglycemia, within_days=days), NaN where the history is shorter than the window."""
    ev = screening.events
    ev = ev[(ev["event"] == "severe_hypoglycemia") & (ev["days_before_index"] < days)]
    counts = ev.groupby("subject_id", observed=True).size().reindex(screening.features.index, fill_value=0)
    counts = counts.astype(float)
    counts[screening.event_lookback["severe_hypoglycemia"] < days] = np.nan
    return counts


# --- reproducibility ------------------------------------------------------------------------------

def test_same_seed_same_numbers_and_other_seed_differs():
    a, b = wide_screening("t2d", 3000, seed=5), wide_screening("t2d", 3000, seed=5)
    pd.testing.assert_frame_equal(a.features, b.features)
    pd.testing.assert_frame_equal(a.events, b.events)
    c = wide_screening("t2d", 3000, seed=6)
    assert not np.allclose(a.features["hba1c"].fillna(0), c.features["hba1c"].fillna(0))


def test_first_subjects_do_not_depend_on_n():
    small, large = wide_screening("t1d", 700, seed=2), wide_screening("t1d", 70_000, seed=2)
    pd.testing.assert_frame_equal(small.features, large.features.iloc[:700])
    ev = large.events[large.events["subject_id"].isin(small.features.index)].reset_index(drop=True)
    pd.testing.assert_frame_equal(small.events, ev)


def test_no_global_random_state_is_used():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    wide_screening("t1d", 100, seed=1)
    assert np.random.random() == before


# --- contract ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("population", ["t1d", "t2d"])
def test_contract_and_every_screening_variable(population, t1d, t2d):
    s = {"t1d": t1d, "t2d": t2d}[population]
    s.validate()
    catalogue = default_catalogue()
    wanted = {v.name for v in catalogue if v.kind != "event" and v.role in ("screening", "both")} - NOT_GENERATED
    missing = wanted - set(s.features.columns)
    assert not NOT_GENERATED & set(s.features.columns)  # declared absent: unknown for everyone, never invented
    assert not missing, f"catalogue variables the generator does not produce yet: {sorted(missing)}"
    assert s.features.index.name == "subject_id" and s.features.index.is_unique
    assert set(s.events["event"].unique()) <= {"severe_hypoglycemia", "trial_participation"}
    assert set(s.event_lookback.columns) == {"severe_hypoglycemia", "trial_participation"}
    assert s.features["diabetes_type"].eq(population.upper()).all()


def test_every_variable_the_seed_trials_use(t1d, t2d):
    trials = pytest.importorskip("explorer.trial")
    from explorer import expr

    for trial_id, screening in (("NCT06196996", t1d), ("NCT01142050", t2d)):
        trial = trials.load_trial(trial_id)
        used = set()
        for criterion in trial.criteria:
            if criterion.tree is not None:
                used |= expr.names(criterion.tree) - set(criterion.parameters)
        events = {"severe_hypoglycemia", "trial_participation"}
        assert used - events <= set(screening.features.columns), trial_id
        assert used & events <= set(screening.event_lookback.columns), trial_id


def test_plausible_ranges(t1d, t2d):
    for s in (t1d, t2d):
        f = s.features
        assert (f["diabetes_duration"] < f["age"] + 1).all()  # age in completed years
        assert f["age"].between(0.5, 90).all()
        assert f["tir"].dropna().between(0, 100).all()
        parts = f[["tbr_70", "tir", "tar_180"]].dropna().sum(axis=1)
        assert np.allclose(parts, 100, atol=0.3)
        cgm = f[["tbr_54", "tbr_70"]].dropna()
        assert (cgm["tbr_54"] <= cgm["tbr_70"] + 0.05).all()
        assert (f["fasting_cpeptide"].dropna() > 0).all()
    assert t2d.features["age"].min() >= 20
    assert t1d.features["on_insulin"].all()


# --- structure: correlations and prevalences ---------------------------------------------------------

def spearman(a: pd.Series, b: pd.Series) -> float:
    both = pd.concat([a, b], axis=1).dropna()
    return both.rank().corr().iloc[0, 1]


def test_correlations_have_the_intended_sign(t1d, t2d):
    f1, f2 = t1d.features, t2d.features
    assert spearman(f1["hba1c"], f1["tir"]) < -0.6          # Beck 2019: TIR falls ~10 % per 0.8 % HbA1c
    assert spearman(f1["hba1c"], sh_counts(t1d, 365)) < 0    # lower HbA1c, more severe hypoglycaemia
    assert spearman(f1["diabetes_duration"], sh_counts(t1d, 365)) > 0
    assert spearman(f1["diabetes_duration"], f1["fasting_cpeptide"]) < -0.2
    assert spearman(f1["age"], f1["diabetes_duration"]) > 0.2
    assert spearman(f1["tbr_70"], sh_counts(t1d, 365)) > 0
    assert spearman(f2["bmi"], f2["kitt"]) < -0.2            # BMI with insulin resistance
    assert spearman(f2["bmi"], f2["homa_ir"]) > 0.1
    assert spearman(f2["kitt"], f2["homa_ir"]) < 0
    assert spearman(f2["hba1c"], f2["fasting_glucose"]) > 0.4
    assert spearman(f2["age"], f2["diabetes_duration"]) > 0.1


def test_prevalences_within_stated_ranges(t1d, t2d):
    c365, c91 = sh_counts(t1d, 365), sh_counts(t1d, 91)
    assert 0.16 < (c365 >= 1).mean() < 0.27          # between T1D Exchange (8 %) and broad surveys (~40 %)
    assert 0.03 < ((c365 >= 2) & (c91 >= 1)).mean() < 0.09
    f1, f2 = t1d.features, t2d.features
    assert 0.35 < f1["tir"].notna().mean() < 0.50     # CGM users
    assert 0.10 < f1["hypoglycemia_unawareness"].mean() < 0.35
    assert 0.25 < f2["on_insulin"].mean() < 0.45
    assert 0.25 < (f2["bmi"] > 28).mean() < 0.35       # Chen 2015: 30 % > 28
    assert 0.35 < (f2["kitt"].dropna() < 2.5).mean() < 0.65
    assert f2["smoking_history"][f2["sex"] == "male"].mean() > 0.35
    assert f2["smoking_history"][f2["sex"] == "female"].mean() < 0.08


def test_missingness_is_realistic(t1d, t2d):
    f1, f2 = t1d.features, t2d.features
    antibodies = f1[["gada_positive", "ia2a_positive", "iaa_positive", "ica_positive", "znt8a_positive"]]
    untested = antibodies.isna().all(axis=1)
    long_standing = f1["diabetes_duration"] >= 15
    assert untested[long_standing].mean() > untested[~long_standing].mean() + 0.2  # old diagnoses untested
    assert 0.03 < f1["hba1c"].isna().mean() < 0.15
    assert f1["kitt"].isna().all()                      # no insulin tolerance tests in a T1D clinic
    assert 0.3 < f2["kitt"].isna().mean() < 0.7
    # the chemistry panel is missing as a whole
    assert (f2["alt"].isna() == f2["creatinine"].isna()).mean() > 0.99
    mr = t1d.missing_reasons
    # one row per unknown value, and one per value censored below a detection limit (why a criterion may be unknown)
    assert len(mr) == int(f1.isna().sum().sum()) + len(t1d.censored)
    assert set(mr["reason"].cat.categories) >= {"not tested", "no CGM data in the 14 days before the index date"}


def test_events_within_their_windows(t1d):
    ev = t1d.events.merge(t1d.event_lookback.reset_index().melt("subject_id", var_name="event",
                                                                 value_name="lookback"))
    assert (ev["days_before_index"] >= 0).all()
    assert (ev["days_before_index"] < ev["lookback"]).all()
    duration_days = t1d.features["diabetes_duration"] * 365.25
    lookback = t1d.event_lookback["severe_hypoglycemia"]
    assert (lookback <= duration_days + 0.5).all()


def test_lab_ulns_vary_by_lab_and_sex(t1d):
    f = t1d.features
    assert f["alt_uln"].nunique() >= 4
    assert f.groupby("sex")["alt_uln"].mean()["male"] > f.groupby("sex")["alt_uln"].mean()["female"]
    assert ((f["alt"] >= 2 * f["alt_uln"]).mean()) > 0.001


def test_parameters_override_and_document_their_sources():
    more_cgm = wide_screening("t1d", 3000, seed=1, params={"cgm_use": 0.9})
    assert more_cgm.features["tir"].notna().mean() > 0.8
    no_smokers = wide_screening("t1d", 3000, seed=1,
                                    params={"conditions": {"smoking_history": {"prevalence": 1e-6}}})
    assert no_smokers.features["smoking_history"].sum() == 0
    rows = parameter_table(T1DClinicParams())
    assert all(r["source"] for r in rows), [r["parameter"] for r in rows if not r["source"]]


def test_bad_input_raises():
    with pytest.raises(DefinitionError, match="population"):
        wide_screening("t3d", 10)
    with pytest.raises(DefinitionError, match="n must be"):
        wide_screening("t1d", -1)
    with pytest.raises(DefinitionError, match="no parameter"):
        wide_screening("t1d", 10, params={"not_a_parameter": 1})
    with pytest.raises(DataError, match="format"):
        write_cohort(generate_cohort("t1d", 5), "/tmp/never", format="xlsx")


def test_empty_and_progress(capsys):
    assert len(wide_screening("t2d", 0)) == 0
    s = wide_screening("t2d", 10, progress=True)
    assert len(s) == 10 and "synthetic t2d" in capsys.readouterr().err


# --- canonical tables ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pair():
    return wide_screening("t1d", 3000, seed=3), generate_cohort("t1d", 3000, seed=3, cgm_readings=25)


def test_canonical_measurements_equal_the_fast_path(pair):
    screening, cohort = pair
    m = cohort.measurements
    assert (m["time"] <= m["subject_id"].map(cohort.subjects.set_index("subject_id")["index_date"])).all()
    wide = m.pivot(index="subject_id", columns="variable", values="value")
    f = screening.features
    for variable in wide.columns:
        pd.testing.assert_series_equal(wide[variable].reindex(f.index), f[variable], check_names=False,
                                       check_index_type=False, obj=variable)
    liver = m[m["variable"] == "alt"].set_index("subject_id")["ref_high"]
    assert np.allclose(liver, f["alt_uln"].reindex(liver.index))
    assert set(m["unit"].groupby(m["variable"]).first().items()) == \
        {(v, default_catalogue()[v].unit) for v in m["variable"].unique()}


def test_canonical_subjects_and_events_equal_the_fast_path(pair):
    screening, cohort = pair
    subjects = cohort.subjects.set_index("subject_id")
    f = screening.features
    age = completed_years(subjects["birth_date"].to_numpy("datetime64[ns]"),
                          subjects["index_date"].to_numpy("datetime64[ns]"))  # completed years
    assert np.array_equal(age, f["age"].to_numpy())
    duration = (subjects["index_date"] - subjects["diagnosis_date"]).dt.days / 365.25
    assert np.allclose(duration, f["diabetes_duration"])
    for column in ("gada_positive", "smoking_history", "pregnant", "cancer_status", "sex"):
        pd.testing.assert_series_equal(subjects[column], f[column], check_names=False, check_index_type=False)
    ev = cohort.events.merge(cohort.subjects[["subject_id", "index_date"]])
    days = (ev["index_date"] - ev["time"]).dt.days
    canonical = sorted(zip(ev["subject_id"], ev["event"], days, strict=True))
    fast = sorted(zip(screening.events["subject_id"], screening.events["event"],
                      screening.events["days_before_index"].astype(int), strict=True))
    assert canonical == fast
    hist = cohort.event_history.merge(cohort.subjects[["subject_id", "index_date"]])
    lookback = (hist["index_date"] - hist["recorded_from"]).dt.days
    expected = screening.event_lookback.reset_index().melt("subject_id", var_name="event", value_name="lb")
    merged = hist.assign(lb_canonical=lookback.to_numpy()).merge(expected)
    assert np.allclose(merged["lb_canonical"], merged["lb"])


def test_cgm_readings_reproduce_the_summary_metrics(pair):
    screening, cohort = pair
    readings = cohort.cgm
    assert readings["subject_id"].nunique() == 25
    metrics = metrics_from_readings(readings["glucose"], readings["subject_id"])
    f = screening.features.loc[metrics.index]
    for name in ("tir", "tbr_70", "tbr_54", "tar_180", "tar_250"):
        assert np.abs(metrics[name] - f[name]).max() < 0.2, name
    assert np.abs(metrics["cgm_mean"] - f["cgm_mean"]).max() < 1.0
    assert np.abs(metrics["n"] / 4032 * 100 - f["cgm_active"]).max() < 0.1
    index = cohort.subjects.set_index("subject_id")["index_date"]
    span = readings.groupby("subject_id")["time"].agg(["min", "max"])
    assert ((index.loc[span.index] - span["min"]).dt.days <= 14).all()
    assert (span["max"] <= index.loc[span.index]).all()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_cohort_round_trip(tmp_path, fmt):
    cohort = generate_cohort("t2d", 300, seed=1, cgm_readings=3)
    written = write_cohort(cohort, tmp_path, format=fmt)
    assert set(written) == {"subjects", "measurements", "events", "cgm", "event_history"}
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    for table, path in written.items():
        assert len(read(path)) == len(getattr(cohort, table)), table
    back = read(written["measurements"])
    assert np.allclose(back["value"], cohort.measurements["value"])


def test_fully_recorded_is_the_same_subjects_with_nothing_missing_by_omission():
    from explorer.cohort.synthetic import default_params, fully_recorded

    usual = wide_screening("t2d", 2000, seed=4)
    complete = wide_screening("t2d", 2000, seed=4, params=fully_recorded(default_params("t2d")))
    for column in ("hba1c", "alt", "kitt", "hepatitis_b", "smoking_history"):
        known = usual.features[column].notna()
        assert complete.features[column].notna().all(), column
        assert (usual.features.loc[known, column] == complete.features.loc[known, column]).all(), column
    assert complete.features["tir"].isna().mean() > 0.5   # CGM use is a clinical choice, not a record


def test_funnels_are_plausible_with_the_bundled_trials():
    """Most subjects excluded at believable steps, a small eligible pool (docs/synthetic.md, Funnels)."""
    trial_module = pytest.importorskip("explorer.trial")
    matrix_module = pytest.importorskip("explorer.engine.matrix")
    from explorer.cohort.synthetic import default_params, fully_recorded

    def eligible(trial_id, population, params=None):
        screening = wide_screening(population, 30_000, seed=1, params=params, missing_reasons=False)
        codes = matrix_module.evaluate(trial_module.load_trial(trial_id), screening).codes
        sure = ((codes == 1) | (codes == 3)).all(axis=1).mean()
        possible = (codes != 0).all(axis=1).mean()
        return sure, possible

    sure, possible = eligible("NCT06196996", "t1d")
    assert 0.001 < sure < 0.02 and 0.01 < possible < 0.08
    true_pool, _ = eligible("NCT06196996", "t1d", fully_recorded(default_params("t1d")))
    assert 0.01 < true_pool < 0.05                        # islet trial: 1-5 % with complete records
    msc_pool, _ = eligible("NCT01142050", "t2d", fully_recorded(default_params("t2d")))
    assert true_pool < msc_pool < 0.35                     # somewhat more for the MSC trial


@pytest.mark.parametrize("population", ["t1d", "t2d"])
def test_features_derived_from_the_canonical_tables_equal_the_fast_path(population):
    """explorer.cohort.features on generate_cohort reproduces generate_screening (CGM metrics from readings
    agree to rounding; a variable never measured is simply absent from the derived features)."""
    fast = wide_screening(population, 600, seed=9)
    derived = features.screening_features(generate_cohort(population, 600, seed=9, cgm_readings=None))
    f, g = fast.features, derived.features.reindex(fast.features.index)
    loose = {"tir": 0.25, "tbr_70": 0.25, "tbr_54": 0.25, "tar_180": 0.25, "tar_250": 0.25, "cgm_cv": 0.25,
             "cgm_mean": 1.0, "gmi": 0.06, "cgm_active": 0.06}
    # age: the contract is completed years (see test_age_is_completed_years_at_the_index_date); features may
    # still derive fractional years from the birth date, which agree to within the year
    assert ((f["age"] - g["age"]).abs() < 1).all()
    for column in f.columns.drop("age"):
        if column not in g.columns:
            assert f[column].isna().all(), column
            continue
        if f[column].dtype.kind == "f":
            assert (f[column].isna() == g[column].isna()).all(), column
            difference = np.abs(f[column] - g[column]).dropna()  # all NaN where never known (HOMA-IR in T1D)
            assert np.max(difference.to_numpy(), initial=0.0) <= loose.get(column, 1e-9), column
        else:
            pd.testing.assert_series_equal(f[column].astype(object), g[column].astype(object), check_names=False,
                                           check_index_type=False)
    fast_events = sorted(zip(fast.events["subject_id"], fast.events["event"], fast.events["days_before_index"],
                             strict=True))
    derived_events = sorted(zip(derived.events["subject_id"], derived.events["event"],
                                derived.events["days_before_index"], strict=True))
    assert fast_events == derived_events


@pytest.mark.parametrize("population", ["t1d", "t2d"])
def test_age_is_completed_years_at_the_index_date(population):
    """The screening contract: `age` is whole years completed at the index date (65 years and 6 months is 65)."""
    fast = wide_screening(population, 3000, seed=4)
    subjects = generate_cohort(population, 3000, seed=4, cgm_readings=0).subjects.set_index("subject_id")
    expected = [index.year - birth.year - ((index.month, index.day) < (birth.month, birth.day))
                for birth, index in zip(subjects["birth_date"], subjects["index_date"], strict=True)]
    assert fast.features["age"].tolist() == pytest.approx(expected)
    assert subjects["age"].tolist() == pytest.approx(expected)


@pytest.mark.parametrize(("birth", "index", "age"), [
    ("1959-05-10", "2024-05-09", 64), ("1959-05-10", "2024-05-10", 65), ("1959-05-10", "2024-05-11", 65),
    ("1958-11-10", "2024-05-10", 65),                                     # 65 years and 6 months
    ("2000-02-29", "2023-02-28", 22), ("2000-02-29", "2023-03-01", 23), ("2000-02-29", "2024-02-29", 24),
])
def test_completed_years_at_birthdays(birth, index, age):
    from explorer.cohort.synthetic.shared_variables import completed_years

    def day(text):
        return np.array([np.datetime64(text, "D").astype(np.int64)])

    assert completed_years(day(birth), day(index))[0] == age


def test_every_named_population_has_a_generator():
    """explorer.clinical.populations names the populations; the generator covers each, ids prefixed by it."""
    from explorer.clinical.populations import POPULATION_NAMES
    from explorer.cohort.synthetic.params import PARAMS_BY_POPULATION

    assert set(PARAMS_BY_POPULATION) == set(POPULATION_NAMES)
    for population in POPULATION_NAMES:
        assert wide_screening(population, 3, seed=0).features.index[0] == f"{population.upper()}-0000000"
    with pytest.raises(DefinitionError, match="t1d"):
        wide_screening("t3d", 3)
