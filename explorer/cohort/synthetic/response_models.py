"""Treatment-response models for enrolled subjects: islet transplantation and mesenchymal stromal cells.

Each model turns baseline values and an arm into daily latent trajectories, and those into what a trial
measures at its visits (HbA1c, CGM, C-peptide, serum insulin, insulin and oral-agent doses, glucose, KITT,
weight) plus dated events (severe hypoglycaemia, serious adverse events with a grade).

Islet (`IsletModel`): a graft-function index G(t) in [0, 1] per subject, 1 = enough for insulin independence
with normal glycaemia. Subjects belong to a class - full, partial or failing function - with a peak, an
engraftment time constant and a yearly loss rate drawn per subject (failing grafts also lose function
abruptly after a failure day). Insulin need, C-peptide, glycaemia, glucose variability and the rate of
severe hypoglycaemia all follow G(t); HbA1c follows glycaemia with a ~40-day lag. Defaults are calibrated to
CIT-07 (Hering et al., Diabetes Care 2016;39:1230); `IsletModel.edmonton()` to the Edmonton 5-year
follow-up (Ryan et al., Diabetes 2005;54:2060).

MSC (`MscModel`): a per-subject response r ~ Gamma (mean 1) scales the effect of UC-MSC on glycaemia,
insulin need and insulin sensitivity; both arms share a trial effect (closer follow-up, adherence) that
looks like a placebo response. Calibrated to Zang et al., Stem Cell Res Ther 2022;13:180 (48 weeks).

docs/synthetic.md reports how close a 10,000-subject simulation comes to each published figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from explorer.clinical.homa import homa_ir
from explorer.cohort.synthetic import cgm, islet_cgm
from explorer.cohort.synthetic.shared_variables import censor_low, estimated_average_glucose_mmol
from explorer.cohort.synthetic.streams import Streams

DAYS_PER_YEAR = 365.25
HBA1C_LAG_DAYS = 40.0  # HbA1c reflects ~8-12 weeks of glycaemia; first-order lag (assumption)
KITT_TEST_CV = 0.13    # within-subject CV of the short ITT (Gelding et al., Diabet Med 1993)
CPEPTIDE_LIMIT = 0.017


@dataclass
class Trajectories:
    """Per-visit values (subjects x visits), dated events, and each subject's latent response class."""

    values: dict[str, np.ndarray]
    events: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # subject, day, severity
    response_class: np.ndarray
    cgm_inputs: dict[str, np.ndarray] = field(default_factory=dict)  # mean, cv, active per visit (readings)
    baseline: dict[str, np.ndarray] = field(default_factory=dict)    # the baseline values the model started from


# --- shared pieces ----------------------------------------------------------------------------------

def hba1c_path(eq: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Daily HbA1c following the daily equilibrium `eq` (subjects x days) with a first-order lag."""
    out = np.empty_like(eq)
    current = start.astype(float).copy()
    step = 1.0 / HBA1C_LAG_DAYS
    for t in range(eq.shape[1]):
        current += (eq[:, t] - current) * step
        out[:, t] = current
    return out


def daily_events(s: Streams, name: str, daily_rate: np.ndarray, first_day: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events from daily rates (events/day; subjects x days): (subject, day) of each event."""
    counts = s(name).poisson(np.clip(daily_rate[:, first_day:], 0, None))
    subject, day = np.nonzero(counts)
    reps = counts[subject, day]
    return np.repeat(subject, reps).astype(np.int64), (np.repeat(day, reps) + first_day).astype(np.int64)


def severities(s: Streams, name: str, k: int, probabilities: tuple[float, ...]) -> np.ndarray:
    """Grades 3..(2 + len(probabilities)) (CTCAE: a serious adverse event is grade 3 or worse)."""
    return 3 + s(name).choice(len(probabilities), size=k, p=np.asarray(probabilities) / sum(probabilities))


def cgm_at_visits(s: Streams, glycaemia_a1c: np.ndarray, gap: np.ndarray, cv: np.ndarray,
                  out: dict[str, np.ndarray], inputs: dict[str, np.ndarray],
                  low_tail: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """CGM metrics of the 14 days before each visit from current glycaemia (as HbA1c-equivalent) and CV.

    `gap` is the GMI minus HbA1c: per subject, or per subject and visit. With `low_tail` = (dip, floor)
    (subjects x visits: the share of time in hypoglycaemic dips, and the glucose floor of the rest) glucose
    is islet_cgm's mixture, otherwise Gamma(mean, CV)."""
    gap = gap if gap.ndim == 2 else gap[:, None]
    mean = np.clip(cgm.mean_from_gmi(glycaemia_a1c + gap), 70, 350)
    cv = np.clip(cv, 14, 65)
    if low_tail is None:
        metrics = cgm.summary_metrics(mean, cv)
    else:
        metrics = islet_cgm.summary_metrics(mean, cv, *low_tail)
        inputs.update(dip=low_tail[0], floor=low_tail[1])
    active = 100 * np.clip(s("cgm_active").beta(12.0, 1.0, size=mean.shape), 0.3, 1.0)
    for name, values in metrics.items():
        out[name] = np.round(values, 1)
    out["cgm_active"] = np.round(active, 1)
    inputs.update(mean=mean, cv=cv, active=np.round(active, 1))


def serum_insulin(cpeptide_nmol: np.ndarray, exogenous: np.ndarray, molar_ratio: float = 8.0) -> np.ndarray:
    """microU/mL: endogenous (C-peptide pmol/L / molar ratio / 6 pmol per microU) plus injected insulin."""
    return np.clip(cpeptide_nmol * 1000 / molar_ratio / 6 + exogenous, 0.5, 1000)


def visit_homa_ir(values: dict[str, np.ndarray]) -> np.ndarray:
    """HOMA-IR at each visit by the one rule of explorer.clinical.homa: NaN (not derived) at visits where the
    subject injects insulin, whose serum insulin is then partly exogenous."""
    on_insulin = values["insulin_dose"] > 0
    glucose, insulin = values["fasting_glucose"], values["fasting_insulin"]
    homa = homa_ir(glucose.ravel(), insulin.ravel(), on_insulin.ravel()).reshape(on_insulin.shape)
    return np.round(np.clip(homa, 0, 100), 2)


# --- islet transplantation --------------------------------------------------------------------------

@dataclass(frozen=True)
class GraftClass:
    share: float
    peak_mean: float          # peak graft function (Beta mean)
    peak_sd: float
    loss_rate_median: float   # per year (lognormal across subjects)
    loss_rate_sd_log: float
    failure_day_range: tuple[int, int] | None = None  # failing grafts: abrupt loss starting in this window


@dataclass(frozen=True)
class IsletModel:
    """Islet graft function with heterogeneity; see the module docstring. Defaults: CIT-07 calibration."""

    name: str = "islet"
    arms: tuple[str, ...] = ("islet", "control")
    classes: tuple[tuple[str, GraftClass], ...] = (
        ("full", GraftClass(0.66, 0.95, 0.03, 0.10, 0.6)),
        ("partial", GraftClass(0.25, 0.55, 0.12, 0.30, 0.6)),
        ("failing", GraftClass(0.09, 0.45, 0.15, 0.30, 0.6, (60, 600))),
    )
    engraftment_days: float = 21.0            # function builds over weeks (1-3 infusions, assumption)
    failure_rate_per_year: float = 5.0        # after the failure day a failing graft is lost in months
    independence_threshold: float = 0.75      # G at which insulin can be stopped (assumption)
    insulin_exponent: float = 0.7             # dose / baseline = (1 - G / threshold) ** exponent: half at G ~ 0.5
    hba1c_floor: float = 5.4                  # gives the median HbA1c of 5.6 % at 1 and 2 years (Hering 2016)
    graft_loss_hba1c_excess: float = 0.0      # HbA1c above baseline once a graft is lost (per unit of function lost)
    hba1c_floor_sd: float = 0.25
    hba1c_exponent: float = 1.6
    fasting_cpeptide_full: float = 0.6        # nmol/L with a full graft (assumption)
    meal_increment_full: float = 0.88         # nmol/L: 0.76 off insulin vs 0.44 on insulin (Ryan 2005)
    sh_exponent: float = 4.0                  # SHE rate x (1 - G) ** 4: even partial function protects
    # glucose CV = cv_with_graft + (baseline CV - cv_with_graft) x (1 - G) ** cv_exponent: 17 % with a full
    # graft (TRIMECO, 6 months: median 17.3 %, PMID 31602530; Edmonton off insulin: SD
    # 1.2 at 6.7 mmol/L = 18 %, Paty 2006); on insulin with a partial graft 26 % (2.0 at 7.8 mmol/L) against
    # 43 % without one (3.3 at 7.7): 17 + 26 x 0.5 ** 1.5 = 26
    cv_with_graft: float = 17.0
    cv_exponent: float = 1.5
    # CGM hypoglycaemia (explorer.cohort.synthetic.islet_cgm): the share of time in hypoglycaemic dips is the
    # baseline share x (1 - G) ** dip_exponent. Edmonton's C-peptide-positive recipients still on insulin
    # (G ~ 0.5) spent 2.4 % of CGM time below 3.0 mmol/L against 11.8 % without a transplant, and those off
    # insulin 0 % (Paty et al., Diabetes Technol Ther 2006;8:165): 0.5 ** 2.3 = 0.20 = 2.4 / 11.8. Partial
    # function is enough to abolish most hypoglycaemia (Vantyghem et al., JCEM 2012;97:E2078: beta-score > 3).
    dip_exponent: float = 2.3
    # median share of time in dips and SD of its log: with the mixture's other part this gives a median 6-7 %
    # of time below 54 mg/dL at baseline, as in the CIT Consortium's candidates (97 min/day; Diabetes Technol
    # Ther 2015, doi:10.1089/dia.2014.0289) and within the >= 5 % the Igls report names as an indication (Rickels et al., Transpl
    # Int 2018;31:343, Table 2)
    baseline_dip: tuple[float, float] = (0.12, 0.5)
    # HbA1c reads low against CGM glucose in recipients (anaemia and drugs under immunosuppression: the Igls
    # report advises mean glucose instead of HbA1c then; Rickels 2018): GMI = HbA1c + gap + this x G. 0.7
    # puts full-graft CGM means at ~115-120 mg/dL, as measured in insulin-independent recipients (6.7 mmol/L,
    # Paty 2006; SD 20.1 mg/dL at CV 17.3 % = ~116 mg/dL, TRIMECO, PMID 31602530), while
    # HbA1c stays at CIT-07's median 5.6 % (assumption: the GMI-HbA1c gap grows with graft function)
    graft_gmi_gap: float = 0.7
    # glucose floor (mg/dL) of the non-dip readings with a full graft, x G (islet_cgm): a working graft stops
    # secreting as glucose falls, so off insulin the daily lows average 81 mg/dL and no time is spent below
    # 54 mg/dL (Paty 2006). Assumption: 50 mg/dL leaves full grafts a median < 1 % of readings below 70 mg/dL
    graft_glucose_floor: float = 50.0
    procedure_sae: float = 0.104              # bleeds needing transfusion in 10.4 % (Hering 2016)
    sae_rate_per_year: float = 0.25           # immunosuppression-related; with procedures ~0.31/patient-year (Rickels et al., Diabetes Care 2022)
    sae_grades: tuple[float, ...] = (0.75, 0.22, 0.03)  # grades 3, 4, 5
    immunosuppression_kitt_effect: float = -0.12  # tacrolimus/sirolimus reduce insulin sensitivity (assumption)
    weight_change: float = -0.03              # fraction by 6 months (immunosuppression GI effects; assumption)
    control_hba1c_drift: float = -0.2         # standard care in a trial (assumption)
    control_sh_factor: float = 0.8
    baseline_hba1c: tuple[float, float] = (7.3, 0.9)   # CIT-07-like recipients (median 7.2 %; Hering 2016)
    baseline_sh_rate: tuple[float, float] = (3.0, 0.6)  # median SHE per year, SD of log (assumption)
    baseline_insulin_per_kg: tuple[float, float] = (0.55, 0.25)
    baseline_weight: tuple[float, float] = (68.0, 11.0)
    # brittle T1D: high glucose variability; CV median 35.2 % (IQR 30.6-37.7) before islets in TRIMECO (PMID
    # 31602530), 43 % (SD 3.3 at 7.7 mmol/L) in Edmonton's brittle T1D (Paty 2006)
    baseline_cv: tuple[float, float] = (37.0, 5.0)
    default_visits: tuple[tuple[str, int], ...] = (("baseline", 0), ("m1", 30), ("m3", 91), ("m6", 182),
                                                   ("m9", 274), ("m12", 365))
    diabetes_type: str = "T1D"

    @classmethod
    def edmonton(cls) -> IsletModel:
        """The Edmonton protocol's 5-year course (Ryan et al. 2005): most became insulin independent, for a
        median of 15 months; at 5 years ~80 % C-peptide positive, ~10 % insulin independent."""
        return cls(
            name="islet_edmonton",
            classes=(("full", GraftClass(0.84, 0.92, 0.04, 0.16, 1.1)),
                     ("partial", GraftClass(0.08, 0.55, 0.12, 0.30, 0.6)),
                     ("failing", GraftClass(0.08, 0.45, 0.15, 0.30, 0.6, (90, 900)))),
            hba1c_floor=6.3, hba1c_exponent=2.5,  # 6.4 % off insulin, 6.7 % back on insulin (Ryan 2005)
            procedure_sae=15 / 128 * 2,  # bleeding in 15 of 128 procedures, ~2 procedures per patient
            # HbA1c 9.0 % after graft loss, above the pre-transplant level (Ryan 2005); assumption that
            # reproduces it
            graft_loss_hba1c_excess=2.2, baseline_hba1c=(7.6, 1.0),
            default_visits=tuple((f"m{m}", int(round(m * 30.44))) for m in range(0, 61, 3)),
        )

    @property
    def active_arm(self) -> str:
        return self.arms[0]

    def draw_baseline(self, s: Streams, n: int) -> dict[str, np.ndarray]:
        z = s("baseline").standard_normal((6, n))
        weight = np.clip(self.baseline_weight[0] + self.baseline_weight[1] * z[0], 40, 130)
        height = np.clip(166 + 8 * z[5], 145, 195)
        return {
            "hba1c": np.round(np.clip(self.baseline_hba1c[0] + self.baseline_hba1c[1] * z[1], 6.0, 12), 1),
            "sh_rate": self.baseline_sh_rate[0] * np.exp(self.baseline_sh_rate[1] * z[2]),
            "insulin_dose": np.round(weight * np.clip(self.baseline_insulin_per_kg[0]
                                                       * np.exp(self.baseline_insulin_per_kg[1] * z[3]), 0.2, 1.5), 1),
            "weight": np.round(weight, 1), "height": np.round(height, 1),
            "cgm_cv": np.clip(self.baseline_cv[0] + self.baseline_cv[1] * z[4], 25, 60),
            "cgm_dip": np.clip(self.baseline_dip[0] * np.exp(self.baseline_dip[1]
                                                             * s("baseline_cgm_dip").standard_normal(n)), 0.01, 0.4),
            "fasting_cpeptide": np.full(n, CPEPTIDE_LIMIT / 2), "postmeal_cpeptide": np.full(n, CPEPTIDE_LIMIT / 2),
            "kitt": np.round(3.8 * np.exp(0.25 * s("baseline_kitt").standard_normal(n)), 2),
            "ogld_dose": np.zeros(n),
        }

    def graft_function(self, s: Streams, n: int, days: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """G (subjects x days) and each subject's class name ('none' for the control arm)."""
        names = [c[0] for c in self.classes]
        shares = np.array([c[1].share for c in self.classes])
        cls = np.minimum(np.searchsorted(np.cumsum(shares / shares.sum()), s("graft_class").random(n), side="right"),
                         len(names) - 1)
        z = s("graft").standard_normal((2, n))
        u = s("graft_failure_day").random(n)
        peak, rate, fail_day = np.zeros(n), np.zeros(n), np.full(n, np.inf)
        for k, (_, g) in enumerate(self.classes):
            sel = cls == k
            a, b = _beta_params(g.peak_mean, g.peak_sd)
            peak[sel] = _beta_quantile(a, b, z[0, sel])
            rate[sel] = g.loss_rate_median * np.exp(g.loss_rate_sd_log * z[1, sel])
            if g.failure_day_range is not None:
                lo, hi = g.failure_day_range
                fail_day[sel] = lo + u[sel] * (hi - lo)
        t = days[None, :].astype(float)
        ramp = 1 - np.exp(-t / self.engraftment_days)
        decay = np.exp(-rate[:, None] * t / DAYS_PER_YEAR)
        abrupt = np.exp(-self.failure_rate_per_year * np.clip(t - fail_day[:, None], 0, None) / DAYS_PER_YEAR)
        g = peak[:, None] * ramp * decay * abrupt
        g[~active] = 0.0
        label = np.where(active, np.array(names)[cls], "none")
        return g, label

    def simulate(self, base: dict[str, np.ndarray], active: np.ndarray, visit_days: np.ndarray,
                 s: Streams) -> Trajectories:
        n, horizon = len(active), int(visit_days.max()) + 1
        days = np.arange(horizon)
        g, label = self.graft_function(s, n, days, active)
        gv = g[:, visit_days]
        z = s("subject_effects").standard_normal((4, n))
        floor = self.hba1c_floor + self.hba1c_floor_sd * z[0]
        drift = np.where(active, 0.0, self.control_hba1c_drift)
        b = base["hba1c"]
        lost = np.clip(np.maximum.accumulate(g, axis=1) - g, 0, None)  # function lost since its peak
        eq = floor[:, None] + (b - floor)[:, None] * (1 - g) ** self.hba1c_exponent \
            + self.graft_loss_hba1c_excess * lost * (1 - g) ** 4 + drift[:, None] * np.minimum(days / 90.0, 1)[None, :]
        a1c = hba1c_path(eq, b)
        noise = s("visit_noise").standard_normal((8, n, len(visit_days)))
        values: dict[str, np.ndarray] = {}
        values["hba1c"] = np.round(a1c[:, visit_days] + 0.1 * noise[0], 1)

        need = np.where(g >= self.independence_threshold, 0.0,
                        np.clip(1 - g / self.independence_threshold, 0, 1) ** self.insulin_exponent)
        need_v = need[:, visit_days]
        dose = base["insulin_dose"][:, None] * need_v * np.exp(0.08 * noise[1])
        values["insulin_dose"] = np.round(np.where(need_v == 0, 0.0, dose), 1)

        size = np.exp(0.25 * z[1])  # how much C-peptide this subject's graft secretes
        fcp = base["fasting_cpeptide"][:, None] + gv * self.fasting_cpeptide_full * size[:, None] * np.exp(0.15 * noise[2])
        pcp = fcp + gv * self.meal_increment_full * size[:, None] * np.exp(0.15 * noise[3])
        values["fasting_cpeptide"] = censor_low(np.round(fcp, 3), CPEPTIDE_LIMIT)
        values["postmeal_cpeptide"] = censor_low(np.round(pcp, 3), CPEPTIDE_LIMIT)

        current = eq[:, visit_days]  # glycaemia now, as an HbA1c equivalent
        eag = estimated_average_glucose_mmol(current)
        fpg = 0.9 * eag + (2.0 * (1 - gv) + 0.4) * noise[4]
        values["fasting_glucose"] = np.round(np.clip(fpg, 2.5, 30), 1)
        ppg = values["fasting_glucose"] + 1.0 + 4.0 * (1 - gv) + (1.5 * (1 - gv) + 0.6) * noise[5]
        values["postmeal_glucose"] = np.round(np.clip(ppg, 2.5, 35), 1)
        exo = 0.25 * values["insulin_dose"] * np.exp(0.4 * noise[6])
        values["fasting_insulin"] = np.round(serum_insulin(values["fasting_cpeptide"], exo), 1)
        values["postmeal_insulin"] = np.round(serum_insulin(values["postmeal_cpeptide"], 2.5 * exo, 6.0), 1)
        values["homa_ir"] = visit_homa_ir(values)

        on_treatment = active[:, None] * np.minimum(visit_days / 30.0, 1)[None, :]
        values["kitt"] = np.round(base["kitt"][:, None] * (1 + self.immunosuppression_kitt_effect * on_treatment)
                                  * np.exp(KITT_TEST_CV * noise[7]), 2)
        weight = base["weight"][:, None] * (1 + self.weight_change * active[:, None]
                                            * np.minimum(visit_days / 182.0, 1)[None, :])
        values["weight"] = np.round(weight + 0.8 * s("weight_noise").standard_normal(weight.shape), 1)
        values["bmi"] = np.round(values["weight"] / (base["height"][:, None] / 100) ** 2, 1)
        values["insulin_dose_per_kg"] = np.round(values["insulin_dose"] / values["weight"], 3)
        values["ogld_dose"] = np.repeat(base["ogld_dose"][:, None], len(visit_days), axis=1)

        cv = self.cv_with_graft + (base["cgm_cv"][:, None] - self.cv_with_graft) * (1 - gv) ** self.cv_exponent \
            + 2.0 * z[2][:, None]
        dip = base["cgm_dip"][:, None] * (1 - gv) ** self.dip_exponent
        inputs: dict[str, np.ndarray] = {}
        cgm_at_visits(s, current, 0.4 * z[3][:, None] + self.graft_gmi_gap * gv, cv, values, inputs,
                      (dip, self.graft_glucose_floor * gv))

        sh_factor = np.where(active, 1.0, self.control_sh_factor)
        sh_daily = (base["sh_rate"] * sh_factor)[:, None] * (1 - g) ** self.sh_exponent / DAYS_PER_YEAR
        sh = daily_events(s, "severe_hypoglycemia", sh_daily)
        events = {"severe_hypoglycemia": (*sh, None)}
        events["serious_adverse_event"] = self._adverse_events(s, active, horizon)
        return Trajectories(values, events, label, inputs)

    def _adverse_events(self, s: Streams, active: np.ndarray, horizon: int):
        n = len(active)
        procedure = active & (s("procedure_sae").random(n) < self.procedure_sae)
        p_subject = np.flatnonzero(procedure)
        p_day = s("procedure_sae_day").integers(1, 4, size=len(p_subject))
        rate = np.where(active, self.sae_rate_per_year, 0.10) / DAYS_PER_YEAR
        o_subject, o_day = daily_events(s, "sae", np.broadcast_to(rate[:, None], (n, horizon)))
        subject = np.concatenate([p_subject, o_subject])
        day = np.concatenate([p_day, o_day])
        grade = np.concatenate([np.full(len(p_subject), 3),
                                severities(s, "sae_grade", len(o_subject), self.sae_grades)])
        keep = day < horizon
        return subject[keep], day[keep], grade[keep]


# --- mesenchymal stromal cells ----------------------------------------------------------------------

@dataclass(frozen=True)
class MscModel:
    """UC-MSC infusions in insulin-treated type 2 diabetes; defaults calibrated to Zang et al. 2022."""

    name: str = "msc"
    arms: tuple[str, ...] = ("msc", "placebo")
    response_shape: float = 2.0          # Gamma shape of the per-subject response (mean 1, CV 71 %)
    trial_hba1c_effect: float = 0.70     # placebo arm: 8.89 -> 8.19 % at 48 weeks (Zang 2022)
    msc_hba1c_effect: float = 0.78       # MSC arm: 9.02 -> 7.52 %
    regression_to_mean: float = 0.40     # higher baseline HbA1c, larger fall (fits the published end SDs 1.07 / 1.02)
    trial_insulin_reduction: float = 0.156  # placebo: mean -15.6 % (Zang 2022)
    msc_insulin_effect: float = 0.163    # log-scale, per unit response: E[exp(-0.163 r)] = 0.855 -> MSC mean -27.8 %
    benefit_sd_hba1c: float = 0.60       # between-subject SD of the HbA1c change not explained by arm (fitted)
    benefit_sd_insulin: float = 0.60     # between-subject SD of the log insulin ratio (fitted)
    benefit_correlation: float = 0.90    # who improves glycaemia also cuts insulin (fits 20 % / 4.6 % responders)
    trial_kitt_effect: float = 0.10     # GIR 3.26 -> 3.60 mg/min/kg (+10 %) in placebo
    msc_kitt_effect: float = 0.42        # GIR 3.12 -> 4.76 (+53 %) with MSC; KITT moves with clamp GIR
    onset_days: float = 75.0             # three infusions at 4-week intervals; effects build over months
    glycaemia_onset_days: float = 45.0
    sae_rate_per_year: float = 0.10      # no treatment-related SAEs; background hospitalisations (assumption)
    sae_grades: tuple[float, ...] = (0.85, 0.13, 0.02)
    sh_rate_per_year: float = 0.12       # insulin-treated T2D (UK Hypoglycaemia Study Group 2007)
    baseline_hba1c: tuple[float, float] = (8.95, 1.2)    # 9.02 +- 1.27 and 8.89 +- 1.11 (Zang 2022)
    baseline_insulin_per_kg: tuple[float, float] = (0.6, 0.35)
    baseline_weight: tuple[float, float] = (70.0, 11.0)
    baseline_kitt: tuple[float, float] = (2.1, 0.3)      # insulin resistant by the entry criterion (assumption)
    baseline_cpeptide: tuple[float, float] = (0.45, 0.5)
    default_visits: tuple[tuple[str, int], ...] = (("baseline", 0), ("w4", 28), ("w12", 84), ("w24", 168),
                                                   ("w36", 252), ("w48", 336), ("w52", 364))
    diabetes_type: str = "T2D"

    @property
    def active_arm(self) -> str:
        return self.arms[0]

    def draw_baseline(self, s: Streams, n: int) -> dict[str, np.ndarray]:
        z = s("baseline").standard_normal((7, n))
        weight = np.clip(self.baseline_weight[0] + self.baseline_weight[1] * z[0], 45, 130)
        cp = self.baseline_cpeptide[0] * np.exp(self.baseline_cpeptide[1] * z[4])
        return {
            "hba1c": np.round(np.clip(self.baseline_hba1c[0] + self.baseline_hba1c[1] * z[1], 7.0, 13), 1),
            "insulin_dose": np.round(weight * self.baseline_insulin_per_kg[0]
                                     * np.exp(self.baseline_insulin_per_kg[1] * z[2]), 1),
            "weight": np.round(weight, 1), "height": np.round(np.clip(166 + 8 * z[6], 145, 195), 1),
            "kitt": np.round(self.baseline_kitt[0] * np.exp(self.baseline_kitt[1] * z[3]), 2),
            "fasting_cpeptide": np.round(cp, 3), "postmeal_cpeptide": np.round(cp * 2.5 * np.exp(0.3 * z[5]), 3),
            "ogld_dose": s("baseline_ogld").choice(np.array([0.0, 50, 100, 150, 200]), p=[0.2, 0.3, 0.25, 0.15, 0.1],
                                                   size=n),
            "sh_rate": np.full(n, self.sh_rate_per_year), "cgm_cv": np.full(n, 32.0),
        }

    def simulate(self, base: dict[str, np.ndarray], active: np.ndarray, visit_days: np.ndarray,
                 s: Streams) -> Trajectories:
        n = len(active)
        horizon = int(visit_days.max()) + 1
        r = np.where(active, s("response").gamma(self.response_shape, 1 / self.response_shape, n), 0.0)
        z = s("benefit").standard_normal((3, n))
        rho = self.benefit_correlation
        e_a1c = self.benefit_sd_hba1c * z[0]
        e_ins = self.benefit_sd_insulin * (rho * z[0] + np.sqrt(1 - rho * rho) * z[1])
        b = base["hba1c"]
        mean_b = np.nanmean(b) if n else 0.0
        fall = self.trial_hba1c_effect + self.msc_hba1c_effect * r + self.regression_to_mean * (b - mean_b) - e_a1c
        # the trial effect is a mean reduction: take the lognormal spread out of the log-scale intercept
        log_ratio = np.log(1 - self.trial_insulin_reduction) - self.benefit_sd_insulin ** 2 / 2 \
            - self.msc_insulin_effect * r + e_ins
        t = visit_days[None, :].astype(float)
        f_a1c = 1 - np.exp(-t / (self.onset_days + HBA1C_LAG_DAYS / 2))
        f_now = 1 - np.exp(-t / self.glycaemia_onset_days)
        f_ins = 1 - np.exp(-t / self.onset_days)
        noise = s("visit_noise").standard_normal((9, n, len(visit_days)))

        values: dict[str, np.ndarray] = {}
        values["hba1c"] = np.round(np.clip(b[:, None] - fall[:, None] * f_a1c + 0.12 * noise[0], 4.5, 16), 1)
        current = np.clip(b[:, None] - fall[:, None] * f_now, 4.5, 16)
        ratio = np.exp(log_ratio[:, None] * f_ins + 0.04 * noise[1])
        values["insulin_dose"] = np.round(base["insulin_dose"][:, None] * ratio, 1)
        kitt_gain = (self.trial_kitt_effect + self.msc_kitt_effect * r)[:, None] * f_ins
        values["kitt"] = np.round(base["kitt"][:, None] * (1 + kitt_gain) * np.exp(KITT_TEST_CV * noise[2]), 2)
        # beta-cell function did not change in either arm (Zang 2022): C-peptide varies around baseline
        values["fasting_cpeptide"] = censor_low(np.round(base["fasting_cpeptide"][:, None] * np.exp(0.15 * noise[3]), 3),
                                                CPEPTIDE_LIMIT)
        values["postmeal_cpeptide"] = censor_low(np.round(base["postmeal_cpeptide"][:, None] * np.exp(0.15 * noise[4]), 3),
                                                 CPEPTIDE_LIMIT)
        fpg = 0.93 * estimated_average_glucose_mmol(current) + 1.2 * noise[5]
        values["fasting_glucose"] = np.round(np.clip(fpg, 3.0, 30), 1)
        values["postmeal_glucose"] = np.round(np.clip(values["fasting_glucose"] + 4.0 + 1.8 * noise[6], 3.5, 35), 1)
        exo = 0.2 * values["insulin_dose"]
        # better insulin sensitivity: less insulin secreted for the same glucose
        sens = 1 + kitt_gain
        values["fasting_insulin"] = np.round(serum_insulin(values["fasting_cpeptide"] / np.sqrt(sens), exo), 1)
        values["postmeal_insulin"] = np.round(serum_insulin(values["postmeal_cpeptide"] / np.sqrt(sens), 2.0 * exo, 6.4), 1)
        values["homa_ir"] = visit_homa_ir(values)
        ogld = base["ogld_dose"][:, None] * (1 - np.clip(0.15 * r[:, None] * f_ins, 0, 0.5))
        values["ogld_dose"] = 25 * np.round(ogld / 25)
        weight = base["weight"][:, None] + 1.0 * s("weight_noise").standard_normal((n, len(visit_days)))
        values["weight"] = np.round(weight, 1)
        values["bmi"] = np.round(values["weight"] / (base["height"][:, None] / 100) ** 2, 1)
        values["insulin_dose_per_kg"] = np.round(values["insulin_dose"] / values["weight"], 3)

        cv = base["cgm_cv"][:, None] + 3.0 * noise[7]
        inputs: dict[str, np.ndarray] = {}
        cgm_at_visits(s, current, 0.4 * noise[8][:, 0], cv, values, inputs)

        # severe hypoglycaemia falls with the insulin dose (daily rate on the visit grid's interpolation)
        ratio_daily = np.exp(log_ratio[:, None] * (1 - np.exp(-np.arange(horizon)[None, :] / self.onset_days)))
        sh = daily_events(s, "severe_hypoglycemia", base["sh_rate"][:, None] * ratio_daily / DAYS_PER_YEAR)
        subj, day = daily_events(s, "sae", np.full((n, horizon), self.sae_rate_per_year / DAYS_PER_YEAR))
        events = {"severe_hypoglycemia": (*sh, None),
                  "serious_adverse_event": (subj, day, severities(s, "sae_grade", len(subj), self.sae_grades))}
        label = np.where(~active, "placebo", np.where(r >= 1.5, "strong", np.where(r >= 0.5, "moderate", "weak")))
        return Trajectories(values, events, label, inputs)


MODELS = {"islet": IsletModel, "islet_edmonton": IsletModel.edmonton, "msc": MscModel}


def _beta_params(mean: float, sd: float) -> tuple[float, float]:
    common = mean * (1 - mean) / (sd * sd) - 1
    return mean * common, (1 - mean) * common


def _beta_quantile(a: float, b: float, z: np.ndarray) -> np.ndarray:
    """Beta(a, b) values driven by standard normals z (one draw per subject keeps streams aligned)."""
    return special.betaincinv(a, b, special.ndtr(z))

