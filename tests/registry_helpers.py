"""Test helper: three-valued (Kleene) evaluation of expression trees on made-up subjects.

Used to check that two expressions mean the same (or that one implies the other) without an engine.
"""

from __future__ import annotations

import random

from explorer import expr
from explorer.catalogue import default_catalogue


def evaluate(node, subject: dict, params: dict):
    match node:
        case expr.Num(value=v):
            return v
        case expr.Str(value=v):
            return v
        case expr.Bool(value=v):
            return v
        case expr.Name(name=n):
            return params[n] if n in params else subject.get(n)
        case expr.Not(operand=o):
            v = evaluate(o, subject, params)
            return None if v is None else not v
        case expr.BoolOp(op=op, operands=ops):
            values = [evaluate(o, subject, params) for o in ops]
            if op == "and":
                return False if False in values else (None if None in values else True)
            return True if True in values else (None if None in values else False)
        case expr.Compare(ops=ops, operands=operands):
            values = [evaluate(o, subject, params) for o in operands]
            if any(v is None for v in values):
                return None
            result = True
            for op, a, b in zip(ops, values, values[1:], strict=False):
                result = result and {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
                                     "!=": a != b}[op]
            return result
        case expr.In(operand=o, values=vals, negated=neg):
            v = evaluate(o, subject, params)
            if v is None:
                return None
            found = v in [evaluate(x, subject, params) for x in vals]
            return not found if neg else found
        case expr.Arith(op=op, left=left, right=right):
            a, b = evaluate(left, subject, params), evaluate(right, subject, params)
            if a is None or b is None:
                return None
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
        case expr.Call(func="count", args=args, kwargs=kwargs):
            days = evaluate(dict(kwargs)["within_days"], subject, params)
            return subject.get(("count", args[0].name, round(days)))
    raise TypeError(node)


def random_subjects(names: set[str], n: int = 400, seed: int = 7) -> list[dict]:
    catalogue = default_catalogue()
    rng = random.Random(seed)
    subjects = []
    for _ in range(n):
        s: dict = {}
        for name in names:
            var = catalogue.get(name)
            if var is None:
                continue
            if rng.random() < 0.1:
                s[name] = None
            elif var.kind == "number":
                low, high = var.range
                s[name] = rng.choice([rng.uniform(low, min(high, low + (high - low) / 4)),
                                      rng.uniform(low, high), float(rng.randint(0, 12)), rng.uniform(0, 3)])
            elif var.kind == "boolean":
                s[name] = rng.random() < 0.5
            elif var.kind == "category":
                s[name] = rng.choice(var.categories)
            elif var.kind == "event":
                for days in (28, 61, 91, 182, 365):
                    s[("count", name, days)] = rng.choice([0, 0, 1, 2, 3, None])
        for lab in ("alt", "ast", "bilirubin"):
            if lab in names and f"{lab}_uln" not in names:
                s[f"{lab}_uln"] = rng.choice([40.0, 50.0, None])
        subjects.append(s)
    return subjects


def truth_table(expression: str, params: dict, subjects: list[dict]) -> list:
    tree = expr.parse(expression)
    return [evaluate(tree, s, params) for s in subjects]


def names_of(expression: str) -> set[str]:
    return expr.names(expr.parse(expression))
