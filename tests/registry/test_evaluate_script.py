"""scripts/evaluate_import.py on brat annotations: gold per variable family, recall and precision."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from project_paths import ROOT

SCRIPT = ROOT / "scripts" / "evaluate_import.py"


def _run(tmp_path, source, *extra):
    out = tmp_path / "q.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--chia", str(source), "--out", str(out), *extra],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text()), (tmp_path / "q.md").read_text()


def test_brat_fixture_scores_per_family(tmp_path, fixtures_dir):
    result, md = _run(tmp_path, fixtures_dir / "registry" / "chia", "--sample", "3")
    families = result["families"]
    # gold: age 18; HbA1c 7.5 and 10 (a decimal comma); ALT 3 x ULN; systolic 160; pregnancy on one line
    assert families["age"]["gold"] == 1 and families["age"]["read"]["right"] == 1
    assert families["hba1c"]["gold"] == 2 and families["hba1c"]["computable"]["right"] == 2
    assert families["liver x ULN"]["read"]["right"] == 1
    assert families["blood pressure"]["read"]["right"] == 1
    assert families["pregnancy"]["gold"] == 1 and families["pregnancy"]["read"]["right"] == 1
    assert result["summary"]["total"]["read"]["precision"] == 1.0
    assert len(result["sample"]) == 3
    assert md.startswith("# Registry import quality on the Chia development set")


@pytest.mark.shared
def test_chia_zip_reads(shared_data, tmp_path):
    chia = shared_data / "ctgov" / "chia_dev_non_diabetes.zip"
    if not chia.exists():
        pytest.skip(f"{chia} is not here")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import evaluate_import
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    lines = evaluate_import.read_chia(chia)
    assert len({line.trial for line in lines}) > 900
    assert sum(len(line.gold) for line in lines) > 1500
