"""The simulated islet recipients' CGM before and one year after transplantation, against published ranges.

The islet model (explorer.cohort.synthetic.response_models.IsletModel with islet_cgm's glucose) generates
5-minute readings; `recipient_cgm` computes every CGM metric on them with explorer.clinical (the same code
that reads real data), and `cgm_comparison` sets the medians against what islet recipients and candidates
showed in published CGM studies (`CGM_RANGES`). scripts/islet_recipient_profile.py writes the comparison into
docs/synthetic.md.

Published sources (each Range names its own):
- Paty et al., Diabetes Technol Ther 2006;8:165, PMID 16734547 (Edmonton): brittle T1D without a transplant had a CGM mean
  of 7.7 mmol/L, SD 3.3 and 11.8 % of time below 3.0 mmol/L; C-peptide-positive recipients on insulin 7.8,
  2.0 and 2.4 %; recipients off insulin 6.7, 1.2 and 0 %.
- CIT Consortium candidates (Diabetes Technol Ther 2015, doi:10.1089/dia.2014.0289): a median 97 min/day
  (6.7 %) below 54 mg/dL.
- TRIMECO's glycaemic-variability analysis (PMID 31602530), medians (IQR) before and 6 months after islets: CV 35.2 % (30.6-37.7) -> 17.3 % (12.0-20.5), MAGE 134.9 (111.2-155.8) -> 51.9
  (32.4-62.4) mg/dL, SD 53.9 -> 20.1 mg/dL.
- The Igls criteria (Rickels et al., Transpl Int 2018;31:343, Table 2): time below 54 mg/dL >= 5 % as an
  indication, < 1 % as a goal; CV >= 30 % an indication; time in range > 70 % a goal, time below 70 mg/dL
  < 5 %.
- Kovatchev's LBGI risk bands (Diabetes Technol Ther 2003;5:817; Diabetes Care 2006;29:2433): < 2.5 low,
  2.5-5 moderate, > 5 high risk of severe hypoglycaemia; <= 1.1 minimal.
No study found reports CGM episodes per week for recipients; their two rows are derived from the time below
range above and marked so.
"""

from __future__ import annotations

import pandas as pd

from explorer.clinical.cgm_table import compute_cgm_metrics
from explorer.cohort.synthetic import generate_outcomes
from explorer.cohort.synthetic.enrolment import simulate_outcomes
from explorer.simulation.recipients import Range, islet_eligible, islet_trial

BASELINE, YEAR = "baseline", "m12"
VISITS = {BASELINE: 0, YEAR: 365}

# (visit, metric, range): the median over all simulated recipients at that visit must lie in the range
CGM_RANGES: tuple[tuple[str, str, Range], ...] = (
    (BASELINE, "cgm_mean", Range("mean glucose", "mg/dL", 135, 175,
                                 "7.7 mmol/L (139) brittle T1D, Paty 2006; SD / CV = 153 before islets, TRIMECO; "
                                 "GMI of CIT-07's median HbA1c 7.2 % = 163")),
    (BASELINE, "cgm_cv", Range("glucose CV", "%", 30, 45,
                               "Igls indication >= 30 %; TRIMECO 35.2 % (IQR 30.6-37.7); Paty 2006 43 %")),
    (BASELINE, "tir", Range("time 70-180 mg/dL", "%", None, 70,
                            "below the > 70 % goal (Igls; Battelino 2019), which candidates fail")),
    (BASELINE, "tbr_70", Range("time < 70 mg/dL", "%", 5, None, "at or above the Igls goal of < 5 %")),
    (BASELINE, "tbr_54", Range("time < 54 mg/dL", "%", 5, 12,
                               "Igls indication >= 5 %; CIT candidates 6.7 %; Paty 2006 11.8 % below 3.0 mmol/L")),
    (BASELINE, "lbgi", Range("LBGI", "", 2.5, None, "moderate or high risk (Kovatchev: >= 2.5)")),
    (BASELINE, "mage", Range("MAGE", "mg/dL", 111.2, 155.8, "TRIMECO before islets: IQR 111.2-155.8")),
    (BASELINE, "hypo_70_per_week", Range("episodes < 70 mg/dL", "per week", 4, None,
                                         "derived: >= 5 % of time below 70 mg/dL (8.4 h a week) in episodes "
                                         "of at most 2 h (assumption)")),
    (YEAR, "cgm_mean", Range("mean glucose", "mg/dL", 105, 140,
                             "off insulin 6.7 mmol/L (121), on insulin 7.8 (140), Paty 2006; ~116 at 6 months, "
                             "TRIMECO")),
    (YEAR, "cgm_cv", Range("glucose CV", "%", 12, 26,
                           "TRIMECO 6 months: 17.3 % (IQR 12.0-20.5); Paty 2006: 18 % off and 26 % on insulin")),
    (YEAR, "tir", Range("time 70-180 mg/dL", "%", 70, None, "Igls goal > 70 % (CIT-07: 87.5 % reach the endpoint)")),
    (YEAR, "tbr_70", Range("time < 70 mg/dL", "%", None, 4, "consensus target < 4 % (Battelino 2019); Igls < 5 %")),
    (YEAR, "tbr_54", Range("time < 54 mg/dL", "%", None, 1, "Igls goal < 1 %; Paty 2006: 0 % off insulin")),
    (YEAR, "lbgi", Range("LBGI", "", None, 2.5, "low risk (Kovatchev: < 2.5)")),
    (YEAR, "mage", Range("MAGE", "mg/dL", 32.4, 62.4, "TRIMECO 6 months: IQR 32.4-62.4")),
    (YEAR, "hypo_70_per_week", Range("episodes < 70 mg/dL", "per week", None, 4,
                                     "derived: < 4 % of time below 70 mg/dL (6.7 h a week) in episodes of at "
                                     "least 1.5 h (assumption)")),
)


def recipient_cgm(n: int = 120, seed: int = 3, model="islet", arm: str | None = None) -> pd.DataFrame:
    """Every CGM metric per simulated recipient at baseline and 1 year (explorer.clinical on the readings),
    with the recipient's graft class (`response_class`: full, partial, failing; none in the control arm)."""
    cohort = generate_outcomes(n, model, visits_days=VISITS, seed=seed, arm=arm, cgm_readings=n)
    metrics = compute_cgm_metrics(cohort.cgm, by=["subject_id", "visit"])
    classes = cohort.subjects[["subject_id", "response_class"]]
    return metrics.merge(classes, on="subject_id", how="left")


def screened_recipient_cgm(n_screened: int = 50_000, seed: int = 0) -> pd.DataFrame:
    """As `recipient_cgm`, for everyone a synthetic type 1 clinic of n_screened finds eligible for
    NCT06196996, on the trial's visits: baseline HbA1c, CGM CV and severe-hypoglycaemia rate are theirs."""
    screening, eligible = islet_eligible(n_screened, seed)
    ids = screening.features.index[eligible]
    cohort = simulate_outcomes(islet_trial(), screening, ids, seed=seed, cgm_readings=len(ids))
    metrics = compute_cgm_metrics(cohort.cgm, by=["subject_id", "visit"])
    return metrics.merge(cohort.subjects[["subject_id", "response_class"]], on="subject_id", how="left")


def medians(metrics: pd.DataFrame, by: str | list[str] = "visit") -> pd.DataFrame:
    """Median of every numeric metric per `by` group."""
    return metrics.groupby(by, observed=True).median(numeric_only=True)


def cgm_comparison(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per published range: visit, measure, unit, published, synthetic median, within, source."""
    table = medians(metrics)
    rows = []
    for visit, metric, r in CGM_RANGES:
        value = float(table.loc[visit, metric])
        rows.append({"visit": visit, "measure": r.measure, "unit": r.unit, "published": r.text(),
                     "synthetic": round(value, 2), "within": r.holds(value), "source": r.source})
    return pd.DataFrame(rows)
