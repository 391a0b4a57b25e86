"""The CLI's JSON output, for tests that compare engines through `trial-explorer funnel`."""

from __future__ import annotations

import json


def funnel_json(capsys, data, engine: str, trial: str = "NCT06196996") -> dict:
    """`trial-explorer funnel TRIAL --data DATA --engine ENGINE --format json`, parsed, its engine checked and
    removed (the rest must equal whatever the engine)."""
    from explorer.cli.entry import main

    code = main(["funnel", trial, "--data", str(data), "--engine", engine, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert out.pop("engine") == engine
    return out
