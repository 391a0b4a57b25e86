"""When the kernel is idle, and the one background thread that runs work only then (the edit tables' warm-up,
explorer.engine.edit_warmup; the Outcomes tab's preparation, explorer.app.warm_up).

The kernel serves one visitor's requests on its main thread; work done ahead of them shares the machine's cores and
the process's GIL with them. So background work is owned here, not by each client:
  - a *foreground* section (`IDLE.foreground()`: a widget callback, an engine count) marks the kernel busy; while
    one runs, no background job starts, and the running one waits at its next `Task.pause()`; an engine's section
    also interrupts it (its `Task.interrupting` hook, e.g. a DuckDB query's interrupt);
  - the kernel is *idle* once no foreground section has run for `quiet` seconds;
  - a job (`submit(name, run, delay=...)`) runs once it has waited `delay` seconds without a newer job of the same
    name (a newer one supersedes it, running or not: it is interrupted and its `Task.cancelled` turns true) and the
    kernel is idle; among jobs due, the lowest `priority` first; one at a time, on one thread at nice 19 (the
    server's `idle_nice` otherwise). A click landing on a job: benchmarks/results/dashboard.kernel.background.md.

Giving way within a few ms. A job's own `pause()` checks come between its steps; pure-Python work with long steps
(the Outcomes tab's preparation: 0.7 and 1.7 s stages at 10^6 subjects) runs inside `Task.yielding()`, where the
job gives way at its next Python function call once a foreground section starts: a profile hook on the idle thread
(sys.setprofile, this thread only) that blocks there until the kernel is idle again. Why not the GIL alone: the
thread holding it keeps it for the interpreter's switch interval (5 ms) each time the main thread drops it, and a
click drops it at every message it sends, so a click landing on such work took 3x its own time (20 against 6 ms).
The hook never blocks where a lock the foreground may want is held by the job's own stack (an import, a 3.11
`functools.cached_property`), lets the job run while a foreground section waits for it (`Task.awaited()`), and
waits at most PATIENCE_S per foreground section (a lock it cannot see: the foreground is then slowed, never stuck).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# Set by the dashboard's server (explorer.app.voila_server, `idle_nice`) for its kernels: the background thread's
# nice value; unset or not a number: NICE
IDLE_NICE_VARIABLE = "TRIAL_EXPLORER_IDLE_NICE"
NICE = 19

# seconds without a foreground section before background work starts: a click's redraws that follow its callback
# (the address, a tab's figure) and the next keystroke of a value being typed come within it (chosen, not tuned)
QUIET_S = 0.3
# the longest a yielding job waits at its hook for one foreground section: past it the job runs beside it, as it would
# without the hook (a lock the job holds that the foreground waits for is then released; chosen, not tuned)
PATIENCE_S = 1.0
# stack frames within which a yielding job never waits: they hold a lock another thread may need (the import system's
# module locks; functools.cached_property in Python 3.11, whose lock is the class's, not the instance's)
_HOLDS_LOCK = (("<frozen importlib._bootstrap>", None), ("functools.py", "__get__"))


class Cancelled(BaseException):  # noqa: N818 - like KeyboardInterrupt, a stop rather than an error
    """Raised inside `Task.yielding(abort=True)` once the job is superseded: its work is not wanted. A BaseException,
    so that the job's own `except Exception` does not catch it."""


class Task:
    """What a running job sees: whether it was superseded, a pause while the foreground runs, an interrupt hook."""

    def __init__(self, scheduler: IdleScheduler, name: str, generation: int):
        self._scheduler, self.name, self._generation = scheduler, name, generation
        self._interrupt: Callable[[], object] | None = None
        self.interrupted = False  # set when the hook was called (a foreground section or a newer job)
        # set (under the scheduler's lock) when a foreground section starts or the job is superseded: the only thing
        # the yielding hook reads on each call, so that running beside nobody costs one attribute test
        self._attention = False
        self._superseded = False
        self._awaited = 0  # foreground sections waiting for this job's result (Task.awaited)
        self._patience_epoch = -1  # the foreground section whose PATIENCE_S this job has used up
        self.gave_way = 0  # how many times the job waited at its hook (tests, benchmarks)

    @property
    def cancelled(self) -> bool:
        """A newer job of this name was submitted, or the job was cancelled: what it computes is not wanted."""
        return self._scheduler._generations.get(self.name) != self._generation

    def pause(self) -> bool:
        """Wait while the kernel is not idle; False once the job is cancelled (it should return then)."""
        s = self._scheduler
        with s._cond:
            while not self.cancelled and not s._idle_now():
                s._wait_for_idle(s._until_idle())
            return not self.cancelled

    @contextlib.contextmanager
    def interrupting(self, interrupt: Callable[[], object]) -> Iterator[None]:
        """Within this block, a foreground section or a newer job calls `interrupt()` (from its own thread)."""
        with self._scheduler._cond:
            self._interrupt, self.interrupted = interrupt, False
        try:
            yield
        finally:
            with self._scheduler._cond:
                self._interrupt = None

    @contextlib.contextmanager
    def yielding(self, abort: bool = False) -> Iterator[None]:
        """Within this block (on the job's own thread), the job gives way at its next Python function call while the
        kernel is not idle (see the module); `abort`: once the job is superseded, that call raises Cancelled."""
        s = self._scheduler
        with s._cond:
            self._attention = bool(s._foreground) or self._superseded or not s._idle_now()

        def hook(frame, event, _arg):
            # before a call only (a Python function's or a builtin's), never between a call and what it returned
            if self._attention and (event == "call" or event == "c_call"):
                self._give_way(frame, abort)

        previous = sys.getprofile()
        sys.setprofile(hook)
        try:
            yield
        finally:
            sys.setprofile(previous)

    @contextlib.contextmanager
    def awaited(self) -> Iterator[None]:
        """A foreground section waits, within this block, for this job's result: the job does not give way to it."""
        with self._scheduler._cond:
            self._awaited += 1
            self._scheduler._cond.notify_all()
        try:
            yield
        finally:
            with self._scheduler._cond:
                self._awaited -= 1

    def _give_way(self, frame, abort: bool) -> None:
        """The yielding hook's slow path: wait while the kernel is not idle (see the module)."""
        s = self._scheduler
        if abort and self._superseded:
            raise Cancelled(self.name)
        if _holds_lock(frame):
            return
        with s._cond:
            waited = False
            deadline = time.monotonic() + PATIENCE_S
            # superseded meanwhile: it still waits for the idle kernel, and stops then (stopping is work too)
            while not s._idle_now() and not self._awaited and self._patience_epoch != s._epoch:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._patience_epoch = s._epoch  # run beside this section from now on
                    break
                waited = True
                s._wait_for_idle(min(left, s._until_idle() or left))
            self.gave_way += waited
            self._attention = (abort and self._superseded) or (
                not s._idle_now() and self._patience_epoch != s._epoch and not self._awaited)
        if abort and self._superseded:
            raise Cancelled(self.name)

    def _stop(self) -> None:  # under the scheduler's lock
        self._attention = True
        if self._interrupt is not None:
            self.interrupted = True
            with contextlib.suppress(Exception):  # the work may have just ended: nothing to stop then
                self._interrupt()


@dataclass(order=True)
class _Job:
    priority: int
    due: float
    generation: int = field(compare=False)
    name: str = field(compare=False)
    run: Callable[[Task], object] = field(compare=False)
    delay: float = field(compare=False)
    ready: Callable[[], bool] = field(compare=False)


class IdleScheduler:
    """See the module. `quiet`: seconds without foreground before the kernel counts as idle; `nice`: the
    background thread's nice value (Linux: per thread)."""

    def __init__(self, quiet: float = QUIET_S, nice: int = NICE):
        self.quiet, self.nice = quiet, nice
        self._cond = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._generations: dict[str, int] = {}
        self._running: Task | None = None
        self._foreground = 0
        self._epoch = 0  # foreground sections begun (a yielding job's patience is per section)
        self._last_foreground = float("-inf")  # monotonic time the last foreground section ended
        # Wake-ups of the idle thread are kept to those that change what it does: it runs at nice 19, and a thread
        # woken takes the GIL, which the main thread, asked to drop it, waits to see taken, by a thread the machine
        # may not schedule for tens of ms (a click took 89 ms against 69 before the scheduler existed, quiet machine,
        # benchmarks/results/dashboard.click.quiet.md). So: when the idle thread will wake by itself (-inf: it is not
        # waiting for a job to be due), and how many threads wait for the end of the foreground.
        self._wake_at = float("-inf")
        self._idle_waiters = 0
        self._thread: threading.Thread | None = None
        self.ran: deque[str] = deque(maxlen=1000)  # names of the last jobs run, in order (tests, benchmarks)

    # --- clients ---------------------------------------------------------------------------------------------
    def submit(self, name: str, run: Callable[[Task], object], *, delay: float = 0.0, priority: int = 0,
               ready: Callable[[], bool] = lambda: True) -> None:
        """Run `run(task)` on the idle thread `delay` s from now if no newer job of `name` comes first; a job of
        `name` pending or running is superseded. `ready()`: also asked when the job is due (from the idle thread);
        False restarts its wait of `delay` s (e.g. the dashboard is drawing)."""
        with self._cond:
            generation = self._generations.get(name, 0) + 1
            self._generations[name] = generation
            due = time.monotonic() + delay
            self._jobs[name] = _Job(priority, due, generation, name, run, delay, ready)
            superseding = self._running is not None and self._running.name == name
            if superseding:
                self._running._superseded = True
                self._running._stop()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="idle-time work", daemon=True)
                self._thread.start()
            # only when it changes something for a waiting thread: a click submits jobs, and waking the idle thread
            # then makes it take the GIL in the middle of the click (see _wake_at)
            # (a job superseded while the kernel is busy waits for idle anyway: it learns it then)
            if (superseding and self._idle_now()) or due < self._wake_at:
                self._cond.notify_all()

    def cancel(self, name: str, wait: float = 0.0) -> None:
        """Forget `name`'s job and interrupt it if it runs; `wait`: up to that many seconds until it has returned
        (at exit: a daemon thread stopped inside DuckDB aborts the interpreter)."""
        with self._cond:
            self._generations[name] = self._generations.get(name, 0) + 1
            self._jobs.pop(name, None)
            if self._running is not None and self._running.name == name:
                self._running._superseded = True
                self._running._stop()
            self._cond.notify_all()
            if wait:
                self._cond.wait_for(lambda: self._running is None or self._running.name != name, timeout=wait)

    def pending(self, name: str) -> bool:
        """Whether a job of `name` waits or runs."""
        with self._cond:
            return name in self._jobs or (self._running is not None and self._running.name == name)

    def wait_done(self, name: str, timeout: float | None = None) -> bool:
        """Wait until no job of `name` waits or runs; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: name not in self._jobs and (self._running is None or self._running.name != name), timeout)

    @contextlib.contextmanager
    def foreground(self, interrupt: bool = True) -> Iterator[None]:
        """A section the visitor waits for: no background job starts, the running one waits at its next pause
        (see the module). Sections may nest. `interrupt=False`: the running job's work in flight is let finish
        (a widget callback: the edit may be about to wait for the very table a warm-up's query is taking; the
        engine's own sections interrupt)."""
        with self._cond:
            self._foreground += 1
            self._epoch += 1
            if self._running is not None:
                self._running._attention = True  # a yielding job gives way at its next call
                if interrupt:
                    self._running._stop()
        try:
            yield
        finally:
            with self._cond:
                self._foreground -= 1
                self._last_foreground = time.monotonic()
                if not self._foreground and self._idle_waiters:
                    self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return self._idle_now()

    # --- the idle thread -------------------------------------------------------------------------------------
    def _idle_now(self) -> bool:
        return not self._foreground and time.monotonic() >= self._last_foreground + self.quiet

    def _until_idle(self) -> float | None:
        """Seconds to wait before the idle test can change by time alone (None: only a notification changes it)."""
        return None if self._foreground else max(0.0, self._last_foreground + self.quiet - time.monotonic())

    def _next(self) -> _Job:
        """The job to run now, waiting for one to be due and the kernel idle (under the lock)."""
        while True:
            now = time.monotonic()
            due = sorted(job for job in self._jobs.values() if job.due <= now)
            if due and self._idle_now():
                job = due[0]
                del self._jobs[job.name]
                return job
            waits = [job.due - now for job in self._jobs.values() if job.due > now]
            if due:
                waits.append(self._until_idle())
            timeout = min((w for w in waits if w is not None), default=None)
            self._wake_at = float("inf") if timeout is None else now + timeout
            try:
                if due:  # a job waits for the foreground's end
                    self._wait_for_idle(timeout)
                else:
                    self._cond.wait(timeout)
            finally:
                self._wake_at = float("-inf")

    def _wait_for_idle(self, timeout: float | None) -> None:
        """Wait (under the lock) for `timeout` s or the end of the foreground (None: for the end)."""
        self._idle_waiters += 1
        try:
            self._cond.wait(timeout)
        finally:
            self._idle_waiters -= 1

    def _loop(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # this thread only (Linux: a thread id is a pid here)
            thread = threading.get_native_id()  # never above the process's own priority (a nice process stays so)
            os.setpriority(os.PRIO_PROCESS, thread, max(self.nice, os.getpriority(os.PRIO_PROCESS, thread)))
        while True:
            with self._cond:
                job = self._next()
                task = Task(self, job.name, job.generation)
                self._running = task
            try:
                if not job.ready():  # the client's own "not yet": the wait starts again
                    with self._cond:
                        if not task.cancelled and job.name not in self._jobs:
                            job.due = time.monotonic() + job.delay
                            self._jobs[job.name] = job
                    continue
                self.ran.append(job.name)
                job.run(task)
            except Exception:  # noqa: BLE001, S110 - work done ahead: the request that needs it meets any error itself
                pass
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()


def _holds_lock(frame) -> bool:
    """Whether a frame of this stack holds a lock another thread may need (_HOLDS_LOCK)."""
    while frame is not None:
        code = frame.f_code
        for file, function in _HOLDS_LOCK:
            if code.co_filename.endswith(file) and function in (None, code.co_name):
                return True
        frame = frame.f_back
    return False


def configured_nice() -> int:
    """The background thread's nice value this process was started with (IDLE_NICE_VARIABLE), else NICE."""
    try:
        return max(0, int(os.environ.get(IDLE_NICE_VARIABLE, NICE)))
    except ValueError:  # a server's setting, never a visitor's input
        return NICE


IDLE = IdleScheduler(nice=configured_nice())


__all__ = ["IDLE", "IDLE_NICE_VARIABLE", "PATIENCE_S", "QUIET_S", "Cancelled", "IdleScheduler", "Task",
           "configured_nice"]
