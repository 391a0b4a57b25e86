"""Draw a screening population chunk by chunk (fixed-size chunks, each with its own named streams), and write
tables of any size to Parquet piece by piece (write_parquet_pieces)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from explorer.cohort.synthetic.params import PopulationParams, T1DClinicParams, resolve_params
from explorer.cohort.synthetic.record import Draw
from explorer.cohort.synthetic.streams import CHUNK, Streams, chunk_bounds
from explorer.cohort.synthetic.t1d import draw_t1d
from explorer.cohort.synthetic.t2d import draw_t2d
from explorer.errors import DataError, DefinitionError


def check_size(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise DefinitionError(f"n must be a non-negative integer, got {n!r}", field="n")
    return n


def draw_chunks(population: str, n: int, seed: int,
                params: PopulationParams | Mapping[str, Any] | None = None,
                progress: bool = False) -> Iterator[tuple[int, Draw]]:
    """Yield (offset of the chunk's first subject, Draw) covering n subjects."""
    p = resolve_params(population, params)
    check_size(n)
    draw = draw_t1d if isinstance(p, T1DClinicParams) else draw_t2d
    bounds = chunk_bounds(n, CHUNK)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="subjects", desc=f"synthetic {population}")
    try:
        for chunk, (start, stop) in enumerate(bounds):
            yield start, draw(p, Streams(seed, population, chunk), stop - start)
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()


def subject_ids(population: str, start: int, stop: int):
    """'T1D-0000042' style ids as a pyarrow string array (built in C, no Python loop)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    width = max(7, len(str(max(stop - 1, 0))))
    numbers = pc.cast(pa.array(np.arange(start, stop, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(f"{population.upper()}-", pc.utf8_lpad(numbers, width, "0"), "")


# --- the chunked Parquet writer -------------------------------------------------------------------

def write_parquet_pieces(folder: str | Path, n: int, make_piece: Callable[[int, int, int], Mapping[str, Any]], *,
                         piece: int = 1_000_000, workers: int | None = None, row_group_size: int = 131_072,
                         progress: bool = True, log: Callable[[str], None] | None = None,
                         sort_by: str | None = None) -> dict[str, int]:
    """Write n subjects as <folder>/<table>.parquet, `piece` subjects at a time; returns {file name: bytes}.

    `make_piece(index, start, size)` returns the piece's tables ({name: pyarrow.Table}); it must be a
    module-level function (or a functools.partial of one) and draw only from its arguments (e.g. a seed
    derived from `index`), so the files are the same whatever `workers` is. With workers > 1 the pieces
    are made in that many processes and written here, in order, as they come back; at most one piece more
    than there are workers is in flight, so memory stays a few pieces whatever n is (a piece of 10^6
    canonical subjects peaks at about 3.4 GB while it is drawn: choose `piece` by the memory there is). A piece's first table of each name
    fixes that file's schema; a later piece whose columns differ is an error naming the piece and table.
    `workers=None`: idle_workers().
    `sort_by` (e.g. "subject_id"): each piece's tables are written sorted by that column (stable: rows of one
    value keep their order). When the pieces come in that column's order too, every file is sorted, and the
    Parquet statistics of its row groups let a reader of a range of values skip the other row groups.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    check_size(n)
    if isinstance(piece, bool) or not isinstance(piece, int) or piece < 1:
        raise DefinitionError(f"piece must be a positive number of subjects, got {piece!r}", field="piece")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    bounds = chunk_bounds(n, piece)
    workers = idle_workers() if workers is None else workers
    writers: dict[str, Any] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="subjects", desc=f"writing {out.name}", mininterval=2)
    started = time.perf_counter()
    try:
        for index, tables in enumerate(_pieces(make_piece, bounds, workers)):
            for name, table in tables.items():
                if name not in writers:
                    writers[name] = pq.ParquetWriter(out / f"{name}.parquet", table.schema)
                elif table.schema.names != writers[name].schema.names:
                    raise DataError(f"piece {index} gave {name} the columns {table.schema.names}, not "
                                    f"{writers[name].schema.names}; every piece needs the same columns",
                                    file=str(out / f"{name}.parquet"))
                if sort_by is not None and sort_by in table.column_names:
                    table = table.take(pc.sort_indices(table, [(sort_by, "ascending")]))  # Arrow's sort is stable
                writers[name].write_table(table.cast(writers[name].schema), row_group_size=row_group_size)
            start, stop = bounds[index]
            if bar is not None:
                bar.update(stop - start)
            if log is not None:
                log(f"{out}: {stop:,} of {n:,} subjects written in {time.perf_counter() - started:.1f} s")
    finally:
        for writer in writers.values():
            writer.close()
        if bar is not None:
            bar.close()
    return {f"{name}.parquet": (out / f"{name}.parquet").stat().st_size for name in writers}


def idle_workers(most: int = 2) -> int:
    """Worker processes worth starting: the cores the 1-minute load leaves idle, at least 1, at most `most`.

    On a busy machine a second worker only adds its start-up and the pieces' transfer (measured at load 16
    on 2 cores: the same wall time as one process, half as much CPU again, twice the memory)."""
    import os

    idle = (os.cpu_count() or 1) - os.getloadavg()[0]
    return max(1, min(most, int(idle + 0.5)))


def _pieces(make_piece: Callable, bounds: list[tuple[int, int]], workers: int) -> Iterator[Mapping[str, Any]]:
    """The pieces in order: made here (workers <= 1) or by worker processes, a bounded number ahead."""
    if workers <= 1 or len(bounds) <= 1:
        for index, (start, stop) in enumerate(bounds):
            yield make_piece(index, start, stop - start)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent may hold threads (pyarrow's, DuckDB's) that a forked child would inherit locked
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        ahead = workers + 1  # one ready while the others are drawn; every piece waiting here is memory
        for index, (start, stop) in enumerate(bounds):
            pending.append(pool.submit(make_piece, index, start, stop - start))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
