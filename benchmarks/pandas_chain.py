"""The baseline the engine benchmarks compare against: the pandas chain a researcher would write by hand.

bench_engine.py and bench_spark.py time a toggle on the engine's matrix against this chain re-run in full.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer import expr


class PandasChain:
    """Each criterion as the pandas filter one would write by hand; every change re-filters from the top.

    Two-valued, as such code usually is: a comparison with a missing value is False, a missing flag
    counts as False. Event counts are precomputed once as columns (generous to the baseline).
    """

    def __init__(self, trial, screening):
        self.trial = trial
        names = set()
        for c in trial.criteria:
            if c.computable:
                names |= {n for n in expr.names(c.tree) if n in screening.features.columns}
        self.frame = screening.features[sorted(names)].copy()
        for c in trial.criteria:
            if not c.computable:
                continue
            for node in expr.walk(c.tree):
                if isinstance(node, expr.Call) and node.func == "count":
                    days = self._days(node, c.parameter_values())
                    self.frame[self._count_column(node.args[0].name, days)] = self._count(screening, node.args[0].name, days)

    @staticmethod
    def _days(node, params) -> float:
        return expr.count_window(node, params)

    @staticmethod
    def _count_column(event: str, days: float) -> str:
        return f"__{expr.count_column(event, days)}"

    @staticmethod
    def _count(screening, event: str, days: float) -> pd.Series:
        ev = screening.events
        counts = ev[(ev["event"] == event) & (ev["days_before_index"] <= days)].groupby("subject_id").size()
        counts = counts.reindex(screening.features.index, fill_value=0).astype(float)
        lookback = screening.event_lookback[event].reindex(screening.features.index)
        return counts.where(lookback >= days)

    def mask(self, df: pd.DataFrame, node, params) -> pd.Series:
        e = lambda n: self.value(df, n, params)  # noqa: E731
        match node:
            case expr.BoolOp(op=op, operands=ops):
                out = self.mask(df, ops[0], params)
                for o in ops[1:]:
                    out = (out & self.mask(df, o, params)) if op == "and" else (out | self.mask(df, o, params))
                return out
            case expr.Not(operand=o):
                return ~self.mask(df, o, params)
            case expr.Compare(ops=ops, operands=operands):
                out = None
                for op, a, b in zip(ops, operands, operands[1:], strict=False):
                    left, right = e(a), e(b)
                    step = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
                            "==": left == right, "!=": left != right}[op]
                    step = step.fillna(False).astype(bool) if isinstance(step, pd.Series) else step
                    out = step if out is None else out & step
                return out
            case expr.In(operand=o, values=values, negated=negated):
                out = e(o).isin([v.value for v in values]).fillna(False).astype(bool)
                return ~out if negated else out
            case expr.Name(name=n) if n in df.columns:
                return df[n].fillna(False).astype(bool)
            case expr.Bool(value=v):
                return pd.Series(v, index=df.index)
            case expr.Call(func="known", args=args):
                return e(args[0]).notna()
        raise ValueError(f"no pandas form for {node!r}")

    def value(self, df, node, params):
        match node:
            case expr.Num(value=v):
                return v
            case expr.Str(value=v):
                return v
            case expr.Bool(value=v):
                return v
            case expr.Name(name=n):
                if n in params:
                    return params[n]
                return df[n] if n in df.columns else pd.Series(np.nan, index=df.index)
            case expr.Arith(op=op, left=a, right=b):
                x, y = self.value(df, a, params), self.value(df, b, params)
                if op == "+":
                    return x + y
                if op == "-":
                    return x - y
                return x * y if op == "*" else x / y
            case expr.Neg(operand=o):
                return -self.value(df, o, params)
            case expr.Call(func="count", args=args):
                return df[self._count_column(args[0].name, self._days(node, params))]
            case expr.Call(func="abs", args=args):
                return self.value(df, args[0], params).abs()
            case expr.Call(func=f, args=args) if f in ("min", "max"):
                parts = pd.concat([self.value(df, a, params) for a in args], axis=1)
                return parts.min(axis=1) if f == "min" else parts.max(axis=1)
        return self.mask(df, node, params)

    def funnel(self, enabled: set[str]) -> list[int]:
        """The whole chain, as re-run after a change: filter criterion by criterion, count what is left."""
        df, counts = self.frame, [len(self.frame)]
        for c in self.trial.criteria:
            if c.id not in enabled or not c.computable:
                counts.append(len(df))
                continue
            keep = self.mask(df, c.tree, c.parameter_values())
            df = df[~keep] if c.kind == "exclusion" else df[keep]
            counts.append(len(df))
        return counts
