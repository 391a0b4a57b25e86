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
        for operand in node.operands if isinstance(node, expr.BoolOp) and node.op == op else (node,):
            if operand not in flat:  # "a and a" is "a": one group named for two rules is stated once
                flat.append(operand)
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


def factor_common(node: expr.Node) -> expr.Node:
    """`(c or a) and (c or b)` is `c or a and b`, and `c and a or c and b` is `c and (a or b)` (distributive in
    three-valued logic too): a term every operand shares is stated once. Used for the group a criterion names
    (groups.py), which each of its rules carries."""
    if not isinstance(node, expr.BoolOp):
        return node
    operands = [factor_common(o) for o in node.operands]
    dual = "or" if node.op == "and" else "and"
    if len(operands) > 1 and all(isinstance(o, expr.BoolOp) and o.op == dual for o in operands):
        common = [c for c in operands[0].operands if all(c in o.operands for o in operands[1:])]
        if common:
            rests = [[x for x in o.operands if x not in common] for o in operands]
            if all(rests):
                inner = _joined(node.op, [_joined(dual, r) for r in rests])
                return _joined(dual, [*common, inner])
            return _joined(dual, common)  # one operand is the common terms alone: it absorbs the others
    return _joined(node.op, operands)


def negate(node: expr.Node) -> expr.Node:
    return expr.Not(node)


def per_group(limits, *, exhaustive: bool) -> expr.Node:
    """One limit per group, `C1 and L1 or C2 and L2`; a group whose limit is None is not constrained (`C1 or ...`).

    Under three-valued logic `C1 and L1 or C2 and L2` stays unknown when the group is, even where the value decides:
    creatinine 3.0 with limits 1.5 (men) and 1.4 (women) is beyond both, whatever the sex. When the groups are
    exhaustive (C and not C; both sexes of a catalogue that has exactly those two), every completion of the group
    takes one of the limits, so "beyond every limit" decides alone: the consensus term `L1 and L2` adds it. With it
    the disjunction holds all its prime implicants, and Kleene evaluation equals the completion semantics (true when
    true for every completion of the unknowns, false when false for every one). In two-valued logic the term
    changes nothing (it is implied by the others). A group without a limit makes the consensus the other limits
    alone; a single limit absorbs its own group's term: `sex == "female" or x > a`. Exact for two groups (every
    use here); with more, the sharpness is not claimed.
    """
    limits = list(limits)
    if not limits:
        raise ValueError("per_group needs at least one group")
    stated = [limit for _, limit in limits if limit is not None]
    if not exhaustive or not stated:
        return any_of([group if limit is None else all_of([group, limit]) for group, limit in limits])
    free = [group for group, limit in limits if limit is None]
    if len(stated) == 1 and free:
        # the free groups, then the one limit: it holds for everyone else, and absorbs its own group's term
        return any_of([*free, stated[0]])
    return any_of([*(group if limit is None else all_of([group, limit]) for group, limit in limits),
                   all_of(stated)])


@cache
def concept(text: str) -> expr.Node:
    """A concept's expression as the lexicon writes it (our own data, parsed by the expression grammar)."""
    return expr.parse(text)


def text(node: expr.Node | None) -> str:
    return "" if node is None else expr.to_text(node)
