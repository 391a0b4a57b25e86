"""What one criterion click makes the kernel send the page, and where its kernel time goes, in process.

For each code (the working tree, and `--baseline REF` checked out beside it, measured in the same run), each
trial and size, a fresh interpreter builds the dashboard as Voilà serves it (page address widget included, no
browser; its page indicator told, as the page tells it, that it follows the kernel), then clicks a criterion's
checkbox the way the page does: an "update" comm message handled by the
checkbox (ipywidgets echoes it back). Every widget message the kernel would send is counted with the size of
its JSON (ipywidgets sends only the traits that changed). Two criteria are clicked: one late in the funnel (the
one bench_dashboard.py clicks: few steps change) and the first that changes the count (every step changes).
Then a cProfile of the late clicks says which of our functions the kernel's time goes to.

    .venv/bin/python benchmarks/bench_click_messages.py --sizes 100000 1000000 --baseline main

Writes benchmarks/results/dashboard.click.messages.{json,md} (or `--output NAME`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from _common import RESULTS, checkout, machine  # noqa: E402 - a sibling module: this file runs as a script

CHILD = textwrap.dedent("""
    import cProfile, io, json, pstats, statistics, sys, time
    import ipywidgets
    from explorer.app.dashboard import Dashboard
    from explorer.app.scenario import DataSource, Scenario
    from explorer.cohort.synthetic.trial_match import population_for
    from explorer.trial import load_trial

    trial, n, clicks = {trial!r}, {n}, {clicks}
    scenario = Scenario(trial=trial, data=DataSource("synthetic", population_for(load_trial(trial)), n, 0))
    d = Dashboard(scenario=scenario)
    s = d.state
    pending = getattr(d, "pending", None)
    if pending is not None and "following" in pending.keys:  # what the served page says once it has rendered
        pending._handle_msg({{"content": {{"data": {{"method": "update", "state": {{"following": True}},
                                                  "buffer_paths": []}}}}, "buffers": []}})

    def changes_count(cid):
        before = s.counts["eligible"]
        s.toggle(cid, False)
        changed = s.counts["eligible"] != before
        s.toggle(cid, True)
        return changed

    enabled = [c for c in s.order if s.enabled(c)]
    late = next(c for c in reversed(enabled) if changes_count(c))
    early = next(c for c in enabled if changes_count(c))
    sent = []
    _send = ipywidgets.Widget._send

    def counted(self, msg, buffers=None):
        sent.append((type(self).__name__, sorted(msg.get("state", {{}})), len(json.dumps(msg, default=str))))
        return _send(self, msg, buffers)

    def click(cid):
        box = d.criteria._rows[cid]._toggle
        # what the page sends for a click: the checkbox's new value, handled as any comm message
        box._handle_msg({{"content": {{"data": {{"method": "update", "state": {{"value": not box.value}},
                                                "buffer_paths": []}}}}, "buffers": []}})

    ipywidgets.Widget._send = counted
    result = {{}}
    for name, cid in (("late", late), ("early", early)):
        per_click, wall, cpu = [], [], []
        for _ in range(clicks):
            sent.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            click(cid)
            wall.append(1000 * (time.perf_counter() - started))
            cpu.append(1000 * (time.process_time() - started_cpu))
            per_click.append(list(sent))
        if d.health():
            raise SystemExit(f"the dashboard is unhealthy after the clicks: {{d.health()}}")
        middle = per_click[len(per_click) // 2]
        result[name] = {{"criterion": cid, "messages": len(middle), "bytes": sum(m[2] for m in middle),
                        "each": [[m[0], ",".join(m[1]), m[2]] for m in middle],
                        "messages_median": statistics.median(len(c) for c in per_click),
                        "bytes_median": statistics.median(sum(m[2] for m in c) for c in per_click),
                        "wall_ms": round(statistics.median(wall), 2), "cpu_ms": round(statistics.median(cpu), 2)}}
    ipywidgets.Widget._send = _send
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(clicks):
        click(late)
    profile.disable()
    stats = pstats.Stats(profile)
    top = []
    for (file, line, func), (_, calls, own, cumulative, _) in stats.stats.items():
        if "/explorer/" in file or "ipywidgets" in file or "traitlets" in file:
            top.append([f"{{file.split('/explorer/')[-1] if '/explorer/' in file else file.rsplit('/', 1)[-1]}}:"
                        f"{{line}} {{func}}", round(1000 * cumulative / clicks, 3), round(1000 * own / clicks, 3)])
    top.sort(key=lambda row: -row[1])
    result["profile"] = top[:25]
    print("RESULT" + json.dumps(result))
""")


def measure(code: Path, trial: str, n: int, clicks: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", CHILD.format(trial=trial, n=n, clicks=clicks)], env=env,
                          cwd=str(code), capture_output=True, text=True, timeout=3600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"{code}: no result\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(line.removeprefix("RESULT"))


def table(rows: list[dict]) -> list[str]:
    lines = ["| code | trial | subjects | click | criterion | messages | bytes | kernel wall ms | kernel CPU ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for which in ("late", "early"):
            m = r[which]
            lines.append(f"| {r['code']} | {r['trial']} | {r['subjects']:,} | {which} | {m['criterion']} | "
                         f"{m['messages']} | {m['bytes']:,} | {m['wall_ms']} | {m['cpu_ms']} |")
    lines += ["", "Each message of the late click (widget, traits, bytes of its JSON):", ""]
    for r in rows:
        each = "; ".join(f"{w} {t or '-'} {b:,}" for w, t, b in r["late"]["each"])
        lines.append(f"- {r['code']}, {r['trial']}, {r['subjects']:,}: {each}")
    lines += ["", "Where a late click's kernel time goes (cProfile, ms per click, cumulative / own, our code and "
              "the widget libraries; profiling slows every call):", ""]
    for r in rows:
        lines += [f"### {r['code']}, {r['trial']}, {r['subjects']:,}", "", "| function | cumulative | own |",
                  "|---|---|---|"]
        lines += [f"| {f} | {c} | {o} |" for f, c, o in r["profile"][:15]]
        lines.append("")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--trials", nargs="+", default=["NCT06196996", "NCT01142050"])
    parser.add_argument("--clicks", type=int, default=9)
    parser.add_argument("--baseline", metavar="REF", help="also measure this git revision, first, in the same run")
    parser.add_argument("--output", default="dashboard.click.messages")
    args = parser.parse_args()
    rows = []
    before = machine()
    for ref, name in ([(args.baseline, args.baseline)] if args.baseline else []) + [(None, "this tree")]:
        with checkout(ref) as code:
            for n in args.sizes:
                for trial in args.trials:
                    print(f"{name}: {trial} at {n:,}", file=sys.stderr, flush=True)
                    rows.append({"code": name, "trial": trial, "subjects": n, **measure(code, trial, n, args.clicks)})
    lines = table(rows)
    after = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps({"machine_before": before, "machine_after": after,
                                                             "results": rows}, indent=2) + "\n")
    (RESULTS / f"{args.output}.md").write_text(
        "## One criterion click's widget messages, in process (bench_click_messages.py)\n\n" + "\n".join(lines)
        + f"\nLoad average before {before['load']}, after {after['load']} on {after['cores']} CPUs.\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
