"""A group's own limit named before its value, in brackets after the general limit: "ALT <= 2.5 x ULN (in case of
liver metastases < 5 x ULN)", "total bilirubin <= 1.5 x ULN (patients with Gilbert's syndrome: total bilirubin <= 3 x
ULN)".

The bracketed value has no variable of its own (or repeats the general rule's), so it is the general rule's variables'
limit for the group C (a catalogue concept). Both limits then hold, each for its group, in both kinds:
`C and group_limit or not C and general_limit or group_limit and general_limit` (trees.per_group; conditions.py reads
the same pair written value first, group after).
Anything else in the bracket (another condition, another variable, a value of another unit) and it is not read: the
criterion stays as it was (non-computable, "another value in the same unit").
"""

from __future__ import annotations

import dataclasses
import re

from explorer.registry import conditions, lexicon, trees
from explorer.registry.attach import Attached
from explorer.registry.model import Mention, Rule, Value
from explorer.registry.readings import ParameterNames, numeric_rules

# from the end of the general rule to the group: an opening bracket and a group introduction
_BEFORE_GROUP = re.compile(
    r"\s*[(\[]\s*(?:(?:in\s+(?:the\s+)?case\s+of|for|in|among|if)\s+)?"
    r"(?:(?:the\s+)?(?:patients?|subjects?|participants?|those|individuals?|persons?)\s+(?:with|who\s+have|having)\s+)?"
    r"(?:(?:known|documented|a|an)\s+)*", re.I)
# from the group to its value: a colon, a comma or "then", and at most the general rule's own variable named again
_GROUP_GAP = re.compile(r"\s*(?:[,:]\s*|then\s+)?", re.I)
_CLOSE = re.compile(r"\s*[)\]]")


def group_first_limits(text: str, kind: str, rules: list[Rule], values: list[Value], mentions: list[Mention],
                       names: ParameterNames) -> list[Rule]:
    """The rules, with each general limit followed by a bracketed "(group C: value)" merged into one rule."""
    out = list(rules)
    for group in list(rules):
        if group not in out or group.tree is None or group.thresholds:
            continue
        before = [r for r in out if r.span[1] <= group.span[0] and r.thresholds and not r.applies_to]
        if not before:
            continue
        general = max(before, key=lambda r: r.span[1])
        intro = _BEFORE_GROUP.match(text, general.span[1])
        if intro is None or intro.end() != group.span[0]:
            continue
        start = _GROUP_GAP.match(text, group.span[1]).end()
        variables = {t.variable for t in general.thresholds}
        # the general rule's variable named again with the group's value: already read as a rule of its own
        restated = next((r for r in out if r.span[0] == start and r.thresholds and not r.applies_to
                         and {t.variable for t in r.thresholds} == variables
                         and {t.unit for t in r.thresholds} == {t.unit for t in general.thresholds}), None)
        if restated is not None:
            limit, end = restated, restated.span[1]
        else:
            limit = _bare_limit(text, kind, general, start, out, values, mentions, names)
            end = limit.span[1] if limit is not None else 0
        if limit is None or not _CLOSE.match(text, end) or _directions(limit) != _directions(general):
            continue  # "HbA1c 7-10% (for type 1: < 8%)": which of the range's limits the group's replaces is a guess
        merged = _each_group_its_limit(text, general, limit, group, _CLOSE.match(text, end).end())
        out = [merged if r is general else r for r in out if r is not group and r is not limit]
    return out


# from the end of the general rule to the group's bare value: an opening bracket
_BEFORE_VALUE = re.compile(r"\s*[(\[]\s*")
# a group named by a condition rather than by people: "(< 3 x ULN if Gilbert's syndrome)", "(<= 5 x ULN in case of
# liver metastases)"; the group is still a read concept and the bracket closes right after it
_CONDITION_INTRO = re.compile(r"\s*,?\s*(?:if|when|in\s+(?:the\s+)?(?:case|presence)\s+of)\s+(?:(?:known|documented|"
                              r"there\s+is|there\s+are|a|an)\s+)*", re.I)


def value_first_limits(text: str, kind: str, rules: list[Rule], values: list[Value], mentions: list[Mention],
                       names: ParameterNames) -> list[Rule]:
    """The rules, with each general limit followed by a bracketed "(value for group C)" merged into one rule:
    "HbA1c <= 8.5% (<= 9.5% for subjects on insulin)", "HbA1c of 8.5% or less (9.5% or less for participants treated
    with insulin)", "bilirubin < 1.5 x ULN (< 3 x ULN if Gilbert's syndrome)". The bare value is read as the general rule's variables' limit for C, as `group_first_limits`
    reads "(C: value)"; the value restated with its variable is conditions.conditioned's case."""
    out = list(rules)
    for group in list(rules):
        if group not in out or group.tree is None or group.thresholds:
            continue
        linked = [(v, m) for v in values if v.end <= group.span[0]
                  for m in [conditions.GROUP_INTRO.fullmatch(text, v.end, group.span[0])
                            or _CONDITION_INTRO.fullmatch(text, v.end, group.span[0])] if m is not None]
        if not linked:
            continue
        value, _ = linked[-1]
        before = [r for r in out if r.span[1] <= value.start and r.thresholds and not r.applies_to]
        if not before:
            continue
        general = max(before, key=lambda r: r.span[1])
        opening = _BEFORE_VALUE.match(text, general.span[1])
        close = _CLOSE.match(text, group.span[1])
        if opening is None or opening.end() != value.start or close is None:
            continue
        limit = _bare_limit(text, kind, general, value.start, out, values, mentions, names)
        if limit is None or _directions(limit) != _directions(general):
            continue  # a range's two limits, or a limit of another direction: which one the group's replaces is a guess
        merged = _each_group_its_limit(text, general, limit, group, close.end())
        out = [merged if r is general else r for r in out if r is not group]
    return out


def _each_group_its_limit(text: str, general: Rule, limit: Rule, group: Rule, end: int) -> Rule:
    """One rule, `C and limit or not C and general or limit and general`, spanning the text up to `end` (the closing
    bracket). C or not C is exhaustive, so a value beyond both limits is decided whatever C (trees.per_group)."""
    tree = trees.per_group([(group.tree, limit.tree), (trees.negate(group.tree), general.tree)], exhaustive=True)
    merged = conditions.merged_rule(text, [general, group, limit], tree, limit, group)
    return dataclasses.replace(merged, span=(merged.span[0], end), source=text[merged.span[0]:end])


def _directions(rule: Rule) -> list[tuple[str, str]]:
    """Each threshold's variable and direction ("<" or ">"): a group's limit replaces a general one of the same form."""
    return sorted((t.variable, t.comparator[:1]) for t in rule.thresholds)


def _bare_limit(text: str, kind: str, general: Rule, start: int, rules: list[Rule], values: list[Value],
                mentions: list[Mention], names: ParameterNames) -> Rule | None:
    """The value at `start`, unread and of the general rule's kind (a multiple of the ULN or not), read as a limit of
    the general rule's own variables; None when it is anything else."""
    value = next((v for v in values if v.start == start), None)
    if value is None or len(value.ops) != 1:
        return None
    uln = all(t.unit == lexicon.ULN_UNIT for t in general.thresholds)
    if value.uln != uln or any(r.span[0] < value.end and value.start < r.span[1] for r in rules):
        return None
    own = [m for m in mentions if general.span[0] <= m.start and m.end <= general.span[1] and m.variables]
    if not own:
        return None
    read, _ = numeric_rules(text, kind, Attached(value, own), names)
    if len(read) != 1 or {t.variable for t in read[0].thresholds} != {t.variable for t in general.thresholds}:
        return None
    return dataclasses.replace(read[0], span=(value.start, value.end), source=text[value.start:value.end])
