"""Computable rules from one criterion's text, each with the span it came from and a confidence.

The pipeline is small and readable, one module per step:

1. (mentions.py) find mentions: catalogue variables (lexicon.NUMERIC_TERMS), measurements the catalogue lacks
   (UNMAPPED_TERMS, so their numbers are not pinned on a neighbour), concepts (CONCEPTS), events (EVENTS);
2. (values.py) find values: comparator + number + unit, ranges written the usual ways ("7.0-10.0%", "between 7% and
   10%", ">= 7 and <= 10", "19 <= BMI <= 30", "18 years or older"), multiples of the upper limit of normal;
3. (attach.py) attach each value to the variable it follows (short, clean gap; a list "bilirubin, ALT and AST" shares
   one value), convert to the catalogue unit, reject unknown units and implausible numbers;
4. (readings.py) build rules as expr trees; decide negation of concepts with NegEx (explorer.registry.negation);
5. (combine.py) join the rules with the criterion's own "and"/"or", and measure how much of the text they cover.
   A rule that reads only part of the criterion is kept only when leaving the rest out cannot turn a
   subject who meets the text into one who fails it; anything less certain stays non-computable, with the
   candidate reading in the note. faithful.py checks that no rule says more, or other, than its text;
   examples.py reads examples ("such as", "e.g.") as alternatives, never as requirements.
"""

from __future__ import annotations

import dataclasses
import re

from explorer import expr
from explorer.registry import (
    conditions,
    counted,
    equivalents,
    examples,
    faithful,
    group_limits,
    groups,
    lexicon,
    readings,
    trees,
)
from explorer.registry.attach import TIME_UNITS, attach, clause_before
from explorer.registry.combine import (
    CONDITION_AFTER,
    CONDITIONAL,
    TIME_QUALIFIER,
    combine,
    conjoined_unread,
    connector,
    defined_head_unread,
    partial_is_safe,
    same_variable_conflict,
    uncovered_text,
    unread_alternative,
    unread_named_stop_words,
    window_in_last_alternative,
)
from explorer.registry.mentions import variable_mentions
from explorer.registry.model import Extraction, Mention, Rule, Threshold, Value
from explorer.registry.unstated import no_comparator, unstated_thresholds
from explorer.registry.values import find_values

__all__ = ["MIN_CONFIDENCE", "Extraction", "Mention", "Rule", "Threshold", "Value", "extract", "find_values",
           "latin_script", "looks_english", "variable_mentions"]

MIN_CONFIDENCE = lexicon.MIN_CONFIDENCE
CAPS = lexicon.CONFIDENCE_CAPS
MAX_CRITERION_CHARS = 3000  # longer "criteria" are split failures or prose; not read


# quoted words of some length, opened and closed by quotes standing apart from letters ("Gilbert's" is no quote)
_QUOTED = re.compile(r"(?<![A-Za-z])(['\"“‘])(?=[A-Za-z])[^'\"“”‘’]{12,}?[^\s'\"“”‘’]['\"”’](?![A-Za-z])")
# a share of the enrolled group: "At least 15 (25%) children of the total study population must be ...",
# "no more than 30% of participants will be ..."; up to the end of its sentence
_QUOTA = re.compile(r"\b(?:at\s+least|up\s+to|no\s+more\s+than|not\s+more\s+than|approximately|about|a\s+maximum\s+of|"
                    r"a\s+minimum\s+of)\s+\d+(?:\.\d+)?\s*(?:%|percent|\(\s*\d+(?:\.\d+)?\s*%\s*\))\s*"
                    r"(?:\w+\s+){0,3}?of\s+(?:the\s+)?(?:total\s+|overall\s+|enrolled\s+)?(?:study\s+)?"
                    r"(?:population|participants|subjects|patients|sample|cohort|enrollment|enrolment)\b[^.;]*", re.I)


# between a variable and its first limit written without a comparator: "age =18", "BMI of 25", "Age from 18 and under
# 65 years", "HbA1c from 7% and not more than 10%" (that limit is unread, never silently dropped)
_FIRST_LIMIT_GAP = re.compile(r"[\s:=]*(?:(?:of|from|starting\s+(?:at|from))\s+)?", re.I)


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


# a sex named in square brackets after its limit ("creatinine >= 1.5 mg/dL [males] or >= 1.4 mg/dL [females]") is the
# same as in round ones; read as such (one character for one, so every offset stays the text's)
_SEX_IN_SQUARE_BRACKETS = re.compile(r"\[(\s*(?:males?|females?|men|women)\s*)\]", re.I)


# "Minimum age of 18 years", "maximum age: 65": the word before the name is the comparator; read as "age minimum of
# 18" (the two words swapped, same length, so every offset stays the text's)
_LIMIT_BEFORE_AGE = re.compile(r"\b(minimum|maximum)(\s+)(age)\b", re.I)


def _as_read(text: str) -> str:
    """The text with the spellings above rewritten one character for one (offsets unchanged)."""
    text = _SEX_IN_SQUARE_BRACKETS.sub(r"(\1)", text)
    return _LIMIT_BEFORE_AGE.sub(lambda m: m.group(3) + m.group(2) + m.group(1), text)


# "If female, must not be pregnant or lactating", "For women: not pregnant": a leading condition naming women, before a
# rule on pregnancy or lactation only, which already holds for women only (`sex == "male" or not pregnant`, `sex ==
# "female" and pregnant`): the condition adds nothing to it. Any other rule under it stays conditional.
_IF_WOMEN = re.compile(r"\W*(?:(?:if|for|in)\s+(?:(?:a|the|all)\s+)?(?:females?|wom[ae]n|female\s+(?:patients?|subjects?|"
                       r"participants?))|(?:females?|wom[ae]n)\s+only)\s*[,:]\s*", re.I)
# "HbA1c > 10% in men and women", "for both males and females": both sexes together are everyone, no condition
_BOTH_SEXES = re.compile(r"\b(?:in|for)\s+(?:both\s+)?(?:men|women|males?|females?)\s*(?:and\s*/\s*or|and|or|&|/)\s*"
                         r"(?:men|women|males?|females?)\b", re.I)
# a window that reaches today ("within the past 6 months", "in the last year"), which a current pregnancy lies in; never
# a pregnancy or lactation that is over ("ended", "stopped", "delivered", "postpartum", "terminated", "ago") nor a
# "recent" one (it may mean after the birth)
_WINDOW_HOLDS_NOW = re.compile(r"\b(?:within|(?:in|during)\s+the\s+(?:past|last|preceding))\b", re.I)
_PREGNANCY_OVER = re.compile(r"\b(?:end(?:ed|ing|s)?|stop(?:ped|ping|s)?|ceased?|termin\w*|deliver\w*|post-?partum|"
                             r"after|since|ago|birth|recent\w*|miscarr\w*|abort\w*|wean\w*|previous\w*|former\w*|"
                             r"prior)\b", re.I)
def _pregnancy_window(text: str, kind: str, rules: list[Rule]) -> tuple[int, int] | None:
    """The span of a window reaching today in an exclusion whose undated rules are all pregnancy or lactation
    ("Pregnancy within the past 6 months"), else None."""
    undated = [r for r in rules if r.comparator is None and r.tree is not None]
    if kind != "exclusion" or not undated or _PREGNANCY_OVER.search(text) \
            or not all(set(expr.names(r.tree)) <= _PREGNANCY_NAMES for r in undated):
        return None
    # the window right after the pregnancy's own words ("Pregnancy or lactation within the last 12 months"), never one
    # that dates another item of the list ("Pregnancy, or substance abuse during the last 3 months")
    window = next((w for w in _WINDOW_HOLDS_NOW.finditer(text)
                   if any(r.span[0] < w.start() and (w.start() < r.span[1]  # inside the rule's own words, or after
                                                       or re.fullmatch(r"[\s\w'-]{0,25}", text[r.span[1]:w.start()]))
                          for r in undated)), None)
    if window is None:
        return None
    phrase = re.match(r"[^,;.()]*?(?=\s+(?:and\s*/\s*or|or|and)\b|[,;.()]|$)", text[window.start():]).group(0)
    return window.start(), window.start() + len(phrase)


_PREGNANCY_NAMES = {"sex", "pregnant", "lactating", "childbearing_potential"}


def _pregnancy_of_women(text: str, rule: Rule) -> bool:
    return (_IF_WOMEN.match(text) is not None and rule.tree is not None
            and set(expr.names(rule.tree)) <= _PREGNANCY_NAMES and "sex" in expr.names(rule.tree))


def extract(text: str, kind: str, *, skip_variables: tuple[str, ...] = (), enrolled_sex: str | None = None,
            minimum_age: float | None = None) -> Extraction:
    """See _extract_as_written; a sex named in square brackets is read as in round ones, a minimum or maximum before
    "age" as after it; each rule's source is the text as written."""
    read = _as_read(text) if text else text
    if read == text:
        return _extract_as_written(text, kind, skip_variables=skip_variables, enrolled_sex=enrolled_sex,
                                   minimum_age=minimum_age)
    result = _extract_as_written(read, kind, skip_variables=skip_variables, enrolled_sex=enrolled_sex,
                                 minimum_age=minimum_age)

    def as_written(rule: Rule) -> Rule:
        return dataclasses.replace(rule, source=text[rule.span[0]:rule.span[1]])

    return dataclasses.replace(result, rules=tuple(as_written(r) for r in result.rules),
                               skipped=tuple(as_written(r) for r in result.skipped))


def _extract_as_written(text: str, kind: str, *, skip_variables: tuple[str, ...] = (),
                        enrolled_sex: str | None = None, minimum_age: float | None = None) -> Extraction:
    """Read one criterion. `kind` is "inclusion" or "exclusion" (an exclusion's expression says who is excluded).

    Rules for `skip_variables` are read (and returned in `skipped`) but left out of the expression: the
    registry's structured age fields take precedence over an age in the text. `enrolled_sex` is the registry's sex
    field ("all", "female", "male"; None when there is none): it decides whom a criterion about one named sex applies
    to, and `minimum_age` (the registry's, in years) whether "adults" names everyone the trial enrols (groups.py).
    """
    if not text or not text.strip() or len(text) > MAX_CRITERION_CHARS:
        return _extract(text, kind, skip_variables=skip_variables, enrolled_sex=enrolled_sex,
                        minimum_age=minimum_age)
    # a value restated in another unit in brackets ("HbA1c >= 7.5% (58 mmol/mol)") is read with the value before it:
    # the rest of the reading sees blanks there (offsets unchanged); each rule's source is the text as written
    restated = equivalents.restatements(text, variable_mentions(text),
                                        find_values(text, flattened_pairs=kind == "inclusion"))
    if not restated:
        return _extract(text, kind, skip_variables=skip_variables, enrolled_sex=enrolled_sex,
                        minimum_age=minimum_age)
    result = _extract(equivalents.blank(text, restated), kind, skip_variables=skip_variables,
                      enrolled_sex=enrolled_sex, minimum_age=minimum_age)

    def as_written(rule: Rule) -> Rule:
        start, end = rule.span
        for s, e in restated:  # the bracket right after a rule is part of what it read
            if end <= s and not text[end:s].strip():
                end = e
        return dataclasses.replace(rule, span=(start, end), source=text[start:end])

    return dataclasses.replace(result, rules=tuple(as_written(r) for r in result.rules),
                               skipped=tuple(as_written(r) for r in result.skipped))


def _extract(text: str, kind: str, *, skip_variables: tuple[str, ...] = (), enrolled_sex: str | None = None,
             minimum_age: float | None = None) -> Extraction:
    if not text or not text.strip():
        return Extraction(None, {}, (), 0.0, "none", ("empty criterion",))
    if len(text) > MAX_CRITERION_CHARS:
        return Extraction(None, {}, (), 0.0, "rejected",
                          (f"criterion is {len(text)} characters long; too long to read as one rule",))
    if not latin_script(text):
        return Extraction(None, {}, (), 0.0, "rejected", ("the text is not in Latin script; not read",))
    names = readings.ParameterNames()
    notes: list[str] = []
    mentions = variable_mentions(text)
    # a question put to the person ("'do you intend to ... until your infant is 6 months of age'") and a quota on
    # the enrolled group ("at least 25% of the study population must be aged 5 to 8") are no one's criterion
    not_criteria = [m.span() for m in (*_QUOTED.finditer(text), *_QUOTA.finditer(text))]

    def outside(span: tuple[int, int]) -> bool:
        return not any(s0 <= span[0] < e0 for s0, e0 in not_criteria)

    values = [v for v in find_values(text, flattened_pairs=kind == "inclusion") if outside((v.start, v.end))]
    attached, attach_notes = attach(text, mentions, values)
    attached = readings.shared_sex_comparator(text, attached)
    notes += attach_notes
    # values with no comparator stated ("Age 18 years") or an untimed glucose: reported, never made computable
    comparator_unstated, unstated_notes, unstated_values = unstated_thresholds(text, attached)
    notes += unstated_notes
    numeric: list[Rule] = []
    refused: list[Value] = []  # values of a catalogue variable, with a comparator, that made no rule
    for item in attached:
        # a time value after a diabetes mention is the diabetes duration ("T1DM for at least 5 years")
        r, n = readings.numeric_rules(text, kind, item, names)
        numeric += r
        notes += n
        if not r and n and any(m.variables for m in item.mentions) and not no_comparator(item.value):
            refused.append(item.value)
    duration_rules, duration_notes = readings.duration_rules(text, kind, values, attached, names)
    numeric += duration_rules
    notes += duration_notes
    event_rules, event_notes = readings.event_rules(text, kind, names)
    notes += event_notes
    cancer_rules, cancer_notes = readings.cancer_rule(text, kind, names)
    concept_rules, concept_notes, concept_found = readings.concept_rules(text, kind, [(v.start, v.end) for v in values])
    notes += concept_notes
    if cancer_rules:
        concept_rules = [r for r in concept_rules if r.variable != "cancer_status"]
    # events overlap their own concept words ("severe hypoglycemic events"); event rules win
    blocked = [r.span for r in event_rules + cancer_rules]
    concept_rules = [r for r in concept_rules if not any(r.span[0] < e and r.span[1] > s for s, e in blocked)]
    rules = []
    for r in sorted(numeric + event_rules + cancer_rules + [r for r in concept_rules if r.expression],
                    key=lambda r: r.span):
        if not outside(r.span):
            continue
        if any(r.expression == kept.expression for kept in rules):
            continue  # "glutamic acid decarboxylase autoantibody (GADA)": one concept, named twice
        rules.append(r)
    rules = readings.merge_diagnosis_and_duration(text, rules)
    rules = readings.merge_sex_specific(text, kind, rules)
    rules = readings.subject_sex(text, kind, rules)
    rules = group_limits.group_first_limits(text, kind, rules, values, mentions, names)
    rules = group_limits.value_first_limits(text, kind, rules, values, mentions, names)
    rules = conditions.conditioned(text, kind, rules)
    rules, treatment_notes = conditions.under_treatment(text, kind, rules)
    rules, excepted_left_out = conditions.excepted(text, kind, rules)
    rules = conditions.pregnancy_groups(text, kind, rules)
    rules, group_notes, group_left_out = groups.read_for_enrolled_sex(text, kind, rules, enrolled_sex)
    adult_notes, adult_left_out = groups.read_for_enrolled_ages(text, rules, minimum_age)
    group_notes += adult_notes
    group_left_out += adult_left_out
    notes = group_notes + notes  # first: the report shortens a long note, and this one says whom the rule admits
    rules, faithful_notes, left_out, unsafe = faithful.qualified_concepts(text, kind, rules, connector)
    notes += faithful_notes
    left_out += excepted_left_out + group_left_out
    rules, example_notes, example_left_out = examples.examples_read(text, kind, rules)
    notes += example_notes
    left_out += example_left_out
    panel_out, panel_notes, panel_unsafe = faithful.panel_left_out(text, kind, rules)
    left_out += panel_out
    notes += panel_notes
    unsafe = unsafe or panel_unsafe
    member_out, member_notes, member_unsafe = faithful.unlisted_members(text, kind, attached, rules)
    left_out += member_out
    notes += member_notes
    unsafe = unsafe or member_unsafe
    for m in _QUOTA.finditer(text):
        left_out.append(f"{' '.join(m.group(0).split())} (a quota on the enrolled group, no one's criterion)")
    skipped = tuple(r for r in rules if r.variable in skip_variables)
    rules = [r for r in rules if r.variable not in skip_variables]
    count = counted.at_least_of_following(text, kind, rules, combine)
    unstated = faithful.unstated_parts(text, kind, rules, count_read=count is not None)
    if count is not None and count.problem:
        unstated.append(count.problem)
    unstated += treatment_notes
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
        if r.applies_to:
            return False  # a threshold per sex is read as such (merge_sex_specific)
        prefix = _IF_WOMEN.match(text) if _pregnancy_of_women(text, r) else None
        everyone = _BOTH_SEXES.sub(lambda m: " " * len(m.group(0)), text)  # same length: offsets hold
        clause = clause_before(" " * prefix.end() + everyone[prefix.end():] if prefix else everyone, r.span[0])
        return bool(CONDITIONAL.search(clause) or CONDITION_AFTER.match(everyone[r.span[1]:r.span[1] + 40]))

    conditional = [r for r in rules if is_conditional(r)]
    if any(is_conditional(r) for r in skipped):
        notes.append("an age limit applies only under a condition; not compared with the registry fields")
        skipped = tuple(r for r in skipped if not is_conditional(r))
    read_spans = [r.span for r in rules + list(skipped)]
    # a value attached to a catalogue variable that no rule kept ("Age <1m": unit 'm' unknown) is unread, and named:
    # dropped silently it would leave an exclusion with one way less to be excluded and say nothing (a value read
    # without a comparator is handled as unstated, below)
    failed = [a for a in attached if any(m.variables for m in a.mentions) and not no_comparator(a.value)
              and not any(s0 < a.value.end and a.value.start < e0 for s0, e0 in read_spans)]
    # a value read without a comparator is in no rule: it counts as unread, so a rule beside it is never silently whole
    used = [(a.value.start, a.value.end) for a in attached if a not in failed and not no_comparator(a.value)] + \
        read_spans
    unread = [v for v in values if not any(s0 < v.end and v.start < e0 for s0, e0 in used)
              and (any(v.units) or v.uln or (v.unknown_unit and v.form != "bare")
                   # "Patients > 18 with type 2 diabetes": a stated limit without unit is a limit of something too;
                   # dropped silently, the rule would admit more people than the text
                   or (v.form == "cmp" and v.ops[0] in (">", ">=", "<", "<=")
                       # ... but "at least two of the following" counts the items (counted.py)
                       and not re.match(r"\s*(?:out\s+)?of\b", text[v.end:], re.I)))
              and not re.fullmatch(r"\s*[(\[]\s*", text[max(0, v.start - 3):v.start][-3:] or " ")]
    pregnancy_window = _pregnancy_window(text, kind, rules)
    if pregnancy_window is not None:  # its length of time is named with the window, below
        unread = [v for v in unread if not (set(v.units) <= TIME_UNITS and pregnancy_window[0] <= v.start
                                            and v.end <= pregnancy_window[1])]
    if [v for v in unread if v not in unstated_values]:
        notes.append("values not read: " + ", ".join(repr(text[v.start:v.end]) for v in unread
                                                     if v not in unstated_values))
    read_units = {t.source_unit for r in rules for t in r.thresholds if t.source_unit}
    uln_variables = {t.variable for r in rules for t in r.thresholds if t.unit == lexicon.ULN_UNIT}

    def same_lab(v) -> bool:
        # "bilirubin <= 1.5 x ULN (Gilbert's syndrome: <= 3 x ULN)": an unread multiple after a read lab (or after
        # no lab) may be that lab's limit for some people; after another lab ("alkaline phosphatase < 5 ULN") not
        named = [m for m in mentions if m.end <= v.start]
        return bool(uln_variables) and (not named or bool(set(named[-1].variables) & uln_variables))

    # a value of a read variable that could not be read (a unit not known, no comparator) is named, not taken for
    # another group's limit
    failed_values = [a.value for a in failed]
    # a refused value inside another rule's span ("HbA1c < 2 or > 10%": 2 % is implausible, the rule spans from
    # "HbA1c" to "10%") looked read: it is failed too, so it is named or makes the criterion unsafe below
    inside = [v for v in refused if v not in failed_values
              and any(r.span[0] <= v.start and v.end <= r.span[1] for r in rules)]
    failed_values += inside
    # "age =18 and <75 years" (Chia's flattened >=), "BMI 25 and < 35": a bare number right after a variable a rule
    # reads, with no comparator and no unit, is no rule (attach skips it), but it is that variable's other limit:
    # unread and named, never silently dropped (draw 20261235, #28)
    bare = [v for v in values if v.form == "bare" and not any(v.units) and not v.uln and not v.unknown_unit
            and not any(s0 < v.end and v.start < e0 for s0, e0 in used)
            and any(m.variables and _FIRST_LIMIT_GAP.fullmatch(text[m.end:v.start])
                    for m in mentions if m.end <= v.start)]
    # the same with a unit ("eGFR =20 mL/min and <60 mL/min", draw 20261242 #8): a value whose comparator is not
    # stated, right after a variable a rule reads, lies inside that rule's span (variable .. its own value), so it
    # looked read; it is that variable's other limit, unread
    read_value_spans = [(a.value.start, a.value.end) for a in attached if a not in failed and not no_comparator(a.value)]
    bare += [v for v in unstated_values if v not in bare
             and not any(s0 < v.end and v.start < e0 for s0, e0 in read_value_spans)
             and any(m.variables and _FIRST_LIMIT_GAP.fullmatch(text[m.end:v.start])
                     and any(r.span[0] <= m.start and v.end <= r.span[1] for r in rules)
                     for m in mentions if m.end <= v.start)]
    unread += [v for v in bare if v not in unread]
    failed_values += bare
    for v in failed_values:
        # "Aged < 1 or = 6 years": an unread value joined to a rule by "or" is an alternative an inclusion would fail
        # (by "and", a requirement an exclusion would drop); named is not enough
        before = [r for r in rules if r.span[1] <= v.start]
        joint = re.match(r"[\s,;]*(and\s*/\s*or|or|and)\b", text[max(r.span[1] for r in before):v.start]) if before else None
        after = [r for r in rules if r.span[0] >= v.end]
        if joint is None and after:  # "BMI 25 or BMI < 20": the joint after the value
            joint = re.match(r"[\s,;]*(and\s*/\s*or|or|and)\b", text[v.end:min(r.span[0] for r in after)])
        later = [s0 for s0, _ in read_value_spans if s0 >= v.end]
        if joint is None and later:  # "HbA1c = 7 % or < 10 %": inside the rule's span, before the rule's own value
            joint = re.match(r"[\s,;]*(and\s*/\s*or|or|and)\b", text[v.end:min(later)])
        if joint and (joint.group(1) != "and") == (kind == "inclusion"):
            unsafe = True
            notes.append(f"the value {text[v.start:v.end]!r} is not read and is joined to the rule by "
                         f"{joint.group(1)!r}; without it the rule would change who qualifies; not computable")
        elif v in inside:
            # inside a rule's span ("Body weight <50 or >120 kg" read as the upper limit only), it looked read: named
            more = "admits more people" if kind == "inclusion" else "excludes fewer people"
            left_out.append(f"{' '.join(text[v.start:v.end].split())} (a limit not read; the rule {more} than the text)")
    other = next((v for v in unread if v not in failed_values and (set(v.units) & read_units or (v.uln and same_lab(v)))),
                 None)
    if not rules:
        status = "covered" if skipped and not left_out else ("candidate" if left_out else "none")
        return Extraction(None, {}, (), 0.0, status, tuple(notes), skipped=skipped,
                          uncovered=uncovered_text(text, [r.span for r in skipped], []), unstated=tuple(comparator_unstated))
    bracket_left_out, bracket_notes, bracket_unsafe = faithful.unread_brackets(
        text, kind, rules, used + [(v.start, v.end) for v in values if any(v.units) or v.uln])
    left_out += bracket_left_out
    notes += bracket_notes
    unsafe = unsafe or bracket_unsafe
    tree, mixed = combine(text, kind, rules)
    if group_notes:
        tree = trees.factor_common(tree)  # the named group, carried by each rule, is stated once
    if count is not None and count.tree is not None:
        tree, mixed = count.tree, False  # each alternative was joined by its own connectors (counted.py)
        left_out += list(count.left_out)
    expression = trees.text(tree)
    parameters: dict = {}
    for r in rules:
        parameters.update(r.parameters)
    confidence = min(r.confidence for r in rules)
    # one pregnancy rule spans all its mentions: the words between them ("Pregnant women or women who are uncertain
    # about a possible pregnancy") are not read by it, so only the mentions count as read
    pregnancy = [(f[0], f[1]) for f in concept_found if f[2] in {"pregnant", "lactating"}]
    spans = [s for r in rules + list(skipped)
             for s in ([p for p in pregnancy if r.span[0] <= p[0] and p[1] <= r.span[1]]
                       if set(r.variable.split("+")) <= {"pregnant", "lactating"} else [r.span])]
    # a variable named but read by no rule ("serum creatinine within normal limits or CrCl >= 60") is an unread part,
    # never a covered word: covered, an inclusion would drop that alternative and fail people the text admits
    read_variables = {name for r in rules + list(skipped)
                      for name in re.findall(r"[a-z_][a-z0-9_]*", " ".join([r.variable] + [t.variable for t in r.thresholds]))}
    def read_mention(m) -> bool:
        # its variable is read, or a rule holds it (a unit may turn "insulin requirement" into a dose per kg)
        return bool(set(m.variables) & read_variables) or any(
            r.span[0] <= m.start and m.end <= r.span[1] for r in rules + list(skipped))

    spans += [(m.start, m.end) for m in mentions if m.variables and read_mention(m)]
    spans += [r.group_span for r in rules if r.group_span]  # "for women of childbearing potential": stated
    negation_cues = [m.span() for m in re.finditer(r"\b(?:not|no|non|negative|without|neither|nor)\b", text, re.I)]
    uncovered = uncovered_text(text, spans + negation_cues, rules)
    if unread:
        uncovered = (uncovered + " " + " ".join(text[v.start:v.end] for v in unread)).strip()
    # its words may be a read rule's too ("creatinine" of "creatinine clearance"): the unread mention is named apart
    named_apart = [w for m in mentions if m.variables and not read_mention(m)
                   for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", m.text)
                   if w.lower() not in lexicon.UNCOVERED_STOP_WORDS and w not in uncovered.split()]
    uncovered = " ".join([uncovered] + named_apart).strip()
    leftover = len(uncovered.split()) + 2 * len(unread)
    if mixed:
        confidence = min(confidence, CAPS["mixed_and_or"])
        notes.append("the criterion mixes 'and' and 'or'; the grouping is a guess")
    if conditional:
        confidence = min(confidence, CAPS["conditional"])
        notes.append("a threshold applies only under a condition (if/for/except); not read as a general rule")
    if other is not None:
        # "at least 60 kg for men and 48 kg for women", "subgroup X may be 18 to 65 years": a second limit in the
        # same unit, unread, may be the same variable's limit for some people
        confidence = min(confidence, CAPS["conflicting_thresholds"])
        notes.append(f"another value in the same unit ({text[other.start:other.end]!r}) is not read; the limit may "
                     "differ for some people")
    if same_variable_conflict(rules):
        confidence = min(confidence, CAPS["conflicting_thresholds"])
        notes.append("the same variable has different thresholds under different conditions")
    window = TIME_QUALIFIER.search(text)
    if kind == "exclusion" and not any(r.unit == "events" or r.variable == "cancer_status" for r in rules) \
            and window and any(r.comparator is None for r in rules) \
            and not window_in_last_alternative(text, uncovered, rules):
        if pregnancy_window is not None:
            # "Pregnancy within the past 6 months": the current pregnancy (or lactation) is one of the states the
            # window holds, so excluding it excludes fewer people than the text; the window is named
            phrase = text[pregnancy_window[0]:pregnancy_window[1]]
            left_out.append(f"the time window {phrase!r} (the catalogue records current pregnancy and "
                            "lactation only; the rule excludes fewer people than the text)")
        else:
            # "history of drug abuse within the past 2 years": the catalogue's history flag has no date
            confidence = min(confidence, CAPS["time_window"])
            notes.append("the text limits a history to a time window the catalogue variable does not record")
    if text.count("(") > text.count(")") or text.count("[") > text.count("]"):
        confidence = min(confidence, CAPS["cut_off"])
        notes.append("the text looks cut off (a bracket is not closed); a list in it may be incomplete")
    defined = defined_head_unread(text, rules, uncovered)
    if defined and kind == "exclusion":
        # "significant peripheral neuropathy, defined as a patient with type 1 or type 2 diabetes or similar ...
        # causing decreased sensation": the rule reads what defines an unread head, which excludes whoever has it
        unsafe = True
        notes.append(f"the rule reads part of the definition of {defined!r}, which is not read; alone it would "
                     "exclude people the text keeps; not computable")
    tied = conjoined_unread(text, rules, uncovered)
    if tied and kind == "exclusion":
        # "older than 70 years with renal impairment": excluding everyone over 70 excludes people the text keeps
        unsafe = True
        notes.append(f"the rule is tied to a part not read ({tied!r}); alone it would exclude people the text "
                     "keeps; not computable")
    elif tied:
        left_out.append(f"{tied} (the rule alone admits more people than the text)")
    if unsafe:
        confidence = min(confidence, CAPS["changes_who_qualifies"])
    status = "computable"
    if left_out and not unsafe:
        # the unexpressed part is named; the rule kept errs only on the side the text allows
        status = "partial"
        confidence = min(confidence, CAPS["partial_safe"])
        notes.append("partial: leaves out " + "; ".join(repr(p) for p in left_out))
    alternative = unread_alternative(text, rules, uncovered) if kind == "inclusion" and 0 < leftover <= 2 else None
    if alternative:
        # even a few words left out can be an alternative ("pregnant or lactating, or trying to conceive")
        confidence = min(confidence, CAPS["changes_who_qualifies"])
        notes.append(f"{alternative!r} is an alternative the rule leaves out; it would fail people the text admits")
    if 0 < leftover <= 2 and status == "partial" and not alternative and uncovered and not any(
            w.lower() in " ".join(left_out).lower() for w in uncovered.split()):
        # "Heart disease, kidney disease or diabetes": a word left beside a part already named is named too
        notes.append(f"partial: leaves out {uncovered!r}")
    if 0 < leftover <= 2 and status == "computable" and not alternative:
        # a word or two the rule does not express ("known or suspected pregnancy", "HCV naive") is named, not
        # dropped silently; whether it narrows or widens the reading is for the reader of the note to judge
        status = "partial"
        confidence = min(confidence, CAPS["partial_safe"])
        notes.append(f"partial: leaves out {uncovered!r}")
    if leftover > 2:
        status = "partial"
        if partial_is_safe(text, kind, uncovered, rules):
            confidence = min(confidence, CAPS["partial_safe"])
            notes.append(f"reads only part of the criterion; not computable: {uncovered!r}")
        else:
            confidence = min(confidence, CAPS["changes_who_qualifies"])
            notes.append(f"the rest of the criterion ({uncovered!r}) may change who qualifies")
    named = unread_named_stop_words(text, spans + negation_cues, rules)
    if named and status in {"computable", "partial"} and not any(
            w.lower() in " ".join(notes).lower() for w in named):
        # "diabetes" adds nothing to the count of words left over (it is the setting of most criteria here), but a
        # rule that does not read it says less than the text: named, like any other part left out
        status = "partial"
        confidence = min(confidence, CAPS["partial_safe"])
        notes.append(f"partial: leaves out {' '.join(named)!r}")
    if confidence < MIN_CONFIDENCE:
        return Extraction(None, {}, tuple(rules), confidence, "candidate", tuple(notes), candidate=expression,
                          uncovered=uncovered, skipped=skipped, unstated=tuple(comparator_unstated))
    return Extraction(expression, parameters, tuple(rules), confidence, status, tuple(notes), uncovered=uncovered,
                      skipped=skipped, unstated=tuple(comparator_unstated))
