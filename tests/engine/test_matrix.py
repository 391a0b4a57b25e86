"""Evaluating a trial into the mask matrix; re-evaluating one criterion; policies without re-evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from cohort_helpers import screening
from engine_cases import small_trial
from random_cohort import random_screening

from explorer.engine import (
    ASSUMED,
    FAIL,
    PASS,
    UNKNOWN,
    EligibilityMatrix,
    evaluate,
    final_counts,
    funnel,
    impact,
    shapley,
)
from explorer.engine.memory import MemoryBackend
from explorer.errors import DefinitionError, ExpressionError
from explorer.trial import load_trial

DATA = screening(age=[30.0, 10.0, None, 50.0], pregnant=[False, None, True, False])


def test_statuses_follow_the_criterion_kind():
    m = evaluate(small_trial(), DATA)
    assert m.ids == ("I1", "E1", "I2")
    assert m.subject_ids.tolist() == ["s0", "s1", "s2", "s3"]
    # inclusion: expression true = PASS; exclusion: expression true = FAIL; missing = UNKNOWN
    assert m.column("I1").tolist() == [PASS, FAIL, UNKNOWN, PASS]
    assert m.column("E1").tolist() == [PASS, UNKNOWN, FAIL, PASS]
    assert m.column("I2").tolist() == [ASSUMED] * 4
    assert m.codes.shape == (4, 3) and m.codes.dtype == np.int8
    assert m.to_frame(names=True).loc["s2"].tolist() == ["unknown", "fail", "assumed"]
    assert final_counts(m) == {"screened": 4, "eligible": 2, "possibly_eligible": 0, "remaining": 2, "excluded": 2}
    with pytest.raises(ValueError):
        m.column("I1")[0] = 0  # columns are shared between matrices: read-only


def test_unknown_policy_of_the_definition_is_used():
    trial = small_trial()
    trial = trial.with_criterion("E1", unknown="pass")
    m = evaluate(trial, DATA)
    assert m.column("E1").tolist() == [PASS, UNKNOWN, FAIL, PASS]  # raw, before the policy
    assert final_counts(m)["possibly_eligible"] == 0
    assert funnel(m).set_index("criterion").loc["E1", "policy"] == "pass"


class CountingBackend(MemoryBackend):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.evaluated: list[str] = []

    def truth_codes(self, criteria, catalogue=None, progress=None):
        self.evaluated += [c.id for c in criteria]
        return super().truth_codes(criteria, catalogue, progress)


def test_changing_a_parameter_re_evaluates_only_that_criterion(monkeypatch):
    backend = CountingBackend(random_screening(300, seed=2))
    monkeypatch.setattr("explorer.engine.matrix.make_backend", lambda engine, source, catalogue: backend)
    trial = load_trial("NCT06196996")
    m = evaluate(trial, backend.context.screening)
    assert backend.evaluated == [c.id for c in trial.criteria if c.computable]
    _ = m.bits, m.histogram  # summaries built, then updated incrementally
    backend.evaluated.clear()
    m2 = m.with_parameter(trial, "I1", "age_max", 40)
    assert backend.evaluated == ["I1"]
    assert m2.trial.criterion("I1").parameters["age_max"].value == 40
    assert m.trial.criterion("I1").parameters["age_max"].value == 65  # the old matrix is untouched
    fresh = evaluate(m2.trial, backend.context.screening)
    for a, b in zip(m2.columns, fresh.columns, strict=True):
        assert np.array_equal(a, b)
    assert funnel(m2).equals(funnel(fresh))
    assert impact(m2).equals(impact(fresh))
    assert np.array_equal(np.sort(m2.histogram.counts), np.sort(fresh.histogram.counts))
    assert all(a is b for a, b, c in zip(m.columns, m2.columns, m.ids, strict=True) if c != "I1")  # shared, not copied
    # a policy edit is not an evaluation
    backend.evaluated.clear()
    m3 = m2.with_trial(m2.trial.with_criterion("E4", unknown="fail"))
    assert backend.evaluated == []
    assert final_counts(m3) == final_counts(m2, policies={"E4": "fail"})


def test_with_policies_keeps_the_codes():
    m = evaluate(small_trial(), DATA)
    m2 = m.with_policies(unknown={"I1": "pass"}, assumption={"I2": "fail"})
    assert all(a is b for a, b in zip(m.columns, m2.columns, strict=True))
    assert m2.criterion("I1").unknown == "pass" and m.criterion("I1").unknown == "unknown"
    assert final_counts(m2)["eligible"] == 0
    with pytest.raises(DefinitionError):
        m.with_policies(unknown={"I1": "sometimes"})


def test_seed_trials_evaluate_and_shapley_adds_up():
    data = random_screening(2000, seed=5)
    for trial_id in ("NCT06196996", "NCT01142050"):
        trial = load_trial(trial_id)
        m = evaluate(trial, data, progress=False)
        assert isinstance(m, EligibilityMatrix) and m.n_subjects == 2000
        counts = final_counts(m)
        assert shapley(m)["shapley"].sum() == pytest.approx(counts["eligible"] - 2000)
        assert funnel(m)["remaining"].iloc[-1] == counts["remaining"]


def test_progress_bar(capsys):
    evaluate(small_trial(), DATA, progress=True)
    assert "evaluating T1" in capsys.readouterr().err


def test_errors_name_the_criterion_and_engine():
    with pytest.raises(DefinitionError, match="engine"):
        evaluate(small_trial(), DATA, engine="oracle")
    m = evaluate(small_trial(), DATA)
    with pytest.raises(DefinitionError, match="no criterion"):
        m.column("X9")
    with pytest.raises(ExpressionError):
        from explorer.engine.memory import evaluate_expression
        from explorer.expr import parse
        evaluate_expression(parse("severe_hypoglycemia"), DATA)


def test_each_truth_array_is_let_go_as_its_status_is_made(monkeypatch):
    """Holding every criterion's truth codes until all statuses existed kept two copies of the matrix at the
    peak (0.2 GB more at 10^7 subjects): when a status is made, the truths already converted are gone."""
    import weakref

    import pandas as pd

    from explorer.engine import matrix as matrix_module

    trial = load_trial("NCT06196996")
    computable = [c for c in trial.criteria if c.computable]
    made: list[weakref.ref] = []

    class Backend:
        name = "fake"

        def subject_ids(self):
            return pd.Index([f"s{i}" for i in range(50)], dtype="string")

        def truth_codes(self, criteria, catalogue, progress=None):
            out = [np.full(50, i % 3, np.int8) for i, _ in enumerate(criteria)]
            made.extend(weakref.ref(a) for a in out)
            return out

    alive = []
    convert = matrix_module.status_from_truth
    monkeypatch.setattr(matrix_module, "status_from_truth",
                        lambda codes, kind: alive.append(sum(r() is not None for r in made)) or convert(codes, kind))
    columns = matrix_module._status_columns(Backend(), trial, computable, progress=False)
    assert len(columns) == len(computable) > 3
    assert alive == list(range(len(computable), 0, -1))
