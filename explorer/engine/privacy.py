"""Small-cell protection for results computed from real patient data.

A count between 1 and min_cell - 1 could identify people, so it is never shown: method="suppress"
blanks it (shown as "<min_cell"); method="round" additionally rounds every other count to a multiple
of `base` (hiding those that round below min_cell), which stops a blanked cell from being recovered by subtracting published totals (a funnel's
"excluded" is the difference of two "remaining" counts). Percentages are recomputed from the protected
counts, so no percentage reveals a blanked count either. Zero is shown: it identifies no one.

The statistics in explorer.engine describe their columns in DataFrame.attrs:
    counts      columns holding counts of subjects
    percents    {column: (numerator column, denominator)}; denominator ("constant", N),
                ("column", name), ("first", name) (the first row of a column), or ("previous", name)
                (the row before, in that column; the first row uses the first row)
    magnitudes  non-count columns that are blanked where the row's first count is (Shapley values)
    dependent   {column: count column}: statistics (a mean, a median) blanked where their count is
For a DataFrame without attrs, every integer column is taken as a count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.errors import DefinitionError

METHODS = ("suppress", "round")
DEFAULT_MIN_CELL = 11


@dataclass(frozen=True)
class Protection:
    """The small-cell rule in force: nothing (min_cell 0), or suppress counts below min_cell (and round).

    This is the one place that decides how a count may be shown: `count` gives its protected value and
    `text` its printed form ("<11", "1,230"); every view, table, hover text, figure, CSV and diagram
    goes through it. Both are idempotent, so an already protected value (NA for a blanked cell) is
    shown the same way again.
    """

    min_cell: int = 0
    method: str = "suppress"
    base: int = 5

    @property
    def on(self) -> bool:
        return self.min_cell > 0

    @property
    def marker(self) -> str:
        return f"<{self.min_cell}"

    def count(self, value) -> float:
        """The count as it may be published: NaN where it must be blanked."""
        if value is None or pd.isna(value):
            return np.nan
        if not self.on:
            return float(value)
        return float(protect_counts([float(value)], self.min_cell, self.method, self.base)[0])

    def text(self, value, *, missing: str = "\u2013") -> str:
        """A count as text: "<k" when blanked by protection, `missing` when unknown without protection."""
        if value is None or pd.isna(value):
            return self.marker if self.on else missing
        shown = self.count(value)
        if np.isnan(shown):
            return self.marker
        return f"{int(shown):,}" if float(shown).is_integer() else f"{shown:,.1f}"

    def table(self, frame: pd.DataFrame | None) -> pd.DataFrame | None:
        """A statistics table as it may be shown or exported (see suppress_small_cells)."""
        if frame is None or not self.on:
            return frame
        return suppress_small_cells(frame, self.min_cell, method=self.method, base=self.base)


NO_PROTECTION = Protection()


def shown_count(value, min_cell: int = 0, method: str = "suppress") -> str:
    """How a count is shown under small-cell protection (see Protection.text)."""
    return Protection(int(min_cell or 0), method).text(value)


def protect_counts(values, min_cell: int, method: str = "suppress", base: int = 5) -> np.ndarray:
    """Float array: counts below min_cell (but not zero) -> NaN; with method="round", the rest rounded to base."""
    x = np.asarray(values, dtype=float)
    out = x.copy()
    small = (np.abs(x) > 0) & (np.abs(x) < min_cell)
    if method == "round":
        out = np.round(x / base) * base
        # 12 rounds to 10: hide it too, so that every count shown is at least min_cell
        small |= (np.abs(out) > 0) & (np.abs(out) < min_cell) | ((out == 0) & (x != 0))
    out[small] = np.nan
    return out


def _denominator(frame: pd.DataFrame, spec) -> np.ndarray:
    kind, arg = spec
    n = len(frame)
    if kind == "constant":
        return np.full(n, float(arg))
    column = frame[arg].to_numpy(dtype=float, na_value=np.nan)
    if kind == "column":
        return column
    if kind == "first":
        return np.full(n, column[0] if n else np.nan)
    if kind == "previous":
        return np.concatenate([column[:1], column[:-1]]) if n else column
    raise ValueError(f"unknown denominator {spec!r}")


def suppress_small_cells(frame: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL, *, method: str = "suppress",
                         base: int = 5) -> pd.DataFrame:
    """A copy of a statistics table with small counts blanked (NA) and percentages recomputed."""
    if method not in METHODS:
        raise DefinitionError(f"small-cell method {method!r}; use one of {list(METHODS)}", field="method")
    if not isinstance(min_cell, (int, np.integer)) or min_cell < 1:
        raise DefinitionError(f"min_cell must be a positive whole number, got {min_cell!r}", field="min_cell")
    out = frame.copy()
    attrs = dict(frame.attrs)
    counts = attrs.get("counts")
    if counts is None:
        counts = [c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c])
                  and not pd.api.types.is_bool_dtype(frame[c])]
    protected_denominators: dict = {}
    for spec in attrs.get("percents", {}).values():
        if spec[1][0] == "constant":
            value = protect_counts([spec[1][1]], min_cell, method, base)[0]
            protected_denominators[spec[1]] = ("constant", value)
    for col in counts:
        if col in out.columns:
            protected = protect_counts(out[col].to_numpy(dtype=float, na_value=np.nan), min_cell, method, base)
            whole = pd.api.types.is_integer_dtype(frame[col])  # Shapley shares are fractional counts
            out[col] = pd.array(np.round(protected) if whole else protected, dtype="Float64")
            if whole:
                out[col] = out[col].astype("Int64")
    for col, (numerator, denominator) in attrs.get("percents", {}).items():
        if col in out.columns:
            spec = protected_denominators.get(denominator, denominator)
            num = out[numerator].to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                pct = 100.0 * num / _denominator(out, spec)
            out[col] = np.where(np.isfinite(pct), pct, np.nan)
    first_count = next((c for c in counts if c in out.columns), None)
    for col in attrs.get("magnitudes", []):
        if col in out.columns and first_count is not None:
            blank = out[first_count].isna().to_numpy()
            values = frame[col].to_numpy(dtype=float)
            if method == "round" and col != "se":
                values = np.round(values / base) * base
            out[col] = np.where(blank, np.nan, values)
    for col, count_col in attrs.get("dependent", {}).items():
        if col in out.columns:
            out[col] = out[col].where(out[count_col].notna() & (out[count_col] >= min_cell))
    out.attrs = {**attrs, "protected": {"min_cell": int(min_cell), "method": method,
                                        "base": int(base) if method == "round" else None}}
    return out


def protection_of(frame: pd.DataFrame) -> Protection:
    """The protection a table was made under (from its attrs), or none."""
    protected = frame.attrs.get("protected")
    if not protected:
        return NO_PROTECTION
    return Protection(int(protected["min_cell"]), protected["method"], int(protected.get("base") or 5))


def display_frame(frame: pd.DataFrame, *, digits: int = 1) -> pd.DataFrame:
    """Text for printing: counts as Protection.text shows them ("<min_cell" when blanked), percentages rounded."""
    protection = protection_of(frame)
    out = frame.copy()
    counts = set(frame.attrs.get("counts", []))
    percents = set(frame.attrs.get("percents", {}))
    for col in out.columns:
        if col in counts:
            out[col] = [protection.text(v, missing="") for v in frame[col]]
        elif col in percents or pd.api.types.is_float_dtype(frame[col]):
            out[col] = ["" if pd.isna(v) else f"{v:.{digits}f}" for v in frame[col]]
    return out
