"""What the features frame of a synthetic screening holds, column by column, and what reads each column.

For each column: its dtype and bytes a subject in this tree (and, with --baseline REF, in a git revision's
tree, generated in a child process with that code first on the path), and which parts of the explorer read
it: the criteria of the bundled trials (and so the sensitivity curves of their thresholds), table 1's key
variables (also Compare's table), and the baseline values the outcome enrolment takes from the screening.
Bytes scale with the number of subjects, so a 10^6 run gives the 10^7 frame within a few per cent.

    nice -n 10 .venv/bin/python benchmarks/memory_columns.py [--n 1e6] [--baseline main] [--out memory_columns]

Writes benchmarks/results/<out>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS, checkout, machine

POPULATION, SEED = "t1d", 0


def child(n: int) -> dict:
    """{column: [dtype, bytes a subject]} of the generated features frame, plus the index."""
    from explorer.cohort.synthetic import generate_screening

    features = generate_screening(POPULATION, n, SEED, missing_reasons=False, compact=True).features
    out = {name: [str(features[name].dtype), features[name].memory_usage(deep=True, index=False) / n]
           for name in features.columns}
    out["(index: subject ids)"] = [str(features.index.dtype), features.index.memory_usage(deep=True) / n]
    return out


def run_child(code: Path, n: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, cwd=code,
                          env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def readers() -> dict[str, list[str]]:
    """Which parts of the explorer read each variable."""
    from explorer import expr
    from explorer.cohort.synthetic.outcomes import BASELINE_FROM_SCREENING
    from explorer.engine.baseline import KEY_VARIABLES
    from explorer.trial import bundled_trials, load_trial

    read: dict[str, list[str]] = {}
    for trial_id in bundled_trials():
        trial = load_trial(trial_id)
        for criterion in trial.criteria:
            if criterion.computable:
                for name in sorted(expr.names(criterion.tree) - set(criterion.parameters)):
                    read.setdefault(name, []).append(f"{trial_id} {criterion.id}")
    for name in KEY_VARIABLES:
        read.setdefault(name, []).append("table 1 / compare")
    for name in BASELINE_FROM_SCREENING:
        read.setdefault(name, []).append("outcome enrolment")
    read["(index: subject ids)"] = ["everything (row order, ids)"]
    return read


def markdown(n: int, columns: dict[str, dict], read: dict[str, list[str]]) -> str:
    codes = list(columns)
    m = machine()
    lines = [f"# The features frame column by column (synthetic {POPULATION}, seed {SEED}, {n:,} subjects)", "",
             f"{m['machine']}, Python {m['python']} | run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | "
             "bytes a subject (x 10^7 = MB at 10^7 subjects)", "",
             "| column | " + " | ".join(f"{c}: dtype | {c}: bytes | {c}: MB at 10^7" for c in codes) + " | read by |",
             "|---|" + "---|---:|---:|" * len(codes) + "---|"]
    names = list(next(iter(columns.values())))
    totals = {c: 0.0 for c in codes}
    for name in names:
        cells = []
        for c in codes:
            dtype, size = columns[c].get(name, ["-", 0.0])
            totals[c] += size
            cells.append(f"{dtype} | {size:.1f} | {size * 10:,.0f}")
        who = read.get(name, [])
        shown = ", ".join(who[:4]) + (f" (+{len(who) - 4})" if len(who) > 4 else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {shown or 'no bundled criterion, table 1 or enrolment'} |")
    lines.append("| **total** | " + " | ".join(f"| **{totals[c]:.0f}** | **{totals[c] * 10:,.0f}**" for c in codes)
                 + " | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e6)
    parser.add_argument("--baseline", default=None, help="a git revision measured in the same run")
    parser.add_argument("--out", default="memory_columns")
    args = parser.parse_args()
    n = int(args.n)
    columns = {}
    for label, ref in ([("baseline " + args.baseline, args.baseline)] if args.baseline else []) + [("this branch", None)]:
        with checkout(ref) as code:
            columns[label] = run_child(code, n)
    (RESULTS / f"{args.out}.md").write_text(markdown(n, columns, readers()), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]))))
    else:
        main()
