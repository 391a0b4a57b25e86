"""Longitudinal outcomes of enrolled subjects: reproducible, on the trial's visits, heterogeneous, and
calibrated against the published trials within stated tolerances."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.compact import widened
from explorer.cohort.synthetic import IsletModel, generate_outcomes, generate_screening
from explorer.cohort.synthetic.calibration import islet_cit07, islet_edmonton, msc_zang2022
from explorer.cohort.synthetic.cgm import metrics_from_readings
from explorer.errors import DefinitionError

OUTCOME_VARIABLES = {"hba1c", "tir", "fasting_cpeptide", "postmeal_cpeptide", "fasting_insulin", "postmeal_insulin",
                     "insulin_dose", "ogld_dose", "fasting_glucose", "postmeal_glucose", "kitt"}


def wide_screening(*args, **kwargs):
    """generate_screening with its compact number columns read back as float64 (explorer.cohort.compact),
    so these checks can do pandas arithmetic on them; the values are the generator's, bit for bit."""
    screening = generate_screening(*args, **kwargs)
    return replace(screening, features=widened(screening.features))


@pytest.fixture(scope="module")
def islet():
    return generate_outcomes(300, "islet", seed=4, cgm_readings=5)


def wide(cohort: pd.DataFrame, variable: str) -> pd.DataFrame:
    m = cohort.measurements
    return m[m["variable"] == variable].pivot(index="subject_id", columns="visit", values="value")


def test_reproducible_and_seed_dependent():
    a, b = generate_outcomes(40, "msc", seed=1), generate_outcomes(40, "msc", seed=1)
    pd.testing.assert_frame_equal(a.measurements, b.measurements)
    pd.testing.assert_frame_equal(a.events, b.events)
    c = generate_outcomes(40, "msc", seed=2)
    assert not a.measurements["value"].equals(c.measurements["value"])


def test_every_outcome_at_every_visit(islet):
    m = islet.measurements
    assert set(m["variable"]) >= OUTCOME_VARIABLES
    assert list(pd.unique(m["visit"])) == ["baseline", "m1", "m3", "m6", "m9", "m12"]
    day = (m["time"] - m["subject_id"].map(islet.subjects.set_index("subject_id")["index_date"])).dt.days
    expected = m["visit"].map({"baseline": 0, "m1": 30, "m3": 91, "m6": 182, "m9": 274, "m12": 365})
    assert (day == expected).all()
    assert 0.95 < m.groupby(["subject_id", "visit"]).size().mean() / 23 <= 1.0  # ~2 % of samples missed


def test_events_within_follow_up_and_tagged_with_their_visit(islet):
    ev = islet.events.merge(islet.subjects[["subject_id", "index_date"]])
    day = (ev["time"] - ev["index_date"]).dt.days
    assert day.between(1, 365).all()
    visit_day = ev["visit"].map({"m1": 30, "m3": 91, "m6": 182, "m9": 274, "m12": 365})
    assert (day <= visit_day).all()
    previous = ev["visit"].map({"m1": 0, "m3": 30, "m6": 91, "m9": 182, "m12": 274})
    assert (day > previous).all()
    sae = ev[ev["event"] == "serious_adverse_event"]
    assert sae["severity"].between(3, 5).all()
    assert ev.loc[ev["event"] == "severe_hypoglycemia", "severity"].isna().all()


def test_graft_function_is_heterogeneous(islet):
    classes = islet.subjects["response_class"].value_counts(normalize=True)
    assert set(classes.index) == {"full", "partial", "failing"}
    dose = wide(islet, "insulin_dose")
    independent = (dose["m12"] == 0).mean()
    assert 0.4 < independent < 0.85
    cp = wide(islet, "postmeal_cpeptide")
    failing = islet.subjects.set_index("subject_id")["response_class"] == "failing"
    assert cp.loc[failing[failing].index, "m12"].median() < cp.loc[failing[~failing].index, "m12"].median()
    a1c = wide(islet, "hba1c")
    assert a1c["m12"].median() < a1c["baseline"].median() - 1


def test_cgm_readings_match_the_visit_metrics(islet):
    readings = islet.cgm
    assert set(readings["visit"]) == {"baseline", "m1", "m3", "m6", "m9", "m12"}
    metrics = metrics_from_readings(readings["glucose"], readings["subject_id"] + "|" + readings["visit"])
    tir = islet.measurements[islet.measurements["variable"] == "tir"]
    tir = tir.set_index(tir["subject_id"] + "|" + tir["visit"])["value"]
    common = metrics.index.intersection(tir.index)
    assert len(common) > 20
    assert np.abs(metrics.loc[common, "tir"] - tir.loc[common]).max() < 0.3


def test_from_a_screening_uses_its_baseline_values():
    screening = wide_screening("t1d", 4000, seed=8)
    f = screening.features
    enrolled = f[(f["hba1c"] >= 7.5) & f["weight"].notna()].head(30)
    subset = type(screening)(features=enrolled, events=screening.events[screening.events["subject_id"].isin(enrolled.index)],
                             event_lookback=screening.event_lookback.loc[enrolled.index])
    out = generate_outcomes(subset, "islet", seed=1, cgm_readings=0)
    assert list(out.subjects["subject_id"]) == list(enrolled.index)
    base = wide(out, "hba1c")["baseline"].reindex(enrolled.index)
    assert np.nanmax(np.abs(base - enrolled["hba1c"])) < 0.6
    assert out.cgm.empty


def test_arms_and_visits_options():
    rnd = generate_outcomes(200, "msc", seed=3, arm="random", cgm_readings=0)
    assert rnd.subjects["arm"].value_counts().to_dict() == {"msc": 100, "placebo": 100}
    given = generate_outcomes(["a", "b"], "islet", visits_days={"v0": 0, "v1": 60}, arm=["islet", "control"])
    assert set(given.measurements["visit"]) == {"v0", "v1"}
    assert given.subjects.set_index("subject_id")["response_class"]["b"] == "none"
    trial_visits = [SimpleNamespace(id="baseline", day=0), SimpleNamespace(id="w48", day=336)]
    assert set(generate_outcomes(3, "msc", visits_days=trial_visits).measurements["visit"]) == {"baseline", "w48"}
    assert set(generate_outcomes(3, "msc", visits_days=[0, 90]).measurements["visit"]) == {"D0", "D90"}
    with pytest.raises(DefinitionError, match="arms"):
        generate_outcomes(3, "msc", arm="islet")
    with pytest.raises(DefinitionError, match="arms given"):
        generate_outcomes(3, "msc", arm=["msc"])
    with pytest.raises(DefinitionError, match="unknown outcome model"):
        generate_outcomes(3, "gene_therapy")
    with pytest.raises(DefinitionError, match="unique"):
        generate_outcomes(3, "msc", visits_days=[0, 0])


def test_control_arm_keeps_its_hypoglycaemia():
    control = generate_outcomes(300, "islet", seed=2, arm="control", cgm_readings=0)
    treated = generate_outcomes(300, "islet", seed=2, cgm_readings=0)
    def she(c):
        return (c.events["event"] == "severe_hypoglycemia").sum()
    assert she(control) > 5 * max(she(treated), 1)


# --- calibration at moderate n (tolerances widened for sampling error) ---------------------------

def test_islet_model_reproduces_cit07():
    table = islet_cit07(n=1500, seed=1).set_index("measure")
    assert abs(table["simulated"] - table["published"]).iloc[0] < 8        # 87.5 % primary endpoint
    assert abs(table.loc["median HbA1c at 1 year", "simulated"] - 5.6) <= 0.3


def test_edmonton_variant_reproduces_five_year_course():
    table = islet_edmonton(n=800, seed=1, model=IsletModel.edmonton()).set_index("measure")
    assert abs(table.loc["C-peptide positive at 5 years", "simulated"] - 80) < 10
    assert abs(table.loc["insulin independent at 5 years", "simulated"] - 10) < 6
    assert abs(table.loc["median duration of insulin independence", "simulated"] - 15) <= 4


def test_msc_model_reproduces_zang2022():
    table = msc_zang2022(n=3000, seed=1).set_index("measure")
    assert abs(table.loc["msc: HbA1c at 48 weeks", "simulated"] - 7.52) < 0.2
    assert abs(table.loc["placebo: HbA1c at 48 weeks", "simulated"] - 8.19) < 0.25
    assert abs(table.loc["msc: insulin dose reduction", "simulated"] - 27.8) < 5
    assert abs(table.loc["msc: HbA1c < 7 % with >= 50 % less insulin", "simulated"] - 20) < 5
    assert table.loc["placebo: HbA1c < 7 % with >= 50 % less insulin", "simulated"] < 9


# Fingerprints of every table generate_outcomes gives, taken from the code before the subject-id columns
# were built by Arrow (issue 17, speed only): a change in any value, order or dtype changes them.
BEFORE_ID_COLUMNS = {"islet": "fd728a7bd28d5641", "msc": "268b1e95d65a0ee1", "islet_edmonton": "d7958e9c57d67515"}


def _fingerprint(cohort) -> str:
    import hashlib
    digest = hashlib.sha256()
    for name in ("subjects", "measurements", "events", "cgm"):
        frame = getattr(cohort, name)
        digest.update(repr(frame.dtypes.to_dict()).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("model", sorted(BEFORE_ID_COLUMNS))
def test_outcome_tables_identical_to_before_the_speed_change(model):
    cohort = generate_outcomes(60, model=model, seed=3, cgm_readings=7, arm="random")
    assert _fingerprint(cohort) == BEFORE_ID_COLUMNS[model]
