"""Examples in a criterion ("such as", "e.g.", "for example", "including"): alternatives, never all required.

"Conditions that preclude surgery, such as congenital anomalies or immunosuppressive disease" names cases of
its head; meeting any one of them meets the head, and the head holds cases the list does not name. So:
- in an inclusion, requiring an example (or all of them) fails people the text admits: the examples are
  left out, named, and the head decides (unread, it keeps the criterion partial or non-computable);
- in an exclusion, the examples read are some of the ways to be excluded: they are joined by "or" and the
  cases of the head beyond them are named as left out (the rule excludes fewer people than the text).
"""

from __future__ import annotations

import re

from explorer.registry.model import Rule

# "including but not limited to" is the same cue; "i.e." defines (all of it holds) and is no example
_CUE_WORDS = (r"such\s+as|e\.\s?g\.?|eg\.|for\s+example|for\s+instance|"
              r"including(?:\s+but\s+not\s+limited\s+to)?")
_CUE = re.compile(rf"\b(?:{_CUE_WORDS})(?=[\s:,(])", re.I)
_CUE_AT_END = re.compile(rf"[\s,(\[:]*\b(?:{_CUE_WORDS})\s*$", re.I)
# a list ends at its bracket's close, else at the end of its clause
# or where the sentence's own verb or a relative clause takes over again: "WOCBP, including those on birth control,
# must have ...", "an infection, such as HIV, that is stable"
_CLAUSE_END = re.compile(r";|\.(?:\s|$)|\n|,\s*(?:and\s+)?(?:must|should|shall|will|need|needs|are|is|has|have|who|"
                         r"which|that|whose)\b", re.I)


def example_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, cue) of each list of examples: from the cue to the end of its bracket or clause."""
    out = []
    for m in _CUE.finditer(text):
        opening = max(text.rfind("(", 0, m.start()), text.rfind("[", 0, m.start()))
        closing = {"(": ")", "[": "]"}.get(text[opening], "") if opening >= 0 else ""
        if closing and closing not in text[opening:m.start()]:
            end = text.find(closing, m.end())
            end = len(text) if end < 0 else end
        else:
            stop = _CLAUSE_END.search(text, m.end())
            end = stop.start() if stop else len(text)
        out.append((m.end(), end, " ".join(m.group(0).split())))
    return out


def _inside(rule: Rule, span: tuple[int, int, str]) -> bool:
    return span[0] <= rule.span[0] and rule.span[1] <= span[1]


def same_list(text: str, a: Rule, b: Rule) -> bool:
    """Whether two rules are examples of one list (so either one suffices: they join by "or")."""
    return any(_inside(a, s) and _inside(b, s) for s in example_spans(text))


def _head(text: str, start: int) -> str:
    """The words the examples are cases of: the clause before the cue (its last dozen words)."""
    before = _CUE_AT_END.sub("", text[:start])
    words = re.split(r"[;.](?:\s|$)", before)[-1].split()
    return " ".join(words[-12:])


def examples_read(text: str, kind: str, rules: list[Rule]) -> tuple[list[Rule], list[str], list[str]]:
    """(rules kept, notes, parts left out) once the examples among the rules are read as alternatives."""
    spans = [s for s in example_spans(text) if any(_inside(r, s) for r in rules)]
    if not spans:
        return list(rules), [], []
    notes: list[str] = []
    left_out: list[str] = []
    kept = list(rules)
    for span in spans:
        inside = [r for r in rules if _inside(r, span)]
        head = _head(text, span[0])
        if kind == "inclusion":
            kept = [r for r in kept if r not in inside]
            notes.append(f"{', '.join(repr(r.source) for r in inside)} given as examples after {span[2]!r} of "
                         f"{head!r}; requiring them would fail people the text admits; left out")
            left_out.append(f"{head} (examples after {span[2]!r} are alternatives, not requirements)")
        else:
            left_out.append(f"cases of {head!r} other than the examples read (the rule excludes fewer people "
                            "than the text)")
    return kept, notes, left_out
