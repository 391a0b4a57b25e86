"""Open a data source: a synthetic population, data the loaders read, or a screening folder -> screening.

Every front end (the command line, the dashboard, the outcome views) opens its subjects here, so a source
means the same subjects everywhere:

    opened = open_source(DataSource("synthetic", "t1d", 10_000, 0))    # drawn with the seed
    opened = open_source(DataSource("path", path="cohort/"))          # any source explorer.cohort.loaders reads
    opened = open_source(DataSource("path", path="screening/"))       # a screening folder (explorer.engine.layout)
    matrix = evaluate(trial, opened.screening)

Real data also gives its canonical tables (`opened.cohort`, with visits for the outcomes) and the load
report. A screening folder can be left on disk for an engine that reads it in place (`read_folder=False`).
This module sits below explorer.app and explorer.cli and above explorer.cohort and explorer.engine.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from explorer.catalogue import Catalogue
from explorer.clinical.populations import POPULATION_NAMES as POPULATIONS
from explorer.cohort.features import screening_features
from explorer.cohort.loaders import detect, load
from explorer.cohort.loaders.report import LoadReport
from explorer.cohort.screening import Screening
from explorer.cohort.tables import Cohort
from explorer.engine.layout import TABLES as SCREENING_TABLES
from explorer.engine.layout import read_screening
from explorer.errors import DataError, DefinitionError

MAX_SYNTHETIC = 10_000_000
ON_INVALID = ("raise", "reject")  # the loaders' choices (explorer.cohort.loaders.common.OnInvalid)
# Above this many subjects a canonical folder opened with --engine duckdb becomes a screening folder in the
# system's temp folder (removed at exit), written range by range, instead of a Screening in memory (features
# and missing reasons of 10^6 subjects take gigabytes of pandas; the folder keeps no missing reasons)
FOLDER_ABOVE = 1_000_000
# a synthetic population keeps why its values are unknown up to this size (14 MB at 10^5; 1.4 GB at 10^7)
SYNTHETIC_REASONS_UP_TO = 100_000
NOT_FOUND = ("no such file or folder; give the path of a data file or folder the loaders read "
             "(CSV/Parquet, SDTM, OMOP, CGM) or a screening folder")


@dataclass(frozen=True)
class DataSource:
    """Synthetic (population, n, seed) or a file/folder path the loaders read, and the engine that
    evaluates it: "memory" (every status in NumPy) or "duckdb" / "spark" (only the status histogram
    comes back; a screening folder is then read in place; `master` names a Spark cluster)."""

    kind: str = "synthetic"  # "synthetic" | "path"
    population: str = "t1d"
    n: int = 10_000
    seed: int = 0
    path: str = ""
    engine: str = "memory"
    master: str = ""
    # what the loaders do with an invalid value: "raise" (refuse the load) or "reject" (unknown, counted)
    on_invalid: str = "raise"

    def validate(self) -> DataSource:
        from explorer.engine.matrix import ENGINES
        if self.engine not in ENGINES:
            raise DefinitionError(f"engine {self.engine!r}; use one of {list(ENGINES)}", field="engine")
        if self.master and self.engine != "spark":
            raise DefinitionError(f"a Spark master ({self.master}) is for the spark engine, not {self.engine}",
                                  field="engine")
        if self.on_invalid not in ON_INVALID:
            raise DefinitionError(f"on_invalid {self.on_invalid!r}; use one of {list(ON_INVALID)}", field="on_invalid")
        if self.kind == "synthetic":
            if self.population not in POPULATIONS:
                raise DefinitionError(f"population {self.population!r}; use one of {list(POPULATIONS)}",
                                      field="data")
            if not 1 <= self.n <= MAX_SYNTHETIC:
                raise DefinitionError(f"synthetic size {self.n}; use 1 to {MAX_SYNTHETIC:,} subjects", field="data")
        elif self.kind == "path":
            if not self.path:
                raise DefinitionError("a data path is needed", field="data")
        else:
            raise DefinitionError(f"data source kind {self.kind!r}; use synthetic or path", field="data")
        return self

    def to_text(self) -> str:
        text = f"synthetic:{self.population}:{self.n}:{self.seed}" if self.kind == "synthetic" else f"path:{self.path}"
        if self.engine == "memory" and self.on_invalid == "raise":
            return text
        # the engine goes in front ("engine=spark,master=sc://h:15002;path:/data"): a path may hold anything
        return (f"engine={self.engine}{f',master={self.master}' if self.master else ''}"
                f"{f',on_invalid={self.on_invalid}' if self.on_invalid != 'raise' else ''};{text}")

    @classmethod
    def from_text(cls, text: str) -> DataSource:
        if text.startswith("engine="):
            head, _, rest = text.partition(";")
            settings = dict(part.partition("=")[::2] for part in head.split(","))
            unknown = set(settings) - {"engine", "master", "on_invalid"}
            if unknown or not rest:
                raise DefinitionError(f"cannot read data source {text!r}; expected engine=NAME[,master=URL];"
                                      "synthetic:... or ...;path:...", field="data")
            from dataclasses import replace
            return replace(cls.from_text(rest), engine=settings["engine"], master=settings.get("master", ""),
                           on_invalid=settings.get("on_invalid", "raise")).validate()
        kind, _, rest = text.partition(":")
        if kind == "synthetic":
            parts = rest.split(":")
            try:
                population = parts[0] or "t1d"
                n = int(parts[1]) if len(parts) > 1 and parts[1] else 10_000
                seed = int(parts[2]) if len(parts) > 2 and parts[2] else 0
            except ValueError:
                raise DefinitionError(f"cannot read data source {text!r}; expected synthetic:POPULATION:N:SEED",
                                      field="data") from None
            return cls("synthetic", population, n, seed).validate()
        if kind == "path":
            return cls("path", path=rest).validate()
        raise DefinitionError(f"cannot read data source {text!r}; expected synthetic:... or path:...", field="data")

    def describe(self) -> str:
        what = (f"synthetic {self.population.upper()} clinic population, {self.n:,} subjects (seed {self.seed})"
                if self.kind == "synthetic" else self.path)
        if self.engine == "memory":
            return what
        return f"{what} [{self.engine}{f' at {self.master}' if self.master else ''}]"


@dataclass(frozen=True)
class OpenedSource:
    """What a data source gave: the engines' input, and for real data its canonical tables and load report.

    `screening` is a Path for a screening folder opened with read_folder=False, and None for data opened
    with screen=False (only its canonical tables were wanted).
    """

    source: DataSource
    screening: Screening | Path | None
    cohort: Cohort | None = None
    report: LoadReport | None = None

    @property
    def label(self) -> str:
        """One line naming what was opened, e.g. "synthetic t2d n=300 seed=2" or "cohort/ (canonical)"."""
        s = self.source
        if s.kind == "synthetic":
            return f"synthetic {s.population} n={s.n} seed={s.seed}"
        if self.report is None:
            return f"screening folder {s.path}"
        return f"{s.path} ({self.report.kind})"


def is_screening_folder(path: str | Path) -> bool:
    """A folder in the layout of explorer.engine.layout: it holds features.parquet or features.csv."""
    path = Path(path)
    return path.is_dir() and any((path / f"{SCREENING_TABLES[0]}{suffix}").is_file() for suffix in (".parquet", ".csv"))


def open_source(source: DataSource, *, catalogue: Catalogue | None = None, read_folder: bool | None = None,
                on_invalid: str | None = None, screen: bool = True, base_dir: str | Path | None = None,
                progress: bool = False, engine: str = "memory", **engine_options) -> OpenedSource:
    """The screening of a data source (and, for data the loaders read, its cohort and load report).

    `catalogue`: the variables the screening features are typed and derived by (a trial's
    `trial.catalogue`; default: the bundled catalogue). `read_folder=False` leaves a screening folder on
    disk, for engines that read it in place (default: read it for the memory engine only). `on_invalid`: the loaders' choice for implausible
    values, "raise" or "reject" (made unknown and counted in the report); default: the source's own `on_invalid`. `screen=False` skips deriving
    the screening features of data the loaders read (the outcomes of everyone need only the tables).
    `base_dir`: where a relative path is read from (default: the working directory).
    `progress` shows a bar while a synthetic population is drawn. `engine` "duckdb" or "spark" derives
    the screening features of data the loaders read by SQL in that engine (explorer.engine.features_sql,
    the same features as the pandas derivation; `engine_options`: its Spark `master` or `spark` session).
    An OMOP CDM folder with engine "duckdb" or "spark", or a DuckDB database file, is read in place by that
    engine (explorer.engine.omop_sql: no pandas Cohort; `cohort` is then None), and so is a folder of
    canonical tables (explorer.engine.canonical_sql); with duckdb or a local Spark session, read_folder=False and
    more than FOLDER_ABOVE subjects (persons), either's screening is written to a temporary screening folder,
    given as a Path.
    """
    source = source.validate()
    on_invalid = on_invalid or source.on_invalid
    read_folder = source.engine == "memory" if read_folder is None else read_folder
    if source.kind == "synthetic":
        from explorer.cohort.synthetic import generate_screening  # the generator's imports are heavy

        # the table of why values are unknown (~14 rows a subject) only up to SYNTHETIC_REASONS_UP_TO subjects:
        # the Data tab lists it, but at 10^7 it would hold 1.4 GB. Number columns as level codes (compact):
        # every consumer of an opened source reads them, and a 10^7 state stays under 4 GB
        return OpenedSource(source, generate_screening(source.population, source.n, seed=source.seed,
                                                       progress=progress, compact=True,
                                                       missing_reasons=source.n <= SYNTHETIC_REASONS_UP_TO))
    path = Path(source.path).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if not path.exists():
        where = f" (relative paths are read from {base_dir})" if base_dir is not None else ""
        raise DataError(NOT_FOUND.replace("no such file or folder", f"no such file or folder{where}", 1),
                        file=str(path))
    if is_screening_folder(path):
        if not read_folder:
            return OpenedSource(source, path)
        # number columns as level codes, as for a synthetic source: every consumer of an opened source reads them
        return OpenedSource(source, read_screening(path, catalogue=catalogue, compact=True))
    in_place = _in_place(path, engine, screen)
    if in_place:
        # DuckDB / PySpark only when asked
        if in_place == "omop":
            from explorer.engine.omop_sql import omop_screening_sql as read_in_place
        else:
            from explorer.engine.canonical_sql import canonical_screening_sql as read_in_place
        # more than FOLDER_ABOVE subjects (persons): written to a temporary folder the engine reads, by DuckDB
        # or a local Spark session (a cluster's executors would write where they run: it derives in memory)
        to_folder = not read_folder and (engine == "duckdb" or (engine == "spark" and _local_spark(engine_options)))
        out = Path(tempfile.mkdtemp(prefix="trial-explorer-screening-")) if to_folder else None
        try:
            screening, report = read_in_place(path, engine="spark" if engine == "spark" else "duckdb",
                                              catalogue=catalogue, on_invalid=on_invalid, out=out,
                                              out_above=FOLDER_ABOVE if to_folder else None, progress=progress,
                                              **engine_options)
        except BaseException:  # a folder written and then refused (check_written) is not left behind
            if out is not None:
                shutil.rmtree(out, ignore_errors=True)
            raise
        if isinstance(screening, Path):
            atexit.register(shutil.rmtree, out, True)
        elif out is not None:
            shutil.rmtree(out, ignore_errors=True)
        return OpenedSource(source, screening, None, report)
    loaded = load(path, on_invalid=on_invalid)
    if not screen:
        screening = None
    elif engine in ("duckdb", "spark"):
        from explorer.engine.features_sql import screening_features_sql  # DuckDB / PySpark only when asked

        screening = screening_features_sql(loaded.cohort, engine=engine, catalogue=catalogue, **engine_options)
    else:
        screening = screening_features(loaded.cohort, catalogue=catalogue)
    return OpenedSource(source, screening, loaded.cohort, loaded.report)


def _local_spark(engine_options: dict) -> bool:
    """Whether the Spark session of `engine_options` (given, else the one at its `master`, started now and kept
    in them for the reader) runs on this machine."""
    from explorer.engine.spark import is_local, spark_session

    if engine_options.get("spark") is None:
        engine_options["spark"] = spark_session(engine_options.get("master"))
    return is_local(engine_options["spark"])


def _in_place(path: Path, engine: str, screen: bool) -> str | None:
    """What DuckDB or Spark reads where it lies instead of the pandas loaders: "omop" for an OMOP CDM folder with
    --engine duckdb|spark and for a DuckDB database file (no pandas loader reads one; explorer.engine.omop_sql),
    "canonical" for a folder of canonical tables with --engine duckdb|spark (explorer.engine.canonical_sql)."""
    from explorer.engine.omop_sql import DATABASE_SUFFIXES  # no DuckDB import: only its file names

    if path.is_file() and path.suffix.lower() in DATABASE_SUFFIXES:
        if not screen or engine == "spark":
            raise DataError("a DuckDB database is read in place by DuckDB for screening only; its outcomes and the "
                            "spark engine need the CDM as CSV files (a folder or ZIP archive)", file=str(path))
        return "omop"
    if engine in ("duckdb", "spark") and screen and path.is_dir():
        kind = detect(path)
        return kind if kind in ("omop", "canonical") else None
    return None
