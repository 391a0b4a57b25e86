"""Step 1 of extraction: where a criterion names catalogue variables, unmapped measurements, concepts, events."""

from __future__ import annotations

import re
from functools import cache

from explorer.registry import lexicon
from explorer.registry.model import Mention


@cache
def compiled_terms():
    numeric = [(re.compile(p, re.I), (name,)) for name, pats in lexicon.NUMERIC_TERMS.items() for p in pats]
    groups = [(re.compile(p, re.I), names) for names, pats in lexicon.GROUP_TERMS.items() for p in pats]
    unmapped = [(re.compile(p, re.I), ()) for p in lexicon.UNMAPPED_TERMS]
    # a concept starts a word: "mental disorders" inside "neurodevelopmental disorders" is no mention
    concepts = [(re.compile(rf"(?<![A-Za-z])(?:{p})", re.I), expr) for expr, pats in lexicon.CONCEPTS for p in pats]
    events = [(re.compile(p, re.I), name) for name, pats in lexicon.EVENTS.items() for p in pats]
    return numeric + groups, unmapped, concepts, events


def non_overlapping(found: list, key=lambda m: (m[0], -(m[1] - m[0]))) -> list:
    out, taken_until = [], -1
    occupied: list[tuple[int, int]] = []
    for item in sorted(found, key=key):
        start, end = item[0], item[1]
        if any(start < e and end > s for s, e in occupied):
            continue
        occupied.append((start, end))
        out.append(item)
        taken_until = max(taken_until, end)
    return sorted(out)


def variable_mentions(text: str) -> list[Mention]:
    mapped, unmapped, _, _ = compiled_terms()
    found = []
    for pattern, names in mapped:
        for m in pattern.finditer(text):
            names_here = names
            before = text[max(0, m.start() - 30):m.start()].lower()
            if names == ("creatinine",) and re.search(r"albumin|ratio|/\s*g\b|per\s+g\b|mg\s*/\s*$", before):
                names_here = ()
            if names == ("age",) and re.search(r"(?:reproductive|childbearing|child-bearing|gestational|bearing)\s*$",
                                               before):
                continue
            if names == ("age",) and re.search(r"(?:onset|diagnosis|diagnosed|since)\b[^.;]{0,25}$", before):
                names_here = ()
            found.append((m.start(), m.end(), names_here, m.group(0)))
    for pattern, names in unmapped:
        for m in pattern.finditer(text):
            found.append((m.start(), m.end(), names, m.group(0)))
    # the longest name wins where names overlap ("fasting plasma glucose" over "glucose")
    chosen = non_overlapping(found)
    merged: list[Mention] = []
    for s_, e_, names, t in chosen:
        last = merged[-1] if merged else None
        if last and last.variables == names and re.fullmatch(r"\s*[\[(]\s*", text[last.end:s_]):
            close = re.match(r"\s*[\])]", text[e_:])
            end = e_ + (close.end() if close else 0)
            merged[-1] = Mention(last.start, end, names, text[last.start:end])
            continue
        merged.append(Mention(s_, e_, names, t))
    return merged
