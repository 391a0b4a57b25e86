"""The edit tables' warm-up as a client of the kernel's idle-time scheduler (explorer.engine.idle): tables taken
ahead of the edits (explorer.engine.edit_histogram's warm-up).

Which tables a trial state needs and how one is taken is the tables' own business (EditTables.warm_positions,
EditTables.take_in_background); when background work may run is the scheduler's. This module says what a warm-up
is: one request at a time (a newer state or source supersedes it), started once a state has stood for `delay`
seconds, and what a foreground edit does to the query running (interrupted, taken again afterwards).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from typing import Any

from explorer.engine.idle import IDLE, IdleScheduler, Task

# seconds a trial state must stay before its tables are warmed: a slider dragged through ten values is ten states,
# and each would start up to one GROUP BY per criterion (1.3 s of CPU each at 10^6 subjects) for nothing
WARM_DELAY = 2.0
# the scheduler's name for the warm-up's job, and its rank among background jobs (lower runs first): the next
# input on the page is most likely another edit
JOB, PRIORITY = "edit tables", 0


class Warmer:
    """Warms edit tables (EditTables.warm) in the kernel's idle time.

    One request at a time: a newer one (another trial state, another source) supersedes the one running, whose
    query is interrupted; a request starts `delay` seconds after it was made, once the kernel is idle. While an
    edit runs in the foreground (`foreground()`, the scheduler's), the warm-up waits, and its DuckDB query is
    interrupted and taken again afterwards: the user's query never queues behind a warm-up. The scheduler's thread
    is nice 19, but DuckDB's own worker threads are shared with the foreground query, hence the interruption.
    Spark runs the warm-up's query beside the foreground one (a Spark session takes jobs from several threads).
    """

    def __init__(self, delay: float = WARM_DELAY, scheduler: IdleScheduler = IDLE):
        self.delay, self._scheduler = delay, scheduler
        self._cond = threading.Condition()
        self._edits: Any = None         # the tables of the request waiting or running (wait_idle)
        self._task: Task | None = None  # the running warm-up's task
        self.taken: list[str] = []      # criteria whose tables warm-ups took, in order (benchmarks, tests)

    @property
    def _interrupted(self) -> bool:
        """Whether the running warm-up's query was interrupted (tests stand in for DuckDB's error with it)."""
        task = self._task
        return task is not None and task.interrupted

    def submit(self, edits: Any, trial: Any, backend: Any) -> None:
        with self._cond:
            self._edits = edits
        self._scheduler.submit(JOB, lambda task: self._run(task, edits, trial, backend), delay=self.delay,
                               priority=PRIORITY)

    def stop(self, wait: float = 0.0) -> None:
        """Forget the request and interrupt its query (for tests); `wait`: up to that many seconds until no query
        of the warm-up runs (at exit: a daemon thread stopped inside DuckDB aborts the interpreter)."""
        with self._cond:
            self._edits = None
            self._cond.notify_all()
        self._scheduler.cancel(JOB, wait=wait)

    def wait_idle(self, edits: Any | None = None, timeout: float | None = None) -> bool:
        """Wait until no warm-up is asked for (or, given `edits`, none of those tables)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._edits is None or (edits is not None and self._edits is not edits),
                                       timeout)

    def foreground(self):
        """A context in which an edit has the engine to itself (the kernel's foreground, explorer.engine.idle)."""
        return self._scheduler.foreground()

    def _run(self, task: Task, edits: Any, trial: Any, backend: Any) -> None:
        try:
            self._warm(task, edits, trial, backend)
        finally:
            with self._cond:
                if not task.cancelled and self._edits is edits:
                    self._edits = None
                self._cond.notify_all()

    def _warm(self, task: Task, edits: Any, trial: Any, backend: Any) -> None:
        self._task = task
        for j, criterion_id in edits.warm_positions(trial):
            while True:
                if not task.pause():  # a foreground edit runs: wait; superseded: stop
                    return
                con = backend.worker_cursor() if hasattr(backend, "worker_cursor") else None
                try:
                    with task.interrupting(con.interrupt) if con is not None else contextlib.nullcontext():
                        how = edits.take_in_background(trial, j, backend, con)
                    if how == "budget":
                        return
                    if how == "new table":
                        self.taken.append(criterion_id)
                    break
                except Exception:  # noqa: BLE001 - a warm-up never fails an edit: the edit takes its table itself
                    if not task.interrupted:
                        break  # a real error: skipped here, the edit meets it and reports it
                finally:
                    if con is not None:
                        con.close()


WARMER = Warmer()
atexit.register(WARMER.stop, wait=30.0)


__all__ = ["WARMER", "WARM_DELAY", "Warmer"]
