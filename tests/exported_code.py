"""Runs code exported for scenarios (explorer.app.code_export) in a fresh interpreter, as a researcher would, and
returns what each script computed: its counts and its funnel (one interpreter for all: the import is the slow part)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from explorer.app.code_export import scenario_code
from explorer.app.scenario import Scenario

RUNNER = """
import json, runpy, sys
out = []
for path in sys.argv[1:]:
    g = runpy.run_path(path)
    funnel = g["funnel"]
    out.append({"counts": g["counts"], "funnel": json.loads(funnel.to_json(orient="split", index=False))})
print(json.dumps(out))
"""


def run_exported(scenarios: list[Scenario], folder: Path) -> list[dict]:
    """Each scenario's exported script, written to `folder` and run there: [{"counts": ..., "funnel": ...}]."""
    paths = []
    for i, scenario in enumerate(scenarios):
        path = folder / f"scenario_{i}.py"
        path.write_text(scenario_code(scenario))
        paths.append(str(path))
    done = subprocess.run([sys.executable, "-c", RUNNER, *paths], capture_output=True, text=True, timeout=240,
                          cwd=folder)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
