"""Builders of explorer.expr trees for extracted rules: rules are trees, printed once with expr.to_text.

Joining expression text and deciding parentheses by looking for " or " in it is how readings went wrong;
a tree keeps the grouping the extractor meant, and `expr.to_text` prints it canonically.
"""

from __future__ import annotations

from functools import cache

from explorer import expr


def name(n: str) -> expr.Name:
    return expr.Name(n)


def compare(variable: str, op: str, bound: str) -> expr.Compare:
    """`variable op bound`, the bound a named parameter."""
    return expr.Compare((op,), (expr.Name(variable), expr.Name(bound)))


def equals(variable: str, category: str) -> expr.Compare:
    return expr.Compare(("==",), (expr.Name(variable), expr.Str(category)))


def uln_compare(variable: str, op: str, multiple: str) -> expr.Compare:
    """`alt > k * alt_uln`: a multiple of the upper limit of normal of the lab that measured it."""
    return expr.Compare((op,), (expr.Name(variable),
                                expr.Arith("*", expr.Name(multiple), expr.Name(f"{variable}_uln"))))


def count(event: str, days: int, op: str, bound: str) -> expr.Compare:
    call = expr.Call("count", (expr.Name(event),), (("within_days", expr.Num(float(days))),))
    return expr.Compare((op,), (call, expr.Name(bound)))


def _joined(op: str, nodes) -> expr.Node:
    flat: list[expr.Node] = []
    for node in nodes:
        # "a or (b or c)" is "a or b or c": flatten so the printed text has no needless brackets
        flat.extend(node.operands if isinstance(node, expr.BoolOp) and node.op == op else (node,))
    if not flat:
        raise ValueError(f"nothing to join with {op!r}")
    return flat[0] if len(flat) == 1 else expr.BoolOp(op, tuple(flat))


def any_of(nodes) -> expr.Node:
    return _joined("or", nodes)


def all_of(nodes) -> expr.Node:
    return _joined("and", nodes)


def at_least(n: int, nodes) -> expr.Node:
    """`at_least(n, a, b, ...)`: "n of the following"."""
    return expr.Call("at_least", (expr.Num(float(n)), *nodes), ())


def negate(node: expr.Node) -> expr.Node:
    return expr.Not(node)


@cache
def concept(text: str) -> expr.Node:
    """A concept's expression as the lexicon writes it (our own data, parsed by the expression grammar)."""
    return expr.parse(text)


def text(node: expr.Node | None) -> str:
    return "" if node is None else expr.to_text(node)
