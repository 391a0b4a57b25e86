"""Hand-made cases shared by the engine tests: a hand-checked status matrix, a small trial, every rule construct
where two engines could part ways (with a cohort of unknowns, impossible values and short histories), and the
assertions that two engines gave the same matrix and statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.cohort.screening import Screening
from explorer.engine import (
    ASSUMED,
    FAIL,
    PASS,
    UNKNOWN,
    CriterionInfo,
    EligibilityMatrix,
    final_counts,
    funnel,
    impact,
    overlap,
    shapley,
)
from explorer.trial import trial_from_dict

P, F, U, A = PASS, FAIL, UNKNOWN, ASSUMED
INJECTION = 'x"; DROP TABLE features_src; --'

# ten subjects x criteria A (inclusion), B (exclusion), C (inclusion); raw statuses, worked out by hand below
HAND = {
    "s0": (P, P, P), "s1": (P, P, P), "s2": (F, P, P), "s3": (F, F, P), "s4": (P, F, P),
    "s5": (P, U, P), "s6": (U, P, F), "s7": (U, U, P), "s8": (P, P, F), "s9": (F, U, F),
}


def make_matrix(rows: dict[str, tuple], kinds=("inclusion", "exclusion", "inclusion"), ids=("A", "B", "C"),
                **info) -> EligibilityMatrix:
    codes = np.array(list(rows.values()), dtype=np.int8).reshape(len(rows), len(ids))
    criteria = [CriterionInfo(id=i, kind=k, text=f"criterion {i}", label=i, expression=None if
                              (codes[:, j] == ASSUMED).all() and len(rows) else f"x{j}", **info.get(i, {}))
                for j, (i, k) in enumerate(zip(ids, kinds, strict=True))]
    return EligibilityMatrix(pd.Index(list(rows), name="subject_id"), [codes[:, j] for j in range(len(ids))],
                             criteria)


def small_trial(**overrides):
    data = {
        "id": "T1", "title": "A small trial",
        "criteria": [
            {"id": "I1", "kind": "inclusion", "text": "Adults", "expression": "age >= age_min",
             "parameters": {"age_min": {"value": 18, "unit": "years", "min": 0, "max": 100}}},
            {"id": "E1", "kind": "exclusion", "text": "Pregnant", "expression": "pregnant"},
            {"id": "I2", "kind": "inclusion", "text": "Consent", "assumption": "pass"},
        ],
    }
    data.update(overrides)
    return trial_from_dict(data)



# one criterion per construct where two engines could part ways
CONSTRUCTS = {
    "chain": "7 <= hba1c <= 10",
    "in": 'diabetes_type in ("T1D", "other")',
    "not_in": 'diabetes_type not in ("T2D")',
    "known": "known(tir) and tir >= tir_min",
    "count_year": "count(severe_hypoglycemia, within_days=365) >= 2",
    "count_param": "count(trial_participation, within_days=window) == 0",
    "division": "alt / alt_uln >= 2",
    "min_max": "max(alt, ast) >= 3 * min(alt_uln, ast_uln)",
    "abs_neg": "abs(bmi - 25) > 10 or -bmi < -40",
    "booleans": "pregnant == true or lactating != false",
    "not": "not (smoking_history or alcohol_abuse)",
    "category_and_number": 'cancer_status == "remission" and cancer_remission_years < 1',
    "own_variable": f"site in (\"a'b\", '{INJECTION}')",
    "sex": 'sex == "female"',
    "constant": "true",
    "at_least": "at_least(2, pregnant, lactating, hba1c > 8)",
}


def construct_trial():
    criteria = []
    for i, (name, expression) in enumerate(CONSTRUCTS.items()):
        c = {"id": f"C{i}", "kind": "inclusion" if i % 2 == 0 else "exclusion", "text": name,
             "expression": expression}
        if "tir_min" in expression:
            c["parameters"] = {"tir_min": {"value": 70, "unit": "%", "min": 0, "max": 100}}
        if "window" in expression:
            c["parameters"] = {"window": {"value": 91, "unit": "days", "min": 1, "max": 730}}
        criteria.append(c)
    return trial_from_dict({"id": "CONSTRUCTS", "title": "every construct", "criteria": criteria,
                            "variables": {"site": {"kind": "category", "categories": ["a'b", INJECTION, "c"]}}})


def construct_screening() -> Screening:
    """Twelve subjects with unknowns, out-of-range and impossible values, short histories, reported counts."""
    nan = np.nan
    ids = pd.Index([f"p{i:02d}" for i in range(12)], name="subject_id", dtype="string")
    f = pd.DataFrame(index=ids)
    f["hba1c"] = [7.0, 10.0, 10.1, 6.9, nan, 8.0, float("nan"), 9.0, 7.5, 12.0, 5.0, 8.5]
    f["diabetes_type"] = pd.array(["T1D", "T2D", "other", None, "T1D", "none", "T1D", "bogus", "T2D", "T1D",
                                   "other", "T1D"], dtype="string")  # "bogus" is outside the categories
    f["tir"] = [80.0, 60.0, nan, 70.0, 90.0, nan, 50.0, 71.0, 69.9, 100.0, 0.0, nan]
    f["alt"] = [50.0, 100.0, nan, 80.0, 10.0, 30.0, 200.0, 60.0, 0.0, nan, 45.0, 90.0]
    f["alt_uln"] = [40.0, 0.0, 40.0, 40.0, nan, 30.0, 40.0, 0.0, 40.0, 40.0, 45.0, 30.0]  # 0: division by zero
    f["ast"] = [30.0, nan, 20.0, 200.0, 40.0, 31.0, 10.0, 70.0, 5.0, 40.0, 44.0, 91.0]
    f["ast_uln"] = [35.0, 35.0, nan, 35.0, 35.0, 31.0, 35.0, 35.0, 35.0, nan, 15.0, 30.0]
    f["bmi"] = [25.0, 36.0, 14.0, nan, 41.0, 35.0, 15.0, 24.0, 22.0, 40.0, 40.1, 30.0]
    f["pregnant"] = pd.array([True, False, None, False, None, True, False, False, None, False, True, None],
                             dtype="boolean")
    f["lactating"] = pd.array([False, None, False, True, None, None, False, False, False, True, None, False],
                              dtype="boolean")
    f["smoking_history"] = pd.array([False, True, None, False, None, False, True, None, False, False, True, None],
                                    dtype="boolean")
    f["alcohol_abuse"] = pd.array([None, False, False, False, True, None, None, False, True, False, False, None],
                                  dtype="boolean")
    f["cancer_status"] = pd.array(["remission", "remission", "none", None, "active", "remission", "remission",
                                   None, "none", "remission", "active", "none"], dtype="string")
    f["cancer_remission_years"] = [0.5, 2.0, nan, 0.2, nan, nan, 1.0, 0.1, nan, 0.99, 3.0, nan]
    f["site"] = pd.array(["a'b", INJECTION, "c", None, "a'b", "c", INJECTION, "zzz", None, "a'b", "c", "c"],
                         dtype="string")
    # sex is absent: unknown for everyone
    events = pd.DataFrame({
        "subject_id": pd.array(["p00", "p00", "p00", "p01", "p01", "p02", "p04", "p04", "p05", "ghost", "p06",
                                "p07", "p07"], dtype="string"),
        "event": pd.array(["severe_hypoglycemia"] * 3 + ["severe_hypoglycemia", "trial_participation",
                                                          "severe_hypoglycemia", "severe_hypoglycemia",
                                                          "severe_hypoglycemia", "trial_participation",
                                                          "severe_hypoglycemia", "trial_participation",
                                                          None, "trial_participation"], dtype="string"),
        "days_before_index": [10.0, 365.0, 366.0, 5.0, 30.0, 100.0, 364.0, nan, 91.0, 1.0, 92.0, 3.0, 0.0],
        "severity": pd.array([3] * 13, dtype="Int64"),
    })
    lookback = pd.DataFrame({
        "severe_hypoglycemia": [400.0, 100.0, nan, 1000.0, 365.0, 365.0, 0.0, 500.0, 400.0, nan, 365.0, 364.9],
        "trial_participation": [91.0, 90.0, 91.0, nan, 200.0, 91.0, 100.0, 91.0, nan, 91.0, 30.0, 1000.0],
    }, index=ids)
    counts = pd.DataFrame({
        "severe_hypoglycemia@365": [nan, 5.0, 1.0, nan, 0.0, nan, nan, nan, nan, 2.0, nan, 3.0],
        "trial_participation@91": [nan, 0.0, nan, 1.0, nan, nan, nan, nan, 0.0, nan, 2.0, nan],
    }, index=ids).iloc[::-1]  # stored in another order than the features
    # values the checks refuse (a "bogus" category, a ghost subject's event, ...), kept to pin down what
    # each engine does with them: marked checked, so the engines take the constructs as they are
    return Screening(f, events, lookback, counts, source="constructs", checked=True)


def assert_same_matrix(a, b):
    assert a.ids == b.ids
    assert [str(x) for x in a.subject_ids] == [str(x) for x in b.subject_ids]
    for cid, x, y in zip(a.ids, a.columns, b.columns, strict=True):
        assert x.dtype == y.dtype == np.int8
        assert np.array_equal(x, y), f"{cid}: memory {x.tolist()} vs duckdb {y.tolist()}"


def assert_same_statistics(a, b):
    pd.testing.assert_frame_equal(funnel(a), funnel(b))
    pd.testing.assert_frame_equal(impact(a), impact(b))
    pd.testing.assert_frame_equal(shapley(a), shapley(b))
    pd.testing.assert_frame_equal(overlap(a), overlap(b))
    assert final_counts(a) == final_counts(b)


def valid_for_files(data: Screening, trial) -> Screening:
    """The constructs without the values a screening folder refuses (categories outside the catalogue's,
    numbers outside the plausible range such as the zero upper limits that test division by zero, events
    of subjects not screened, without a day or without a name)."""
    features = data.features.copy()
    for name in features.columns:
        var = trial.catalogue[name]
        if var.kind == "number" and var.range is not None:
            features[name] = features[name].where(features[name].between(*var.range) | features[name].isna())
    for name in ("diabetes_type", "site"):
        categories = trial.catalogue[name].categories
        features[name] = features[name].where(features[name].isin(categories) | features[name].isna(), None)
    events = data.events[data.events["subject_id"].isin(features.index).to_numpy(dtype=bool, na_value=False)
                         & data.events["event"].notna().to_numpy() & data.events["days_before_index"].notna().to_numpy()]
    return Screening(features, events, data.event_lookback, data.event_counts, source="constructs")
