"""Thresholds that hold only for people the catalogue can name: "HbA1c < 9% for patients on insulin".

A threshold stated for a group ("for / in patients with C", "for subjects on C") says nothing about anyone else.
When the group is itself read as a rule C (a catalogue concept, or an age), the pair is one rule:

- an inclusion requires the threshold of the group only: `not C or threshold`;
- an exclusion excludes only the group over it: `C and threshold`;
- a general threshold followed by the group's own ("HbA1c <= 8.5% (<= 9.5% for subjects on insulin)") gives each
  their limit: `C and group_threshold or not C and general_threshold or group_threshold and general_threshold`, in
  both kinds (the last term decides a value beyond both limits when C is unknown: trees.per_group).

The condition must end the clause: anything unread after it ("for patients with C who ...") leaves the group
partly unread, and the pair is not merged (the criterion then stays non-computable, as before). Under three-valued
logic an unknown C keeps the threshold deciding where it passes for both groups, and unknown otherwise.
"""

from __future__ import annotations

import dataclasses
import re

from explorer import expr
from explorer.registry import trees
from explorer.registry.model import Rule

# the words between a threshold and the rule naming its group; the group's rule may start with its own verb
# ("on insulin", "treated with insulin"), so the introduction may stop before "with" / "on"
GROUP_INTRO = _INTRO = re.compile(
    r"\s*,?\s*[(\[]?\s*(?:only\s+)?(?:in|for|among)\s+(?:(?:a|an|the|all)\s+)?"
    r"(?:persons?|people|patients?|subjects?|participants?|those|individuals?|adults?)\s*"
    r"(?:(?:with|who\s+(?:have|has|are)|having|receiving|taking)\s+(?:(?:an?|known|a\s+diagnosis\s+of)\s+)?)?", re.I)
# a group named by a condition, after the threshold: "SBP > 160 mmHg if on antihypertensive treatment", "eGFR < 45
# when treated with metformin", "in case of liver metastases"; the same pair as "for patients on C" when C is read
_IF_INTRO = re.compile(r"\s*,?\s*(?:only\s+)?(?:if|when|in\s+(?:the\s+)?case\s+of)\s+(?:(?:the\s+)?(?:patients?|subjects?|"
                       r"participants?|persons?)\s+(?:is|are|has|have)\s+)?(?:(?:on|known|documented|an?)\s+)*", re.I)
_CONDITION_LINK = re.compile(rf"(?:{_INTRO.pattern})|(?:{_IF_INTRO.pattern})", re.I)
# after the group's rule: the clause ends (a closing bracket, a full stop or semicolon, the end of the criterion)
_CLAUSE_END = re.compile(r"\s*[)\]]?\s*(?:[.;]|$)")
# a general threshold, then the group's in brackets or after a comma / "or"
_ALTERNATIVE_GAP = re.compile(r"\s*(?:[(\[,;]|\bor\b)\s*", re.I)


def _variables(rule: Rule) -> set[str]:
    return {t.variable for t in rule.thresholds}


def merged_rule(text: str, rules: list[Rule], tree, threshold: Rule, group: Rule, note: str = "") -> Rule:
    span = (min(r.span[0] for r in rules), max(r.span[1] for r in rules))
    parameters: dict = {}
    for r in rules:
        parameters.update(r.parameters)
    thresholds = tuple(t for r in rules for t in r.thresholds)
    # both variables name the rule: an age limit for a group is no general age limit the registry's fields cover
    return Rule(f"{threshold.variable}+{group.variable}", tree, parameters, span, text[span[0]:span[1]], min(r.confidence for r in rules),
                threshold.comparator, threshold.value, threshold.unit, threshold.source_value, threshold.source_unit,
                note or f"the threshold {threshold.source!r} holds only for people with {group.source!r}", thresholds,
                applies_to=group.source)


def _threshold_linked(text: str, group: Rule, rules: list[Rule], link: re.Pattern) -> tuple[Rule, re.Match] | None:
    """The threshold rule just before `group` and the match of `link` ("for", "unless", ...) joining the two, when
    that link runs exactly from the threshold's end to the group's start and the threshold has no group of its own."""
    before = [r for r in rules if r.span[1] <= group.span[0] and r.thresholds and r is not group]
    if not before:
        return None
    threshold = max(before, key=lambda r: r.span[1])
    # fullmatch, not match: the link may give back a verb the group's own rule starts with ("receiving insulin")
    match = link.fullmatch(text, threshold.span[1], group.span[0])
    if match is None or threshold.applies_to:
        return None
    return threshold, match


# a threshold listed after another: "A, B", "A or B", "A and/or B"
_LIST_JOINT = re.compile(r"\s*[,;.]?\s*(?:and\s*/\s*or|or|and)?\s*", re.I)  # "." also: "mm Hg. and/or"


def _listed_before(text: str, threshold: Rule, rules: list[Rule]) -> bool:
    """Whether another threshold is joined to `threshold` just before it, so a group named after both may be theirs."""
    before = [r for r in rules if r.span[1] <= threshold.span[0] and r.thresholds and r is not threshold]
    return bool(before) and _LIST_JOINT.fullmatch(text, max(r.span[1] for r in before), threshold.span[0]) is not None


def conditioned(text: str, kind: str, rules: list[Rule]) -> list[Rule]:
    """The rules, with each threshold stated for a group the catalogue names merged with that group's rule."""
    out = list(rules)
    for group in list(rules):
        if group not in out or group.tree is None or not _CLAUSE_END.match(text, group.span[1]):
            continue
        found = _threshold_linked(text, group, out, _CONDITION_LINK)
        if found is None:
            continue
        threshold, _ = found
        # the group's own limit after a general one of the same variables: each group its limit
        general = [r for r in out if r.span[1] <= threshold.span[0] and _variables(r) == _variables(threshold)
                   and not r.applies_to]
        same = [r for r in out if r is not threshold and r is not group and _variables(r) & _variables(threshold)]
        if general and same == [general[-1]] and _ALTERNATIVE_GAP.fullmatch(text, general[-1].span[1],
                                                                             threshold.span[0]):
            first = general[-1]
            # C or not C: exhaustive, so a value beyond both limits is decided whatever C (trees.per_group)
            tree = trees.per_group([(group.tree, threshold.tree), (trees.negate(group.tree), first.tree)],
                                   exhaustive=True)
            merged = merged_rule(text, [first, threshold, group], tree, threshold, group)
            out = [merged if r is first else r for r in out if r is not threshold and r is not group]
            continue
        if same:
            continue  # another limit of the same variable, not the general one just before: not guessed
        if _listed_before(text, threshold, out):
            continue  # "SBP > 180 and/or DBP > 100 in patients receiving C": C may bind both or the last; not guessed
        tree = (trees.any_of([trees.negate(group.tree), threshold.tree]) if kind == "inclusion"
                else trees.all_of([group.tree, threshold.tree]))
        merged = merged_rule(text, [threshold, group], tree, threshold, group)
        out = [merged if r is threshold else r for r in out if r is not group]
    return out


# --- a threshold measured under a treatment: "SBP > 180 mmHg on antihypertensive treatment", "HbA1c > 10% on insulin"
# In an exclusion the text excludes only people on the treatment over the limit: `C and threshold`. Joined as a list
# ("A or B"), the treatment would exclude everyone on it. A treatment after two or more thresholds ("SBP > 160 or DBP >
# 100 mmHg on antihypertensive drugs") may bind both or the last: not guessed, the criterion stays non-computable.
# An inclusion ("HbA1c 7-10% on insulin") requires both, which is how its list is joined already.
TREATMENTS = frozenset({"on_insulin", "antihypertensive_treatment", "chronic_glucocorticoids"})
_UNDER = re.compile(r"\s*,?\s*(?:(?:while|when|despite|though)\s+)?(?:(?:already|currently|being|still)\s+)*"
                    r"(?:(?:on|under|despite|during|receiving|taking)\s+(?:(?:stable|current|ongoing|maximal|maximum|"
                    r"optimal|optimi[sz]ed|full|an?)\s+)*)?", re.I)
# the group's own words say it is a treatment taken ("on insulin", "receiving antihypertensive drugs")
_TAKEN = re.compile(r"(?:currently\s+)?(?:on|receiving|taking|using|uses|treated|treatment|use)\b", re.I)


def _under_treatment(text: str, group: Rule, rules: list[Rule]) -> Rule | None:
    """The threshold rule right before a treatment's rule that it is measured under, or None."""
    if group.variable not in TREATMENTS or group.tree is None:
        return None
    before = [r for r in rules if r.span[1] <= group.span[0] and r.thresholds and r is not group]
    if not before:
        return None
    threshold = max(before, key=lambda r: r.span[1])
    link = _UNDER.fullmatch(text, threshold.span[1], group.span[0])
    if link is None or threshold.applies_to or threshold.variable in TREATMENTS:
        return None
    if not link.group(0).strip() and not _TAKEN.match(group.source):
        return None  # "HbA1c > 10% insulin": no word says the value is taken under it
    return threshold


def under_treatment(text: str, kind: str, rules: list[Rule]) -> tuple[list[Rule], list[str]]:
    """(rules, notes): in an exclusion each threshold measured under a treatment is merged with it (`C and
    threshold`); one that follows another threshold of a list is not guessed, and its note makes the criterion
    non-computable."""
    if kind != "exclusion":
        return rules, []
    out = list(rules)
    notes: list[str] = []
    for group in list(rules):
        if group not in out:
            continue
        threshold = _under_treatment(text, group, out)
        if threshold is None:
            continue
        if _listed_before(text, threshold, out):
            notes.append(f"{group.source!r} may bind every threshold listed before it or only the last; read "
                         "either way it changes who is excluded; not computable")
            continue
        tree = trees.all_of([group.tree, threshold.tree])
        merged = merged_rule(text, [threshold, group], tree, threshold, group,
                             f"the threshold {threshold.source!r} is measured under {group.source!r}: only people "
                             "on it are excluded")
        out = [merged if r is threshold else r for r in out if r is not group]
    return out, notes


# --- a group excepted from a threshold: "bilirubin > 1.5 x ULN unless the subject has Gilbert's syndrome" -----------
# Everyone with C is excepted: an exclusion excludes `not C and threshold`, an inclusion requires `C or threshold`.
# "unless due to C" excepts a value C explains; the rule cannot tell the cause, so it excepts everyone with C and names
# that (in both kinds it admits more people than the text, never fewer).
_UNLESS = re.compile(
    r"\s*,?\s*[(\[]?\s*(?:unless|except(?:\s+(?:in|for))?|other\s+than\s+in)\s+"
    r"(?:(?:the\s+)?(?:patients?|subjects?|participants?|persons?|those|individuals?)\s+(?:with|who\s+(?:has|have|is|are))\s+|"
    r"(?:the\s+)?(?:patient|subject|participant|person)\s+(?:has|is)\s+|"
    r"(?P<cause>(?:(?:it|this)\s+is\s+)?(?:due\s+to|caused\s+by|attributable\s+to|attributed\s+to|secondary\s+to|"
    r"explained\s+by|related\s+to)\s+))?"
    r"(?:(?:an?|known|documented|confirmed|diagnosed|a\s+(?:known\s+)?diagnosis\s+of)\s+)*", re.I)


def excepted(text: str, kind: str, rules: list[Rule]) -> tuple[list[Rule], list[str]]:
    """The rules, each threshold followed by "unless C" (C a catalogue concept ending the clause) merged with C;
    and what is left out (the cause, for "unless due to C")."""
    out, left_out = list(rules), []
    for group in list(rules):
        if group not in out or group.tree is None or group.thresholds or not _CLAUSE_END.match(text, group.span[1]):
            continue
        found = _threshold_linked(text, group, out, _UNLESS)
        if found is None:
            continue
        threshold, m = found
        tree = (trees.all_of([trees.negate(group.tree), threshold.tree]) if kind == "exclusion"
                else trees.any_of([group.tree, threshold.tree]))
        merged = merged_rule(text, [threshold, group], tree, threshold, group,
                         f"everyone with {group.source!r} is excepted from {threshold.source!r}")
        out = [merged if r is threshold else r for r in out if r is not group]
        if m.group("cause"):
            left_out.append(f"whether the value is {' '.join(m.group('cause').split())} {group.source} "
                            "(everyone with it is excepted)")
    return out, left_out


# --- the group a pregnancy rule already states ------------------------------------------------------------------
# "For women of childbearing potential, a negative pregnancy test", "Not pregnant for female subjects", "For females,
# pregnancy or breast-feeding": the pregnancy rules (readings._pregnancy_rule) already hold only for women, and a
# negative test only for women who could be pregnant. A condition naming that group adds nothing; one naming women
# of childbearing potential for a rule that does not state it is the condition C of the module docstring.
_FEMALE = r"(?:wom[ae]n|females?|girls|(?:female|women)\s+(?:subjects?|participants?|patients?|volunteers?))"
_POTENTIAL = r"(?:child[\s-]?bearing|reproductive)\s+potential(?:\s*\((?:WOCBP|FOCBP)\))?"
_GROUP = rf"(?:an?\s+|all\s+)?{_FEMALE}(?P<potential>\s+(?:and\s+)?(?:of\s+|with\s+)?{_POTENTIAL})?"
_GROUP_AFTER = re.compile(rf"\s*(?:\(\s*(?:(?:if|for|in)\s+)?|,?\s*(?:if|for|in)\s+){_GROUP}\s*\)?(?=\s*(?:[.;,]|$))",
                          re.I)
# words between a group named first and its rule: "If female, has a negative ...", "For women ..., a negative urine
# or serum ..."; anything else (a further condition, another noun) and the group may belong to something else
_GROUP_GAP = re.compile(r"(?:\s*(?:(?:a|an|the|has|have|must|should|be|is|are|required|negative|confirmed|documented|"
                        r"known|current|currently|urine|serum|blood|result|of|or)\b|[,:])\s*){0,8}", re.I)


def _pregnancy_rule(rule: Rule) -> bool:
    return rule.tree is not None and bool(rule.variable) and set(rule.variable.split("+")) <= {"pregnant", "lactating"}


def pregnancy_groups(text: str, kind: str, rules: list[Rule]) -> list[Rule]:
    """The pregnancy rules, each with a group named for it ("for women", "if of childbearing potential") stated."""
    out = []
    for rule in rules:
        if not _pregnancy_rule(rule) or rule.applies_to:
            out.append(rule)
            continue
        clause_start = max(text.rfind(s, 0, rule.span[0]) for s in (". ", "; ", "\n")) + 1
        before = None
        for m in re.finditer(rf"(?:if|for|in|among)\s+{_GROUP}", text[clause_start:rule.span[0]], re.I):
            if _GROUP_GAP.fullmatch(text, clause_start + m.end(), rule.span[0]):
                before = (clause_start + m.start(), clause_start + m.end(), m)
                break
        after = _GROUP_AFTER.match(text, rule.span[1])
        if before is None and after is None:
            out.append(rule)
            continue
        group = before[2] if before else after
        span = (before[0], rule.span[1]) if before else (rule.span[0], after.end())
        group_span = before[:2] if before else (after.start(), after.end())
        tree, note = rule.tree, rule.note
        if group.group("potential") and "childbearing_potential" not in expr.names(rule.tree):
            # the rule holds for women; the text for those who could be pregnant: C = childbearing_potential
            potential = trees.name("childbearing_potential")
            tree = (trees.any_of([trees.negate(potential), rule.tree]) if kind == "inclusion"
                    else trees.all_of([potential, rule.tree]))
            note = (note + "; " if note else "") + "holds only for women of childbearing potential, as the text says"
        out.append(dataclasses.replace(rule, tree=tree, span=span, source=text[span[0]:span[1]], note=note,
                                       applies_to="female", group_span=group_span))
    return out
