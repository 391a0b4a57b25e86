"""Exceptions the library raises; only the CLI and the dashboard turn them into messages.

Every message names where the problem is (file, criterion, field, column, rows) and what to do,
so a researcher can fix the input without reading code.
"""

from __future__ import annotations

import re


class ExplorerError(Exception):
    """Base class of every error the explorer raises on bad input."""


class DefinitionError(ExplorerError):
    """A trial definition file is malformed or inconsistent."""

    def __init__(self, message: str, *, file: str | None = None, criterion: str | None = None,
                 field: str | None = None):
        self.file, self.criterion, self.field, self.reason = file, criterion, field, message
        where = ", ".join(
            part for part in (
                f"file {file}" if file else "",
                f"criterion {criterion}" if criterion else "",
                f"field {field!r}" if field else "",
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)

    def located(self, *, file: str | None = None, criterion: str | None = None) -> DefinitionError:
        """The same error with the file (and criterion) it came from filled in."""
        return DefinitionError(self.reason, file=self.file or file, criterion=self.criterion or criterion,
                               field=self.field)


class ExpressionError(DefinitionError):
    """A criterion expression does not parse or does not type-check.

    `position` is the 0-based character offset in `expression` where the problem starts.
    """

    def __init__(self, message: str, *, expression: str = "", position: int | None = None,
                 file: str | None = None, criterion: str | None = None):
        self.expression, self.position = expression, position
        detail = message
        if position is not None and expression:
            # the expression on its own line, so the caret stands under the column it names
            shown = " ".join(expression.split("\n"))
            detail += f" (at column {position + 1})\n    {shown}\n    {' ' * position}^"
        super().__init__(detail, file=file, criterion=criterion, field="expression")
        self.reason = message

    def located(self, *, file: str | None = None, criterion: str | None = None) -> ExpressionError:
        """The same error with the file and criterion it came from filled in."""
        return type(self)(self.reason, expression=self.expression, position=self.position,
                          file=file or self.file, criterion=criterion or self.criterion)


# A message quotes cells and ids from the data, and a cell of 10^8 characters made a 100 MB message: a run of
# more than LONGEST_RUN non-blank characters (longer than any path) is cut to its first LONGEST_QUOTED
LONGEST_RUN, LONGEST_QUOTED = 500, 80


def _clipped(text: str) -> str:
    """`text` with every run of more than LONGEST_RUN non-blank characters cut, saying how long it was."""
    return re.sub(rf"\S{{{LONGEST_RUN + 1},}}",
                  lambda m: f"{m.group()[:LONGEST_QUOTED]}... ({len(m.group()):,} characters)", text)


ROWS_SHOWN = 20  # rows a data error lists: enough to find the pattern, bounded whatever the file holds


class DataError(ExplorerError):
    """Subject data cannot be read as the canonical model says."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 rows: list | None = None, count: int | None = None):
        message = _clipped(message)
        self.reason = message  # without the place, for an error that re-locates it
        self.file, self.column, self.rows = file, column, [_clipped(r) if isinstance(r, str) else r for r in rows or []]
        # `count`: how many rows in all, when `rows` are only the first of them
        self.count = max(count or 0, len(self.rows))
        shown = self.rows[:ROWS_SHOWN]
        more = f" ... ({self.count:,} in all)" if self.count > len(shown) else ""
        where = ", ".join(
            part for part in (
                f"file {file}" if file else "",
                f"column {_clipped(repr(column))}" if column else "",
                f"rows {', '.join(map(str, shown))}{more}" if self.rows else "",
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        # every (file, column) the error is about: one, or each problem of a load listed together
        self.places: tuple[tuple[str | None, str | None], ...] = ((file, column),)


class UnitError(DataError):
    """A unit is unknown or cannot be converted to the catalogue's unit."""


class ImportFailure(ExplorerError):
    """A registry record (ClinicalTrials.gov JSON/XML, registry text page) cannot be imported."""
