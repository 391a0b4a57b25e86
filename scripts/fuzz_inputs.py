"""Fuzz the input boundary: generated trial files and data files, each outcome sorted into a class.

Every generated file must end in one of two ways: it loads (a data load then has a balanced report:
rows read = kept + rejected, and no subject vanished), or it raises a project error (DefinitionError,
DataError) of one line that names the file. Anything else is a defect, counted by class:

    raw_exception   any other exception (TypeError, RecursionError, BadZipFile, ArrowInvalid, ...)
    hang            a case ran longer than the per-case limit (an alias bomb, exponential work)
    silent_drop     a data load whose report does not balance, or a subject missing without a word
    silent_accept   a file that must not load as it is loaded without a word: a trial file with a
                    duplicate key or an alias, a full-width number read as a number, conflicting
                    duplicate measurements or partial dates absent from the load report
    unlocated       a project error that does not name the file it is about
    echo            an error that shows the contents of a file that is not a table
    disagree        a screening folder one engine evaluates and the other refuses

Data folders also come as Parquet or Excel tables, with a byte-order mark, ';' separators and decimal commas,
mixed date formats, repeated ids, a column dropped, renamed or given twice, a cell of 2*10^5 characters, a
table cut off mid-line, and `NaN`/`inf`/`1e308`/`-0` values (FORMATS). A data load that succeeds is screened
and evaluated against a bundled trial: every status must be pass, fail, unknown or assumed, and the final
counts must add up to the subjects screened (class `inconsistent` otherwise). A project error must name the
file, and the column it holds where it holds one (else `unlocated`).

Screening folders (every third case) carry a mutation in their event tables (events, event_lookback,
event_counts): each is evaluated by both engines and must load only when the mutation is valid.

Usage: .venv/bin/python scripts/fuzz_inputs.py [--seconds 120] [--seed 0] [--cases N]
tests/test_fuzz_inputs.py runs the same generator, seeded and bounded, in the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

DEFECTS = ("raw_exception", "hang", "silent_drop", "silent_accept", "unlocated", "echo", "disagree", "inconsistent")
SECRET = "SECRET-7f3a-DO-NOT-SHOW"

# --- trial files -----------------------------------------------------------------------------------

JUNK = [5, -1, 0, 1e308, float("nan"), "x", "", None, True, [], {}, [None, 1], [1], [1, 2, 3], ["a", "b"],
        {"a": 1}, int("9" * 400), "9" * 400, "\uff11\uff12", "1e999", [0, int("9" * 400)], ["1", "2"]]
NAMES = ["age", "hba1c", "fasting_glucose", "sex", "diabetes_type", "hiv_positive", "on_insulin", "alt",
         "alt_uln", "severe_hypoglycemia", "x_min", "unknown_var", "__row", "subject_id", "Age"]
TOKENS = ["and", "or", "not", "(", ")", ">=", "<=", "==", "!=", "<", ">", "+", "-", "*", "/", "in", ",",
          "7.0", "1e308", "0", '"T1D"', "'male'", "true", "false", "count(severe_hypoglycemia, within_days=365)",
          "known(hba1c)", "abs(", "min(", "max(", "x_min", "=", "@", "__import__('os')", ";", "\n"]


def base_trial() -> dict:
    return {
        "id": "FUZZ1", "title": "A fuzzed trial",
        "variables": {"x_score": {"kind": "number", "unit": "1", "range": [0, 10]}},
        "criteria": [
            {"id": "I1", "kind": "inclusion", "text": "Adults", "expression": "age >= age_min",
             "parameters": {"age_min": {"value": 18, "unit": "years", "min": 0, "max": 100, "step": 1}}},
            {"id": "I2", "kind": "inclusion", "text": "HbA1c", "expression": "hba1c >= x_min",
             "parameters": {"x_min": {"value": 7, "unit": "%", "min": 3, "max": 20}}},
            {"id": "E1", "kind": "exclusion", "text": "HIV", "expression": "hiv_positive"},
        ],
    }


def _dump(data: dict, fmt: str) -> str:
    import yaml
    if fmt == "json":
        return json.dumps(data, default=str, allow_nan=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def trial_case(rng: random.Random, folder: Path, n: int) -> tuple[Path, bool]:
    """One generated trial file (YAML or JSON), a valid base with a mutation; and whether it must be refused."""
    data, fmt = base_trial(), rng.choice(["yaml", "yaml", "yaml", "json"])
    kind = rng.choice(["variable", "variable", "expression", "parameter", "field", "duplicate", "alias",
                       "deep", "bytes", "valid"])
    text = None
    if kind == "variable":
        spec = {"kind": rng.choice(["number", "category", "boolean", "event", 5, None])}
        for key in rng.sample(["range", "categories", "unit", "role", "description"], rng.randint(1, 3)):
            spec[key] = rng.choice(JUNK)
        data["variables"][rng.choice(["v", "age", "x_score", "subject_id", "__row"])] = spec
    elif kind == "expression":
        expression = " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            expression = "not " * rng.randint(50, 600) + "hiv_positive"
        if rng.random() < 0.2:
            expression = "-" * rng.randint(50, 400) + "age >= 1"
        data["criteria"][rng.randrange(3)]["expression"] = expression
    elif kind == "parameter":
        parameter = data["criteria"][0]["parameters"]["age_min"]
        parameter[rng.choice(["value", "min", "max", "step", "unit"])] = rng.choice(JUNK)
    elif kind == "field":
        target = rng.choice([data, data["criteria"][rng.randrange(3)]])
        key = rng.choice(list(target))
        target[key] = rng.choice(JUNK) if rng.random() < 0.7 else target.pop(key, None)
    elif kind == "duplicate" and fmt == "yaml":
        text = _dump(data, fmt) + rng.choice(["title: again\n", "id: FUZZ2\n", "criteria: []\n"])
        if rng.random() < 0.5:
            text = text.replace("expression: hiv_positive", "expression: hiv_positive\n  expression: 'false'")
    elif kind == "duplicate":
        text = _dump(data, fmt)[:-1] + ', "title": "again"}'
    elif kind == "alias":
        levels = rng.randint(3, 9)
        text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
            f"a{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 9)}]\n" for i in range(levels))
        text += f"id: BOMB\ntitle: x\nvariables:\n  v: {{kind: boolean, description: *a{levels - 1}}}\n"
        fmt = "yaml"
    elif kind == "deep":
        depth = rng.choice([100, 900, 1000, 3000])
        if fmt == "json":
            text = '{"id": "DEEP", "title": "x", "summary": ' + "[" * depth + "]" * depth + "}"
        else:
            text = "id: DEEP\ntitle: x\nsummary: " + "[" * depth + "]" * depth + "\n"
    elif kind == "bytes":
        path = folder / f"trial{n}.{fmt}"
        path.write_bytes(rng.randbytes(rng.randint(0, 300)))
        return path, False
    path = folder / f"trial{n}.{fmt}"
    path.write_text(text if text is not None else _dump(data, fmt), encoding="utf-8")
    return path, kind in ("duplicate", "alias")


# --- data files ------------------------------------------------------------------------------------

SUBJECTS = "subject_id,sex,birth_date,diagnosis_date,index_date,diabetes_type,hiv_positive\n"
MIXED_OFFSET = "2024-01-01T10:00:00+05:00"  # beside plain dates: "Mixed timezones" in parse_dates (main)
CELLS = ["", "NA", "/", "inf", "-inf", "1e999", "nan", "\uff17.\uff15", "<0.1", ">600", "7.5", "-3", "1e5",
         "abc", "2024-03", "2024", "2024-13-45", "03/04/2021", MIXED_OFFSET, "TRUE", "yes",
         "t1d", "T1D", "female", "F", "X", " ", "\u00a0", "0x10", "1_000", "\u0661\u0662"]


def _subjects(rng: random.Random, n: int) -> list[list[str]]:
    rows = []
    for i in range(n):
        rows.append([f"S{i}", rng.choice(["female", "male", "F", "M", ""]),
                     f"{rng.randint(1940, 2005)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                     "2010-01-01", "2024-03-01", rng.choice(["T1D", "T2D", ""]), rng.choice(["true", "false", ""])])
    return rows


def _measurements(rng: random.Random, n: int) -> list[list[str]]:
    rows = []
    for _ in range(rng.randint(1, 30)):
        variable, unit, value = rng.choice([("hba1c", "%", "7.5"), ("hba1c", "mmol/mol", "58"),
                                            ("fasting_glucose", "mg/dL", "126"), ("alt", "U/L", "40"),
                                            ("creatinine", "mg/dL", "1.5"), ("weight", "lb", "154")])
        rows.append([f"S{rng.randrange(n)}", f"2024-0{rng.randint(1, 2)}-0{rng.randint(1, 9)}", variable, value,
                     unit, "", rng.choice(["", "40"]) if variable == "alt" or rng.random() < 0.1 else ""])
    return rows


def _cgm(rng: random.Random, n: int) -> list[list[str]]:
    return [[f"S{rng.randrange(n)}", f"2024-02-2{rng.randint(0, 8)} {rng.randint(10, 23)}:{rng.choice(['00', '15'])}:00",
             str(rng.choice([70, 100, 180, 250]))] for _ in range(rng.randint(1, 40))]


def _write_csv(path: Path, header: str, rows: list[list[str]], encoding: str = "utf-8") -> None:
    path.write_bytes((header + "".join(",".join(r) + "\n" for r in rows)).encode(encoding))


# text a spreadsheet saves in a Windows code page or as "Unicode Text": no engine may read it as if it were UTF-8
NOT_UTF8 = ["cp1252", "latin-1", "utf-16", "utf-32"]


@dataclass
class DataCase:
    path: Path
    kind: str | None
    subjects: int          # subject rows written (a successful load must keep them all)
    table_like: bool       # False: a file that is not a table (its contents must never be shown)
    must_report: tuple[str, ...] = ()   # if it loads, each of these must appear in the load report
    must_fail: bool = False             # it must not load (a table not in UTF-8, a date that is no date)
    # text in a number cell: refused with on_invalid="raise"; "reject" must list it in the report as unknown
    text_in_numbers: bool = False
    what: str = ""  # the mutation, named in a defect's detail


def data_case(rng: random.Random, folder: Path, n: int, cells: list[str] = CELLS) -> DataCase:
    """One generated canonical folder (mutated cells, duplicates, columns) or one broken file."""
    kind = rng.choice(["cells", "cells", "cells", "duplicates", "columns", "whole_file", "whole_file", "encoding",
                       "format", "format", "format"])
    if kind == "whole_file":
        name = rng.choice(["data.csv", "data.parquet", "data.xlsx", "data.zip", "shadow", "data.txt"])
        path = folder / f"case{n}_{name}"
        content = rng.choice([
            b"PK\x03\x04" + rng.randbytes(rng.randint(0, 200)), b"PK" + rng.randbytes(50), b"PAR1" + rng.randbytes(80),
            b"", b"\n\n", rng.randbytes(200), f"root:{SECRET}:19000:0:99999:7:::\nbin:*:1:1\n".encode(),
            f"{SECRET},{SECRET}2\n".encode(), b"\xef\xbb\xbf" + rng.randbytes(40),
        ])
        path.write_bytes(content)
        return DataCase(path, rng.choice([None, "cgm", "canonical"]), 0, False)
    target = folder / f"case{n}"
    target.mkdir()
    n_subjects = rng.randint(1, 6)
    subjects, measurements, cgm = _subjects(rng, n_subjects), _measurements(rng, n_subjects), _cgm(rng, n_subjects)
    must_report: list[str] = []
    must_fail = text_in_numbers = False
    if kind == "format":
        return format_case(rng, target, subjects, measurements, cgm)
    if kind == "cells":
        for _ in range(rng.randint(1, 4)):
            table = rng.choice([subjects, measurements, cgm])
            row = rng.choice(table)
            column, cell = rng.randrange(len(row)), rng.choice(cells)
            row[column] = cell
            text_in_numbers |= table is measurements and column == 3 and cell in ("\uff17.\uff15", "\u0661\u0662")
            must_fail |= table is cgm and column == 2 and cell in ("\uff17.\uff15", "\u0661\u0662")
            if table is measurements and column == 1 and cell in ("2024-03", "2024"):
                must_report.append("partial date")
    elif kind == "duplicates":
        table = rng.choice([measurements, cgm])
        row = list(rng.choice(table))
        if rng.random() < 0.6:
            column = 3 if table is measurements else 2
            row[column] = str(float(row[column]) + 10)  # a different value at the same time
            if table is measurements:
                must_report.append("share subject")
        table.append(row)
        if rng.random() < 0.2:
            subjects.append(list(subjects[0]))
    header_s, header_m = SUBJECTS, "subject_id,time,variable,value,unit,ref_low,ref_high\n"
    header_c = "subject_id,time,glucose\n"
    if kind == "columns":
        header_s, header_m, header_c = (h.replace(rng.choice(h.strip().split(",")), rng.choice(["", "x", "Subject_ID"]), 1)
                                        if rng.random() < 0.5 else h for h in (header_s, header_m, header_c))
    encodings = {"subjects": "utf-8", "measurements": "utf-8", "cgm": "utf-8"}
    if kind == "encoding":
        # one table saved in another encoding, with a character that is not ASCII in one of its cells
        table, encoding = rng.choice(list(encodings)), rng.choice(NOT_UTF8)
        rows = {"subjects": subjects, "measurements": measurements, "cgm": cgm}[table]
        row = rng.choice(rows)
        column = rng.randrange(len(row))
        row[column] = rng.choice(["\u00b5mol/L", "M\u00e4nnlich", "f\u00e9minin", row[column] + "\u00b0"])
        encodings[table] = encoding
        must_fail = True
    _write_csv(target / "subjects.csv", header_s, subjects, encodings["subjects"])
    _write_csv(target / "measurements.csv", header_m, measurements, encodings["measurements"])
    _write_csv(target / "cgm.csv", header_c, cgm, encodings["cgm"])
    return DataCase(target, None, len(subjects), True, tuple(must_report), must_fail, text_in_numbers)


HEADER_S, HEADER_M, HEADER_C = (SUBJECTS.strip().split(","), ["subject_id", "time", "variable", "value", "unit",
                                "ref_low", "ref_high"], ["subject_id", "time", "glucose"])
FORMATS = ("parquet", "xlsx", "bom", "semicolon", "decimal_comma", "truncated", "huge", "mixed_dates",
           "repeated_id", "drop_column", "rename_column", "repeat_column", "special_numbers")


def format_case(rng: random.Random, target: Path, subjects, measurements, cgm) -> DataCase:
    """A canonical folder with one mutation of FORMATS: the tables' format or layout, or cells of a kind."""
    import pandas as pd

    mutation = rng.choice(FORMATS)
    tables = {"subjects": (HEADER_S, subjects), "measurements": (HEADER_M, measurements), "cgm": (HEADER_C, cgm)}
    must_fail = text_in_numbers = False
    if mutation == "special_numbers":
        for row in rng.sample(measurements, min(len(measurements), rng.randint(1, 3))):
            row[3] = rng.choice(["NaN", "inf", "-inf", "1e308", "-0", "1e-320", "+0.0"])
            text_in_numbers |= row[3] in ("inf", "-inf")
    elif mutation == "decimal_comma":
        row = rng.choice(measurements)
        row[3] = row[3].replace(".", ",") if "." in row[3] else row[3] + ",5"
        text_in_numbers = True
    elif mutation == "mixed_dates":
        rng.choice(subjects)[4] = rng.choice(["03/01/2024", "1 March 2024", "01.03.2024", "2024-3-1 noon"])
        must_fail = True
    elif mutation == "repeated_id":
        subjects.append([subjects[0][0]] + subjects[-1][1:])
        must_fail = True
    elif mutation == "huge":
        header, rows = tables[rng.choice(list(tables))]
        row = rng.choice(rows)
        row[rng.randrange(len(row))] = rng.choice(["x", "9", "\u00e9", " "]) * 200_000
    files = {}
    for name, (header, rows) in tables.items():
        header = list(header)
        if mutation == "drop_column" and rng.random() < 0.5:
            gone = rng.randrange(len(header))
            header, rows = header[:gone] + header[gone + 1:], [r[:gone] + r[gone + 1:] for r in rows]
        elif mutation == "rename_column" and rng.random() < 0.5:
            header[rng.randrange(len(header))] = rng.choice(["Subject ID", "VALUE", "zeit", "", "subject_id "])
        elif mutation == "repeat_column" and rng.random() < 0.5:
            where = rng.randrange(len(header))
            header, rows = header + [header[where]], [r + [r[where]] for r in rows]
        files[name] = (header, rows)
    if mutation == "xlsx":
        # a spreadsheet of subjects, read through a wide mapping that names its columns
        header, rows = files["subjects"]
        pd.DataFrame(rows, columns=header).to_excel(target / "subjects.xlsx", index=False)
        mapping = target / "mapping.yaml"
        mapping.write_text("file: subjects.xlsx\nsubject_id: subject_id\nindex_date: index_date\nsex: sex\n"
                           "birth_date: birth_date\ncolumns:\n  diabetes_type: {variable: diabetes_type}\n"
                           "  hiv_positive: {variable: hiv_positive}\nignore: [diagnosis_date]\n")
        return DataCase(mapping, "wide", len(subjects), True, (), must_fail, text_in_numbers, mutation)
    for name, (header, rows) in files.items():
        if mutation == "parquet" and len(set(header)) == len(header):
            typed = pd.DataFrame(rows, columns=header)
            for column in typed.columns:
                numbers = pd.to_numeric(typed[column], errors="coerce")
                if numbers.notna().all() and rng.random() < 0.7:
                    typed[column] = numbers  # a typed column, as an export writes it
            typed.to_parquet(target / f"{name}.parquet", index=False)
            continue
        sep = ";" if mutation == "semicolon" else ","
        text = sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows)
        data = text.encode("utf-8")
        if mutation == "bom":
            data = b"\xef\xbb\xbf" + data
        if mutation == "truncated" and name == rng.choice(list(files)):
            data = data[: rng.randint(1, max(1, len(data) - 1))]
        (target / f"{name}.csv").write_bytes(data)
    return DataCase(target, None, len(subjects), True, (), must_fail, text_in_numbers, mutation)


# --- screening folders with event tables ----------------------------------------------------------

# cells of the event tables: (column, cell, whether a folder holding it must be refused)
EVENT_CELLS = {
    ("events", "subject_id"): [("ghost", True), ("", True), (" ", True), ("S0", False)],
    ("events", "event"): [("severe_hypo", True), ("", True), ("hba1c", True), ("Severe_Hypoglycemia", True),
                          ("trial_participation", False)],
    ("events", "days_before_index"): [("2024-03", True), ("2024-03-01", True), ("-1", True), ("inf", True),
                                      ("", True), ("ten", True), ("1e999", True), ("nan", True),
                                      ("\uff17", True), ("0", False), ("3.5", False), ("365", False)],
    ("events", "severity"): [("1.5", True), ("-1", True), ("high", True), ("", False), ("3", False)],
    ("event_lookback", "severe_hypoglycemia"): [("-1", True), ("inf", True), ("forever", True), ("", False),
                                                ("0", False), ("730", False)],
    ("event_counts", "severe_hypoglycemia@365"): [("1.5", True), ("-1", True), ("two", True), ("", False),
                                                  ("2", False)],
}


@dataclass
class ScreeningCase:
    path: Path
    fmt: str
    must_fail: bool
    what: str


def screening_case(rng: random.Random, folder: Path, n: int) -> ScreeningCase:
    """A small screening folder (CSV or Parquet) whose event tables carry one generated mutation."""
    import pandas as pd

    target = folder / f"case{n}"
    target.mkdir()
    ids = [f"S{i}" for i in range(rng.randint(1, 6))]
    tables = {
        "features": pd.DataFrame({"subject_id": ids, "age": [str(rng.randint(18, 80)) for _ in ids],
                                  "hba1c": [rng.choice(["", "7.5", "9.1"]) for _ in ids]}),
        "events": pd.DataFrame([{"subject_id": rng.choice(ids), "event": "severe_hypoglycemia",
                                 "days_before_index": str(rng.randint(0, 400)), "severity": rng.choice(["", "3"])}
                                for _ in range(rng.randint(1, 6))]),
        "event_lookback": pd.DataFrame({"subject_id": ids, "severe_hypoglycemia": ["365"] * len(ids)}),
        "event_counts": pd.DataFrame({"subject_id": ids, "severe_hypoglycemia@365": ["1"] * len(ids)}),
    }
    kind = rng.choice(["cell", "cell", "cell", "duplicate", "column", "encoding"])
    must_fail, what = False, kind
    if kind == "cell":
        (table, column), = rng.sample(list(EVENT_CELLS), 1)
        cell, must_fail = rng.choice(EVENT_CELLS[(table, column)])
        tables[table].loc[rng.randrange(len(tables[table])), column] = cell
        what = f"{table}.{column}={cell!r}"
    elif kind == "duplicate":  # an identical event row is a second event; a subject twice per subject is not
        table = rng.choice(["events", "event_lookback"])
        tables[table] = pd.concat([tables[table], tables[table].iloc[:1]], ignore_index=True)
        must_fail, what = table != "events", f"{table} row repeated"
    else:
        table = rng.choice(["events", "event_lookback", "event_counts"])
        old = rng.choice([c for c in tables[table].columns if c != "subject_id"])
        new = rng.choice(["date", "hypos", "severe_hypoglycemia@year", "Severe_Hypoglycemia"])
        tables[table] = tables[table].rename(columns={old: new})
        must_fail, what = True, f"{table}.{old} renamed {new}"
    fmt = rng.choice(["csv", "csv", "parquet"])
    encoded = None
    if kind == "encoding":  # one CSV table saved in a code page or UTF-16, a subject id not ASCII
        fmt, encoded = "csv", (rng.choice(list(tables)), rng.choice(NOT_UTF8))
        tables[encoded[0]].loc[0, "subject_id"] = ids[0] + "\u00e9"
        tables["features"].loc[0, "subject_id"] = ids[0] + "\u00e9"
        must_fail, what = True, f"{encoded[0]} saved as {encoded[1]}"
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(target / f"{name}.csv", index=False,
                         encoding=encoded[1] if encoded and encoded[0] == name else "utf-8")
        else:  # a column of numbers where every cell is one, else text, as an exporter would write it
            for col in frame.columns:
                numbers = pd.to_numeric(frame[col], errors="coerce")
                if col != "subject_id" and not (numbers.isna() & (frame[col] != "")).any():
                    frame[col] = numbers
            frame.to_parquet(target / f"{name}.parquet", index=False)
    return ScreeningCase(target, fmt, must_fail, what)


def run_screening(case: ScreeningCase, limit: float) -> tuple[str, str]:
    """Both engines read the folder: both evaluate it, or both refuse it with a clear error."""
    from explorer.engine import evaluate
    from explorer.trial import load_trial
    trial = load_trial("NCT06196996")
    outcomes = []
    for engine in ("memory", "duckdb"):
        try:
            with time_limit(limit):
                evaluate(trial, case.path, engine=engine)
            outcomes.append(("loaded", ""))
        except BaseException as err:  # noqa: BLE001
            if isinstance(err, KeyboardInterrupt):
                raise
            outcomes.append((classify_error(err, case.path, True), f"{type(err).__name__}: {str(err)[:160]}"))
    (memory, detail), (duck, duck_detail) = outcomes
    if (memory == "loaded") != (duck == "loaded"):
        return "disagree", f"{case.what} ({case.fmt}): memory {memory} {detail}, duckdb {duck} {duck_detail}"
    if memory == "loaded" and case.must_fail:
        return "silent_accept", f"{case.what} ({case.fmt}) was evaluated without a word"
    if memory != "clear_error" and memory != "loaded":
        return memory, f"{case.what} ({case.fmt}): {detail}"
    return duck, f"{case.what} ({case.fmt}): {duck_detail}"


# --- running ---------------------------------------------------------------------------------------

def _engine_fuzz():
    """tests/engine_fuzz.py, loaded by path as scripts/fuzz_engine.py does: its SIGALRM time limit is the
    one both fuzzers use, so a hang is defined in one place."""
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location("engine_fuzz", Path(__file__).resolve().parent.parent
                                                  / "tests" / "engine_fuzz.py")
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


_FUZZ = _engine_fuzz()
time_limit = _FUZZ.time_limit
_Timeout = _FUZZ.Hang


def classify_error(err: BaseException, path: Path, table_like: bool) -> str:
    from explorer.errors import ExplorerError
    if isinstance(err, _Timeout):
        return "hang"
    if not isinstance(err, ExplorerError):
        return "raw_exception"
    message = str(err)
    if SECRET in message and not table_like:
        return "echo"
    if path.name not in message:
        return "unlocated"
    column = getattr(err, "column", None)
    if column and str(column)[:40] not in message:
        return "unlocated"
    return "clear_error"


def inconsistent(cohort) -> str:
    """Why a loaded cohort's screening is not three-valued and consistent, or "" (the bundled trial on it)."""
    import numpy as np

    from explorer.cohort.features import screening_features
    from explorer.engine import evaluate, final_counts
    from explorer.trial import load_trial

    trial = load_trial("NCT06196996")
    matrix = evaluate(trial, screening_features(cohort, catalogue=trial.catalogue))
    codes = matrix.codes
    if not np.isin(codes, (0, 1, 2, 3)).all():
        return f"statuses outside pass/fail/unknown/assumed: {sorted(set(np.unique(codes)) - {0, 1, 2, 3})}"
    counts = final_counts(matrix)
    if counts["screened"] != len(cohort.subjects) or \
            counts["eligible"] + counts["possibly_eligible"] + counts["excluded"] != counts["screened"]:
        return f"final counts do not add up: {counts} for {len(cohort.subjects)} subjects"
    return ""


def run_trial(path: Path, limit: float, must_refuse: bool = False) -> tuple[str, str]:
    from explorer.trial import load_trial
    try:
        with time_limit(limit):
            load_trial(path)
        return ("silent_accept", "a duplicate key or an alias was accepted") if must_refuse else ("loaded", "")
    except BaseException as err:  # noqa: BLE001 - sorting every outcome is the point
        if isinstance(err, KeyboardInterrupt):
            raise
        return classify_error(err, path, True), f"{type(err).__name__}: {str(err)[:160]}"


def run_data(case: DataCase, limit: float) -> tuple[str, str]:
    from explorer.cohort.loaders import load
    try:
        with time_limit(limit):
            options = {"on_invalid": "reject"} if case.table_like and random.random() < 0.5 else {}
            cohort, report = load(case.path, kind=case.kind, **options)
        if not report.balanced():
            return "silent_drop", f"unbalanced report: {report.summary()[:200]}"
        if case.table_like and len(cohort.subjects) != case.subjects:
            return "silent_drop", f"{case.subjects} subjects written, {len(cohort.subjects)} loaded, no error"
        if case.must_fail:
            return "silent_accept", f"{case.what}: a table not in UTF-8, or a bad date or id, loaded without a word"
        summary = report.summary()
        if case.text_in_numbers and "on_invalid" not in options:
            return "silent_accept", "text in a number cell loaded with on_invalid='raise'"
        if case.text_in_numbers and "in a numeric column -> unknown" not in summary:
            return "silent_accept", "text in a number cell made unknown without a line in the load report"
        problem = inconsistent(cohort)
        if problem:
            return "inconsistent", problem
        for expected in case.must_report:
            if expected not in summary:
                return "silent_accept", f"{expected!r} is not in the load report"
        return "loaded", ""
    except BaseException as err:  # noqa: BLE001
        if isinstance(err, KeyboardInterrupt):
            raise
        return (classify_error(err, case.path, case.table_like),
                f"{case.what + ': ' if case.what else ''}{type(err).__name__}: {str(err)[:160]}")


def fuzz(seed: int, *, cases: int | None = None, seconds: float | None = None, limit: float = 5.0,
         folder: Path | None = None, without_cells: tuple[str, ...] = ()) -> tuple[Counter, list[tuple[str, str, str]]]:
    """Run generated cases (trial files, data files and screening folders in turn) until `cases` or
    `seconds` is reached.

    `without_cells` leaves cell texts out of the generated data (a defect being fixed elsewhere).
    Returns counts per "trial:<class>" / "data:<class>" / "screening:<class>" and the defects (kind, class, detail).
    """
    cells = [c for c in CELLS if c not in without_cells]
    rng = random.Random(seed)
    random.seed(seed)  # run_data's choice of on_invalid
    counts: Counter = Counter()
    defects: list[tuple[str, str, str]] = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        root = Path(tmp)
        n = 0
        while (cases is None or n < cases) and (seconds is None or time.monotonic() - start < seconds):
            if n % 3 == 0:
                path, must_refuse = trial_case(rng, root, n)
                outcome, detail = run_trial(path, limit, must_refuse)
                where = "trial"
            elif n % 3 == 1:
                case = data_case(rng, root, n, cells)
                outcome, detail = run_data(case, limit)
                where = "data"
            else:
                outcome, detail = run_screening(screening_case(rng, root, n), limit)
                where = "screening"
            counts[f"{where}:{outcome}"] += 1
            if outcome in DEFECTS:
                defects.append((where, outcome, detail))
            n += 1
    return counts, defects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="stop after this long (default 120)")
    parser.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=10.0, help="seconds one case may take (default 10)")
    args = parser.parse_args()
    counts, defects = fuzz(args.seed, cases=args.cases, seconds=None if args.cases else args.seconds,
                           limit=args.limit)
    files = {w: sum(n for k, n in counts.items() if k.startswith(w + ":")) for w in ("trial", "data", "screening")}
    print(f"files: {files['trial']} trial files, {files['data']} data files, {files['screening']} screening "
          f"folders (seed {args.seed})")
    for key in sorted(counts):
        print(f"  {key:28s} {counts[key]}")
    by_class = Counter((w, c) for w, c, _ in defects)
    print(f"defects: {len(defects)}" + "".join(f"\n  {w}:{c} {n}" for (w, c), n in sorted(by_class.items())))
    shown: set[str] = set()
    for where, outcome, detail in defects:
        key = f"{where}:{outcome}:{detail.split(':')[0]}"
        if key not in shown:
            shown.add(key)
            print(f"  e.g. {where} {outcome}: {detail}")


if __name__ == "__main__":
    main()
