"""Bounded, seeded fuzzing of the input boundary: trial files, data files, screening folders (issue 12).

scripts/fuzz_inputs.py generates the cases and sorts every outcome into a class; here a fixed seed and
a fixed number of cases run in the suite (about 20 s), and any defect fails the test with its class and
detail: a raw exception, a hang, a silent drop, a silently accepted bad file, an error that does not
name its file, one that shows a file's contents, or a screening folder whose event tables one engine
evaluates and the other refuses. The script runs the same generator without bound.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter

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


def test_generated_inputs_load_or_fail_clearly(fuzzer, tmp_path):
    total = Counter()
    for seed in (0, 1):
        counts, defects = fuzzer.fuzz(seed, cases=50, limit=5.0, folder=tmp_path)
        assert sum(counts.values()) == 50
        assert not defects, "\n".join(f"{where} {outcome}: {detail}" for where, outcome, detail in defects[:10])
        total += counts
    # the generator reaches both outcomes for every kind of input, so a broken generator cannot pass quietly
    for kind in ("trial", "data", "screening"):
        assert {k.split(":")[1] for k in total if k.startswith(kind + ":")} >= {"loaded", "clear_error"}, total


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


def test_the_classifier_catches_a_bad_event_table_accepted(fuzzer, tmp_path, monkeypatch):
    """A folder whose events name a subject it does not screen must be refused; unchecked, it is caught."""
    import random

    case = None
    rng = random.Random(0)
    for n in range(200):
        candidate = fuzzer.screening_case(rng, tmp_path, n)
        if candidate.what.startswith("events.subject_id='ghost'"):
            case = candidate
            break
    assert case is not None and case.must_fail
    assert fuzzer.run_screening(case, 10.0)[0] == "clear_error"
    from explorer.cohort import checks
    monkeypatch.setattr(checks, "known_subjects", lambda ids, subjects, **_: None)
    assert fuzzer.run_screening(case, 10.0)[0] == "silent_accept"
