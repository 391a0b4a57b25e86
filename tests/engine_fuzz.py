"""Seeded fuzz cases for the engines: random rules over hostile data, run by both engines and classified.

A case is a random expression (of any depth, with extreme numbers) and a random cohort (extreme values,
NaN / inf, CSV-typed booleans, out-of-range and misspelled values, columns whose names collide with
what SQL engines use), handed to both engines as a Screening, a Parquet folder or a CSV folder. Its
outcome is one class:

    agree              both engines give the same matrix for the same subjects
    refused_definition the trial is refused with a project error (a type error, a limit, a reserved name)
    refused_alike      both engines refuse the data with a project error
    disagree           different statuses, or one engine refuses what the other evaluates
    silent_drop        a matrix whose subjects are not the cohort's
    raw_exception      anything that is not a project error (IndexError, duckdb.Error, RecursionError...)
    warning            a result, but NumPy or pandas warned (it would reach the user's stderr)
    hang               a case ran longer than its time limit
    exhaustion         a case ran out of memory (MemoryError, or DuckDB's out-of-memory error)

tests/engine/test_fuzz.py runs a bounded number of cases and fails on any of the last five classes;
scripts/fuzz_engine.py runs as many as asked and prints the counts. Only the public API is used, so
the script can measure an older version of the package too.
"""

from __future__ import annotations

import random
import signal
import tempfile
import traceback
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.cohort.screening import Screening, empty_events
from explorer.engine import evaluate, write_screening
from explorer.errors import ExplorerError
from explorer.trial import trial_from_dict

BAD = ("disagree", "silent_drop", "raw_exception", "warning", "hang", "exhaustion")

NUMBERS = {"hba1c": (4, 14), "alt": (5, 150), "alt_uln": (30, 60), "ast": (5, 150), "bmi": (15, 45),
           "age": (4, 80), "tir": (0, 100)}
GROUPS = (("alt", "alt_uln", "ast"), ("hba1c",), ("bmi",), ("age",), ("tir",))  # one unit each
BOOLEANS = ("pregnant", "lactating")
CATEGORIES = {"sex": ("female", "male"), "diabetes_type": ("T1D", "T2D", "other", "none")}
# trial variables whose names SQL engines (or our own generated SQL) once used
COLLIDING = ("rowid", "file_row_number", "__row", "subject_id", "Age", "filename")
EXTREME = (0.0, -0.0, 1e300, -1e300, 1e-300, 1e308, float("inf"), float("-inf"), float("nan"))
CSV_BOOLEANS = ("true", "false", "TRUE", "False", "1", "0", "T", "yes", "", " true")


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """SIGALRM after `seconds` (Unix, main thread): a hang becomes an outcome instead of a stuck run."""
    def expired(signum, frame):
        raise Hang()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Case:
    seed: int
    expression: str
    variables: dict
    source: str  # "screening" | "parquet" | "csv"
    screening: Screening | None = None
    csv_features: pd.DataFrame | None = None


class Generator:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.extra: dict[str, dict] = {}

    def literal(self) -> str:
        r = self.rng.random()
        if r < 0.15:
            return repr(self.rng.choice([1e300, 1e-300, 1e308, 0.0, 1e200]))
        return str(round(self.rng.uniform(-5, 200), self.rng.choice([0, 1, 2])))

    def number(self, depth: int, group: tuple[str, ...]) -> str:
        """A number expression in the unit of `group` (variables sharing one unit), so most rules type-check."""
        r = self.rng.random()
        if depth <= 0 or r < 0.3:
            return self.rng.choice(group)
        if r < 0.45:
            op = self.rng.choice("+-")
            return f"({self.number(depth - 1, group)} {op} {self.number(depth - 1, group)})"
        if r < 0.55:  # a ratio of the same unit times a value keeps the unit; the divisor may be 0 or inf
            return f"(({self.number(depth - 1, group)} / {self.number(depth - 1, group)}) * {self.rng.choice(group)})"
        if r < 0.62:
            return f"-{self.number(depth - 1, group)}"
        if r < 0.7:
            return f"abs({self.number(depth - 1, group)})"
        if r < 0.85:
            args = ", ".join(self.number(depth - 1, group) for _ in range(self.rng.randint(2, 3)))
            return f"{self.rng.choice(['min', 'max'])}({args})"
        return f"({self.number(depth - 1, group)} * {self.literal()})"

    def condition(self, depth: int) -> str:
        r = self.rng.random()
        if depth <= 0 or r < 0.35:
            return self.atom(depth)
        if r < 0.5:
            return f"not ({self.condition(depth - 1)})"
        op = self.rng.choice(["and", "or"])
        return f"({self.condition(depth - 1)} {op} {self.condition(depth - 1)})"

    def atom(self, depth: int) -> str:
        r = self.rng.random()
        if r < 0.15:
            return self.rng.choice(BOOLEANS)
        if r < 0.25:
            name = self.rng.choice(list(CATEGORIES))
            value = self.rng.choice(CATEGORIES[name])
            return f'{name} == "{value}"' if self.rng.random() < 0.5 else f'{name} in ("{value}")'
        group = self.rng.choice(GROUPS + ((tuple(self.extra),) if self.extra else ()))
        if r < 0.3:
            return f"known({self.number(depth, group)})"
        op = self.rng.choice(["<", "<=", ">", ">=", "==", "!="])
        if r < 0.35:
            return f"count(severe_hypoglycemia, within_days={self.rng.choice([30, 91, 365])}) {op} {self.rng.randint(0, 3)}"
        # arithmetic on both sides: a bare variable against a literal must be plausible (checked), this need not
        return f"({self.number(depth, group)}) {op} ({self.number(depth, group)} * {self.literal()})"

    def deep(self) -> str:
        kind = self.rng.choice(["not", "neg", "paren", "minmax"])
        n = self.rng.choice([10, 40, 63, 65, 120, 350, 480, 1500])
        if kind == "not":
            return "not " * n + "pregnant"
        if kind == "neg":
            return "-" * n + "hba1c < 0"
        if kind == "paren":
            return "(" * n + "hba1c > 7" + ")" * n
        text = "alt"
        for i in range(min(n, 40)):
            text = f"{'min' if i % 2 else 'max'}({text} / alt_uln * ast, ast)"
        return f"{text} >= 2"

    def expression(self) -> str:
        if self.rng.random() < 0.08:
            return self.deep()
        return self.condition(self.rng.choice([0, 1, 2, 3, 4, 6]))


def _number_column(rng: random.Random, name: str, n: int, hostile: float) -> list:
    low, high = NUMBERS.get(name, (0, 100))
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            out.append(None)
        elif r < 0.1 + hostile:
            out.append(rng.choice(EXTREME))
        else:
            out.append(round(rng.uniform(low, high), 1))
    return out


def make_case(seed: int) -> Case:
    rng = random.Random(seed)
    gen = Generator(rng)
    variables = {}
    if rng.random() < 0.25:
        name = rng.choice(COLLIDING)
        variables[name] = {"kind": "number", "unit": "1"}
        gen.extra[name] = variables[name]
    expression = gen.expression()
    source = rng.choice(["screening", "screening", "parquet", "csv"])
    n = rng.randint(1, 12)
    ids = [f"s{i}" for i in range(n)]
    hostile = rng.choice([0.0, 0.0, 0.05, 0.2])  # share of extreme or malformed values in this cohort
    columns: dict[str, list] = {}
    for name in rng.sample(list(NUMBERS), rng.randint(1, len(NUMBERS))):
        columns[name] = _number_column(rng, name, n, hostile)
    for name in variables:
        columns[name] = [float(rng.choice([0, 1, i])) for i in range(n)]
    for name in BOOLEANS:
        columns[name] = [rng.choice([True, False, None]) for _ in range(n)]
    for name, cats in CATEGORIES.items():
        columns[name] = [cats[0].lower() if rng.random() < hostile else rng.choice([*cats, None]) for _ in range(n)]
    index = pd.Index(ids, name="subject_id", dtype="string")
    if source == "csv":
        frame = pd.DataFrame({"subject_id": ids})
        for name, values in columns.items():
            if name in BOOLEANS:
                frame[name] = [rng.choice(CSV_BOOLEANS if rng.random() < hostile else CSV_BOOLEANS[:6])
                               for _ in range(n)]
            else:
                frame[name] = ["" if v is None else str(v) for v in values]
        if rng.random() < hostile:
            frame.loc[len(frame) - 1, "subject_id"] = rng.choice(["s0", "", " "])
        return Case(seed, expression, variables, source, csv_features=frame)
    features = pd.DataFrame(index=index)
    for name, values in columns.items():
        if name in BOOLEANS:
            features[name] = pd.array(values, dtype="boolean")
        elif name in CATEGORIES:
            features[name] = pd.array(values, dtype="string")
        else:
            features[name] = np.array([np.nan if v is None else v for v in values], dtype="float64")
    events = pd.DataFrame({
        "subject_id": pd.array([rng.choice(ids) for _ in range(n)], dtype="string"),
        "event": pd.array(["severe_hypoglycemia"] * n, dtype="string"),
        "days_before_index": [float(rng.randint(0, 400)) for _ in range(n)],
        "severity": pd.array([None] * n, dtype="Int64"),
    }) if rng.random() < 0.7 else empty_events()
    lookback = pd.DataFrame({"severe_hypoglycemia": [rng.choice([30.0, 365.0, 1000.0, np.nan]) for _ in range(n)]},
                            index=index)
    if rng.random() < hostile:  # a subject twice in a per-subject table
        lookback = pd.concat([lookback, lookback.iloc[:1].assign(severe_hypoglycemia=5.0)])
    return Case(seed, expression, variables, source, screening=Screening(features, events, lookback))


def _matrix(trial, source, engine: str):
    m = evaluate(trial, source, engine=engine)
    return [str(s) for s in m.subject_ids], np.stack(m.columns) if m.columns else np.zeros((0, len(m.subject_ids)))


def run_case(case: Case, workdir: Path, seconds: float = 20.0) -> tuple[str, str]:
    """(outcome class, detail) of one case."""
    try:
        with time_limit(seconds), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                trial = trial_from_dict({"id": "FUZZ", "title": "fuzz", "variables": case.variables,
                                         "criteria": [{"id": "C1", "kind": "inclusion", "text": "rule",
                                                       "expression": case.expression}]})
            except ExplorerError as err:
                return "refused_definition", type(err).__name__
            folder = workdir / f"case{case.seed}"
            if case.source == "csv":
                folder.mkdir(parents=True, exist_ok=True)
                case.csv_features.to_csv(folder / "features.csv", index=False)
                source, expected = folder, None
            elif case.source == "parquet":
                try:
                    write_screening(case.screening, folder)
                except ExplorerError as err:  # e.g. a column named like the key: refused before any engine
                    return "refused_alike", type(err).__name__
                source, expected = folder, [str(s) for s in case.screening.features.index]
            else:
                source, expected = case.screening, [str(s) for s in case.screening.features.index]
            results = {}
            for engine in ("memory", "duckdb"):
                try:
                    results[engine] = _matrix(trial, source, engine)
                except ExplorerError as err:
                    results[engine] = err
            errors = [isinstance(r, ExplorerError) for r in results.values()]
            if all(errors):
                return "refused_alike", type(results["memory"]).__name__
            if any(errors):
                refused = [e for e, r in results.items() if isinstance(r, ExplorerError)][0]
                return "disagree", f"only {refused} refused: {' '.join(str(results[refused]).split())[:160]}"
            (ids_m, codes_m), (ids_d, codes_d) = results["memory"], results["duckdb"]
            if expected is not None and (ids_m != expected or ids_d != expected):
                return "silent_drop", f"{len(expected)} subjects, memory {len(ids_m)}, duckdb {len(ids_d)}"
            if ids_m != ids_d or not np.array_equal(codes_m, codes_d):
                return "disagree", f"memory {codes_m.tolist()} duckdb {codes_d.tolist()}"
            leaked = [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))]
            if leaked:
                return "warning", str(leaked[0].message)[:120]
            return "agree", ""
    except Hang:
        return "hang", f"over {seconds} s"
    except MemoryError:
        return "exhaustion", "MemoryError"
    except Exception as err:  # noqa: BLE001 - classifying every raw exception is the point
        if "out of memory" in str(err).lower() or "OutOfMemory" in type(err).__name__:
            return "exhaustion", f"{type(err).__name__}: {str(err)[:120]}"
        frame = traceback.extract_tb(err.__traceback__)[-1]
        return "raw_exception", f"{type(err).__name__} at {Path(frame.filename).name}:{frame.lineno}: {str(err)[:120]}"


def run(seeds, *, seconds: float = 20.0, on_case=None) -> Counter:
    """Run the cases of these seeds; `on_case(case, outcome, detail)` sees each one."""
    counts: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="trial-explorer-fuzz-") as tmp:
        for seed in seeds:
            case = make_case(seed)
            outcome, detail = run_case(case, Path(tmp), seconds)
            counts[outcome] += 1
            if on_case is not None:
                on_case(case, outcome, detail)
    return counts
