"""The trial-explorer command: the definition commands' output formats, and the package's shape (no circle)."""

from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path

import pytest
from project_paths import ROOT

from explorer.cli.entry import main

PACKAGE = ROOT / "explorer"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trials_lists_both_seeds(capsys):
    code, out, _ = run(capsys, "trials")
    assert code == 0 and "NCT06196996" in out and "NCT01142050" in out
    code, out, _ = run(capsys, "trials", "--format", "json")
    rows = json.loads(out)
    assert {r["id"]: (r["inclusion"], r["exclusion"]) for r in rows} == {
        "NCT06196996": (6, 14), "NCT01142050": (10, 4)}  # 9 listed + D1 from the description


@pytest.mark.parametrize("trial_id, n", [("NCT06196996", 20), ("NCT01142050", 14)])
def test_show_lists_every_criterion(capsys, trial_id, n):
    code, out, _ = run(capsys, "show", trial_id)
    assert code == 0
    for prefix in ("I", "E"):
        assert f"\n{prefix}1 " in out
    code, out, _ = run(capsys, "show", trial_id, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == n
    assert set(rows[0]) == {"id", "kind", "computable", "expression", "parameters", "unknown_policy", "text"}
    code, out, _ = run(capsys, "show", trial_id, "--format", "json")
    data = json.loads(out)
    assert len(data["criteria"]) == n and len(data["criteria_table"]) == n


def test_show_accepts_a_file_path(capsys, tmp_path):
    from explorer.trial import load_trial, save_trial
    path = save_trial(load_trial("NCT01142050").with_parameter("I3", "age_max", 80), tmp_path / "variant.yaml")
    code, out, _ = run(capsys, "show", str(path))
    assert code == 0 and "age_max=80 years" in out


def test_errors_are_one_line_on_stderr(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: X\ntitle: t\ncriteria:\n- {id: I1, kind: inclusion, text: t, expression: 'sex >= 3'}\n")
    code, out, err = run(capsys, "show", str(bad))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "criterion I1" in err and "Traceback" not in err
    code, _, err = run(capsys, "show", "NCT00000000")
    assert code == 2 and "neither a bundled trial" in err


def test_check_and_schema_and_variables(capsys):
    code, out, _ = run(capsys, "check", "data/trials/NCT06196996.yaml")
    assert code == 0 and "ok (20 criteria" in out
    code, out, _ = run(capsys, "schema")
    assert json.loads(out)["title"] == "Trial Explorer trial definition"
    code, out, _ = run(capsys, "variables", "--format", "csv")
    assert "hba1c,number,%" in out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_arrow_back_up_to_the_front_ends():
    """The front ends (cli, app) sit on top: nothing below imports them, and sources stays below both."""
    for path in PACKAGE.rglob("*.py"):
        room = path.relative_to(PACKAGE).parts[0]
        climbs = {m for m in _imports(path) if m.split(".")[:2] in (["explorer", "cli"], ["explorer", "app"])}
        if room == "cli":
            assert not {m for m in climbs if m.startswith("explorer.app")} - {"explorer.app.dashboard"}, path
        elif room != "app":
            assert not climbs, f"{path.relative_to(PACKAGE)} imports {sorted(climbs)}"


def test_cli_command_modules_do_not_import_the_entry_point():
    """entry imports each command group; a group importing entry (or another group) would close a circle."""
    groups = {"definitions", "funnel", "outcomes", "synth", "registry", "dashboard"}
    for name in groups:
        modules = _imports(PACKAGE / "cli" / f"{name}.py")
        imported = {m.rsplit(".", 1)[-1] for m in modules if m.split(".")[:2] == ["explorer", "cli"]}
        assert imported <= {"options", "output"}, (name, imported)
