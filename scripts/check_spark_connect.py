"""Check the Spark engine over Spark Connect: a local Connect server, the CLI's funnel equal to the memory engine's.

    .venv/bin/python scripts/check_spark_connect.py [--port 15002] [--data PATH ...] [--only-data] [--synthetic 2000]

Starts a Spark Connect server from the jar that PySpark ships (spark-connect_2.13-*.jar, through its
bin/spark-submit and the server class that sbin/start-connect-server.sh names), then runs

    trial-explorer funnel NCT06196996 --data X --engine spark --spark-master sc://localhost:PORT --format json

on a synthetic screening folder, on synthetic canonical tables (features derived by Spark over Connect), on an
in-memory synthetic cohort (--synthetic: sent to the server as Arrow) and on every --data given, and compares
each output with `--engine memory` (all fields but "engine"). Prints one line per case and exits 1 if any
differs. The server runs in its own process group, stopped at the end. Needs the `spark-connect` extra
(pip install -e '.[spark-connect]') and a Java 17+ runtime. It is a script, not a test: the server takes
30 s or more to start on a loaded 2-core machine; tests/engine/test_spark.py covers the address handling.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRIAL = "NCT06196996"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def start_server(port: int, log: Path) -> subprocess.Popen:
    """A Spark Connect server on localhost:port (local[2]), from the jars inside the PySpark package."""
    import pyspark

    home = Path(pyspark.__file__).parent
    if not list((home / "jars").glob("spark-connect_*.jar")):
        raise SystemExit(f"no spark-connect jar in {home / 'jars'}: this PySpark does not ship the Connect server")
    command = [str(home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name", "trial-explorer-connect-check",
               "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
               "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2"]
    return subprocess.Popen(command, env={**os.environ, "SPARK_HOME": str(home)}, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_up(master: str, server: subprocess.Popen, log: Path, timeout: float) -> float:
    from explorer.engine.spark import check_connect_server
    from explorer.errors import DataError

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.poll() is not None:
            raise SystemExit(f"the Connect server exited with {server.returncode}; see {log}")
        try:
            check_connect_server(master)
            return time.monotonic() - start
        except DataError:
            time.sleep(1)
    raise SystemExit(f"no Connect server at {master} after {timeout:.0f} s; see {log}")


def funnel(source: list[str], engine: str, master: str | None = None) -> tuple[dict | None, str, float]:
    """The CLI's JSON output (without its "engine" field), its stderr and its wall-clock seconds."""
    command = [sys.executable, "-m", "explorer.cli.entry", "funnel", TRIAL, *source, "--engine", engine,
               "--format", "json", *(["--spark-master", master] if master else [])]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return None, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}", seconds
    out = json.loads(done.stdout)
    out.pop("engine")
    return out, "", seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=15002)
    parser.add_argument("--data", nargs="*", default=[], help="more datasets or screening folders to compare")
    parser.add_argument("--synthetic", type=int, default=2000, help="subjects of the synthetic cases")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the server")
    parser.add_argument("--only-data", action="store_true", help="compare the --data cases only")
    args = parser.parse_args(argv)

    from explorer.cohort.synthetic import generate_cohort, generate_screening
    from explorer.cohort.synthetic.canonical_tables import write_cohort
    from explorer.engine import write_screening

    master = f"sc://localhost:{args.port}"
    work = Path(tempfile.mkdtemp(prefix="connect-check-"))
    write_screening(generate_screening("t1d", args.synthetic, seed=8), work / "screening")
    write_cohort(generate_cohort("t1d", max(1, args.synthetic // 10), seed=4), work / "canonical")
    cases = {} if args.only_data else {"screening folder": ["--data", str(work / "screening")],
                                       "canonical tables": ["--data", str(work / "canonical")],
                                       "in-memory synthetic": ["--synthetic", str(args.synthetic), "--seed", "3"]}
    cases.update({f"--data {path}": ["--data", path] for path in args.data})
    log = work / "connect-server.log"
    server = start_server(args.port, log)
    failed = 0
    try:
        print(f"Connect server up at {master} after {wait_until_up(master, server, log, args.timeout):.1f} s",
              flush=True)
        for name, source in cases.items():
            expected, error, memory_s = funnel(source, "memory")
            if expected is None:
                print(f"SKIP  {name}: the memory engine refused it ({error})", flush=True)
                continue
            got, error, spark_s = funnel(source, "spark", master)
            same = got == expected
            failed += not same
            print(f"{'SAME' if same else 'DIFF'}  {name}: {expected['subjects']:,} subjects, final "
                  f"{expected['final']} | memory {memory_s:.1f} s, Spark Connect {spark_s:.1f} s"
                  + (f" | {error}" if error else ""), flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    print(f"{len(cases) - failed} of {len(cases)} cases equal to the memory engine; server log {log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
