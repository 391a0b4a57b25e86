"""Text lookups on Arrow arrays that the screening checks, the folder format and the NumPy engine share.

One floor below the engines (explorer.cohort), so that explorer.cohort.checks, explorer.engine.layout
and explorer.engine.memory use one lookup without importing each other or upwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow_text(values) -> pa.Array:
    if isinstance(values, (pd.Series, pd.Index)):
        # the backing array, not the Series: pa.array(series) probes attributes through Series.__getattr__,
        # which builds the hash table of the whole index
        values = values.array
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        array = values
    elif hasattr(values, "__arrow_array__"):  # Arrow-backed pandas strings hand over their buffers
        array = pa.array(values)
    else:
        array = pa.array(np.asarray(values, dtype=object), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.large_string() else pc.cast(array, pa.large_string())


def positions(values, universe) -> np.ndarray:
    """Position of each value in `universe` (whose values are unique), -1 where absent or missing."""
    found = pc.index_in(arrow_text(values), value_set=arrow_text(universe))
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
