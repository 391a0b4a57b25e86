"""Change from baseline, per-visit summaries with CIs, responder proportions, subgroup splits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from explorer.errors import DataError
from explorer.outcomes.summary import (
    add_subgroups,
    age_bands,
    baseline_values,
    change_from_baseline,
    responder_proportions,
    summarise,
    tertiles,
    to_long,
    wilson_interval,
)


def long_table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["subject_id", "visit", "measure", "value"])


HBA1C = long_table([
    ("s1", "baseline", "hba1c", 8.0), ("s1", "week 4", "hba1c", 7.0), ("s1", "week 12", "hba1c", 6.0),
    ("s2", "baseline", "hba1c", 9.0), ("s2", "week 4", "hba1c", 9.0), ("s2", "week 12", "hba1c", 7.2),
    ("s3", "baseline", "hba1c", 0.0), ("s3", "week 4", "hba1c", 1.0),
    ("s4", "week 4", "hba1c", 7.5),
])


def test_change_from_baseline_absolute_and_relative():
    out = change_from_baseline(HBA1C).set_index(["subject_id", "visit"])
    assert out.loc[("s1", "week 12"), "change"] == pytest.approx(-2.0)
    assert out.loc[("s1", "week 12"), "relative_change"] == pytest.approx(-25.0)
    assert out.loc[("s2", "week 12"), "relative_change"] == pytest.approx(-20.0)
    assert out.loc[("s1", "baseline"), "change"] == 0
    assert math.isnan(out.loc[("s3", "week 4"), "relative_change"])  # zero baseline: undefined
    assert out.loc[("s3", "week 4"), "change"] == 1.0
    assert math.isnan(out.loc[("s4", "week 4"), "change"])  # no baseline
    assert len(out) == len(HBA1C)


def test_change_from_baseline_per_measure():
    table = pd.concat([HBA1C, long_table([("s1", "baseline", "insulin_dose", 40.0),
                                          ("s1", "week 12", "insulin_dose", 10.0)])])
    out = change_from_baseline(table)
    insulin = out[out["measure"] == "insulin_dose"].set_index("visit")
    assert insulin.loc["week 12", "relative_change"] == pytest.approx(-75.0)


def test_duplicate_baselines_are_rejected():
    doubled = pd.concat([HBA1C, long_table([("s1", "baseline", "hba1c", 8.1)])], ignore_index=True)
    with pytest.raises(DataError, match="more than one value"):
        change_from_baseline(doubled)


def test_summary_statistics_by_hand():
    table = long_table([(f"s{i}", "week 4", "hba1c", float(v)) for i, v in enumerate([1, 2, 3, 4, 5])])
    row = summarise(table).iloc[0]
    assert row["n"] == 5
    assert row["mean"] == 3 and row["median"] == 3
    assert row["sd"] == pytest.approx(math.sqrt(2.5))
    assert (row["q1"], row["q3"], row["iqr"]) == (2, 4, 2)
    # t(0.975, 4) = 2.776445: 3 +- 2.776445 x sqrt(2.5) / sqrt(5) = 3 +- 1.963243.
    assert row["ci_low"] == pytest.approx(3 - 1.963243, abs=1e-6)
    assert row["ci_high"] == pytest.approx(3 + 1.963243, abs=1e-6)
    assert math.isnan(row["median_ci_low"])  # n = 5 is too few for a 95 % distribution-free CI


def test_median_interval_uses_order_statistics():
    # n = 10: P(B <= 1) = 11/1024 <= 0.025 < P(B <= 2), so the 95 % CI is [x(2), x(9)].
    values = [10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0]
    table = long_table([(f"s{i}", "v", "m", v) for i, v in enumerate(values)])
    row = summarise(table).iloc[0]
    assert (row["median_ci_low"], row["median_ci_high"]) == (2.0, 9.0)
    # n = 6 is the smallest sample with one: [min, max], coverage 1 - 2/64.
    small = summarise(table.iloc[:6]).iloc[0]
    assert (small["median_ci_low"], small["median_ci_high"]) == (1.0, 10.0)


def test_mean_interval_matches_scipy():
    rng = np.random.default_rng(11)
    values = rng.normal(7, 1, 40)
    table = long_table([(f"s{i}", "v", "m", v) for i, v in enumerate(values)])
    row = summarise(table, confidence=0.9).iloc[0]
    low, high = stats.t.interval(0.9, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))


def test_visits_keep_trial_order_not_text_order():
    summary = summarise(change_from_baseline(HBA1C), value="change")
    assert summary["visit"].astype(str).tolist() == ["baseline", "week 4", "week 12"]
    assert summary.set_index("visit").loc["week 12", "n"] == 2


def test_categorical_visit_order_is_respected():
    table = HBA1C.assign(visit=pd.Categorical(HBA1C["visit"], categories=["week 12", "week 4", "baseline"]))
    assert summarise(table)["visit"].astype(str).tolist() == ["week 12", "week 4", "baseline"]


def test_subgroup_split():
    attributes = pd.DataFrame({"sex": ["female", "male", "female", "male"]},
                              index=pd.Index(["s1", "s2", "s3", "s4"], name="subject_id"))
    table = add_subgroups(HBA1C, attributes)
    summary = summarise(table, by=["visit", "measure", "sex"]).set_index(["visit", "sex"])
    assert summary.loc[("week 4", "female"), "mean"] == pytest.approx(4.0)   # s1 7.0, s3 1.0
    assert summary.loc[("week 4", "male"), "mean"] == pytest.approx(8.25)    # s2 9.0, s4 7.5
    assert summary["n"].sum() == len(HBA1C)


def test_subgroups_need_one_row_per_subject():
    attributes = pd.DataFrame({"subject_id": ["s1", "s1"], "sex": ["female", "male"]})
    with pytest.raises(DataError, match="one row per subject"):
        add_subgroups(HBA1C, attributes)


def test_baseline_tertiles_and_age_bands():
    baseline = baseline_values(HBA1C, measure="hba1c")
    assert baseline.to_dict() == {"s1": 8.0, "s2": 9.0, "s3": 0.0}
    assert tertiles(baseline).astype(str).to_dict() == {"s1": "T2", "s2": "T3", "s3": "T1"}
    bands = age_bands(pd.Series([17, 18, 29.9, 30, 69, 70, np.nan]))
    assert bands.iloc[:6].astype(str).tolist() == ["<18", "18-29", "18-29", "30-39", "60-69", "70+"]
    assert pd.isna(bands.iloc[6])
    assert bands.cat.ordered


def test_wilson_interval_matches_scipy():
    for successes, n in [(0, 10), (3, 10), (7, 20), (42, 48), (48, 48)]:
        expected = stats.binomtest(successes, n).proportion_ci(method="wilson")
        low, high = wilson_interval(successes, n)
        assert (low, high) == pytest.approx((expected.low, expected.high))
    low, high = wilson_interval([0], [0])
    assert math.isnan(low[0]) and math.isnan(high[0])


def test_responder_proportions_with_unknowns():
    flags = pd.DataFrame({
        "subject_id": ["s1", "s2", "s3", "s4", "s1", "s2", "s3", "s4"],
        "visit": ["week 4"] * 4 + ["week 12"] * 4,
        "responder": pd.array([True, False, None, False, True, True, True, None], dtype="boolean"),
    })
    table = responder_proportions(flags).set_index("visit")
    assert table.loc["week 4", ["n", "responders", "unknown"]].tolist() == [3, 1, 1]
    assert table.loc["week 12", "proportion"] == pytest.approx(1.0)
    expected = stats.binomtest(1, 3).proportion_ci(method="wilson")
    assert table.loc["week 4", "ci_low"] == pytest.approx(expected.low)
    imputed = responder_proportions(flags, missing_as_failure=True).set_index("visit")
    assert imputed.loc["week 12", ["n", "responders"]].tolist() == [4, 3]
    assert imputed.loc["week 12", "proportion"] == pytest.approx(0.75)


def test_to_long_from_wide_metrics():
    wide = pd.DataFrame({"subject_id": ["a", "b"], "visit": ["v1", "v1"], "tir": [70.0, np.nan],
                         "cgm_sufficient": pd.array([True, None], dtype="boolean")})
    long = to_long(wide)
    assert long.values.tolist() == [["a", "v1", "tir", 70.0], ["a", "v1", "cgm_sufficient", 1.0]]
