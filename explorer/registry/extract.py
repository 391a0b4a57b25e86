"""Computable rules from one criterion's text, each with the span it came from and a confidence.

The pipeline is small and readable:

1. find mentions: catalogue variables (lexicon.NUMERIC_TERMS), measurements the catalogue lacks
   (UNMAPPED_TERMS, so their numbers are not pinned on a neighbour), concepts (CONCEPTS), events (EVENTS);
2. find values: comparator + number + unit, ranges written the usual ways ("7.0-10.0%", "between 7% and
   10%", ">= 7 and <= 10", "19 <= BMI <= 30", "18 years or older"), multiples of the upper limit of normal;
3. attach each value to the variable it follows (short, clean gap; a list "bilirubin, ALT and AST" shares
   one value), convert to the catalogue unit, reject unknown units and implausible numbers;
4. decide negation of concepts with NegEx (explorer.registry.negation);
5. join the rules with the criterion's own "and"/"or", and measure how much of the text they cover.
   A rule that reads only part of the criterion is kept only when leaving the rest out cannot turn a
   subject who meets the text into one who fails it; anything less certain stays non-computable, with the
   candidate reading in the note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from explorer import expr
from explorer.catalogue import default_catalogue
from explorer.registry import faithful, lexicon, trees
from explorer.registry.negation import negated_spans

MIN_CONFIDENCE = lexicon.MIN_CONFIDENCE
CAPS = lexicon.CONFIDENCE_CAPS
MAX_CRITERION_CHARS = 3000  # longer "criteria" are split failures or prose; not read

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![,\d])|\d+,\d{1,2}(?![\d,])|\d+(?:\.\d+)?(?!,\d)|\.\d+"
_WORD_NUM = "|".join(sorted((w for w in lexicon.NUMBER_WORDS if len(w) > 2), key=len, reverse=True))
_CMP_PHRASES: list[tuple[str, str]] = [
    (">=", r"at\s+or\s+(?:above|over|greater\s+than|higher\s+than|more\s+than)|≥\s*or\s*=|>\s*or\s*=|>\s*/\s*=|≥|≧|⩾|>=|=>|greater\s+than\s+or\s+equal(?:\s+to)?|"
           r"more\s+than\s+or\s+equal(?:\s+to)?|higher\s+than\s+or\s+equal(?:\s+to)?|equal\s+to\s+or\s+(?:greater|more|higher)\s+than|"
           r"equal\s+or\s+(?:greater|more)\s+than|at\s+least|no\s+less\s+than|not\s+less\s+than|(?:a\s+)?minimum\s+of|"
           r"not\s+below|not\s+lower\s+than"),
    ("<=", r"at\s+or\s+(?:below|under|less\s+than|lower\s+than)|≤\s*or\s*=|<\s*or\s*=|<\s*/\s*=|≤|≦|⩽|<=|=<|less\s+than\s+or\s+equal(?:\s+to)?|lower\s+than\s+or\s+equal(?:\s+to)?|"
           r"equal\s+to\s+or\s+(?:less|lower)\s+than|equal\s+or\s+less\s+than|no\s+more\s+than|not\s+more\s+than|"
           r"not\s+exceeding|not\s+to\s+exceed|no\s+greater\s+than|not\s+greater\s+than|no\s+higher\s+than|at\s+most|"
           r"up\s+to|(?:a\s+)?maximum\s+of|not\s+above"),
    (">", r">|＞|greater\s+than|more\s+than|higher\s+than|older\s+than|above|over|exceeding|exceeds?|in\s+excess\s+of|elevated\s+>"),
    ("<", r"<|＜|less\s+than|lower\s+than|younger\s+than|below|under|fewer\s+than|inferior\s+to"),
]
_TRAIL_PHRASES = [(">=", r"(?:of\s+age\s+)?(?:or|and)\s+(?:more|greater|higher|above|older|over)|\+"),
                  ("<=", r"or\s+(?:less|lower|below|younger|fewer|under)|and\s+(?:under|younger|below)")]


def _cmp_group(name: str) -> str:
    alternatives = "|".join(f"(?:{p})" for _, p in _CMP_PHRASES)
    return f"(?P<{name}>{alternatives})"


def _op_of(phrase: str) -> str:
    for op, pattern in _CMP_PHRASES:
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


def _unit_group(name: str) -> str:
    return rf"(?:\s*(?P<{name}>(?:{_UNIT}){_UNIT_WORD_GUARD}))?"


def _num(name: str, words: bool = False) -> str:
    alternatives = _NUM + (f"|{_WORD_NUM}" if words else "")
    return rf"(?<![\d.,])(?P<{name}>{alternatives})(?![\d])"


_ULN = rf"(?P<uln>\s*{lexicon.ULN_PATTERN})?"
_VALUE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("between", re.compile(rf"\bbetween\s+{_num('a')}{_unit_group('ua')}\s*(?:and|-|–|to)\s*{_num('b')}"
                           rf"{_unit_group('ub')}{_ULN}", re.I)),
    ("fromto", re.compile(rf"\bfrom\s+{_num('a')}{_unit_group('ua')}\s*(?:to|-|–)\s*{_num('b')}{_unit_group('ub')}",
                          re.I)),
    ("cmprange", re.compile(rf"{_cmp_group('ca')}\s*{_num('a')}{_unit_group('ua')}\s*(?:,?\s*(?:and|but)\s+|,\s*|\s*-\s*)"
                            rf"(?:also\s+)?{_cmp_group('cb')}\s*{_num('b')}{_unit_group('ub')}{_ULN}", re.I)),
    ("ages", re.compile(rf"\bbetween\s+(?:the\s+)?ages?\s+(?:of\s+)?{_num('a')}{_unit_group('ua')}\s*(?:and|-|–|to)\s*"
                        rf"{_num('b')}{_unit_group('ub')}", re.I)),
    ("dashcmp", re.compile(rf"{_num('a')}{_unit_group('ua')}\s*(?:-|–|to)\s*{_cmp_group('cb')}\s*{_num('b')}"
                           rf"{_unit_group('ub')}", re.I)),
    # a pair is blood pressure with its unit, or two- or three-digit numbers after a comparator ("above 140/90")
    ("bp", re.compile(rf"{_cmp_group('c')}?\s*{_num('a')}\s*/\s*{_num('b')}\s*(?P<u>mm\s*hg)|"
                      rf"{_cmp_group('c2')}\s*(?P<a2>\d{{2,3}})\s*/\s*(?P<b2>\d{{2,3}})(?![\d/])", re.I)),
    ("dash", re.compile(rf"{_num('a')}{_unit_group('ua')}\s*(?:-|–|—|to|through)\s*{_num('b')}{_unit_group('ub')}{_ULN}",
                        re.I)),
    ("cmp", re.compile(rf"{_cmp_group('c')}\s*(?:than\s+)?(?:(?:the\s+)?age\s+(?:of\s+)?)?{_num('a', words=True)}{_unit_group('ua')}{_ULN}", re.I)),
    ("trail", re.compile(rf"{_num('a', words=True)}{_unit_group('ua')}\s*(?P<t>{'|'.join(p for _, p in _TRAIL_PHRASES)})",
                         re.I)),
    ("bare", re.compile(rf"{_num('a')}{_unit_group('ua')}{_ULN}", re.I)),
]
_WORDS_AFTER_NUMBER_OK = {"and", "or", "to", "in", "at", "of", "for", "on", "as", "with", "within", "prior", "before",
                          "after", "during", "the", "a", "an", "times", "x", "fold", "per", "than", "is", "are", "was",
                          "were", "be", "if", "by", "from", "measured", "but", "mg", "g", "ml", "l", "hours", "hour",
                          "minutes", "h", "hrs", "hr", "episodes", "episode", "events", "event", "units", "unit"}
_AGE_TAIL = re.compile(r"^\s*(?:old|of\s+age|years?\s+old|or\s+older|and\s+older|of\s+age\s+or\s+older)", re.I)
_TIME_UNITS = {"years", "months", "weeks", "days"}
_AGE_ALONE = re.compile(r"[\W\d_]*(?:(?:patients?|subjects?|participants?|persons?|people|individuals?|adults?|children|"
                        r"men|women|males?|females?|aged?|volunteers?|healthy|and|or|of|be|must|are|is|who|between|"
                        r"from|years?)[\W\d_]*)*", re.I)
_AGE_ALONE_AFTER = re.compile(r"\s*(?:$|[.;,)]|at\s|on\s+the\s+day|when\b|old\b|of\s+age\b|inclusive\b|\(inclusive)",
                              re.I)
_DURATION_OF = re.compile(r"\s*(?:of|since|after|without|from|following|on)\s+(?!age\b)(?!the\s+age\b)[a-z]", re.I)
_CONDITIONAL = re.compile(
    r"\b(?:if|unless|when|whereas|provided|except(?:\s+for)?|other\s+than|only|note)\b|"
    r"\bfor\s+(?:participants|subjects|patients|those|individuals|people|men|women|males|females)\b|"
    r"\bin\s+(?:men|women|males|females)\b|\((?:males?|females?)\)", re.I)
_CONDITION_AFTER = re.compile(
    r"\s*[(,]?\s*(?:if|unless|when|only|except|for\s+(?:men|women|males?|females?)|in\s+(?:men|women)|"
    r"\((?:males?|females?|men|women)\))", re.I)
_TIME_QUALIFIER = re.compile(
    r"\bwithin\b|\b(?:past|last|preceding|previous|prior)\s+(?:\d+(?:\.\d+)?\s+|\w+\s+)?(?:years?|months?|weeks?|days?)\b"
    r"|\brecent(?:ly)?\b|\bin\s+the\s+\d+\s+(?:years?|months?|weeks?)\s+(?:prior|before)", re.I)
_SEX_QUALIFIER = re.compile(r"^\s*(?:\(|,)?\s*(?:for|in)?\s*(?P<sex>men|males?|women|females?)\b\)?", re.I)
_DEFINITION = re.compile(
    r"\((?:[^()]|\([^()]*\))*\)|\[(?:[^\[\]])*\]|\b(?:defined\s+(?:as|by)|as\s+defined|e\.g\.|i\.e\.|such\s+as|"
    r"based\s+on|according\s+to|as\s+guideline|as\s+per|as\s+determined\s+by|including\s+but\s+not\s+limited\s+to"
    r"|including)\b[^;.]*", re.I)
_STOP = set(["a", "an", "the", "and", "or", "of", "with", "without", "to", "in", "on", "at", "for", "by", "as", "be", "is", "are", "was", "were", "been", "being", "has", "have", "had", "having", "must", "should", "will", "would", "can", "could", "may", "might", "who", "whom", "which", "that", "this", "these", "those", "any", "all", "either", "both", "each", "per", "than", "from", "into", "during", "prior", "before", "after", "within", "since", "over", "under", "between", "current", "currently", "presence", "present", "history", "known", "documented", "diagnosis", "diagnosed", "patients", "patient", "subjects", "subject", "participants", "participant", "individuals", "people", "persons", "adults", "women", "men", "female", "females", "male", "males", "level", "levels", "value", "values", "serum", "plasma", "blood", "test", "tests", "result", "results", "measured", "measurement", "screening", "visit", "baseline", "enrollment", "enrolment", "study", "trial", "following", "etc", "greater", "less", "more", "equal", "least", "most", "high", "low", "higher", "lower", "normal", "upper", "limit", "limits", "times", "fold", "than", "old", "age", "aged", "years", "year", "months", "month", "weeks", "week", "days", "day", "inclusive", "concentration", "count", "total", "clinical", "clinically", "significant", "evidence", "diabetes", "mellitus", "type", "not", "no", "non", "negative", "positive", "also", "other", "various", "due", "signs", "sign", "such", "experiencing", "experience", "experienced", "having", "undergoing", "suffering", "presenting", "show", "shows", "showing", "meet", "meets", "whose", "where", "there", "their", "they", "them", "his", "her", "its", "one", "two", "three", "least", "past", "last", "previous", "preceding", "prior"])


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    variables: tuple[str, ...]   # () = a measurement the catalogue does not hold
    text: str


@dataclass(frozen=True)
class Value:
    start: int
    end: int
    form: str                    # between | fromto | cmprange | bp | dash | cmp | trail | bare
    ops: tuple[str, ...]         # one op, or two for a range (">=", "<=")
    numbers: tuple[float, ...]
    units: tuple[str | None, ...]
    uln: bool
    unknown_unit: str = ""


@dataclass(frozen=True)
class Threshold:
    """One comparison read from the text: `variable comparator value unit` (catalogue unit)."""

    variable: str
    comparator: str
    value: float
    unit: str | None
    source_value: float | None = None
    source_unit: str | None = None

    def to_dict(self) -> dict:
        return {"variable": self.variable, "comparator": self.comparator, "value": self.value, "unit": self.unit,
                "source_value": self.source_value, "source_unit": self.source_unit}


@dataclass(frozen=True)
class Rule:
    """One extracted comparison or concept, in catalogue units, with where it came from."""

    variable: str
    tree: expr.Node | None        # None only for a reading that failed (mixed pregnancy wording)
    parameters: dict = field(default_factory=dict, compare=False)
    span: tuple[int, int] = (0, 0)
    source: str = ""
    confidence: float = 0.9
    comparator: str | None = None
    value: float | None = None
    unit: str | None = None
    source_value: float | None = None
    source_unit: str | None = None
    note: str = ""
    thresholds: tuple[Threshold, ...] = ()

    @property
    def expression(self) -> str:
        """The rule as expression text, printed from its tree."""
        return trees.text(self.tree)

    def to_dict(self) -> dict:
        out = {"variable": self.variable, "expression": self.expression, "span": list(self.span),
               "source": self.source, "confidence": round(self.confidence, 2)}
        if self.thresholds:
            out["thresholds"] = [t.to_dict() for t in self.thresholds]
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Extraction:
    """What came out of one criterion: an expression (or None), its parameters, rules and notes."""

    expression: str | None
    parameters: dict
    rules: tuple[Rule, ...]
    confidence: float
    status: str                  # computable | partial | candidate | none | rejected
    notes: tuple[str, ...] = ()
    candidate: str | None = None  # the reading that was not confident enough, for the note
    uncovered: str = ""
    skipped: tuple[Rule, ...] = ()  # rules read but left to another criterion (age: the registry fields)


# --- step 1: mentions --------------------------------------------------------------------------------

@cache
def _compiled_terms():
    numeric = [(re.compile(p, re.I), (name,)) for name, pats in lexicon.NUMERIC_TERMS.items() for p in pats]
    groups = [(re.compile(p, re.I), names) for names, pats in lexicon.GROUP_TERMS.items() for p in pats]
    unmapped = [(re.compile(p, re.I), ()) for p in lexicon.UNMAPPED_TERMS]
    concepts = [(re.compile(p, re.I), expr) for expr, pats in lexicon.CONCEPTS for p in pats]
    events = [(re.compile(p, re.I), name) for name, pats in lexicon.EVENTS.items() for p in pats]
    return numeric + groups, unmapped, concepts, events


def _non_overlapping(found: list, key=lambda m: (m[0], -(m[1] - m[0]))) -> list:
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
    mapped, unmapped, _, _ = _compiled_terms()
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
    chosen = _non_overlapping(found)
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


# --- step 2: values --------------------------------------------------------------------------------------

def _number(text: str) -> float:
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


def find_values(text: str) -> list[Value]:
    values: list[Value] = []
    occupied: list[tuple[int, int]] = []
    for form, pattern in _VALUE_PATTERNS:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            while end > start and text[end - 1].isspace():
                end -= 1
            if any(start < e and end > s for s, e in occupied):
                continue
            g = m.groupdict()
            try:
                numbers = tuple(_number(g[k]) for k in ("a", "b") if g.get(k))
            except ValueError:
                continue
            units = tuple(lexicon.canonical_unit(g[k]) if g.get(k) else None for k in ("ua", "ub") if k in g)
            uln = bool(g.get("uln") and g["uln"].strip())
            if form == "bp":
                if g.get("a2"):
                    numbers = (_number(g["a2"]), _number(g["b2"]))
                    g["c"] = g["c2"]
                ops = (_op_of(g["c"]),) if g.get("c") else ("",)
                numbers = numbers[:2]
                units = ("mmHg", "mmHg")
            elif form == "dashcmp":
                ops = (">=", _op_of(g["cb"]))
            elif form in {"between", "fromto", "dash", "ages"}:
                ops = (">=", "<=")
                if len(numbers) == 2 and numbers[0] > numbers[1]:
                    numbers = (numbers[1], numbers[0])
                    units = tuple(reversed(units))
            elif form == "cmprange":
                ops = (_op_of(g["ca"]), _op_of(g["cb"]))
            elif form == "cmp":
                ops = (_op_of(g["c"]),)
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


# --- step 3: attach values to variables and convert --------------------------------------------------------

_GAP_OK = re.compile(
    r"^[\s:,(\[\])=]*(?:(?:of|is|was|that|which|level|levels|value|values|concentration|count|measured|measurement|at|"
    r"screening|baseline|in|the|a|an|range|result|results|by|central|laboratory|lab|local|than|be|should|must|"
    r"have|has|had|with|\(\w+\)|\w{2,6}\)|serum|plasma|blood|total|test|score|index|between|from|ratio|"
    r"elevated|elevation|increased|reduced|decreased|documented|most|recent|current|within|range|dl|mg|"
    r"and|or)[\s:,(\[\])=]*){0,8}$", re.I)


def _gap_clean(gap: str) -> bool:
    return len(gap) <= 70 and ";" not in gap and not re.search(r"\.\s", gap) and bool(_GAP_OK.match(gap))


def _list_before(text: str, mentions: list[Mention], index: int) -> list[Mention]:
    """'total bilirubin, ALT, and AST' -> the mentions joined by commas/and/or ending at mentions[index]."""
    out = [mentions[index]]
    j = index - 1
    while j >= 0:
        between = text[mentions[j].end:out[0].start]
        if re.fullmatch(r"\s*(?:\([^()]{0,12}\))?\s*(?:,|,?\s*and|,?\s*or|/)\s*", between):
            out.insert(0, mentions[j])
            j -= 1
        else:
            break
    return out


@dataclass
class _Attached:
    value: Value
    mentions: list[Mention]


def _attach(text: str, mentions: list[Mention], values: list[Value]) -> tuple[list[_Attached], list[str]]:
    notes: list[str] = []
    attached: list[_Attached] = []
    for v in values:
        lone = v.form == "bare" and not any(v.units) and not v.uln  # "2 hour", "Visit 1": no threshold alone
        # a value in parentheses right after another value restates it in other units: "126 mg/dl (7.0 mmol/l)"
        prev = attached[-1] if attached else None
        if prev and re.fullmatch(r"\s*[(\[]\s*", text[prev.value.end:v.start]):
            continue
        if set(v.units) & _TIME_UNITS and _DURATION_OF.match(text[v.end:]):
            continue  # "1 year of amenorrhea", "2 years since transplant": the duration of something else
        candidates = [i for i, m in enumerate(mentions) if m.end <= v.start]
        chosen = None
        for i in ([] if lone else reversed(candidates)):
            gap = text[mentions[i].end:v.start]
            # values already attached to this mention may sit in between ("BMI <22 or >43")
            if prev and prev.mentions and prev.mentions[-1] is mentions[i] and prev.value.end <= v.start:
                gap = text[prev.value.end:v.start]
            if _gap_clean(gap):
                chosen = i
            break
        if chosen is None:
            # "19 <= BMI" / "7.0% <= HbA1c": a value before the variable with a comparator between
            after = [m for m in mentions if m.start >= v.end and m.start - v.end <= 4]
            if after and v.form == "bare":
                between = text[v.end:after[0].start]
                cmp_m = re.match(rf"\s*{_cmp_group('c')}\s*$", between, re.I)
                if cmp_m:
                    flipped = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}[_op_of(cmp_m.group("c"))]
                    v2 = Value(v.start, after[0].end, "cmp", (flipped,), v.numbers, v.units, v.uln, v.unknown_unit)
                    attached.append(_Attached(v2, [after[0]]))
                    continue
            if lone:
                continue
            if v.form == "ages" or ("years" in v.units and v.ops != ("",) and _AGE_ALONE.fullmatch(
                    _clause_before(text, v.start)) and _AGE_ALONE_AFTER.match(text[v.end:])):
                # "Over 18 years.", "30-60 years": a limit in years that stands alone is an age
                attached.append(_Attached(v, [Mention(v.start, v.end, ("age",), "age")]))
                continue
            if "years" in v.units and (_AGE_TAIL.match(text[v.end:]) or re.search(r"(?:old|older|younger)$", text[v.start:v.end], re.I)):
                before = text[max(0, v.start - 40):v.start].lower()
                if not re.search(r"onset|diagnos|since|duration|for\s*$", before):
                    attached.append(_Attached(v, [Mention(v.start, v.end, ("age",), "age")]))
            continue
        shared = _list_before(text, mentions, chosen)
        attached.append(_Attached(v, shared))
    # a value before a bare comparator chain: "19≤BMI≤30" -> the two halves become one range
    merged: list[_Attached] = []
    for a in attached:
        last = merged[-1] if merged else None
        if (last and last.mentions == a.mentions and len(last.value.ops) == 1 and len(a.value.ops) == 1
                and last.value.ops[0] in ("<=", "<") and a.value.ops[0] in (">=", ">", "<=", "<")
                and last.value.end >= a.mentions[0].end and a.value.start >= last.value.end
                and text[last.value.start:last.value.end].endswith(a.mentions[0].text)):
            v1, v2 = last.value, a.value
            merged[-1] = _Attached(Value(v1.start, v2.end, "chain", (_reverse(v1.ops[0]), v2.ops[0]),
                                         (v1.numbers[0], v2.numbers[0]), (v1.units[0] if v1.units else None,
                                                                          v2.units[0] if v2.units else None),
                                         v1.uln or v2.uln), a.mentions)
            continue
        merged.append(a)
    return merged, notes


def _reverse(op: str) -> str:
    return {">=": "<=", "<=": ">=", ">": "<", "<": ">"}[op]


def _convert(variable: str, number: float, unit: str | None, value_numbers: tuple[float, ...]
             ) -> tuple[float | None, str | None, float, str]:
    """(value in catalogue unit, the unit read, confidence, problem)."""
    catalogue = default_catalogue()
    var = catalogue.get(variable)
    target = var.unit if var else None
    confidence = 0.95
    if unit is None:
        for low, high, default, conf in lexicon.DEFAULT_UNITS.get(variable, []):
            if all(low <= n <= high for n in value_numbers):
                unit, confidence = default, conf
                break
        else:
            return None, None, 0.0, f"no unit given for {variable} and none can be assumed"
    table = lexicon.CONVERSIONS.get(variable, {})
    if unit not in table:
        return None, unit, 0.0, f"unit {unit} is not one {variable} can be converted from (catalogue unit {target})"
    factor = table[unit]
    value = factor(number) if callable(factor) else number * factor
    value = round(value, lexicon.DECIMALS.get(variable, 2))
    if var and var.range and not (var.range[0] <= value <= var.range[1]):
        return None, unit, 0.0, (f"{number:g} {unit} is {value:g} {target}, outside the plausible range "
                                 f"{var.range[0]:g}-{var.range[1]:g} {target} of {variable}")
    if variable == "egfr" and unit == "mL/min":
        confidence = min(confidence, 0.75)
    return value, unit, confidence, ""


# --- step 4/5: rules, expressions, coverage -------------------------------------------------------------------

_NOUNS = {name: s.noun for name, s in lexicon.SLIDERS.items()}


def _param_label(variable: str, op: str) -> str:
    noun = _NOUNS.get(variable, variable.replace("_", " "))
    noun = noun[:1].upper() + noun[1:]
    return {">=": f"{noun} at or above", ">": f"{noun} above", "<=": f"{noun} at or below", "<": f"{noun} below"}[op]


def _parameter(variable: str, value: float, op: str, slider_key: str | None = None, unit: str | None = None) -> dict:
    slider = lexicon.SLIDERS.get(slider_key or variable)
    var = default_catalogue().get(variable)
    unit = unit if unit is not None else (var.unit if var else None)
    if slider is None:
        low, high = (var.range if var and var.range else (0, max(1.0, value * 2)))
        slider = lexicon.Slider(low, high, 1, variable)
    param = {"value": value, "min": min(slider.min, value), "max": max(slider.max, value), "step": slider.step,
             "label": _param_label(variable, op) if slider_key is None else slider.noun.capitalize()}
    if unit is not None:
        param = {"value": value, "unit": unit, **{k: v for k, v in param.items() if k != "value"}}
    return param


class _Names:
    """Parameter names unique within one criterion: hba1c_min, hba1c_min_2, ..."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, base: str) -> str:
        name, i = base, 2
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name


def _bound_name(variable: str, op: str, kind: str) -> str:
    lower = op in (">=", ">")
    if kind == "exclusion":
        lower = not lower
    return f"{variable}_{'min' if lower else 'max'}"


def _numeric_rules(text: str, kind: str, item: _Attached, names: _Names) -> tuple[list[Rule], list[str]]:
    v = item.value
    notes: list[str] = []
    source = text[min(m.start for m in item.mentions):v.end] if item.mentions[0].start < v.start else \
        text[v.start:max(m.end for m in item.mentions)]
    span = (min(v.start, item.mentions[0].start), max(v.end, item.mentions[-1].end))
    variables = [n for m in item.mentions for n in m.variables]
    if not variables:
        return [], []
    if v.unknown_unit:
        return [], [f"{source!r}: unknown unit {v.unknown_unit!r}; not read"]
    # insulin doses: the unit says whether it is per kg
    if variables == ["insulin_dose"] and any(u == "U/kg/day" for u in v.units):
        variables = ["insulin_dose_per_kg"]
    rules: list[Rule] = []
    if v.uln:
        bad = [n for n in variables if n not in {"alt", "ast", "bilirubin"}]
        if bad:
            return [], [f"{source!r}: a multiple of the upper limit of normal, but the catalogue has no ULN for "
                        f"{', '.join(bad)}; not read"]
        if len(v.numbers) != 1 or v.ops[0] == "":
            return [], [f"{source!r}: ULN range not read"]
        multiple = v.numbers[0]
        if not 0.5 <= multiple <= 50:
            return [], [f"{source!r}: {multiple:g} x ULN is not a plausible threshold; not read"]
        name = names("uln_multiple")
        param = {"value": multiple, "min": min(1.0, multiple), "max": max(10.0, multiple), "step": 0.5,
                 "label": "Multiple of the upper limit of normal"}
        atoms = [trees.uln_compare(n, v.ops[0], name) for n in variables]
        # an exclusion on several tests excludes on any of them; an inclusion requires each
        expression = trees.any_of(atoms) if kind == "exclusion" else trees.all_of(atoms)
        rules.append(Rule(variables[0] if len(variables) == 1 else "+".join(variables), expression, {name: param},
                          span, source, 0.9, v.ops[0], multiple, "x ULN", multiple, "x ULN",
                          "several tests share one multiple: " + ("any one excludes" if kind == "exclusion" else
                                                                 "each must hold") if len(variables) > 1 else "",
                          tuple(Threshold(n, v.ops[0], multiple, "x ULN", multiple, "x ULN") for n in variables)))
        return rules, notes
    if v.form == "bp":
        if variables not in (["systolic_bp", "diastolic_bp"],) and set(variables) != {"systolic_bp", "diastolic_bp"}:
            return [], []
        op = v.ops[0] or ("<" if kind == "inclusion" else ">")
        parts, params, found = [], {}, []
        for var_name, number in zip(("systolic_bp", "diastolic_bp"), v.numbers, strict=False):
            value, unit, conf, problem = _convert(var_name, number, "mmHg", v.numbers)
            if problem:
                return [], [f"{source!r}: {problem}"]
            pname = names(_bound_name(var_name, op, kind))
            params[pname] = _parameter(var_name, value, op)
            parts.append(trees.compare(var_name, op, pname))
            found.append(Threshold(var_name, op, value, "mmHg", number, "mmHg"))
        # "> 140/90" is high when either is high; "< 140/90" is controlled when both are below
        joiner = " or " if op in (">", ">=") else " and "
        joined = trees.any_of(parts) if op in (">", ">=") else trees.all_of(parts)
        return [Rule("systolic_bp+diastolic_bp", joined, params, span, source, 0.85, op,
                     v.numbers[0], "mmHg", v.numbers[0], "mmHg",
                     f"read as systolic {op} {v.numbers[0]:g} {joiner.strip()} diastolic {op} {v.numbers[1]:g}",
                     tuple(found))], notes
    if len(variables) > 1:
        if set(variables) == {"systolic_bp", "diastolic_bp"}:
            return [], [f"{source!r}: blood pressure without systolic/diastolic pair; not read"]
        joiner = " or " if kind == "exclusion" else " and "
    else:
        joiner = ""
    atoms, params, confidence = [], {}, 1.0
    first_rule = None
    found: list[Threshold] = []
    for var_name in variables:
        ops, numbers = v.ops, v.numbers
        if ops == ("",):
            # a bare value after a variable ("HbA1c 8%") says nothing about direction
            return [], [f"{source!r}: a value without a comparator; not read"]
        units = list(v.units) + [None] * (len(numbers) - len(v.units))
        if len(numbers) == 2 and units[0] is None and units[1] is not None:
            units[0] = units[1]
        if len(numbers) == 2 and units[1] is None and units[0] is not None:
            units[1] = units[0]
        pieces = []
        for op, number, unit in zip(ops, numbers, units, strict=False):
            value, read_unit, conf, problem = _convert(var_name, number, unit, numbers)
            if problem:
                return [], [f"{source!r}: {problem}; not read"]
            confidence = min(confidence, conf)
            pname = names(_bound_name(var_name, op, kind) if len(ops) == 1 or kind == "inclusion" else
                          f"{var_name}_{'low' if op in ('>=', '>') else 'high'}")
            params[pname] = _parameter(var_name, value, op)
            pieces.append(trees.compare(var_name, op, pname))
            found.append(Threshold(var_name, op, value, default_catalogue()[var_name].unit, number, read_unit))
            if first_rule is None:
                first_rule = (op, value, default_catalogue()[var_name].unit, number, read_unit)
        if len(ops) == 2 and (ops[0] in (">", ">=")) == (ops[1] in (">", ">=")):
            return [], [f"{source!r}: two bounds in the same direction; not read"]
        if len(pieces) == 2 and ops[0] in ("<", "<=") and "or" in text[v.start:v.end].lower():
            atoms.append(trees.any_of(pieces))  # "< 18 or > 40": outside the range
        else:
            atoms.append(trees.all_of(pieces))
    if joiner and len(atoms) > 1:
        expression = trees.any_of(atoms) if joiner.strip() == "or" else trees.all_of(atoms)
    else:
        expression = atoms[0]
    variable = "+".join(variables)
    op, value, unit, number, read_unit = first_rule
    note = ""
    if v.form in {"between", "fromto", "dash", "chain"} or (len(v.ops) == 2):
        note = "range read with both limits inclusive" if v.form in {"between", "fromto", "dash"} else ""
    if read_unit and unit and read_unit != unit:
        note = (note + "; " if note else "") + f"converted from {read_unit}"
    rules.append(Rule(variable, expression, params, span, source, 0.95 * confidence, op, value, unit, number,
                      read_unit, note, tuple(found)))
    return rules, notes


_PREGNANCY = {"pregnant", "lactating"}


def _concept_rules(text: str, kind: str, values_spans: list[tuple[int, int]]) -> tuple[list[Rule], list[str], list]:
    """Boolean and category concepts, with NegEx deciding which are negated."""
    _, _, concepts, _ = _compiled_terms()
    found = []
    for pattern, expression in concepts:
        for m in pattern.finditer(text):
            if lexicon.NOT_A_MENTION.search(text[max(0, m.start() - 40):m.start()]):
                continue
            found.append((m.start(), m.end(), expression, m.group(0)))
    found = _non_overlapping(found)
    # "hepatitis B or C": the C belongs to hepatitis
    for m in re.finditer(r"hepatitis\s+B\s*(?:,|or|and|/)\s*C\b", text, re.I):
        found = [f for f in found if not (f[0] >= m.start() and f[1] <= m.end())]
        found.append((m.start(), m.end(), "hepatitis_b or hepatitis_c", m.group(0)))
    found.sort()
    if not found:
        return [], [], []
    negated = negated_spans(text, [(s, e) for s, e, _, _ in found])
    rules, notes = [], []
    pregnancy: list[tuple] = []
    for (start, end, expression, source), neg in zip(found, negated, strict=True):
        requirement = kind == "exclusion" and neg and re.search(
            r"\b(?:must|should|may|can|will)\s+not\b|\bcannot\b|\bmust\s+have\s+no\b|\bnot\s+(?:be|have)\b|"
            r"\bhave\s+(?:no|not)\b|\bneither\b", text[max(0, start - 60):start], re.I)
        if kind == "exclusion" and neg and not requirement:
            notes.append(f"{source!r} is negated inside an exclusion criterion; the direction is ambiguous; not read")
            continue
        positive = not neg or bool(requirement)
        note = "negated wording in an exclusion list read as a requirement (who has it is excluded)" if requirement else ""
        if expression in _PREGNANCY:
            pregnancy.append((start, end, expression, source, positive, note))
            continue
        tree = trees.concept(expression) if positive else trees.negate(trees.concept(expression))
        conf = 0.9 if expression.startswith(("diabetes_type", "cancer_status")) else 0.8
        rules.append(Rule(_concept_variable(expression), tree, {}, (start, end), source, conf, note=note))
    if pregnancy:
        rules.append(_pregnancy_rule(text, kind, pregnancy))
    rules.sort(key=lambda r: r.span)
    return rules, notes, found


def _concept_variable(expression: str) -> str:
    return re.match(r"[a-z_0-9]+", expression).group(0)


def _pregnancy_rule(text: str, kind: str, found: list[tuple]) -> Rule:
    start, end = min(f[0] for f in found), max(f[1] for f in found)
    names = sorted({f[2] for f in found}, key=["pregnant", "lactating"].index)
    positive = [f[4] for f in found]
    source = text[start:end]
    is_test = all("test" in f[3].lower() for f in found)
    inner = trees.any_of(trees.name(n) for n in names)
    note = next((f[5] for f in found if f[5]), "")
    expression: expr.Node | None
    if all(positive):
        expression = trees.all_of([trees.equals("sex", "female"), inner])
        confidence = 0.85
    elif not any(positive):
        if is_test:  # a negative test is required only of women who could be pregnant
            expression = trees.any_of([trees.equals("sex", "male"), trees.negate(trees.name("childbearing_potential")),
                                       trees.negate(trees.name("pregnant"))])
        else:
            expression = trees.any_of([trees.equals("sex", "male"), trees.negate(inner)])
        confidence = 0.85
    else:
        expression, confidence = None, 0.3
        note = "pregnancy and lactation mentioned both negated and not; not read"
    return Rule("+".join(names), expression, {}, (start, end), source, confidence,
                note=note or "pregnancy and lactation apply to women only")


_WINDOW = re.compile(
    rf"\b(?:in|within|during|over|for)\s+(?:the\s+)?(?:past|last|previous|preceding|prior)?\s*"
    rf"(?P<n>{_NUM}|{_WORD_NUM})?\s*(?P<u>years?|months?|weeks?|days?)\b(?:\s+(?:prior|before|preceding))?"
    rf"|\b(?:in|within|during)\s+the\s+(?:past|last|previous|preceding)\s+(?P<u2>year|month)\b", re.I)
_COUNT = re.compile(
    rf"(?P<c>{'|'.join(f'(?:{p})' for _, p in _CMP_PHRASES)})?\s*(?P<n>{_NUM}|{_WORD_NUM})\s*(?P<t>or\s+more|\+)?"
    rf"\s*(?:episodes?\s+of\s+|(?:or\s+more\s+)?)?$", re.I)


def _event_rules(text: str, kind: str, names: _Names) -> tuple[list[Rule], list[str]]:
    _, _, _, events = _compiled_terms()
    rules, notes = [], []
    seen: list[tuple[int, int]] = []
    for pattern, event in events:
        for m in pattern.finditer(text):
            if any(m.start() < e and m.end() > s for s, e in seen):
                continue
            seen.append((m.start(), m.end()))
            after = text[m.end():m.end() + 80]
            if re.match(r"\s*(?:is\s+|was\s+)?defined", after, re.I) or text[max(0, m.start() - 1):m.start()] == "(":
                continue  # "(severe hypoglycemia defined as ...)" explains a term, it is no requirement
            window = _WINDOW.search(after)
            if not window or window.start() > 40:
                notes.append(f"{m.group(0)!r}: no time window; not read")
                continue
            n = window.group("n")
            unit = (window.group("u") or window.group("u2") or "").lower().rstrip("s")
            number = _number(n) if n else 1.0
            days = round(number * {"year": 365, "month": 365 / 12, "week": 7, "day": 1}[unit])
            before = text[max(0, m.start() - 40):m.start()]
            count = _COUNT.search(before)
            op, threshold = ">=", 1.0
            if count and count.group("n"):
                threshold = _number(count.group("n"))
                if count.group("t"):
                    op = ">="
                elif count.group("c"):
                    op = _op_of(count.group("c"))
            elif re.search(r"\bno\s*$|\bwithout\s*$", before, re.I):
                notes.append(f"{m.group(0)!r}: negated event count; not read")
                continue
            if not 0 <= threshold <= 100 or not 0 < days <= 36500:
                notes.append(f"{m.group(0)!r}: implausible count or window; not read")
                continue
            pname = names(f"{event}_min" if (op in (">=", ">")) == (kind == "inclusion") else f"{event}_max")
            param = {"value": threshold, "unit": "events", "min": 0, "max": max(20, threshold), "step": 1,
                     "label": f"{event.replace('_', ' ').capitalize()} in {days} days "
                              f"({'at least' if op == '>=' else op})"}
            start = count.start() + max(0, m.start() - 40) if count and count.group("n") else m.start()
            end = m.end() + window.end()
            rules.append(Rule(event, trees.count(event, days, op, pname), {pname: param},
                              (start, end), text[start:end], 0.85, op, threshold, "events", threshold, "events",
                              f"window {number:g} {unit}(s) read as {days} days",
                              (Threshold(f"count({event}, within_days={days})", op, threshold, "events"),)))
    return rules, notes


_CANCER_WINDOW = re.compile(
    rf"(?:less\s+than|within(?:\s+the\s+(?:past|last))?|<)\s*(?P<n>{_NUM}|{_WORD_NUM})\s*years?\s*(?:since\s+(?:cure|remission)"
    rf"|ago)?|not\s+in\s+remission\s+for\s+at\s+least\s+(?P<n2>{_NUM}|{_WORD_NUM})\s*years?"
    rf"|(?:disease[- ]free|in\s+remission)\s+for\s+(?:at\s+least\s+)?(?P<n3>{_NUM}|{_WORD_NUM})\s*years?", re.I)


def _cancer_rule(text: str, kind: str, names: _Names) -> tuple[list[Rule], list[str]]:
    mention = re.search(r"cancer|malignan\w+|tumou?rs?|neoplas\w+", text, re.I)
    if not mention or kind != "exclusion":
        return [], []
    window = _CANCER_WINDOW.search(text)
    if not window:
        return [], []
    if re.search(r"life\s+expectancy|survival|prognosis|expected\s+to\s+(?:live|survive)", text, re.I):
        return [], ["a life expectancy or survival time is not a time since cure; not read"]
    n = window.group("n") or window.group("n2") or window.group("n3")
    years = _number(n)
    pname = names("remission_min")
    param = {"value": years, "unit": "years", "min": 0, "max": max(20, years), "step": 0.5,
             "label": "Minimum years since cure"}
    expression = trees.any_of([trees.equals("cancer_status", "active"),
                               trees.all_of([trees.equals("cancer_status", "remission"),
                                             trees.compare("cancer_remission_years", "<", pname)])])
    start, end = min(mention.start(), window.start()), max(mention.end(), window.end())
    confidence, note = 0.85, "active or cured less than the given years ago"
    rest = text[:window.start()] + text[window.end():]
    if re.search(r"\b(?:except|other\s+than|excluding|apart\s+from|but\s+not)\b", rest, re.I):
        confidence, note = 0.45, "the text excepts some cancers, which cancer_status cannot tell apart"
    return [Rule("cancer_status", expression, {pname: param}, (start, end), text[start:end], confidence, "<", years,
                 "years", years, "years", note,
                 (Threshold("cancer_remission_years", "<", years, "years", years, "years"),))], []


# --- the criterion as a whole -----------------------------------------------------------------------------------

_CONJUNCTION = re.compile(r"\bwith\b|\bplus\b|\btogether\b|\bcombin\w*|\bboth\b|\band\s+(?:also|has|had|have|is|are|was|"
                          r"were|must|who)\b|;|\.\s", re.I)
_ANY_OF = re.compile(r"\b(?:at\s+least\s+one|any(?:\s+one)?\s+of|one\s+of|either|any)\b[^.;]*$", re.I)


def _connector(text: str, a: Rule, b: Rule, kind: str) -> str:
    """How two neighbouring rules combine, from the words between them (and before a list)."""
    between = re.sub(r"\b(?:e\.g|i\.e|etc|vs)\.", " ", text[a.span[1]:b.span[0]].lower())
    between = re.sub(r"\([^()]{0,15}\)", " ", between)  # "(GADA), ": an abbreviation, not a connector
    if re.search(r"\band\s*/\s*or\b|\bor\b|\beither\b", between):
        return "or"
    if kind == "exclusion":
        # an exclusion list names ways to be excluded: "A, B, and C" excludes any of them
        return "and" if _CONJUNCTION.search(between) else "or"
    if re.fullmatch(r"[\s,()\[\]/]*(?:and\s*)?[\s,()\[\]/]*", between) and _ANY_OF.search(text[:a.span[0]]):
        return "or"
    return "and"


def _is_list_gap(text: str, a: Rule, b: Rule) -> bool:
    between = re.sub(r"\([^()]{0,15}\)", " ", text[a.span[1]:b.span[0]])
    return bool(re.fullmatch(r"[\s,()\[\]/]*(?:(?:and\s*/\s*or|or|and)\s*)?[\s,()\[\]/]*", between))


def _combine(text: str, kind: str, rules: list[Rule]) -> tuple[expr.Node, bool]:
    """Join rules with the text's own connectors. Returns (tree, whether 'and' and 'or' mix).

    A list ("GADA, IA-2A or IAA") binds tighter than the sentence around it; otherwise "and" binds
    tighter than "or", as in the expression language.
    """
    if len(rules) == 1:
        return rules[0].tree, False
    connectors = [_connector(text, a, b, kind) for a, b in zip(rules, rules[1:], strict=False)]
    # 1. lists joined by "or" become one unit
    units: list[list[expr.Node]] = [[rules[0].tree]]
    unit_connectors: list[str] = []
    for conn, a, b in zip(connectors, rules, rules[1:], strict=False):
        if conn == "or" and _is_list_gap(text, a, b):
            units[-1].append(b.tree)
        else:
            units.append([b.tree])
            unit_connectors.append(conn)
    atoms = [trees.any_of(u) for u in units]
    mixed = len(set(unit_connectors)) > 1
    # 2. "and" before "or"
    groups, current = [], [atoms[0]]
    for conn, atom in zip(unit_connectors, atoms[1:], strict=True):
        if conn == "and":
            current.append(atom)
        else:
            groups.append(current)
            current = [atom]
    groups.append(current)
    return trees.any_of(trees.all_of(g) for g in groups), mixed


def _covered_words(rules: list[Rule]) -> set[str]:
    """Words of the catalogue descriptions of the variables used: 'requiring treatment' is part of active_infection."""
    catalogue = default_catalogue()
    words: set[str] = set()
    for rule in rules:
        for name in sorted(expr.names(rule.tree)) if rule.tree is not None else ():
            var = catalogue.get(name)
            if var:
                words.update(w.lower() for w in re.findall(r"[A-Za-z]{3,}", var.description))
                words.update(name.split("_"))
    return words


def uncovered_text(text: str, spans: list[tuple[int, int]], rules: list[Rule]) -> str:
    masked = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(masked))):
            masked[i] = " "
    rest = _DEFINITION.sub(" ", "".join(masked))
    extra = _covered_words(rules)
    prefixes = {w[:6] for w in extra if len(w) >= 6}
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}|\b(?:if|or)\b", rest)
             if w.lower() != "or"
             and w.lower() not in _STOP and w.lower() not in extra and w.lower()[:6] not in prefixes]
    return " ".join(words)


def latin_script(text: str) -> bool:
    letters = re.findall(r"[^\W\d_]", text)
    return not letters or sum(1 for c in letters if c.isascii() or c in "µμéèàçñäöüïëâêîôû") / len(letters) >= 0.8


def looks_english(text: str) -> bool:
    """Whole eligibility sections in another language are kept as text, not read (a per-record check)."""
    letters = re.findall(r"[^\W\d_]", text)
    if not letters:
        return True
    latin = sum(1 for c in letters if c.isascii())
    if latin / len(letters) < 0.8:
        return False
    words = re.findall(r"[a-z]+", text.lower())
    if len(words) < 30:
        return True
    common = sum(1 for w in words if w in {"the", "of", "and", "or", "with", "in", "to", "for", "a", "be", "by",
                                           "than", "at", "least", "years", "not", "no", "any", "who", "have",
                                           "has", "on", "history", "is", "are", "patients", "must", "as",
                                           "from", "within", "more", "less", "other"})
    return common / len(words) >= 0.06


def extract(text: str, kind: str, *, skip_variables: tuple[str, ...] = ()) -> Extraction:
    """Read one criterion. `kind` is "inclusion" or "exclusion" (an exclusion's expression says who is excluded).

    Rules for `skip_variables` are read (and returned in `skipped`) but left out of the expression: the
    registry's structured age fields take precedence over an age in the text.
    """
    if not text or not text.strip():
        return Extraction(None, {}, (), 0.0, "none", ("empty criterion",))
    if len(text) > MAX_CRITERION_CHARS:
        return Extraction(None, {}, (), 0.0, "rejected",
                          (f"criterion is {len(text)} characters long; too long to read as one rule",))
    if not latin_script(text):
        return Extraction(None, {}, (), 0.0, "rejected", ("the text is not in Latin script; not read",))
    names = _Names()
    notes: list[str] = []
    mentions = variable_mentions(text)
    values = find_values(text)
    attached, attach_notes = _attach(text, mentions, values)
    notes += attach_notes
    numeric: list[Rule] = []
    for item in attached:
        # a time value after a diabetes mention is the diabetes duration ("T1DM for at least 5 years")
        r, n = _numeric_rules(text, kind, item, names)
        numeric += r
        notes += n
    duration_rules, duration_notes = _duration_rules(text, kind, values, attached, names)
    numeric += duration_rules
    notes += duration_notes
    event_rules, event_notes = _event_rules(text, kind, names)
    notes += event_notes
    cancer_rules, cancer_notes = _cancer_rule(text, kind, names)
    concept_rules, concept_notes, _ = _concept_rules(text, kind, [(v.start, v.end) for v in values])
    notes += concept_notes
    if cancer_rules:
        concept_rules = [r for r in concept_rules if r.variable != "cancer_status"]
    # events overlap their own concept words ("severe hypoglycemic events"); event rules win
    blocked = [r.span for r in event_rules + cancer_rules]
    concept_rules = [r for r in concept_rules if not any(r.span[0] < e and r.span[1] > s for s, e in blocked)]
    rules = []
    for r in sorted(numeric + event_rules + cancer_rules + [r for r in concept_rules if r.expression],
                    key=lambda r: r.span):
        if any(r.expression == kept.expression for kept in rules):
            continue  # "glutamic acid decarboxylase autoantibody (GADA)": one concept, named twice
        rules.append(r)
    rules = _merge_diagnosis_and_duration(text, rules)
    rules, faithful_notes, left_out, unsafe = faithful.qualified_concepts(text, kind, rules, _connector)
    notes += faithful_notes
    skipped = tuple(r for r in rules if r.variable in skip_variables)
    rules = [r for r in rules if r.variable not in skip_variables]
    unstated = faithful.unstated_parts(text, kind, rules)
    if unstated:
        notes += unstated
        unsafe = True
    kept = []
    for r in rules:
        problem = faithful.check_rule(r)
        if problem:
            notes.append(problem)
            unsafe = True
        else:
            kept.append(r)
    rules = kept
    # a numeric rule for a variable mentioned only as a conditional ("for participants aged 40 or older")
    def is_conditional(r: Rule) -> bool:
        return bool(_CONDITIONAL.search(_clause_before(text, r.span[0]))
                    or _CONDITION_AFTER.match(text[r.span[1]:r.span[1] + 40]))

    conditional = [r for r in rules if is_conditional(r)]
    if any(is_conditional(r) for r in skipped):
        notes.append("an age limit applies only under a condition; not compared with the registry fields")
        skipped = tuple(r for r in skipped if not is_conditional(r))
    used = [(a.value.start, a.value.end) for a in attached] + [r.span for r in rules + list(skipped)]
    unread = [v for v in values if not any(s0 < v.end and v.start < e0 for s0, e0 in used)
              and any(v.units)
              and not re.fullmatch(r"\s*[(\[]\s*", text[max(0, v.start - 3):v.start][-3:] or " ")]
    if unread:
        notes.append("values not read: " + ", ".join(repr(text[v.start:v.end]) for v in unread))
    if not rules:
        status = "covered" if skipped and not left_out else ("candidate" if left_out else "none")
        return Extraction(None, {}, (), 0.0, status, tuple(notes), skipped=skipped,
                          uncovered=uncovered_text(text, [r.span for r in skipped], []))
    tree, mixed = _combine(text, kind, rules)
    expression = trees.text(tree)
    parameters: dict = {}
    for r in rules:
        parameters.update(r.parameters)
    confidence = min(r.confidence for r in rules)
    spans = [r.span for r in rules + list(skipped)] + [(m.start, m.end) for m in mentions if m.variables]
    negation_cues = [m.span() for m in re.finditer(r"\b(?:not|no|non|negative|without|neither|nor)\b", text, re.I)]
    uncovered = uncovered_text(text, spans + negation_cues, rules)
    if unread:
        uncovered = (uncovered + " " + " ".join(text[v.start:v.end] for v in unread)).strip()
    leftover = len(uncovered.split()) + 2 * len(unread)
    if mixed:
        confidence = min(confidence, CAPS["mixed_and_or"])
        notes.append("the criterion mixes 'and' and 'or'; the grouping is a guess")
    if conditional:
        confidence = min(confidence, CAPS["conditional"])
        notes.append("a threshold applies only under a condition (if/for/except); not read as a general rule")
    if _same_variable_conflict(rules):
        confidence = min(confidence, CAPS["conflicting_thresholds"])
        notes.append("the same variable has different thresholds under different conditions")
    if kind == "exclusion" and not any(r.unit == "events" or r.variable == "cancer_status" for r in rules) \
            and _TIME_QUALIFIER.search(text) and any(r.comparator is None for r in rules):
        # "history of drug abuse within the past 2 years": the catalogue's history flag has no date
        confidence = min(confidence, CAPS["time_window"])
        notes.append("the text limits a history to a time window the catalogue variable does not record")
    if text.count("(") > text.count(")") or text.count("[") > text.count("]"):
        confidence = min(confidence, CAPS["cut_off"])
        notes.append("the text looks cut off (a bracket is not closed); a list in it may be incomplete")
    if unsafe:
        confidence = min(confidence, CAPS["changes_who_qualifies"])
    status = "computable"
    if left_out and not unsafe:
        # the unexpressed part is named; the rule kept errs only on the side the text allows
        status = "partial"
        confidence = min(confidence, CAPS["partial_safe"])
        notes.append("partial: leaves out " + "; ".join(repr(p) for p in left_out))
    if leftover > 2:
        status = "partial"
        if _partial_is_safe(text, kind, uncovered, rules):
            confidence = min(confidence, CAPS["partial_safe"])
            notes.append(f"reads only part of the criterion; not computable: {uncovered!r}")
        else:
            confidence = min(confidence, CAPS["changes_who_qualifies"])
            notes.append(f"the rest of the criterion ({uncovered!r}) may change who qualifies")
    if confidence < MIN_CONFIDENCE:
        return Extraction(None, {}, tuple(rules), confidence, "candidate", tuple(notes), candidate=expression,
                          uncovered=uncovered, skipped=skipped)
    return Extraction(expression, parameters, tuple(rules), confidence, status, tuple(notes), uncovered=uncovered,
                      skipped=skipped)


def _merge_diagnosis_and_duration(text: str, rules: list[Rule]) -> list[Rule]:
    """'T2DM for less than 1 year' is one condition (type and duration), not two alternatives."""
    out = list(rules)
    for d in [r for r in rules if r.variable == "diabetes_duration"]:
        types = [r for r in out if r.expression.startswith("diabetes_type ==")
                 and r.span[0] < d.span[1] and d.span[0] < r.span[1]]
        if not types:
            continue
        t = types[0]
        span = (min(t.span[0], d.span[0]), max(t.span[1], d.span[1]))
        merged = Rule("diabetes_type+diabetes_duration", trees.all_of([t.tree, d.tree]), d.parameters, span,
                      text[span[0]:span[1]],
                      min(t.confidence, d.confidence), d.comparator, d.value, d.unit, d.source_value, d.source_unit,
                      d.note, d.thresholds)
        out = [merged if r is t else r for r in out if r is not d]
    return out


def _clause_before(text: str, start: int) -> str:
    clause = re.split(r"[;.]\s|,\s(?=(?:and|or)\b)", text[:start])[-1]
    return clause[-60:]


def _same_variable_conflict(rules: list[Rule]) -> bool:
    seen: dict[tuple[str, str], float] = {}
    for r in rules:
        if r.comparator and r.value is not None and r.unit != "events":
            key = (r.variable, r.comparator)
            if key in seen and seen[key] != r.value:
                return True
            seen[key] = r.value
    return False


def _partial_is_safe(text: str, kind: str, uncovered: str, rules: list[Rule]) -> bool:
    """Leaving part of a criterion out is safe when that part is one more requirement (inclusion) or one
    more way to be excluded (exclusion): the rule kept then never contradicts the text."""
    conditional = r"\b(?:if|unless|except|other\s+than|provided|only|when|whether)\b"
    conjunctive = r"\b(?:with|despite|after|following|failure|requiring|required|due\s+to|because|while|both)\b"
    low = uncovered.lower()
    if re.search(conditional, low) or (kind == "exclusion" and re.search(conjunctive, low)):
        return False
    masked = list(text)
    lo, hi = min(r.span[0] for r in rules), max(r.span[1] for r in rules)
    for i in range(lo, hi):  # connectors among the rules were read already
        masked[i] = " "
    outside = re.sub(r"\((?:[^()]|\([^()]*\))*\)|\[[^\[\]]*\]", " ", "".join(masked)).lower()
    if kind == "inclusion":
        return not re.search(r"\bor\b|\beither\b|and\s*/\s*or", outside)
    return bool(re.search(r"\bor\b|,|;|\band\b", outside) or hi - lo >= len(text.strip()) * 0.5)


def _duration_rules(text: str, kind: str, values: list[Value], attached: list[_Attached], names: _Names
                    ) -> tuple[list[Rule], list[str]]:
    """'T1DM for at least 5 years', 'duration of diabetes > 2 years', 'diagnosed with T2D >= 1 year'."""
    used = {id(a.value) for a in attached}
    rules, notes = [], []
    for v in values:
        if id(v) in used or not v.units or v.units[0] not in _TIME_UNITS or v.ops == ("",) or len(v.numbers) != 1:
            continue
        before = text[max(0, v.start - 80):v.start]
        m = re.search(r"(?:diabetes(?:\s+mellitus)?|\bT[12]DM?\b|\bIDDM\b|\bNIDDM\b|onset\s+of\s+diabetes|"
                      r"duration\s+of\s+(?:type\s*\w\s+)?diabetes|diabetes\s+duration)"
                      r"(?:\s*\([^)]*\))?(?:\s+mellitus)?\s*(?:for|since|of|duration|:)?\s*(?:\w+\s+){0,1}(?:(?:for|since)\s+)?$",
                      before, re.I)
        if not m or re.search(r"insulin|treat|therapy|pump", before[m.start():], re.I):
            continue
        value, unit, conf, problem = _convert("diabetes_duration", v.numbers[0], v.units[0], v.numbers)
        if problem:
            notes.append(f"{text[v.start:v.end]!r}: {problem}")
            continue
        op = v.ops[0]
        pname = names(_bound_name("diabetes_duration", op, kind))
        param = _parameter("diabetes_duration", value, op)
        start = v.start - (len(before) - m.start())
        rules.append(Rule("diabetes_duration", trees.compare("diabetes_duration", op, pname), {pname: param}, (start, v.end),
                          text[start:v.end], 0.85, op, value, "years", v.numbers[0], v.units[0],
                          "time since diagnosis" + (f"; converted from {v.units[0]}" if v.units[0] != "years" else ""),
                          (Threshold("diabetes_duration", op, value, "years", v.numbers[0], v.units[0]),)))
    return rules, notes
