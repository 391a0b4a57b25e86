"""Reading a criterion's rule for one of its parameters: where the parameter is compared, and with what.

The threshold-sensitivity shortcut (explorer.analysis.sensitivity) needs the rule as a function of one
comparison `x op p`: chains are split into their pairwise comparisons (`a <= x <= b` is `a <= x and
x <= b`, which the engines evaluate identically), the comparison that uses p is found, and the rule can be
printed with that comparison replaced by `true` or `false`. Trees are rebuilt and printed with
explorer.expr, never spliced as text.
"""

from __future__ import annotations

import dataclasses

from explorer import expr

# swapping the sides of a comparison: p < x is x > p
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}

def rewrite(node, fn):
    """The tree with fn applied bottom-up (fn returns a replacement node or the node itself)."""
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple) and value and all(dataclasses.is_dataclass(v) for v in value):
            changes[f.name] = tuple(rewrite(v, fn) for v in value)
        elif isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            changes[f.name] = tuple((k, rewrite(v, fn)) for k, v in value)  # Call kwargs
        elif dataclasses.is_dataclass(value):
            changes[f.name] = rewrite(value, fn)
    return fn(dataclasses.replace(node, **changes) if changes else node)


def split_chains(tree):
    """`a <= x <= b` as `a <= x and x <= b`, which the engines evaluate identically, so each part is one atom."""
    def split(node):
        if isinstance(node, expr.Compare) and len(node.ops) > 1:
            pairs = tuple(expr.Compare((op,), (a, b)) for op, a, b in
                          zip(node.ops, node.operands, node.operands[1:], strict=False))
            return expr.BoolOp("and", pairs)
        return node
    return rewrite(tree, split)


def uses(tree, parameter: str) -> int:
    return sum(1 for n in expr.walk(tree) if isinstance(n, expr.Name) and n.name == parameter)


def _number_variable(node, spec, catalogue) -> str | None:
    if (isinstance(node, expr.Name) and node.name not in spec.parameters and node.name in catalogue
            and catalogue[node.name].kind == "number"):
        return node.name
    return None


def sole_comparison(tree, parameter: str, spec, catalogue) -> tuple[str, str] | None:
    """(variable, op) when the parameter appears once, as `variable op parameter` (either side)."""
    if uses(tree, parameter) != 1:
        return None
    for node in expr.walk(tree):
        if isinstance(node, expr.Compare) and len(node.ops) == 1:
            a, b = node.operands
            if isinstance(b, expr.Name) and b.name == parameter and (v := _number_variable(a, spec, catalogue)):
                return v, node.ops[0]
            if isinstance(a, expr.Name) and a.name == parameter and (v := _number_variable(b, spec, catalogue)):
                return v, _FLIPPED[node.ops[0]]
    return None


def compared_variable(tree, parameter: str, spec, catalogue) -> str | None:
    """For a histogram in the exact case: the one number variable in the comparisons that use the parameter."""
    found = set()
    for node in expr.walk(tree):
        if isinstance(node, expr.Compare) and any(uses(o, parameter) for o in node.operands):
            for operand in node.operands:
                found |= {v for n in expr.walk(operand) if (v := _number_variable(n, spec, catalogue))}
    return found.pop() if len(found) == 1 else None


def substituted(tree, parameter: str, value: bool) -> str:
    """The rule's text with the comparison that uses the parameter replaced by a constant."""
    def replace(node):
        if isinstance(node, expr.Compare) and any(uses(o, parameter) for o in node.operands):
            return expr.Bool(value)
        return node
    return expr.to_text(rewrite(tree, replace))
