"""The idle-time scheduler's yielding jobs (explorer.engine.idle, Task.yielding): long pure-Python work gives way
to a foreground section at its next function call, never deadlocks the foreground, and stops once superseded."""

from __future__ import annotations

import functools
import threading
import time

import pytest

from explorer.engine import idle
from explorer.engine.idle import Cancelled, IdleScheduler, Task


def step(counter: list[int]) -> None:
    counter[0] += 1


class Job:
    """A job that calls `step` until told to stop, inside `task.yielding(abort)`; what happened to it."""

    def __init__(self, scheduler: IdleScheduler, name: str = "job", abort: bool = False, hold: threading.Lock = None):
        self.counter, self.stop, self.started, self.ended = [0], threading.Event(), threading.Event(), threading.Event()
        self.task: Task | None = None
        self.cancelled = False
        self.abort, self.hold = abort, hold
        scheduler.submit(name, self.run)
        assert self.started.wait(10)

    def run(self, task: Task) -> None:
        self.task = task
        try:
            with task.yielding(abort=self.abort), self.hold or threading.Lock():
                self.started.set()
                while not self.stop.is_set():
                    step(self.counter)
        except Cancelled:
            self.cancelled = True
        finally:
            self.ended.set()

    def progress(self, seconds: float) -> int:
        before = self.counter[0]
        time.sleep(seconds)
        return self.counter[0] - before


@pytest.fixture()
def scheduler():
    s = IdleScheduler(quiet=0.05, nice=0)
    yield s
    s.cancel("job")


def test_a_yielding_job_stops_within_a_few_ms_of_a_foreground_section_and_resumes_after(scheduler):
    job = Job(scheduler)
    assert job.progress(0.05) > 0
    with scheduler.foreground(interrupt=False):
        time.sleep(0.01)  # its next call comes within microseconds: it waits there
        assert job.progress(0.2) == 0
    time.sleep(scheduler.quiet + 0.1)
    assert job.progress(0.05) > 0  # idle again: it goes on where it stopped
    assert job.task.gave_way >= 1
    job.stop.set()
    assert job.ended.wait(10)


def test_a_job_that_does_not_yield_runs_beside_the_foreground(scheduler):
    """What the hook changes: without it, the work goes on during the section (sharing the GIL with it)."""
    counter, stop = [0], threading.Event()
    scheduler.submit("job", lambda task: [step(counter) for _ in iter(stop.is_set, True)])
    time.sleep(0.05)
    with scheduler.foreground(interrupt=False):
        before = counter[0]
        time.sleep(0.1)
        assert counter[0] > before
    stop.set()


def test_a_foreground_section_waiting_for_the_job_lets_it_run(scheduler, monkeypatch):
    monkeypatch.setattr(idle, "PATIENCE_S", 60.0)  # only awaited() may let it run here
    job = Job(scheduler)
    with scheduler.foreground():
        time.sleep(0.01)
        assert job.progress(0.05) == 0
        with job.task.awaited():
            assert job.progress(0.1) > 0
            job.stop.set()
            assert job.ended.wait(10)


def test_a_lock_the_job_holds_delays_the_foreground_by_its_patience_at_most(scheduler, monkeypatch):
    monkeypatch.setattr(idle, "PATIENCE_S", 0.3)
    lock = threading.Lock()
    job = Job(scheduler, hold=lock)
    with scheduler.foreground():
        started = time.monotonic()
        job.stop.set()  # it stops once it runs again, then lets the lock go
        assert lock.acquire(timeout=10)
        waited = time.monotonic() - started
        lock.release()
    assert 0.2 < waited < 5


def test_a_superseded_job_stops_at_its_next_call(scheduler):
    job = Job(scheduler, abort=True)
    scheduler.submit("job", lambda task: None)  # a newer job of the same name
    assert job.ended.wait(2) and job.cancelled


def test_a_superseded_job_without_abort_goes_on(scheduler):
    job = Job(scheduler)
    scheduler.submit("job", lambda task: None)
    assert job.progress(0.05) > 0 and not job.cancelled
    job.stop.set()
    assert job.ended.wait(10)


class Slow:
    def __init__(self, counter: list[int], seconds: float):
        self.counter, self.seconds = counter, seconds

    @functools.cached_property
    def value(self) -> int:
        until = time.monotonic() + self.seconds
        while time.monotonic() < until:
            step(self.counter)
        return self.counter[0]


def test_a_job_inside_a_cached_property_does_not_wait_there(scheduler, monkeypatch):
    """In Python 3.11 a cached_property's lock is the class's: the foreground asking another instance's property
    would wait for the paused job. The job runs on while in one."""
    monkeypatch.setattr(idle, "PATIENCE_S", 60.0)
    counter, entered = [0], threading.Event()

    def run(task: Task) -> None:
        with task.yielding():
            entered.set()
            assert Slow(counter, 0.3).value > 0

    scheduler.submit("job", run)
    assert entered.wait(10)
    with scheduler.foreground():
        started = time.monotonic()
        assert Slow([0], 0.0).value == 0  # the class's lock (3.11): free once the job's property is computed
        assert time.monotonic() - started < 5


def test_a_click_does_not_wake_the_idle_thread():
    """A click is foreground sections and jobs submitted again for later: none of it changes what the idle thread
    waits for, and waking it (nice 19) made the click wait for it to take the GIL."""
    s = IdleScheduler(quiet=0.05, nice=0)
    s.submit("job", lambda task: None, delay=30)
    time.sleep(0.1)  # the idle thread now waits for the job to be due
    woken, notify = [], s._cond.notify_all
    s._cond.notify_all = lambda: (woken.append(1), notify())
    for _ in range(5):
        with s.foreground(interrupt=False):
            s.submit("job", lambda task: None, delay=30)
    assert not woken
    s.submit("job", lambda task: None, delay=0)  # due sooner than the thread will look: it is told
    assert woken and s.wait_done("job", 10)


def test_a_due_job_waiting_for_the_foreground_starts_once_it_ends():
    s, ran = IdleScheduler(quiet=0.05, nice=0), threading.Event()
    with s.foreground():
        s.submit("job", lambda task: ran.set())
        time.sleep(0.2)
        assert not ran.is_set()
    assert ran.wait(5)


def test_a_job_superseded_during_a_click_stops_only_once_the_click_is_over(scheduler):
    """Stopping is work on the idle thread (the exception's way out): never during the click that superseded it."""
    job = Job(scheduler, abort=True)
    with scheduler.foreground():
        time.sleep(0.01)
        scheduler.submit("job", lambda task: None)  # the click's edit: a newer job
        assert not job.ended.wait(0.2)
    assert job.ended.wait(5) and job.cancelled
