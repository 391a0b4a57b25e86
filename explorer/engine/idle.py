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
"""

from __future__ import annotations

import contextlib
import os
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


class Task:
    """What a running job sees: whether it was superseded, a pause while the foreground runs, an interrupt hook."""

    def __init__(self, scheduler: IdleScheduler, name: str, generation: int):
        self._scheduler, self.name, self._generation = scheduler, name, generation
        self._interrupt: Callable[[], object] | None = None
        self.interrupted = False  # set when the hook was called (a foreground section or a newer job)

    @property
    def cancelled(self) -> bool:
        """A newer job of this name was submitted, or the job was cancelled: what it computes is not wanted."""
        return self._scheduler._generations.get(self.name) != self._generation

    def pause(self) -> bool:
        """Wait while the kernel is not idle; False once the job is cancelled (it should return then)."""
        s = self._scheduler
        with s._cond:
            while not self.cancelled and not s._idle_now():
                s._cond.wait(s._until_idle())
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

    def _stop(self) -> None:  # under the scheduler's lock
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
        self._last_foreground = float("-inf")  # monotonic time the last foreground section ended
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
            self._jobs[name] = _Job(priority, time.monotonic() + delay, generation, name, run, delay, ready)
            if self._running is not None and self._running.name == name:
                self._running._stop()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="idle-time work", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def cancel(self, name: str, wait: float = 0.0) -> None:
        """Forget `name`'s job and interrupt it if it runs; `wait`: up to that many seconds until it has returned
        (at exit: a daemon thread stopped inside DuckDB aborts the interpreter)."""
        with self._cond:
            self._generations[name] = self._generations.get(name, 0) + 1
            self._jobs.pop(name, None)
            if self._running is not None and self._running.name == name:
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
            if interrupt and self._running is not None:
                self._running._stop()
        try:
            yield
        finally:
            with self._cond:
                self._foreground -= 1
                self._last_foreground = time.monotonic()
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
            self._cond.wait(min((w for w in waits if w is not None), default=None))

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


def configured_nice() -> int:
    """The background thread's nice value this process was started with (IDLE_NICE_VARIABLE), else NICE."""
    try:
        return max(0, int(os.environ.get(IDLE_NICE_VARIABLE, NICE)))
    except ValueError:  # a server's setting, never a visitor's input
        return NICE


IDLE = IdleScheduler(nice=configured_nice())


__all__ = ["IDLE", "IDLE_NICE_VARIABLE", "QUIET_S", "IdleScheduler", "Task", "configured_nice"]
