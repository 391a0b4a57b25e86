"""The histogram interface in SQL: statuses packed and grouped where the data lies, only counts come back.

An SQL engine (DuckDB, Spark) evaluates a trial's computable criteria with the one compilation of
explorer.engine.sql, turns each truth code into a raw status (explorer.engine.status), packs the
statuses two bits each into BIGINT words (31 criteria a word) and groups by the words:

    SELECT w0, ..., COUNT(*) AS n FROM (SELECT <packed statuses> FROM (<matrix query>)) GROUP BY w0, ...

A million subjects come back as a few thousand (pattern, count) rows, which is all the funnel, impact,
Shapley, overlap and the policies need (explorer.engine.patterns). Subject-level answers (the eligible
ids) are their own query, with the selection's policies turned into a WHERE clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from explorer.engine.patterns import Selection
from explorer.engine.sql import CriterionSQL, Dialect, MatrixQuery, SourceSchema
from explorer.engine.status import ASSUMED, FAIL, PASS, UNKNOWN
from explorer.errors import DefinitionError

PER_WORD = 31  # 2 bits each: 62 bits of a signed BIGINT, so every packed word is >= 0


def specs_of(criteria: Sequence) -> list[CriterionSQL]:
    return [CriterionSQL(c.id, c.tree, c.parameter_values(), c.expression or "") for c in criteria]


def status_sql(i: int, kind: str) -> str:
    """Raw status of criterion i from its truth code t{i}: an exclusion's true is FAIL (as status_from_truth)."""
    if kind == "inclusion":
        return f"t{i}"
    if kind == "exclusion":
        return f"(CASE t{i} WHEN {UNKNOWN} THEN {UNKNOWN} ELSE 1 - t{i} END)"
    raise DefinitionError(f"criterion kind {kind!r}; use 'inclusion' or 'exclusion'", field="kind")


def _query(criteria: Sequence, catalogue, schema: SourceSchema, dialect: Dialect) -> tuple[str, dict]:
    # joined by subject id, never by position: a GROUP BY needs no row order, and the positional join's
    # alignment checks (explorer.engine.duck) would have to be aggregated too
    query = MatrixQuery(specs_of(criteria), catalogue, replace(schema, aligned=frozenset()), dialect)
    return query.sql()


def n_words(k: int) -> int:
    return max(1, -(-k // PER_WORD))


def histogram_sql(criteria: Sequence, catalogue, schema: SourceSchema, dialect: Dialect) -> tuple[str, dict]:
    """The GROUP BY query: columns w0, w1, ... (packed raw statuses) and n (subjects with that pattern)."""
    inner, params = _query(criteria, catalogue, schema, dialect)
    words = []
    for w in range(n_words(len(criteria))):
        terms = [f"CAST({status_sql(i, c.kind)} AS BIGINT) * {4 ** (i - w * PER_WORD)}"
                 for i, c in enumerate(criteria) if i // PER_WORD == w]
        words.append(f"({' + '.join(terms) if terms else '0'}) AS w{w}")
    names = ", ".join(f"w{w}" for w in range(len(words)))
    sql = (f"SELECT {names}, COUNT(*) AS n FROM (SELECT {', '.join(words)} FROM ({inner}) AS m) AS s "
           f"GROUP BY {names}")
    return sql, params


def unpack(words: np.ndarray, k: int) -> np.ndarray:
    """(m, n_words) packed BIGINTs -> (m, k) int8 raw statuses."""
    words = np.asarray(words, dtype=np.int64).reshape(-1, n_words(k))
    out = np.empty((len(words), k), dtype=np.int8)
    for j in range(k):
        w, shift = divmod(j, PER_WORD)
        out[:, j] = (words[:, w] >> (2 * shift)) & 3
    return out


def with_assumed(statuses: np.ndarray, computable: Sequence[bool]) -> np.ndarray:
    """Insert an ASSUMED column for every non-computable criterion (the engines evaluate only the others)."""
    out = np.full((len(statuses), len(computable)), ASSUMED, dtype=np.int8)
    out[:, [j for j, c in enumerate(computable) if c]] = statuses
    return out


def subjects_sql(criteria: Sequence, computable: Sequence, selection: Selection, catalogue,
                 schema: SourceSchema, dialect: Dialect, which: str = "eligible") -> tuple[str, dict]:
    """The subject ids that are `which` ("eligible": PASS every selected criterion after its policy;
    "remaining": FAIL none), in the features' row order.

    `criteria` is the matrix's full criterion list (CriterionInfo), `computable` the trial criteria the
    engine evaluates (in the same order as the computable ones among `criteria`).
    """
    if which not in ("eligible", "remaining"):
        raise DefinitionError(f"subjects {which!r}; use 'eligible' or 'remaining'", field="which")
    inner, params = _query(computable, catalogue, schema, dialect) if computable else (None, {})
    sql_index = {c.id: i for i, c in enumerate(computable)}
    conditions = []
    for s, j in enumerate(selection.columns):
        table = selection.tables[s]
        allowed = [code for code in (FAIL, PASS, UNKNOWN, ASSUMED)
                   if (table[code] == PASS if which == "eligible" else table[code] != FAIL)]
        info = criteria[j]
        if not info.computable:
            if ASSUMED not in allowed:
                conditions.append("FALSE")
            continue
        allowed = [code for code in allowed if code != ASSUMED]
        if len(allowed) == 3:
            continue
        status = status_sql(sql_index[info.id], info.kind)
        conditions.append(f"({status} IN ({', '.join(str(a) for a in allowed)}))" if allowed else "FALSE")
    q, t = dialect.quote, schema.tables
    where = " AND ".join(conditions) or "TRUE"
    ids = f"CAST(src.subject_id AS {dialect.text})"
    if inner is None:
        return f"SELECT {ids} AS subject_id FROM {q(t['features'])} AS src WHERE {where} " \
               f"ORDER BY src.{q(schema.row_column)}", params
    return (f"SELECT {ids} AS subject_id FROM ({inner}) AS m JOIN {q(t['features'])} AS src "
            f"ON src.{q(schema.row_column)} = m.subject_row WHERE {where} ORDER BY m.subject_row"), params


def duckdb_histogram(backend, criteria: Sequence, catalogue) -> tuple[np.ndarray, np.ndarray]:
    """(raw status patterns, counts) of the computable `criteria`, grouped inside DuckDB."""
    import duckdb

    from explorer.errors import DataError
    sql, params = histogram_sql(criteria, catalogue, backend.schema, backend_dialect(backend))
    try:
        found = backend.con.execute(sql, params).fetchnumpy()
    except duckdb.Error as err:
        raise DataError(f"DuckDB could not count the status patterns: {err}") from None
    words = np.column_stack([np.asarray(found[f"w{w}"], dtype=np.int64) for w in range(n_words(len(criteria)))])
    return unpack(words, len(criteria)), np.asarray(found["n"], dtype=np.int64)


def duckdb_subjects(backend, criteria: Sequence, computable: Sequence, selection: Selection, catalogue,
                    which: str = "eligible"):
    """The ids of subjects_sql, run inside DuckDB."""
    import duckdb
    import pandas as pd

    from explorer.errors import DataError
    sql, params = subjects_sql(criteria, computable, selection, catalogue, backend.schema,
                               backend_dialect(backend), which)
    try:
        found = backend.con.execute(sql, params).fetchnumpy()
    except duckdb.Error as err:
        raise DataError(f"DuckDB could not select the subjects: {err}") from None
    return pd.Index(pd.array(found["subject_id"], dtype="string"), name="subject_id")


def backend_dialect(backend) -> Dialect:
    from explorer.engine.sql import DUCKDB, SPARK
    return SPARK if getattr(backend, "name", "") == "spark" else DUCKDB


__all__ = ["PER_WORD", "duckdb_histogram", "duckdb_subjects", "histogram_sql", "status_sql", "subjects_sql", "unpack", "with_assumed"]
