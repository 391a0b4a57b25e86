"""The table of every CGM metric: name, label, unit, short definition, reference (cgm_metrics.yaml).

One table feeds the outcome panel, the outcomes CLI and docs/outcomes.md, so a metric's unit and
definition are written once. `compute_cgm_metrics` runs the three functions the table's `source` names
(on one GroupedReadings, so the readings are grouped and interpolated once) and returns one wide table,
per subject or subject and visit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import resources

import pandas as pd
import yaml

from explorer.clinical.cgm import consensus_of
from explorer.clinical.cgm_episodes import episodes_of
from explorer.clinical.cgm_readings import GroupedReadings
from explorer.clinical.glycaemic_variability import variability_of
from explorer.errors import DefinitionError

TABLE_COLUMNS = ("name", "label", "unit", "source", "definition", "reference")
SOURCES = ("consensus", "variability", "episodes")


@cache
def _rows() -> tuple[dict, ...]:
    text = resources.files("explorer.clinical").joinpath("cgm_metrics.yaml").read_text(encoding="utf-8")
    return tuple(yaml.safe_load(text))


def cgm_metric_table() -> pd.DataFrame:
    """Every metric as a row: name, label, unit, source, definition, reference (a new DataFrame)."""
    return pd.DataFrame(list(_rows()), columns=list(TABLE_COLUMNS))


def metric_names(source: str | None = None) -> tuple[str, ...]:
    """The metric names, all or those one function computes (a SOURCES value)."""
    return tuple(row["name"] for row in _rows() if source is None or row["source"] == source)


def compute_cgm_metrics(cgm: pd.DataFrame, *, by: Sequence[str] = ("subject_id",), names: Sequence[str] | None = None,
                        period_days: float | None = None) -> pd.DataFrame:
    """The `by` columns and the chosen metrics (default: all), running only the functions they need.

    `period_days` is passed to cgm_metrics (the fixed window of each visit, see its docstring).
    """
    wanted = list(names) if names is not None else list(metric_names())
    sources = {row["name"]: row["source"] for row in _rows()}
    unknown = [n for n in wanted if n not in sources]
    if unknown:
        raise DefinitionError(f"not a CGM metric: {unknown}; known are {list(sources)}", field="names")
    by = list(by)
    table = None
    readings = None
    for source in SOURCES:
        columns = [n for n in wanted if sources[n] == source]
        if not columns:
            continue
        # the three functions share one grouping of the readings and one grid (cgm_readings)
        readings = GroupedReadings(cgm, by) if readings is None else readings
        if source == "consensus":
            part = consensus_of(readings.frame, readings.codes, readings.keys, period_days=period_days)
        elif source == "variability":
            part = variability_of(readings)
        else:
            part = episodes_of(readings)
        part = part[[*by, *columns]]
        table = part if table is None else table.merge(part, on=by, how="outer")
    return table if table is not None else pd.DataFrame(columns=by)
