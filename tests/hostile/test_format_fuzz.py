"""A bounded, seeded sweep of hostile canonical folders (scripts/fuzz_inputs.py FORMATS): Parquet and Excel
tables, BOM, ';' separators and decimal commas, cut-off tables, huge cells, mixed date formats, repeated ids,
columns dropped, renamed or repeated, NaN/inf/1e308/-0. Each case must load with three-valued, consistent
statuses for a bundled trial, or fail with the project's error naming the file (and its column). The script
runs the same generator without bound: `.venv/bin/python scripts/fuzz_inputs.py --seconds 600`."""

from __future__ import annotations

import importlib.util
import random
import sys
import time
from collections import Counter

import pytest
from project_paths import ROOT

BUDGET_SECONDS = 15.0


@pytest.fixture(scope="module")
def fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_inputs", ROOT / "scripts" / "fuzz_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_inputs"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("fuzz_inputs", None)


def test_hostile_formats_load_consistently_or_fail_clearly(fuzzer, tmp_path):
    outcomes, defects, start, seed = Counter(), [], time.monotonic(), 0
    # every mutation once in a fixed order first, then seeded cases until the budget is spent
    while seed < len(fuzzer.FORMATS) or (time.monotonic() - start < BUDGET_SECONDS and seed < 200):
        rng = random.Random(seed)
        random.seed(seed)  # run_data's choice of on_invalid
        folder = tmp_path / f"case{seed}"
        folder.mkdir()
        n = rng.randint(1, 6)
        forced = fuzzer.FORMATS[seed] if seed < len(fuzzer.FORMATS) else None
        chooser = rng if forced is None else _Forced(rng, forced, fuzzer.FORMATS)
        case = fuzzer.format_case(chooser, folder, fuzzer._subjects(rng, n), fuzzer._measurements(rng, n),
                                  fuzzer._cgm(rng, n))
        outcome, detail = fuzzer.run_data(case, 20.0)
        outcomes[outcome] += 1
        if outcome in fuzzer.DEFECTS:
            defects.append(f"seed {seed} {case.what} {outcome}: {detail}")
        seed += 1
    assert not defects, "\n".join(defects)
    assert outcomes["loaded"] and outcomes["clear_error"], outcomes  # a broken generator cannot pass quietly


class _Forced:
    """A random.Random whose first choice among the mutations is the one given (so each is run at least once)."""

    def __init__(self, rng: random.Random, mutation: str, formats: tuple[str, ...]):
        self._rng, self._mutation, self._formats = rng, mutation, formats

    def choice(self, options):
        if tuple(options) == self._formats:
            return self._mutation
        return self._rng.choice(options)

    def __getattr__(self, name):
        return getattr(self._rng, name)
