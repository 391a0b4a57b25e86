"""Piece makers for explorer.cohort.synthetic.chunks.write_parquet_pieces in tests: module-level, so the
writer's spawned worker processes can import them (test modules are imported by path, workers cannot)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from explorer.cohort.synthetic.chunks import subject_ids
from explorer.cohort.synthetic.streams import Streams


def drawn_piece(seed: int, index: int, start: int, size: int) -> dict[str, pa.Table]:
    """Two tables of one piece, drawn from the piece's own stream (seed, piece index): no shared state."""
    rng = Streams(seed, "t1d", index)("hba1c")
    ids = subject_ids("t1d", start, start + size)
    hba1c = rng.normal(8.0, 1.5, size)
    hba1c[rng.random(size) < 0.1] = np.nan  # unknown values travel as null
    visits = rng.integers(0, 3, size)
    return {"features": pa.table({"subject_id": ids, "hba1c": pa.array(hba1c, from_pandas=True)}),
            "events": pa.table({"subject_id": ids.take(pa.array(np.repeat(np.arange(size), visits))),
                                "days_before_index": pa.array(np.arange(int(visits.sum())), pa.float64())})}


def inconsistent_piece(index: int, start: int, size: int) -> dict[str, pa.Table]:
    """Piece 1 renames a column: the writer must refuse it."""
    return {"features": pa.table({"subject_id": subject_ids("t1d", start, start + size),
                                  "hba1c" if index == 0 else "hbA1c": np.zeros(size)})}
