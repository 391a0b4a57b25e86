"""Where the resident memory of a memory-engine state peaks while it is built: RSS sampled per phase.

A thread samples VmRSS every few milliseconds; chosen functions of the build (the generator's steps, the
engine's evaluation, the matrix's summaries) are wrapped so each sample is charged to the innermost phase
running. Prints, per phase in order of first entry: calls, resident on entry, highest resident inside, and
the rise over the entry. Finds what bench_memory.py's per-step figures cannot (the peak inside a step).

    nice -n 10 .venv/bin/python scripts/profile_memory_build.py [--n 1000000] [--trial NCT06196996]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import resource
import threading
import time

# module:attribute path of each function charged as a phase (a class method as Class.method)
PHASES = (
    "explorer.cohort.synthetic.chunks:draw_chunks",
    "explorer.cohort.synthetic.t1d:draw_t1d",
    "explorer.cohort.synthetic.screening_table:_fill_columns",
    "explorer.cohort.synthetic.screening_table:subject_ids",
    "explorer.cohort.synthetic.screening_table:_as_array",
    "explorer.cohort.synthetic.screening_table:_events_table",
    "explorer.cohort.screening:Screening.validate",
    "explorer.engine.memory:MemoryBackend.__init__",
    "explorer.engine.memory:MemoryBackend.truth_codes",
    "explorer.engine.memory:MemoryContext._events",
    "explorer.engine.memory:MemoryContext.count_levels",
    "explorer.engine.memory:MemoryContext._convert",
    "explorer.engine.matrix:_status_columns",
    "explorer.engine.matrix:EligibilityMatrix.__init__",
    "explorer.engine.matrix:pack",
    "explorer.engine.matrix:histogram",
    "explorer.engine.bits:BitColumns.of",
    "explorer.app.state:ExplorerState._statistics",
)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class Profile:
    def __init__(self):
        self.stack: list[str] = ["(outside)"]
        self.rows: dict[str, dict] = {}
        self.running = True

    def enter(self, name: str) -> None:
        row = self.rows.setdefault(name, {"calls": 0, "entry": _rss_mb(), "top": 0.0})
        row["calls"] += 1
        self.stack.append(name)

    def leave(self) -> None:
        self.stack.pop()

    def sample(self) -> None:
        while self.running:
            rss, name = _rss_mb(), self.stack[-1]
            row = self.rows.setdefault(name, {"calls": 0, "entry": rss, "top": 0.0})
            row["top"] = max(row["top"], rss)
            time.sleep(0.003)

    def wrap(self, path: str) -> None:
        module_name, attr = path.split(":")
        owner = importlib.import_module(module_name)
        *parents, leaf = attr.split(".")
        for part in parents:
            owner = getattr(owner, part)
        function = getattr(owner, leaf)
        name = path.split(":")[1]
        if getattr(function, "__wrapped__", None) is not None and hasattr(function, "_profiled"):
            return

        if name == "draw_chunks":  # a generator: charge only its own work, not its consumer's
            @functools.wraps(function)
            def generator(*args, **kwargs):
                inner = function(*args, **kwargs)
                while True:
                    self.enter(name)
                    try:
                        item = next(inner)
                    except StopIteration:
                        return
                    finally:
                        self.leave()
                    yield item
            wrapped = generator
        else:
            @functools.wraps(function)
            def wrapped(*args, **kwargs):
                self.enter(name)
                try:
                    return function(*args, **kwargs)
                finally:
                    self.leave()
        wrapped._profiled = True
        if isinstance(inspect.getattr_static(owner, leaf), staticmethod):
            wrapped = staticmethod(wrapped)
        setattr(owner, leaf, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e6)
    parser.add_argument("--trial", default="NCT06196996")
    args = parser.parse_args()
    from explorer.app.scenario import DataSource, Scenario
    from explorer.app.state import ExplorerState

    profile = Profile()
    for path in PHASES:
        profile.wrap(path)
    # functions imported by name into other modules: patch those names too
    import explorer.cohort.synthetic.chunks as chunks
    import explorer.cohort.synthetic.screening_table as table
    import explorer.cohort.synthetic.t1d as t1d
    import explorer.engine.matrix as matrix
    import explorer.engine.patterns as patterns
    table.draw_chunks = chunks.draw_chunks
    chunks.draw_t1d = t1d.draw_t1d
    patterns.pack, patterns.histogram = matrix.pack, matrix.histogram
    sampler = threading.Thread(target=profile.sample, daemon=True)
    start_rss = _rss_mb()
    sampler.start()
    started = time.perf_counter()
    state = ExplorerState(Scenario(trial=args.trial, data=DataSource("synthetic", "t1d", int(args.n), 0)),
                          with_baseline=False)
    elapsed = time.perf_counter() - started
    held = _rss_mb()
    profile.running = False
    sampler.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"n={int(args.n):,}  start {start_rss:,.0f} MB  held {held:,.0f} MB  peak {peak:,.0f} MB  "
          f"{elapsed:.0f} s  counts {dict(state.counts)}")
    print(f"{'phase':50s} {'calls':>6s} {'entry MB':>9s} {'top MB':>8s} {'rise':>7s}")
    for name, row in profile.rows.items():
        print(f"{name:50s} {row['calls']:6d} {row['entry']:9,.0f} {row['top']:8,.0f} {row['top'] - row['entry']:7,.0f}")


if __name__ == "__main__":
    main()
