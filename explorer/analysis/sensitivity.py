"""Threshold sensitivity: the eligible count as a function of one criterion's parameter, and its variable's spread.

For a numeric parameter p of criterion C, with every other enabled criterion applied as it is:

    pool        subjects no other enabled criterion excludes (FAIL); "eligible so far" also PASS them all
    histogram   the distribution of C's variable in the pool, over p's allowed range, and the share unknown
    curve       eligible / possibly eligible / remaining counts if p took each value of its allowed range

The curve never re-reads the cohort per point. When p appears once in C's rule, in a comparison with a
catalogue variable (`x >= p`, `p <= x <= q`, `a >= p or b < q`), the rule is a Kleene function f of that
one comparison; evaluating C twice with the comparison replaced by `true` and by `false` gives f(true) and
f(false) per subject, and a subject whose x is unknown has the status it has now. Each subject's place
on the grid (how many grid values lie below its x) is found once by binary search, O(n log G), and the
subjects for whom f(true) and f(false) differ are ordered by place (radix sort, O(n)); the counts at all
G points are then one cumulative sum of their pool membership, O(n + G) per curve. Any other use of p (`count(e, within_days=p)`, `x >= p * y`, p used
twice) is evaluated exactly at each point, on the pool only, with one engine call for the whole grid, and so
is a comparison with a variable that has censored values ("<0.017"): the engine decides those on their interval
(unknown where p lies inside it), which a subject's one place on the grid cannot say.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer import expr
from explorer.analysis.rules import compared_variable, sole_comparison, split_chains, substituted
from explorer.cohort.compact import float_values
from explorer.engine import eligible_mask, evaluate
from explorer.engine.memory import censored_variables
from explorer.errors import DefinitionError

DEFAULT_BINS = 30
MAX_EXACT_POINTS = 101  # exact re-evaluation evaluates the rule once per point: keep the grid bounded
MAX_GRID_POINTS = 2001  # a step too fine for the range is coarsened to this many points


@dataclass(frozen=True)
class Sensitivity:
    """How the counts move with one parameter; see the module docstring for the definitions."""

    criterion: str
    parameter: str
    label: str
    unit: str | None
    current: float
    minimum: float
    maximum: float
    method: str                      # "single comparison" or "exact re-evaluation"
    variable: str | None             # the variable the parameter is compared with, when there is one
    curve: pd.DataFrame              # value, eligible, possibly_eligible, remaining
    histogram: pd.DataFrame | None   # left, right, pool, eligible_so_far (counts of known values per bin)
    pool: int                        # subjects no other enabled criterion excludes
    eligible_so_far: int             # subjects who PASS every other enabled criterion
    unknown: int                     # pool subjects whose variable is unknown
    below: int                       # pool subjects with a known value below the allowed range
    above: int                       # ... above it

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.pool if self.pool else float("nan")

    def at(self, value: float) -> dict[str, int]:
        """The curve's counts at one of its grid values."""
        rows = self.curve[np.isclose(self.curve["value"], value, rtol=0, atol=1e-9)]
        if rows.empty:
            raise DefinitionError(f"{value:g} is not on the curve's grid of {self.parameter}",
                                  criterion=self.criterion, field=self.parameter)
        row = rows.iloc[0]
        return {k: int(row[k]) for k in ("eligible", "possibly_eligible", "remaining")}


def threshold_sensitivity(matrix, screening, criterion: str, parameter: str, *,
                          enabled: Iterable[str] | None = None, policies: Mapping[str, str] | None = None,
                          bins: int = DEFAULT_BINS, grid: Iterable[float] | None = None) -> Sensitivity:
    """The sensitivity of the eligible count to `criterion`.`parameter` (see the module docstring).

    `matrix` is the EligibilityMatrix of the (edited) trial over `screening`; `enabled` and `policies`
    are the funnel's choices (default: every criterion, each with its own unknown policy). `grid`
    overrides the parameter values of the curve (default: its allowed range in its control steps).
    bins=0 leaves the histogram out (the curve alone). `screening` must be a Screening in memory.
    """
    trial = matrix.trial
    if trial is None:
        raise DefinitionError("the matrix carries no trial; build it with explorer.engine.evaluate")
    spec = trial.criterion(criterion)
    if parameter not in spec.parameters:
        raise DefinitionError(f"no parameter {parameter!r}; this criterion has {sorted(spec.parameters) or 'none'}",
                              criterion=criterion, field="parameter")
    param = spec.parameters[parameter]
    if not hasattr(screening, "features"):
        raise DefinitionError("sensitivity reads the variable's values from a Screening in memory; for a "
                              "Parquet/CSV layout folder pass explorer.engine.read_screening(folder)",
                              field="screening")
    if len(screening.features) != matrix.n_subjects:
        raise DefinitionError("the screening has a different number of subjects than the matrix; pass the "
                              "screening the matrix was evaluated on", field="screening")
    enabled_ids = list(matrix.ids if enabled is None else enabled)
    policies = dict(policies or {})
    policy = policies.get(criterion, spec.unknown)
    others = [c for c in enabled_ids if c != criterion]
    so_far = eligible_mask(matrix, enabled=others, policies=policies)
    pool = eligible_mask(matrix, enabled=others, policies=policies, possibly=True)
    values = _grid(param, grid)

    tree = split_chains(spec.tree)
    atom = sole_comparison(tree, parameter, spec, trial.catalogue)
    if atom is not None and atom[0] in censored_variables(screening):
        # a censored value ("<0.017") is decided on its interval: the threshold's place inside it makes the
        # subject unknown, which one sorted place per subject cannot say; the engine's own evaluation can
        atom = None
    if atom is not None:
        variable, op = atom
        counts = _single_comparison_curve(matrix, screening, spec, tree, parameter, op, variable, values, policy, so_far, pool)
        method = "single comparison"
    else:
        values = _thinned(values, float(param.value))
        counts = _exact_curve(matrix, screening, spec, parameter, values, policy, so_far, pool)
        method = "exact re-evaluation"
        variable = compared_variable(tree, parameter, spec, trial.catalogue)
    eligible, remaining = counts
    curve = pd.DataFrame({"value": values, "eligible": eligible, "possibly_eligible": remaining - eligible,
                          "remaining": remaining})
    curve.attrs["counts"] = ["eligible", "possibly_eligible", "remaining"]
    curve.attrs["percents"] = {}

    histogram, unknown, below, above = None, 0, 0, 0
    if variable is not None and bins:
        x = _variable_values(screening, variable)
        histogram, unknown, below, above = _histogram(x, pool, so_far, param.min, param.max, bins)
    return Sensitivity(criterion=criterion, parameter=parameter, label=param.label or parameter, unit=param.unit,
                       current=float(param.value), minimum=float(param.min), maximum=float(param.max),
                       method=method, variable=variable, curve=curve, histogram=histogram,
                       pool=int(pool.sum()), eligible_so_far=int(so_far.sum()), unknown=unknown,
                       below=below, above=above)


# --- the grid and the histogram -----------------------------------------------------------------------

def _grid(param, grid: Iterable[float] | None) -> np.ndarray:
    if grid is not None:
        values = np.asarray(list(grid), dtype=float)
        outside = values[(values < param.min) | (values > param.max)]
        if len(outside):
            raise DefinitionError(f"grid value {outside[0]:g} is outside the allowed range "
                                  f"[{param.min:g}, {param.max:g}]", field="grid")
    else:
        span = param.max - param.min
        step = param.step or (span / 100 if span else 1.0)
        steps = span / step
        if steps < MAX_GRID_POINTS:
            count = int(np.floor(steps + 1e-9)) + 1
            # multiples of the step from the minimum, as the control offers them (rounded against float drift)
            values = np.round(param.min + step * np.arange(count), 10) if count > 1 else np.array([param.min])
        else:  # a step too fine for the range (5e-324 makes `steps` infinite): the whole range, evenly coarsened;
            # MAX_GRID_POINTS multiples of the step covered only the range's start
            values = np.linspace(param.min, param.max, MAX_GRID_POINTS)
        values = np.append(values, param.max)
    return np.unique(np.append(values, float(param.value)))


def _histogram(x: np.ndarray, pool: np.ndarray, so_far: np.ndarray, low: float, high: float, bins: int):
    known = ~np.isnan(x)
    in_pool = x[pool & known]
    span = (low, high) if high > low else (low, low + 1.0)
    # bins as a count with a range: numpy's equal-width path, no sort of the values
    counts, edges = np.histogram(in_pool, bins=bins, range=span)
    eligible_counts, _ = np.histogram(x[so_far & known], bins=bins, range=span)
    frame = pd.DataFrame({"left": edges[:-1], "right": edges[1:], "pool": counts.astype(np.int64),
                          "eligible_so_far": eligible_counts.astype(np.int64)})
    frame.attrs["counts"] = ["pool", "eligible_so_far"]
    frame.attrs["percents"] = {}
    unknown = int(np.count_nonzero(pool)) - len(in_pool)
    return frame, unknown, int(np.count_nonzero(in_pool < edges[0])), int(np.count_nonzero(in_pool > edges[-1]))


def _variable_values(screening, variable: str) -> np.ndarray:
    features = screening.features
    if variable not in features.columns:  # absent from the source: unknown for every subject
        return np.full(len(features), np.nan)
    return float_values(features[variable])


# --- the two ways of computing the curve ------------------------------------------------------------------

def _variant(spec, criterion_id: str, **changes):
    # model_copy skips validation: the variants are the checked criterion with a constant or another value
    return spec.model_copy(update={"id": criterion_id, **changes})


def _masks(sub, criterion_id: str, policy: str) -> tuple[np.ndarray, np.ndarray]:
    """(PASS, not FAIL) of one criterion of a matrix under a policy."""
    policies = {criterion_id: policy}
    return (eligible_mask(sub, enabled=[criterion_id], policies=policies),
            eligible_mask(sub, enabled=[criterion_id], policies=policies, possibly=True))


def _narrow(screening, tree, rows: np.ndarray):
    """The screening with only the rows of the pool and the columns the rule reads: evaluating it costs less."""
    columns = [n for n in expr.names(tree) if n in screening.features.columns]
    features = screening.features[columns].iloc[rows]
    censored = getattr(screening, "censored", None)
    if censored is not None and len(censored):  # the intervals of the pool's subjects only, in its terms
        censored = censored[censored["subject_id"].astype(str).isin(features.index.astype(str)).to_numpy(dtype=bool)]
        censored = censored.assign(subject_id=censored["subject_id"].astype(str))
    return dataclasses.replace(screening, features=features, censored=censored)


def _uses_events(tree) -> bool:
    return any(isinstance(n, expr.Call) and n.func == "count" for n in expr.walk(tree))


def _variants_matrix(matrix, screening, spec, variants, rows: np.ndarray | None):
    """The variants evaluated with the matrix's own engine (its converted columns and event index are
    cached, so this costs only the rule's arithmetic), or, for `rows`, on those rows only. Event counts
    always use the engine: indexing the events table again for a subset costs more than it saves."""
    trial = matrix.trial.model_copy(update={"criteria": variants})
    if matrix.backend is not None and (rows is None or _uses_events(spec.tree)):
        return matrix.with_trial(trial), None
    if rows is None:
        rows = np.arange(matrix.n_subjects)
    return evaluate(trial, _narrow(screening, spec.tree, rows)), rows


@dataclass(frozen=True)
class _Ordered:
    """Subjects ordered by a grid place (0..G), and how many of them have a place <= g, for each g."""

    rows: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray, place: np.ndarray, points: int) -> _Ordered:
        places = place[rows]
        order = np.argsort(places, kind="stable")  # int16 places: NumPy's radix sort, O(n)
        return cls(rows[order], np.cumsum(np.bincount(places, minlength=points + 1))[:points])

    def at_most(self, group: np.ndarray) -> tuple[np.ndarray, int]:
        """For each g, how many of `group` among these subjects have a place <= g; and how many in all."""
        cumulative = np.concatenate([[0], np.cumsum(group[self.rows], dtype=np.int64)])
        return cumulative[self.ends], int(cumulative[-1])


def _places_needed(op: str) -> tuple[str, ...]:
    # x < p_g iff g >= right; x <= p_g iff g >= left (right / left: grid values at or below / below x)
    return {"<": ("right",), ">=": ("right",), "<=": ("left",), ">": ("left",)}.get(op, ("left", "right"))


def _count_true(ordered: dict[str, _Ordered], group: np.ndarray, op: str) -> np.ndarray:
    """For each grid point p_g, how many of `group` among these subjects have `x op p_g`."""
    at = {name: o.at_most(group) for name, o in ordered.items()}
    total = next(iter(at.values()))[1]
    if op in ("<", ">="):
        below = at["right"][0]
        return below if op == "<" else total - below
    if op in ("<=", ">"):
        below = at["left"][0]
        return below if op == "<=" else total - below
    equal = at["left"][0] - at["right"][0]
    return equal if op == "==" else total - equal


@dataclass(frozen=True)
class _Switches:
    """Who counts at each grid point, for one outcome (PASS, or not FAIL) of the criterion, whatever the pool."""

    always: np.ndarray                 # counts at every p (f(true) and f(false) both count, or x unknown and counts now)
    when_true: dict[str, _Ordered]     # subjects who count iff `x op p`, by grid place
    when_false: dict[str, _Ordered]    # subjects who count iff not `x op p`

    @classmethod
    def of(cls, op: str, points: int, known: np.ndarray, places: dict[str, np.ndarray], if_true: np.ndarray,
           if_false: np.ndarray, now: np.ndarray) -> _Switches:
        always = (known & if_true & if_false) | (~known & now)
        def ordered(mask):
            rows = np.flatnonzero(known & mask)
            return {name: _Ordered.of(rows, places[name], points) for name in _places_needed(op)}
        return cls(always, ordered(if_true & ~if_false), ordered(~if_true & if_false))

    def counts(self, group: np.ndarray, op: str) -> np.ndarray:
        """How many of `group` count at each grid point: gathers and cumulative sums, no sort, no search."""
        in_false = next(iter(self.when_false.values())).at_most(group)[1]
        return (np.count_nonzero(group & self.always) + _count_true(self.when_true, group, op)
                + in_false - _count_true(self.when_false, group, op))


def _cached(cache: dict, key: tuple, screening, make):
    """cache[key] made once per screening object (ids of freed objects can be reused: check identity)."""
    if key not in cache or cache[key][0] is not screening:
        cache[key] = (screening, make())
    return cache[key][1]


def _single_comparison_curve(matrix, screening, spec, tree, parameter, op, variable, values, policy, so_far, pool):
    # f(true), f(false) and each subject's place on the grid depend on the rule, the policy and the grid
    # alone: kept on the matrix, so toggling other criteria (which keeps the matrix) costs only the counting
    cache = matrix.__dict__.setdefault("_sensitivity_cache", {})
    rule = (spec.id, parameter, spec.kind, spec.expression, tuple(sorted(spec.parameter_values().items())), policy,
            id(screening))

    def outcomes():
        variants = [_variant(spec, "T", expression=substituted(tree, parameter, True)),
                    _variant(spec, "F", expression=substituted(tree, parameter, False))]
        sub = _variants_matrix(matrix, screening, spec, variants, None)[0]
        # a subject whose x is unknown keeps its current status, whatever p
        return _masks(sub, "T", policy), _masks(sub, "F", policy), _masks(matrix, spec.id, policy)

    def places():
        x = _variable_values(screening, variable)
        # each subject's place on the grid: how many grid values lie below its x (left) and at or below it
        # (right); NaN lands after every grid value, and those subjects are never looked up (x unknown)
        small = np.int16 if len(values) < np.iinfo(np.int16).max else np.int32  # int16 sorts by radix
        return (~np.isnan(x), {"left": np.searchsorted(values, x, side="left").astype(small),
                               "right": np.searchsorted(values, x, side="right").astype(small)})

    def switches():
        (pass_true, ok_true), (pass_false, ok_false), (pass_now, ok_now) = _cached(cache, rule, screening, outcomes)
        known, at = _cached(cache, ("at", variable, grid, id(screening)), screening, places)
        points = len(values)
        return (_Switches.of(op, points, known, at, pass_true, pass_false, pass_now),
                _Switches.of(op, points, known, at, ok_true, ok_false, ok_now))

    grid = tuple(values.tolist())
    passing, not_failing = _cached(cache, (*rule, grid), screening, switches)
    return passing.counts(so_far, op), not_failing.counts(pool, op)


def _thinned(values: np.ndarray, current: float) -> np.ndarray:
    """At most MAX_EXACT_POINTS evenly spread grid values, the current value always among them."""
    if len(values) <= MAX_EXACT_POINTS:
        return values
    keep = np.unique(np.round(np.linspace(0, len(values) - 1, MAX_EXACT_POINTS - 1)).astype(int))
    return np.unique(np.append(values[keep], current))


def _exact_curve(matrix, screening, spec, parameter, values, policy, so_far, pool):
    def evaluated():
        variants = []
        for i, v in enumerate(values):
            parameters = dict(spec.parameters)
            parameters[parameter] = parameters[parameter].model_copy(update={"value": float(v)})
            variants.append(_variant(spec, f"P{i}", parameters=parameters))
        return _variants_matrix(matrix, screening, spec, variants, np.flatnonzero(pool))

    if matrix.backend is not None and _uses_events(spec.tree):
        # evaluated over the whole cohort, so it does not depend on the pool: kept for later calls
        cache = matrix.__dict__.setdefault("_sensitivity_cache", {})
        key = ("exact", spec.id, parameter, spec.kind, spec.expression,
               tuple(sorted(spec.parameter_values().items())), tuple(values.tolist()))
        if key not in cache:
            cache[key] = evaluated()
        sub, rows = cache[key]
    else:
        sub, rows = evaluated()
    so_far, pool = (so_far, pool) if rows is None else (so_far[rows], pool[rows])
    eligible, remaining = [], []
    for i in range(len(values)):
        passes, ok = _masks(sub, f"P{i}", policy)
        eligible.append(int(np.count_nonzero(passes & so_far)))
        remaining.append(int(np.count_nonzero(ok & pool)))
    return np.array(eligible, dtype=np.int64), np.array(remaining, dtype=np.int64)
