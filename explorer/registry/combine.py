"""Step 5 of extraction: join a criterion's rules with its own connectors and measure what they leave unread.

A list ("GADA, IA-2A or IAA") binds tighter than the sentence; "and" binds tighter than "or". What the rules
do not cover is named, and a partial reading is kept only when leaving the rest out cannot turn someone who
meets the text into someone who fails it.
"""

from __future__ import annotations

import re

from explorer import expr
from explorer.catalogue import default_catalogue
from explorer.registry import examples, lexicon, trees
from explorer.registry.model import Rule

CONDITIONAL = re.compile(
    r"\b(?:if|unless|when|whereas|provided|except(?:\s+for)?|other\s+than|only|note)\b|"
    r"\bfor\s+(?:participants|subjects|patients|those|individuals|people|men|women|males|females)\b|"
    r"\bin\s+(?:men|women|males|females)\b|\((?:males?|females?)\)", re.I)
CONDITION_AFTER = re.compile(
    r"\s*[(,]?\s*(?:if|unless|when|only|except|for\s+(?:men|women|males?|females?)|in\s+(?:men|women)|"
    r"\((?:males?|females?|men|women)\))", re.I)
TIME_QUALIFIER = re.compile(
    r"\bwithin\b|\b(?:past|last|preceding|previous|prior)\s+(?:\d+(?:\.\d+)?\s+|\w+\s+)?(?:years?|months?|weeks?|days?)\b"
    r"|\brecent(?:ly)?\b|\bin\s+the\s+\d+\s+(?:years?|months?|weeks?)\s+(?:prior|before)"
    r"|\b\d+\s+(?:years?|months?|weeks?|days?)\s+(?:prior|before)\b", re.I)
_DEFINITION = re.compile(
    r"\((?:[^()]|\([^()]*\))*\)|\[(?:[^\[\]])*\]|\b(?:e\.g\.|i\.e\.|such\s+as|"
    r"as\s+guideline|including\s+but\s+not\s+limited\s+to|including)\b[^;.]*|"
    # the rule a diagnosis is judged by ("according to ICD-10 or DSM-5", "as defined by the ADA"): it ends where a
    # run-on line's next item begins (_NEXT_ITEM, found in uncovered_text)
    r"\b(?P<reference>based\s+on|according\s+to|as\s+per|defined\s+(?:as|by)|as\s+defined|"
    r"as\s+(?:assessed|verified|documented|confirmed|determined|evidenced|shown|measured)\s+by)\b[^;.]*|"
    # how a value is measured or estimated: "using the Cockcroft-Gault formula", "calculated by MDRD"
    r"\b(?:using|by|with|per|calculated\s+(?:by|with|using))\s+(?:the\s+)?(?:[\w-]+\s+){0,3}(?:formula|equation|method)\b"
    r"|\b(?:calculated|estimated|measured)\s+(?:by|with|using)\s+(?:the\s+)?(?:MDRD|CKD-?EPI|Cockcroft[- ]Gault)\b",
    re.I)
# where a reference clause ends: a comma before a capital (", Age 18-45 years, Never treated with ...") or before
# "or"/"and" (", or with a history of ..."), or "and"/"or" before a new requirement ("... by the ADA and currently taking metformin")
_NEXT_ITEM = re.compile(r",\s*(?-i:[A-Z][a-z])|,\s*(?:and\s*/\s*or|or|and)\b|\b(?:and|or)\s+(?:currently|must|should|is|are|has|have|had|who|not|no|"
                        r"never|without|receiving|taking|treated|on)\b", re.I)
_DEFINITION_ITEM = re.compile(rf"{_NEXT_ITEM.pattern}|\b(?:and|or)\b(?=[^;.]*\d)", re.I)  # another value follows
# "Renal function deficiency (GFR < 30 ml/min)": words naming what a bracket right after them defines
_DEFINED_HEAD = re.compile(r"(?:^|(?<=[;:]))\s*(?P<head>[A-Za-z][A-Za-z' -]{2,60}?)\s*[(\[]")


_CONJUNCTION = re.compile(r"\bwith\b|\bplus\b|\btogether\b|\bcombin\w*|\bboth\b|\band\s+(?:also|has|had|have|is|are|was|"
                          r"were|must|who)\b|;|\.\s", re.I)
_ANY_OF = re.compile(r"\b(?:at\s+least\s+one|any(?:\s+one)?\s+of|one\s+of|either|any)\b[^.;]*$", re.I)


def connector(text: str, a: Rule, b: Rule, kind: str) -> str:
    """How two neighbouring rules combine, from the words between them (and before a list)."""
    if examples.same_list(text, a, b):
        return "or"  # examples of one head: any one of them is a case of it
    between = re.sub(r"\b(?:e\.g|i\.e|etc|vs)\.", " ", text[a.span[1]:b.span[0]].lower())
    between = re.sub(r"\([^()]{0,15}\)", " ", between)  # "(GADA), ": an abbreviation, not a connector
    between = re.sub(r"\b(?:\d+|one|two|three)\s+or\s+more\b|\bor\s+(?:more|less|greater|older|younger)\b", " ",
                     between)  # "1 or more medications": a count, not a connector
    if re.search(r"\band\s*/\s*or\b|\bor\b|\beither\b", between):
        return "or"
    if kind == "exclusion" and _two_values_joined_by_and(text, a, b, between):
        return "and"
    if kind == "exclusion":
        # an exclusion list names ways to be excluded: "A, B, and C" excludes any of them; a capitalised "AND"
        # insists on both
        return "and" if _CONJUNCTION.search(between) or re.search(r"\bAND\b", text[a.span[1]:b.span[0]]) else "or"
    if re.fullmatch(r"[\s,()\[\]/]*(?:and\s*)?[\s,()\[\]/]*", between) and _ANY_OF.search(text[:a.span[0]]):
        return "or"
    return "and"


def _two_values_joined_by_and(text: str, a: Rule, b: Rule, between: str) -> bool:
    """"systolic > 200 mmHg and diastolic > 110 mmHg": two variables, each with its own value, joined by a bare
    "and" are both required (read as "or", an exclusion would exclude people the text keeps). One variable's two
    limits ("< 18 years and > 70 years") cannot both hold: that "and" lists ways to be excluded."""
    if a.value is None or b.value is None or a.variable == b.variable:
        return False
    own_value = re.search(r"\d", text[a.span[0]:a.span[1]]) and re.search(r"\d", text[b.span[0]:b.span[1]])
    return bool(own_value) and re.fullmatch(r"\s*and\s+", between) is not None  # "A, and B" is a list


# a bare comma between two rules, nothing else
_COMMA_GAP = re.compile(r"\s*,\s*")


def _is_list_gap(text: str, a: Rule, b: Rule) -> bool:
    between = re.sub(r"\([^()]{0,15}\)", " ", text[a.span[1]:b.span[0]])
    return bool(re.fullmatch(r"[\s,()\[\]/]*(?:(?:and\s*/\s*or|or|and)\s*)?[\s,()\[\]/]*", between))


def combine(text: str, kind: str, rules: list[Rule]) -> tuple[expr.Node, bool]:
    """Join rules with the text's own connectors. Returns (tree, whether 'and' and 'or' mix).

    A list ("GADA, IA-2A or IAA") binds tighter than the sentence around it; otherwise "and" binds
    tighter than "or", as in the expression language.
    """
    if len(rules) == 1:
        return rules[0].tree, False
    connectors = [connector(text, a, b, kind) for a, b in zip(rules, rules[1:], strict=False)]
    # "A, B, or C" / "A, B or C": the commas of a list that ends in "or" are "or" too (an inclusion reads a bare comma
    # as "and"; read so here, "SBP >= 140, DBP >= 90, or treated" required SBP >= 140 of everyone)
    for i in range(len(connectors) - 2, -1, -1):
        if connectors[i] == "and" and connectors[i + 1] == "or" and _is_list_gap(text, rules[i + 1], rules[i + 2]) \
                and _COMMA_GAP.fullmatch(re.sub(r"\([^()]{0,15}\)", " ", text[rules[i].span[1]:rules[i + 1].span[0]])):
            connectors[i] = "or"
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


def _defined_heads(text: str, rules: list[Rule]) -> list[tuple[int, int]]:
    """Spans of the words a bracket defines when every rule lies inside that bracket: the rules state the head."""
    out = []
    for m in _DEFINED_HEAD.finditer(text):
        opening = m.end() - 1
        close = text.find(")" if text[opening] == "(" else "]", opening)
        if close < 0 or not rules:
            continue
        while text.count("(", opening, close) > text.count(")", opening, close + 1) and close + 1 < len(text):
            close = text.find(")", close + 1) if text.find(")", close + 1) >= 0 else len(text) - 1
        if all(opening < r.span[0] and r.span[1] <= close + 1 for r in rules) and \
                not re.search(r"\b(?:or|and|with|without|not|no|history|prior|previous)\b", m.group("head"), re.I):
            out.append(m.span("head"))
    return out


def _heads_defined_by_value(text: str, rules: list[Rule]) -> list[tuple[int, int]]:
    """Spans of an organ's failure named right before the value that states it ("Severe renal failure with eGFR
    < 30"): lexicon.DEFINED_BY_VALUE."""
    out = []
    for rule in rules:
        for organ, variables in lexicon.DEFINED_BY_VALUE.items():
            if rule.thresholds and all(t.variable in variables for t in rule.thresholds):
                m = re.search(lexicon.DEFINED_BY_VALUE_FRAME.format(organ=organ), text[:rule.span[0]], re.I)
                if m:
                    out.append((m.start("head"), rule.span[0]))  # the head and the words that join it
    return out


def _raised_words(text: str, rules: list[Rule]) -> list[tuple[int, int]]:
    """Spans of words saying a value is high right before a rule whose every limit is an upper one ("Elevated ALT (> 3
    x ULN)", "Uncontrolled hypertension (>= 180/110 mmHg)"): lexicon.RAISED_BY_VALUE."""
    out = []
    for rule in rules:
        # the rule is the measure alone ("Uncontrolled type 2 diabetes (HbA1c > 10.5%)" names a diagnosis first)
        if rule.thresholds and all(t.comparator in (">", ">=") for t in rule.thresholds) and \
                set(rule.variable.split("+")) <= {t.variable for t in rule.thresholds}:
            m = lexicon.RAISED_BY_VALUE.search(text[:rule.span[0]])
            if m:
                out.append(m.span())
    return out


# stop words that still name a condition when no rule reads them: "HbA1c > 9% in diabetic patients" says who, and a rule
# that leaves the diabetes out is named as leaving it out (the words stay out of the count of what is left over)
NAMED_STOP_WORDS = frozenset({"diabetes", "diabetic", "diabetics"})


def unread_named_stop_words(text: str, spans: list[tuple[int, int]], rules: list[Rule]) -> list[str]:
    """The NAMED_STOP_WORDS no rule reads, in the order of the text (each once)."""
    words = uncovered_text(text, spans, rules, keep=NAMED_STOP_WORDS).split()
    return list(dict.fromkeys(w for w in words if w.lower() in NAMED_STOP_WORDS))


_OPENS_ALTERNATIVE = re.compile(r"[(\[]\s*(?:or|and\s*/\s*or|either)\b", re.I)


def uncovered_text(text: str, spans: list[tuple[int, int]], rules: list[Rule], keep: frozenset[str] = frozenset()
                   ) -> str:
    masked = list(text)
    methods = [m.span() for m in re.finditer(lexicon.KIDNEY_METHOD, text, re.I)] if rules else []
    for start, end in spans + _defined_heads(text, rules) + _heads_defined_by_value(text, rules) + methods + \
            _raised_words(text, rules):
        for i in range(start, min(end, len(masked))):
            masked[i] = " "
    # a bracket that holds a rule lists alternatives read from it ("STI (chlamydia or syphilis)"), no definition; nor
    # is one that opens with "or" ("Pregnant (or anticipate pregnancy during the study) or lactating"): another
    # alternative, whose words are left out unless a rule reads them
    inside = [r.span for r in rules]
    for m in _DEFINITION.finditer("".join(masked)):
        if m.group(0).startswith(("(", "[")) and (any(m.start() <= a < m.end() for a, _ in inside)
                                                  or _OPENS_ALTERNATIVE.match(m.group(0))):
            continue
        end = m.end()
        if m.group("reference"):
            # where the next item begins is read in the text itself: a blanked negation cue (", Not receiving ...")
            # would hide it
            # a definition lists the values that define: after its "and"/"or" comes another value, read or not
            # ("defined as bilirubin > 2 mg/dL or serum albumin < 25 g/L"), never more of the definition's words
            items = _DEFINITION_ITEM if re.match(r"(?:as\s+)?defined", m.group("reference"), re.I) else _NEXT_ITEM
            stop = items.search(text, m.start("reference"), m.end())
            end = stop.start() if stop else end
        masked[m.start():end] = " " * (end - m.start())
    rest = "".join(masked)
    extra = _covered_words(rules)
    prefixes = {w[:6] for w in extra if len(w) >= 6}
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}|\b(?:if|or)\b", rest)
             if w.lower() != "or"
             and (w.lower() in keep or w.lower() not in lexicon.UNCOVERED_STOP_WORDS)
             and w.lower() not in extra and w.lower()[:6] not in prefixes]
    return " ".join(words)


def same_variable_conflict(rules: list[Rule]) -> bool:
    seen: dict[tuple[str, str], float] = {}
    for r in rules:
        if r.comparator and r.value is not None and r.unit != "events":
            key = (r.variable, r.comparator)
            if key in seen and seen[key] != r.value:
                return True
            seen[key] = r.value
    return False


def _joins_unread(text: str, masked: str, conjunctive: str) -> bool:
    """'Cardiac disease with pregnancy': a conjunctive word after unread content words ties the rule to them
    (both are needed to be excluded). 'Patients with HIV' names only who, which is no condition."""
    for m in re.finditer(conjunctive, masked, re.I):
        before = re.findall(r"[A-Za-z][A-Za-z'-]{2,}", re.split(r"[;.]", masked[:m.start()])[-1])
        if any(w.lower() not in lexicon.UNCOVERED_STOP_WORDS for w in before):
            return True
    return False


_CONJOINED_AFTER = re.compile(
    r"^[\s,)\]]*(?:(?:of\s+age|years?\s+(?:of\s+age|old)|old|or\s+older|and\s+older)\s+){0,2}(?:with|without|who|whose|undergoing|requiring|receiving|treated|after|following|during|despite|scheduled|"
    r"presenting|having|due\s+to|because|while|when)\b", re.I)


_DEFINED_AS = re.compile(r"\b(?:is\s+|being\s+|was\s+)?(?:defined|characteri[sz]ed|diagnosed)\s+(?:as|by)\b", re.I)


def defined_head_unread(text: str, rules: list[Rule], uncovered: str) -> str | None:
    """The unread words a "defined as" names when every rule is a concept lying in its definition ("peripheral
    neuropathy, defined as a patient with type 1 or type 2 diabetes ... causing decreased sensation"): what the text
    excludes is the head, and a diagnosis in its definition is one of its conditions, not the head. None when the head
    is read or covered, or when the definition is by value ("Obesity defined as BMI > 30": the measure is the head's
    own, read as in lexicon.DEFINED_BY_VALUE)."""
    unread = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", uncovered)}
    if not unread or not rules:
        return None
    for m in _DEFINED_AS.finditer(text):
        if not all(r.span[0] >= m.end() and not r.thresholds for r in rules):
            continue
        head = re.split(r"[;.]\s", text[:m.start()])[-1]
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", head) if w.lower() in unread]
        if words:
            return " ".join(words)
    return None


def conjoined_unread(text: str, rules: list[Rule], uncovered: str) -> str | None:
    """The unread words a rule is tied to ("over 65 with heart failure"): the text needs both, so the rule
    alone excludes (in an exclusion) people the text keeps. None when nothing unread hangs on a rule."""
    unread = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", uncovered)}
    if not unread:
        return None
    for r in rules:
        m = _CONJOINED_AFTER.match(text[r.span[1]:])
        if not m:
            continue
        start = r.span[1] + m.end()
        end = next((o.span[0] for o in rules if o.span[0] >= start), len(text))
        clause = re.split(r"[;.](?:\s|$)", text[start:end])[0]
        if unread & {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", clause)}:
            return " ".join((m.group(0) + clause).split())
    for r in rules:
        # the rule as the object of "with" / "during" after an unread head: "Hypertension with pregnancy" is a
        # pregnant woman with hypertension, not every pregnant woman (draw 20261239, #38). Only a condition: a value
        # after "with" defines its head ("hypertension with systolic BP > 160"), and an infection "with HIV" is HIV
        if r.thresholds:
            continue
        since = max((o.span[1] for o in rules if o.span[1] <= r.span[0]), default=0)  # no other rule in the head
        m = _CONJOINED_BEFORE.search(text[since:r.span[0]])
        if m and not re.search(r"infect", m.group("head"), re.I) \
                and unread & {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", m.group("head"))}:
            return " ".join(m.group(0).split())
    return None


_CONJOINED_BEFORE = re.compile(
    r"(?P<head>[A-Za-z][\w'-]*(?:\s+[\w'-]+){0,3})\s+(?:with|during|in|complicat\w*\s+by|accompanied\s+by|"
    r"associated\s+with)\s+(?:(?:an?|the|a\s+current|current|ongoing)\s+)?$", re.I)


def unread_alternative(text: str, rules: list[Rule], uncovered: str) -> str | None:
    """An unread word joined to a rule by nothing but 'or' ("pregnant or lactating, or trying to conceive"): an
    alternative the rules leave out, so an inclusion read without it fails people the text admits."""
    # a bracketed abbreviation may close the rule first: "1.5 x Upper Limit of Normal (ULN), or creatinine clearance"
    # or a bracket holding the rule closes ("(SBP >= 140 or DBP >= 90) or treated")
    after_rule = re.compile(r"[\s,;)\]]*(?:\([^()]{0,15}\))?[\s,;)\]]*(?:or|either|and\s*/\s*or)\s+(?:[\w-]+\s+){0,4}",
                            re.I)
    # the word may be followed by a few words of its own ("creatinine within normal limits or ...")
    # or by its limit with a bracketed abbreviation ("creatinine less than upper limit of normal (ULN) or CrCl ...")
    before_rule = re.compile(r"(?:[\s,;]+[\w-]+){0,6}?(?:\s*\([^()]{0,15}\))?[\s,;]+(?:or|and\s*/\s*or)[\s,;]+", re.I)
    # "A, B, C, or D": a comma between items is an "or" when the list ends in one (after the rule, same sentence)
    comma = re.compile(r"[\s,;]*,[\s,;]*")
    for w in dict.fromkeys(re.findall(r"[A-Za-z][A-Za-z'-]{2,}", uncovered)):
        for m in re.finditer(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text):
            for r in rules:
                or_list = bool(re.search(r"\bor\b", re.split(r"[.;](?:\s|$)", text[r.span[1]:])[0]))
                if r.span[1] <= m.start() and after_rule.fullmatch(text[r.span[1]:m.start()]):
                    return w
                if m.end() <= r.span[0] and (before_rule.fullmatch(text[m.end():r.span[0]])
                                             or or_list and comma.fullmatch(text[m.end():r.span[0]])):
                    return w
    return None


def _only_a_last_alternative(text: str, uncovered: str, rules: list[Rule]) -> bool:
    """Whether everything unread is one more alternative after the last rule, joined by "or" in the same
    sentence: "pregnant or lactating, or unwilling to use contraception if of childbearing potential"."""
    end = max(r.span[1] for r in rules)
    tail = re.split(r"[.;](?:\s|$)", text[end:])[0]
    # a word or two already read may close the rule first ("pregnant or breastfeeding women, or ...")
    joined = re.match(r"((?:[\s,]*[A-Za-z'-]+){0,2}?)[\s,]*(?:or|and\s*/\s*or)\b", tail, re.I)
    unread = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", uncovered)}
    if not joined or re.search(r"[.;]\s", text[:end]) or \
            {w.lower() for w in re.findall(r"[A-Za-z'-]+", joined.group(1))} & unread:
        return False
    return bool(unread) and unread <= {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", tail[joined.end():])}


def window_in_last_alternative(text: str, uncovered: str, rules: list[Rule]) -> bool:
    """Whether every time window of the text lies in one more alternative after the last rule ("pregnant or
    lactating, or planning a pregnancy within 6 months"): the window limits that alternative, not what was read.
    Never when a rule reads a history flag: "alcohol or drug abuse or dependence within 1 month" may put the window
    on every alternative, and the undated flag would then exclude people the text keeps."""
    catalogue = default_catalogue()
    if any((var := catalogue.get(name)) is not None and var.description.lower().startswith("history of")
           for r in rules if r.tree is not None for name in expr.names(r.tree)):
        return False
    end = max(r.span[1] for r in rules)
    return _only_a_last_alternative(text, uncovered, rules) and all(
        m.start() >= end for m in TIME_QUALIFIER.finditer(text))


# a list item that begins with one of these qualifies what stands before it ("Pregnancy, confirmed by a test",
# "Hypertension, uncontrolled", "..., if ...") rather than naming one more way to be excluded
_QUALIFYING_START = re.compile(
    r"(?:with|without|despite|after|following|requiring|required|needing|due|because|while|both|if|unless|except\w*|"
    r"excluding|including|include[sd]?|such|e\.?g|i\.?e|especially|particularly|namely|like|which|who|whose|that|"
    r"when|where|whether|in|on|at|for|during|within|before|under|over|not|no|only|as|defined|treated|untreated|"
    r"confirmed|caused|secondary|associated|related|complicated|by|from|to|of|than|but|other|all|any|either|"
    r"provided|considered|judged|according|per|currently|current|known|suspected|documented|planned|previous|"
    r"prior|history|recent|uncontrolled|controlled|poorly|severe|mild|moderate|significant|clinically|active|"
    r"chronic|acute|stable|unstable|first|second|third|early|late|grade|class|stage|type|nyha|[\d<>≤≥=(\[])\b",
    re.I)
_LIST_SEPARATOR = re.compile(r"[,;]\s*(?:(?:and\s*/\s*or|and|or)\b\s*)?")


def own_list_items(text: str, kind: str, uncovered: str, rules: list[Rule]) -> bool:
    """'Pregnancy, coagulopathy, renal failure, hepatic insufficiency' (an exclusion): every rule lies in list items
    (parted by commas or semicolons) that hold nothing unread, and what is unread lies in items of its own. Each item
    is one more way to be excluded, so the rule kept excludes fewer than the text, never others; an unread item's own
    "with" or "failure" belongs to it. Not when an item may qualify the items before it (one starting with a
    qualifying word: "Hypertension, uncontrolled", "..., if ..."), nor with a condition or a time window anywhere
    outside the read items (it may bind the whole list)."""
    if kind != "exclusion" or not rules:
        return False
    # brackets blanked (same length): a comma inside one parts no items
    flat = re.sub(r"\((?:[^()]|\([^()]*\))*\)|\[[^\[\]]*\]", lambda m: " " * len(m.group(0)), text)
    bounds, start = [], 0
    for m in _LIST_SEPARATOR.finditer(flat):
        if m.start() > start:
            bounds.append((start, m.start()))
        start = m.end()
    if start < len(text.rstrip(" .")):
        bounds.append((start, len(text.rstrip(" ."))))
    if len(bounds) < 2:
        return False
    unread = {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", uncovered)}
    read_items = set()
    masked = list(text)
    for r in rules:  # one rule may span several items ("Pregnancy, breastfeeding")
        masked[r.span[0]:r.span[1]] = " " * (r.span[1] - r.span[0])
    for i, (lo, hi) in enumerate(bounds):
        if not any(r.span[0] < hi and lo < r.span[1] for r in rules):
            continue
        if {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", "".join(masked[lo:hi]))} & unread:
            return False  # the item holds an unread word: it may qualify the rule
        read_items.add(i)
    if not read_items or len(read_items) == len(bounds) or any(
            not any(r.span[0] < bounds[i][1] and bounds[i][0] < r.span[1] for i in read_items) for r in rules):
        return False  # every item read, or a rule in no item
    others = "".join(text[lo:hi] + " " for i, (lo, hi) in enumerate(bounds) if i not in read_items)
    if re.search(r"\b(?:if|unless|except|other\s+than|provided|only|when|whether)\b", others, re.I) \
            or TIME_QUALIFIER.search(others):
        return False
    first_read = min(read_items)
    return not any(_QUALIFYING_START.match(text[lo:hi].strip()) for i, (lo, hi) in enumerate(bounds)
                   if i > first_read and i not in read_items) \
        and not any(_QUALIFYING_START.match(text[bounds[i][0]:bounds[i][1]].strip()) for i in read_items if i > 0)


def partial_is_safe(text: str, kind: str, uncovered: str, rules: list[Rule]) -> bool:
    """Leaving part of a criterion out is safe when that part is one more requirement (inclusion) or one
    more way to be excluded (exclusion): the rule kept then never contradicts the text."""
    conditional = r"\b(?:if|unless|except|other\s+than|provided|only|when|whether)\b"
    conjunctive = r"\b(?:with|without|despite|after|following|failure|requiring|required|due\s+to|because|while|both)\b"
    if kind == "exclusion" and (_only_a_last_alternative(text, uncovered, rules)
                                or own_list_items(text, kind, uncovered, rules)):
        return True  # its own "if" or "with" belongs to it; leaving it out only leaves one way to be excluded
    low = uncovered.lower()
    # "... enrolled in another study and is < 2 months old": "and" with a verb joins a second condition on the
    # same person; an exclusion needs both (one blank: a masked rule between "and" and the verb is no such join)
    joined = r"\band\s(?:is|are|was|were|has|have|had|also|who|whose|currently)\b"
    if re.search(conditional, low) or (kind == "exclusion" and re.search(conjunctive, low)):
        return False
    masked = list(text)
    lo, hi = min(r.span[0] for r in rules), max(r.span[1] for r in rules)
    for i in range(lo, hi):  # connectors among the rules were read already
        masked[i] = " "
    if kind == "exclusion" and _joins_unread(text, "".join(masked), rf"{conjunctive}|{joined}"):
        return False
    # brackets that hold no rule define or restate; a bracket holding a rule is part of what was read
    outside = re.sub(r"\((?:[^()]|\([^()]*\))*\)|\[[^\[\]]*\]",
                     lambda m: m.group(0) if any(m.start() <= r.span[0] < m.end() for r in rules) else " ",
                     "".join(masked)).lower()
    if kind == "inclusion":
        # what is left out is one more requirement unless "or" joins it to what was read ("age >= 18, or of
        # legal age"); an "or" among the unread words ("unilateral or bilateral hernia") is part of that requirement
        return unread_alternative(text, rules, uncovered) is None
    return bool(re.search(r"\bor\b|,|;|\band\b", outside) or hi - lo >= len(text.strip()) * 0.5)
