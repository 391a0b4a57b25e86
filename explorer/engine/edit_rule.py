"""What of a criterion's rule an edit table must keep: each parameter-free part as one truth, and comparisons
decided over their parameter's whole allowed range as that truth, not as the values they read.

An edit table (explorer.engine.edit_histogram) has one row per distinct (statuses of the others, values the rule
reads). Most of those distinctions cannot change the criterion's status at any value of its parameters, and they
made the tables of rules with many variables (I5 reads seven, E4 six) as large as a tenth of the cohort at 10^6:

- a *part*: a largest boolean subtree naming no parameter (`gada_positive or ia2a_positive or ...`,
  `diabetes_type == "T1D"`): its truth (true, false, unknown) is all the rule reads of it, whatever the parameters;
- an *atom*: a comparison `<`, `<=`, `>`, `>=` in which one parameter occurs once, linearly (`x >= p`,
  `x >= p * u`, `count(e, within_days=365) >= p`). Its truth is monotone in the parameter, so where it is the
  same at the parameter's allowed minimum and maximum (alt far below the upper limit of normal, a duration of 40
  years against a minimum of 0-30), it is that for every allowed value, and the values it reads are not needed;
- a rule whose root is `and` (`or`) with a part or decided atom that is false (true) is decided whole: the row
  keeps none of its values.

The table holds one truth code column per part (0 false, 1 true, 2 unknown) and per atom (the same, or OPEN: the
values are kept and the atom is evaluated); the memory engine evaluates `tree`, the rule over those columns
(boolean columns named edit#..., a name no variable can have: a rule's names are identifiers), so three-valued logic stays the memory
engine's. A parameter's value is always within its allowed range (explorer.trial.Parameter refuses one outside),
so a decided comparison holds at every value a later edit can set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.expr import Arith, Bool, BoolOp, Call, Compare, In, Name, Neg, Node, Not, Num, names, walk

OPEN = 3  # an atom's code where its truth depends on the parameter: its values are kept
MONOTONE = ("<", "<=", ">", ">=")
BOOLEAN_CALLS = ("known", "at_least")


@dataclass(frozen=True)
class Atom:
    node: Compare
    parameter: str


@dataclass(frozen=True)
class EditRule:
    """A criterion's rule as its edit table reads it (see the module)."""

    parts: tuple[Node, ...]
    atoms: tuple[Atom, ...]
    tree: Node              # the rule over the columns part_name(k), open_name(m), decided_name(m)
    root: str | None        # "and" / "or" when the rule's root is one
    top_parts: tuple[int, ...]   # parts and atoms that are operands of the root
    top_atoms: tuple[int, ...]

    def columns(self) -> list[str]:
        """The boolean columns the memory engine reads beside the values."""
        return ([part_name(k) for k in range(len(self.parts))]
                + [n for m in range(len(self.atoms)) for n in (open_name(m), decided_name(m))])


def part_name(k: int) -> str:
    return f"edit#part{k}"


def open_name(m: int) -> str:
    return f"edit#open{m}"


def decided_name(m: int) -> str:
    return f"edit#decided{m}"


def free_parameters(criterion: Any, free: str | None) -> set[str]:
    """The parameters a table answers every value of: `free` alone (the others are fixed at their values, like
    anything parameter-free), or all of them (None)."""
    return set(criterion.parameters) if free is None else {free}


def edit_rule(criterion: Any, catalogue: Any, free: str | None = None) -> EditRule:
    """The parts and atoms of the criterion's rule, and the rule over them, for edits of the `free` parameter (every
    parameter: None); a fixed parameter is read at its value, as a part."""
    parameters = free_parameters(criterion, free)
    parts: list[Node] = []
    atoms: list[Atom] = []

    def boolean(node: Node) -> bool:
        if isinstance(node, (Compare, In, Not, BoolOp, Bool)):
            return True
        if isinstance(node, Call):
            return node.func in BOOLEAN_CALLS
        return isinstance(node, Name) and node.name in catalogue and catalogue[node.name].kind == "boolean"

    def rewrite(node: Node) -> Node:
        if not boolean(node):
            return node
        if not names(node) & parameters:
            parts.append(node)
            return Name(part_name(len(parts) - 1))
        parameter = _atom_parameter(node, parameters)
        if parameter is not None:
            atoms.append(Atom(node, parameter))
            m = len(atoms) - 1
            # open: the comparison itself; decided: its truth over the whole range (Kleene: false and x is false)
            return BoolOp("or", (BoolOp("and", (Name(open_name(m)), node)),
                                 BoolOp("and", (Not(Name(open_name(m))), Name(decided_name(m))))))
        if isinstance(node, BoolOp):
            return BoolOp(node.op, tuple(rewrite(o) for o in node.operands))
        if isinstance(node, Not):
            return Not(rewrite(node.operand))
        return node

    tree = criterion.tree
    root = tree.op if isinstance(tree, BoolOp) else None
    top_parts: list[int] = []
    top_atoms: list[int] = []
    if root is not None:
        operands = []
        for operand in tree.operands:
            before_parts, before_atoms = len(parts), len(atoms)
            operands.append(rewrite(operand))
            if len(parts) == before_parts + 1 and operands[-1] == Name(part_name(before_parts)):
                top_parts.append(before_parts)
            elif len(atoms) == before_atoms + 1 and len(parts) == before_parts and \
                    atoms[-1].node is operand:
                top_atoms.append(before_atoms)
        new_tree: Node = BoolOp(root, tuple(operands))
    else:
        new_tree = rewrite(tree)
    return EditRule(tuple(parts), tuple(atoms), new_tree, root, tuple(top_parts), tuple(top_atoms))


def _atom_parameter(node: Node, parameters: set[str]) -> str | None:
    """The parameter of a comparison monotone in it (one ordering operator, the parameter once, linearly), or None."""
    if not (isinstance(node, Compare) and len(node.ops) == 1 and node.ops[0] in MONOTONE):
        return None
    found = [n.name for n in walk(node) if isinstance(n, Name) and n.name in parameters]
    if len(found) != 1:
        return None
    return found[0] if any(_linear(o, found[0]) for o in node.operands) else None


def _linear(node: Node, parameter: str) -> bool:
    """The operand is p, -p, p + x, x + p, p - x, x - p, p * x, x * p or p / x (p occurs once in the comparison, so
    x is free of it): monotone in p, so the comparison's truth changes at most once over p's range."""
    if isinstance(node, Name):
        return node.name == parameter
    if isinstance(node, Neg):
        return _linear(node.operand, parameter)
    if isinstance(node, Arith):
        left = isinstance(node.left, Name) and node.left.name == parameter
        right = isinstance(node.right, Name) and node.right.name == parameter
        if node.op in "+-*":
            return left or right
        return node.op == "/" and left
    return False


@dataclass(frozen=True)
class WindowCount:
    """A count(event, within_days=p) whose window p is a parameter. Its table keeps, per subject, the event's
    look-back and the days before the index date of the `latest` most recent events: the count at any window W is
    then how many of those are within W (where the history covers W), exact up to `latest`, and the rule's
    comparisons of the count read no further (`latest` is the largest threshold they compare it with, one more
    unless the comparison is `count >= k`)."""

    event: str
    parameter: str
    latest: int


def window_counts(criterion: Any, free: str | None = None) -> tuple[WindowCount, ...] | None:
    """The rule's counts whose window is a `free` parameter (every parameter: None), or None when one is read
    otherwise than compared with a number or a parameter (its table then holds the count at one window)."""
    moving = free_parameters(criterion, free)
    latest: dict[tuple[str, str], int] = {}
    compared: set[int] = set()
    for node in walk(criterion.tree):
        if not (isinstance(node, Compare) and len(node.ops) == 1):
            continue
        for side, (count, other) in enumerate((node.operands, node.operands[::-1])):
            window = count.kwarg("within_days") if isinstance(count, Call) and count.func == "count" else None
            if not (isinstance(window, Name) and window.name in moving):
                continue
            if isinstance(other, Num):
                largest = other.value
            elif isinstance(other, Name) and other.name in criterion.parameters:
                largest = criterion.parameters[other.name].max
            else:
                return None
            at_least = node.ops[0] == (">=", "<=")[side]  # count >= k, or k <= count
            needed = max(0, math.ceil(largest) if at_least else math.floor(largest) + 1)
            key = (count.args[0].name, window.name)
            latest[key] = max(latest.get(key, 0), needed)
            compared.add(id(count))
    for node in walk(criterion.tree):
        if not (isinstance(node, Call) and node.func == "count"):
            continue
        window = node.kwarg("within_days")
        if isinstance(window, Name) and window.name in moving:
            if id(node) not in compared:
                return None
        elif any(event == node.args[0].name for event, _ in latest):
            return None  # the same event at a fixed window too: its column would be the capped count's at times
    return tuple(WindowCount(event, parameter, k) for (event, parameter), k in sorted(latest.items()))


__all__ = ["OPEN", "Atom", "EditRule", "WindowCount", "free_parameters", "window_counts", "decided_name", "edit_rule", "open_name", "part_name"]
