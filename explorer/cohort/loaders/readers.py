"""File reading for the loaders: format detection by content, and tables read as text with row numbers.

The only module of the cohort layer that opens files. Every table comes back with its index set to the
row number a spreadsheet would show (header = row 1, first data row = 2), so errors can name rows a
researcher can find. Text formats are read with every cell as a string, so the loaders' own parsing
(explorer.cohort.values) decides what is a number, a missing marker or an error.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.io.parsers import TextParser

from explorer.errors import DataError

FIRST_DATA_ROW = 2  # the header is row 1

# Which content each extension promises.
_EXTENSION_FORMAT = {
    ".csv": "text", ".txt": "text", ".tsv": "text", ".psv": "text",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xls", ".ods": "ods",
    ".xpt": "xpt",
    ".zip": "zip",
}
_FORMAT_NAMES = {"text": "a text (CSV) file", "parquet": "a Parquet file", "xlsx": "an Excel (.xlsx) workbook",
                 "xls": "an old Excel (.xls) workbook", "ods": "an OpenDocument (.ods) spreadsheet", "xpt": "a SAS transport (XPT) file",
                 "zip": "a ZIP archive", "binary": "a binary file", "empty": "an empty file",
                 "utf16": "UTF-16 or UTF-32 text",
                 "damaged_zip": "a damaged ZIP container (an .xlsx is one)"}


def sniff(path: Path) -> str:
    """The format of a file from its first bytes: text, parquet, xlsx, xls, xpt, zip, binary or empty."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head.strip():
        return "empty"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return "damaged_zip"
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx"
        return "ods" if "mimetype" in names and b"opendocument.spreadsheet" in head[:200] else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD"):
        return "xpt"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # the UTF-32 marks start with these too
        return "utf16"
    if b"\x00" in head:
        return "binary"
    return "text"


# Spreadsheet formats read by no guarded reader: an .xls is an OLE2 compound file and an .ods a ZIP of XML, and
# the readers pandas would call (xlrd, odfpy) load a whole sheet into memory with no check of its size, so a
# small file made to exhaust memory would do so. Researchers convert them in a minute; each refusal says how.
CONVERT_FIRST = {
    "xls": "an old Excel 97-2003 workbook (.xls) is not read (its readers load a whole sheet unchecked); open it in "
           "Excel or LibreOffice and save it as .xlsx (Excel Workbook) or as CSV UTF-8, then load that file",
    "ods": "an OpenDocument spreadsheet (.ods) is not read (its reader loads a whole sheet unchecked); open it in "
           "LibreOffice or Excel and save it as .xlsx (Excel 2007-365) or as CSV UTF-8, then load that file",
}


def check_format(path: Path, expected: str | None = None) -> str:
    """The file's format; a DataError if it is empty or not what its extension (or `expected`) says."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    if path.is_dir():
        raise DataError("is a folder, not a file", file=str(path))
    actual = sniff(path)
    if actual == "empty":
        raise DataError("the file is empty", file=str(path))
    if actual == "damaged_zip":
        raise DataError("starts like a ZIP container (as .xlsx and .zip files do) but cannot be opened as one; "
                        "it is damaged or not what its name says: export it again", file=str(path))
    promised = expected or _EXTENSION_FORMAT.get(path.suffix.lower())
    if actual == "utf16" and promised in (None, "text"):
        raise DataError("is UTF-16 or UTF-32 text (Excel's 'Unicode Text' is saved so); every engine reads text "
                        "tables as UTF-8: save it as 'CSV UTF-8' and load it again", file=str(path))
    if promised and actual != promised:
        raise DataError(f"the extension {path.suffix!r} promises {_FORMAT_NAMES[promised]}, but the content is "
                        f"{_FORMAT_NAMES[actual]}; rename the file or export it again", file=str(path))
    return actual


def check_utf8(path: Path) -> None:
    """A DataError naming the line and byte where a text file stops being UTF-8; nothing if it is UTF-8.

    pandas finds a bad byte itself while it reads (its readers call this then, for the message); an engine
    that reads text where it lies is given the file only after this check, so that every engine refuses it
    alike: DuckDB would stop with a page of its own text quoting the file, and Spark would silently read the
    replacement character U+FFFD into a unit ("?mol/L") or a category.
    """
    with open(path, "rb") as handle:
        problem = utf8_problem(iter(lambda: handle.read(_CHUNK), b""))
    if problem:
        raise DataError(problem, file=str(path))


_CHUNK = 1 << 24  # 16 MB: decoding runs at about 1 GB/s, well below what reading the table costs any engine


def utf8_problem(chunks) -> str | None:
    """Where text given as byte chunks stops being UTF-8 (a BOM is allowed), said for a researcher; None if it is.

    Spreadsheets on Windows save CSV in a local code page (Windows-1252 and others), where "µmol/L" or
    "Männlich" are bytes that are not UTF-8. Guessing the code page could read a value as another, so the
    file is refused with the line and the byte, and how to save it as UTF-8.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, tail = 1, b""
    for chunk in chunks:
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as err:
            bad = chunk[err.start:err.end]
            line += chunk.count(b"\n", 0, err.start)
            guess = bad.decode("cp1252", errors="replace")
            return (f"line {line} is not UTF-8 text (byte {bad[:1].hex().upper()}, which Windows-1252 reads as "
                    f"{guess[:1]!r}); every engine reads text tables as UTF-8: save the file as 'CSV UTF-8' "
                    f"(Excel: File > Save As > CSV UTF-8) and load it again")
        line += chunk.count(b"\n")
        tail = chunk[-4:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return (f"the text ends inside a character (line {line}, last bytes {tail.hex().upper()}): the file is "
                f"cut short or not UTF-8; export it again as 'CSV UTF-8'")
    return None


def read_table(path: Path | str, *, sheet: str | int = 0, sep: str | None = None,
               subjects: bool = False) -> pd.DataFrame:
    """A table from CSV/TSV/pipe-delimited text, Parquet, Excel or SAS XPT, with spreadsheet row numbers.

    Text is read with every cell as a string (no type guessing, nothing turned into NaN except truly
    empty cells). Raises DataError for an empty file, a header without rows, or content that does not
    match the extension; NoRows for a header-only table (`subjects=True`: one row per subject, said so).
    """
    path = Path(path)
    fmt = check_format(path)
    if fmt == "text":
        frame = _read_text(path, sep)
    elif fmt == "parquet":
        frame = _read_parquet(path)
    elif fmt == "xlsx":
        frame = _read_excel(path, sheet)
    elif fmt in CONVERT_FIRST:
        raise DataError(CONVERT_FIRST[fmt], file=str(path))
    elif fmt == "xpt":
        frame = _read_xpt(path)
    else:
        raise DataError(f"cannot read {_FORMAT_NAMES[fmt]} as a table", file=str(path))
    return _numbered(frame, path, NO_SUBJECTS if subjects else NO_ROWS)


def read_text_bytes(data: bytes, *, name: str, usecols=None, sep: str | None = None,
                    subjects: bool = False) -> pd.DataFrame:
    """A text table from bytes (e.g. a member of a ZIP archive), read as strings with row numbers."""
    if not data.strip():
        raise DataError("the file is empty", file=name)
    sample = data[:65536].decode("utf-8-sig", errors="replace")
    sep = sep or _guess_separator(sample)
    unique_columns(_header(sample, sep), name)
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                            usecols=usecols, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(utf8_problem([data]), file=name) from None
    except (pd.errors.ParserError, ValueError) as err:
        raise DataError(f"cannot be read as a delimited text table ({type(err).__name__}{_line_of(err)}); "
                        "check its separator and quoting", file=name) from None
    return _numbered(frame, Path(name), NO_SUBJECTS if subjects else NO_ROWS)


def zip_members(path: Path) -> dict[str, str]:
    """Member names of a ZIP archive by lower-case file name without folders (macOS '__MACOSX' skipped)."""
    check_format(path, "zip")
    with zipfile.ZipFile(path) as archive:  # check_format has opened it once already
        return {Path(n).name.lower(): n for n in archive.namelist()
                if not n.startswith("__MACOSX/") and not n.endswith("/")}


# A member is read whole into memory: a "zip bomb" (50 MB of zeros that unpack to 50 GB) would take it all.
# Tables of real data compress 3-20 times (OMOP CSVs of mostly empty cells about 30), far below the ratio refused.
MAX_ZIP_RATIO = 200
RATIO_CHECKED_ABOVE = 64 * 2**20  # small members may compress as they like: they cannot fill the memory
MAX_ZIP_MEMBER = 4 * 2**30


def check_unpacked_size(info: zipfile.ZipInfo, path: Path, what_to_do: str) -> None:
    """A DataError when a ZIP member's declared size says it is a bomb (zipfile stops reading at the declared
    size, so a header that lies cannot make it unpack more)."""
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > MAX_ZIP_MEMBER or (info.file_size > RATIO_CHECKED_ABOVE and ratio > MAX_ZIP_RATIO):
        raise DataError(f"member {info.filename} unpacks to {info.file_size:,} bytes ({ratio:,.0f} times its packed "
                        f"size), more than a table of real data (at most {MAX_ZIP_MEMBER:,} bytes, "
                        f"{MAX_ZIP_RATIO} times); {what_to_do}", file=str(path))


def read_zip_member(path: Path, member: str) -> bytes:
    """The bytes of one member of a ZIP archive, refused when its declared size says it is a bomb."""
    try:
        with zipfile.ZipFile(path) as archive:
            check_unpacked_size(archive.getinfo(member), path, "unzip the archive yourself and give the folder")
            return archive.read(member)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
        raise DataError(f"member {member} of the archive cannot be read ({type(err).__name__}); the archive is "
                        "damaged: download or zip it again", file=str(path)) from None


def check_header(path: Path, sep: str | None = None) -> None:
    """A DataError when a text table's header names a column twice, or its last row is cut off (for engines
    that read the file in place, as for pandas)."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        sample = handle.read(65536)
    sep = sep or _guess_separator(sample)
    header = _header(sample, sep)
    unique_columns(header, path)
    check_last_row(path, sep, len(header))


def check_last_row(path: Path, sep: str, width: int) -> None:
    """A DataError when the file ends inside a row: no line end after it and fewer fields than the header.
    Every reader pads such a row with blanks, so a table cut off in transfer or by a full disk would lose its last
    values without a word ("7.5" cut to "7" cannot be seen; a row cut before its last column can)."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65536))
        tail = handle.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    if "\n" not in tail.decode("utf-8", errors="replace") and path.stat().st_size > len(tail):
        return  # a last line longer than the tail read: not judged
    try:
        fields = next(csv.reader([last], delimiter=sep))
    except (StopIteration, csv.Error):
        return
    if len(fields) < width:
        line = tail.count(b"\n") if path.stat().st_size <= len(tail) else None
        where = f"its last line ({line + 1})" if line is not None else "its last line"
        raise DataError(f"the file ends inside a row: {where} has {len(fields)} of the header's {width} fields and "
                        "no line end, so it was cut off (an interrupted download or copy, a full disk?); export or "
                        "copy it again", file=str(path))


def unique_columns(names, path: Path | str) -> None:
    """A DataError naming a column the header gives twice, blanks aside. pandas would read the second as
    'value.1' and every engine its own way, so which one a loader read would depend on the path taken."""
    places: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        if name is not None and str(name).strip():
            places.setdefault(str(name).strip(), []).append(number)
    for name, numbers in places.items():
        if len(numbers) > 1:
            raise DataError(f"the header names column {name!r} {len(numbers)} times (columns "
                            f"{', '.join(map(str, numbers))}); a loader cannot tell which to read: rename or "
                            "remove the others", file=str(path), column=name)


def _header(sample: str, sep: str) -> list[str]:
    """The header row as written (pandas renames a repeated name: 'value', 'value.1')."""
    try:
        return next(csv.reader(io.StringIO(sample), delimiter=sep))
    except (StopIteration, csv.Error):
        return []


def _read_text(path: Path, sep: str | None) -> pd.DataFrame:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        sample = handle.read(65536)
    sep = sep or _guess_separator(sample)
    header = _header(sample, sep)
    unique_columns(header, path)
    check_last_row(path, sep, len(header))
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path)) from None
    except UnicodeDecodeError:
        check_utf8(path)  # raises, naming the line and the byte
        raise DataError("cannot be decoded as UTF-8 text; save it as 'CSV UTF-8'", file=str(path)) from None
    except (pd.errors.ParserError, ValueError) as err:
        # pandas' message can quote a line of the file; say only where and why
        raise DataError(f"cannot be read as a delimited text table ({type(err).__name__}{_line_of(err)}); "
                        "check its separator and quoting", file=str(path)) from None


def _line_of(err: Exception) -> str:
    found = re.search(r"line (\d+)", str(err))
    return f" at line {found.group(1)}" if found else ""


def _guess_separator(sample: str) -> str:
    header = sample.splitlines()[0] if sample.splitlines() else ""
    try:
        return csv.Sniffer().sniff(header, delimiters=",|\t;").delimiter
    except csv.Error:
        return ","


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as err:
        # Arrow's message names byte offsets and thrift fields, never the file's contents
        raise DataError(f"cannot be read as a Parquet file ({type(err).__name__}); it is damaged or cut off: "
                        "write it again", file=str(path)) from None


# Excel's own limit: a sheet cannot hold more rows (Excel 2007 and later)
EXCEL_MAX_ROWS = 1_048_576
# Rows without a value after the last one that has one: formatting dragged down a column leaves thousands;
# millions are a workbook made to exhaust the reader (each row costs the reader time and memory).
MAX_TRAILING_EMPTY_ROWS = 100_000
EXCEL_INSTEAD = "open it in Excel, delete the rows below the table and save it, or export the sheet as CSV UTF-8"


def _read_xlsx(path: Path, sheet: str | int) -> pd.DataFrame:
    """An .xlsx sheet read in one streamed pass, refused as soon as it shows itself built to exhaust memory.

    An .xlsx is a ZIP container: each part is checked as any ZIP member (check_unpacked_size). The sheet is then
    streamed by openpyxl in read-only mode: more rows than Excel allows, or more than MAX_TRAILING_EMPTY_ROWS rows
    without a value after the table, are refused when seen; empty rows are only counted until a row with a value
    follows them, so formatting dragged down a sheet costs no memory. The cells are converted as pandas' own
    openpyxl reader does (_excel_cell) and parsed by pandas' TextParser, as pd.read_excel would: the same frame,
    from one read of the sheet instead of a guard's read and then pandas' (1.5 times faster at 2,000 rows, one
    run at load 9).
    """
    import openpyxl

    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            check_unpacked_size(info, path, EXCEL_INSTEAD)
    book = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        names = book.sheetnames
        name = sheet if isinstance(sheet, str) else (names[sheet] if -len(names) <= sheet < len(names) else None)
        if name not in names:
            raise DataError(f"no sheet {sheet!r} in the workbook; its sheets: {names[:20]}", file=str(path))
        worksheet = book[name]
        worksheet.reset_dimensions()  # as pandas does: the declared size can be wrong, and pandas reads past it
        data: list[list] = []
        last_filled, trailing = 0, 0
        for number, row in enumerate(worksheet.iter_rows(), start=1):
            if number > EXCEL_MAX_ROWS:
                raise DataError(f"sheet {name!r} has more than {EXCEL_MAX_ROWS:,} rows, more than Excel allows: "
                                f"the workbook is damaged or made to exhaust the reader; {EXCEL_INSTEAD}",
                                file=str(path))
            cells = [_excel_cell(cell) for cell in row]
            while cells and cells[-1] == "":
                cells.pop()
            if number == 1:
                unique_columns([c if c != "" else None for c in cells], path)
            if cells:
                data.extend([] for _ in range(trailing))  # the empty rows inside the table
                data.append(cells)
                last_filled, trailing = number, 0
            else:
                trailing += 1
                if trailing > MAX_TRAILING_EMPTY_ROWS:
                    raise DataError(f"sheet {name!r} has more than {MAX_TRAILING_EMPTY_ROWS:,} rows without a value "
                                    f"after row {last_filled:,} (formatted but empty rows); {EXCEL_INSTEAD}",
                                    file=str(path))
    finally:
        book.close()
    if not data:
        raise DataError("the sheet is empty", file=str(path))
    width = max(len(cells) for cells in data)
    data = [cells + [""] * (width - len(cells)) for cells in data]
    # pandas' own parsing of the cells (header, blanks and missing markers to NaN), as pd.read_excel does
    return TextParser(data, header=0, dtype=object, skip_blank_lines=False).read()


def _excel_cell(cell):
    """A cell as pandas' openpyxl reader gives it: blank "", an error NaN, a whole number an int."""
    from openpyxl.cell.cell import TYPE_ERROR, TYPE_NUMERIC

    value = cell.value
    if value is None:
        return ""
    if cell.data_type == TYPE_ERROR:
        return np.nan
    if cell.data_type == TYPE_NUMERIC and not isinstance(value, bool):
        try:
            whole = int(value)
        except (OverflowError, ValueError):  # inf or NaN
            return float(value)
        return whole if whole == value else float(value)
    return value


def _read_excel(path: Path, sheet: str | int) -> pd.DataFrame:
    try:
        return _read_xlsx(path, sheet)
    except ValueError as err:  # e.g. pandas' parser refusing the sheet
        raise DataError(" ".join(str(err).split())[:200], file=str(path)) from None
    except (zipfile.BadZipFile, KeyError, OSError, TypeError, AttributeError, IndexError, EOFError,
            zlib.error) as err:
        # a workbook whose parts are missing or damaged: openpyxl fails in many ways, none of them useful
        raise DataError(f"cannot be read as an Excel workbook ({type(err).__name__}); it is damaged or not "
                        "an .xlsx: open and save it again in Excel, or export CSV", file=str(path)) from None
    # Excel cells come typed: numbers stay numbers and dates dates; the loaders accept both.


def _read_xpt(path: Path) -> pd.DataFrame:
    try:
        return pd.read_sas(path, format="xport", encoding="latin-1")
    except (ValueError, OSError) as err:
        raise DataError(f"cannot be read as a SAS transport (XPT) file: {err}", file=str(path)) from None


# The one wording of a header-only table, in every loader and engine (canonical_sql, omop_sql too).
NO_ROWS = "the file has a header but no rows; export it again with its rows (was the export filtered or cut off?)"
NO_SUBJECTS = ("the file has a header but no rows: no subjects, and 0 subjects give no funnel; export it again with "
               "its rows (was the export filtered or cut off?)")


class NoRows(DataError):
    """A table with a header and no rows. Loaders that read a table of subjects let it stop the load; a table of
    measurements, events or CGM with no rows is read as none of them (read_tables)."""


def read_tables(paths: dict[str, Path], *, subjects: str, report, **options) -> dict[str, pd.DataFrame]:
    """Each table of a multi-table source, by key. The `subjects` table must have rows (NoRows, naming it); any
    other header-only table is left out with a note in the report, as if absent: no measurements (or events...),
    so criteria that need them are unknown, as for a subject without rows in the table."""
    tables = {}
    for key, path in paths.items():
        try:
            tables[key] = read_table(path, subjects=key == subjects, **options)
        except NoRows:
            if key == subjects:
                raise
            read_as_absent(report, Path(path).name, key)
    return tables


def read_as_absent(report, name: str, table: str) -> None:
    """Count a header-only table (0 rows read) and say in the report that it is read as absent."""
    report.read(name, 0)
    report.note(f"{name} has a header but no rows: read as no {table} rows (criteria that need them are unknown)")


def _numbered(frame: pd.DataFrame, path: Path, no_rows: str = NO_ROWS) -> pd.DataFrame:
    if len(frame.columns) == 0:
        raise DataError("the file is empty", file=str(path))
    if len(frame) == 0:
        raise NoRows(no_rows, file=str(path))
    frame.columns = [str(c).strip() for c in frame.columns]
    unique_columns(frame.columns, path)  # 'value' and 'value ' (Parquet, or any format) are one name once stripped
    frame.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame), name="row")
    return frame
