"""`trial-explorer dashboard`: serve the Voila dashboard and say its address once its kernel is ready."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from explorer.cli.options import add_command
from explorer.errors import ExplorerError

SIZE_VARIABLE = "TRIAL_EXPLORER_N"  # read by explorer.app.dashboard


def register(commands: argparse._SubParsersAction) -> None:
    p = add_command(commands, "dashboard", run_dashboard,
                    "serve the dashboard with Voilà (built-in synthetic data by default)")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--n", type=int, default=None, help="size of the synthetic cohort it opens with (default 10,000)")
    p.add_argument("--notebook", default=None, help="the notebook to serve (default notebooks/dashboard.ipynb)")
    p.add_argument("--verbose", action="store_true", help="pass on Voila's log")
    p.add_argument("--allow", action="append", default=[], metavar="FOLDER",
                   help="a folder the dashboard may read data and trial files from (repeatable); by default "
                        "only the folder it is started in, the bundled trials and uploads")


def find_notebook(given: str | None) -> Path:
    candidates = [Path(given)] if given else [
        Path.cwd() / "notebooks" / "dashboard.ipynb",
        Path(__file__).resolve().parents[2] / "notebooks" / "dashboard.ipynb",
    ]
    notebook = next((p for p in candidates if p.is_file()), None)
    if notebook is None:
        raise ExplorerError(f"cannot find the dashboard notebook (looked for {', '.join(map(str, candidates))}); "
                            "run from the project folder or pass --notebook")
    return notebook.resolve()


def run_dashboard(args: argparse.Namespace) -> int:
    # imported here: it loads the widget libraries, which no other command needs
    from explorer.app.dashboard import BASE_DIR_VARIABLE, READY_FILE_VARIABLE, ROOTS_VARIABLE

    notebook = find_notebook(args.notebook)
    root = notebook.parents[1]  # voila.json lives at the project root and is read from the cwd
    ready = Path(tempfile.mkdtemp(prefix="trial-explorer-ready-")) / "ready"
    # removed on every way out (the stop signals raise SystemExit): each start used to leave a folder in /tmp
    atexit.register(shutil.rmtree, ready.parent, True)

    # the page reads relative paths from where the command was started, and only under the allowed folders
    started_in = Path.cwd().resolve()
    env = {**os.environ, READY_FILE_VARIABLE: str(ready), BASE_DIR_VARIABLE: str(started_in)}
    if args.allow:
        env[ROOTS_VARIABLE] = os.pathsep.join(str(started_in / Path(a).expanduser()) for a in [".", *args.allow])
    if args.n:
        env[SIZE_VARIABLE] = str(args.n)
    url = f"http://127.0.0.1:{args.port}/"
    print("Starting the Trial Explorer dashboard (a kernel is preparing the synthetic cohort)...", flush=True)
    # Voila plus plotly.js as a cacheable file and gzip (explorer.app.voila_server)
    command = [sys.executable, "-m", "explorer.app.voila_server", str(notebook), f"--port={args.port}", "--no-browser",
               "--Voila.ip=127.0.0.1"]
    # its own process group: stopping the dashboard stops Voila and every kernel it started
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1, start_new_session=True)

    def stop(*_) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def on_stop_signal(*_) -> None:
        stop()
        raise SystemExit(0)

    # SIGINT too, explicitly: a process started in the background of a script inherits SIGINT *ignored*, and
    # Python then raises no KeyboardInterrupt, so Ctrl-C or `kill -INT` left the dashboard and its Voila
    # running (tests/cli/test_dashboard.py, run as a background job). Jupyter's server does the same.
    signal.signal(signal.SIGTERM, on_stop_signal)
    signal.signal(signal.SIGINT, on_stop_signal)

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
    except KeyboardInterrupt:  # a Ctrl-C before the handlers above were installed
        stop()
        return 0
