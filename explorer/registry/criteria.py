"""Split an eligibility section into inclusion and exclusion criteria.

Handles the list styles registries publish: numbered (`1.`, `1)`, `(1)`, `a.`, `i.`), bulleted (`-`, `*`,
`•`), nested lists (a parent's text is kept as context of its children), lists run onto one line
(`Inclusion Criteria: * A * B 1. C 2. D`), wrapped lines, unmarked one-per-line lists and paragraphs,
and headings in varied spellings. Nothing is dropped: every piece of text ends up in a criterion's
text or in its children's context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from explorer.registry import lexicon

MAX_CRITERIA = 500  # a 100 KB wall of text still yields a bounded list


@dataclass(frozen=True)
class RawCriterion:
    kind: str            # "inclusion" | "exclusion" | "unknown" (no heading said which)
    text: str            # the criterion as one line of text
    context: str = ""    # the parent item or sub-heading it sits under, if any
    marker: str = ""     # the list marker as written ("3.", "-", "a)")
    level: int = 0       # nesting depth (0 = top level)

    @property
    def full_text(self) -> str:
        return f"{self.context}: {self.text}" if self.context else self.text


# Headings: English plus the common registry languages, so a non-English record still splits.
_INCLUSION = (r"(?:key\s+|main\s+|general\s+)?inclusion\s+criteri(?:a|on)s?|criteria\s+for\s+inclusion|inclusions?"
              r"|crit[eè]res\s+d['’]inclusion|criterios\s+de\s+inclusi[oó]n|einschlusskriterien|入选标准|纳入标准")
_EXCLUSION = (r"(?:key\s+|main\s+|general\s+)?(?:exclusion|non[- ]inclusion|ineligibility)\s+criteri(?:a|on)s?"
              r"|criteria\s+for\s+exclusion|exclusions?|crit[eè]res\s+(?:d['’]exclusion|de\s+non[- ]inclusion)"
              r"|criterios\s+de\s+exclusi[oó]n|ausschlusskriterien|排除标准")
_NEUTRAL = r"eligibility\s+criteria|criteria"
_HEADING_LINE = re.compile(
    rf"^\s*(?:[-*•]\s*)?(?P<h>(?P<inc>{_INCLUSION})|(?P<exc>{_EXCLUSION})|(?P<neu>{_NEUTRAL}))"
    rf"\s*(?:\(.{{0,40}}?\)\s*)?(?:include|are|is|as follows)?\s*[:：.\-–]?\s*(?P<rest>.*)$", re.I)
# A heading met mid-line in run-on text: needs its colon, so "meets the inclusion criteria" stays text.
_INLINE_HEADING = re.compile(rf"(?<=[^\s*•-])\s+(?=(?:{_INCLUSION}|{_EXCLUSION})\s*[:：])", re.I)

_MARKER = re.compile(
    r"^(?P<indent>[ \t]*)(?P<m>[-*•·▪◦‣○●]|\d{1,2}[.)](?!\d)|\(\d{1,2}\)|\([a-z]\)|[a-z]\)|[a-z]\.(?=\s)"
    r"|\(?[ivx]{1,4}[.)](?=\s)|\d{1,2}\.(?=[A-Z]))(?P<sp>[ \t]*)(?P<rest>\S.*)$")
_ONE_OF = re.compile(r"\b(one|any|either|at least one|one or more)\s+of\s+(the\s+)?following\b", re.I)


def unwrap(text: str) -> str:
    return " ".join(text.split())


def _explode_run_on(text: str) -> str:
    """Put run-on headings, bullets and numbered items on lines of their own."""
    text = _INLINE_HEADING.sub("\n", text)
    # " * item" / " • item" bullets inside a line
    text = re.sub(r"(?<=\S)[ \t]+(?=[*•][ \t]+\S)", "\n", text)
    text = re.sub(r"(?<=[:;.])[ \t]+(?=-[ \t]+[A-Z])", "\n", text)
    lines = []
    for line in text.split("\n"):
        lines.extend(_split_inline_numbers(line))
    return "\n".join(lines)


def _split_inline_numbers(line: str) -> list[str]:
    """'1. A; 2. B 3.C' -> three lines, only when the numbers run 1, 2, 3, ... (not '7.5 mmol')."""
    candidates = list(re.finditer(r"(?:(?<=^)|(?<=[\s;:,.]))(\d{1,2})[.)](?=\s*[A-Za-z(])", line))
    if len(candidates) < 2:
        return [line]
    cuts, expected = [], None
    for m, following in zip(candidates, candidates[1:] + [None], strict=True):
        n = int(m.group(1))
        if expected is not None and n == expected:
            cuts.append(m.start())
            expected += 1
        elif not cuts and (n == 1 or (following is not None and int(following.group(1)) == n + 1
                                      and line[m.end():m.end() + 1].isupper())):
            cuts.append(m.start())
            expected = n + 1
    if len(cuts) < 2:
        return [line]
    pieces = [line[: cuts[0]]] + [line[a:b] for a, b in zip(cuts, cuts[1:] + [len(line)], strict=True)]
    return [p.rstrip() if i == 0 else "  " + p.strip() for i, p in enumerate(pieces) if p.strip()]


@dataclass
class _Item:
    kind: str
    marker: str
    indent: int          # column of the marker (or of the text, for unmarked paragraphs)
    lines: list[str]
    parent: _Item | None = None
    children: list[_Item] | None = None

    @property
    def text(self) -> str:
        return unwrap(" ".join(self.lines))


def _is_heading_like(text: str) -> bool:
    """'Cardiovascular Disease', 'Metabolic Disease:' -- a sub-heading, not a criterion of its own."""
    words = text.rstrip(":").split()
    return text.endswith(":") or (0 < len(words) <= 4 and not re.search(r"[\d.;,()]", text)
                                  and all(w[:1].isupper() or w.lower() in {"and", "of", "or", "the"} for w in words))


def split_criteria(text: str) -> list[RawCriterion]:
    """The eligibility text as a flat list of criteria, in order, each knowing its kind and context."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    if not text.strip():
        return []
    text = _explode_run_on(text)
    kind = "unknown"
    items: list[_Item] = []
    stack: list[_Item] = []       # open marked items, by indent
    current: _Item | None = None
    blank_before = True
    for raw in text.split("\n"):
        if not raw.strip():
            blank_before = True
            continue
        heading = _HEADING_LINE.match(raw)
        if heading and (heading.group("inc") or heading.group("exc") or heading.group("neu")) \
                and _looks_like_heading(heading):
            if heading.group("inc"):
                kind = "inclusion"
            elif heading.group("exc"):
                kind = "exclusion"
            stack, current = [], None
            rest = heading.group("rest").strip()
            if rest:
                raw = "  " + rest
            else:
                blank_before = True
                continue
        marker = _MARKER.match(raw)
        if marker:
            indent = len(marker.group("indent"))
            while stack and stack[-1].indent >= indent:
                stack.pop()
            item = _Item(kind, marker.group("m"), indent, [marker.group("rest")], parent=stack[-1] if stack else None)
            items.append(item)
            stack.append(item)
            current = item
        else:
            indent = len(raw) - len(raw.lstrip())
            line = raw.strip()
            continues = current is not None and (
                (not blank_before and not _ends_item(current, line))
                or (blank_before and current.marker and indent > current.indent))
            if continues:
                current.lines.append(line)
            else:
                while stack and stack[-1].indent >= indent:
                    stack.pop()
                item = _Item(kind, "", indent, [line], parent=stack[-1] if stack else None)
                items.append(item)
                current = item
            if current.lines[-1].endswith(":") and (not stack or stack[-1] is not current):
                stack.append(current)  # "Is taking any of the following:" heads the items below it
        blank_before = False

    for item in items:
        if item.parent is not None:
            item.parent.children = (item.parent.children or []) + [item]
    out: list[RawCriterion] = []
    for item in items:
        if item.parent is not None and _merged_into_parent(item.parent):
            continue
        if item.children and _merged_into_parent(item):
            joined = "; ".join(c.text for c in _descendants(item))
            out.append(RawCriterion(item.kind, f"{item.text} {joined}", _context(item), item.marker, _level(item)))
            continue
        if item.children and _is_heading_like(item.text):
            continue  # its text lives on as the children's context
        out.append(RawCriterion(item.kind, item.text, _context(item), item.marker, _level(item)))
        if len(out) >= MAX_CRITERIA:
            break
    return out


def _looks_like_heading(match: re.Match) -> bool:
    """'Inclusion Criteria:' is a heading; 'Inclusion of patients with ...' is not."""
    rest = match.group("rest")
    head = match.group("h").lower()
    line = match.group(0)
    if rest.strip() and match.group("h")[:1].islower() and not re.search(r"[:：]", line[:match.end("h") + 3]):
        return False  # "inclusion criteria of another study" on a wrapped line continues the item above it
    if head in {"inclusion", "inclusions", "exclusion", "exclusions", "criteria"}:
        return bool(re.search(rf"{re.escape(match.group('h'))}\s*[:：]", line, re.I)) or not rest.strip()
    return not re.match(r"\s*\[?\d", rest)  # "Inclusion Criterion [3]" is a reference, not a heading


def _ends_item(current: _Item, line: str) -> bool:
    """An unmarked line after an unmarked one-per-line item starts a new item."""
    if current.marker:
        return False
    previous = current.lines[-1]
    return previous.endswith((";", ".", ":")) and len(previous) < 110 and (
        line[:1].isupper() or (previous.endswith(";") and line[:1].isdigit()))


def _merged_into_parent(item: _Item) -> bool:
    """Alternatives ("one of the following:") in an inclusion list form one criterion; in an exclusion list
    each alternative excludes on its own, so they stay separate."""
    # "at least two of the following:" is one criterion in both lists: no alternative alone includes or excludes
    # (read as one rule by counted.py)
    return bool(item.children) and ((item.kind != "exclusion" and bool(_ONE_OF.search(item.text)))
                                    or bool(lexicon.N_OF_FOLLOWING.search(item.text)))


def _descendants(item: _Item) -> list[_Item]:
    out = []
    for child in item.children or []:
        out.append(child)
        out.extend(_descendants(child))
    return out


def _context(item: _Item) -> str:
    parts = []
    parent = item.parent
    while parent is not None:
        parts.append(parent.text.rstrip(":"))
        parent = parent.parent
    return ": ".join(reversed(parts))


def _level(item: _Item) -> int:
    level, parent = 0, item.parent
    while parent is not None:
        level, parent = level + 1, parent.parent
    return level
