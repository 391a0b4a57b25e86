"""Step 4 of extraction: rules from attached values, concepts (with NegEx negation), events, cancer history
and diabetes duration, each an explorer.expr tree with named parameters in catalogue units."""

from __future__ import annotations

import dataclasses
import re
from functools import cache

from explorer import expr
from explorer.catalogue import default_catalogue
from explorer.registry import lexicon, trees
from explorer.registry.attach import TIME_UNITS, Attached, age_could_end, clause_before, convert
from explorer.registry.mentions import compiled_terms, non_overlapping
from explorer.registry.model import Rule, Threshold, Value
from explorer.registry.negation import negated_spans
from explorer.registry.unstated import no_comparator
from explorer.registry.values import CMP_PHRASES, NUM, WORD_NUM, op_of, parse_number

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


class ParameterNames:
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


def numeric_rules(text: str, kind: str, item: Attached, names: ParameterNames) -> tuple[list[Rule], list[str]]:
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
        catalogue = default_catalogue()
        bad = [n for n in variables if f"{n}_uln" not in catalogue]  # the lab's ULN must be a variable
        if bad:
            return [], [f"{source!r}: a multiple of the upper limit of normal, but the catalogue has no ULN for "
                        f"{', '.join(bad)}; not read"]
        if no_comparator(v):
            return [], []  # read as a value without comparator (unstated.py), never as a rule
        if len(v.numbers) != 1:
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
        shared = ("any one excludes" if kind == "exclusion" else "each must hold")
        between = text[item.mentions[0].end:item.mentions[-1].start]
        if kind == "exclusion" and re.search(r"\band\b|&", between, re.IGNORECASE):
            # "ALT and AST > 3 x ULN" may mean both raised: any one excluding is the safer reading (never
            # more eligible than the text), but it is more than the words say, so the note says so
            shared = ("the text joins them with 'and'; read as any one excluding, which excludes more than "
                      "both together would: edit the rule if both must be raised")
        rules.append(Rule(variables[0] if len(variables) == 1 else "+".join(variables), expression, {name: param},
                          span, source, 0.9, v.ops[0], multiple, lexicon.ULN_UNIT, multiple, lexicon.ULN_UNIT,
                          "several tests share one multiple: " + shared if len(variables) > 1 else "",
                          tuple(Threshold(n, v.ops[0], multiple, lexicon.ULN_UNIT, multiple, lexicon.ULN_UNIT) for n in variables)))
        return rules, notes
    if v.form == "bp":
        if variables not in (["systolic_bp", "diastolic_bp"],) and set(variables) != {"systolic_bp", "diastolic_bp"}:
            return [], []
        if no_comparator(v):
            # "Blood pressure 140/90 mmHg" says nothing about direction, nor whether 140/90 itself is in or out:
            # read as a value without comparator (unstated.py), never as a rule
            return [], []
        op = v.ops[0]
        parts, params, found = [], {}, []
        for var_name, number in zip(("systolic_bp", "diastolic_bp"), v.numbers, strict=False):
            value, unit, conf, problem = convert(var_name, number, "mmHg", v.numbers)
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
        if no_comparator(v):
            # a bare value after a variable ("HbA1c 8%") says nothing about direction: read as a value without
            # comparator (unstated.py), never as a rule
            return [], []
        units = list(v.units) + [None] * (len(numbers) - len(v.units))
        if len(numbers) == 2 and units[0] is None and units[1] is not None:
            units[0] = units[1]
        if len(numbers) == 2 and units[1] is None and units[0] is not None:
            units[1] = units[0]
        pieces = []
        # "under 18 or over 50" in an exclusion: the trial's own minimum and maximum, not a range's low and high
        either = len(ops) == 2 and ops[0] in ("<", "<=") and ops[1] in (">", ">=")
        written_or = "or" in text[v.start:v.end].lower()
        # "BMI < 35 and > 60" in an exclusion: no one is below 35 and above 60 at once, and an exclusion's "and" lists
        # what excludes, so each limit excludes (as "< 35 or > 60"); in an inclusion it stays unread (below)
        impossible_and = either and not written_or and kind == "exclusion" and len(numbers) == 2 \
            and _ordered(v, numbers)
        outside = either and (written_or or impossible_and)
        # "< 18 years and >= 12 years": below the higher limit and above the lower one is a range, written high first
        high_first = either and not written_or and len(numbers) == 2 and _ordered(v, (numbers[1], numbers[0]))
        for op, number, unit in zip(ops, numbers, units, strict=False):
            value, read_unit, conf, problem = convert(var_name, number, unit, numbers)
            if problem:
                return [], [f"{source!r}: {problem}; not read"]
            confidence = min(confidence, conf)
            pname = names(_bound_name(var_name, op, kind) if len(ops) == 1 or kind == "inclusion" or outside else
                          f"{var_name}_{'low' if op in ('>=', '>') else 'high'}")
            params[pname] = _parameter(var_name, value, op)
            pieces.append(trees.compare(var_name, op, pname))
            found.append(Threshold(var_name, op, value, default_catalogue()[var_name].unit, number, read_unit))
            if first_rule is None:
                first_rule = (op, value, default_catalogue()[var_name].unit, number, read_unit)
        if either and not outside and not high_first:
            return [], [f"{source!r}: below one limit and above a higher one at once; not read"]
        if len(ops) == 2 and (ops[0] in (">", ">=")) == (ops[1] in (">", ">=")):
            pair = SEX_PAIR.match(text[v.end:v.end + 60])
            if pair and len(variables) == 1:
                # the rule reads the pair of sexes too ("in males and females, respectively")
                paired = (span[0], max(span[1], v.end + pair.end()))
                return _per_sex(kind, var_name, found, pair, paired, text[paired[0]:paired[1]], confidence, names), notes
            return [], [f"{source!r}: two bounds in the same direction; not read"]
        if len(pieces) == 2 and outside:
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
        if v.form == "flatpair":
            note = "two limits each written '=' (a flattened >= or <=): read as the range from the lower to the higher"
    if impossible_and:
        note = ("'and' between a lower and a higher limit in an exclusion: read as either excluding (no one is "
                "below the one and above the other at once)")
    if read_unit and unit and read_unit != unit:
        note = (note + "; " if note else "") + f"converted from {read_unit}"
    sex = SEX_AFTER.match(text[v.end:v.end + 30]) if len(variables) == 1 else None
    word = (sex.group("sex") or sex.group("sex2")) if sex else None
    if sex and both_sexes(text, v.end + sex.start("sex" if sex.group("sex") else "sex2"),
                          v.end + sex.end("sex" if sex.group("sex") else "sex2")):
        word = None  # "HbA1c > 10% in men and women": everyone, not men
    if word is None and len(variables) == 1:
        # "(women with a BMI > 35 or men with a BMI > 42)": the sex names whom this threshold is for
        before = SEX_BEFORE.search(text[:span[0]])
        word = before.group("sex") if before and not both_sexes(text, before.start("sex"), before.end("sex")) else None
    if word is None and len(variables) == 1:
        word = sex_before_value(text, span[0], v.start, v.end)
    rules.append(Rule(variable, expression, params, span, source, 0.95 * confidence, op, value, unit, number,
                      read_unit, note, tuple(found), applies_to=_sex(word) if word else ""))
    return rules, notes


# "1.5 and 1.4 mg/dL in men and women (respectively)"; "> 2.5 mg/dL in men"
SEX_PAIR = re.compile(r"\s*,?\s*(?:respectively\s*,?\s*)?(?:in|for)\s+(?P<a>men|males?|women|females?)\s+and\s+"
                      r"(?P<b>men|males?|women|females?)\b(?:\s*,?\s*respectively\b)?", re.I)
# a sex word after a bracket, comma or "or"/"and", not the criterion's subject (subject_sex reads that)
SEX_BEFORE = re.compile(r"(?:[(\[,;:]|\b(?:or|and))\s*(?P<sex>men|males?|women|females?)\s+(?:with|having)\s+"
                        r"(?:an?\s+|the\s+)?$", re.I)
SEX_AFTER = re.compile(r"\s*,?\s*(?:(?:in|for)\s+(?P<sex>men|males?|women|females?)\b|"
                       r"\(\s*(?:(?:in|for)\s+)?(?P<sex2>men|males?|women|females?)\s*\))", re.I)


_SEX_WORD = r"(?:men|women|males?|females?)"
_JOINED_BEFORE = re.compile(rf"\b{_SEX_WORD}\s*(?:and\s*/\s*or|and|or|&|/|,)\s*(?:both\s+)?$", re.I)
_JOINED_AFTER = re.compile(rf"\s*(?:and\s*/\s*or|and|or|&|/)\s*{_SEX_WORD}\b", re.I)


def both_sexes(text: str, start: int, end: int) -> bool:
    """Whether the sex word at text[start:end] is joined to the other ("men and women", "male or female"): together
    they name everyone, never one sex (main read "HbA1c > 10% in men and women" as excluding men only)."""
    return bool(_JOINED_BEFORE.search(text[:start]) or _JOINED_AFTER.match(text, end))


# the sex named right before the value, after the name ("Serum creatinine: men > 1.5 mg/dL, women > 1.4 mg/dL") or
# before it with a colon ("Males: creatinine > 1.5 mg/dL; females: creatinine > 1.4 mg/dL")
_SEX_JUST_BEFORE = re.compile(r"(?:^|[\s(\[,;:]|\b(?:or|and))\s*(?P<sex>men|males?|women|females?)\s*:?\s*$", re.I)
_SEX_LEADS = re.compile(r"(?:^|[(\[,;]|\b(?:or|and))\s*(?P<sex>men|males?|women|females?)\s*(?::|\s(?:with|having)\b)",
                        re.I)


def sex_before_value(text: str, span_start: int, start: int, end: int) -> str | None:
    """The sex word naming whom a value is for, written before it: in the rule's own words between the name and the
    value, or leading the clause with a colon or "with". Only when the text names the other sex too, so a criterion
    about one sex ("Women with BMI > 30") is left to groups.py, which reads whom it applies to."""
    inside = _SEX_JUST_BEFORE.search(text[span_start:start])
    leading = None if inside is not None else next(reversed(list(_SEX_LEADS.finditer(text[:span_start] + " "))), None)
    if leading is not None and text[leading.end():span_start].strip(" :"):
        leading = None  # words between the sex and the name: "Women over 40 with ..." is about more than the sex
    found = inside or leading
    if found is None:
        return None
    offset = span_start if inside is not None else 0
    if both_sexes(text, offset + found.start("sex"), offset + found.end("sex")):
        return None
    other = "women|females?" if _sex(found.group("sex")) == "male" else "men|males?"
    return found.group("sex") if re.search(rf"\b(?:{other})\b", text, re.I) else None


# between a limit stated for one sex and the other sex's bare value: "above 1.5 mg/dL for men and 1.4 mg/dL for women"
_NEXT_SEX_GAP = re.compile(r"\s*,?\s*(?:in|for)\s+(?P<sex>men|males?|women|females?)\s*(?:,\s*)?(?:and|or|,|;)\s*", re.I)


def shared_sex_comparator(text: str, attached: list) -> list:
    """'Serum creatinine above 1.5 mg/dL for men and 1.4 mg/dL for women': the second sex's value shares the first's
    comparator (the sentence states it once). Only a single comparator, the same variables, the other sex named right
    after the value, and nothing else between; merge_sex_specific then reads the pair per sex."""
    out = list(attached)
    for i in range(1, len(out)):
        first, second = out[i - 1], out[i]
        v1, v2 = first.value, second.value
        if len(v1.ops) != 1 or not v1.ops[0] or any(v2.ops) or len(v2.numbers) != 1 or v1.uln != v2.uln:
            continue
        if {n for m in first.mentions for n in m.variables} != {n for m in second.mentions for n in m.variables}:
            continue
        gap = _NEXT_SEX_GAP.fullmatch(text, v1.end, v2.start)
        after = SEX_AFTER.match(text[v2.end:v2.end + 30])
        if gap is None or after is None or _sex(gap.group("sex")) == _sex(after.group("sex") or after.group("sex2")):
            continue
        out[i] = dataclasses.replace(second, value=dataclasses.replace(v2, ops=v1.ops, form="cmp"))
    return out


def _sex(word: str) -> str:
    return "male" if word.lower() in {"men", "male", "males"} else "female"


def _per_sex(kind: str, variable: str, found: list[Threshold], pair: re.Match, span: tuple[int, int], source: str,
             confidence: float, names: ParameterNames) -> list[Rule]:
    """Two thresholds in the same direction, one per sex: two rules, joined by merge_sex_specific."""
    sexes = (_sex(pair.group("a")), _sex(pair.group("b")))
    if sexes[0] == sexes[1]:
        return []
    out = []
    for threshold, sex in zip(found, sexes, strict=True):
        name = names(f"{_bound_name(variable, threshold.comparator, kind)}_{sex}")
        param = _parameter(variable, threshold.value, threshold.comparator)
        piece = trees.compare(variable, threshold.comparator, name)
        out.append(Rule(variable, piece, {name: param}, span, source, 0.9 * confidence, threshold.comparator,
                        threshold.value, threshold.unit, threshold.source_value, threshold.source_unit,
                        f"threshold for {sex}s", (threshold,), applies_to=sex))
    return out


@cache
def sexes_exhaustive(named: frozenset[str]) -> bool:
    """Whether the sexes `named` are every level the catalogue's `sex` has: only then is "not male" "female", and a
    value beyond both sexes' limits decided whatever the (unknown) sex."""
    variable = default_catalogue().get("sex")
    return variable is not None and set(variable.categories) == set(named)


def _sex_limits_tree(limits: dict[str, object | None]) -> object:
    """`sex == s1 and L1 or sex == s2 and L2`, with the consensus term where the sexes are the catalogue's two."""
    exhaustive = sexes_exhaustive(frozenset(limits))
    return trees.per_group([(trees.equals("sex", sex), limit) for sex, limit in limits.items()], exhaustive=exhaustive)


def merge_sex_specific(text: str, kind: str, rules: list[Rule]) -> list[Rule]:
    """Thresholds stated per sex become one rule: `sex == "male" and x > a or sex == "female" and x > b or x > a and
    x > b`.

    Whatever connector the text uses between them ("and" or "or"), each subject is one sex, so the
    disjunction of (sex and threshold) is what the text says, for inclusions and exclusions alike; the last term
    decides a value beyond both limits when the sex is unknown (trees.per_group). A threshold stated for one sex
    only constrains that sex: an inclusion lets the other sex through (`sex == "female" or x > a`), an exclusion
    excludes only that sex (`sex == "male" and x > a`).
    """
    merged: list[tuple[Rule, dict]] = []  # each rule with its limit per sex, the tree built once at the end
    for rule in rules:
        last, limits = merged[-1] if merged else (None, {})
        if (rule.applies_to and last is not None and last.applies_to and last.variable == rule.variable
                and rule.applies_to not in limits):
            span = (min(last.span[0], rule.span[0]), max(last.span[1], rule.span[1]))
            merged[-1] = (Rule(rule.variable, last.tree, {**last.parameters, **rule.parameters}, span,
                               text[span[0]:span[1]], min(last.confidence, rule.confidence), last.comparator,
                               last.value, last.unit, last.source_value, last.source_unit, "thresholds differ by sex",
                               last.thresholds + rule.thresholds, applies_to=f"{last.applies_to}+{rule.applies_to}"),
                          {**limits, rule.applies_to: rule.tree})
            continue
        merged.append((rule, {rule.applies_to: rule.tree} if rule.applies_to else {}))
    out = []
    for rule, limits in merged:
        if not limits:
            out.append(rule)
            continue
        note = rule.note
        if len(limits) == 1 and kind == "inclusion":
            # a threshold for one sex only: an inclusion does not constrain the other sex
            (sex,) = limits
            limits = {("female" if sex == "male" else "male"): None, sex: limits[sex]}  # printed as main did
            note = f"applies to {sex}s only"
        out.append(dataclasses.replace(rule, tree=_sex_limits_tree(limits), note=note))
    return out


def _ordered(v: Value, numbers: tuple[float, ...]) -> bool:
    """The first limit is the lower one (in one unit, or with the unit written once)."""
    units = [u for u in v.units if u]
    return len(set(units)) <= 1 and numbers[0] < numbers[1]


def subject_sex(text: str, kind: str, rules: list[Rule]) -> list[Rule]:
    """A criterion whose subject is one sex holds for that sex only: `sex == "female" and age < age_min`.

    Read without the sex, the exclusion "Women under the age of 18" would also exclude boys, whom the text does not
    name, and the inclusion "Male participants between 18 and 40 years" would admit women, whom it does not (a
    registry's structured sex field may say so too, but text without one, as in Chia or a pasted list, does not).
    """
    m = lexicon.SUBJECT_SEX.match(text)
    if m is None:
        return rules
    word = m.group("sex").lower()
    sex = "male" if word in lexicon.MALE_WORDS else "female"
    out = []
    for rule in rules:
        if rule.tree is not None and "sex" not in expr.names(rule.tree):
            rule = Rule(rule.variable, trees.all_of([trees.equals("sex", sex), rule.tree]), rule.parameters,
                        rule.span, rule.source, rule.confidence, rule.comparator, rule.value, rule.unit,
                        rule.source_value, rule.source_unit, rule.note or f"the criterion names {word} only",
                        rule.thresholds, applies_to=rule.applies_to)
        out.append(rule)
    return out


_PREGNANCY = {"pregnant", "lactating"}
# the words before a pregnancy mention that make it a time ("smoking during pregnancy", "relapse during the last trimester
# of pregnancy"); "women in the 2nd trimester of pregnancy" are pregnant now, and stay read
_PREGNANCY_AS_TIME = re.compile(r"\b(?:during|throughout)\s+(?:the\s+|her\s+|their\s+|a\s+)?(?:(?:current|previous|prior|last|"
                                r"first|second|third|index|this|early|late)\s+)?(?:(?:trimester|weeks?|months?)\s+of\s+)?$",
                                re.I)


def _not_a_mention(before: str) -> bool:
    """NOT_A_MENTION, except a plan joined to the current state ("current or planned pregnancy (or breastfeeding)"):
    the current one is read, the plan named as left out (faithful.py)."""
    m = lexicon.NOT_A_MENTION.search(before)
    return m is not None and not any(c.start("kind") == m.start() for c in lexicon.CURRENT_OR_KIND.finditer(before))


def concept_rules(text: str, kind: str, values_spans: list[tuple[int, int]]) -> tuple[list[Rule], list[str], list]:
    """Boolean and category concepts, with NegEx deciding which are negated."""
    _, _, concepts, _ = compiled_terms()
    found = []
    for pattern, expression in concepts:
        for m in pattern.finditer(text):
            before = text[max(0, m.start() - 60):m.start()]
            if _not_a_mention(before) and not lexicon.EXCEPTED_FROM_LIMIT.search(before) or \
                    (lexicon.NOT_A_MENTION_AFTER.match(text[m.end():m.end() + 30]) and not _result_before(text, m.start())) \
                    or _names_a_test(text, m.end()) \
                    or lexicon.AS_A_CAUSE.search(text[max(0, m.start() - 150):m.start()]):
                continue
            found.append((m.start(), m.end(), expression, m.group(0)))
    found = non_overlapping(found)
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
        if neg and re.match(r"[\s-]*(?:positive|\+)", text[end:end + 12], re.I):
            neg = False  # "HBsAg-positive ... or HBsAg-negative": a result written on the mention is its own
        if not neg and re.match(r"\s*(?:[-−–]\s*(?:negative|uninfected|non-?reactive)\b|[-−–](?![\w])|"
                                r"(?:negative|uninfected|non-?reactive|seronegative)\b)", text[end:end + 16], re.I):
            neg = True  # "HIV- uninfected women", "HIV-negative": a negative result written on the mention
        requirement = kind == "exclusion" and neg and re.search(
            r"\b(?:must|should|may|can|will)\s+not\b|\bcannot\b|\bmust\s+have\s+no\b|\bnot\s+(?:be|have)\b|"
            r"\bhave\s+(?:no|not)\b|\bneither\b", text[max(0, start - 60):start], re.I)
        if kind == "exclusion" and neg and not requirement:
            notes.append(f"{source!r} is negated inside an exclusion criterion; the direction is ambiguous; not read")
            continue
        positive = not neg or bool(requirement)
        note = "negated wording in an exclusion list read as a requirement (who has it is excluded)" if requirement else ""
        if expression == "pregnant" and _PREGNANCY_AS_TIME.search(text[:start]):
            # "relapse during the last trimester of pregnancy": a time, not someone pregnant now; read as pregnant, an
            # exclusion would exclude every pregnant woman (draw 20261237, #14)
            notes.append(f"{source!r} names a time ({text[max(0, start - 30):end].strip()!r}), not a current "
                         "pregnancy; not read")
            continue
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


def _result_before(text: str, start: int) -> bool:
    """'positive HIV test': a result written before the test is a finding, not the test's name."""
    return bool(re.search(r"\b(?:positive|reactive)\s+(?:[\w-]+\s+){0,1}$", text[max(0, start - 25):start], re.I))


def _names_a_test(text: str, end: int) -> bool:
    """'hepatitis B and hepatitis C tests, HIV test': a list of concepts ending in a test word, with no result."""
    after = text[end:end + 60]
    m = lexicon.TEST_WORDS.search(after)
    if not m or lexicon.RESULT_WORDS.search(after[:m.end()]):
        return False
    between = after[:m.start()]
    return bool(re.fullmatch(r"(?:\s*(?:,|and|or|/|&)\s*(?:[\w-]+\s+){0,2}[\w-]+)+\s+", between, re.I))


def _concept_variable(expression: str) -> str:
    return re.match(r"[a-z_0-9]+", expression).group(0)


def _pregnancy_rule(text: str, kind: str, found: list[tuple]) -> Rule:
    start, end = min(f[0] for f in found), max(f[1] for f in found)
    names = sorted({f[2] for f in found}, key=["pregnant", "lactating"].index)
    positive = [f[4] for f in found]
    source = text[start:end]
    is_test = all(re.search(r"test|hcg", f[3], re.I) for f in found)  # "urine beta-hCG" is a test
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
    rf"(?P<n>{NUM}|{WORD_NUM})?\s*(?P<u>years?|months?|weeks?|days?)\b(?:\s+(?:prior|before|preceding))?"
    rf"|\b(?:in|within|during)\s+the\s+(?:past|last|previous|preceding)\s+(?P<u2>year|month)\b", re.I)
_COUNT = re.compile(
    rf"(?P<c>{'|'.join(f'(?:{p})' for _, p in CMP_PHRASES)})?\s*(?P<n>{NUM}|{WORD_NUM})\s*(?P<t>or\s+more|\+)?"
    rf"\s*(?:episodes?\s+of\s+|(?:or\s+more\s+)?)?$", re.I)


_COUNT_AFTER = re.compile(
    rf"(?:(?P<c>{'|'.join(f'(?:{p})' for _, p in CMP_PHRASES)})\s*)?(?P<n>{NUM}|{WORD_NUM})\s*(?P<t>or\s+more|\+)?\s*"
    rf"(?:severe\s+)?(?:events?|episodes?)\b", re.I)


# between an event and its window: another item of a list after "or", "and", a comma or a slash ("3 or more" is a
# count; "severe hypoglycaemia, within 6 months" and "... during the study or within 3 months" name no other item)
_ANOTHER_ITEM = re.compile(r"(?:[,;/]|\b(?:and|or)\b(?!\s+more\b))\s*[A-Za-z]", re.I)


# the words of a trial_participation mention that name no particular kind of study
_ANY_TRIAL_WORDS = {"in", "any", "other", "another", "an", "a", "clinical", "investigational", "interventional", "research",
                    "trial", "trials", "study", "studies"}


def event_rules(text: str, kind: str, names: ParameterNames) -> tuple[list[Rule], list[str]]:
    _, _, _, events = compiled_terms()
    rules, notes = [], []
    seen: list[tuple[int, int]] = []
    for pattern, event in events:
        for m in pattern.finditer(text):
            if any(m.start() < e and m.end() > s for s, e in seen):
                continue
            seen.append((m.start(), m.end()))
            kind_words = [w for w in re.findall(r"[A-Za-z]+", m.group(0)) if w.lower() not in _ANY_TRIAL_WORDS
                          and not re.match(r"participat|enrol", w, re.I)]
            if event == "trial_participation" and kind_words:
                # "another therapeutic drug study", "an observational study": a kind of study the catalogue's event (any
                # interventional trial) is not; read as it, an exclusion would exclude people the text keeps
                # (draw 20261236, #40)
                notes.append(f"{m.group(0)!r}: a kind of study ({' '.join(kind_words)!r}) the catalogue's "
                             f"{event} does not tell apart; not read")
                continue
            after = text[m.end():m.end() + 80]
            if re.match(r"\s*(?:is\s+|was\s+)?defined", after, re.I) or text[max(0, m.start() - 1):m.start()] == "(":
                continue  # "(severe hypoglycemia defined as ...)" explains a term, it is no requirement
            window = _WINDOW.search(after)
            if not window or window.start() > 40:
                notes.append(f"{m.group(0)!r}: no time window; not read")
                continue
            if _ANOTHER_ITEM.search(after[:window.start()]):
                # "stroke or myocardial infarction within 6 months": the window may belong to the last item only;
                # read for this one too, an exclusion would keep a stroke of any date (no longer "history of")
                notes.append(f"{m.group(0)!r}: the time window follows another item "
                             f"({after[:window.start()].strip()!r}) and may be that item's only; not read")
                continue
            n = window.group("n")
            unit = (window.group("u") or window.group("u2") or "").lower().rstrip("s")
            number = parse_number(n) if n else 1.0
            days = round(number * {"year": 365, "month": 365 / 12, "week": 7, "day": 1}[unit])
            before = text[max(0, m.start() - 40):m.start()]
            count = _COUNT.search(before)
            op, threshold = ">=", 1.0
            if count and count.group("n"):
                threshold = parse_number(count.group("n"))
                if count.group("t"):
                    op = ">="
                elif count.group("c"):
                    op = op_of(count.group("c"))
            elif (inner := _COUNT_AFTER.search(after[:window.start()])) is not None:
                # "severe hypoglycaemia (3 or more events in the past 2 years)": the count follows the event
                threshold = parse_number(inner.group("n"))
                op = op_of(inner.group("c")) if inner.group("c") and not inner.group("t") else ">="
            elif re.search(r"\bno\s*$|\bwithout\s*$", before, re.I):
                notes.append(f"{m.group(0)!r}: negated event count; not read")
                continue
            elif re.search(r"\b(?:recurrent|repeated|multiple|frequent|several)\s+(?:\w+\s+)?$", before, re.I):
                # "recurrent severe hypoglycaemia": more than one, but how many is not written
                notes.append(f"{m.group(0)!r}: a count that is not written ({before.split()[-1]!r}); not read")
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
    rf"(?:less\s+than|within(?:\s+the\s+(?:past|last))?|<)\s*(?P<n>{NUM}|{WORD_NUM})\s*years?\s*(?:since\s+(?:cure|remission)"
    rf"|ago)?|not\s+in\s+remission\s+for\s+at\s+least\s+(?P<n2>{NUM}|{WORD_NUM})\s*years?"
    rf"|(?:disease[- ]free|in\s+remission)\s+for\s+(?:at\s+least\s+)?(?P<n3>{NUM}|{WORD_NUM})\s*years?", re.I)


def cancer_rule(text: str, kind: str, names: ParameterNames) -> tuple[list[Rule], list[str]]:
    mention = re.search(r"cancer|malignan\w+|tumou?rs?|neoplas\w+", text, re.I)
    if not mention or kind != "exclusion":
        return [], []
    window = _CANCER_WINDOW.search(text)
    if not window:
        return [], []
    if re.search(r"life\s+expectancy|survival|prognosis|expected\s+to\s+(?:live|survive)", text, re.I):
        return [], ["a life expectancy or survival time is not a time since cure; not read"]
    n = window.group("n") or window.group("n2") or window.group("n3")
    years = parse_number(n)
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


def merge_diagnosis_and_duration(text: str, rules: list[Rule]) -> list[Rule]:
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


def duration_rules(text: str, kind: str, values: list[Value], attached: list[Attached], names: ParameterNames
                    ) -> tuple[list[Rule], list[str]]:
    """'T1DM for at least 5 years', 'duration of diabetes > 2 years', 'diagnosed with T2D >= 1 year'."""
    used = {id(a.value) for a in attached}
    rules, notes = [], []
    for v in values:
        unit_written = next((u for u in v.units if u), None)
        if id(v) in used or unit_written not in TIME_UNITS or v.ops == ("",) or len(v.numbers) != len(v.ops) \
                or v.form == "from":  # a starting age ("from 18 years"), never a duration
            continue
        before = text[max(0, v.start - 80):v.start]
        m = re.search(r"(?:diabetes(?:\s+mellitus)?|\bT[12]DM?\b|\bIDDM\b|\bNIDDM\b|onset\s+of\s+diabetes|"
                      r"duration\s+of\s+(?:type\s*\w\s+)?diabetes|diabetes\s+duration)"
                      r"(?:\s*\([^)]*\))?(?:\s+mellitus)?\s*(?:for|since|of|duration|:)?\s*(?:\w+\s+){0,1}(?:(?:for|since)\s+)?$",
                      before, re.I)
        named = None
        if m is None:
            # "T1DM with a disease duration between 3 and 15 years", "onset at least 2 years before enrolment":
            # the rule's text runs from the diabetes it is the duration of
            named = [d for d in _DIABETES.finditer(text[:v.start]) if v.start - d.start() <= 80]
            m = _DISEASE_DURATION.search(before) if named else None
            if m and re.search(r"insulin|treat|therap|pump|dose|drug|medic|metformin|regimen|agent|stable",
                               text[named[-1].end():v.start], re.I):
                m = None  # "T2D on metformin at a stable dose for a duration of 3 months": the treatment's
        if not m or re.search(r"insulin|treat|therapy|pump", before[m.start():], re.I):
            continue
        if _AGE_AT_DIAGNOSIS.search(before):
            continue  # "age at diagnosis of diabetes under 40 years" is an age, not a time since diagnosis
        clause = clause_before(text, v.start)
        if named is None and not _DURATION_CUE.search(clause) and age_could_end(clause, text, v):
            notes.append(f"{text[v.start:v.end]!r} follows the name of the diabetes with no word of time, in a clause "
                         "about people: it may be their age or the diabetes' duration; not read")
            continue
        thresholds, trees_, params = [], [], {}
        for op, number in zip(v.ops, v.numbers, strict=True):
            value, unit, conf, problem = convert("diabetes_duration", number, unit_written, v.numbers)
            if problem:
                notes.append(f"{text[v.start:v.end]!r}: {problem}")
                break
            pname = names(_bound_name("diabetes_duration", op, kind))
            params[pname] = _parameter("diabetes_duration", value, op)
            trees_.append(trees.compare("diabetes_duration", op, pname))
            thresholds.append(Threshold("diabetes_duration", op, value, "years", number, unit_written))
        else:
            start = named[-1].start() if named else v.start - (len(before) - m.start())
            first = thresholds[0]
            rules.append(Rule("diabetes_duration", trees.all_of(trees_), params, (start, v.end), text[start:v.end], 0.85,
                              first.comparator, first.value, "years", first.source_value, unit_written,
                              "time since diagnosis" + (f"; converted from {unit_written}" if unit_written != "years" else ""),
                              tuple(thresholds)))
    return rules, notes


_DIABETES = re.compile(r"diabet|\bT[12]DM?\b|\bN?IDDM\b", re.I)
# "with (a) duration of more than 1 year" after the diabetes names its duration too; a treatment's duration does not
# (the words from the diabetes on are checked for one: duration_rules)
_DISEASE_DURATION = re.compile(r"(?:(?:(?:disease|illness|diabetes)\s+)?duration(?:\s+(?:of|is))?|\bonset(?:\s+(?:of\s+)?(?:at\s+least|more\s+than))?)"
                               r"\s*(?:of\s+)?(?::\s*)?$", re.I)
# a word that makes a limit after the diabetes its duration ("T2DM for 5 years", "diagnosed with T2D >= 1 year")
_DURATION_CUE = re.compile(r"\b(?:for|since|of|durations?|diagnos\w*|known|history|onset|lasting|had)\b|:", re.I)
_AGE_AT_DIAGNOSIS = re.compile(r"\bage\s+(?:at|of)\s+(?:the\s+)?(?:diagnosis|onset)\b", re.I)
