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

from explorer.engine.edit_rule import OPEN, EditRule, edit_rule, window_counts
from explorer.engine.patterns import Selection
from explorer.engine.sql import ID, Binder, CriterionSQL, Dialect, MatrixQuery, SourceSchema
from explorer.engine.status import ASSUMED, FAIL, PASS, UNKNOWN
from explorer.errors import DefinitionError
from explorer.expr import Call, Name, children, count_column, count_window, names, walk

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


def _words(packed: Sequence[tuple[int, object]]) -> list[str]:
    """The packed words w0, w1, ...: the raw status of query criterion t{i} (its kind from the criterion)
    at slot s of (i, criterion) in `packed`, two bits each, PER_WORD slots a word."""
    words = []
    for w in range(n_words(len(packed))):
        terms = [f"CAST({status_sql(i, c.kind)} AS BIGINT) * {4 ** (s - w * PER_WORD)}"
                 for s, (i, c) in enumerate(packed) if s // PER_WORD == w]
        words.append(f"({' + '.join(terms) if terms else '0'}) AS w{w}")
    return words


def histogram_sql(criteria: Sequence, catalogue, schema: SourceSchema, dialect: Dialect) -> tuple[str, dict]:
    """The GROUP BY query: columns w0, w1, ... (packed raw statuses) and n (subjects with that pattern)."""
    inner, params = _query(criteria, catalogue, schema, dialect)
    words = _words(list(enumerate(criteria)))
    names = ", ".join(f"w{w}" for w in range(len(words)))
    sql = (f"SELECT {names}, COUNT(*) AS n FROM (SELECT {', '.join(words)} FROM ({inner}) AS m) AS s "
           f"GROUP BY {names}")
    return sql, params


def count_windows(criterion) -> list[tuple[str, float]]:
    """The (event, window in days) of every count(event, within_days=...) in the criterion's rule, at its
    parameters' current values."""
    params = criterion.parameter_values()
    return sorted({(node.args[0].name, count_window(node, params)) for node in walk(criterion.tree)
                   if isinstance(node, Call) and node.func == "count"})


def edit_table_sql(criteria: Sequence, j: int, variables: Sequence[str], catalogue, schema: SourceSchema,
                   dialect: Dialect, limit: int, reduce: bool | str = True) -> tuple[str, dict, list[str]]:
    """One criterion's edit table (explorer.engine.edit_histogram): the packed raw statuses of every
    computable criterion but criteria[j] (w0, w1, ...), the values of the `variables` it reads, typed and
    cleaned as its rule reads them, then each count(event, within_days=N) it reads at its current window
    (v0, v1, ...: NULL kept as a value of its own: a count is NULL where the history is shorter than the
    window and the source reports no count for it), and n, grouped.

    `reduce` (explorer.engine.edit_rule): each parameter-free part of the rule is one truth code column instead
    of the values it reads, each comparison decided over its parameter's allowed range is its truth code (OPEN
    where undecided), and a value only decided comparisons read is NULL where they are decided (every value is
    NULL where the rule is decided whole); a parameter's name: for edits of that parameter only, the others
    fixed at their values (read as parts). Off for a threshold analysis, which needs the values themselves.

    At most `limit` + 1 rows come back, so a caller sees a table too large without fetching all of it.
    Returns (sql, params, what v0, v1, ... are): a variable's name, a count's event_counts column name
    ("event@days", explorer.expr.count_column), or a part's or atom's code column (__te_part<k>, __te_atom<m>);
    a variable the source lacks is left out (unknown for every subject, as the rule reads it)."""
    criterion = criteria[j]
    free = reduce if isinstance(reduce, str) else None
    rule = edit_rule(criterion, catalogue, free) if reduce else None
    specs = specs_of(criteria)
    n = len(specs)
    if rule is not None:
        params, text = criterion.parameter_values(), criterion.expression or ""
        specs += [CriterionSQL(criterion.id, part, params, text) for part in rule.parts]
        for atom in rule.atoms:
            bounds = criterion.parameters[atom.parameter]
            specs += [CriterionSQL(criterion.id, atom.node, {**params, atom.parameter: bound}, text)
                      for bound in (bounds.min, bounds.max)]
    query = MatrixQuery(specs, catalogue, replace(schema, aligned=frozenset()), dialect)
    windows = count_windows(criterion)
    moving = (window_counts(criterion, free) or ()) if reduce else ()
    if moving:  # counts whose window is a parameter: look-back and latest events instead (_window_columns)
        current = criterion.parameter_values()
        windows = [w for w in windows if w not in {(c.event, float(current[c.parameter])) for c in moving}]
    if rule is not None:  # only what the rule reads outside its parts
        read = names(rule.tree)
        variables = [v for v in variables if v in read]
        windows = [w for w in windows if w in _windows(rule.tree, criterion)]
    kept = [v for v in variables if v in query.compiler.columns]
    # the count's own compiled text (the rule's, so the same lookback and reported-count rule), over the
    # engine's count columns passed through the matrix query; compiled before query.sql() binds its values
    counted = [query.compiler.count(event, days) for event, days in windows]
    compiler = query.compiler
    # a window count at a window the source reports a count for: the count there, as the rule reads it
    reported = {(c, at): compiler.count(count.event, at) for c, count in enumerate(moving)
                for at in reported_windows(count.event, schema)}
    passed = [name[1:-1] for name in (*compiler.lookback.values(), *compiler.counts.values(),
                                      *compiler.given_counts.values())]  # unquoted: sql() quotes `keep`
    inner, params = query.sql(keep=[*kept, *passed, ID])
    words = _words([(i, c) for i, c in enumerate(criteria) if i != j])
    values = [f"m.{dialect.quote(v)}" for v in kept] + [f"CAST({text} AS {dialect.double})" for text in counted]
    names_of = kept + [count_column(event, days) for event, days in windows]
    joins = ""
    if moving:
        extra, extra_names, joins, bound = _window_columns(moving, criterion, compiler, schema, dialect, reported)
        values, names_of, params = values + extra, names_of + extra_names, {**params, **bound}
    codes: list[str] = []
    if rule is not None:
        values, codes = _reduced(rule, criterion, n, values, names_of, windows)
        names_of = names_of + [f"__te_part{k}" for k in range(len(rule.parts))] + \
            [f"__te_atom{m}" for m in range(len(rule.atoms))]
    columns = [f"{v} AS v{i}" for i, v in enumerate(values + codes)]
    grouped = ", ".join([f"w{w}" for w in range(len(words))] + [f"v{i}" for i in range(len(columns))])
    sql = (f"SELECT {grouped}, COUNT(*) AS n FROM (SELECT {', '.join(words + columns)} FROM ({inner}) AS m{joins}) "
           f"AS s GROUP BY {grouped} LIMIT {int(limit) + 1}")
    return sql, params, names_of


def window_column(c: int, what: str) -> str:
    """The name of a window count's column in an edit table: its look-back ("lookback") or its i-th latest event's
    days before the index date ("d1", "d2", ...)."""
    return f"window#{c}#{what}"


def _window_columns(moving, criterion, compiler, schema: SourceSchema, dialect: Dialect, reported: dict
                    ) -> tuple[list[str], list[str], str, dict]:
    """For each count with a window parameter: its look-back, then the days before the index date of its `latest`
    most recent events (NULL: none), both clamped to the window's allowed range, where a value past it reads as the
    range's end does; and the count at each window the source reports a count for (`reported`: its compiled text).
    The count at a window W is that count, else the events within W where the look-back covers W, as Compiler.count
    reads it (explorer.engine.edit_histogram puts it together). Returns (columns, names, joins, bound values)."""
    d, q = dialect, dialect.quote
    binder = Binder(dialect, prefix="te_window_")
    values, names_of, joins = [], [], []
    for c, count in enumerate(moving):
        bounds = criterion.parameters[count.parameter]
        low, high = binder.bind(float(bounds.min)), binder.bind(float(bounds.max))
        lookback = compiler.lookback.get(count.event)  # registered by the criterion's own count
        if lookback is None:  # no look-back: unknown at every window (Compiler.count)
            values.append(d.null(d.double))
        else:
            values.append(f"(CASE WHEN m.{lookback} >= {high} THEN {high} WHEN m.{lookback} < {low} "
                          f"THEN {low} - 1 ELSE CAST(m.{lookback} AS {d.double}) END)")
        names_of.append(window_column(c, "lookback"))
        for at in reported_windows(count.event, schema):
            values.append(f"CAST({reported[(c, at)]} AS {d.double})")
            names_of.append(window_column(c, f"at{at}"))
        days = d.number_column(q("days_before_index"))
        if schema.events and count.latest:
            subject = f"CAST({q('subject_id')} AS {d.text})"
            latest = ", ".join(f"MIN(CASE WHEN {q('__te_rank')} = {i + 1} THEN {q('__te_days')} END) AS d{i + 1}"
                               for i in range(count.latest))
            joins.append(
                f" LEFT JOIN (SELECT {q(ID)}, {latest} FROM (SELECT {subject} AS {q(ID)}, "
                f"CASE WHEN {days} < {low} THEN {low} ELSE CAST({days} AS {d.double}) END AS {q('__te_days')}, "
                f"ROW_NUMBER() OVER (PARTITION BY {subject} ORDER BY {days}) AS {q('__te_rank')} "
                f"FROM {q(schema.tables['events'])} WHERE CAST({q('event')} AS {d.text}) = "
                f"{binder.bind(count.event)} AND {days} <= {high}) AS e WHERE {q('__te_rank')} <= {count.latest} "
                f"GROUP BY {q(ID)}) AS k{c} ON k{c}.{q(ID)} = m.{q(ID)}")
            values += [f"k{c}.d{i + 1}" for i in range(count.latest)]
        else:  # no events table: a full history with no events (Compiler.count), or no event needed
            values += [d.null(d.double)] * count.latest
        names_of += [window_column(c, f"d{i + 1}") for i in range(count.latest)]
    return values, names_of, "".join(joins), binder.values


def reported_windows(event: str, schema: SourceSchema) -> list[float]:
    """The windows of the event's counts the source reports (event_counts columns "event@days")."""
    return sorted(float(column.split("@", 1)[1]) for column in schema.event_counts if column.startswith(f"{event}@"))


def _windows(tree, criterion) -> set[tuple[str, float]]:
    params = criterion.parameter_values()
    return {(node.args[0].name, count_window(node, params)) for node in walk(tree)
            if isinstance(node, Call) and node.func == "count"}


def _reduced(rule: EditRule, criterion, n: int, values: list[str], names_of: list[str],
             windows: list[tuple[str, float]]) -> tuple[list[str], list[str]]:
    """The value columns with NULL where nothing reads them, and the parts' and atoms' code columns (truth codes
    t<n>.. of the matrix query: the parts, then each atom at its parameter's minimum and maximum)."""
    parts = [f"m.t{n + k}" for k in range(len(rule.parts))]
    low = [f"m.t{n + len(parts) + 2 * a}" for a in range(len(rule.atoms))]
    high = [f"m.t{n + len(parts) + 2 * a + 1}" for a in range(len(rule.atoms))]
    decided = [f"({lo} = {hi})" for lo, hi in zip(low, high, strict=True)]
    # a root `and` with a false operand (a root `or` with a true one) decides the rule whole
    whole = {"and": 0, "or": 1}.get(rule.root or "")
    dead = [f"{parts[k]} = {whole}" for k in rule.top_parts] + \
        [f"({low[a]} = {whole} AND {high[a]} = {whole})" for a in rule.top_atoms] if whole is not None else []
    dead_sql = f"({' OR '.join(dead)})" if dead else None
    outside = _names_outside(rule, criterion)
    out = []
    for value, name in zip(values, names_of, strict=True):
        key = _count_key(name, windows)
        readers = [a for a, atom in enumerate(rule.atoms)
                   if (key in _windows(atom.node, criterion) if key else name in names(atom.node))]
        unread = [] if (key in outside if key else name in outside) or not readers else \
            [" AND ".join(decided[a] for a in readers)]
        when = ([dead_sql] if dead_sql else []) + unread
        out.append(f"CASE WHEN {' OR '.join(when)} THEN NULL ELSE {value} END" if when else value)
    codes = [f"CASE WHEN {dead_sql} THEN {whole} ELSE {p} END" if dead_sql else p for p in parts]
    for a in range(len(rule.atoms)):
        atom = f"CASE WHEN {decided[a]} THEN {low[a]} ELSE {OPEN} END"
        codes.append(f"CASE WHEN {dead_sql} THEN {whole} ELSE {atom} END" if dead_sql else atom)
    return out, codes


def _count_key(name: str, windows: list[tuple[str, float]]) -> tuple[str, float] | None:
    return next((w for w in windows if count_column(*w) == name), None)


def _names_outside(rule: EditRule, criterion) -> set:
    """The names and count windows the rule reads outside its atoms (parts are columns already)."""
    atoms = [a.node for a in rule.atoms]
    found: set = set()
    stack = [rule.tree]
    while stack:
        node = stack.pop()
        if any(node is a for a in atoms):
            continue
        if isinstance(node, Name):
            found.add(node.name)
        if isinstance(node, Call) and node.func == "count":
            found |= _windows(node, criterion)
        stack.extend(children(node))
    return found


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
    q, t = dialect.quote, schema.tables
    where = selection_condition(criteria, computable, selection, which)
    ids = f"CAST(src.subject_id AS {dialect.text})"
    if inner is None:
        return f"SELECT {ids} AS subject_id FROM {q(t['features'])} AS src WHERE {where} " \
               f"ORDER BY src.{q(schema.row_column)}", params
    return (f"SELECT {ids} AS subject_id FROM ({inner}) AS m JOIN {q(t['features'])} AS src "
            f"ON src.{q(schema.row_column)} = m.subject_row WHERE {where} ORDER BY m.subject_row"), params


def selection_condition(criteria: Sequence, computable: Sequence, selection: Selection, which: str) -> str:
    """A boolean SQL expression over the matrix query's truth codes: the subject is `which` ("eligible":
    PASS every selected criterion after its policy; "remaining": FAIL none)."""
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
    return " AND ".join(conditions) or "TRUE"


# --- table 1 as one aggregate query --------------------------------------------------------------------

def baseline_sql(criteria: Sequence, computable: Sequence, selection: Selection, catalogue, schema: SourceSchema,
                 dialect: Dialect, variables: Sequence[str], groups: Sequence[str]
                 ) -> tuple[str, dict, list[tuple[str, ...]]]:
    """Table 1's aggregates per group in one row: (sql, params, what each column a0, a1, ... is).

    Groups are conditions on the statuses (screened: all; eligible; possibly: remaining, not eligible;
    remaining; excluded); numbers give count, mean, sample SD, linear quartiles (numpy's default);
    booleans and category levels give counts among the known. Only these few numbers come back.
    Category levels are bound parameters, never pasted (a trial's catalogue may come from a file).
    """
    from explorer.engine.sql import Binder
    inner, params = _query(computable, catalogue, schema, dialect) if computable else (None, {})
    binder = Binder(dialect, prefix="te_level_")
    q, t = dialect.quote, schema.tables
    eligible = selection_condition(criteria, computable, selection, "eligible")
    remaining = selection_condition(criteria, computable, selection, "remaining")
    member = {"screened": "TRUE", "eligible": "(__te_e)", "remaining": "(__te_r)",
              "possibly": "(__te_r AND NOT __te_e)", "excluded": "(NOT __te_r)"}
    quantile = "quantile_cont" if dialect.name == "duckdb" else "percentile"
    columns, layout = [], []

    def add(sql: str, *what: str) -> None:
        columns.append(f"{sql} AS a{len(columns)}")
        layout.append(what)

    for g in groups:
        add(f"SUM(CASE WHEN {member[g]} THEN 1 ELSE 0 END)", g, "", "size")
        for name in variables:
            var = catalogue[name]
            if name not in schema.features:
                continue
            column = f"src.{q(name)}"
            if var.kind == "number":
                x = f"(CASE WHEN {member[g]} THEN {dialect.number_column(column)} END)"
                add(f"COUNT({x})", g, name, "n")
                add(f"AVG({x})", g, name, "value")
                add(f"STDDEV_SAMP({x})", g, name, "sd")
                for stat, p in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
                    add(f"{quantile}({x}, {p})", g, name, stat)
            elif var.kind == "boolean":
                flag = dialect.try_cast(column, dialect.boolean)
                add(f"SUM(CASE WHEN {member[g]} AND {flag} THEN 1 ELSE 0 END)", g, name, "count", "yes")
                add(f"SUM(CASE WHEN {member[g]} AND {flag} IS NOT NULL THEN 1 ELSE 0 END)", g, name, "known")
            else:
                text = f"CAST({column} AS {dialect.text})"
                levels = [binder.bind(level) for level in var.categories]
                for level, placeholder in zip(var.categories, levels, strict=True):
                    add(f"SUM(CASE WHEN {member[g]} AND {text} = {placeholder} THEN 1 ELSE 0 END)", g, name,
                        "count", level)
                known = f"{text} IN ({', '.join(levels)})" if levels else "FALSE"
                add(f"SUM(CASE WHEN {member[g]} AND {known} THEN 1 ELSE 0 END)", g, name, "known")
    flags = f"({eligible}) AS __te_e, ({remaining}) AS __te_r"
    if inner is None:
        source = f"(SELECT src.*, {flags} FROM {q(t['features'])} AS src) AS src"
    else:
        source = (f"(SELECT src.*, {flags} FROM ({inner}) AS m JOIN {q(t['features'])} AS src "
                  f"ON src.{q(schema.row_column)} = m.subject_row) AS src")
    return f"SELECT {', '.join(columns)} FROM {source}", {**params, **binder.values}, layout


def baseline_rows(values: Sequence, layout: Sequence[tuple[str, ...]], variables: Sequence[str], catalogue,
                  groups: Sequence[str]) -> list[dict]:
    """The engine's one row of aggregates as table 1's rows (explorer.engine.baseline's layout)."""
    from explorer.engine.baseline import _smd_number, _smd_proportion
    got: dict[tuple, float] = {}
    for value, what in zip(values, layout, strict=True):
        got[what] = np.nan if value is None else value
    size = {g: int(got[(g, "", "size")]) for g in groups}
    rows = [{"variable": "subjects", "level": "", "statistic": "n", **{f"{g}_n": size[g] for g in groups}}]
    for name in variables:
        var = catalogue[name]
        present = (groups[0], name, "n") in got or (groups[0], name, "known") in got
        if var.kind == "number":
            row = {"variable": name, "level": "", "statistic": "mean (SD); median [Q1, Q3]"}
            per_group = {}
            for g in groups:
                n = int(got[(g, name, "n")]) if present else 0
                per_group[g] = {"n": n, **{k: (float(got[(g, name, k)]) if present and n else np.nan)
                                           for k in ("value", "sd", "median", "q1", "q3")},
                                "missing": size[g] - n}
                if n < 2:
                    per_group[g]["sd"] = np.nan
                row.update({f"{g}_{k}": v for k, v in per_group[g].items()})
            if "eligible" in per_group:
                row["smd"] = _smd_number(per_group["eligible"], per_group["screened"])
            rows.append(row)
            continue
        levels = ["yes"] if var.kind == "boolean" else list(var.categories)
        for level in levels:
            row = {"variable": name, "level": level, "statistic": "n (% of known)"}
            pct = {}
            for g in groups:
                known = int(got[(g, name, "known")]) if present else 0
                count = int(got[(g, name, "count", level)]) if present else 0
                pct[g] = 100.0 * count / known if known else np.nan
                row.update({f"{g}_n": count, f"{g}_value": pct[g], f"{g}_missing": size[g] - known})
            if "eligible" in pct:
                row["smd"] = _smd_proportion(pct["eligible"], pct["screened"])
            rows.append(row)
    return rows


def duckdb_aggregate(backend, sql: str, params: dict) -> tuple:
    """One row of aggregates computed inside DuckDB."""
    import duckdb

    from explorer.errors import DataError
    try:
        return backend.con.execute(sql, params).fetchone()
    except duckdb.Error as err:
        raise DataError(f"DuckDB could not compute table 1: {err}") from None


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


def duckdb_edit_table(backend, criteria: Sequence, j: int, variables: Sequence[str], catalogue, limit: int,
                      con=None, reduce: bool | str = True):
    """edit_table_sql run inside DuckDB (on `con`, else the backend's connection): (an Arrow table of w0.., v0..,
    n; what v0, v1, ... are)."""
    import duckdb

    from explorer.errors import DataError
    sql, params, kept = edit_table_sql(criteria, j, variables, catalogue, backend.schema, backend_dialect(backend),
                                       limit, reduce)
    try:
        relation = (con or backend.con).sql(sql, params=params)
        # DuckDB 2.x names it to_arrow_table(), 1.x arrow()
        return (relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()), kept
    except duckdb.Error as err:
        raise DataError(f"DuckDB could not count the values of criterion {criteria[j].id}: "
                        f"{' '.join(str(err).split())}") from None


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


__all__ = ["PER_WORD", "baseline_rows", "baseline_sql", "count_windows", "duckdb_aggregate", "duckdb_edit_table", "duckdb_histogram",
           "edit_table_sql", "duckdb_subjects", "histogram_sql", "status_sql", "subjects_sql", "unpack", "with_assumed"]
