"""Independent, named random streams: one per (seed, population, chunk, variable).

Every variable draws from its own generator, keyed by its name, so that
- subject i's values do not depend on n (the first 1,000 of a 1,000,000 run equal a 1,000 run),
- adding a variable to the model does not change the values of the others,
- no global NumPy random state is touched.
Chunks are a fixed size (CHUNK), so results do not depend on whether a progress bar is shown.
"""

from __future__ import annotations

import zlib

import numpy as np

CHUNK = 1 << 16
POPULATION_CODES = {"t1d": 1, "t2d": 2, "islet": 11, "islet_edmonton": 12, "msc": 21}


class Streams:
    """Generators for one chunk of one population; each name may be used once."""

    def __init__(self, seed: int, population: str, chunk: int = 0, *, salt: int = 0):
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self._key = (POPULATION_CODES[population], int(chunk), int(salt))
        self._seed = int(seed)
        self._used: set[str] = set()

    def __call__(self, name: str) -> np.random.Generator:
        if name in self._used:  # a reused name would silently correlate two variables
            raise RuntimeError(f"random stream {name!r} used twice")
        self._used.add(name)
        key = (*self._key, zlib.crc32(name.encode()))
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self._seed, spawn_key=key)))


def chunk_bounds(n: int, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """[(start, stop), ...] covering range(n) in fixed-size chunks."""
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)]
