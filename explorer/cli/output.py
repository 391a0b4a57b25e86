"""How the command line prints results: the output formats, aligned plain-text tables and JSON records."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import pandas as pd

FORMATS = ("table", "csv", "json")


def emit(frame: pd.DataFrame, fmt: str, *, title: str | None = None, max_colwidth: int = 70,
         stream: TextIO | None = None) -> None:
    """Print a DataFrame as an aligned table, CSV or JSON records."""
    stream = stream or sys.stdout
    if fmt == "csv":
        frame.to_csv(stream, index=False)
    elif fmt == "json":
        stream.write(frame.to_json(orient="records", force_ascii=False, indent=2) + "\n")
    else:
        if title:
            stream.write(f"{title}\n")
        stream.write(format_table(frame, max_colwidth) + "\n")


def format_table(frame: pd.DataFrame, max_colwidth: int = 70) -> str:
    """Aligned plain-text table: text left, numbers right, long cells cut with an ellipsis."""
    if frame.empty:
        return "(none)"

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            text = ""
        elif isinstance(value, float):
            text = f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
        else:
            text = " ".join(str(value).split())
        return text if len(text) <= max_colwidth else text[: max_colwidth - 3] + "..."

    columns = [str(c) for c in frame.columns]
    cells = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    widths = [max([len(columns[j])] + [len(r[j]) for r in cells]) for j in range(len(columns))]

    def line(values) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule] + [line(r) for r in cells])


def emit_json(data, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of a frame as JSON-ready dicts: missing values become None, other values plain JSON types."""
    out = frame.astype(object).where(frame.notna(), None)
    return json.loads(json.dumps(out.to_dict(orient="records"), default=str))
