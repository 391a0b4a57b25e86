"""Step 2 of extraction: values in a criterion's text (comparator + number + unit, ranges, ULN multiples).

Comparators in symbols and words, ranges written the usual ways ("7.0-10.0%", "between 7% and 10%",
">= 7 and <= 10", "2 to <12 years"), blood pressure pairs ("150/100 mmHg", "above 140/90"), decimal commas
("8,5 %": read as 8.5, never as 8), and multiples of the upper limit of normal ("2 x ULN", "twice the ULN").
"""

from __future__ import annotations

import re

from explorer.registry import lexicon
from explorer.registry.model import Value

NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![,\d])|\d+,\d{1,2}(?![\d,])|\d+(?:\.\d+)?(?!,\d)|\.\d+"
WORD_NUM = "|".join(sorted((w for w in lexicon.NUMBER_WORDS if len(w) > 2), key=len, reverse=True))
CMP_PHRASES: list[tuple[str, str]] = [
    # "greater than/equal to", "greater than/equals to": the slash stands for "or"
    (">=", r"(?:greater|more|higher)\s+than\s*/\s*equals?(?:\s+to)?|"
           r"(?:greater|more|higher)\s+than\s+or\s+equal(?:\s+to)?\s*\(\s*(?:≥|>=)\s*\)|>\s*_|(?:not|no)\s+(?:younger|lower|less)\s+than|at\s+or\s+(?:above|over|greater\s+than|higher\s+than|more\s+than)|≥\s*or\s*=|>\s*or\s*=|>\s*/\s*=|≥|≧|⩾|>=|=>|greater\s+than\s+or\s+equal(?:\s+to)?|"
           r"more\s+than\s+or\s+equal(?:\s+to)?|higher\s+than\s+or\s+equal(?:\s+to)?|equal\s+to\s+or\s+(?:greater|more|higher)\s+than|"
           r"equal\s+or\s+(?:greater|more)\s+than|equal\s+or\s+superior\s+to|=\s*/\s*>|at\s+least|no\s+less\s+than|not\s+less\s+than|(?:a\s+)?minimum\s+of|"
           # "age minimum 18 years", "age minimum: 18" (read from "Minimum age ...", extract._LIMIT_BEFORE_AGE)
           r"minimum\s*:|minimum\b|"
           r"not\s+below|not\s+lower\s+than|"
           # "greater or equal than 7%", "superior or equal to 18" (non-native wording of >=)
           r"(?:greater|more|higher|superior)\s+or\s+equal(?:\s+(?:than|to))?"),
    ("<=", r"(?:less|lower)\s+than\s*/\s*equals?(?:\s+to)?|up\s+to\s+and\s+including|"
           r"(?:less|lower)\s+than\s+or\s+equal(?:\s+to)?\s*\(\s*(?:≤|<=)\s*\)|<\s*_|(?:not|no)\s+(?:older|higher|more|greater)\s+than|at\s+or\s+(?:below|under|less\s+than|lower\s+than)|≤\s*or\s*=|<\s*or\s*=|<\s*/\s*=|≤|≦|⩽|<=|=<|less\s+than\s+or\s+equal(?:\s+to)?|lower\s+than\s+or\s+equal(?:\s+to)?|"
           r"equal\s+to\s+or\s+(?:less|lower)\s+than|equal\s+or\s+less\s+than|equal\s+or\s+inferior\s+to|=\s*/\s*<|no\s+more\s+than|not\s+more\s+than|"
           r"not\s+exceeding|not\s+to\s+exceed|no\s+greater\s+than|not\s+greater\s+than|no\s+higher\s+than|at\s+most|"
           r"up\s+to|(?:a\s+)?maximum\s+of|maximum\s*:|maximum\b|not\s+above|"
           r"(?:less|lower|smaller|inferior)\s+or\s+equal(?:\s+(?:than|to))?"),
    (">", r"(?:greater|more|higher)\s+than\s*\(\s*>\s*\)|>|＞|greater\s+than|more\s+than|higher\s+than|older\s+than|above|over|exceeding|exceeds?|in\s+excess\s+of|elevated\s+>|superior\s+to|"
           # "than" dropped ("Fasting glucose greater 150 mg/dL"): only ever before the number (values.cmp)
           r"greater"),
    ("<", r"(?:less|lower)\s+than\s*\(\s*<\s*\)|<|＜|less\s+than|lower\s+than|younger\s+than|below|under|fewer\s+than|inferior\s+to"),
]
# French too: "18 ans ou plus" / "et plus" (or more), "65 ans ou moins" (or less)
_TRAIL_PHRASES = [(">=", r"(?:of\s+age\s+)?(?:or|and)\s+(?:more|greater|higher|above|older|over|longer)|(?:ou|et)\s+plus|\+"),
                  ("<=", r"or\s+(?:less|lower|below|younger|fewer|under)|and\s+(?:under|younger|below)|ou\s+moins")]


def cmp_group(name: str) -> str:
    alternatives = "|".join(f"(?:{p})" for _, p in CMP_PHRASES)
    return f"(?P<{name}>{alternatives})"


def op_of(phrase: str) -> str:
    for op, pattern in CMP_PHRASES:
        if re.fullmatch(pattern, phrase.strip(), re.I):
            return op
    raise ValueError(phrase)


def _trail_op(phrase: str) -> str:
    for op, pattern in _TRAIL_PHRASES:
        if re.fullmatch(pattern, phrase.strip(), re.I):
            return op
    raise ValueError(phrase)


_UNIT = lexicon.unit_pattern()
_UNIT_WORD_GUARD = r"(?![A-Za-z])"


# "18-year or older", "3-mo to 5-yrs", "<12-months": a hyphen joins a number to its unit of age only (never "2-hour
# glucose" or "10-mg dose", whose hyphen makes an adjective of another kind)
_AGE_UNIT_HYPHEN = r"-(?=(?:years?|yrs?|months?|mos?)(?![A-Za-z]))"


def _unit_group(name: str) -> str:
    return rf"(?:(?:\s*|{_AGE_UNIT_HYPHEN})(?P<{name}>(?:{_UNIT}){_UNIT_WORD_GUARD}))?"


def _num(name: str, words: bool = False) -> str:
    alternatives = NUM + (f"|{WORD_NUM}" if words else "")
    return rf"(?<![\d.,])(?P<{name}>{alternatives})(?![\d])"


_ULN = rf"(?P<uln>\s*{lexicon.ULN_PATTERN})?"
# an "=" standing alone before a number, where some corpora flattened ">=" and "<=" (Chia: "aged =18 to =65 years");
# never part of a written sign ("<=", "=>", "=/<")
FLATTENED = r"(?<![<>≤≥=!/])=(?![<>=/])"
# an inclusive sign written inside a "between" range ("between ages >=18 and 65"): the range's own bounds, restated;
# a flattened "=" there says only that the bound is inclusive ("between =12 and 16 years")
_AT_LEAST = rf"(?:(?P<lo>>=|≥|=>|>|{FLATTENED})\s*)?"
_AT_MOST = rf"(?:(?P<hi><=|≤|=<|<|{FLATTENED})\s*)?"
# the upper bound of a range ("=18 to =65 years", "18 to =65"): "to" or a dash gives the direction, "=" the inclusion
_FLAT_TO = rf"(?:{FLATTENED}\s*)?"
_VALUE_PATTERNS: list[tuple[str, re.Pattern]] = [
    # French too: "entre 18 et 65 ans"
    ("between", re.compile(rf"\b(?:between|entre)(?:,?\s+and\s+including,?)?\s+{_AT_LEAST}{_num('a', words=True)}"
                           rf"{_unit_group('ua')}\s*(?:and|et|-|–|to)\s*{_AT_MOST}{_num('b')}"
                           rf"{_unit_group('ub')}{_ULN}", re.I)),
    # two limits each after a flattened "=" or the second after a written upper sign, joined by "and" or a comma
    # ("Age = 18 years and = 50 years", "age =18 and <75 years", "Ages =18 years old, < 80 years old"): read as the
    # range [a, b] only when a < b, in inclusions (find_values): the only reading in which both numbers matter
    ("flatpair", re.compile(rf"{FLATTENED}\s*{_num('a')}{_unit_group('ua')}(?:\s+(?:of\s+age|old))?"
                            rf"\s*(?:,?\s*and\b|,)\s*(?:{FLATTENED}|(?P<cb><=|≤|=<|<|less\s+than|under|below))"
                            rf"\s*{_num('b')}{_unit_group('ub')}{_ULN}", re.I)),
    # "from 7% to 10%", "from 7% up to (and including) 10%", "from 18 until 65 years": both ends inclusive
    ("fromto", re.compile(rf"\bfrom\s+{_num('a')}{_unit_group('ua')}\s*(?:to|-|–|up\s+to(?:\s+and\s+including)?|"
                          rf"through|until|till)\s*{_num('b')}{_unit_group('ub')}", re.I)),
    # a starting age alone ("Individuals of both sexes from 18 years with ...", "from the age of 16"): a lower bound;
    # only in years or months, never before "to", "until" or a time word ("from 2 years before screening": attach.py
    # and readings.py take it as an age or not at all)
    ("from", re.compile(rf"\bfrom\s+(?:the\s+age\s+of\s+)?{_num('a')}\s*(?P<ua>years?|yrs?|months?)(?![A-Za-z])"
                        rf"(?!\s*(?:to|-|–|until|till|through|up|and\s+(?:up|under|below|less)|or\s+(?:less|under|younger)|"
                        rf"before|after|prior|ago|since)\b)", re.I)),
    ("cmprange", re.compile(rf"{cmp_group('ca')}\s*{_num('a')}{_unit_group('ua')}\s*(?:,?\s*(?:and|but)\s+|,\s*|\s*-\s*)"
                            rf"(?:also\s+)?{cmp_group('cb')}\s*{_num('b')}{_unit_group('ub')}{_ULN}", re.I)),
    ("ages", re.compile(rf"\b(?:between\s+(?:the\s+)?ages?|ages)\s+(?:of\s+)?{_AT_LEAST}{_num('a')}{_unit_group('ua')}"
                        rf"\s*(?:and|-|–|to)\s*{_AT_MOST}{_num('b')}{_unit_group('ub')}", re.I)),
    ("dashcmp", re.compile(rf"(?:{cmp_group('ca')}\s*)?{_num('a')}{_unit_group('ua')}\s*(?:-|–|to)\s*{cmp_group('cb')}\s*{_num('b')}"
                           rf"{_unit_group('ub')}", re.I)),
    # the bound after a stated lower bound ("BMI >27 to 45"): read like the "to" of a range, inclusive
    ("cmpto", re.compile(rf"{cmp_group('ca')}\s*{_num('a')}{_unit_group('ua')}\s*(?:-|–|to)\s*{_num('b')}{_unit_group('ub')}"
                         rf"(?!\s*{lexicon.ULN_PATTERN})", re.I)),
    # a pair is blood pressure with its unit, or two- or three-digit numbers after a comparator ("above 140/90")
    ("bp", re.compile(rf"{cmp_group('c')}?\s*{_num('a')}\s*/\s*{_num('b')}\s*(?P<u>mm\s*hg)|"
                      rf"{cmp_group('c2')}\s*(?P<a2>\d{{2,3}})\s*/\s*(?P<b2>\d{{2,3}})(?![\d/])", re.I)),
    ("dash", re.compile(rf"{_num('a')}{_unit_group('ua')}\s*(?:-|–|—|to|through|à)\s*{_FLAT_TO}{_num('b')}{_unit_group('ub')}{_ULN}",
                        re.I)),
    # a multiple of the ULN bounded in words after it or before it ("3x ULN or higher", "within 2 times the ULN")
    ("ulnwithin", re.compile(rf"\bwithin\s+{_num('a', words=True)}\s*(?P<uln>{lexicon.ULN_PATTERN})", re.I)),
    ("ulntrail", re.compile(rf"{_num('a', words=True)}\s*(?P<uln>{lexicon.ULN_PATTERN})\s*"
                            rf"(?P<t>or\s+(?:more|greater|higher|above))\b", re.I)),
    ("ulntrail", re.compile(rf"{_num('a', words=True)}\s*{lexicon.FOLD_PATTERN}\s+(?P<t>or\s+(?:more|greater|higher))\s+"
                            rf"(?P<uln>(?:above|over)\s+{lexicon.ULN_PATTERN})", re.I)),
    # the multiple written after the limit's name: "ALT > ULN x 3", "AST ≥ 2 × the upper limit of normal" is above;
    # "> ULN x 3" and "> 3 x ULN" say the same
    ("ulnfirst", re.compile(rf"{cmp_group('c')}\s*(?:the\s+)?(?P<uln>ULN|UNL|upper\s+limits?\s+of\s+(?:the\s+)?normal)"
                            rf"\s*(?:x|×|\*|times)\s*{_num('a', words=True)}(?![\d.,]*\d)(?!\s*(?:%|(?:{_UNIT}){_UNIT_WORD_GUARD}))",
                            re.I)),
    ("cmp", re.compile(rf"{cmp_group('c')}\s*(?:than\s+)?(?:(?:the\s+)?age\s+(?:of\s+)?)?{_num('a', words=True)}{_unit_group('ua')}{_ULN}", re.I)),
    ("trail", re.compile(rf"{_num('a', words=True)}{_unit_group('ua')}\s*(?P<t>{'|'.join(p for _, p in _TRAIL_PHRASES)})",
                         re.I)),
    ("bare", re.compile(rf"{_num('a')}{_unit_group('ua')}{_ULN}", re.I)),
]
_WORDS_AFTER_NUMBER_OK = {"and", "or", "to", "in", "at", "of", "for", "on", "as", "with", "within", "prior", "before",
                          "after", "during", "the", "a", "an", "times", "x", "fold", "per", "than", "is", "are", "was",
                          "were", "be", "if", "by", "from", "measured", "but", "mg", "g", "ml", "l",
                          "episodes", "episode", "events", "event", "units", "unit",
                          # who the number is about, or what follows it: never a unit ("Age 18-64 patients who ...")
                          "who", "whose", "that", "which", "patients", "subjects", "participants", "people", "persons",
                          "individuals", "adults", "men", "women", "males", "females", "children", "volunteers",
                          "undergoing", "admitted", "scheduled", "presenting", "having", "weighing", "inclusive",
                          "enrollment", "enrolment", "will", "not", "must", "should", "can", "may"}  # not hours or minutes: "age of 10 hours" is no age in years


def parse_number(text: str) -> float:
    t = text.lower()
    if t in lexicon.NUMBER_WORDS:
        return float(lexicon.NUMBER_WORDS[t])
    if re.fullmatch(r"\d+,\d{1,2}", t):
        return float(t.replace(",", "."))  # a decimal comma ("8,5 %"); thousands take three digits
    return float(t.replace(",", ""))


def _unit_after(text: str, end: int) -> str:
    """The word right after a number when it is not a known unit (to reject '7 furlongs')."""
    m = re.match(r"\s*([A-Za-zµμ][A-Za-zµμ0-9/.^²]*)", text[end:])
    if not m:
        return ""
    word = m.group(1).rstrip(".")
    if word.lower() in _WORDS_AFTER_NUMBER_OK or word.lower() in lexicon.NUMBER_WORDS:
        return ""
    return word


# days in a unit of time: a range's two ends in different units ("from 6 months to 5 years") are ordered by what they
# mean, not by the numbers written (6 > 5, but 6 months < 5 years)
_DAYS_IN = {"years": 365.25, "months": 30.4375, "weeks": 7.0, "days": 1.0}


def _in_common_unit(numbers: tuple[float, ...], units: tuple[str | None, ...]) -> tuple[float, ...]:
    if len(units) == 2 and units[0] in _DAYS_IN and units[1] in _DAYS_IN:
        return tuple(n * _DAYS_IN[u] for n, u in zip(numbers, units, strict=True))
    return numbers


def find_values(text: str, *, flattened_pairs: bool = True) -> list[Value]:
    """Every value of the text, first form first (_VALUE_PATTERNS). `flattened_pairs=False` leaves out the pair of
    limits each written "=" ("= 18 and = 50 years"): a range in an inclusion, but an exclusion so written may mean
    either end ("under 18 or over 50"), so there each value is read alone (without a comparator: unstated.py)."""
    # the fraction slash of "mg⁄dL" is a slash; one character for one, so every offset stays the text's
    text = text.replace("\u2044", "/")
    values: list[Value] = []
    occupied: list[tuple[int, int]] = []
    for form, pattern in _VALUE_PATTERNS:
        if form == "flatpair" and not flattened_pairs:
            continue
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            while end > start and text[end - 1].isspace():
                end -= 1
            if any(start < e and end > s for s, e in occupied):
                continue
            g = m.groupdict()
            try:
                numbers = tuple(parse_number(g[k]) for k in ("a", "b") if g.get(k))
            except ValueError:
                continue
            units = tuple(lexicon.canonical_unit(g[k]) if g.get(k) else None for k in ("ua", "ub") if k in g)
            uln = bool(g.get("uln") and g["uln"].strip())
            if form == "bp":
                if g.get("a2"):
                    numbers = (parse_number(g["a2"]), parse_number(g["b2"]))
                    g["c"] = g["c2"]
                ops = (op_of(g["c"]),) if g.get("c") else ("",)
                numbers = numbers[:2]
                units = ("mmHg", "mmHg")
            elif form == "dashcmp":
                ops = (op_of(g["ca"]) if g.get("ca") else ">=", op_of(g["cb"]))  # ">18 to < 90": both as written
            elif form in {"between", "fromto", "dash", "ages"}:
                # a sign written inside "between" states that bound as written ("between >18 and 65": over 18); a
                # flattened "=" states only that it is inclusive, as a range's bounds are
                ops = (op_of(g["lo"]) if g.get("lo") and g["lo"] != "=" else ">=",
                       op_of(g["hi"]) if g.get("hi") and g["hi"] != "=" else "<=")
                if len(numbers) == 2 and _in_common_unit(numbers, units)[0] > _in_common_unit(numbers, units)[1]:
                    if g.get("lo") or g.get("hi"):
                        continue  # a sign on a range written high to low: which bound it states is a guess
                    numbers = (numbers[1], numbers[0])
                    units = tuple(reversed(units))
            elif form == "flatpair":
                if len(numbers) != 2 or numbers[0] >= numbers[1] or (all(units) and units[0] != units[1]):
                    continue  # "= 65 and = 18": which is the minimum is a guess; other forms read each alone
                ops = (">=", op_of(g["cb"]) if g.get("cb") else "<=")
            elif form == "cmprange":
                ops = (op_of(g["ca"]), op_of(g["cb"]))
            elif form == "cmpto":
                if op_of(g["ca"]) not in (">", ">="):
                    continue  # "< 5 to 10" is no range
                ops = (op_of(g["ca"]), "<=")
            elif form == "ulnwithin":
                ops = ("<=",)
            elif form in ("ulntrail", "from"):  # "3x ULN or higher", "from 18 years": lower limits
                ops = (">=",)
            elif form in ("cmp", "ulnfirst"):
                ops = (op_of(g["c"]),)
            elif form == "trail":
                ops = (_trail_op(g["t"]),)
            else:
                ops = ("",)
            unknown = ""
            if not any(units) and not uln:
                unknown = _unit_after(text, end)
            occupied.append((start, end))
            values.append(Value(start, end, form, ops, numbers, units, uln, unknown))
    return sorted(values, key=lambda v: v.start)

