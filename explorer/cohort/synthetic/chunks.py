"""Draw a screening population chunk by chunk (fixed-size chunks, each with its own named streams)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from explorer.cohort.synthetic.params import PopulationParams, T1DClinicParams, resolve_params
from explorer.cohort.synthetic.record import Draw
from explorer.cohort.synthetic.streams import CHUNK, Streams, chunk_bounds
from explorer.cohort.synthetic.t1d import draw_t1d
from explorer.cohort.synthetic.t2d import draw_t2d
from explorer.errors import DefinitionError


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
