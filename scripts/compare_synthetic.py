"""Compare the synthetic populations with real cohorts and published trials; write the generated parts of
docs/synthetic.md and the figure in docs/figures/.

Real data (read with plain pandas; ../shared/data, see its README):
  - ShanghaiT1DM / ShanghaiT2DM summaries (Zhao et al., Sci Data 2023): HbA1c in mmol/mol, glucose in mg/dL,
    insulin in pmol/L, '/' for missing; one row per CGM recording (several per patient).
  - Their CGM traces (shanghai_cgm_long.csv) for time in range.
  - T1D Exchange severe-hypoglycaemia case-control study of adults >= 60 y with T1D >= 20 y (Weinstock et al.,
    Diabetes Care 2016): pipe-delimited tables, censored C-peptide ('<0.017'), severe-hypoglycaemia counts
    as categories ('10 - 19').

Sections written between <!-- NAME:start --> and <!-- NAME:end --> markers: comparison, calibration,
funnels, performance, parameters. Hand-written text around them is kept.

    .venv/bin/python scripts/compare_synthetic.py                 # everything
    .venv/bin/python scripts/compare_synthetic.py --sections comparison --n 50000
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from explorer.cohort.synthetic import (
    T1DClinicParams,
    T2DClinicParams,
    calibration_table,
    default_params,
    fully_recorded,
    generate_screening,
    parameter_table,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DOC = ROOT / "docs" / "synthetic.md"
FIGURES = ROOT / "docs" / "figures"
SECTIONS = ("comparison", "calibration", "funnels", "performance", "parameters")
MG_PER_MMOL = 18.016           # glucose (REFERENCES.md)
PMOL_PER_MICROU = 6.0          # insulin, harmonised factor (REFERENCES.md)
UMOL_PER_MG_CREATININE = 88.42
INSULIN_NAMES = re.compile(r"insulin|humulin|novolin|gansulin|gensulin|lantus|glargine|detemir|degludec|aspart|"
                           r"lispro|glulisine|levemir|tresiba|toujeo|humalog|novorapid|novomix|apidra|ryzodeg|"
                           r"basaglar|\b\d+R\b", re.IGNORECASE)


# --- real data ----------------------------------------------------------------------------------------

def ifcc_to_ngsp(mmol_mol):
    """IFCC-NGSP master equation: NGSP % = 0.09148 x IFCC + 2.152 (REFERENCES.md)."""
    return 0.09148 * mmol_mol + 2.152


def _column(frame: pd.DataFrame, prefix: str) -> pd.Series:
    """The column whose name starts with prefix, ignoring case and spaces (the two summaries differ)."""
    key = prefix.lower().replace(" ", "")
    for name in frame.columns:
        if name.lower().replace(" ", "").startswith(key):
            return frame[name]
    raise KeyError(prefix)


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub markdown table (no extra dependency)."""
    cells = [[str(c) for c in frame.columns]] + [["" if pd.isna(v) else str(v) for v in row]
                                                 for row in frame.itertuples(index=False)]
    cells = [[c.replace("|", "/") for c in row] for row in cells]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in cells[0]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def shanghai(kind: str) -> pd.DataFrame:
    """One row per patient (the first recording), variables in catalogue units."""
    raw = pd.read_csv(SHARED / "subjects" / "shanghai_summary" / f"Shanghai_{kind}_Summary.csv", na_values=["/"])
    raw["patient"] = raw["Patient Number"].str.split("_").str[0]
    num = lambda p: pd.to_numeric(_column(raw, p), errors="coerce")  # noqa: E731
    out = pd.DataFrame({
        "recording": raw["Patient Number"], "patient": raw["patient"],
        "sex": num("Gender").map({1: "female", 2: "male"}),
        "age": num("Age"), "bmi": num("BMI"), "diabetes_duration": num("Duration of Diabetes"),
        "hba1c": ifcc_to_ngsp(num("HbA1c")),
        "fasting_glucose": num("Fasting Plasma Glucose") / MG_PER_MMOL,
        "postmeal_glucose": num("2-hour Postprandial Plasma Glucose") / MG_PER_MMOL,
        "fasting_cpeptide": num("Fasting C-peptide"), "postmeal_cpeptide": num("2-hour Postprandial C-peptide"),
        "fasting_insulin": num("Fasting Insulin") / PMOL_PER_MICROU,
        "creatinine": num("Creatinine"), "egfr": num("Estimated Glomerular"),
        "uric_acid": num("Uric Acid"),  # labelled mmol/L in the file; the values are umol/L
        "on_insulin": _column(raw, "Hypoglycemic Agents").fillna("").str.contains(INSULIN_NAMES),
        "smoking_history": num("Smoking History") > 0,
    })
    tir = shanghai_tir()
    out = out.merge(tir, on="recording", how="left")
    return out.groupby("patient", sort=False).first().reset_index()


def shanghai_tir() -> pd.DataFrame:
    cgm = pd.read_csv(SHARED / "cgm" / "shanghai_t1dm_t2dm" / "shanghai_cgm_long.csv")
    g = cgm["gl"].round()
    cgm["in_range"] = (g >= 70) & (g <= 180)
    return cgm.groupby("id")["in_range"].mean().mul(100).rename("tir").rename_axis("recording").reset_index()


def t1d_exchange() -> pd.DataFrame:
    folder = SHARED / "subjects" / "weinstock2016_t1d_exchange"

    def read(name):
        return pd.read_csv(folder / f"{name}.txt", sep="|", dtype=str)

    demo = read("BDemoLifeDiabHxMgmt").drop_duplicates("PtID")
    labs = read("BSampleResults")
    wide = labs.pivot_table(index="PtID", columns="Analyte", values="Value", aggfunc="first")
    cpep_text = wide.get("CPEP", pd.Series(dtype=str)).astype(str)
    chart = read("BMedChart").sort_values("VisitDaysFromEnroll").drop_duplicates("PtID").set_index("PtID")
    weight = pd.to_numeric(chart["Weight"], errors="coerce") * np.where(chart["WeightUnits"] == "lbs", 0.4536, 1.0)
    height = pd.to_numeric(chart["Height"], errors="coerce") * np.where(chart["HeightUnits"] == "in", 2.54, 1.0)
    out = pd.DataFrame(index=demo["PtID"])
    out["sex"] = demo.set_index("PtID")["Gender"].map({"F": "female", "M": "male"})
    out["onset_age"] = pd.to_numeric(demo.set_index("PtID")["T1DDiagAge"], errors="coerce")
    out["sh_last_year"] = demo.set_index("PtID")["NumSHLastYr"]
    out["insulin_dose"] = pd.to_numeric(demo.set_index("PtID")["UnitsInsTotal"], errors="coerce")
    out["hba1c"] = pd.to_numeric(wide.get("HBA1C"), errors="coerce").reindex(out.index)
    # censored '<0.017' is below detection: only 'detectable' is compared
    cpep = cpep_text.reindex(out.index)
    out["cpeptide_detectable"] = np.where(cpep.isna() | cpep.eq("nan"), np.nan, (~cpep.str.startswith("<")).astype(float))
    out["creatinine"] = pd.to_numeric(wide.get("CREA-S"), errors="coerce").reindex(out.index) * UMOL_PER_MG_CREATININE
    out["bmi"] = (weight / (height / 100) ** 2).reindex(out.index)
    out["insulin_dose_per_kg"] = out["insulin_dose"] / weight.reindex(out.index)
    roster = read("BPtRoster").set_index("PtID")["BCaseControlStatus"]
    out["case"] = roster.reindex(out.index).eq("Case")
    return out


# --- synthetic comparators -----------------------------------------------------------------------------

def synthetic(n: int, seed: int) -> dict[str, pd.DataFrame]:
    t1d = generate_screening("t1d", n, seed=seed, missing_reasons=False)
    t2d = generate_screening("t2d", n, seed=seed, missing_reasons=False)
    f1, f2 = t1d.features.copy(), t2d.features.copy()
    for f, s in ((f1, t1d), (f2, t2d)):
        ev = s.events[(s.events["event"] == "severe_hypoglycemia") & (s.events["days_before_index"] < 365)]
        f["sh_count"] = ev.groupby("subject_id", observed=True).size().reindex(f.index, fill_value=0)
        f.loc[s.event_lookback["severe_hypoglycemia"] < 365, "sh_count"] = np.nan
    f1["onset_age"] = f1["age"] - f1["diabetes_duration"]
    # the T1D Exchange measured C-peptide in a random (non-fasting) sample: compare like with like
    f1["cpeptide_detectable"] = np.where(f1["random_cpeptide"].isna(), np.nan, f1["random_cpeptide"] >= 0.017)
    return {"t1d": f1, "t2d": f2}


# --- comparison table and figure --------------------------------------------------------------------------

VARIABLES = [  # (variable, unit, label)
    ("age", "years", "Age"), ("bmi", "kg/m2", "BMI"), ("diabetes_duration", "years", "Diabetes duration"),
    ("hba1c", "%", "HbA1c"), ("fasting_glucose", "mmol/L", "Fasting glucose"),
    ("postmeal_glucose", "mmol/L", "2-h glucose"), ("fasting_cpeptide", "nmol/L", "Fasting C-peptide"),
    ("postmeal_cpeptide", "nmol/L", "2-h C-peptide"), ("fasting_insulin", "microU/mL", "Fasting insulin"),
    ("creatinine", "umol/L", "Creatinine"), ("egfr", "mL/min/1.73m2", "eGFR"), ("uric_acid", "umol/L", "Uric acid"),
    ("tir", "%", "CGM time in range"),
]


def _summary(values: pd.Series) -> str:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return "-"
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return f"{med:.3g} [{q1:.3g}-{q3:.3g}]"


def comparison_rows(real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    pairs = [("ShanghaiT1DM", real["sh_t1d"], "t1d adults", synth["t1d"][synth["t1d"]["age"] >= 18]),
             ("ShanghaiT2DM", real["sh_t2d"], "t2d", synth["t2d"])]
    for name, r, comparator, s in pairs:
        for var, unit, label in VARIABLES:
            if var not in r or var not in s:
                continue
            a, b = pd.to_numeric(r[var], errors="coerce").dropna(), s[var].dropna()
            if len(a) < 3:
                continue
            rows.append({"real cohort": name, "synthetic": comparator, "variable": label, "unit": unit,
                         "n real": len(a), "real median [IQR]": _summary(a), "n synthetic": len(b),
                         "synthetic median [IQR]": _summary(b),
                         "KS D": round(stats.ks_2samp(a, b).statistic, 2)})
        for var, label in (("on_insulin", "on insulin"), ("smoking_history", "smoking history")):
            a, b = r[var].dropna().astype(float), s[var].dropna().astype(float)
            rows.append({"real cohort": name, "synthetic": comparator, "variable": label, "unit": "%",
                         "n real": len(a), "real median [IQR]": f"{100 * a.mean():.0f} %", "n synthetic": len(b),
                         "synthetic median [IQR]": f"{100 * b.mean():.0f} %", "KS D": ""})
    tx = real["t1dx"]
    old = synth["t1d"][(synth["t1d"]["age"] >= 60) & (synth["t1d"]["diabetes_duration"] >= 20)]
    for var, unit, label in (("hba1c", "%", "HbA1c"), ("bmi", "kg/m2", "BMI"), ("creatinine", "umol/L", "Creatinine"),
                             ("onset_age", "years", "Age at diagnosis"), ("insulin_dose", "U/day", "Insulin dose"),
                             ("insulin_dose_per_kg", "U/kg/day", "Insulin dose per kg")):
        a, b = tx[var].dropna(), old[var].dropna()
        rows.append({"real cohort": "T1D Exchange SH study", "synthetic": "t1d, age >= 60, duration >= 20",
                     "variable": label, "unit": unit, "n real": len(a), "real median [IQR]": _summary(a),
                     "n synthetic": len(b), "synthetic median [IQR]": _summary(b),
                     "KS D": round(stats.ks_2samp(a, b).statistic, 2)})
    a, b = tx["cpeptide_detectable"].dropna().astype(float), old["cpeptide_detectable"].dropna().astype(float)
    rows.append({"real cohort": "T1D Exchange SH study", "synthetic": "t1d, age >= 60, duration >= 20",
                 "variable": "random C-peptide detectable (>= 0.017 nmol/L)", "unit": "%", "n real": len(a),
                 "real median [IQR]": f"{100 * a.mean():.0f} %", "n synthetic": len(b),
                 "synthetic median [IQR]": f"{100 * b.mean():.0f} %", "KS D": ""})
    cases = tx.loc[tx["case"], "sh_last_year"].dropna()
    cases = cases[cases.ne("0")]
    sim = old["sh_count"].dropna()
    sim = sim[sim >= 1]
    rows.append({"real cohort": "T1D Exchange SH study (cases)", "synthetic": "t1d, age >= 60, duration >= 20, >= 1 SH",
                 "variable": "2 or more severe hypos in the past year, among those with any", "unit": "%",
                 "n real": len(cases), "real median [IQR]": f"{100 * cases.ne('1').mean():.0f} %",
                 "n synthetic": len(sim), "synthetic median [IQR]": f"{100 * (sim >= 2).mean():.0f} %", "KS D": ""})
    return pd.DataFrame(rows)


def _box(values: pd.Series, name: str, color: str, x: str):
    import plotly.graph_objects as go

    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy()
    if len(v) < 3:
        return None
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    lo, hi = np.percentile(v, [5, 95])
    # precomputed boxes (5th-95th percentile whiskers) keep the figure small for 10^5 synthetic subjects
    return go.Box(q1=[q1], median=[med], q3=[q3], lowerfence=[lo], upperfence=[hi], x=[x], name=name,
                  marker_color=color, showlegend=False, boxpoints=False)


def figure(real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame]):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = [("hba1c", "HbA1c (%)"), ("bmi", "BMI (kg/m2)"), ("age", "Age (years)"),
              ("diabetes_duration", "Duration (years)"), ("fasting_cpeptide", "Fasting C-peptide (nmol/L, log)"),
              ("fasting_glucose", "Fasting glucose (mmol/L)"), ("tir", "CGM time in range (%)"),
              ("creatinine", "Creatinine (umol/L)")]
    fig = make_subplots(rows=3, cols=3, subplot_titles=[p[1] for p in panels] + ["HbA1c vs time in range"],
                        horizontal_spacing=0.07, vertical_spacing=0.12)
    groups = [("Shanghai T1D", real["sh_t1d"], "#4c72b0"),
              ("synthetic T1D", synth["t1d"][synth["t1d"]["age"] >= 18], "#dd8452"),
              ("T1DX >=60 y", real["t1dx"], "#55a868"),
              ("synthetic T1D >=60 y", synth["t1d"][(synth["t1d"]["age"] >= 60) & (synth["t1d"]["diabetes_duration"] >= 20)], "#c44e52"),
              ("Shanghai T2D", real["sh_t2d"], "#8172b3"), ("synthetic T2D", synth["t2d"], "#937860")]
    for k, (var, _) in enumerate(panels):
        row, col = divmod(k, 3)
        for name, frame, color in groups:
            if var in frame:
                box = _box(frame[var], name, color, name)
                if box is not None:
                    fig.add_trace(box, row=row + 1, col=col + 1)
        if var == "fasting_cpeptide":
            fig.update_yaxes(type="log", row=row + 1, col=col + 1)
    # HbA1c-TIR: real points over synthetic binned medians with IQR band
    for kind, frame, color in (("T1D", synth["t1d"], "#dd8452"), ("T2D", synth["t2d"], "#937860")):
        both = frame[["hba1c", "tir"]].dropna()
        bins = np.arange(5.5, 13.01, 0.5)
        grouped = both.groupby(pd.cut(both["hba1c"], bins), observed=True)["tir"]
        centres = [b.mid for b in grouped.median().index]
        fig.add_trace(go.Scatter(x=centres, y=grouped.quantile(0.75), mode="lines", line_width=0, showlegend=False,
                                 hoverinfo="skip"), row=3, col=3)
        fig.add_trace(go.Scatter(x=centres, y=grouped.quantile(0.25), mode="lines", line_width=0, fill="tonexty",
                                 fillcolor=color, opacity=0.3, showlegend=False, hoverinfo="skip"), row=3, col=3)
        fig.add_trace(go.Scatter(x=centres, y=grouped.median(), mode="lines", line_color=color,
                                 name=f"synthetic {kind} (median, IQR)"), row=3, col=3)
    for kind, frame, color in (("T1D", real["sh_t1d"], "#4c72b0"), ("T2D", real["sh_t2d"], "#8172b3")):
        fig.add_trace(go.Scatter(x=frame["hba1c"], y=frame["tir"], mode="markers", marker_color=color,
                                 marker_size=6, name=f"Shanghai {kind}"), row=3, col=3)
    fig.update_xaxes(tickangle=35, tickfont_size=9)
    fig.update_layout(width=1300, height=1150, title="Synthetic populations vs real cohorts "
                      "(boxes: median, IQR, 5th-95th percentile)",
                      legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.07))
    fig.update_xaxes(title_text="HbA1c (%)", tickangle=0, row=3, col=3)
    fig.update_yaxes(title_text="TIR (%)", row=3, col=3)
    return fig


def save_figure(fig, stem: str) -> Path:
    """PNG through kaleido (which needs Chromium); HTML when no browser is available."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    png = FIGURES / f"{stem}.png"
    try:
        fig.write_image(png, scale=1)
        return png
    except Exception as err:  # noqa: BLE001 - any kaleido/Chromium failure falls back to HTML
        print(f"note: PNG export failed ({type(err).__name__}: {err}); writing HTML", file=sys.stderr)
        html = FIGURES / f"{stem}.html"
        fig.write_html(html, include_plotlyjs="cdn")
        return html


# --- other generated sections ----------------------------------------------------------------------------

def funnel_tables(n: int, seed: int) -> str:
    from explorer.engine.matrix import evaluate
    from explorer.trial import load_trial

    parts = []
    for trial_id, population in (("NCT06196996", "t1d"), ("NCT01142050", "t2d")):
        trial = load_trial(trial_id)
        matrix = evaluate(trial, generate_screening(population, n, seed=seed, missing_reasons=False))
        complete = evaluate(trial, generate_screening(population, n, seed=seed, missing_reasons=False,
                                                      params=fully_recorded(default_params(population))))
        codes, truth = matrix.codes, complete.codes
        sure, possible, true = np.ones(n, bool), np.ones(n, bool), np.ones(n, bool)
        rows = []
        for j, criterion in enumerate(matrix.criteria):
            col = codes[:, j]
            passed = (col == 1) | (col == 3)
            sure &= passed
            possible &= passed | (col == 2)
            true &= (truth[:, j] == 1) | (truth[:, j] == 3)  # what is still unknown is not counted
            rows.append({"criterion": criterion.id, "label": getattr(trial.criteria[j], "label", ""),
                         "fails %": f"{100 * (col == 0).mean():.1f}", "unknown %": f"{100 * (col == 2).mean():.1f}",
                         "eligible so far %": f"{100 * sure.mean():.2f}",
                         "eligible if unknowns pass %": f"{100 * possible.mean():.2f}",
                         "eligible with complete records %": f"{100 * true.mean():.2f}"})
        parts.append(f"**{trial_id}** on `generate_screening(\"{population}\", {n:,}, seed={seed})`, criteria in "
                     f"trial order (non-computable ones are assumed to pass):\n\n" + markdown(pd.DataFrame(rows)))
    return "\n\n".join(parts)


def performance_table() -> str:
    path = ROOT / "benchmarks" / "results" / "synthetic.json"
    if not path.exists():
        return "_Run `benchmarks/bench_synthetic.py` to fill this table._"
    report = json.loads(path.read_text())
    rows = [{"path": r["kind"], "population": r["population"], "subjects": f"{r['n']:,}",
             "seconds": f"{r['seconds']:.2f}", "subjects/s": f"{r['subjects_per_second']:,.0f}",
             "peak RSS MB": f"{r['peak_rss_mb']:.0f}", "RSS increase MB": f"{r['rss_increase_mb']:.0f}",
             "traced peak MB": f"{r['traced_peak_mb']:.0f}"} for r in report["results"]]
    m = report["machine"]
    return (f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, NumPy {m['numpy']}, pandas "
            f"{m['pandas']}; load average {m['load_average_before'][0]:.1f} before and "
            f"{m['load_average_after'][0]:.1f} after (other work was running).\n\n" + markdown(pd.DataFrame(rows)))


def parameter_tables() -> str:
    out = []
    for title, params in (("Type 1 diabetes clinic (`T1DClinicParams`)", T1DClinicParams()),
                          ("Type 2 diabetes clinic (`T2DClinicParams`)", T2DClinicParams())):
        frame = pd.DataFrame(parameter_table(params))
        out.append(f"#### {title}\n\n" + markdown(frame))
    return "\n\n".join(out)


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{DOC} has no {start} ... {end} markers")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{body.strip()}\n{end}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--n", type=int, default=100_000, help="synthetic subjects per population")
    parser.add_argument("--calibration-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")

    if "comparison" in args.sections:
        if not SHARED.is_dir():
            raise SystemExit(f"{SHARED} is missing: the real cohorts are needed for the comparison")
        real = {"sh_t1d": shanghai("T1DM"), "sh_t2d": shanghai("T2DM"), "t1dx": t1d_exchange()}
        synth = synthetic(args.n, args.seed)
        table = comparison_rows(real, synth)
        path = save_figure(figure(real, synth), "synthetic_vs_real")
        link = f"![Synthetic vs real cohorts](figures/{path.name})" if path.suffix == ".png" else \
            f"[Synthetic vs real cohorts (interactive HTML)](figures/{path.name})"
        text = replace_section(text, "comparison", f"{markdown(table)}\n\n{link}")
        print(table.to_string(index=False))
    if "calibration" in args.sections:
        cal = calibration_table(args.calibration_n, args.seed)
        cal["within"] = cal["within"].map({True: "yes", False: "no"})
        text = replace_section(text, "calibration", f"Simulated with n = {args.calibration_n:,} per model, seed "
                               f"{args.seed} (`explorer.cohort.synthetic.calibration`).\n\n" + markdown(cal))
        print(cal.to_string(index=False))
    if "funnels" in args.sections:
        body = funnel_tables(args.n, args.seed)
        text = replace_section(text, "funnels", body)
        print(body)
    if "performance" in args.sections:
        text = replace_section(text, "performance", performance_table())
    if "parameters" in args.sections:
        text = replace_section(text, "parameters", parameter_tables())
    DOC.write_text(text, encoding="utf-8")
    print(f"updated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
