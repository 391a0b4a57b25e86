"""Benchmark the outcome layer: summaries, clinical classes, CGM metrics and figures for 10^3-10^5 subjects.

    .venv/bin/python benchmarks/bench_outcomes.py [--sizes 1000 10000 100000] [--cgm-sizes ...]
    .venv/bin/python benchmarks/bench_outcomes.py --sections trial [--trial-sizes 1000 10000 100000]

The "trial" section times the trial-driven measures (explorer.outcomes.measures) on simulated enrolled
subjects of the islet trial (every outcome, events, endpoints, CGM) and the figures the outcome panel draws;
running only some sections keeps the others' recorded results.

Writes benchmarks/results/outcomes.json and prints a table. The data are simple seeded synthetic long
tables made here (six visits x five measures per subject; 14 days of 15-minute CGM per subject), so the
numbers measure the code, not a cohort model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from explorer.clinical.cgm import ambulatory_glucose_profile, cgm_metrics  # noqa: E402
from explorer.outcomes.clinical import cit07_endpoint, igls_class  # noqa: E402
from explorer.outcomes.summary import (  # noqa: E402
    add_subgroups,
    age_bands,
    change_from_baseline,
    responder_proportions,
    summarise,
)
from explorer.plots.outcomes import (  # noqa: E402
    agp_figure,
    responder_figure,
    time_in_range_figure,
    trajectory_figure,
)

RESULTS = ROOT / "benchmarks" / "results" / "outcomes.json"
VISITS = ["baseline", "week 4", "week 12", "week 24", "week 36", "week 48"]
MEASURES = {"hba1c": (8.5, 1.0, -0.25), "fasting_glucose": (9.0, 2.0, -0.3),
            "insulin_dose": (40.0, 10.0, -3.0), "fasting_cpeptide": (0.3, 0.1, 0.05),
            "homa_ir": (3.0, 1.0, -0.1)}
SEED = 20240601


def synthetic_long(n_subjects: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long outcome table (subject x visit x measure) and subject attributes, with ~2 % missing values."""
    subjects = np.array([f"S{i:06d}" for i in range(n_subjects)])
    visit_index = np.arange(len(VISITS))
    frames = []
    for measure, (level, spread, slope) in MEASURES.items():
        start = rng.normal(level, spread, n_subjects)
        values = start[:, None] + slope * visit_index[None, :] + rng.normal(0, spread / 4,
                                                                           (n_subjects, len(VISITS)))
        values[rng.random(values.shape) < 0.02] = np.nan
        frames.append(pd.DataFrame({
            "subject_id": np.repeat(subjects, len(VISITS)),
            "visit": np.tile(VISITS, n_subjects),
            "measure": measure,
            "value": values.ravel(),
        }))
    long = pd.concat(frames, ignore_index=True).dropna(subset=["value"])
    attributes = pd.DataFrame({
        "subject_id": subjects,
        "sex": rng.choice(["female", "male"], n_subjects),
        "arm": rng.choice(["cells", "placebo"], n_subjects),
        "age_band": age_bands(pd.Series(rng.uniform(18, 75, n_subjects))).array,
    })
    return long, attributes


def synthetic_cgm(n_subjects: int, rng: np.random.Generator, days: int = 14) -> pd.DataFrame:
    """Fourteen days of 15-minute CGM per subject (96 readings a day), a daily rhythm plus noise."""
    per_subject = days * 96
    minutes = np.arange(per_subject) * 15
    rhythm = 30 * np.sin(2 * np.pi * minutes / 1440)
    level = rng.normal(150, 30, n_subjects)
    # Sensors report whole mg/dL between 40 and 400.
    glucose = (level[:, None] + rhythm[None, :]
               + rng.normal(0, 25, (n_subjects, per_subject))).clip(40, 400).round().ravel()
    start = np.datetime64("2024-01-01T00:00", "ns")
    times = start + (np.tile(minutes, n_subjects) * 60 * 10**9).astype("timedelta64[ns]")
    # A categorical id is what a loader would hand over for a table this long (one string per subject).
    ids = pd.Categorical.from_codes(np.repeat(np.arange(n_subjects), per_subject),
                                    categories=[f"S{i:06d}" for i in range(n_subjects)])
    return pd.DataFrame({"subject_id": ids, "time": times, "glucose": glucose})


def timed(function: Callable, repeats: int) -> tuple[float, object]:
    """Best wall time of `repeats` runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_summaries(n_subjects: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(SEED)
    long, attributes = synthetic_long(n_subjects, rng)
    timings: dict[str, float] = {"rows": float(len(long))}

    timings["change_from_baseline"], change = timed(lambda: change_from_baseline(long), repeats)
    timings["summarise_visit_measure"], _ = timed(lambda: summarise(change, value="change"), repeats)
    timings["add_subgroups"], grouped = timed(lambda: add_subgroups(change, attributes), repeats)
    timings["summarise_by_sex_arm_ageband"], _ = timed(
        lambda: summarise(grouped, by=["visit", "measure", "sex", "arm", "age_band"]), repeats)

    wide = long.pivot_table(index=["subject_id", "visit"], columns="measure", values="value").reset_index()
    final = wide[wide["visit"] == "week 48"].set_index("subject_id")
    severe = pd.Series(rng.poisson(0.3, len(final)), index=final.index)
    timings["cit07_endpoint"], _ = timed(
        lambda: cit07_endpoint(hba1c=final["hba1c"], severe_hypo=severe), repeats)
    timings["igls_class"], _ = timed(lambda: igls_class(
        hba1c=final["hba1c"], severe_hypo=severe, insulin=final["insulin_dose"] / 70,
        c_peptide=final["fasting_cpeptide"], hba1c_baseline=8.5, severe_hypo_baseline=4,
        insulin_baseline=0.6, c_peptide_baseline=0.05), repeats)

    flags = grouped[grouped["measure"] == "hba1c"].assign(
        responder=lambda d: pd.array(d["value"] < 7.0, dtype="boolean"))
    timings["responder_proportions"], proportions = timed(
        lambda: responder_proportions(flags, by=["visit", "arm"]), repeats)

    timings["trajectory_figure_sampled"], _ = timed(
        lambda: trajectory_figure(grouped, measure="hba1c", by="arm", max_subjects=100), repeats)
    timings["trajectory_figure_all_subjects"], figure = timed(
        lambda: trajectory_figure(grouped, measure="hba1c", by="arm", max_subjects=None), repeats)
    timings["trajectory_all_subjects_to_json"], _ = timed(figure.to_json, 1)
    timings["responder_figure"], _ = timed(lambda: responder_figure(proportions, by="arm"), repeats)

    tir = pd.DataFrame({"subject_id": np.repeat(attributes["subject_id"], 2), "visit": np.tile(
        ["baseline", "week 48"], n_subjects)})
    below = rng.uniform(0, 8, len(tir))
    above = rng.uniform(5, 60, len(tir))
    tir = tir.assign(tbr_54=below / 4, tbr_70=below, tar_180=above, tar_250=above / 3,
                     tir=100 - below - above)
    timings["time_in_range_figure"], _ = timed(lambda: time_in_range_figure(tir), repeats)
    return timings


def bench_cgm(n_subjects: int, repeats: int) -> dict[str, float]:
    rng = np.random.default_rng(SEED)
    start = time.perf_counter()
    cgm = synthetic_cgm(n_subjects, rng)
    timings: dict[str, float] = {"readings": float(len(cgm)), "generate": time.perf_counter() - start}
    timings["cgm_metrics"], metrics = timed(lambda: cgm_metrics(cgm), repeats)
    assert metrics["cgm_sufficient"].all(), "every synthetic subject has 14 complete days"
    timings["agp_group_15min"], profile = timed(lambda: ambulatory_glucose_profile(cgm), repeats)
    timings["agp_figure"], _ = timed(lambda: agp_figure(profile), repeats)
    return timings


def bench_trial_measures(n_subjects: int, repeats: int) -> dict[str, float]:
    """outcome_measures, its summaries and the panel's figures on n simulated islet-trial subjects."""
    from explorer.cohort.synthetic import generate_outcomes
    from explorer.outcomes.measures import (
        outcome_measures,
        summarise_endpoints,
        summarise_events,
        summarise_outcomes,
        with_subgroups,
    )
    from explorer.trial import load_trial

    trial = load_trial("NCT06196996")
    start = time.perf_counter()
    cohort = generate_outcomes(n_subjects, "islet", visits_days=trial.visits, seed=SEED, cgm_readings=20)
    timings: dict[str, float] = {"measurement_rows": float(len(cohort.measurements)),
                                 "generate_outcomes": time.perf_counter() - start}
    timings["outcome_measures"], results = timed(lambda: outcome_measures(trial, cohort), repeats)
    timings["value_rows"] = float(len(results.values))
    timings["summarise_outcomes"], _ = timed(lambda: summarise_outcomes(results), repeats)
    timings["summarise_outcomes_by_sex"], _ = timed(lambda: summarise_outcomes(results, by=["sex"]), repeats)
    timings["summarise_endpoints"], proportions = timed(lambda: summarise_endpoints(results), repeats)
    timings["summarise_events"], _ = timed(lambda: summarise_events(results), repeats)

    def trajectory():
        values = results.values
        rows = values[(values["outcome"] == "hba1c") & (values["measure"] == "hba1c")]
        rows = with_subgroups(rows, results, ["sex"]).assign(visit=rows["visit"].cat.remove_unused_categories())
        return trajectory_figure(rows, measure="hba1c", by="sex", max_subjects=100)

    timings["trajectory_figure_by_sex"], figure = timed(trajectory, repeats)
    timings["trajectory_to_json"], _ = timed(figure.to_json, 1)
    proportions = proportions.assign(endpoint=proportions["endpoint"].astype(str))
    timings["responder_figure_all_endpoints"], _ = timed(lambda: responder_figure(proportions, by="endpoint"), repeats)
    timings["time_in_range_figure"], _ = timed(lambda: time_in_range_figure(results.tir_bands), repeats)
    return timings


# --- the Outcomes tab in the dashboard's kernel code (in process, no browser) -------------------------------
# Run in a child interpreter with the measured code first on its path, so that a git revision
# (`--baseline REF`) is measured in the same run. Every edited scenario is new (a criterion switched off that
# changes the eligible count), so its outcomes are not in the cache.
TAB_CHILD = r"""
import json, statistics, sys, threading, time
from explorer.app.dashboard import Dashboard
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic.trial_match import population_for
from explorer.trial import load_trial
try:
    from explorer.app.warm_up import OutcomePreparer
except ImportError:  # code from before the preparer
    OutcomePreparer = None
trial, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
state = ExplorerState(Scenario(trial=trial, data=DataSource("synthetic", population_for(load_trial(trial)), n, 0)),
                      with_baseline=False)
d = Dashboard(state, address=False)
outcomes_tab = list(d.tabs.titles).index("Outcomes")
def ms(action):
    started = time.perf_counter(); action(); return 1000 * (time.perf_counter() - started)
def open_outcomes():
    return ms(lambda: setattr(d.tabs, "selected_index", outcomes_tab))
def back():
    d.tabs.selected_index = 0
boxes = {c: row._toggle for c, row in d.criteria._rows.items()}
# criteria whose switching off changes the eligible count: each gives a new scenario
edits = []
for c in reversed(state.order):
    if state.enabled(c):
        before = state.counts["eligible"]
        boxes[c].value = False
        if state.counts["eligible"] not in (before, 0):
            edits.append(c)
        boxes[c].value = True
edits = edits[: 3 * repeats]
out = {"registered_ms": open_outcomes(), "criteria": len(edits)}
back()
def edited_opening(c, wait):
    click = ms(lambda: setattr(boxes[c], "value", False))
    wait()
    opened = open_outcomes()
    back()
    boxes[c].value = True
    return click, opened
idle = []
for c in edits[:repeats]:
    idle.append(edited_opening(c, lambda: None))
out["edited_ms"] = [round(o) for _, o in idle]
out["click_idle_ms"] = [round(k) for k, _ in idle]
if OutcomePreparer is not None:
    preparer = OutcomePreparer(state, working=lambda: d._working > 0)
    def settled():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            busy = any(t.name == "warm-up outcomes" and t.is_alive() for t in threading.enumerate())
            if not busy and state.outcomes.key() in state.outcomes._cache:
                return
            time.sleep(0.01)
    prepared = [edited_opening(c, settled) for c in edits[repeats:2 * repeats]]
    out["edited_prepared_ms"] = [round(o) for _, o in prepared]
    # a click while a prepare runs: the prepare starts SETTLE_S after the edit; click 0.2 s into it
    from explorer.app.warm_up import SETTLE_S
    during = []
    for c in edits[2 * repeats:3 * repeats]:
        boxes[c].value = False
        time.sleep(SETTLE_S + 0.2)
        assert any(t.name == "warm-up outcomes" and t.is_alive() for t in threading.enumerate()), "no prepare running"
        during.append(ms(lambda: setattr(boxes[c], "value", True)))
        settled()
    out["click_during_prepare_ms"] = [round(k) for k in during]
    preparer.stop()
print("RESULT" + json.dumps(out))
"""


def bench_tab(trial: str, n: int, repeats: int, baseline: str | None) -> list[dict]:
    """The TAB_CHILD measurement for the baseline revision (if any), then this tree, in the same run."""
    import subprocess
    import sys

    from _common import checkout  # a sibling module: this file runs as a script from benchmarks/

    rows = []
    for ref in ([baseline] if baseline else []) + [None]:
        with checkout(ref) as code:
            env = {**os.environ, "PYTHONPATH": str(code)}
            done = subprocess.run([sys.executable, "-c", TAB_CHILD, trial, str(n), str(repeats)], env=env,
                                  cwd=str(code), capture_output=True, text=True, check=False)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
            if line is None:
                raise RuntimeError(f"the tab measurement failed: {done.stderr[-3000:]}")
            rows.append({"code": ref or "this tree", "trial": trial, "subjects": n,
                         "load_average": round(os.getloadavg()[0], 2), **json.loads(line.removeprefix("RESULT"))})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def tab_table(rows: list[dict]) -> list[str]:
    def median(values):
        return "–" if not values else f"{int(np.median(values))}"

    lines = ["| code | trial | subjects | load | registered (ms) | edited (ms, median) | edited, prepared (ms, median) "
             "| click, idle (ms, median) | click during a prepare (ms, median; all) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        during = r.get("click_during_prepare_ms", [])
        lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | {r['load_average']} | "
                     f"{round(r['registered_ms'])} | {median(r['edited_ms'])} | {median(r.get('edited_prepared_ms', []))} | "
                     f"{median(r['click_idle_ms'])} | {median(during)}" + (f" ({', '.join(map(str, during))})"
                                                                       if during else "") + " |")
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--cgm-sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--trial-sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--sections", nargs="+", choices=["summaries", "cgm", "trial"],
                        default=["summaries", "cgm", "trial"])
    parser.add_argument("--repeats", type=int, default=3, help="runs per step below 10^5 (best is kept)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--tab", action="store_true",
                        help="only the Outcomes tab in the dashboard's code at --tab-sizes: registered vs edited scenario, "
                             "with and without prepared outcomes, and clicks during a prepare (outcomes.tab.md)")
    parser.add_argument("--tab-sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--tab-trials", nargs="+", default=["NCT06196996", "NCT01142050"])
    parser.add_argument("--baseline", metavar="REF", help="with --tab: also this git revision, first, in the same run")
    args = parser.parse_args(argv)
    if args.tab:
        rows = [row for n in args.tab_sizes for trial in args.tab_trials
                for row in bench_tab(trial, n, args.repeats, args.baseline)]
        lines = tab_table(rows)
        (RESULTS.parent / "outcomes.tab.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        (RESULTS.parent / "outcomes.tab.md").write_text(
            "The Outcomes tab's opening in the dashboard's own code, in process (no browser, no widget messages): "
            "on the registered scenario, on an edited one (a criterion switched off; each a new scenario), and "
            "on an edited one whose outcomes OutcomePreparer computed in the background; a criterion click when "
            "idle and while a prepare runs. `benchmarks/bench_outcomes.py --tab --baseline REF`.\n\n"
            + "\n".join(lines) + "\n", encoding="utf-8")
        print("\n".join(lines))
        return {"tab": rows}

    previous = json.loads(args.output.read_text(encoding="utf-8")) if args.output.is_file() else {}
    results = {
        "environment": {"python": platform.python_version(), "pandas": pd.__version__,
                        "numpy": np.__version__, "machine": platform.machine(),
                        "processor_count": os.cpu_count(),
                        # other jobs on the machine slow every step; the load says how busy it was
                        "load_average_at_start": os.getloadavg()[0]},
        "seed": SEED,
        "summaries": {}, "cgm": {}, "trial_measures": {},
    }
    if "summaries" in args.sections:
        for n in args.sizes:
            results["summaries"][str(n)] = bench_summaries(n, args.repeats if n < 100_000 else 1)
    if "cgm" in args.sections:
        for n in args.cgm_sizes:
            results["cgm"][str(n)] = bench_cgm(n, args.repeats if n < 100_000 else 1)
    if "trial" in args.sections:
        for n in args.trial_sizes:
            results["trial_measures"][str(n)] = bench_trial_measures(n, args.repeats if n < 100_000 else 1)
    # sections not run keep their recorded results (and the environment they were measured in)
    environments = previous.get("environments", {})
    for section, key in (("summaries", "summaries"), ("cgm", "cgm"), ("trial", "trial_measures")):
        if section in args.sections:
            environments[key] = results["environment"]
        elif key in previous:
            results[key] = previous[key]
            environments.setdefault(key, previous.get("environment"))
    results["environments"] = environments

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results)
    print(f"\nwritten to {args.output}")
    return results


def print_table(results: dict) -> None:
    for section, unit_row in (("summaries", "rows"), ("cgm", "readings"), ("trial_measures", "measurement_rows")):
        table = pd.DataFrame(results[section])
        if table.empty:
            continue
        table.columns = [f"n={int(c):,}" for c in table.columns]
        count_rows = [r for r in table.index if r == unit_row or r.endswith("_rows")]
        sizes = table.loc[count_rows].map(lambda v: f"{int(v):,}")
        seconds = table.drop(index=count_rows).map(lambda v: f"{v:.3f}")
        print(f"\n{section} (seconds, best of repeats)")
        print(pd.concat([sizes, seconds]).to_string())


if __name__ == "__main__":
    main()
