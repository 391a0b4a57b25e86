"""Published trial figures against the synthetic cohorts taken through the trial-driven measures pipeline.

explorer.cohort.synthetic.calibration checks the response models on their raw trajectories, a floor below. This module
checks the whole path a researcher uses: generate_outcomes on a bundled trial's visits -> canonical tables
-> outcome_measures -> summaries, so visit assignment, event windows, endpoint rules and summaries are
checked too. Published figures: ../shared/REFERENCES.md.

- Islet (CIT-07; Hering et al., Diabetes Care 2016;39:1230), the islet trial's visits (1 year = m12):
  HbA1c < 7.0 % and free of severe hypoglycaemia from day 28 in 87.5 %, median HbA1c 5.6 %.
- UC-MSC (Zang et al., Stem Cell Res Ther 2022;13; NCT02302599), 1:1 MSC vs placebo: HbA1c 9.02 -> 7.52 % vs
  8.89 -> 8.19 %, insulin dose -27.8 % vs -15.6 %, HbA1c < 7.0 % with >= 50 % less insulin in 20 % vs 4.55 %.
  Zang et al. report these at week 48, so they are compared at the MSC trial's week-48 visit (day 336), not at
  its last visit: NCT01142050's measures have a one-year time frame and its last visit is week 52.

Tolerances are those of the model calibration for 10,000 subjects (docs/synthetic.md); rows report the
simulated value and whether it lies within them.
"""

from __future__ import annotations

import pandas as pd

from explorer.cohort.synthetic import generate_outcomes
from explorer.outcomes.measures import outcome_measures, summarise_endpoints, summarise_outcomes
from explorer.trial import load_trial

ISLET_TRIAL, MSC_TRIAL = "NCT06196996", "NCT01142050"
ZANG_2022_DAY = 48 * 7  # Zang et al. 2022 report their figures at week 48


def _visit_on_day(trial, day: int) -> str:
    """The id of the trial's visit on `day` (a published figure is compared at the visit it was reported)."""
    for visit in trial.visits:
        if visit.day == day:
            return visit.id
    raise LookupError(f"{trial.id} has no visit on day {day}; the published comparison needs one")


def _row(study: str, measure: str, unit: str, published: float, simulated: float, tolerance: float, n: int) -> dict:
    return {"study": study, "measure": measure, "unit": unit, "published": published,
            "simulated": round(float(simulated), 3), "tolerance": tolerance, "n": int(n),
            "within": bool(abs(float(simulated) - published) <= tolerance)}


def _pick(table: pd.DataFrame, **where) -> pd.Series:
    rows = table
    for column, value in where.items():
        rows = rows[rows[column].astype(str) == str(value)]
    if len(rows) != 1:
        raise LookupError(f"expected one summary row for {where}, found {len(rows)}")
    return rows.iloc[0]


def islet_comparison(n: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """CIT-07's 1-year figures from the islet trial's outcome measures on n simulated recipients."""
    trial = load_trial(ISLET_TRIAL)
    year = trial.visits[-1].id
    # no CGM readings are simulated (n = 10,000 would be slow) and no CGM figure is compared, so the measures
    # only readings give (LBGI, MAGE, episodes, ...) are skipped
    results = outcome_measures(trial, generate_outcomes(n, "islet", visits_days=trial.visits, seed=seed, cgm_readings=0),
                               on_missing="skip")
    endpoint = _pick(summarise_endpoints(results), endpoint="cit07", visit=year)
    a1c = _pick(summarise_outcomes(results, outcomes=["hba1c"]), measure="hba1c", statistic="value", visit=year)
    return pd.DataFrame([
        _row("CIT-07", f"HbA1c < 7.0 % and no severe hypoglycaemia (day 28-365), {year}", "%", 87.5,
             100 * endpoint["proportion"], 5, endpoint["n"]),
        _row("CIT-07", f"median HbA1c, {year}", "%", 5.6, a1c["median"], 0.2, a1c["n"]),
    ])


def msc_comparison(n: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Zang 2022's 48-week figures per arm from the MSC trial's outcome measures (1:1 MSC vs placebo)."""
    trial = load_trial(MSC_TRIAL)
    baseline, week48 = trial.visits[0].id, _visit_on_day(trial, ZANG_2022_DAY)
    cohort = generate_outcomes(n, "msc", visits_days=trial.visits, seed=seed, arm="random", cgm_readings=0)
    results = outcome_measures(trial, cohort)
    values = summarise_outcomes(results, by=["arm"], outcomes=["hba1c", "insulin_dosage"])
    responders = summarise_endpoints(results, by=["arm"])
    rows = []
    published = {"msc": (9.02, 7.52, -27.78, 20.0), "placebo": (8.89, 8.19, -15.62, 4.55)}
    for arm, (a1c_0, a1c_48, dose_change, responder) in published.items():
        start = _pick(values, measure="hba1c", statistic="value", visit=baseline, arm=arm)
        end = _pick(values, measure="hba1c", statistic="value", visit=week48, arm=arm)
        dose = _pick(values, measure="insulin_dose", statistic="relative_change", visit=week48, arm=arm)
        both = _pick(responders, endpoint="hba1c_below_7_insulin_halved", visit=week48, arm=arm)
        rows += [
            _row("Zang 2022", f"{arm}: mean HbA1c, {baseline}", "%", a1c_0, start["mean"], 0.15, start["n"]),
            _row("Zang 2022", f"{arm}: mean HbA1c, {week48}", "%", a1c_48, end["mean"], 0.15, end["n"]),
            _row("Zang 2022", f"{arm}: mean insulin dose change, {week48}", "%", dose_change, dose["mean"], 3,
                 dose["n"]),
            _row("Zang 2022", f"{arm}: HbA1c < 7.0 % with >= 50 % less insulin, {week48}", "%", responder,
                 100 * both["proportion"], 3, both["n"]),
        ]
    return pd.DataFrame(rows)


def comparison_table(n: int = 10_000, seed: int = 0) -> pd.DataFrame:
    return pd.concat([islet_comparison(n, seed), msc_comparison(n, seed)], ignore_index=True)
