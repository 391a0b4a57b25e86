"""Loaders: every source of subject data -> a canonical Cohort plus a LoadReport (explorer.cohort.tables).

`load(path)` detects the kind of source; each kind also has its own function with source-specific
options. Every loader validates at the boundary and raises explorer.errors.DataError (UnitError for
units) naming the file, column and first offending rows; `on_invalid="reject"` drops invalid rows
instead and counts them in the report.

| kind          | function             | what it reads                                                    |
|---------------|----------------------|------------------------------------------------------------------|
| canonical     | load_canonical       | folder with subjects/measurements/events/cgm[.csv/.parquet]      |
| wide          | load_wide            | one CSV/Parquet/Excel table + a YAML mapping (column -> variable) |
| sdtm          | load_sdtm            | CDISC SDTM DM, LB, VS, MH as .xpt or .csv                        |
| omop          | load_omop            | OMOP CDM CSV folder or ZIP archive                               |
| cgm           | load_cgm             | long CGM file (id, time, gl) as iglu uses                        |
| shanghai      | load_shanghai        | ShanghaiT1DM/T2DM summaries (+ CGM long file)                    |
| t1d_exchange  | load_t1d_exchange    | T1D Exchange (Weinstock 2016) pipe-delimited tables              |
"""

from __future__ import annotations

from pathlib import Path

from explorer.errors import DataError

from .canonical import load_canonical, table_files
from .cgm import load_cgm
from .omop import load_omop
from .readers import check_format, read_table, zip_members
from .report import Loaded, LoadReport
from .sdtm import domain_files, load_sdtm
from .shanghai import SUMMARY_FILES, load_shanghai
from .t1dexchange import FILES as T1DX_FILES
from .t1dexchange import load_t1d_exchange
from .wide import load_wide

LOADERS = {
    "canonical": load_canonical, "wide": load_wide, "sdtm": load_sdtm, "omop": load_omop, "cgm": load_cgm,
    "shanghai": load_shanghai, "t1d_exchange": load_t1d_exchange,
}

__all__ = ["LOADERS", "LoadReport", "Loaded", "detect", "load", "load_canonical", "load_cgm", "load_omop",
           "load_sdtm", "load_shanghai", "load_t1d_exchange", "load_wide"]


def load(path: str | Path, kind: str | None = None, **options) -> Loaded:
    """Load any supported source; `kind` overrides detection. Options go to the kind's loader.

    A YAML file is a wide-table mapping (its `file:` names the data).
    """
    path = Path(path)
    kind = kind or detect(path)
    if kind not in LOADERS:
        raise DataError(f"unknown kind {kind!r}; use one of {sorted(LOADERS)}", file=str(path))
    if kind == "wide":
        if path.suffix.lower() in (".yaml", ".yml"):
            return load_wide(None, path, **options)
        if "mapping" not in options:
            raise DataError("a wide table needs mapping= (a YAML mapping file)", file=str(path))
    return LOADERS[kind](path, **options)


def detect(path: Path) -> str:
    """The kind of source at `path`, from folder contents, archive members or the file's columns."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", file=str(path))
    if path.is_dir():
        names = {p.name.lower() for p in path.iterdir()}
        if "subjects" in table_files(path):
            return "canonical"
        if "dm" in domain_files(path):
            return "sdtm"
        if any(n.startswith("person.") for n in names):
            return "omop"
        if all(f.lower() in names for f in T1DX_FILES.values()):
            return "t1d_exchange"
        if any(f.lower() in names for f in SUMMARY_FILES):
            return "shanghai"
        raise DataError("cannot tell what this folder holds (canonical tables, SDTM, OMOP, T1D Exchange, "
                        "Shanghai summaries); pass kind=", file=str(path))
    if path.suffix.lower() in (".yaml", ".yml"):
        return "wide"
    fmt = check_format(path)
    if fmt == "zip":
        members = zip_members(path)
        if any(m.startswith("person.") for m in members):
            return "omop"
        raise DataError("a ZIP archive without an OMOP PERSON table; pass kind=", file=str(path))
    if fmt == "xpt":
        raise DataError("a single XPT domain; point load() at the folder of SDTM domains", file=str(path))
    columns = set(read_table(path, subjects=True).columns)  # a single table is one of subjects (or readings)
    if {"Patient Number", "HbA1c (mmol/mol)"} <= columns:
        return "shanghai"
    lower = {c.lower() for c in columns}
    if ({"id", "subject_id"} & lower) and ({"time", "timestamp"} & lower) and ({"gl", "glucose"} & lower) \
            and len(columns) <= 5:
        return "cgm"
    # The columns are not listed: the "header" of a file that is not a table (a path typed by mistake,
    # or /etc/shadow in a served dashboard) is its first line, and an error must never show file contents.
    raise DataError(f"cannot tell what this table holds ({len(columns)} column(s), none that a known layout "
                    "needs); for a spreadsheet export write a mapping file and pass mapping=, or pass kind=",
                    file=str(path))
