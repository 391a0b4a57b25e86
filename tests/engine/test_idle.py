"""The kernel's idle-time scheduler: background jobs run only when no foreground section has run for a while, one at
a time by priority, superseded by a newer job of their name, interrupted and paused by the foreground."""

from __future__ import annotations

import threading
import time

import pytest

from explorer.engine.idle import IDLE_NICE_VARIABLE, NICE, IdleScheduler, configured_nice

QUIET = 0.1


@pytest.fixture
def idle():
    scheduler = IdleScheduler(quiet=QUIET, nice=0)
    yield scheduler
    for name in ("a", "b", "job"):
        scheduler.cancel(name, wait=5)


def eventually(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def test_a_job_runs_after_its_delay_and_a_newer_one_of_its_name_supersedes_it(idle):
    ran = []
    started = time.monotonic()
    for value in (1, 2, 3):  # faster than the delay: only the last stays
        idle.submit("job", lambda task, v=value: ran.append((v, time.monotonic() - started)), delay=0.3)
    assert idle.wait_done("job", timeout=10)
    assert [v for v, _ in ran] == [3]
    assert ran[0][1] >= 0.3


def test_no_job_starts_while_the_foreground_runs_nor_within_the_quiet_time_after_it(idle):
    ran = []
    with idle.foreground(interrupt=False):
        idle.submit("job", lambda task: ran.append(time.monotonic()))
        time.sleep(0.3)
        assert ran == [] and not idle.idle()
        ended = time.monotonic()
    assert idle.wait_done("job", timeout=10)
    assert ran and ran[0] - ended >= QUIET


def test_the_foreground_interrupts_the_running_job_which_pauses_until_the_kernel_is_idle(idle):
    inside, release, steps = threading.Event(), threading.Event(), []
    interrupts = []

    def job(task):
        with task.interrupting(lambda: (interrupts.append(time.monotonic()), release.set())):
            inside.set()
            release.wait(10)
        steps.append(("interrupted", task.interrupted))
        steps.append(("resumed", task.pause(), time.monotonic()))

    idle.submit("job", job)
    assert inside.wait(10)
    with idle.foreground():  # an engine's section: the job's work in flight is interrupted
        eventually(lambda: len(steps) == 1)
        time.sleep(0.2)
        assert len(steps) == 1  # paused while the foreground runs
        ended = time.monotonic()
    assert idle.wait_done("job", timeout=10)
    assert steps[0] == ("interrupted", True) and steps[1][1] is True and steps[1][2] - ended >= QUIET
    assert len(interrupts) == 1


def test_a_widget_callback_lets_the_work_in_flight_finish(idle):
    inside, release, interrupted = threading.Event(), threading.Event(), []

    def job(task):
        with task.interrupting(lambda: interrupted.append(True)):
            inside.set()
            release.wait(10)

    idle.submit("job", job)
    assert inside.wait(10)
    with idle.foreground(interrupt=False):
        time.sleep(0.1)
    release.set()
    assert idle.wait_done("job", timeout=10)
    assert interrupted == []


def test_a_newer_job_cancels_the_running_one_of_its_name(idle):
    inside, seen = threading.Event(), []

    def first(task):
        with task.interrupting(lambda: None):
            inside.set()
            eventually(lambda: task.interrupted)
        seen.append(("first", task.cancelled, task.pause()))

    idle.submit("job", first)
    assert inside.wait(10)
    idle.submit("job", lambda task: seen.append(("second", task.cancelled)))
    assert idle.wait_done("job", timeout=10)
    assert seen == [("first", True, False), ("second", False)]


def test_jobs_due_together_run_one_at_a_time_lowest_priority_first(idle):
    order, running = [], []

    def job(name):
        def run(task):
            running.append(name)
            assert len(running) == 1, running
            order.append(name)
            time.sleep(0.05)
            running.remove(name)
        return run

    with idle.foreground(interrupt=False):  # both become due while the kernel is busy
        idle.submit("b", job("b"), priority=1)
        idle.submit("a", job("a"), priority=0)
    assert idle.wait_done("a", timeout=10) and idle.wait_done("b", timeout=10)
    assert order == ["a", "b"] and list(idle.ran)[-2:] == ["a", "b"]


def test_a_job_not_ready_when_due_waits_its_delay_again_and_a_failing_job_leaves_the_thread_working(idle):
    ready, ran = [False], []
    idle.submit("a", lambda task: 1 / 0)
    idle.submit("job", lambda task: ran.append(True), delay=0.1, ready=lambda: ready[0])
    time.sleep(0.5)
    assert ran == [] and idle.pending("job")
    ready[0] = True
    assert idle.wait_done("job", timeout=10)
    assert ran == [True]


def test_cancel_forgets_a_waiting_job_and_waits_for_a_running_one(idle):
    idle.submit("a", lambda task: None, delay=0.3)
    idle.cancel("a")
    inside, finished = threading.Event(), []

    def job(task):
        inside.set()
        while not task.cancelled:
            time.sleep(0.01)
        time.sleep(0.1)
        finished.append(True)

    idle.submit("job", job)
    assert inside.wait(10)
    idle.cancel("job", wait=10)
    assert finished == [True] and not idle.pending("job") and not idle.pending("a")
    time.sleep(0.4)
    assert "a" not in idle.ran


def test_the_background_threads_nice_value_is_the_servers_or_19(monkeypatch):
    monkeypatch.delenv(IDLE_NICE_VARIABLE, raising=False)
    assert configured_nice() == NICE == 19
    for told, nice in (("0", 0), ("7", 7), ("-5", 0), ("fast", NICE)):
        monkeypatch.setenv(IDLE_NICE_VARIABLE, told)
        assert configured_nice() == nice


def test_jobs_run_on_a_thread_of_that_nice_value():
    import os

    scheduler, seen = IdleScheduler(quiet=0.0, nice=19), []
    base = os.getpriority(os.PRIO_PROCESS, 0)
    scheduler.submit("job", lambda task: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    assert scheduler.wait_done("job", timeout=10)
    assert base < 19 and seen == [19]
