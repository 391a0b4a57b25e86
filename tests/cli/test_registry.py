"""`trial-explorer import` (explorer.cli.registry): YAML, written files, the report, and JSON that is JSON."""

from __future__ import annotations

import json

import yaml

from explorer.cli.entry import main
from explorer.trial import load_trial


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["import", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_writes_yaml_and_report(tmp_path, fixtures_dir, capsys):
    page = fixtures_dir / "registry" / "registry_page.txt"
    out = tmp_path / "imported.yaml"
    code, printed, _ = run(capsys, page, "--out", out, "--report")
    assert code == 0 and f"wrote {out}" in printed and "E2" in printed
    assert load_trial(out).id == "NCT09999903"
    code, printed, _ = run(capsys, page)
    assert code == 0 and yaml.safe_load(printed)["id"] == "NCT09999903"


def test_legacy_xml_to_a_file(tmp_path, fixtures_dir, capsys):
    out = tmp_path / "t.yaml"
    code, printed, _ = run(capsys, fixtures_dir / "registry" / "ctgov_legacy_small.xml", "--out", out, "--report")
    assert code == 0 and "wrote" in printed and load_trial(out).id == "NCT09999902"


def test_format_json_prints_one_json_document(tmp_path, fixtures_dir, capsys):
    page = fixtures_dir / "registry" / "registry_page.txt"
    code, printed, _ = run(capsys, page, "--format", "json")
    assert code == 0
    [study] = json.loads(printed)  # the whole of stdout parses: no YAML before or after
    assert study["file"] is None and "report" not in study

    out = tmp_path / "imported.yaml"
    code, printed, _ = run(capsys, page, "--out", out, "--report", "--format", "json")
    [written] = json.loads(printed)
    assert written["file"] == str(out) and written["report"]["trial"] == "NCT09999903"
    assert study["trial"] == written["trial"] == load_trial(out).to_dict()
