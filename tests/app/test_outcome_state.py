"""The outcome state: the enrolled subjects' outcomes, computed from their screening rows only (taken by
position, issue 17), are the numbers the whole screening gives."""

from __future__ import annotations

import threading
import time
from dataclasses import fields, replace

import pandas as pd
import pytest

from explorer.app.outcome_state import ALLOCATIONS, aligned_tables, rows_at
from explorer.app.scenario import DataSource, Scenario
from explorer.app.state import ExplorerState
from explorer.cohort.synthetic import enrolment
from explorer.cohort.synthetic.trial_match import population_for
from explorer.outcomes.measures import OutcomeResults, outcome_measures
from explorer.trial import load_trial

N = 20_000  # some eligible for both bundled trials


@pytest.fixture(scope="module", params=["NCT06196996", "NCT01142050"])
def state(request):
    trial = request.param
    return ExplorerState(Scenario(trial=trial, data=DataSource("synthetic", population_for(load_trial(trial)), N, 0)),
                         with_baseline=False)


def whole_screening_results(state: ExplorerState) -> OutcomeResults:
    """The outcomes as they were computed before: the simulation and the measures given the whole screening."""
    outcomes, enrolled = state.outcomes, state.outcomes.enrolled()
    cohort = enrolment.simulate_outcomes(state.trial, state.screening, enrolled, model=outcomes.model,
                                         arm=ALLOCATIONS[outcomes.allocation], seed=state.scenario.data.seed)
    return outcome_measures(state.trial, cohort, screening=state.screening, on_missing="skip")


def assert_same_results(results: OutcomeResults, expected: OutcomeResults) -> None:
    for field in fields(OutcomeResults):
        got, want = getattr(results, field.name), getattr(expected, field.name)
        if isinstance(want, pd.DataFrame):
            pd.testing.assert_frame_equal(got, want, obj=field.name)
        else:
            assert got == want, field.name


def test_the_enrolled_rows_are_what_the_whole_screening_gives(state):
    results, expected = state.outcomes.results(), whole_screening_results(state)
    assert len(results.subjects) >= 10
    assert_same_results(results, expected)


def test_rows_by_position_are_the_screening_subset(state):
    enrolled = state.outcomes.enrolled()
    positions = state.eligible_positions()[:len(enrolled)]
    screening = state.screening
    shuffled = replace(screening, event_lookback=screening.event_lookback.iloc[::-1])  # rows in another order
    for source in (screening, shuffled):
        subset = rows_at(source, positions, aligned_tables(source))
        expected = enrolment.screening_subset(source, enrolled)
        for name in ("features", "events", "event_lookback", "event_counts"):
            if getattr(expected, name) is None:
                assert getattr(subset, name) is None
            else:
                pd.testing.assert_frame_equal(getattr(subset, name), getattr(expected, name), obj=name)
    assert "event_lookback" in aligned_tables(screening)
    assert "event_lookback" not in aligned_tables(shuffled)


@pytest.fixture()
def fresh():
    """A state of its own (these tests count computations and change the scenario)."""
    return ExplorerState(Scenario(data=DataSource("synthetic", "t1d", 5_000, 0)), with_baseline=False)


def test_prepared_outcomes_are_the_ones_the_tab_then_takes(fresh):
    fresh.outcomes.prepare()
    assert fresh.outcomes.computations == 1
    prepared = fresh.outcomes.results()
    assert fresh.outcomes.computations == 1  # taken from the cache
    expected = whole_screening_results(fresh)
    pd.testing.assert_frame_equal(prepared.values, expected.values)
    pd.testing.assert_frame_equal(prepared.cgm_readings, expected.cgm_readings)
    fresh.outcomes.prepare()  # already there: nothing computed
    assert fresh.outcomes.computations == 1


def test_outcomes_prepared_while_the_state_moved_are_not_kept(fresh):
    compute = fresh.outcomes._compute

    def edited_meanwhile(enrolled, **options):
        results = compute(enrolled, **options)
        fresh.toggle("E7", False)  # what an edit on the main thread does while the warm-up computes
        return results

    fresh.outcomes._compute = edited_meanwhile
    fresh.outcomes.prepare()
    assert fresh.outcomes.computations == 0 and not fresh.outcomes._cache


def test_a_tab_opened_during_the_warm_up_waits_for_its_outcomes(fresh):
    started, release = threading.Event(), threading.Event()
    compute = fresh.outcomes._compute

    def slow(enrolled, **options):
        started.set()
        release.wait(60)
        return compute(enrolled, **options)

    fresh.outcomes._compute = slow
    warm = threading.Thread(target=fresh.outcomes.prepare)
    warm.start()
    assert started.wait(60)
    got = []
    asking = threading.Thread(target=lambda: got.append(fresh.outcomes.results()))
    asking.start()
    asking.join(0.3)
    assert asking.is_alive()  # waiting for the warm-up, not computing beside it
    release.set()
    warm.join(120)
    asking.join(120)
    assert fresh.outcomes.computations == 1 and got[0] is fresh.outcomes.results()


def test_a_prepare_overtaken_by_an_edit_stops_before_the_measures(fresh, monkeypatch):
    from explorer.app import outcome_state

    simulate, measured = enrolment.simulate_outcomes, []

    def edited_while_simulating(*args, **kwargs):
        cohort = simulate(*args, **kwargs)
        fresh.toggle("E7", False)  # the main thread's edit, while the background thread simulates
        return cohort

    monkeypatch.setattr(enrolment, "simulate_outcomes", edited_while_simulating)
    monkeypatch.setattr(outcome_state, "outcome_measures", lambda *a, **k: measured.append(1))
    fresh.outcomes.prepare()
    assert not measured and fresh.outcomes.computations == 0 and fresh.outcomes._pending is None


def test_a_tab_opened_on_another_scenario_does_not_wait_for_a_stale_prepare(fresh):
    started, release = threading.Event(), threading.Event()
    compute = fresh.outcomes._compute

    def slow_when_prepared(enrolled, **options):
        if "current" in options:  # prepare's call: held until released
            started.set()
            release.wait(60)
        return compute(enrolled, **options)

    fresh.outcomes._compute = slow_when_prepared
    warm = threading.Thread(target=fresh.outcomes.prepare)
    warm.start()
    assert started.wait(60)
    fresh.toggle("E7", False)  # another scenario: the prepare under way is of no use to it
    got = []
    asking = threading.Thread(target=lambda: got.append(fresh.outcomes.results()))
    asking.start()
    asking.join(60)
    finished_first = not asking.is_alive()
    release.set()
    warm.join(120)
    asking.join(120)
    assert finished_first  # computed its own outcomes while the stale prepare was still held
    assert fresh.outcomes.computations == 1 and got[0] is fresh.outcomes.results()
    assert got[0].subjects["subject_id"].tolist() == list(fresh.outcomes.enrolled())


def prepare_as_a_job(state: ExplorerState, scheduler) -> dict:
    """Run state.outcomes.prepare as the idle-time job it is in the dashboard; what the job saw."""
    seen = {}

    def run(task):
        seen["task"] = task
        state.outcomes.prepare(task)

    scheduler.submit("outcomes", run)
    return seen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prepared_outcomes_are_the_same_when_foreground_sections_interrupt_them_anywhere(fresh, seed):
    import random

    from explorer.engine.idle import IdleScheduler

    scheduler, rng = IdleScheduler(quiet=0.005, nice=0), random.Random(seed)
    seen = prepare_as_a_job(fresh, scheduler)
    while scheduler.pending("outcomes"):  # clicks at random moments, each holding the kernel for a while
        time.sleep(rng.uniform(0, 0.05))
        with scheduler.foreground(interrupt=rng.random() < 0.5):
            time.sleep(rng.uniform(0, 0.02))
    assert seen["task"].gave_way >= 1  # the sections did land on the computation
    assert fresh.outcomes.computations == 1
    prepared, expected = fresh.outcomes.results(), whole_screening_results(fresh)
    assert fresh.outcomes.computations == 1  # the prepared outcomes were kept, and are these
    assert_same_results(prepared, expected)


def test_a_tab_drawing_in_the_foreground_is_not_kept_waiting_by_the_prepare_it_waits_for(fresh, monkeypatch):
    from explorer.engine import idle
    from explorer.engine.idle import IdleScheduler

    monkeypatch.setattr(idle, "PATIENCE_S", 60.0)  # only Task.awaited may let the prepare run
    scheduler = IdleScheduler(quiet=0.05, nice=0)
    prepare_as_a_job(fresh, scheduler)
    while fresh.outcomes._pending is None:
        time.sleep(0.001)
    with scheduler.foreground():  # the Outcomes tab opening: it waits for the prepare of its own scenario
        started = time.monotonic()
        results = fresh.outcomes.results()
        assert time.monotonic() - started < 30
    assert fresh.outcomes.computations == 1 and results is fresh.outcomes.results()


def test_a_superseded_prepare_stops_at_its_next_call(fresh, monkeypatch):
    from explorer.app import outcome_state
    from explorer.engine.idle import IdleScheduler

    simulating = threading.Event()

    def endless(*args, **kwargs):  # a stage that would take minutes
        simulating.set()
        until = time.monotonic() + 120
        while time.monotonic() < until:
            abs(1)
        raise AssertionError("not stopped")

    monkeypatch.setattr(enrolment, "simulate_outcomes", endless)
    monkeypatch.setattr(outcome_state.enrolment, "simulate_outcomes", endless)
    scheduler = IdleScheduler(quiet=0.05, nice=0)
    prepare_as_a_job(fresh, scheduler)
    assert simulating.wait(60)
    started = time.monotonic()
    scheduler.submit("outcomes", lambda task: None)  # the next edit's job
    assert scheduler.wait_done("outcomes", 10)
    assert time.monotonic() - started < 5
    assert fresh.outcomes.computations == 0 and fresh.outcomes._pending is None
