"""`trial-explorer dashboard`: stopping it (SIGTERM or Ctrl-C) stops Voila too; nothing keeps the port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from project_paths import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# "background": started as `cmd &` from a script, a process inherits SIGINT *ignored* and Python raises no
# KeyboardInterrupt; the CLI installs its own handler, so `kill -INT` still stops it (the flake of round 9:
# the CLI ignored the signal and the test's clean-up orphaned its Voila)
@pytest.mark.parametrize(("stop_with", "started"), [(signal.SIGTERM, "foreground"), (signal.SIGINT, "foreground"),
                                                   (signal.SIGINT, "background")])
def test_stopping_the_dashboard_stops_voila(stop_with, started, tmp_path):
    port = _free_port()
    tmp = tmp_path / "tmp"  # the CLI's own temporary folder, to see what it leaves there
    tmp.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "explorer.cli", "dashboard", "--port", str(port), "--n", "500"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TRIAL_EXPLORER_READY_FILE": "", "TMPDIR": str(tmp)},
                               preexec_fn=_ignore_sigint if started == "background" else None)
    try:
        deadline = time.monotonic() + 90
        while not _listening(port):
            assert time.monotonic() < deadline, "the dashboard did not start listening"
            assert process.poll() is None, "the dashboard exited"
            time.sleep(0.3)
        process.send_signal(stop_with)
        process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not _listening(port), "Voila still listens after the dashboard stopped"
        # its own folder only: the kernel's DuckDB spill folder (trial-explorer-duckdb) is meant to stay
        assert not set(tmp.glob("trial-explorer-ready-*")), "the dashboard left its ready-file folder behind"
    finally:
        if process.poll() is None:  # SIGTERM first: the CLI then stops its Voila, which SIGKILL would orphan
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
