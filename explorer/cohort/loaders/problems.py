"""Every invalid value of a load in one error: a researcher fixing a file wants all its problems at once.

A loader decorated with `collects_problems` reads a whole source before it judges it. Each cell check
(text in a number cell, a date that is no date, a value outside its plausible range, a sex or yes/no
that is neither) calls `found(...)` instead of raising at the first bad column:

- with on_invalid="raise" the problem is kept (first MAX_ROWS_LISTED rows, with their values, and the
  count) and the cells are read as missing so that the rest of the source can be checked; when the loader
  ends (or stops on a later error) one DataError lists every problem: file, column, rows, values, and what
  to do (fix them, or load with on_invalid="reject");
- with on_invalid="reject" the cells are unknown, counted in the report and listed in `report.invalid`.

Outside a decorated loader (the SQL readers call the same checks) `found` raises at once, as before.
A problem found after another was kept (e.g. "index date is missing" where a date was unreadable) is
often its consequence, so the kept problems are what is raised; for the same reason the problems of the cells
are raised before the checks between tables (finish_cohort), whose own problems are then collected together.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.errors import DataError

from .report import table_name

MAX_ROWS_LISTED = 20   # rows (with their values) an error lists per column; the count says how many in all
MAX_PROBLEMS_LISTED = 30  # columns an error lists; a file with more has a systematic problem (wrong separator)
VALUE_SHOWN = 24       # characters of a cell value quoted
# short: an error is one line (the Data tab's "Invalid values" choice is the same option)
REJECT_HINT = "fix them, or load with on_invalid='reject' (--on-invalid reject) to read them as unknown"


@dataclass(frozen=True)
class Problem:
    """One kind of invalid value in one column of one file."""

    file: str
    column: str
    problem: str
    count: int
    rows: tuple = ()
    values: tuple = ()
    rejectable: bool = True  # on_invalid="reject" would read the cells as unknown
    advice: str = ""         # what fixes this problem in particular (said after the values)
    alone: str = ""          # the message when it is the load's only problem (the SQL loads raise the same words)

    def line(self) -> str:
        cells = ", ".join(f"{row} {value!r}" if value is not None else str(row)
                          for row, value in zip(self.rows, self.values, strict=True))
        more = f" ... ({self.count:,} in all)" if self.count > len(self.rows) else ""
        return f"file {self.file}, column {self.column!r}, rows {cells}{more}: {_with_values(self, quoted=False)}"


@dataclass
class Collector:
    """The problems of one load, and the boundary (on_invalid, report) they are judged by."""

    boundary: object = None  # common.Boundary, set when the loader makes one (adopt)
    problems: list[Problem] = field(default_factory=list)
    # (file, column, row) already named: "time is missing" where a time was unreadable is the same problem
    seen: dict[tuple[str, str], set] = field(default_factory=dict)

    def error(self) -> DataError:
        if len(self.problems) == 1:
            return single_error(self.problems[0])
        hint = REJECT_HINT if all(p.rejectable for p in self.problems) else "fix them"
        total = sum(p.count for p in self.problems)
        shown = self.problems[:MAX_PROBLEMS_LISTED]
        more = (f" ... and {len(self.problems) - len(shown)} more column(s)"
                if len(self.problems) > len(shown) else "")
        files = sorted({p.file for p in self.problems})
        # one line (the command line and the dashboard show errors so), each problem numbered
        error = DataError(f"{total:,} invalid value(s) in {len(self.problems)} column(s) of {', '.join(files)}; "
                          f"{hint}: " + " ".join(f"({n}) {p.line()};" for n, p in enumerate(shown, 1)) + more,
                          file=self.problems[0].file)
        error.places = tuple((p.file, p.column) for p in self.problems)
        return error


_ACTIVE: ContextVar[Collector | None] = ContextVar("loader_problems", default=None)


def collects_problems(loader):
    """Decorate a loader: the invalid values it meets are collected and raised together (module docstring)."""

    @functools.wraps(loader)
    def collecting(*args, **kwargs):
        collector = Collector()
        token = _ACTIVE.set(collector)
        try:
            result = loader(*args, **kwargs)
        except DataError:
            if collector.problems:
                raise collector.error() from None
            raise
        finally:
            _ACTIVE.reset(token)
        if collector.problems:
            raise collector.error()
        return result

    return collecting


def adopt(boundary) -> None:
    """Called by each Boundary: the first one made inside a collecting loader judges its problems."""
    collector = _ACTIVE.get()
    if collector is not None and collector.boundary is None:
        collector.boundary = boundary


def found(index: pd.Index, bad, *, file: str, column: str, problem: str, values=None,
          made_unknown: bool = True, rejectable: bool = True, advice: str = "", alone: str = "") -> None:
    """Cells at `bad` (a boolean mask over `index`, the source rows) are invalid: raise now (no collecting
    loader), keep the problem (on_invalid="raise", or a problem that is not `rejectable`) or count them as
    unknown (on_invalid="reject"). The caller reads them as missing (or leaves their rows out:
    made_unknown=False) when this returns.

    Not rejectable: what every engine refuses whatever the choice (a date that is no date, a sex that is
    neither): reading it as unknown could change who is eligible without the researcher seeing why."""
    bad = np.asarray(bad, dtype=bool)
    collector = _ACTIVE.get()
    if collector is not None and (str(file), str(column)) in collector.seen:
        bad = bad & ~np.asarray(index.isin(list(collector.seen[str(file), str(column)])))
    if not bad.any():
        return
    rows = index[bad]
    shown = (list(pd.Series(values)[bad][:MAX_ROWS_LISTED].astype(object)) if values is not None
             else [None] * min(len(rows), MAX_ROWS_LISTED))
    shown = [None if v is None else _short(v) for v in shown]
    item = Problem(str(file), str(column), problem, int(bad.sum()), tuple(rows[:MAX_ROWS_LISTED].tolist()),
                   tuple(shown), rejectable, advice, alone)
    boundary = collector.boundary if collector is not None else None
    if boundary is None:
        raise single_error(item)
    if boundary.on_invalid == "reject" and rejectable:
        reason = f"{problem} -> unknown" if made_unknown else problem
        if made_unknown:
            boundary.report.convert(f"{column}: {reason}", item.count)
        else:
            boundary.report.reject(table_name(file), f"{column}: {reason}", item.count)
        boundary.report.record_invalid(file=str(file), column=str(column), problem=reason, rows=rows,
                                       made_unknown=made_unknown, count=item.count)
        return
    collector.problems.append(item)
    collector.seen.setdefault((str(file), str(column)), set()).update(rows.tolist())


def single_error(p: Problem) -> DataError:
    """The error of one problem: the same words whether it was collected or raised at once (the SQL loads)."""
    if p.alone:
        return DataError(p.alone, file=p.file, column=p.column, rows=list(p.rows), count=p.count)
    return DataError(f"{_with_values(p)}; {REJECT_HINT if p.rejectable else 'fix them'}", file=p.file,
                     column=p.column, rows=list(p.rows), count=p.count)


def raise_collected() -> None:
    """Raise the problems collected so far. finish_cohort calls it before the checks between tables: a cell read
    as missing because it was invalid would otherwise come back as their consequence (an unreadable event date
    as "time is missing")."""
    collector = _ACTIVE.get()
    if collector is not None and collector.problems:
        raise collector.error()


def collecting() -> bool:
    """Whether a collecting loader with a boundary is active (cells found invalid are then read as missing)."""
    collector = _ACTIVE.get()
    return collector is not None and collector.boundary is not None


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= VALUE_SHOWN else text[:VALUE_SHOWN] + "..."


def _with_values(p: Problem, quoted: bool = True) -> str:
    """The problem, the first distinct values it was found in (`quoted`; a line that pairs rows with their values
    does not repeat them), and its own advice."""
    distinct = list(dict.fromkeys(v for v in p.values if v is not None)) if quoted else []
    values = f" ({', '.join(repr(v) for v in distinct[:5])}{' ...' if len(distinct) > 5 else ''})" if distinct else ""
    return f"{p.problem}{values}{'; ' + p.advice.rstrip('; ') if p.advice else ''}"
