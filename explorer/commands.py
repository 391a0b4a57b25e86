"""Subcommands of `trial-explorer` beyond the trial-definition ones in explorer.cli.

Each registrar adds one subparser; the handlers live next to the code they drive, so the CLI stays
a thin layer of argument parsing.
"""

from __future__ import annotations

from explorer.clinical.populations import POPULATION_NAMES

REGISTRARS: list = []


def _register_dashboard(sub, add, add_format) -> None:
    p = add("dashboard", run_dashboard, "serve the dashboard with Voilà (built-in synthetic data by default)")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--n", type=int, default=None, help="size of the synthetic cohort it opens with (default 10,000)")
    p.add_argument("--notebook", default=None, help="the notebook to serve (default notebooks/dashboard.ipynb)")
    p.add_argument("--verbose", action="store_true", help="pass on Voila's log")


def run_dashboard(args) -> int:
    import os
    import subprocess
    import sys
    import tempfile
    import threading
    import time
    from pathlib import Path

    from explorer.app.dashboard import READY_FILE_VARIABLE
    from explorer.errors import ExplorerError

    candidates = [Path(args.notebook)] if args.notebook else [
        Path.cwd() / "notebooks" / "dashboard.ipynb",
        Path(__file__).resolve().parents[1] / "notebooks" / "dashboard.ipynb",
    ]
    notebook = next((p for p in candidates if p.is_file()), None)
    if notebook is None:
        raise ExplorerError(f"cannot find the dashboard notebook (looked for {', '.join(map(str, candidates))}); "
                            "run from the project folder or pass --notebook")
    root = notebook.resolve().parents[1]  # voila.json lives at the project root and is read from the cwd
    ready = Path(tempfile.mkdtemp(prefix="trial-explorer-")) / "ready"
    env = {**os.environ, READY_FILE_VARIABLE: str(ready)}
    if args.n:
        env["TRIAL_EXPLORER_N"] = str(args.n)
    url = f"http://127.0.0.1:{args.port}/"
    print("Starting the Trial Explorer dashboard (a kernel is preparing the synthetic cohort)...", flush=True)
    command = [sys.executable, "-m", "voila", str(notebook.resolve()), f"--port={args.port}", "--no-browser",
               "--Voila.ip=127.0.0.1"]
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)

    def relay() -> None:
        # Voila's own "running at" line comes before its pre-heated kernel is ready (see signal_ready),
        # so it is not passed on; errors are.
        for line in process.stdout:
            if args.verbose or "ERROR" in line or "Traceback" in line:
                print(line, end="", file=sys.stderr)

    threading.Thread(target=relay, daemon=True).start()
    try:
        while process.poll() is None and not ready.exists():
            time.sleep(0.2)
        if ready.exists():
            print(f"Trial Explorer dashboard: {url}  (Ctrl-C to stop)", flush=True)
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return 0


REGISTRARS.append(_register_dashboard)

from explorer.registry.command import register as _register_import  # noqa: E402

REGISTRARS.append(_register_import)


def _register_funnel(sub, add, add_format) -> None:
    p = add("funnel", run_funnel_command, "print a trial's eligibility funnel, per-criterion impact and final count")
    p.add_argument("trial", help="bundled trial id or a definition file")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", type=int, metavar="N", help="screen N synthetic subjects")
    source.add_argument("--data", metavar="PATH", help="screen a real dataset (file or folder the loaders read)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--population", choices=POPULATION_NAMES, help="synthetic population (default: the trial's)")
    p.add_argument("--engine", choices=["memory", "duckdb"], default="memory")
    p.add_argument("--min-cell", type=int, default=None, metavar="K", help="hide counts below K (small-cell protection)")
    p.add_argument("--cell-method", choices=["suppress", "round"], default="suppress")
    add_format(p)


def run_funnel_command(args) -> int:
    from explorer.engine.command import run_funnel

    code = run_funnel(args.trial, synthetic=args.synthetic, seed=args.seed, data=args.data, engine=args.engine,
                      fmt=args.format, min_cell=args.min_cell, population=args.population,
                      cell_method=args.cell_method)
    return 2 if code else 0


def _register_synth(sub, add, add_format) -> None:
    p = add("synth", run_synth, "write a synthetic screening cohort as canonical tables (Parquet or CSV)")
    p.add_argument("--population", choices=POPULATION_NAMES, required=True)
    p.add_argument("--n", type=int, required=True, help="number of subjects")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--csv", action="store_true", help="write CSV instead of Parquet")


def run_synth(args) -> int:
    import sys

    from explorer.cohort.synthetic.canonical_tables import generate_cohort, write_cohort
    from explorer.errors import DataError

    if args.n < 1:
        raise DataError("--n must be at least 1")
    cohort = generate_cohort(args.population, args.n, seed=args.seed, progress=sys.stderr.isatty())
    paths = write_cohort(cohort, args.out, format="csv" if args.csv else "parquet")
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


REGISTRARS.extend([_register_funnel, _register_synth])

from explorer.outcomes.command import register as _register_outcomes  # noqa: E402

REGISTRARS.append(_register_outcomes)
