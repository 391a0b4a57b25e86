"""Scale runs: synthetic Parquet -> status histogram with DuckDB (10^6 .. 10^8) and Spark local (by partitions).

    nice -n 10 .venv/bin/python benchmarks/bench_scale.py [--sizes 1e6 1e7 1e8] [--spark-sizes 1e6 1e7]
        [--partitions 1 2 4 8] [--deadline 08:20] [--work /tmp/scale] [--out scale]

Cohorts are written to Parquet in chunks of 10^6 subjects (each chunk its own seed, ids prefixed by the
chunk), so no process ever holds more than one chunk: 10^8 subjects need no more memory than 10^6. Each
measurement runs in its own interpreter; its peak memory is the largest resident set of its whole process
tree (Spark's JVM included), sampled every 0.2 s. Results are written after every measurement, so a run
stopped at the deadline keeps what it measured; what the deadline stopped is listed as "not run".
Spark runs are warmed by one query on a 10^5 folder in the same session (the first query of a session
compiles code for seconds); their histograms are checked identical to DuckDB's at the same size.

Writes benchmarks/results/<out>.json and <out>.md.

    nice -n 10 .venv/bin/python benchmarks/bench_scale.py --interactive [--sizes 1e6 1e7] [--memory FOLDER]

measures toggle -> funnel on the histograms the DuckDB runs saved (and at 10^6 the bit columns and the pandas
chain), and the memory of a process holding an ExplorerState over a folder, with this code and with main's
(/work/main/.venv) for the before figures: benchmarks/results/scale_interactive.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TRIAL = "NCT06196996"
POPULATION = "t1d"
CHUNK = 1_000_000
SEED = 20240601
WARM = 100_000
DUCK_MEMORY = "4GB"  # DuckDB's memory limit in the feature step (it spills to disk beyond it; 1 GB spilled 4 GB at 10^6)
HISTOGRAMS = Path("/tmp/bench-scale-histograms")
ROUNDS = 25  # toggle measurements: each criterion switched off in turn, this many times (500 toggles for 20)  # outside --work, which is removed after the run


# --- memory of a process tree --------------------------------------------------------------------

def _tree_rss_kb(root: int) -> int:
    """Resident kB of a process and all its descendants (from /proc; no extra dependency)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def _tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants, e.g. the driver and Spark's JVM:
    the work done whatever the load, where wall-clock time is mostly waiting for a core."""
    ticks, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                stack.extend(int(child) for child in f.read().split())
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


DISK_FLOOR_GB = 8.0  # a child writing under the work folder is stopped when less than this is free there:
# the disk is shared by several engineers' runs, so no run of ours may fill it


def run_measured(args: list[str], log, timeout: float, python: str = sys.executable,
                 disk: Path | None = None) -> tuple[list[dict], float, str]:
    """Run a child; returns (its JSON lines, peak tree RSS in MB, error text or ""). With `disk`, the child is
    killed as soon as less than DISK_FLOOR_GB is free on that folder's file system (checked with the memory)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([python, __file__, "--child", *args], stdout=subprocess.PIPE,
                            stderr=log, text=True, cwd=ROOT)
    peak = [0]
    done = threading.Event()
    low_disk = [""]

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            if disk is not None and not low_disk[0]:
                free = shutil.disk_usage(disk).free / 1e9
                if free < DISK_FLOOR_GB:
                    low_disk[0] = f"stopped: {free:.1f} GB free on {disk}, under the floor of {DISK_FLOOR_GB:.0f} GB"
                    proc.kill()
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    try:
        out, _ = proc.communicate(timeout=timeout)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        error = "" if proc.returncode == 0 else f"exit {proc.returncode} (see the log)"
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        error = f"stopped at the deadline after {timeout:.0f} s"
    done.set()
    sampler.join()
    error = low_disk[0] or error
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child and every process it waited for (workers)
    if lines:
        lines[-1]["tree_cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1)
    return lines, peak[0] / 1024, error


# --- children --------------------------------------------------------------------------------------

def _prefixed(table, index: int, chunks: int):
    """Ids unique across pieces: each piece draws its own T1D-0000000... so piece i's get the prefix c000i-."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if chunks <= 1 or "subject_id" not in table.column_names:
        return table
    at = table.schema.get_field_index("subject_id")
    ids = table["subject_id"]
    return table.set_column(at, "subject_id", pc.binary_join_element_wise(
        pa.scalar(f"c{index:04d}-", ids.type), ids, pa.scalar("", ids.type)))


def screening_piece(chunks: int, index: int, start: int, size: int) -> dict:
    """Piece `index` of the screening layout: its own seed (SEED + index), so any worker count gives the same files."""
    from explorer.cohort.synthetic.screening_table import generate_screening
    from explorer.engine.layout import screening_tables

    tables = screening_tables(generate_screening(POPULATION, size, seed=SEED + index, missing_reasons=False))
    return {name: _prefixed(table, index, chunks) for name, table in tables.items()}


def write_chunked(n: int, folder: str, workers: int = 2) -> dict:
    """The synthetic cohort as a screening folder, written piece by piece (a progress bar and a log on stderr)."""
    from functools import partial

    from explorer.cohort.synthetic.chunks import write_parquet_pieces
    from explorer.engine.layout import FORMAT, MANIFEST, ROW_GROUP_SIZE

    out = Path(folder)
    start = time.perf_counter()
    chunks = -(-n // CHUNK)
    files = write_parquet_pieces(out, n, partial(screening_piece, chunks), piece=CHUNK, workers=workers,
                                 row_group_size=ROW_GROUP_SIZE, log=lambda line: print(line, file=sys.stderr, flush=True))
    manifest = {"format": FORMAT, "subjects": n, "source": f"synthetic {POPULATION} in {chunks} chunks",
                "files": files, "aligned": [t for t in ("event_lookback", "event_counts") if f"{t}.parquet" in files]}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return {"n": n, "write_s": time.perf_counter() - start, "parquet_mb": round(sum(files.values()) / 1e6, 1),
            "workers": workers}


# --- canonical tables -> features (SQL) -> histogram, all in DuckDB over Parquet ----------------------

def canonical_piece(chunks: int, index: int, start: int, size: int) -> dict:
    """Piece `index` of the canonical tables (generate_cohort, seed SEED + index: the draws screening_piece
    makes), prepared as explorer.engine.features_sql reads them (cohort_tables: times as nanoseconds, row
    numbers), with row numbers made unique over the whole folder."""
    import pyarrow.compute as pc

    from explorer.catalogue import default_catalogue
    from explorer.cohort.synthetic.canonical_tables import generate_cohort
    from explorer.engine.features_sql import ROW, cohort_tables

    tables = cohort_tables(generate_cohort(POPULATION, size, seed=SEED + index), default_catalogue())
    out = {}
    for name, table in tables.items():
        table = _prefixed(table, index, chunks)
        if ROW in table.column_names:  # subjects: their place in the cohort; other tables: only an order
            offset = start if name == "subjects" else index << 40
            table = table.set_column(table.schema.get_field_index(ROW), ROW, pc.add(table[ROW], offset))
        out[name] = table
    return out


def write_canonical(n: int, folder: str, workers: int = 2) -> dict:
    from functools import partial

    from explorer.cohort.synthetic.chunks import write_parquet_pieces

    start = time.perf_counter()
    # sorted by subject_id (the pieces come in id order: c0000-, c0001-, ...), so a range of subjects is a few
    # row groups of each file and DuckDB skips the rest by their statistics
    files = write_parquet_pieces(Path(folder), n, partial(canonical_piece, -(-n // CHUNK)), piece=CHUNK,
                                 workers=workers, log=lambda line: print(line, file=sys.stderr, flush=True),
                                 sort_by="subject_id")
    import pyarrow.parquet as pq
    rows = {name: pq.ParquetFile(Path(folder) / name).metadata.num_rows for name in files}
    return {"n": n, "write_s": time.perf_counter() - start, "parquet_mb": round(sum(files.values()) / 1e6, 1),
            "rows": rows, "workers": workers}


def duckdb_settings(con, spill: str) -> None:
    """What the size runs set on DuckDB: a memory limit (it spills to `spill` past it) and no insertion
    order (a GROUP BY or a COPY of 10^8 rows need not keep it)."""
    from explorer.engine.duck import limit_spill

    con.execute(f"SET memory_limit = '{os.environ.get('BENCH_DUCK_MEMORY', DUCK_MEMORY)}'")
    limit_spill(con, spill)  # the engine's cap: a spill stops with an error before the disk fills
    con.execute("SET preserve_insertion_order = false")



def canonical_views(folder: Path, spill: Path):
    """A DuckDB connection (the bench's settings) with each canonical Parquet table of `folder` as features_sql's
    view, and the names of the tables present."""
    import duckdb

    from explorer.engine.features_sql import VIEWS
    from explorer.engine.sql import DUCKDB
    con = duckdb.connect(":memory:")
    duckdb_settings(con, str(spill))
    tables = set()
    for path in sorted(folder.glob("*.parquet")):
        con.execute(f"CREATE VIEW {DUCKDB.quote(VIEWS[path.stem])} AS SELECT * FROM read_parquet('{path}')")
        tables.add(path.stem)
    return con, tables

def child_features(canonical: str, out: str, n: int, range_subjects: int) -> dict:
    """Screening features derived in DuckDB from the prepared canonical Parquet tables, written as a screening
    folder by folder_writer.write_screening_folder over ranges of `range_subjects` subjects (0: one query over
    everyone), nothing loaded into Python; the temporary folder's largest size is sampled every second."""
    from explorer.engine.features_sql import VIEWS
    from explorer.engine.folder_writer import write_screening_folder
    from explorer.engine.sql import DUCKDB

    folder, target = Path(canonical), Path(out)
    spill = target.parent / "spill"
    con, tables = canonical_views(folder, spill)
    peak_temp, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            size = sum(p.stat().st_size for p in spill.rglob("*") if p.is_file()) if spill.exists() else 0
            peak_temp[0] = max(peak_temp[0], size)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu, start = time.process_time(), time.perf_counter()
    subject_columns = [r[0] for r in con.execute(f"DESCRIBE {DUCKDB.quote(VIEWS['subjects'])}").fetchall()]
    try:
        write_screening_folder(con, tables, subject_columns, target, range_subjects=range_subjects or max(n, 1),
                               progress=True, source=str(folder))
    finally:
        done.set()
        sampler.join()
    size = sum(p.stat().st_size for p in target.glob("*.parquet"))
    return {"n": n, "seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "range_subjects": range_subjects, "peak_temp_mb": round(peak_temp[0] / 1e6, 1),
            "parquet_mb": round(size / 1e6, 1)}


def child_query(canonical: str) -> dict:
    """The feature query alone over prepared canonical tables (COPY to a Parquet file): its CPU over all DuckDB
    threads, imports left out, with the code first on PYTHONPATH (query_cpu_runs)."""
    import resource

    from explorer.catalogue import default_catalogue
    from explorer.engine.features_sql import VIEWS, DuckRunner, FeatureQuery, _used, plan_of
    from explorer.engine.sql import DUCKDB

    catalogue, q, folder = default_catalogue(), DUCKDB.quote, Path(canonical)
    con, tables = canonical_views(folder, folder.parent / "spill")
    cpu, start = time.process_time(), time.perf_counter()
    subject_columns = [r[0] for r in con.execute(f"DESCRIBE {q(VIEWS['subjects'])}").fetchall()]
    sql, params = FeatureQuery(plan_of(DuckRunner(con), catalogue, tables, subject_columns), catalogue, DUCKDB).sql()
    out = folder.parent / "query_out.parquet"
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)", _used(sql, params, DUCKDB))
    rows = con.execute(f"SELECT COUNT(*) FROM read_parquet('{out}')").fetchone()[0]
    out.unlink()
    import explorer
    return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "rows": rows,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "explorer_from": str(Path(explorer.__file__).parents[1])}  # which code ran (PYTHONPATH first)


def query_cpu_runs(args) -> int:
    """The feature query with this code and with `--baseline`'s, alternated `--rounds` times on one prepared
    canonical folder of `--size` subjects, each run a fresh process: the same-run comparison of its CPU."""
    import statistics

    from _common import checkout

    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": _machine(), "rows": [],
              "baseline": args.baseline, "size": int(args.size)}
    work = Path(args.work)
    folder = work / "canonical"
    log = open(RESULTS / f"{args.out}.log", "w")  # noqa: SIM115
    try:
        lines, _, error = run_measured(["write_canonical", str(int(args.size)), str(folder), "1"], log, 3600.0)
        if error:
            raise SystemExit(f"writing the folder failed: {error}")
        with checkout(args.baseline) as base:
            for round_ in range(args.rounds):
                for label, code in ((f"baseline {args.baseline}", base), ("this code", ROOT)):
                    os.environ["PYTHONPATH"] = str(code)
                    lines, _, error = run_measured(["query", str(folder)], log, 3600.0)
                    report["rows"].append({"code": label, "round": round_, **(lines[-1] if lines and not error
                                                                                else {"error": error})})
                    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2) + "\n")
    finally:
        os.environ.pop("PYTHONPATH", None)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"# The feature query's CPU, {report['size']:,} subjects, this code against {args.baseline}", "",
             f"Run {report['run']}, load average at start {report['machine']['load']}, each run a fresh process "
             "under the caller's nice, the two codes alternated on one folder.", "",
             "| code | CPU per run | median CPU | median wall | peak RSS | rows |", "|---|---|---:|---:|---:|---:|"]
    medians = {}
    for label in dict.fromkeys(r["code"] for r in report["rows"]):
        runs = [r for r in report["rows"] if r["code"] == label and "cpu_s" in r]
        if not runs:
            continue
        medians[label] = statistics.median(r["cpu_s"] for r in runs)
        per_run = ", ".join(f"{r['cpu_s']:.2f}" for r in runs)
        lines.append(f"| {label} | {per_run} s | {medians[label]:.2f} s | "
                     f"{statistics.median(r['seconds'] for r in runs):.1f} s | "
                     f"{max(r['peak_mb'] for r in runs):,.0f} MB | {runs[0]['rows']:,} |")
    if len(medians) == 2:
        base_cpu, this_cpu = medians.values()
        lines += ["", f"This code / baseline, median CPU: x{this_cpu / base_cpu:.2f}."]
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def child_memory(n: int) -> dict:
    """The memory engine's histogram of the cohort a single piece holds (n <= CHUNK: seed SEED, no id prefix)."""
    from explorer.cohort.synthetic.screening_table import generate_screening
    from explorer.engine import final_counts
    from explorer.engine.histogram import evaluate_histogram
    from explorer.trial import load_trial

    if n > CHUNK:
        raise SystemExit(f"the memory check draws one piece; {n:,} is more than {CHUNK:,}")
    cpu, start = time.process_time(), time.perf_counter()
    h = evaluate_histogram(load_trial(TRIAL), generate_screening(POPULATION, n, seed=SEED, missing_reasons=False),
                           "memory")
    return {"n": n, "seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "patterns": len(h.histogram.counts), "final_counts": final_counts(h), "checksum": checksum(h)}


def checksum(h) -> list:
    """The histogram as a hash of its sorted (pattern, count) rows and its number of rows, to compare engines."""
    import hashlib

    import numpy as np
    patterns, counts = h.histogram.patterns, h.histogram.counts
    order = np.lexsort(patterns.T[::-1])
    digest = hashlib.sha256(patterns[order].tobytes() + counts[order].astype(np.int64).tobytes()).hexdigest()
    return [digest[:16], len(counts)]


def child_duckdb(folder: str, n: int) -> dict:
    from explorer.engine import final_counts
    from explorer.engine.histogram import evaluate_histogram
    from explorer.trial import load_trial

    trial = load_trial(TRIAL)
    cpu, start = time.process_time(), time.perf_counter()
    h = evaluate_histogram(trial, folder, "duckdb")
    seconds = time.perf_counter() - start
    import numpy as np
    HISTOGRAMS.mkdir(parents=True, exist_ok=True)  # kept for the toggle measurement (--toggles)
    np.savez(HISTOGRAMS / f"hist_{n}.npz", patterns=h.histogram.patterns, counts=h.histogram.counts)
    keep = HISTOGRAMS / f"n{n}"  # the folder's files, hard-linked, for the memory measurement (--memory)
    if n >= 10 ** 7 and not keep.exists():
        keep.mkdir()
        for file in Path(folder).iterdir():
            os.link(file, keep / file.name)
    return {"n": n, "seconds": seconds, "cpu_s": time.process_time() - cpu,
            "patterns": len(h.histogram.counts), "final_counts": final_counts(h), "checksum": checksum(h)}


def child_spark(folder: str, warm: str, n: int, deadline: float, partitions: list[int]) -> None:
    """One session: warm up on the small folder, then one histogram per partition count (a JSON line each)."""
    from explorer.engine import final_counts
    from explorer.engine.histogram import evaluate_histogram
    from explorer.engine.spark import SparkBackend, spark_session
    from explorer.trial import load_trial

    trial = load_trial(TRIAL)
    me = os.getpid()
    start = time.perf_counter()
    spark = spark_session("local[*]")
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - start
    start, cpu = time.perf_counter(), _tree_cpu_s(me)
    evaluate_histogram(trial, warm, "spark", spark=spark)
    print(json.dumps({"startup_s": startup, "startup_cpu_s": cpu, "warm_query_s": time.perf_counter() - start,
                      "warm_cpu_s": _tree_cpu_s(me) - cpu}), flush=True)
    for p in partitions:
        if time.time() > deadline:
            print(json.dumps({"partitions": p, "skipped": "deadline"}), flush=True)
            continue
        backend = SparkBackend(folder, trial.catalogue, spark=spark, partitions=p)
        start, cpu = time.perf_counter(), _tree_cpu_s(me)
        h = evaluate_histogram(trial, None, backend=backend)
        print(json.dumps({"partitions": p, "seconds": time.perf_counter() - start, "cpu_s": _tree_cpu_s(me) - cpu,
                          "final_counts": final_counts(h), "checksum": checksum(h)}), flush=True)
        backend.close()
    spark.stop()


def child_toggle(n: int, histogram_file: str) -> dict:
    """Toggle -> funnel on a HistogramMatrix loaded from a saved histogram (whatever code is importable:
    this worktree's, or main's for the before figure); at 10^6 also the bit columns and the pandas chain."""
    import statistics

    import numpy as np

    from explorer.engine import funnel
    from explorer.engine.histogram import HistogramMatrix
    from explorer.engine.matrix import CriterionInfo
    from explorer.engine.patterns import PatternHistogram, funnel_counts, select
    from explorer.trial import load_trial

    trial = load_trial(TRIAL)
    if not Path(histogram_file).is_file():
        # the cohort of the Parquet folder of that size (write_chunked: chunk i is 10^6 subjects drawn with
        # seed SEED + i), one chunk at a time: a histogram is the sum of its chunks' histograms
        from explorer.cohort.synthetic.screening_table import generate_screening
        from explorer.engine import evaluate
        from explorer.engine.histogram import _merge
        parts = []
        for i in range(-(-n // CHUNK)):
            chunk = generate_screening(POPULATION, min(CHUNK, n - i * CHUNK), seed=SEED + i, missing_reasons=False)
            parts.append(HistogramMatrix.of(evaluate(trial, chunk)).histogram)
            del chunk
        built = _merge(np.concatenate([p.patterns for p in parts]), np.concatenate([p.counts for p in parts]))
        Path(histogram_file).parent.mkdir(parents=True, exist_ok=True)
        np.savez(histogram_file, patterns=built.patterns, counts=built.counts)
    saved = np.load(histogram_file)
    h = HistogramMatrix(PatternHistogram(saved["patterns"], saved["counts"], np.zeros(0, np.int64)),
                        [CriterionInfo.of(c) for c in trial.criteria])
    ids = list(h.ids)

    def timed(fn) -> tuple[float, float, float]:
        """(median, min) wall-clock ms and median CPU ms of one toggle: on a machine whose load average is
        ten times its cores, wall-clock time is mostly waiting for a core; CPU time is the work itself."""
        fn({c: True for c in ids})  # caches (bitsets of the histogram) built once, as a state does
        times, cpu = [], []
        for _ in range(ROUNDS):
            for cid in ids:
                enabled = {c: c != cid for c in ids}
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(enabled)
                cpu.append(time.process_time() - start_cpu)
                times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3, min(times) * 1e3, statistics.median(cpu) * 1e3

    frame = timed(lambda enabled: funnel(h, enabled=enabled))
    counts = timed(lambda enabled: funnel_counts(h.histogram, select(h.criteria, enabled=enabled)))
    result = {"n": n, "patterns": len(h.histogram.counts), "frame_ms": frame, "counts_ms": counts,
              "funnel": funnel(h).to_dict(orient="list")}
    if n == 10 ** 6 and "--with-baselines" in sys.argv:
        from _common import cohort
        from pandas_chain import PandasChain

        from explorer.engine import evaluate
        screening = cohort(POPULATION, n)
        matrix = evaluate(trial, screening)
        same = HistogramMatrix.of(matrix)
        result["memory_histogram_identical"] = bool(
            checksum(same) == checksum(h))
        result["bits_ms"] = timed(lambda enabled: funnel(matrix, enabled=enabled))
        chain = PandasChain(trial, screening)
        chain_times, chain_cpu = [], []
        for cid in ids[:5]:
            start, start_cpu = time.perf_counter(), time.process_time()
            chain.funnel(set(ids) - {cid})
            chain_cpu.append(time.process_time() - start_cpu)
            chain_times.append(time.perf_counter() - start)
        result["pandas_chain_s"] = statistics.median(chain_times)
        result["pandas_chain_cpu_s"] = statistics.median(chain_cpu)
    return result


def child_state(folder: str, engine: str) -> dict:
    """Peak memory of a process holding an ExplorerState over the folder (and one toggle on it)."""
    import resource

    from explorer.app.scenario import Scenario
    from explorer.app.state import ExplorerState
    from explorer.sources import DataSource

    start = time.perf_counter()
    source = DataSource("path", path=folder) if engine == "memory" else DataSource("path", path=folder, engine=engine)
    state = ExplorerState(Scenario(data=source), with_baseline=False)
    opened = time.perf_counter() - start
    start = time.perf_counter()
    state.toggle("I2", False)
    toggle_ms = (time.perf_counter() - start) * 1e3
    with open(f"/proc/{os.getpid()}/status") as f:
        held = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
    return {"engine": engine, "open_s": opened, "toggle_ms": toggle_ms, "held_mb": held,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "counts": state.counts,
            "matrix": type(state.matrix).__name__}


def run_child(kind: str, rest: list[str]) -> None:
    if kind == "toggle":
        print(json.dumps(child_toggle(int(rest[0]), rest[1]), default=float))
    elif kind == "state":
        print(json.dumps(child_state(rest[0], rest[1]), default=float))
    elif kind == "write":
        print(json.dumps(write_chunked(int(rest[0]), rest[1], *map(int, rest[2:3]))))
    elif kind == "write_canonical":
        print(json.dumps(write_canonical(int(rest[0]), rest[1], *map(int, rest[2:3]))))
    elif kind == "memory":
        print(json.dumps(child_memory(int(rest[0]))))
    elif kind == "query":
        print(json.dumps(child_query(rest[0])))
    elif kind == "features":
        print(json.dumps(child_features(rest[0], rest[1], int(rest[2]), int(rest[3]))))
    elif kind == "duckdb":
        print(json.dumps(child_duckdb(rest[0], int(rest[1]))))
    else:
        child_spark(rest[0], rest[1], int(rest[2]), float(rest[3]), [int(p) for p in rest[4:]])


# --- report ------------------------------------------------------------------------------------------

def growth(points: list[tuple[int, float]]) -> str:
    """How time grows with size: the exponent b of time ~ n^b between consecutive sizes."""
    parts = []
    for (n0, t0), (n1, t1) in zip(points, points[1:], strict=False):
        if t0 > 0 and t1 > 0:
            parts.append(f"{n0:.0e} -> {n1:.0e}: x{t1 / t0:.1f} time for x{n1 / n0:.0f} subjects "
                         f"(n^{math.log(t1 / t0) / math.log(n1 / n0):.2f})")
    return "; ".join(parts) or "-"


def fit(points: list[tuple[int, float]]) -> str:
    """time = a * n^b by least squares on the logarithms of every size (not just consecutive pairs)."""
    import numpy as np
    points = [(n, t) for n, t in points if t > 0]
    if len(points) < 2:
        return "-"
    x, y = np.log([n for n, _ in points]), np.log([t for _, t in points])
    b, a = np.polyfit(x, y, 1)
    per = math.exp(a) * 1e6 ** b
    return (f"n^{b:.2f} over {len(points)} sizes ({points[0][0]:,} to {points[-1][0]:,}; {per:.1f} s at 10^6 on "
            f"the fitted line, {per * 10 ** b:.0f} s at 10^7 and {per * 100 ** b:.0f} s at 10^8 if it holds)")


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Scale runs: synthetic Parquet -> status histogram ({TRIAL}, synthetic {POPULATION})", "",
             f"{m['machine']}, {m['cores']} cores, {m['memory_gb']:.0f} GB, Python {m['python']} | run "
             f"{report['run']} | load average at start {m['load']} | every process under `nice -n {m.get('nice', 10)}`", "",
             "| subjects | step | time | peak RSS (process tree) | patterns | identical to DuckDB |",
             "|---:|---|---:|---:|---:|---|"]
    for row in report["rows"]:
        time_text = f"{row['seconds']:.1f} s" if "seconds" in row else row.get("error", "-")
        if "cpu_s" in row and "seconds" in row:
            time_text += f" (CPU {row['cpu_s']:.1f} s)"
        rss = f"{row['peak_rss_mb']:,.0f} MB" if row.get("peak_rss_mb") else "-"
        same = row.get("identical", "-")
        same = {True: "yes", False: "NO"}.get(same, same)
        lines.append(f"| {row['n']:,} | {row['step']} | {time_text} | {rss} | {row.get('patterns', '-')} | {same} |")
    duck = [(r["n"], r["seconds"]) for r in report["rows"] if r["step"] == "DuckDB histogram" and "seconds" in r]
    cpu = [(r["n"], r["cpu_s"]) for r in report["rows"] if r["step"] == "DuckDB histogram" and "cpu_s" in r]
    for step in dict.fromkeys(r["step"] for r in report["rows"] if "cpu_s" in r and "seconds" in r):
        points = [(r["n"], r["cpu_s"]) for r in report["rows"] if r["step"] == step and "cpu_s" in r]
        if len(points) > 1:
            lines.append(f"Fit of CPU seconds against size, {step}: {fit(points)}.")
    lines += ["", f"DuckDB wall-clock time against size: {growth(duck)}.",
              f"DuckDB CPU time (all its threads, the work whatever the load) against size: {growth(cpu)}; "
              + ", ".join(f"{c:.1f} s at {n:,}" for n, c in cpu) + "."]
    for p in sorted({r["partitions"] for r in report["rows"] if "partitions" in r}):
        spark = [(r["n"], r["seconds"]) for r in report["rows"] if r.get("partitions") == p and "seconds" in r]
        if len(spark) > 1:
            lines.append(f"Spark, {p} partition(s), time against size: {growth(spark)}.")
    if report.get("not_run"):
        lines += ["", "Not run (deadline or disk): " + "; ".join(report["not_run"]) + "."]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in report.get("notes", [])]
    return "\n".join(lines) + "\n"


def save(report: dict, out: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (RESULTS / f"{out}.md").write_text(markdown(report))


def canonical_runs(args) -> int:
    """Canonical tables -> features -> histogram at each size, each step its own measured child; a size starts
    only if its projection (the last size's time and bytes per subject, scaled linearly) ends before the
    deadline and fits the disk."""
    deadline = _deadline(args.deadline)
    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [], "not_run": [],
              "machine": _machine(), "duckdb": {"memory_limit": args.duck_memory, "threads": "default (all cores)",
                                                "preserve_insertion_order": False}}
    os.environ["BENCH_DUCK_MEMORY"] = args.duck_memory  # read by the feature child (duckdb_settings)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = open(RESULTS / f"{args.out}.log", "w")  # noqa: SIM115  (the children's stderr: progress, errors)
    last: dict | None = None
    try:
        for size in args.sizes:
            n = int(size)
            if last is not None:
                scale = n / last["n"]
                need_s, need_gb = last["seconds"] * scale, last["bytes"] * scale / 1e9
                free = shutil.disk_usage(work).free / 1e9
                if time.time() + need_s > deadline:
                    report["not_run"].append(f"{n:,} subjects (projected {need_s / 60:.0f} min at the rate of "
                                             f"{last['n']:,}; it would end after the deadline {args.deadline})")
                    continue
                if need_gb > free - 10:
                    report["not_run"].append(f"{n:,} subjects (projected {need_gb:.0f} GB of Parquet, {free:.0f} GB free)")
                    continue
            canonical = str(work / f"canonical_{n}")
            total, used = 0.0, 0
            steps = [("write canonical tables (chunked, sorted by subject_id)",
                      ["write_canonical", str(n), canonical, str(args.workers)], None)]
            for r in args.ranges:  # 0: one query over every subject
                screening = str(work / f"screening_{n}_{r}")
                what = f"ranges of {r:,}" if r else "one query"
                steps += [(f"features in DuckDB SQL -> screening folder ({what})",
                           ["features", canonical, screening, str(n), str(r)], None),
                          (f"DuckDB histogram ({what})", ["duckdb", screening, str(n)], screening)]
            histograms = []
            for step, child_args, remove in steps:
                print(f"{time.strftime('%H:%M:%S')} {n:,}: {step}", file=sys.stderr, flush=True)
                load_before = os.getloadavg()[0]
                lines, peak, error = run_measured(child_args, log, min(24 * 3600.0, max(1.0, deadline - time.time())),
                                                  disk=work)
                row = {"n": n, "step": step, "peak_rss_mb": peak,
                       "load": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}"}
                if lines and not error:
                    result = lines[-1]
                    row.update({k: v for k, v in result.items() if k not in ("n", "write_s")})
                    row["seconds"] = result.get("write_s", result.get("seconds"))
                    total += row["seconds"]
                else:
                    row["error"] = error
                report["rows"].append(row)
                if "checksum" in row:
                    histograms.append(row)
                    if len(histograms) > 1:
                        row["identical"] = (row["checksum"] == histograms[0]["checksum"]
                                            and row["final_counts"] == histograms[0]["final_counts"])
                save(report, args.out)
                if error:
                    break
                if step.startswith("write"):
                    used = sum(p.stat().st_size for p in Path(canonical).glob("*.parquet"))
                elif remove is not None:
                    used = max(used, used + sum(p.stat().st_size for p in Path(remove).glob("*.parquet")))
                    shutil.rmtree(remove, ignore_errors=True)
            else:
                if n <= CHUNK:  # the same subjects drawn straight into memory and evaluated there
                    lines, peak, error = run_measured(["memory", str(n)], log, min(24 * 3600.0, max(1.0, deadline - time.time())))
                    row = {"n": n, "step": "memory engine, same cohort (check)", "peak_rss_mb": peak,
                           **({"error": error} if error or not lines else
                              {"seconds": lines[-1]["seconds"], "cpu_s": lines[-1]["cpu_s"],
                               "patterns": lines[-1]["patterns"],
                               "identical": all(lines[-1]["checksum"] == h.get("checksum")
                                                and lines[-1]["final_counts"] == h.get("final_counts")
                                                for h in histograms)})}
                    report["rows"].append(row)
                last = {"n": n, "seconds": total, "bytes": used}
                report["rows"].append({"n": n, "step": "total", "seconds": total, "bytes_per_subject": used / n})
            shutil.rmtree(canonical, ignore_errors=True)
            save(report, args.out)
            if last is None or last["n"] != n:  # this size failed or was stopped: a larger one has no projection
                report["not_run"] += [f"{int(s):,} subjects ({n:,} did not finish)" for s in args.sizes if s > n]
                break
    finally:
        save(report, args.out)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    print(markdown(report))
    return 0


def writer_runs(args) -> int:
    """The chunked writer at one size with 1 and with 2 worker processes, in the same run: wall and CPU time
    (the child and its workers), peak RSS of the tree, and whether the two folders are byte-identical."""
    import filecmp

    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": _machine(), "rows": []}
    work = Path(args.work)
    log = open(RESULTS / f"{args.out}.log", "w")  # noqa: SIM115
    try:
        n = int(args.size)
        for workers in args.workers:
            folder = work / f"w{workers}"
            lines, peak, error = run_measured(["write", str(n), str(folder), str(workers)], log, 24 * 3600.0)
            row = {"n": n, "workers": workers, "peak_rss_mb": round(peak)}
            row.update({"seconds": round(lines[-1]["write_s"], 1), "cpu_s": lines[-1]["tree_cpu_s"],
                        "parquet_mb": lines[-1]["parquet_mb"]} if lines and not error else {"error": error})
            report["rows"].append(row)
        folders = [work / f"w{w}" for w in args.workers]
        names = sorted(p.name for p in folders[0].glob("*.parquet"))
        report["identical_files"] = all(filecmp.cmp(folders[0] / name, f / name, shallow=False)
                                        for f in folders[1:] for name in names)
    finally:
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"# Chunked writer: synthetic screening folder of {int(args.size):,} subjects, pieces of {CHUNK:,}", "",
             f"run {report['run']} | load average at start {report['machine']['load']} | under `nice -n 10`; CPU is "
             "the child's and its workers' (user + system)", "",
             "| workers | wall | CPU | peak RSS (tree) | Parquet |", "|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        lines.append(f"| {r['workers']} | {r['seconds']:.1f} s | {r['cpu_s']:.1f} s | {r['peak_rss_mb']:,} MB | "
                     f"{r['parquet_mb']} MB |" if "error" not in r else f"| {r['workers']} | {r['error']} | | | |")
    lines += ["", f"Files byte-identical across worker counts: {'yes' if report['identical_files'] else 'NO'}."]
    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


BEFORE = Path("/work/main/.venv/bin/python")  # main's interpreter imports main's package: the before figures


def interactive(args) -> int:
    """Toggle -> funnel on the saved histograms, and the memory a state holds, this code against main's."""
    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": [round(x, 2) for x in os.getloadavg()],
              "toggle": [], "state": []}
    log = open(RESULTS / f"{args.out}.log", "w")  # noqa: SIM115
    interpreters = [("this branch", sys.executable)] + ([("main (before)", str(BEFORE))] if BEFORE.is_file() else [])

    def run(python: str, child_args: list[str]) -> tuple[dict, float]:
        done = subprocess.run([python, __file__, "--child", *child_args], capture_output=True, text=True, cwd=ROOT)
        log.write(done.stderr)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        return (lines[-1] if lines and done.returncode == 0 else {"error": f"exit {done.returncode}"}), 0.0

    for size in args.sizes:
        n = int(size)
        file = str(HISTOGRAMS / f"hist_{n}.npz")
        for label, python in interpreters:
            extra = ["--with-baselines"] if n == 10 ** 6 and label == "this branch" else []
            print(f"toggle {n:,} ({label})", file=sys.stderr, flush=True)
            result, _ = run(python, ["toggle", str(n), file, *extra])
            report["toggle"].append({"code": label, **result})
            (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    for folder in args.memory:
        for label, python, engine in [("this branch", sys.executable, "duckdb"), ("this branch", sys.executable, "memory"),
                                      *([("main (before)", str(BEFORE), "memory")] if BEFORE.is_file() else [])]:
            print(f"state over {folder} ({engine}, {label})", file=sys.stderr, flush=True)
            lines, peak, error = run_measured(["state", folder, engine], log, 3600, python)
            report["state"].append({"code": label, "folder": folder, "tree_peak_mb": peak,
                                    **(lines[-1] if lines and not error else {"engine": engine, "error": error})})
            (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    log.close()
    (RESULTS / f"{args.out}.md").write_text(interactive_markdown(report))
    print(interactive_markdown(report))
    return 0


def interactive_markdown(report: dict) -> str:
    lines = [f"# Toggle -> funnel on the histogram, and the memory a state holds ({TRIAL}, synthetic {POPULATION})",
             "", f"run {report['run']} | load average at start {report['load']} (2 cores shared with other work: "
             "medians move with the load, minima show the work itself)", "",
             "| subjects | patterns | code | whole funnel table: wall median / min; CPU median | counts only: wall "
             "median / min; CPU median |", "|---:|---:|---|---:|---:|"]
    chain = next((t["pandas_chain_s"] for t in report["toggle"] if "pandas_chain_s" in t), None)
    for t in report["toggle"]:
        if "error" in t:
            lines.append(f"| - | - | {t['code']} | {t['error']} | - |")
            continue
        lines.append(f"| {t['n']:,} | {t['patterns']:,} | {t['code']} | {_ms(t['frame_ms'])} | {_ms(t['counts_ms'])} |")
    for t in report["toggle"]:
        if "bits_ms" in t:
            lines.append(f"| {t['n']:,} | - | bit columns (memory engine, this branch) | {_ms(t['bits_ms'])} | - |")
    chain_cpu = next((t["pandas_chain_cpu_s"] for t in report["toggle"] if "pandas_chain_cpu_s" in t), None)
    if chain:
        lines += ["", f"pandas re-filter chain at 10^6 (same run, median of 5 changes): {chain:.2f} s wall"
                      + (f", {chain_cpu:.2f} s CPU" if chain_cpu else "") + "; against the histogram's whole funnel "
                      "table (this branch): " + ", ".join(
                          f"{t['n']:.0e} {chain * 1e3 / t['frame_ms'][0]:,.0f}x (wall medians)"
                          + (f" / {chain_cpu * 1e3 / t['frame_ms'][2]:,.0f}x (CPU medians)"
                             if chain_cpu and len(t["frame_ms"]) > 2 else "")
                          for t in report["toggle"] if t.get("code") == "this branch" and "frame_ms" in t) + "."]
    same = [t.get("memory_histogram_identical") for t in report["toggle"] if "memory_histogram_identical" in t]
    if same:
        lines.append(f"The 10^6 histogram from the memory engine equals the saved one: {'yes' if same[0] else 'NO'}; "
                     "every funnel equals main's: " + ("yes" if _same_funnels(report) else "NO") + ".")
    if report["state"]:
        lines += ["", "| state over a screening folder | code | engine | matrix held | open | toggle | resident after | "
                  "peak (process) | peak (tree) |", "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for s in report["state"]:
        if "error" in s:
            lines.append(f"| {s['folder']} | {s['code']} | {s['engine']} | {s['error']} | | | | | |")
            continue
        lines.append(f"| {s['folder']} ({s['counts']['screened']:,}) | {s['code']} | {s['engine']} | {s['matrix']} | "
                     f"{s['open_s']:.1f} s | {s['toggle_ms']:.1f} ms | {s['held_mb']:,.0f} MB | {s['peak_mb']:,.0f} MB | "
                     f"{s['tree_peak_mb']:,.0f} MB |")
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report.get("notes", [])]
    return "\n".join(lines) + "\n"


def _ms(values: list[float]) -> str:
    text = f"{values[0]:.3f} / {values[1]:.3f} ms"
    return text + (f"; {values[2]:.3f} ms" if len(values) > 2 else "")


def _same_funnels(report: dict) -> bool:
    by = {}
    for t in report["toggle"]:
        if "funnel" in t:
            by.setdefault(t["n"], []).append(t["funnel"])
    return all(all(f == group[0] for f in group) for group in by.values())


def _deadline(text: str | None) -> float:
    """HH:MM (UTC) today as a time.time() value; none: no deadline."""
    if not text:
        return float("inf")
    hh, mm = map(int, text.split(":"))
    now = time.gmtime()
    return time.time() + ((hh * 60 + mm) - (now.tm_hour * 60 + now.tm_min)) * 60 - now.tm_sec


def _machine() -> dict:
    with open("/proc/meminfo") as f:
        memory_gb = int(f.readline().split()[1]) / 1024 ** 2
    return {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
            "memory_gb": memory_gb, "load": [round(x, 2) for x in os.getloadavg()], "nice": os.nice(0)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        run_child(argv[1], argv[2:])
        return 0
    if argv and argv[0] == "--report":  # render the markdown again from the JSON (notes added by hand stay)
        out = argv[1] if len(argv) > 1 else "scale"
        (RESULTS / f"{out}.md").write_text(markdown(json.loads((RESULTS / f"{out}.json").read_text())))
        return 0
    if argv and argv[0] == "--interactive":
        parser = argparse.ArgumentParser(description="toggle and state-memory measurements")
        parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
        parser.add_argument("--memory", nargs="*", default=[], help="screening folders to hold in a state")
        parser.add_argument("--out", default="scale_interactive")
        return interactive(parser.parse_args(argv[1:]))
    if argv and argv[0] == "--writer":
        parser = argparse.ArgumentParser(description="the chunked writer by worker count")
        parser.add_argument("--size", type=float, default=4e6)
        parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
        parser.add_argument("--work", default="/tmp/bench-scale-writer")
        parser.add_argument("--out", default="scale_writer")
        return writer_runs(parser.parse_args(argv[1:]))
    if argv and argv[0] == "--query-cpu":
        parser = argparse.ArgumentParser(description="the feature query's CPU, this code against a baseline")
        parser.add_argument("--size", type=float, default=1e5)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--baseline", default="main")
        parser.add_argument("--work", default="/tmp/bench-scale-query")
        parser.add_argument("--out", default="scale_big_query")
        return query_cpu_runs(parser.parse_args(argv[1:]))
    if argv and argv[0] == "--canonical":
        parser = argparse.ArgumentParser(description="canonical tables -> features -> histogram, in DuckDB")
        parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7, 3e7, 1e8])
        parser.add_argument("--workers", type=int, default=2, help="processes drawing the pieces")
        parser.add_argument("--deadline", default=None, help="HH:MM (UTC): start no size projected to end after it")
        parser.add_argument("--work", default="/tmp/bench-scale-canonical", help="folder for the Parquet (removed after)")
        parser.add_argument("--out", default="scale_canonical")
        parser.add_argument("--duck-memory", default=DUCK_MEMORY, help="DuckDB's memory_limit in the feature step")
        from explorer.engine.features_sql import RANGE_SUBJECTS

        parser.add_argument("--ranges", nargs="+", type=int, default=[RANGE_SUBJECTS],
                            help="subjects per feature query, each a run of its own (0: one query)")
        return canonical_runs(parser.parse_args(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7, 1e8])
    parser.add_argument("--spark-sizes", nargs="*", type=float, default=[1e6, 1e7])
    parser.add_argument("--partitions", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--deadline", default=None, help="HH:MM (UTC): start nothing new after it, stop what runs")
    parser.add_argument("--work", default="/tmp/bench-scale", help="folder for the Parquet cohorts (removed after)")
    parser.add_argument("--out", default="scale", help="results file stem in benchmarks/results/")
    parser.add_argument("--quick", action="store_true", help="one small size, no Spark (make bench QUICK=1)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.spark_sizes = [2e4], []
    deadline = _deadline(args.deadline)
    report = {"run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [], "not_run": [],
              "machine": _machine()}
    report["notes"] = [
        "write: the synthetic cohort drawn and written to Parquet in chunks of 10^6 subjects (one process)",
        "DuckDB histogram: features.parquet -> the GROUP BY of packed statuses (explorer.engine.histogram_sql), "
        "all criteria of the trial; peak RSS is the whole process (DuckDB works in it)",
        "Spark: local[*] on this machine, one session per size, spark.sql.files.maxPartitionBytes set so "
        "features.parquet splits into that many input splits (row groups of 131,072 rows bound how many are real); "
        "peak RSS is the Python driver plus the JVM; 'identical' compares the sorted (pattern, count) rows",
        "wall-clock times on a 2-core machine shared with other work (load average above)",
    ]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = open(RESULTS / f"{args.out}.log", "w")  # noqa: SIM115  (the children's stderr: progress bars, errors)

    def left() -> float:
        return min(deadline - time.time(), 24 * 3600.0)

    def folder_of(n: int) -> str:
        path = str(work / f"n{n}")
        if not (Path(path) / "features.parquet").is_file():
            lines, peak, error = run_measured(["write", str(n), path], log, max(1.0, left()))
            row = {"n": n, "step": "write Parquet (chunked)", "peak_rss_mb": peak}
            row.update({"seconds": lines[-1]["write_s"], "parquet_mb": lines[-1]["parquet_mb"]} if lines and not error
                       else {"error": error})
            report["rows"].append(row)
            save(report, args.out)
            if error:
                return ""
        return path

    duck: dict[int, dict] = {}
    try:
        warm = folder_of(WARM) if args.spark_sizes else ""
        for size in args.sizes:
            n = int(size)
            if left() <= 60:
                report["not_run"].append(f"{n:,} subjects (deadline)")
                continue
            written = [r for r in report["rows"] if r["step"].startswith("write") and "seconds" in r and r["n"] > WARM]
            if written and written[-1]["seconds"] * n / written[-1]["n"] > left():
                report["not_run"].append(f"{n:,} subjects (writing it would take about "
                                         f"{written[-1]['seconds'] * n / written[-1]['n'] / 60:.0f} min at the "
                                         f"rate measured at {written[-1]['n']:,}; the deadline was closer)")
                continue
            free = shutil.disk_usage(work).free / 1e9
            if n >= 10 ** 8 and free < 30:
                report["not_run"].append(f"{n:,} subjects ({free:.0f} GB free)")
                continue
            folder = folder_of(n)
            if not folder:
                continue
            lines, peak, error = run_measured(["duckdb", folder, str(n)], log, max(1.0, left()))
            row = {"n": n, "step": "DuckDB histogram", "peak_rss_mb": peak}
            row.update(lines[-1] if lines and not error else {"error": error})
            duck[n] = row
            report["rows"].append(row)
            save(report, args.out)
            if size in args.spark_sizes and left() > 120:
                lines, peak, error = run_measured(["spark", folder, warm, str(n), str(deadline),
                                                   *map(str, args.partitions)], log, max(1.0, left()))
                for line in lines:
                    if "startup_s" in line:
                        cpu = (f" (CPU {line['startup_cpu_s']:.0f} s / {line['warm_cpu_s']:.0f} s)"
                               if "warm_cpu_s" in line else "")
                        report["rows"].append({"n": n, "step": f"Spark start-up {line['startup_s']:.1f} s, "
                                                                f"warm-up query (10^5) {line['warm_query_s']:.1f} s"
                                                                + cpu})
                    elif "skipped" in line:
                        report["not_run"].append(f"Spark {n:,} with {line['partitions']} partition(s) (deadline)")
                    else:
                        same = line["checksum"] == duck[n].get("checksum") and \
                            line["final_counts"] == duck[n].get("final_counts")
                        report["rows"].append({"n": n, "step": f"Spark local[*], {line['partitions']} partition(s)",
                                               "partitions": line["partitions"], "seconds": line["seconds"],
                                               **({"cpu_s": line["cpu_s"]} if "cpu_s" in line else {}),
                                               "patterns": line["checksum"][1], "identical": same,
                                               "final_counts": line["final_counts"]})
                report["rows"].append({"n": n, "step": "Spark session (peak of the whole run)", "peak_rss_mb": peak,
                                       **({"error": error} if error else {})})
                save(report, args.out)
            elif size in args.spark_sizes:
                report["not_run"].append(f"Spark {n:,} (deadline)")
            if n >= 10 ** 7:  # keep the disk for the next size
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        save(report, args.out)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
