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
    silent_accept      an event table with a planted defect (EVENT_DEFECTS) evaluated without a word
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

BAD = ("disagree", "silent_drop", "silent_accept", "raw_exception", "warning", "hang", "exhaustion")

NUMBERS = {"hba1c": (4, 14), "alt": (5, 150), "alt_uln": (30, 60), "ast": (5, 150), "bmi": (15, 45),
           "age": (4, 80), "tir": (0, 100)}
GROUPS = (("alt", "alt_uln", "ast"), ("hba1c",), ("bmi",), ("age",), ("tir",))  # one unit each
BOOLEANS = ("pregnant", "lactating")
CATEGORIES = {"sex": ("female", "male"), "diabetes_type": ("T1D", "T2D", "other", "none")}
# trial variables whose names SQL engines (or our own generated SQL) once used
COLLIDING = ("rowid", "file_row_number", "__row", "subject_id", "Age", "filename")
EXTREME = (0.0, -0.0, 1e300, -1e300, 1e-300, 1e308, float("inf"), float("-inf"), float("nan"))
CSV_BOOLEANS = ("true", "false", "TRUE", "False", "1", "0", "T", "yes", "", " true")
# what an events table may get wrong (explorer.cohort.checks): each must be refused alike by both engines
EVENT_DEFECTS = ("ghost subject", "blank subject", "unknown event", "negative days", "missing days",
                 "infinite days", "fractional severity", "negative lookback", "lookback ghost",
                 "fractional count", "count column")
CSV_DAYS = ("2024-03", "2024-03-01", "ten", "1e999", " ", "3,5")  # text a days column must not read as days


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
    csv_events: pd.DataFrame | None = None
    event_defect: str = ""  # one of EVENT_DEFECTS planted in the event tables, or none


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
    defect = rng.choice(EVENT_DEFECTS) if rng.random() < max(hostile, 0.1) else ""
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
        events = _csv_events(rng, ids, defect)
        return Case(seed, expression, variables, source, csv_features=frame, csv_events=events, event_defect=defect)
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
    counts = pd.DataFrame({"severe_hypoglycemia@365": [float(rng.randint(0, 3)) for _ in range(n)]}, index=index) \
        if rng.random() < 0.3 or defect in ("fractional count", "count column") else None
    events, lookback, counts = _plant(rng, defect, events, lookback, counts)
    if source == "screening" and rng.random() < hostile:  # right values, not the dtype the engines read
        name = rng.choice([c for c in features.columns if c in NUMBERS] or ["age"])
        features[name] = pd.array(np.round(features[name].fillna(30.0)).clip(0, 100).astype(int), dtype="Int64")
    return Case(seed, expression, variables, source, screening=Screening(features, events, lookback, counts),
                event_defect=defect)


def _plant(rng: random.Random, defect: str, events: pd.DataFrame, lookback: pd.DataFrame,
           counts: pd.DataFrame | None):
    """The event tables with `defect` planted in one row (typed values: a Screening or a Parquet folder)."""
    if defect in ("ghost subject", "blank subject", "unknown event", "negative days", "missing days",
                  "infinite days", "fractional severity"):
        if events.empty:
            events = pd.DataFrame({"subject_id": pd.array([lookback.index[0]], dtype="string"),
                                   "event": pd.array(["severe_hypoglycemia"], dtype="string"),
                                   "days_before_index": [3.0], "severity": pd.array([None], dtype="Int64")})
        events = events.copy()
        row = rng.randrange(len(events))
        if defect in ("ghost subject", "blank subject"):
            ids = events["subject_id"].astype(object)
            ids.iloc[row] = "ghost" if defect == "ghost subject" else rng.choice(["", " ", None])
            events["subject_id"] = pd.array(ids, dtype="string")
        elif defect == "unknown event":
            names = events["event"].astype(object)
            names.iloc[row] = rng.choice(["severe_hypo", "Severe_Hypoglycemia", "hba1c", None])
            events["event"] = pd.array(names, dtype="string")
        elif defect == "fractional severity":
            events["severity"] = events["severity"].astype("float64")
            events.loc[events.index[row], "severity"] = rng.choice([1.5, -1.0])
        else:
            value = {"negative days": -rng.choice([1.0, 0.5, 400.0]), "missing days": np.nan,
                     "infinite days": rng.choice([np.inf, -np.inf])}[defect]
            events.loc[events.index[row], "days_before_index"] = value
    elif defect == "negative lookback":
        lookback = lookback.copy()
        lookback.iloc[rng.randrange(len(lookback)), 0] = -rng.choice([1.0, 365.0])
    elif defect == "lookback ghost":
        lookback = pd.concat([lookback, pd.DataFrame({"severe_hypoglycemia": [365.0]},
                                                     index=pd.Index(["ghost"], name="subject_id", dtype="string"))])
    elif defect == "fractional count" and counts is not None:
        counts = counts.copy()
        counts.iloc[rng.randrange(len(counts)), 0] = rng.choice([0.5, -1.0, np.inf])
    elif defect == "count column" and counts is not None:
        counts = counts.rename(columns={"severe_hypoglycemia@365": rng.choice(["severe_hypoglycemia@year",
                                                                              "hypos@365", "severe_hypoglycemia"])})
    return events, lookback, counts


def _csv_events(rng: random.Random, ids: list[str], defect: str) -> pd.DataFrame | None:
    """An events.csv for a CSV folder (text cells), with `defect` (or a text day) planted in one row."""
    if rng.random() < 0.4 and not defect:
        return None
    rows = [{"subject_id": rng.choice(ids), "event": "severe_hypoglycemia",
             "days_before_index": str(rng.randint(0, 400)), "severity": rng.choice(["", "3"])}
            for _ in range(rng.randint(1, 6))]
    row = rng.choice(rows)
    planted = {"ghost subject": ("subject_id", "ghost"), "blank subject": ("subject_id", rng.choice(["", " "])),
               "unknown event": ("event", rng.choice(["severe_hypo", "", "SEVERE_HYPOGLYCEMIA"])),
               "negative days": ("days_before_index", "-1"), "missing days": ("days_before_index", ""),
               "infinite days": ("days_before_index", rng.choice(CSV_DAYS)),
               "fractional severity": ("severity", rng.choice(["1.5", "-1", "high"]))}.get(defect)
    if planted is not None:
        row[planted[0]] = planted[1]
    return pd.DataFrame(rows)


def _planted(case: Case) -> bool:
    """Whether the case's event defect reached what the engines read: a CSV folder has only an events
    file, and write_screening keeps event_lookback to the screened subjects (a ghost's row is not written)."""
    if not case.event_defect:
        return False
    if case.source == "csv":
        return case.event_defect in EVENT_DEFECTS[:7]
    return not (case.source == "parquet" and case.event_defect == "lookback ghost")


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
                if case.csv_events is not None:
                    case.csv_events.to_csv(folder / "events.csv", index=False)
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
            if _planted(case) and not any(errors):
                return "silent_accept", f"{case.event_defect} in the event tables was evaluated without a word"
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


# --- canonical folders through every path to a histogram --------------------------------------------------------

CANONICAL_BAD = ("disagree", "refused_one", "refused_otherwise", "raw_exception", "hang", "exhaustion")
CANONICAL_TRIALS = ("NCT06196996", "NCT01142050")


def _histograms(trials, screening, engine: str) -> list:
    """Both trials' status histograms, and the subjects per (variable, missing reason): why a value is unknown must
    agree on every path too (the Data tab's table), not only the statuses."""
    from explorer.engine.histogram import evaluate_histogram
    from explorer.engine.layout import read_screening

    out = []
    for trial in trials:
        h = evaluate_histogram(trial, screening, engine).histogram
        out.append(sorted(zip(map(tuple, h.patterns.tolist()), h.counts.tolist(), strict=True)))
    reasons = (screening if hasattr(screening, "missing_reasons") else read_screening(screening)).missing_reasons
    if reasons is not None and len(reasons):
        counts = reasons.astype(str).groupby(["variable", "reason"]).size()
        out.append(sorted(counts.items()))
    return out


def canonical_paths(folder: Path, out: Path, *, on_invalid: str, range_subjects: int, spark=None) -> dict:
    """{path name: function giving both bundled trials' status histograms} for every way a canonical folder
    reaches an engine: the pandas loader and derivation (memory), DuckDB in place, DuckDB range by range into a
    screening folder read in place (ranges of `range_subjects`, so ranges split the cohort), and Spark in place."""
    from explorer.cohort.features import screening_features
    from explorer.cohort.loaders import load_canonical
    from explorer.engine.canonical_sql import canonical_screening_folder, canonical_screening_sql
    from explorer.trial import load_trial

    trials = [load_trial(t) for t in CANONICAL_TRIALS]
    paths = {
        "memory": lambda: _histograms(trials, screening_features(load_canonical(folder, on_invalid=on_invalid).cohort),
                                      "memory"),
        "duckdb": lambda: _histograms(trials, canonical_screening_sql(folder, on_invalid=on_invalid)[0], "memory"),
        "duckdb_ranges": lambda: _histograms(trials, canonical_screening_folder(
            folder, out, on_invalid=on_invalid, range_subjects=range_subjects)[0], "duckdb"),
    }
    if spark is not None:
        paths["spark"] = lambda: _histograms(trials, canonical_screening_sql(folder, engine="spark", spark=spark,
                                                                             on_invalid=on_invalid)[0], "memory")
    return paths


def run_canonical_case(seed: int, workdir: Path, *, seconds: float = 60.0, spark=None) -> tuple[str, str]:
    """(outcome, detail) of one hostile canonical folder (random_cohort.write_hostile_canonical) on every path:

        agree               the same histograms for both bundled trials on every path
        refused_alike       every path refused it with a project error (`detail` the first path's message)
        refused_same_place  every path refused it naming the same file and column, in other words
        refused_otherwise   every path refused it, naming different places (`detail` each message)
        refused_one         some paths refused it, others evaluated it
        disagree            different histograms
        raw_exception / hang / exhaustion   as in run_case
    """
    from random_cohort import write_hostile_canonical

    rng = random.Random(seed)
    folder = write_hostile_canonical(workdir / f"canonical{seed}", seed)
    on_invalid = rng.choice(["raise", "reject"])
    paths = canonical_paths(folder, workdir / f"screening{seed}", on_invalid=on_invalid,
                            range_subjects=rng.choice([1, 2, 3]), spark=spark)
    results: dict[str, object] = {}
    try:
        with time_limit(seconds):
            for name, run_path in paths.items():
                try:
                    results[name] = run_path()
                except ExplorerError as err:
                    results[name] = err
    except Hang:
        return "hang", f"over {seconds} s"
    except MemoryError:
        return "exhaustion", "MemoryError"
    except Exception as err:  # noqa: BLE001 - classifying every raw exception is the point
        frame = traceback.extract_tb(err.__traceback__)[-1]
        return "raw_exception", (f"{name}: {type(err).__name__} at {Path(frame.filename).name}:{frame.lineno}: "
                                 f"{str(err)[:160]}")
    refused = {name: r for name, r in results.items() if isinstance(r, ExplorerError)}
    if len(refused) == len(results):
        messages = {name: str(r).split("\n")[0].replace(str(workdir), "") for name, r in refused.items()}
        if len(set(messages.values())) == 1:
            return "refused_alike", next(iter(messages.values()))[:200]
        # a loader lists every problem of a load in one error (its `places`); the SQL paths stop at the first
        places = [set(getattr(r, "places", ((getattr(r, "file", None), getattr(r, "column", None)),)))
                  for r in refused.values()]
        return "refused_same_place" if set.intersection(*places) else "refused_otherwise", " | ".join(
            f"{k}: {v[:160]}" for k, v in messages.items())
    if refused:
        return "refused_one", " | ".join(f"{k}: {str(v).split(chr(10))[0][:160]}" for k, v in refused.items())
    first = next(iter(results.values()))
    if any(r != first for r in results.values()):
        return "disagree", f"on_invalid={on_invalid}: " + ", ".join(
            name for name, r in results.items() if r != first)
    return "agree", ""


def run_canonical(seeds, *, seconds: float = 60.0, spark=None, on_case=None) -> Counter:
    """Run the hostile canonical cases of these seeds; `on_case(seed, outcome, detail)` sees each one."""
    counts: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="trial-explorer-hostile-") as tmp:
        for seed in seeds:
            outcome, detail = run_canonical_case(seed, Path(tmp), seconds=seconds, spark=spark)
            counts[outcome] += 1
            if on_case is not None:
                on_case(seed, outcome, detail)
    return counts
