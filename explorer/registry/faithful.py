"""Keep extracted rules faithful to their text: never say more, or other, than the criterion says.

Four checks run on the rules read from one criterion, before they are joined:

- a concept narrowed by a qualifier the catalogue cannot express ("poorly controlled type 2 diabetes",
  "foot ulcer of grade III") is read with its definition when the text gives one in brackets; otherwise an
  inclusion keeps the broader concept (it only admits more people, and the part left out is named), and an
  exclusion drops it (the broader concept would exclude people the text enrols);
- exceptions ("bilirubin up to 3 x ULN may be enrolled"), "N of the following" and alternatives left
  unread ("any of the following" with only some read) make the reading unsafe: it could change who is
  eligible, so the criterion stays non-computable with the reason in its note;
- a named panel read as some of its members ("liver function tests" as ALT or AST) names the members left out, and
  so does a list of tests sharing one value when some are not catalogue variables ("ALT, AST or alkaline
  phosphatase > 3 x ULN");
- every variable a rule names, and every number it compares with, must occur in the rule's own source text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from explorer import expr
from explorer.catalogue import default_catalogue
from explorer.registry import lexicon, trees
from explorer.registry.model import Rule

_LOOKAHEAD = re.compile(r"\(\?<?=(?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")  # lookaheads and lookbehinds
_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|\.\d+")


def _is_concept(rule) -> bool:
    return rule.comparator is None and not rule.thresholds and rule.tree is not None


def _qualifier(text: str, rule, others: list) -> re.Match | None:
    """The qualifier narrowing a concept mention, unless the concept's own meaning includes it."""
    narrow = lexicon.NARROW_DEFINITION.match(text[rule.span[1]:rule.span[1] + 60])
    if narrow:
        return narrow  # checked first: the catalogue's description names the test among others
    before = text[max(0, rule.span[0] - 40):rule.span[0]]
    m = lexicon.QUALIFIERS_BEFORE.search(before)
    opening = text.rfind("(", 0, rule.span[0])
    if m is None and opening > 0 and ")" not in text[opening:rule.span[0]]:
        # "uncontrolled systemic illness (uncontrolled diabetes, HIV, ...)": the examples are of the qualified head
        m = lexicon.QUALIFIERS_BEFORE.search(text[max(0, opening - 40):opening].rstrip() + " ")
    found = m.group(0) if m else None
    if found is None:
        # wide enough for a restrictive clause: "illness that, in the opinion of the investigator, would affect"
        m = lexicon.QUALIFIERS_AFTER.match(text[rule.span[1]:rule.span[1] + 140])
        found = m.group(0) if m else None
    if found is None:
        # "type 2 diabetes with microalbuminuria": a "with" phrase nothing was read from narrows the concept;
        # "type 2 diabetes with HbA1c > 10%" is read, and joined by "and"
        m = lexicon.WITH_PHRASE.match(text[rule.span[1]:rule.span[1] + 60])
        if m and any(rule.span[1] <= o.span[0] < rule.span[1] + m.end() for o in others):
            m = None
        found = m.group(0) if m else None
    if found is None:
        return None
    var = default_catalogue().get(rule.variable)
    described = (var.description.lower() if var else "")
    first = re.findall(r"[a-z]+", found.lower())
    if first and first[0] in {"requiring", "needing"}:
        # "infection requiring parenteral antibiotics" is narrower than the catalogue's "requiring treatment"
        what = re.findall(r"[a-z]+", text[rule.span[1] + m.end():rule.span[1] + m.end() + 40].lower())[:2]
        if any(w not in described and w not in {"treatment", "therapy", "the", "a", "an"} for w in what):
            return m
    if first and re.search(rf"\b{first[0]}\b", described) and first[0] not in {"not"}:
        return None  # "uncontrolled" endocrine disease: the catalogue variable already means uncontrolled
    return m


def _in_brackets_after(text: str, concept, other) -> bool:
    """Whether `other` lies inside a bracket opening right after the concept: its definition."""
    opening = re.match(r"\s*[(\[]", text[concept.span[1]:])
    if not opening:
        return False
    start = concept.span[1] + opening.end()
    close = text.find(")" if opening.group(0).strip() == "(" else "]", start)
    close = len(text) if close < 0 else close
    return start <= other.span[0] and other.span[1] <= close + 1


def _reading_vs_text(text: str, rule, others: list) -> tuple[str, str] | None:
    """How the concept reading compares with the words it came from: ("broader" | "narrower" | "unknown", why),
    or None when it says the same."""
    if "pregnant" in rule.variable.split("+"):
        before = text[max(0, rule.span[0] - 40):rule.span[0]]
        kind_of = lexicon.PREGNANCY_SUBTYPES.search(before)
        current = next((c for c in lexicon.CURRENT_OR_KIND.finditer(before) if c.end() == len(before)), None) \
            if kind_of else None
        if current:
            # "current or planned pregnancy": the current one (what `pregnant` records) or a kind it cannot tell
            return "narrower", f"{' '.join(current.group('kind').split())} pregnancy (an alternative not read)"
        if kind_of:
            return "broader", " ".join(kind_of.group(0).split()) + " pregnancy"
        kind_after = lexicon.PREGNANCY_KIND_AFTER.match(text[rule.span[1]:rule.span[1] + 60])
        return ("broader", "pregnancy " + " ".join(kind_after.group(0).split())) if kind_after else None
    if rule.thresholds:
        measured = all(t.variable in lexicon.NUMERIC_TERMS and t.variable not in {"age", "diabetes_duration"}
                       for t in rule.thresholds)  # a history of cancer or of events is what those variables record
        if measured and lexicon.HISTORICAL.search(text[max(0, rule.span[0] - 30):rule.span[0]]):
            return "unknown", "a past value (the catalogue holds the current one)"
        # "treated systolic > 155 or diastolic > 95": the qualifier holds for both limits of the clause
        if measured and lexicon.UNDER_TREATMENT.search(text[max(0, rule.span[0] - 80):rule.span[0]]):
            return "unknown", "a value under treatment (the catalogue's value does not say whether treated)"
        return None
    var = default_catalogue().get(rule.variable)
    current = lexicon.CURRENT_BEFORE.search(text[max(0, rule.span[0] - 30):rule.span[0]])
    loose = lexicon.LOOSE_CONCEPTS.get(rule.variable)
    loose = loose is not None and bool(loose.fullmatch(rule.source.strip()))
    if current and var is not None and var.description.lower().startswith("history of"):
        # "active alcohol dependence" read as a history flag: the flag also holds everyone with a past episode; a
        # loose wording read as a narrower flag ("current substance abuse" as drug misuse) is also narrower: neither
        return ("unknown" if loose else "broader"), " ".join(current.group(0).split()) + " " + rule.source
    past = lexicon.PAST_BEFORE.search(re.split(r"[.;:]", text[max(0, rule.span[0] - 80):rule.span[0]])[-1])
    # "history of stroke and active TB": a current word after a list's joint starts an item of the present
    present = lexicon.CURRENT_WORD.search(past.group(0)) if past else None
    if past and lexicon.CURRENT_WORD.match(rule.source) and re.search(r"\b(?:and|or)\b|,", past.group(0)):
        present = True
    both = lexicon.PAST_AND_PRESENT_BEFORE.search(text[max(0, rule.span[0] - 60):rule.span[0]])
    if both and both.group("past") and not lexicon.CURRENT_WORD.match(rule.source):
        both = None  # "previous or " before a concept that names no time of its own is another list
    if both and rule.variable in lexicon.CURRENT_STATE_ONLY:
        # "Past or present hepatitis B" read as the current infection leaves out the past one (draw 20261401 #26)
        cue = both.group("cue") or f"{both.group('past')} or"
        return "narrower", f"{' '.join(cue.split())} {rule.source} (the catalogue holds only the current state)"
    if past and rule.variable in lexicon.CURRENT_STATE_ONLY and not present:
        # "a history of a positive HBsAg test" read as the current infection leaves out those who cleared it
        return "narrower", f"{' '.join(past.group('cue').split())} ... {rule.source} (the catalogue holds only the current state)"
    m = _qualifier(text, rule, others)
    if m is not None:
        # a qualified loose wording ("lung disease, GOLD stage 0") relates to the variable in no known way
        return ("unknown" if loose else "broader"), " ".join(m.group(0).split())
    if not loose:
        return None
    before = re.findall(r"[A-Za-z-]+", text[max(0, rule.span[0] - 30):rule.span[0]])
    if before and before[-1].lower() not in lexicon.NOT_A_SUBTYPE:
        return "unknown", f"{before[-1]} {rule.source}"
    return "narrower", f"{rule.source!r} read as {rule.variable}"


def qualified_concepts(text: str, kind: str, rules: list, connector: Callable) -> tuple[list, list[str], list[str], bool]:
    """(rules kept, notes, parts left out, unsafe) for concepts whose reading is broader or narrower than the text.

    An inclusion may keep a broader reading (it admits more), an exclusion a narrower one (it excludes fewer);
    the part that differs is named. Any other reading is dropped: safe when the term was one more way to be
    excluded (or) or one more requirement (and), otherwise the criterion is not computable.
    """
    notes: list[str] = []
    left_out: list[str] = []
    unsafe = False
    out = list(rules)
    for rule in rules:
        if rule not in out or not (_is_concept(rule) or rule.thresholds):
            continue
        found = _reading_vs_text(text, rule, [r for r in out if r is not rule])
        if found is None:
            continue
        direction, what = found
        positive = not any(isinstance(n, expr.Not) for n in expr.walk(rule.tree))
        definition = next((r for r in out if r is not rule and r.thresholds and _in_brackets_after(text, rule, r)),
                          None)
        if direction == "broader" and definition is not None and positive:
            span = (rule.span[0], max(rule.span[1], definition.span[1]))
            merged = Rule(f"{rule.variable}+{definition.variable}", trees.all_of([rule.tree, definition.tree]),
                          definition.parameters, span, text[span[0]:span[1]],
                          min(rule.confidence, definition.confidence), definition.comparator, definition.value,
                          definition.unit, definition.source_value, definition.source_unit,
                          f"'{what}' read as its definition in brackets", definition.thresholds)
            out = [merged if r is rule else r for r in out if r is not definition]
            continue
        if not positive and direction != "unknown":
            direction = "narrower" if direction == "broader" else "broader"
        allowed = "broader" if kind == "inclusion" else "narrower"
        if direction == allowed:
            more = "admits more people" if kind == "inclusion" else "excludes fewer people"
            left_out.append(f"{what} (the reading of {rule.source!r} {more} than the text)")
            continue
        index = out.index(rule)
        neighbours = [(out[index - 1], rule)] if index > 0 else []
        neighbours += [(rule, out[index + 1])] if index + 1 < len(out) else []
        joined = {connector(text, a, b, kind) for a, b in neighbours}
        # dropping a term is safe only where it is one more way to be excluded (or) / one more requirement (and)
        if ("and" if kind == "exclusion" else "or") in joined:
            unsafe = True
            notes.append(f"{rule.source!r} cannot be read as the text means it ({what!r}), and without it the "
                         f"rule would change who qualifies; not computable")
        else:
            notes.append(f"{rule.source!r} is left out: the catalogue cannot express {what!r}")
        left_out.append(what if what.endswith(rule.source) else f"{what} {rule.source}")
        out.remove(rule)
    return out, notes, left_out, unsafe


def _exception_touches(text: str, kind: str, m: re.Match, rules: list) -> bool:
    """Whether an exception could change what the rules say. In an exclusion list, an exception in brackets
    after another, unread term ("... or biliary disease (except treated gall stones)") carves only that term
    out: the rules before it still exclude exactly whom the text excludes."""
    opening = text.rfind("(", 0, m.start())
    if kind == "exclusion" and (opening < 0 or ")" in text[opening:m.start()]):
        return _touches_past_a_later_alternative(text, m, rules)
    if kind != "exclusion" or opening < 0 or ")" in text[opening:m.start()]:
        return True
    before = [r for r in rules if r.span[1] <= opening]
    if len(before) != len(rules):
        return True
    last = max(r.span[1] for r in before)
    if not re.search(r"[,;]", text[last:opening]):
        # no list separator: the bracket qualifies the last rule's own term ("participated in another study
        # within 30 days (other than study X)")
        return True
    host = re.findall(r"[A-Za-z]{3,}", text[last:opening])
    return len([w for w in host if w.lower() not in {"and", "or", "any", "the", "with", "history"}]) < 2


def _touches_past_a_later_alternative(text: str, m: re.Match, rules: list) -> bool:
    """An exclusion's exception after one more alternative that opens with a joint of the list and has a head of its
    own ("pregnant or lactating, or of childbearing potential unless using contraception"): it carves people out of
    that alternative only, so the rules before it still exclude exactly whom the text excludes."""
    if not rules or any(r.span[1] > m.start() for r in rules):
        return True
    last = max(r.span[1] for r in rules)
    between = text[last:m.start()]
    joint = re.match(r"[\s,;]*(?:(?:and\s*/\s*or|or|as\s+well\s+as|and)\b|,)", between, re.I)
    if not joint or re.search(r"[.;](?:\s|$)", between):
        return True
    host = re.findall(r"[A-Za-z]{3,}", between[joint.end():])
    return len([w for w in host if w.lower() not in lexicon.UNCOVERED_STOP_WORDS
                and w.lower() not in {"and", "any", "the", "who", "are", "those", "with"}]) < 2


def unstated_parts(text: str, kind: str, rules: list, *, count_read: bool = False) -> list[str]:
    """Reasons the rules, joined, could not state the criterion: exceptions, counts of criteria, alternatives."""
    if not rules:
        return []
    notes = []
    if kind == "inclusion" and lexicon.INELIGIBLE.search(text):
        notes.append("an inclusion that says who is ineligible states an exclusion; not computable")
    subgroup = lexicon.SUBGROUP_REQUIREMENT.match(text) or lexicon.SUBGROUP_HEADING.match(text)
    # "For female patients: ... a negative pregnancy test": the pregnancy rules hold for women only already
    women_only = subgroup is not None and re.search(r"\b(?:wom[ae]n|females?)\b", subgroup.group(0), re.I) and all(
        set(expr.names(r.tree)) <= {"sex", "pregnant", "lactating", "childbearing_potential"} for r in rules)
    if subgroup and kind == "inclusion" and not women_only and not any(r.applies_to for r in rules):
        notes.append(f"the requirement holds only for a subgroup ({' '.join(subgroup.group(0).split())!r}); "
                     "not computable")
    # a group a rule states (conditions.conditioned: "for patients on insulin") is no exception left unread
    stated = [r.span for r in rules if r.applies_to]
    m = next((m for m in lexicon.EXCEPTIONS.finditer(text) if _exception_touches(text, kind, m, rules)
              and not any(a <= m.start() < b for a, b in stated)), None)
    if m:
        notes.append(f"the text makes an exception ({m.group(0)!r}) the rule cannot state; not computable")
    read = {(trees.text(r.tree.operand) if isinstance(r.tree, expr.Not) else trees.text(r.tree),
             isinstance(r.tree, expr.Not)) for r in rules if r.tree is not None}
    both = sorted(t for t, negated in read if negated and (t, False) in read)
    if both:
        notes.append(f"{both[0]!r} is read both as present and as absent; not computable")
    m = lexicon.N_OF_FOLLOWING.search(text)
    if m and not count_read:  # counted.py reads "at least n of the following", or says why it cannot
        notes.append(f"{m.group(0)!r}: a count of criteria cannot be expressed; not computable")
    m = lexicon.ANY_OF_FOLLOWING.search(text)
    if m and kind == "inclusion":
        rest = m.end()
        pieces = [(rest + p.start(), rest + p.end()) for p in re.finditer(r"[^;\n•*]+", text[rest:])
                  if re.search(r"[A-Za-z]{3,}", p.group(0))]
        unread = [text[a:b].strip() for a, b in pieces
                  if not any(r.span[0] < b and a < r.span[1] for r in rules)]
        if unread:
            notes.append(f"only some alternatives after {m.group(0)!r} were read (not {unread[0]!r}); "
                         f"requiring those alone would fail people the text admits; not computable")
    return notes


@cache
def _mention_patterns() -> dict[str, list[re.Pattern]]:
    """Each variable name -> the patterns that name it in text (numeric terms, groups, concepts, events)."""
    out: dict[str, list[re.Pattern]] = {}
    for name, patterns in lexicon.NUMERIC_TERMS.items():
        out.setdefault(name, []).extend(re.compile(p, re.I) for p in patterns)
    for names, patterns in lexicon.GROUP_TERMS.items():
        for name in names:
            out.setdefault(name, []).extend(re.compile(p, re.I) for p in patterns)
    for expression, patterns in lexicon.CONCEPTS:
        for name in re.findall(r"[a-z_][a-z_0-9]*", expression):
            # a lookahead looks past the mention ("type 1(?= or type 2 diabetes)"); the mention is what counts
            out.setdefault(name, []).extend(re.compile(_LOOKAHEAD.sub("", p), re.I) for p in patterns)
    for name, patterns in lexicon.EVENTS.items():
        out.setdefault(name, []).extend(re.compile(p, re.I) for p in patterns)
    # names a text states in other words: an age in years, a duration of diabetes, a cancer history
    out.setdefault("age", []).append(re.compile(r"(?:(?<=\d)|\b)(?:years?|yrs?|y/o|old|older|younger|adults?|ans|"
                                                r"months?|weeks?|days?)\b", re.I))
    out.setdefault("diabetes_duration", []).append(re.compile(r"diabet|\bT[12]DM?\b|\bN?IDDM\b", re.I))
    out.setdefault("cancer_status", []).append(re.compile(r"cancer|malignan|tumou?r|neoplas", re.I))
    out.setdefault("insulin_dose_per_kg", []).extend(out.get("insulin_dose", []))
    out.setdefault("random_glucose", []).append(re.compile(r"glucose|sugar", re.I))
    out.setdefault("hepatitis_c", []).append(re.compile(r"hepatitis\s+B\s*(?:,|or|and|/)\s*C\b", re.I))
    return out


def _numbers(source: str) -> list[float]:
    found = []
    for m in _NUMBER.finditer(source):
        raw = m.group(0)
        raw = raw.replace(",", ".") if re.fullmatch(r"\d+,\d{1,2}", raw) else raw.replace(",", "")
        found.append(float(raw))
    low = source.lower()
    found += [float(v) for w, v in lexicon.NUMBER_WORDS.items() if len(w) > 2 and re.search(rf"\b{w}\b", low)]
    return found


def check_rule(rule) -> str | None:
    """None when every variable and number of the rule occurs in its source text; else the problem."""
    if rule.tree is None:
        return None
    patterns = _mention_patterns()
    # an event is a Name inside count(); parameters are the rule's own names
    for name in sorted(expr.names(rule.tree) - set(rule.parameters) - lexicon.IMPLIED_VARIABLES):
        if not any(p.search(rule.source) for p in patterns.get(name, [])):
            return f"the rule {rule.expression!r} names {name}, which {rule.source!r} does not mention; not read"
    numbers = _numbers(rule.source)
    for t in rule.thresholds:
        written = t.source_value if t.source_value is not None else t.value
        if t.unit == "events" and written == 1:
            continue  # "severe hypoglycaemia in the past year": at least one, unwritten
        if not any(abs(written - n) <= 1e-9 * max(1.0, abs(n)) for n in numbers):
            return f"the rule compares with {written:g}, which {rule.source!r} does not contain; not read"
    return None


_BRACKET = re.compile(r"\((?:[^()]|\([^()]*\))*\)|\[[^\[\]]*\]")
# a number standing alone: not part of a name or a unit ("type 2" is, "IgG4", "m2" and "1.73 m2" are not)
_BARE_NUMBER = re.compile(r"(?<![A-Za-z\d.,/^-])\d+(?:[.,]\d+)?(?![\d.,]*\d|\s*(?:m2|m\^2|m²)\b|[A-Za-z])")
_LIMIT_WORDS = re.compile(r"\b(?:up\s+to|at\s+(?:least|most)|no\s+(?:more|less|older|younger)\s+than|maximum|minimum|"
                          r"limit|only|under|over|older|younger|above|below|until)\b", re.I)
# a pointer to elsewhere in a document, no limit of the criterion
_REFERENCE = re.compile(r"\b(?:sections?|appendix|annex|table|figure|page|version|protocol|see)\b", re.I)
# the name of the upper limit of normal written out, alone in a bracket after its abbreviation
_ULN_SPELLED = re.compile(r"\s*(?:(?:ULN|UNL)\s*[,:=]?\s*)?(?:the\s+)?(?:upper\s+limits?\s+of\s+(?:the\s+)?(?:normal|reference)"
                          r"(?:\s+(?:range|values?))?|upper\s+normal\s+limits?)\s*", re.I)
_ALTERNATIVE = re.compile(r"^\W*(?:or|either|and\s*/\s*or|unless|except|otherwise)\b", re.I)


def unread_brackets(text: str, kind: str, rules: list, read: list[tuple[int, int]]) -> tuple[list[str], list[str], bool]:
    """(parts left out, notes, unsafe) for brackets no rule read that hold a number or a limit ("Aged 18 or over (up
    to the age of 35 ...)"). `read` spans values accounted for elsewhere (read, or with a unit: reported unread). Left out silently, such a bracket would change who qualifies without saying so: it is
    named (partial), and where leaving it out errs on the side the text forbids (an alternative in an inclusion, a
    qualifier right after an exclusion's rule) the criterion is not computable."""
    left_out: list[str] = []
    notes: list[str] = []
    unsafe = False
    for m in _BRACKET.finditer(text):
        if any(m.start() < r.span[1] and r.span[0] < m.end() for r in rules):
            continue  # the bracket was read, or is part of what a rule read
        inner = m.group(0)[1:-1]
        numbers = [n for n in _BARE_NUMBER.finditer(inner)
                   if not any(s <= m.start() + 1 + n.start() < e for s, e in read)
                   and not re.fullmatch(r"(?:19|20)\d\d", n.group(0))]  # a year: "(Allen 2014)" cites a source
        if not numbers and not _LIMIT_WORDS.search(inner) or _REFERENCE.search(inner) or _ULN_SPELLED.fullmatch(inner):
            continue  # "3 x ULN (upper limit of normal)": the abbreviation spelled out, no limit of its own
        what = " ".join(m.group(0).split())
        alternative = bool(_ALTERNATIVE.match(inner))
        qualifies = any(r.span[1] <= m.start() and re.fullmatch(r"[\s,]*", text[r.span[1]:m.start()]) for r in rules)
        if (kind == "inclusion" and alternative) or (kind == "exclusion" and qualifies and not alternative):
            unsafe = True
            notes.append(f"the bracket {what!r} is not read, and without it the rule would change who qualifies; "
                         "not computable")
        else:
            more = "admits more people" if kind == "inclusion" else "excludes fewer people"
            left_out.append(f"{what} (a bracketed limit or qualifier not read; the rule {more} than the text)")
    return left_out, notes, unsafe


def _named_by_own_term(name: str, source: str) -> bool:
    """Whether the source names the variable itself ("ALT"), not only a group it belongs to ("LFTs")."""
    return any(re.search(p, source, re.I) for p in lexicon.NUMERIC_TERMS.get(name, []))


def panel_left_out(text: str, kind: str, rules: list) -> tuple[list[str], list[str], bool]:
    """(parts left out, notes, unsafe) for rules that read a named panel ("liver function tests > 3 x ULN") as
    some of its members (ALT or AST): the members not read are named. An exclusion that excludes on any member read
    excludes fewer people than the text, an inclusion that requires each member read admits more: both err on the
    side the text allows (partial). Read any other way (an exclusion needing every member, an inclusion any one),
    the rule would change who qualifies: not computable. A panel whose members the text lists itself ("LFTs (ALT,
    AST) > 2 x ULN") is what the text says."""
    left_out: list[str] = []
    notes: list[str] = []
    unsafe = False
    for rule in rules:
        read = {t.variable for t in rule.thresholds}
        if not read or rule.tree is None:
            continue
        for pattern, members in lexicon.PANELS.items():
            panel = re.search(pattern, rule.source, re.I)
            if panel is None or not read <= set(members) or any(_named_by_own_term(v, rule.source) for v in read):
                continue
            missing = [m for m in members if m not in read]
            if not missing:
                continue
            # an exclusion excludes on any member read (or), an inclusion requires each (and): anything else errs the
            # wrong way once the other members count
            joined = "or" if kind == "exclusion" else "and"
            if len(read) > 1 and not (isinstance(rule.tree, expr.BoolOp) and rule.tree.op == joined):
                unsafe = True
                notes.append(f"{panel.group(0)!r} is read as {' and '.join(sorted(read))} joined the wrong way for "
                             f"a panel that also covers {', '.join(missing)}; not computable")
                continue
            more = "admits more people" if kind == "inclusion" else "excludes fewer people"
            left_out.append(f"{', '.join(missing)} of the {' '.join(panel.group(0).split())} (the panel is read as "
                            f"{' and '.join(sorted(read))} only; the rule {more} than the text)")
    return left_out, notes, unsafe


_OR_JOIN = re.compile(r"\bor\b|/", re.I)
_AND_JOIN = re.compile(r"\band\b(?!\s*/)|&", re.I)


def unlisted_members(text: str, kind: str, attached: list, rules: list) -> tuple[list[str], list[str], bool]:
    """(parts left out, notes, unsafe) for a list of tests sharing one value where some are no catalogue variable
    ("serum creatinine or BUN > 2 x ULN", "ALT, AST or alkaline phosphatase > 3 x ULN"): the rule reads the others
    only, so the tests it cannot read are named. An exclusion listed with "or" (or commas) excludes fewer people
    without them, an inclusion listed with "and" admits more: both err on the side the text allows (partial). An
    exclusion listed with "and" (all raised together) or an inclusion with "or" (any one enough) would err the other
    way without them: not computable."""
    left_out: list[str] = []
    notes: list[str] = []
    unsafe = False
    for item in attached:
        unread = [m for m in item.mentions if not m.variables]
        if not unread or len(unread) == len(item.mentions):
            continue
        v = item.value
        if not any(r.span[0] <= v.start and v.end <= r.span[1] for r in rules):
            continue
        joins = " ".join(text[a.end:b.start] for a, b in zip(item.mentions, item.mentions[1:], strict=False))
        names = ", ".join(" ".join(m.text.split()) for m in unread)
        value = " ".join(text[v.start:v.end].split())
        if (kind == "exclusion" and _AND_JOIN.search(joins) and not _OR_JOIN.search(joins)) or \
                (kind == "inclusion" and _OR_JOIN.search(joins)):
            unsafe = True
            notes.append(f"{names} shares the value {value!r} with the tests read but is no catalogue variable; "
                         "without it the rule would change who qualifies; not computable")
            continue
        more = "admits more people" if kind == "inclusion" else "excludes fewer people"
        left_out.append(f"{names} {value} (listed with the tests read, but no catalogue variable; the rule {more} "
                        "than the text)")
    return left_out, notes, unsafe
