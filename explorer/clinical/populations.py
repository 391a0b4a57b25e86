"""The built-in synthetic populations a data source, the CLI and the generator can name."""

from __future__ import annotations

POPULATIONS = {
    "t1d": "type 1 diabetes clinic population",
    "t2d": "type 2 diabetes clinic population",
}
POPULATION_NAMES = tuple(POPULATIONS)
