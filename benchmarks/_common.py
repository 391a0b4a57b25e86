"""What every benchmark script shares: where results go, the seeded cohort, timing, memory and child runs.

The scripts are run as files (`python benchmarks/bench_x.py`), so this sibling module is on their path;
each measurement that reports its own peak memory runs in a fresh interpreter (`child`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the installed package is imported; ROOT only places results
RESULTS = ROOT / "benchmarks" / "results"
SEED = 20240601


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports kB


def mem_available_gb() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable"):
                return int(line.split()[1]) / 1024 ** 2
    return 0.0


def machine() -> dict:
    """The machine a run measured on (shared machines: the load average says how busy it was)."""
    return {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3),
            "load": [round(x, 2) for x in os.getloadavg()]}


def timed(fn: Callable, repeat: int, *, warmup: int = 0) -> tuple[float, list[float], object]:
    """Median seconds over `repeat` runs (after `warmup` untimed ones), all times, the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def cohort(population: str, n: int):
    """The benchmarks' synthetic screening: seeded, without the reasons values are missing."""
    from explorer.cohort.synthetic.screening_table import generate_screening
    return generate_screening(population, n, seed=SEED, missing_reasons=False)


def shown(value, unit: str, digits: int = 3) -> str:
    """A measured value for a results table: "-" where it was not measured."""
    return "-" if value is None else f"{value:.{digits}f} {unit}"


def child(script: str | Path, args: list[str], timeout: float = 3600) -> dict:
    """Run `script --child ARGS` in a fresh interpreter (its own peak memory); it prints one JSON line last.
    A failure comes back as {"error": the last line of stderr that names an error (a JVM's stack trace ends in
    "at ..." frames, which say nothing)}."""
    done = subprocess.run([sys.executable, str(script), "--child", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        return {"error": failure_line(done.stderr) or f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def failure_line(stderr: str) -> str:
    """The line of a failed child's stderr that says what failed: the last naming an Error or Exception, else the
    last that is not a stack frame."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.strip().startswith(("at ", "... "))]
    named = [line for line in lines if re.search(r"(Error|Exception)\b", line)]
    return (named or lines or [""])[-1]


@contextlib.contextmanager
def checkout(ref: str | None):
    """The code to measure: the working tree (ref None), or `ref` checked out into a temporary worktree
    (a `--baseline REF` measured in the same run as the working tree)."""
    if ref is None:
        yield ROOT
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "code"
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)
        shutil.rmtree(folder.parent, ignore_errors=True)



# --- one process's figures from /proc: Spark's JVM is a child of the Python driver, and the driver's
# ru_maxrss and process_time leave it out -----------------------------------------------------------

def descendants(pid: int | None = None) -> list[int]:
    """The ids of a process's live descendants (this process's by default), e.g. Spark's JVM."""
    found, stack = [], [os.getpid() if pid is None else pid]
    while stack:
        parent = stack.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        found.extend(kids)
        stack.extend(kids)
    return found


def process_figures(pid: int | None = None) -> dict:
    """CPU seconds (user + system), resident and peak resident MB (VmRSS, VmHWM) and the bytes read and
    written (rchar/wchar: files, Spark's shuffle and spill files included, whether or not the page cache
    kept them off the disk) of one process, this one by default."""
    where = f"/proc/{'self' if pid is None else pid}"
    with open(f"{where}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"{where}/status") as f:
        status = {k: v.split()[0] for k, _, v in (line.partition(":") for line in f) if k in ("VmRSS", "VmHWM")}
    with open(f"{where}/io") as f:
        io = {k: int(v) for k, _, v in (line.partition(":") for line in f)}
    return {"cpu_s": (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
            "rss_mb": int(status.get("VmRSS", 0)) / 1024, "peak_mb": int(status.get("VmHWM", 0)) / 1024,
            "read_mb": io.get("rchar", 0) / 1e6, "written_mb": io.get("wchar", 0) / 1e6}


def reset_peak(pid: int | None = None) -> None:
    """Start a process's peak resident size (VmHWM) again from its current size (Linux's clear_refs "5"),
    so that one session's successive runs each report their own peak."""
    with open(f"/proc/{'self' if pid is None else pid}/clear_refs", "w") as f:
        f.write("5")


def jvm_pid() -> int | None:
    """The Java process among this process's descendants (a local Spark session's JVM), if any."""
    for pid in descendants():
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "java":
                    return pid
        except OSError:
            continue
    return None


def jvm_heap(pid: int) -> str:
    """The JVM's -Xmx (its heap limit) as launched: what bounds a local Spark driver's memory."""
    with open(f"/proc/{pid}/cmdline") as f:
        args = f.read().split("\0")
    return next((a[4:] for a in args if a.startswith("-Xmx")), "JVM default")
