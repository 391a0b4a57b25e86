"""Bounded, seeded fuzzing of the input boundary: generated trial files and data files (issue 12).

scripts/fuzz_inputs.py generates the cases and sorts every outcome into a class; here a fixed seed and
a fixed number of cases run in the suite (about 10 s), and any defect fails the test with its class and
detail: a raw exception, a hang, a silent drop, a silently accepted bad file, an error that does not
name its file, or one that shows a file's contents. The script runs the same generator without bound.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from project_paths import ROOT

SCRIPT = ROOT / "scripts" / "fuzz_inputs.py"


@pytest.fixture(scope="module")
def fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_inputs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_inputs"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("fuzz_inputs", None)


@pytest.mark.parametrize("seed", [0, 1])
def test_generated_inputs_load_or_fail_clearly(fuzzer, seed, tmp_path):
    # A UTC offset among plain dates still raises pandas' "Mixed timezones" in parse_dates; its fix
    # (issue 13, CGM input) is on the cgm branch. Drop `without_cells` once that is in main.
    counts, defects = fuzzer.fuzz(seed, cases=50, limit=5.0, folder=tmp_path, without_cells=(fuzzer.MIXED_OFFSET,))
    assert sum(counts.values()) == 50
    assert not defects, "\n".join(f"{where} {outcome}: {detail}" for where, outcome, detail in defects[:10])
    # the generator reaches both outcomes for both kinds of file, so a broken generator cannot pass quietly
    assert {k.split(":")[1] for k in counts} >= {"loaded", "clear_error"}


def test_the_classifier_catches_each_defect_class(fuzzer, tmp_path):
    """Each class the fuzzer reports must be detectable, or an all-green run would mean nothing."""
    from explorer.errors import DataError
    path = tmp_path / "x.csv"
    assert fuzzer.classify_error(TypeError("boom"), path, True) == "raw_exception"
    assert fuzzer.classify_error(DataError("bad", file="elsewhere.csv"), path, True) == "unlocated"
    assert fuzzer.classify_error(DataError(f"cols {fuzzer.SECRET}", file=str(path)), path, False) == "echo"
    assert fuzzer.classify_error(DataError("bad", file=str(path)), path, True) == "clear_error"
    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text("id: A\ntitle: x\ntitle: y\n")
    assert fuzzer.run_trial(duplicate, 5.0, must_refuse=True)[0] == "clear_error"
    valid = tmp_path / "ok.yaml"
    valid.write_text("id: A\ntitle: x\n")
    assert fuzzer.run_trial(valid, 5.0, must_refuse=True)[0] == "silent_accept"
