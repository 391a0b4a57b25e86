"""Published versus simulated: how close the outcome models come to the trials they are calibrated on.

Each function simulates n enrolled subjects with a model's default baseline population and returns rows
(study, measure, published, simulated, tolerance, within). The tolerance is what we accept for a
10,000-subject run; smaller runs add sampling error (tests use n ~ 1,000 with wider margins).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.cohort.synthetic.outcomes import simulate_enrolled
from explorer.cohort.synthetic.response_models import IsletModel, MscModel

STIMULATED_CPEPTIDE_POSITIVE = 0.1  # nmol/L, ~0.3 ng/mL: the CIT definition of a functioning graft


def _row(study, measure, published, simulated, tolerance, unit=""):
    return {"study": study, "measure": measure, "unit": unit, "published": published,
            "simulated": round(float(simulated), 3), "tolerance": tolerance,
            "within": bool(abs(float(simulated) - published) <= tolerance)}


def _events_between(traj, event: str, n: int, first: int, last: int) -> np.ndarray:
    subject, day, _ = traj.events[event]
    keep = (day >= first) & (day <= last)
    return np.bincount(subject[keep], minlength=n)


def islet_cit07(n: int = 10_000, seed: int = 0, model: IsletModel | None = None) -> pd.DataFrame:
    """CIT-07 (Hering et al., Diabetes Care 2016;39:1230; long-term SAE rate: Rickels et al., Diabetes Care
    2022;45:2967)."""
    model = model or IsletModel()
    days = np.array([0, 28, 365, 730])
    _, traj, _ = simulate_enrolled(model, n, days, seed)
    a1c = traj.values["hba1c"]
    she_1y = _events_between(traj, "severe_hypoglycemia", n, 28, 365)
    she_2y = _events_between(traj, "severe_hypoglycemia", n, 28, 730)
    subj, day, grade = traj.events["serious_adverse_event"]
    procedure = np.zeros(n, bool)
    procedure[subj[day <= 3]] = True
    return pd.DataFrame([
        _row("CIT-07", "HbA1c < 7.0 % and no SHE (day 28-365) at 1 year", 87.5, 100 * np.mean((a1c[:, 2] < 7) & (she_1y == 0)), 5, "%"),
        _row("CIT-07", "same endpoint at 2 years (day 28-730)", 71.0, 100 * np.mean((a1c[:, 3] < 7) & (she_2y == 0)), 6, "%"),
        _row("CIT-07", "median HbA1c at 1 year", 5.6, np.median(a1c[:, 2]), 0.2, "%"),
        _row("CIT-07", "median HbA1c at 2 years", 5.6, np.median(a1c[:, 3]), 0.25, "%"),
        _row("CIT-07", "bleeding needing transfusion (recipients)", 10.4, 100 * procedure.mean(), 2, "%"),
        _row("CIT-07/08 long-term", "serious adverse events per patient-year", 0.31, len(subj) / (n * 730 / 365.25), 0.06),
    ])


def islet_edmonton(n: int = 10_000, seed: int = 0, model: IsletModel | None = None) -> pd.DataFrame:
    """Edmonton 5-year follow-up (Ryan et al., Diabetes 2005;54:2060)."""
    model = model or IsletModel.edmonton()
    months = np.arange(0, 61)
    days = np.rint(months * 30.44).astype(int)
    _, traj, _ = simulate_enrolled(model, n, days, seed)
    dose = traj.values["insulin_dose"]
    fasting, post = traj.values["fasting_cpeptide"], traj.values["postmeal_cpeptide"]
    base_dose = traj.baseline["insulin_dose"]
    off = dose == 0
    positive = post >= STIMULATED_CPEPTIDE_POSITIVE
    ever_off = off[:, 1:].any(axis=1)
    months_off = off[:, 1:].sum(axis=1)
    a1c5 = traj.values["hba1c"][:, -1]
    on_with_cp = ~off[:, -1] & positive[:, -1]
    lost = ~positive[:, -1]
    later = slice(6, None)  # after engraftment
    increment = post - fasting
    return pd.DataFrame([
        _row("Edmonton", "C-peptide positive at 5 years", 80.0, 100 * positive[:, -1].mean(), 6, "%"),
        _row("Edmonton", "insulin independent at 5 years", 10.0, 100 * off[:, -1].mean(), 4, "%"),
        _row("Edmonton", "median duration of insulin independence", 15.0, np.median(months_off[ever_off]), 3, "months"),
        _row("Edmonton", "HbA1c at 5 y off insulin", 6.4, np.median(a1c5[off[:, -1]]), 0.3, "%"),
        _row("Edmonton", "HbA1c at 5 y on insulin with C-peptide", 6.7, np.median(a1c5[on_with_cp]), 0.3, "%"),
        _row("Edmonton", "HbA1c at 5 y after graft loss", 9.0, np.median(a1c5[lost]) if lost.any() else np.nan, 0.8, "%"),
        _row("Edmonton", "meal C-peptide increment off insulin", 0.76, increment[:, later][off[:, later]].mean(), 0.08, "nmol/L"),
        _row("Edmonton", "meal C-peptide increment on insulin (graft functioning)", 0.44,
             increment[:, later][~off[:, later] & positive[:, later]].mean(), 0.08, "nmol/L"),
        _row("Edmonton", "insulin dose back on insulin with C-peptide, share of pre-transplant", 0.5,
             np.median((dose[:, -1] / base_dose)[on_with_cp]), 0.12),
    ])


def msc_zang2022(n: int = 10_000, seed: int = 0, model: MscModel | None = None) -> pd.DataFrame:
    """UC-MSC phase II RCT (Zang et al., Stem Cell Res Ther 2022; NCT02302599), 1:1, 48 weeks."""
    model = model or MscModel()
    days = np.array([0, 336])
    arms, traj, _ = simulate_enrolled(model, n, days, seed, arm="random")
    a1c, dose, kitt = traj.values["hba1c"], traj.values["insulin_dose"], traj.values["kitt"]
    base_dose = traj.baseline["insulin_dose"]
    rows = []
    published = {"msc": (9.02, 7.52, 1.07, 27.78, 20.0, 52.6), "placebo": (8.89, 8.19, 1.02, 15.62, 4.55, 10.4)}
    for arm, (a0, a48, sd48, red, resp, gir) in published.items():
        sel = arms == arm
        reduction = 100 * (1 - dose[sel, 1] / base_dose[sel])
        responder = (a1c[sel, 1] < 7.0) & (dose[sel, 1] <= 0.5 * base_dose[sel])
        rows += [
            _row("Zang 2022", f"{arm}: HbA1c at baseline", a0, a1c[sel, 0].mean(), 0.15, "%"),
            _row("Zang 2022", f"{arm}: HbA1c at 48 weeks", a48, a1c[sel, 1].mean(), 0.15, "%"),
            _row("Zang 2022", f"{arm}: SD of HbA1c at 48 weeks", sd48, a1c[sel, 1].std(), 0.15, "%"),
            _row("Zang 2022", f"{arm}: insulin dose reduction", red, reduction.mean(), 3, "%"),
            _row("Zang 2022", f"{arm}: HbA1c < 7 % with >= 50 % less insulin", resp, 100 * responder.mean(), 3, "%"),
            _row("Zang 2022", f"{arm}: insulin sensitivity change (GIR; simulated KITT)", gir,
                 100 * np.mean(kitt[sel, 1] / kitt[sel, 0] - 1), 6, "%"),
        ]
    return pd.DataFrame(rows)


def calibration_table(n: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """All published-versus-simulated rows."""
    return pd.concat([islet_cit07(n, seed), islet_edmonton(n, seed), msc_zang2022(n, seed)], ignore_index=True)
