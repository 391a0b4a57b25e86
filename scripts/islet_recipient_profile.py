"""Measure who the synthetic type 1 clinic finds eligible for the islet trial (NCT06196996), against the
published profile of islet-alone recipients, and the clinic's fasting C-peptide by duration against the
published fasting figures, and the simulated recipients' CGM before and one year after transplantation
against published CGM ranges (explorer.simulation.recipient_cgm); write the tables into docs/synthetic.md.

The profile (explorer.simulation.recipients) is taken twice: with the trial as bundled, and with
CIT-07's adult and duration limits (18-65 years, > 5 years of T1D) set through the trial's own parameters,
each on the clinic as recorded and with every test done (`fully_recorded`: no one is left "possibly
eligible" for want of an antibody or C-peptide result).

    .venv/bin/python scripts/islet_recipient_profile.py              # print and write docs/synthetic.md
    .venv/bin/python scripts/islet_recipient_profile.py --n 50000 --print-only
    .venv/bin/python scripts/islet_recipient_profile.py --only cgm    # only the CGM tables (about a minute)
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.cohort.synthetic import default_params, fully_recorded
from explorer.cohort.synthetic.screening_table import generate_screening
from explorer.simulation.recipient_cgm import (
    BASELINE,
    YEAR,
    cgm_comparison,
    medians,
    recipient_cgm,
    screened_recipient_cgm,
)
from explorer.simulation.recipients import PUBLISHED_RANGES, eligible_profile, islet_eligible

DOC = Path(__file__).resolve().parents[1] / "docs" / "synthetic.md"

# Fasting C-peptide by duration, published: (years from diagnosis, threshold nmol/L, share, source)
CPEPTIDE_FIGURES = (
    (0, 0.05, 66.7, "Chinese four-year study: no beta-cell failure at diagnosis"),
    (1, 0.05, 44.2, "Chinese four-year study, 12 months"),
    (2, 0.05, 24.4, "Chinese four-year study, 24 months"),
    (3, 0.05, 13.3, "Chinese four-year study, 36 months"),
    (4, 0.05, 7.3, "Chinese four-year study, 48 months"),
    (35, 0.017, 7.5, "DCCT/EDIC at ~35 y: stimulated peak > 0.03 nmol/L (fasting is lower: an upper bound)"),
)


def profile_table(n: int, seed: int) -> pd.DataFrame:
    rows = {}
    for records, params in (("as recorded", None), ("every test done", fully_recorded(default_params("t1d")))):
        for limits in (False, True):
            screening, eligible = islet_eligible(n, seed, params, cit07_limits=limits)
            label = f"{'CIT-07 limits' if limits else 'NCT06196996'}, {records}"
            rows[label] = eligible_profile(screening, eligible)
    table = pd.DataFrame(rows)
    published = {r.measure: r.text() for r in PUBLISHED_RANGES}
    table.insert(0, "published", [published.get(m, "") for m in table.index])
    return table


def cpeptide_table(n: int, seed: int) -> pd.DataFrame:
    s = generate_screening("t1d", n, seed=seed, params=fully_recorded(default_params("t1d")), missing_reasons=False)
    f = s.features
    duration, cpeptide = f["diabetes_duration"], f["fasting_cpeptide"]
    rows = []
    for years, threshold, published, source in CPEPTIDE_FIGURES:
        near = (duration >= 30) if years >= 30 else (duration >= max(years - 0.5, 0)) & (duration < years + 0.5)
        rows.append({"years from diagnosis": "30+" if years >= 30 else years, "fasting C-peptide >= (nmol/L)": f"{threshold:g}",
                     "published %": published, "synthetic %": round(100 * float((cpeptide[near] >= threshold).mean()), 1),
                     "source": source})
    long = duration >= 3
    rows.append({"years from diagnosis": ">= 3 (whole clinic)", "fasting C-peptide >= (nmol/L)": "0.017",
                 "published %": np.nan, "synthetic %": round(100 * float((cpeptide[long] >= 0.017).mean()), 1),
                 "source": "the issue's figure (52 % before); random C-peptide, T1D Exchange: 29 % (Davis 2015)"})
    return pd.DataFrame(rows)


CGM_COLUMNS = {"cgm_mean": "mean", "cgm_cv": "CV %", "tir": "TIR %", "tbr_70": "< 70 %", "tbr_54": "< 54 %",
               "lbgi": "LBGI", "mage": "MAGE", "hypo_70_per_week": "episodes < 70 /wk",
               "hypo_54_per_week": "episodes < 54 /wk"}


def cgm_tables(n: int, seed: int, n_screened: int, screened_seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published-range comparison, and medians by graft class and visit for the model's enrolled
    population (n recipients) and for everyone a clinic of n_screened finds eligible for NCT06196996."""
    enrolled = recipient_cgm(n, seed)
    comparison = cgm_comparison(enrolled)
    by_class = medians(enrolled, ["visit", "response_class"]).reset_index()
    by_class.insert(0, "recipients", f"model's population, n = {n}, seed {seed}")
    screened = screened_recipient_cgm(n_screened, screened_seed)
    everyone = medians(screened[screened["visit"].isin([BASELINE, YEAR])]).reset_index()
    everyone.insert(1, "response_class", "all")
    everyone.insert(0, "recipients", f"eligible in a clinic of {n_screened:,}, seed {screened_seed}: "
                                     f"{screened['subject_id'].nunique()}")
    rows = pd.concat([by_class, everyone], ignore_index=True)
    rows = rows[["recipients", "visit", "response_class", *CGM_COLUMNS]].rename(
        columns={"response_class": "graft", **CGM_COLUMNS})
    return comparison, rows.round(2)


def markdown(frame: pd.DataFrame, index: bool = False) -> str:
    frame = frame.reset_index() if index else frame
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)

    def cell(value) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
        return str(value)

    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC}: no {start} ... {end} markers; add them where the table belongs")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="clinic size (default 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cgm-n", type=int, default=200, help="simulated recipients for the CGM tables")
    parser.add_argument("--cgm-seed", type=int, default=3)
    parser.add_argument("--cgm-screened", type=int, default=50_000,
                        help="clinic size screened for the CGM table's trial recipients (default 50,000)")
    parser.add_argument("--only", choices=["profile", "cgm"], help="compute and write only these tables")
    parser.add_argument("--print-only", action="store_true", help="print the tables, do not write the docs")
    args = parser.parse_args(argv)
    sections = {}
    if args.only in (None, "profile"):
        sections["recipients"] = markdown(profile_table(args.n, args.seed).rename_axis("measure"), index=True)
        sections["cpeptide"] = markdown(cpeptide_table(args.n, args.seed))
    if args.only in (None, "cgm"):
        comparison, by_class = cgm_tables(args.cgm_n, args.cgm_seed, args.cgm_screened, args.seed)
        sections["recipient-cgm"] = markdown(comparison)
        sections["recipient-cgm-classes"] = markdown(by_class)
    print(*sections.values(), sep="\n\n")
    if not args.print_only:
        text = DOC.read_text()
        for name, body in sections.items():
            text = replace_section(text, name, body)
        DOC.write_text(text)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
