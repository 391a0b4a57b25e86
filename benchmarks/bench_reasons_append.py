"""The cost of adding the censored values' reasons to a written screening folder's missing_reasons.parquet.

A folder written range by range (explorer.engine.folder_writer) gets its censored values' reasons last. They were
added by reading the whole reasons file into Arrow and writing it again (`whole`, the code before 14's change);
now the file is streamed batch by batch into its new version (`streamed`, folder_writer._append_reasons). Each
variant runs in a fresh interpreter on a copy of the same file: the reasons of `--subjects` subjects, 14 rows
each (what the synthetic T1D cohort gives), plus 1,000 censored values' reasons. Reported: the step's wall time
and the child's peak resident memory above what it held before the step, with the load average.

    flock /tmp/te-bench.lock nice -n 10 .venv/bin/python benchmarks/bench_reasons_append.py [--subjects 1e6]
        [--out reasons_append] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS, machine, peak_rss_mb

ROWS_PER_SUBJECT = 14


def write_reasons(subjects: int, path: Path) -> None:
    import duckdb

    duckdb.sql(f"""COPY (SELECT 'S' || lpad(CAST(i // {ROWS_PER_SUBJECT} AS VARCHAR), 9, '0') AS subject_id,
        'variable_' || CAST(i % {ROWS_PER_SUBJECT} AS VARCHAR) AS variable,
        'not measured in the look-back window' AS reason
        FROM range({subjects * ROWS_PER_SUBJECT}) t(i)) TO '{path}' (FORMAT parquet)""")


def run_child(variant: str, path: Path) -> dict:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from explorer.engine.folder_writer import _append_reasons  # imported before the baseline is taken

    added = pd.DataFrame({"subject_id": ["S000000001"] * 1000, "variable": ["fasting_cpeptide"] * 1000,
                          "reason": ["below the assay's limit"] * 1000})
    held = peak_rss_mb()
    started = time.perf_counter()
    if variant == "whole":
        before = pq.read_table(path)
        table = pa.table({c: pa.array(added[c].to_numpy(), pa.string()) for c in added}).cast(before.schema)
        pq.write_table(pa.concat_tables([before, table]), path)
    else:
        extra = path.with_name("added.parquet")
        pq.write_table(pa.Table.from_pandas(added, preserve_index=False), extra)
        _append_reasons(path, extra)
    seconds = time.perf_counter() - started
    return {"variant": variant, "seconds": round(seconds, 2), "peak_above_mb": round(peak_rss_mb() - held, 1),
            "rows": pq.ParquetFile(path).metadata.num_rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=float, default=1e6)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="reasons_append")
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--quick", action="store_true", help="10^4 subjects, one repeat: checks that it runs")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child[0], Path(args.child[1]))))
        return
    subjects, repeats = (10_000, 1) if args.quick else (int(args.subjects), args.repeats)
    work = Path(tempfile.mkdtemp(prefix="bench-reasons-"))
    try:
        source = work / "reasons.parquet"
        write_reasons(subjects, source)
        runs = []
        for _ in range(repeats):
            for variant in ("whole", "streamed"):
                copy = work / f"{variant}.parquet"
                shutil.copy(source, copy)
                out = subprocess.run([sys.executable, __file__, "--child", variant, str(copy)], capture_output=True,
                                     text=True, check=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(runs[-1]), flush=True)
        size_mb = source.stat().st_size / 1024 ** 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"machine": machine(), "load_average": [round(x, 2) for x in os.getloadavg()], "subjects": subjects,
              "rows": subjects * ROWS_PER_SUBJECT, "file_mb": round(size_mb, 1), "runs": runs}
    if args.quick:
        return
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    best = {v: min((r for r in runs if r["variant"] == v), key=lambda r: r["seconds"]) for v in ("whole", "streamed")}
    lines = [f"# Adding censored values' reasons to missing_reasons.parquet ({subjects:,} subjects, "
             f"{subjects * ROWS_PER_SUBJECT:,} rows, {size_mb:.1f} MB)", "",
             f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | load average {result['load_average']} | "
             f"each variant in a fresh interpreter, {repeats} rounds, best shown", "",
             "| variant | seconds | peak memory above the child's before the step | ratio to whole (memory) |",
             "|---|---:|---:|---:|"]
    for variant, row in best.items():
        ratio = row["peak_above_mb"] / best["whole"]["peak_above_mb"] if best["whole"]["peak_above_mb"] else 0
        lines.append(f"| {variant} | {row['seconds']} | {row['peak_above_mb']:,} MB | {ratio:.2f} |")
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
