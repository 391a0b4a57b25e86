"""Raw cells to numbers: missing markers, censored lab values and categorical counts, with counts of each.

Rules (docs/data.md, "Censored and categorical values"):

- Missing: blank, "/", ".", "-", "NA", "N/A", "NaN", "ND", "not done", "unknown", "UNK", "none recorded"
  -> NaN (unknown), counted as `missing`.
- Plain numbers ("7.9", " 12 ", "+3", "1e-3") -> the number, counted as `numeric`. Only ASCII digits
  are digits: full-width "１２" (or other scripts' digits) and numbers too large for a float are text,
  unless `normalise_digits=True` asks for them to be read (NFKC), counted as `normalised_digits`.
- Censored measurements (kind="measurement"):
  "<L" or "<=L" (below the limit of quantification) -> L / 2, counted as `below_limit`; ">U" or ">=U" (above
  the measuring range, e.g. a meter's "HI" of 600 mg/dL) -> U, counted as `above_limit`. These point values
  (Hornung & Reed, Appl Occup Environ Hyg 1990;5:46) are for displays and statistics only: the censoring code
  (CENSORING: "<" [0, L), "<=" [0, L], ">" (U, +inf), ">=" [U, +inf)) and the limit travel with the value,
  and every engine decides a criterion on the interval (censored_bounds): unknown where the outcome differs
  across it, so "<0.33" C-peptide against ">= 0.3" is unknown, not a fail on the guess 0.165.
- Censored sensor readings (kind="reading", CGM): "<L" -> L and ">U" -> U, the limits of the sensor's
  reporting range (a CGM's "LO" is a reading at its 40 mg/dL floor, not somewhere in [0, 40)), counted as
  `below_limit` / `above_limit`.
- Categorical counts (kind="count"): "a - b" or "a-b" or "a to b" -> a, counted as `range`; ">k" -> k + 1
  (counts are integers), ">=k" -> k, "<k" or "<=k" -> 0, each counted as `open_range`. The lower bound
  is conservative for "count >= k" criteria: a subject is counted as having at least k events only when
  the source says so for certain; a subject reported as "5 - 9" fails ">= 6" rather than passing on a guess.
- Exact quantities (kind="exact": an age, a window in days, a severity grade) take no censored form: "<18"
  in an age column is text (an age "below 18" lies anywhere in [0, 18); half the limit would make a 17-year-old
  nine and pass "age >= 6" on a guess).
- Anything else is text in a numeric column: a DataError naming the file, column and first rows, or,
  with `on_text="unknown"`, NaN counted as `text_as_unknown` (a documented conversion, reported).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from explorer.errors import DataError

MISSING_TOKENS = frozenset({
    "", "/", ".", "-", "--", "na", "n/a", "nan", "nd", "not done", "unknown", "unk", "none recorded",
    "missing", "null", "none", "#n/a",
})

# ASCII digits only: Python's \d also matches full-width "１２" and other scripts' digits, which float()
# accepts; a cell written that way is not what the lab reported as a number, so it is text (an error, or
# unknown with on_text="unknown"), and the message says how to fix it.
_NUMBER = r"[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
PLAIN_NUMBER = rf"^-?{_NUMBER}$"  # a plain number; public: the SQL readers match it where the data lie
_PLAIN = re.compile(PLAIN_NUMBER)
_CENSORED = re.compile(rf"^(?P<op><=|>=|<|>|≤|≥)\s*(?P<limit>{_NUMBER})$")
_RANGE = re.compile(rf"^(?P<low>{_NUMBER})\s*(?:-|–|to)\s*(?P<high>{_NUMBER})$", re.IGNORECASE)

Kind = Literal["measurement", "count", "reading", "exact"]

# Censoring codes (int8; 0 = exact): the sign says below / above, and the interval the true value lies in is
# "<L" [floor, L), "<=L" [floor, L], ">U" (U, +inf), ">=U" [U, +inf). Engines decide criteria on the interval
# (censored_bounds), not on the point value, which stays for displays and statistics.
BELOW, BELOW_OR_AT, ABOVE, AT_OR_ABOVE = -1, -2, 1, 2
CENSORING = {"<": BELOW, "<=": BELOW_OR_AT, ">": ABOVE, ">=": AT_OR_ABOVE}
SYMBOL = {code: op for op, code in CENSORING.items()}
# optional columns of a canonical measurements table (present only when some value is censored): the code and
# the limit as given, in the row's unit (converted with the value)
CENSORING_COLUMNS = {"censored": "int8", "limit": "float64"}


@dataclass(frozen=True)
class ParsedNumbers:
    """Numbers parsed from raw cells: values, how each was read, and counts per rule."""

    values: np.ndarray            # float64; NaN = unknown
    censored: np.ndarray          # int8 censoring codes (BELOW "<", BELOW_OR_AT "<=", ABOVE ">", AT_OR_ABOVE ">="), 0 exact
    counts: dict[str, int] = field(default_factory=dict)

    def limits(self, kind: Kind = "measurement") -> np.ndarray:
        """The limit each censored value was given as (NaN where exact), from the point value and its code."""
        return censored_limits(self.values, self.censored, kind)


def parse_numbers(raw: pd.Series, *, column: str, file: str | None = None, kind: Kind = "measurement",
                  on_text: Literal["raise", "unknown"] = "raise", normalise_digits: bool = False,
                  missing_tokens: frozenset[str] = MISSING_TOKENS) -> ParsedNumbers:
    """Parse a column of raw cells (text or numbers) into floats by the module's rules.

    Works on the distinct texts of the column, so a million cells with a few hundred distinct spellings
    cost a few hundred regular-expression matches.
    """
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.to_numpy(dtype="float64", na_value=np.nan).copy()
        infinite = np.isinf(values)  # a typed column (Parquet, Excel) may hold inf: not a measurement
        if infinite.any() and on_text == "raise":
            raise DataError("infinite value in a numeric column; fix the cells or declare them missing",
                            file=file, column=column, rows=raw.index[infinite][:10].tolist())
        values[infinite] = np.nan
        n_missing = int(np.isnan(values).sum()) - int(infinite.sum())
        counts = {"numeric": len(values) - n_missing - int(infinite.sum()), "missing": n_missing}
        if infinite.any():
            counts["text_as_unknown"] = int(infinite.sum())
        return ParsedNumbers(values, np.zeros(len(values), np.int8), counts)

    text = raw.astype("string").str.strip()
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    unique_values = np.full(len(uniques), np.nan)
    unique_censored = np.zeros(len(uniques), np.int8)
    unique_rule = np.empty(len(uniques), dtype=object)
    for i, cell in enumerate(uniques):
        unique_values[i], unique_censored[i], unique_rule[i] = parse_cell(str(cell), kind, missing_tokens)
        if normalise_digits and unique_rule[i] == "text" and _non_ascii_digit(str(cell)):
            # asked for: NFKC turns full-width "７.５" into "7.5"; counted apart so the report shows it
            value, censored, rule = parse_cell(unicodedata.normalize("NFKC", str(cell)), kind, missing_tokens)
            if rule != "text":
                unique_values[i], unique_censored[i], unique_rule[i] = value, censored, "normalised_digits"

    bad = np.flatnonzero(unique_rule == "text")
    if bad.size and on_text == "raise":
        rows = np.flatnonzero(np.isin(codes, bad))
        examples = ", ".join(repr(str(uniques[i])[:20]) for i in bad[:3])
        hint = ("; non-ASCII digits (e.g. full-width) are not read as numbers: retype them as 0-9"
                if any(_non_ascii_digit(str(uniques[i])) for i in bad) else "")
        raise DataError(f"text in a numeric column ({examples}); fix the cells or declare them missing{hint}",
                        file=file, column=column, rows=raw.index[rows[:10]].tolist())

    has_value = codes >= 0
    values = np.full(len(raw), np.nan)
    censored = np.zeros(len(raw), np.int8)
    values[has_value] = unique_values[codes[has_value]]
    censored[has_value] = unique_censored[codes[has_value]]
    rules = np.full(len(raw), "missing", dtype=object)
    rules[has_value] = unique_rule[codes[has_value]]
    rules[rules == "text"] = "text_as_unknown"
    names, n = np.unique(rules.astype(str), return_counts=True)
    return ParsedNumbers(values, censored, {str(k): int(v) for k, v in zip(names, n, strict=True)})


def parse_cell(cell: str, kind: Kind, missing_tokens: frozenset[str]) -> tuple[float, int, str]:
    """(value, censoring, rule) for one distinct cell text, stripped (the SQL readers call it on distinct texts)."""
    if cell.lower() in missing_tokens:
        return np.nan, 0, "missing"
    if _PLAIN.match(cell):  # not float() alone: it would also accept "inf", "1_000" and "１２"
        value = float(cell)
        return (value, 0, "numeric") if np.isfinite(value) else (np.nan, 0, "text")  # "1e999" overflows
    if m := _CENSORED.match(cell):
        if kind == "exact":  # an age or a day count is not a lab result: "<18" is no number, never 9
            return np.nan, 0, "text"
        op, limit = m["op"].replace("≤", "<=").replace("≥", ">="), float(m["limit"])
        if not np.isfinite(limit):
            return np.nan, 0, "text"
        if kind == "count":
            low = {"<": 0.0, "<=": 0.0, ">": np.floor(limit) + 1, ">=": np.ceil(limit)}[op]
            return low, 0, "open_range"
        code = CENSORING[op]
        if code < 0:
            return (limit if kind == "reading" else limit / 2), code, "below_limit"
        return limit, code, "above_limit"
    if kind == "count" and (m := _RANGE.match(cell)):
        low, high = float(m["low"]), float(m["high"])
        if low <= high and np.isfinite(high):
            return low, 0, "range"
    return np.nan, 0, "text"


def subject_censoring(column: str) -> tuple[str, str]:
    """The companion columns a subjects table carries for a number column with a censored cell ("<5"): the
    censoring code and the limit, NaN where the cell is exact (so a wide source's rows of one subject agree
    wherever one is blank). Internal ("__"): no catalogue variable, and the SQL derivation's subject columns
    starting so are not features."""
    return f"__censored__{column}", f"__limit__{column}"


def subject_censoring_columns(column: str, parsed: ParsedNumbers) -> dict[str, np.ndarray]:
    """The companion columns (subject_censoring) of one parsed subject column, none when no cell is censored."""
    if not parsed.censored.any():
        return {}
    code, limit = subject_censoring(column)
    given = parsed.censored != 0
    return {code: np.where(given, parsed.censored.astype("float64"), np.nan),
            limit: np.where(given, parsed.limits(), np.nan)}


def censoring_codes(cells: pd.Series, *, file: str | None = None, column: str = "censored") -> np.ndarray:
    """A canonical table's `censored` column as int8 codes: blank 0 (exact), a code (-2, -1, 0, 1, 2) or its
    symbol ("<", "<=", ">", ">="). Anything else is a DataError naming the rows (positions in `cells`)."""
    def code(cell) -> int | None:
        if cell is None or pd.isna(cell) or str(cell).strip() == "":
            return 0
        text = str(cell).strip().replace("≤", "<=").replace("≥", ">=")
        if text in CENSORING:
            return CENSORING[text]
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number in (0, *SYMBOL) else None

    texts = pd.Series(cells, dtype=object)
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    decided = [code(u) for u in uniques]
    bad = np.flatnonzero(np.isin(codes, [i for i, c in enumerate(decided) if c is None]))
    if bad.size:
        raise DataError(f"censoring code {str(texts.iloc[bad[0]])!r} is none of {sorted(CENSORING)} or "
                        f"{sorted((0, *SYMBOL))}; fix the cells (blank for an exact value)",
                        file=file, column=column, rows=bad[:10].tolist())
    table = np.array([0 if c is None else c for c in decided] + [0], dtype=np.int8)  # NA (-1) -> the last: 0
    return table[codes]


def censored_limits(values: np.ndarray, censored: np.ndarray, kind: Kind = "measurement") -> np.ndarray:
    """The limit L or U of each censored value (NaN where exact): a measurement below L was stored as L / 2."""
    halved = (censored < 0) if kind == "measurement" else np.zeros(len(censored), bool)
    return np.where(censored == 0, np.nan, np.where(halved, 2 * values, values))


def censored_bounds(values: np.ndarray, censored: np.ndarray, limits: np.ndarray,
                    floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Closed bounds [low, high] of the interval each value lies in (the value itself where exact).

    An open end is the next float inside it ("<0.33" -> high = the float just below 0.33), so a comparison
    with any threshold is decided exactly by comparing both bounds: x >= 0.33 fails over [0, 0.33), and
    x >= 0.3 differs at the two bounds (unknown). `floor` is the least value the quantity can take (0 for a
    concentration; -inf for one that can be negative)."""
    values = np.asarray(values, dtype="float64")
    censored = np.asarray(censored)
    limits = np.asarray(limits, dtype="float64")
    low = np.where(censored < 0, floor, np.where(censored == ABOVE, np.nextafter(limits, np.inf),
                                                np.where(censored == AT_OR_ABOVE, limits, values)))
    high = np.where(censored > 0, np.inf, np.where(censored == BELOW, np.nextafter(limits, -np.inf),
                                                   np.where(censored == BELOW_OR_AT, limits, values)))
    return low, high


def censored_reason(code: int, limit: float, unit: str) -> str:
    """Why a criterion on a censored value may be unknown (the unknown-reasons table's wording). The reason
    belongs to the value, not to a criterion: a threshold outside the interval still decides the criterion."""
    where = "below the limit of quantification" if code < 0 else "above the measuring range"
    return (f"censored {where} ({SYMBOL.get(int(code), '?')}{limit:g} {unit}): unknown where a threshold lies "
            "inside the interval")


def _non_ascii_digit(text: str) -> bool:
    return any(c.isdigit() and not c.isascii() for c in text)


def merge_counts(*counts: dict[str, int]) -> dict[str, int]:
    """Sum several count dictionaries (for a load report)."""
    out: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out
