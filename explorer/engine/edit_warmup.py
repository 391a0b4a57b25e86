"""The one background thread that takes edit tables ahead of the edits (explorer.engine.edit_histogram's warm-up).

Scheduling only: which tables a trial state needs and how one is taken is the tables' own business
(EditTables.warm_positions, EditTables.take_in_background); this module decides when, at what priority, and
what a newer request or a foreground edit does to the one running.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from typing import Any

# seconds a trial state must stay before its tables are warmed: a slider dragged through ten values is ten states,
# and each would start up to one GROUP BY per criterion (1.3 s of CPU each at 10^6 subjects) for nothing
WARM_DELAY = 2.0


class Warmer:
    """The one background thread that warms edit tables (EditTables.warm), at the lowest priority.

    One request at a time: a newer one (another trial state, another source) supersedes the one running, whose
    query is interrupted; a request starts after `delay` seconds without a newer one. While an edit runs in the
    foreground (`foreground()`), the warm-up waits, and its DuckDB query is interrupted and taken again afterwards:
    the user's query never queues behind a warm-up. The thread is nice 19, but DuckDB's own worker threads are
    shared with the foreground query, hence the interruption. Spark runs the warm-up's query beside the foreground
    one (a Spark session takes jobs from several threads).
    """

    def __init__(self, delay: float = WARM_DELAY):
        self.delay = delay
        self._cond = threading.Condition()
        self._job: tuple | None = None  # (generation, edits, trial, backend)
        self._generation = 0
        self._busy = 0                  # foreground sections running
        self._con: Any = None           # the connection of the warm-up's running query
        self._interrupted = False
        self._parked = False            # the thread waits for a request (stop(wait=...) waits for this)
        self._thread: threading.Thread | None = None
        self.taken: list[str] = []      # criteria whose tables warm-ups took, in order (benchmarks, tests)

    def submit(self, edits: Any, trial: Any, backend: Any) -> None:
        with self._cond:
            self._generation += 1
            self._job = (self._generation, edits, trial, backend)
            self._interrupt()  # the running query is of an older state or source: its table would not be used
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="edit-table warm-up", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def stop(self, wait: float = 0.0) -> None:
        """Forget the request and interrupt its query (for tests); `wait`: up to that many seconds until no query
        of the warm-up runs (at exit: a daemon thread stopped inside DuckDB aborts the interpreter)."""
        with self._cond:
            self._generation += 1
            self._job = None
            self._interrupt()
            self._cond.notify_all()
            if wait and self._thread is not None:
                self._cond.wait_for(lambda: self._parked or not self._thread.is_alive(), timeout=wait)

    def wait_idle(self, edits: Any | None = None, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._job is None or (edits is not None and self._job[1] is not edits),
                                       timeout)

    def foreground(self) -> _Foreground:
        """A context in which an edit has the engine to itself."""
        return _Foreground(self)

    def _interrupt(self) -> None:
        if self._con is not None:
            self._interrupted = True
            with contextlib.suppress(Exception):  # the query may have just ended: nothing to stop then
                self._con.interrupt()

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # this thread only (Linux: a thread id is a pid here)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while True:
            with self._cond:
                self._parked = True  # waiting for work, in no query: the interpreter may exit (stop)
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._job is not None)
                self._parked = False
                generation, edits, trial, backend = self._job
                # a state that lasts `delay` seconds is warmed; a newer request within them replaces it
                if self._cond.wait_for(lambda g=generation: self._generation != g, timeout=self.delay):
                    continue
            self._warm(generation, edits, trial, backend)
            with self._cond:
                if self._generation == generation:
                    self._job = None
                self._cond.notify_all()

    def _warm(self, generation: int, edits: Any, trial: Any, backend: Any) -> None:
        for j, criterion_id in edits.warm_positions(trial):
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: not self._busy or self._generation != generation)
                    if self._generation != generation:
                        return
                    con = backend.worker_cursor() if hasattr(backend, "worker_cursor") else None
                    self._con, self._interrupted = con, False
                try:
                    how = edits.take_in_background(trial, j, backend, con)
                    if how == "budget":
                        return
                    if how == "new table":
                        self.taken.append(criterion_id)
                    break
                except Exception:  # noqa: BLE001 - a warm-up never fails an edit: the edit takes its table itself
                    with self._cond:
                        if not self._interrupted:
                            break  # a real error: skipped here, the edit meets it and reports it
                finally:
                    with self._cond:
                        self._con = None
                    if con is not None:
                        con.close()


class _Foreground:
    def __init__(self, warmer: Warmer):
        self.warmer = warmer

    def __enter__(self) -> None:
        with self.warmer._cond:
            self.warmer._busy += 1
            self.warmer._interrupt()

    def __exit__(self, *exc: object) -> None:
        with self.warmer._cond:
            self.warmer._busy -= 1
            self.warmer._cond.notify_all()


WARMER = Warmer()
atexit.register(WARMER.stop, wait=30.0)


__all__ = ["WARMER", "WARM_DELAY", "Warmer"]
