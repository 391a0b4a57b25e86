""""At least two of the following: A; B; C" as one rule: `at_least(2, A, B, C)`, each alternative its own rules.

The count is read only when it says "at least n" (not "no more than two of", "exactly two of") and every rule lies
in one of the alternatives after it. An alternative no rule reads makes the count unreadable in an inclusion (the
rule would fail people who meet n alternatives through it); in an exclusion it is left out and named (the rule then
excludes fewer people than the text, the side faithful.py allows when it is said).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from explorer import expr
from explorer.registry import lexicon, trees
from explorer.registry.model import Rule
from explorer.registry.values import WORD_NUM, parse_number

# words before "two of the following" that make it no lower bound
_NOT_AT_LEAST = re.compile(r"(?:(?:more|fewer|less)\s+than|at\s+most|up\s+to|exactly|only|maximum\s+of)\s*$", re.I)
# where one alternative ends and the next begins, once criteria.py has joined a list's items with "; "
_ITEM = re.compile(r"[^;\n•]+")


@dataclass(frozen=True)
class Counted:
    tree: expr.Node | None      # None: the count is there but cannot be read (problem says why)
    left_out: tuple[str, ...] = ()
    problem: str = ""


def _count(text: str) -> tuple[re.Match, int] | None:
    m = lexicon.N_OF_FOLLOWING.search(text)
    if m is None or _NOT_AT_LEAST.search(text[:m.start()]):
        return None
    word = re.search(rf"\b(?:[2-9]|{WORD_NUM})\b", m.group(0), re.I)
    return (m, int(parse_number(word.group(0)))) if word else None


def at_least_of_following(text: str, kind: str, rules: list[Rule], combine) -> Counted | None:
    """The criterion's count of alternatives as one tree, or None when the text states no such count."""
    found = _count(text)
    if found is None or not rules:
        return None
    m, n = found
    if any(r.span[0] < m.end() for r in rules):
        return Counted(None, problem="a rule is read before the count of alternatives; not computable")
    items = [p.span() for p in _ITEM.finditer(text, m.end()) if re.search(r"[A-Za-z]{3,}", p.group(0))]
    if len(items) == 1:
        # inline: "two of the following: BMI > 30, HbA1c > 6.5% or SBP > 140": one alternative per rule, when
        # nothing but a list's commas and joints lies between them (an unread word between would be an alternative)
        gaps = [text[a.span[1]:b.span[0]] for a, b in zip(rules, rules[1:], strict=False)]
        if not all(re.fullmatch(r"[\s,]*(?:(?:and\s*/\s*or|or|and)\s*)?[\s,]*", g, re.I) for g in gaps):
            return Counted(None, problem="the alternatives after the count are not one rule each; not computable")
        groups = [[r] for r in rules]
        unread: list[str] = []
    else:
        groups = [[r for r in rules if a <= r.span[0] and r.span[1] <= b] for a, b in items]
        if sum(map(len, groups)) != len(rules):
            return Counted(None, problem="a rule spans two alternatives after the count; not computable")
        unread = [" ".join(text[a:b].split()) for (a, b), g in zip(items, groups, strict=True) if not g]
        groups = [g for g in groups if g]
    if unread and kind == "inclusion":
        return Counted(None, problem=f"not every alternative after {m.group(0)!r} is read (not {unread[0]!r}); "
                                     "counting only those read would fail people the text admits; not computable")
    if n > len(groups):
        return Counted(None, problem=f"{m.group(0)!r} of {len(groups)} read alternatives; not computable")
    alternatives = [combine(text, kind, g)[0] for g in groups]
    return Counted(trees.at_least(n, alternatives), tuple(f"{u} (an alternative of {m.group(0)!r} not read: the rule excludes fewer people "
                               "than the text)" for u in unread))
