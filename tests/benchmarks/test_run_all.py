"""benchmarks/run_all.py (`make bench`): every bench_*.py runs, a quick run keeps the recorded results, one
failure does not stop the others; benchmarks and scripts import the installed package, not a patched path."""

from __future__ import annotations

import importlib.util
import textwrap

import pytest
from project_paths import ROOT


@pytest.fixture
def run_all(tmp_path, monkeypatch):
    """benchmarks/run_all.py, pointed at a folder of made-up benchmarks in tmp_path."""
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(module, "QUICK_ARGS", {"listed": ["--n", "1"]})
    writes = """
        import argparse, pathlib
        parser = argparse.ArgumentParser()
        parser.add_argument("--n", default="full")
        parser.add_argument("--quick", action="store_true")
        args = parser.parse_args()
        (pathlib.Path(__file__).parent / "results" / "{name}.txt").write_text(args.n + str(args.quick))
    """
    for name in ("listed", "offers_quick"):
        (tmp_path / f"bench_{name}.py").write_text(textwrap.dedent(writes.format(name=name)))
    (tmp_path / "bench_no_quick.py").write_text("print('measuring')\n")
    (tmp_path / "bench_broken.py").write_text("import argparse\nargparse.ArgumentParser().parse_args()\n"
                                              "raise SystemExit(3)\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "listed.txt").write_text("recorded")
    return module


def test_a_full_run_runs_every_benchmark_and_reports_a_failure(run_all, tmp_path, capsys):
    assert run_all.main([]) == 1  # bench_broken failed; the others still ran
    assert (tmp_path / "results" / "listed.txt").read_text() == "fullFalse"
    assert (tmp_path / "results" / "offers_quick.txt").read_text() == "fullFalse"
    summary = capsys.readouterr().out.split("benchmark     result")[1]
    assert "broken        failed (exit 3)" in summary and summary.count("  ok  ") == 3


def test_a_quick_run_uses_quick_settings_and_keeps_the_recorded_results(run_all, tmp_path, capsys):
    assert run_all.main(["--quick", "--skip", "broken"]) == 0
    out = capsys.readouterr().out
    assert "bench_listed.py --n 1" in out and "bench_offers_quick.py --quick" in out
    assert "no_quick: skipped" in out
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["listed.txt"]
    assert (tmp_path / "results" / "listed.txt").read_text() == "recorded"


def test_every_real_benchmark_has_quick_settings(capsys):
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = [name for name, script in module.benchmarks().items() if module.quick_args(name, script) is None]
    assert not missing, f"add quick settings for {missing} to benchmarks/run_all.py QUICK_ARGS"


@pytest.mark.parametrize("folder", ["benchmarks", "scripts"])
def test_no_script_patches_the_import_path(folder):
    patched = [p.name for p in (ROOT / folder).glob("*.py") if "sys.path.insert" in p.read_text()]
    assert not patched, f"{patched} insert into sys.path; import the installed package (make setup) instead"
