"""The load report: what a loader read, kept and rejected (and why), and every conversion it made.

Nothing is dropped silently: for every source table, rows_read = rows_kept + the sum of the rejected
counts, each under a reason a researcher can act on. Conversions to unknown (missing markers, text
declared unknown) and substitutions (censored values, range categories, unit conversions) are counted
under `conversions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from explorer.cohort.tables import Cohort

FIRST_ROWS_KEPT = 5  # rows of each kind of invalid value a report lists: enough to find the pattern


@dataclass
class TableCounts:
    rows_read: int = 0
    rows_kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class InvalidValues:
    """Invalid values that on_invalid="reject" made unknown (or whose rows it left out), and where they are:
    the file, its column, the problem, how many and the first source rows, so a researcher can look them up."""

    file: str
    column: str
    problem: str
    count: int
    rows: tuple = ()
    made_unknown: bool = True  # False: the whole source row was left out (e.g. a measurement)


@dataclass
class LoadReport:
    """Counts for one load. Built up by a loader, then handed to the caller with the Cohort."""

    source: str
    kind: str
    tables: dict[str, TableCounts] = field(default_factory=dict)
    conversions: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    invalid: list[InvalidValues] = field(default_factory=list)

    # --- building --------------------------------------------------------------------------------
    def table(self, name: str) -> TableCounts:
        return self.tables.setdefault(name, TableCounts())

    def read(self, table: str, n: int) -> None:
        self.table(table).rows_read += int(n)

    def kept(self, table: str, n: int) -> None:
        self.table(table).rows_kept += int(n)

    def reject(self, table: str, reason: str, n: int) -> None:
        if n:
            counts = self.table(table).rejected
            counts[reason] = counts.get(reason, 0) + int(n)

    def convert(self, what: str, n: int) -> None:
        if n:
            self.conversions[what] = self.conversions.get(what, 0) + int(n)

    def count_unmapped(self, where: str, values: pd.Series, label=None) -> None:
        """Record the distinct values (e.g. lab codes, column names) a loader did not map, with counts.

        `label` turns a distinct value into the text shown (e.g. a concept id into its name).
        """
        if len(values):
            counts = values.astype("string").fillna("<blank>").value_counts()
            target = self.unmapped.setdefault(where, {})
            for key, n in counts.items():
                shown = label(str(key)) if label else str(key)
                target[shown] = target.get(shown, 0) + int(n)

    def record_invalid(self, *, file: str, column: str, problem: str, rows, made_unknown: bool = True,
                       count: int | None = None) -> None:
        """Where on_invalid="reject" turned values unknown or left rows out (first FIRST_ROWS_KEPT rows kept);
        `count` when `rows` are only the first of them."""
        rows = list(rows)
        if rows:
            self.invalid.append(InvalidValues(str(file), str(column), problem, count or len(rows),
                                              tuple(rows[:FIRST_ROWS_KEPT]), made_unknown))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def warn(self, text: str) -> None:
        """Something the researcher should look at: the data loaded, but a result may mislead."""
        if text not in self.warnings:
            self.warnings.append(text)

    # --- reading ---------------------------------------------------------------------------------
    def balanced(self) -> bool:
        """Whether every table's rows read equal rows kept plus rows rejected."""
        return all(t.rows_read == t.rows_kept + t.rows_rejected for t in self.tables.values())

    def to_frame(self) -> pd.DataFrame:
        """One row per (table, outcome): kept, or rejected with its reason."""
        rows = []
        for name, t in self.tables.items():
            rows.append({"table": name, "outcome": "read", "reason": "", "rows": t.rows_read})
            rows.append({"table": name, "outcome": "kept", "reason": "", "rows": t.rows_kept})
            rows += [{"table": name, "outcome": "rejected", "reason": r, "rows": n} for r, n in t.rejected.items()]
        return pd.DataFrame(rows, columns=["table", "outcome", "reason", "rows"])

    def summary(self) -> str:
        lines = [f"{self.kind} load of {self.source}"]
        for name, t in self.tables.items():
            lines.append(f"  {name}: read {t.rows_read}, kept {t.rows_kept}, rejected {t.rows_rejected}")
            lines += [f"    - {n} {reason}" for reason, n in sorted(t.rejected.items(), key=lambda kv: -kv[1])]
        if self.conversions:
            lines.append("  conversions:")
            lines += [f"    - {n} {what}" for what, n in sorted(self.conversions.items())]
        for where, counts in self.unmapped.items():
            top = sorted(counts.items(), key=lambda kv: -kv[1])
            shown = ", ".join(f"{k} ({n})" for k, n in top[:12]) + (" ..." if len(top) > 12 else "")
            lines.append(f"  not mapped in {where}: {shown}")
        lines += [f"  invalid: {v.count} in {v.file} column {v.column} (rows {', '.join(map(str, v.rows))}"
                  f"{' ...' if v.count > len(v.rows) else ''}): {v.problem}" for v in self.invalid]
        lines += [f"  note: {text}" for text in self.notes]
        lines += [f"  warning: {text}" for text in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


class Loaded(NamedTuple):
    """What every loader returns: the canonical tables and the report of how they were read."""

    cohort: Cohort
    report: LoadReport


def table_name(file: str) -> str:
    """The name a load report uses for a source table: the file name, without folders or the archive."""
    return str(file).replace("\\", "/").replace("!", "/").rsplit("/", 1)[-1]
