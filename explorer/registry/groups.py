"""Whom a criterion about one named sex applies to, decided by the sexes the trial enrols (the registry's sex field).

"Non-pregnant and non-lactating women", "Women of childbearing potential must use contraception", "Male subjects
aged 18-40" name one sex as their subject and say nothing of the other. Read alone, an inclusion either admits the
other sex without a word (`sex == "male" or not pregnant`) or excludes it without a word (`sex == "male" and age
>= 18`); which one a researcher means depends on whom the trial enrols, which ClinicalTrials.gov states in its sex
field (ALL / FEMALE / MALE, in legacy XML and API v2 JSON):

- the trial enrols only the named sex: `sex == "female" and X` (the group is everyone; the rule is exact);
- it enrols all sexes (or only the other one): the item applies to the named sex and the other passes,
  `sex == "male" or X`, and the rule's note says so;
- no sex field (a pasted list, Chia): `sex == "female" and X`, the narrowest reading, marked partial with the group
  named as left out ("women: men are not named in the text"), so the reader decides.

An exclusion about a named sex excludes that sex only, `sex == "female" and X`, whatever the trial enrols: that is
exactly its text. A group named as a condition ("for women", "if female", "in men") or thresholds stated per sex are
read by the steps that state them (conditions.py, readings.merge_sex_specific) and left alone here.
"""

from __future__ import annotations

import dataclasses
import re

from explorer import expr
from explorer.registry import lexicon, trees
from explorer.registry.model import Rule

_PEOPLE = (r"subjects?|patients?|participants?|volunteers?|adults?|children|adolescents?|individuals?|persons?|people|"
           r"smokers?|athletes?|veterans?|residents?|workers?|students?|inpatients?|outpatients?")
# a word naming people of one sex; "female"/"male" only before a noun for people or where a phrase ends ("Female,
# aged 18-45", "postmenopausal female."), never as the adjective of a thing ("female hormone therapy")
# "MEN 2" / "MEN2A" is multiple endocrine neoplasia, never men
_NOT_MEN = r"(?!\s*-?\s*(?:[12][ab]?|II[ab]?)\b)"
SEX_GROUP = re.compile(rf"\b(?P<word>wom[ae]n|m[ae]n{_NOT_MEN}|girls?|boys?|females|males|(?:fe)?male(?=\s+(?:{_PEOPLE})\b|"
                       r"\s*(?:[,.;:)]|$)))\b", re.I)
# the text names someone else than the participant by sex, or both sexes: not a group of participants of one sex
_NOT_A_GROUP = re.compile(r"\b(?:partners?|spouses?|wives|wife|husbands?|mothers?|fathers?|born\s+to|offspring|"
                          r"either\s+sex|both\s+sex(?:es)?|any\s+(?:sex|gender)|sex\s+with|regardless\s+of\s+(?:sex|gender)|"
                          r"transgender|gender)\b", re.I)
# before the group word, in its own clause: describing words only ("Non-pregnant and non-lactating", "Healthy
# postmenopausal", "No pregnant or nursing"); a preposition or a relative makes the group part of another phrase
# ("History of cancer in women", "Partners of women", "Patients who are women")
_SUBJECT_PREFIX = re.compile(r"^\W*(?:(?!(?:of|in|for|among|if|with|to|than|from|by|who|whose|which|that|except|"
                             r"other|their|as|at|on)\b)[\w-]+(?:\s*[,/&]\s*|\s+)){0,6}$", re.I)
_CLAUSE_BREAK = re.compile(r";|\.\s|\n")
# any word for a sex, as a noun or an adjective: a criterion naming both ("Male or female, aged 18-65") names no group
_ANY_SEX_WORD = re.compile(rf"\b(?:wom[ae]n|m[ae]n{_NOT_MEN}|girls?|boys?|(?:fe)?males?)\b", re.I)


# another group of people listed after the named one ends its reach
_OTHER_PEOPLE = re.compile(rf"(?:,|\band\b|\bor\b|&|/)\s*(?:[\w-]+\s+){{0,2}}?(?:{_PEOPLE}|infants?|newborns?|neonates?|"
                           r"toddlers?|minors?|elderly|teenagers?)\b", re.I)
# a group the text itself limits to those who could be pregnant: a condition, so everyone else passes
_POTENTIAL = re.compile(r"\s*(?:\(\s*)?(?:(?:of|with|in)\s+(?:child[\s-]?bearing|reproductive)\s+(?:potential|age)|"
                        r"(?:who|that)\s+(?:are\s+|is\s+)?(?:could|can|may|might|able\s+to)\s+(?:become\s+|get\s+)?"
                        r"pregnant|(?:able|capable)\s+(?:to|of)\s+(?:bear(?:ing)?\s+children|becom(?:e|ing)\s+pregnant)|"
                        r"of\s+(?:child[\s-]?bearing|reproductive)\s+years)", re.I)


def _sex_of(word: str) -> str:
    return "male" if word.lower().split()[0] in lexicon.MALE_WORDS | {"boy"} else "female"


def named_group(text: str) -> tuple[str, int, int] | None:
    """The one sex a criterion names as its subject, with the span of the clause it heads; None when it names none,
    both, or one only inside another phrase."""
    if _NOT_A_GROUP.search(text) or len({_sex_of(m.group(0)) for m in _ANY_SEX_WORD.finditer(text)}) > 1:
        return None
    first = SEX_GROUP.search(text)
    if first is None:
        return None
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, first.start())), default=0)
    if not _SUBJECT_PREFIX.match(text[clause_start:first.start()]):
        return None
    clause_end = next((m.start() for m in _CLAUSE_BREAK.finditer(text, first.end())), len(text))
    other_people = _OTHER_PEOPLE.search(text, first.end(), clause_end)
    if other_people:  # "Pregnant women and young children aged <18 years": the age is the children's
        clause_end = other_people.start()
    return _sex_of(first.group("word")), clause_start, clause_end


def _without_sex(tree: expr.Node, sex: str) -> expr.Node | None:
    """The rule's condition X once the sex the earlier steps joined to it is taken off; None when it is not one of
    the two shapes they build (`sex == G and X`, `sex == O or X`)."""
    if "sex" not in expr.names(tree):
        return tree
    other = "male" if sex == "female" else "female"
    if isinstance(tree, expr.BoolOp):
        marker = trees.equals("sex", sex if tree.op == "and" else other)
        rest = [o for o in tree.operands if o != marker]
        if len(rest) == len(tree.operands) - 1 and rest and not any("sex" in expr.names(o) for o in rest):
            return trees.all_of(rest) if tree.op == "and" else trees.any_of(rest)
    return None


_PLURAL = {"female": "women", "male": "men"}


def read_for_enrolled_sex(text: str, kind: str, rules: list[Rule], enrolled_sex: str | None
                          ) -> tuple[list[Rule], list[str], list[str]]:
    """The rules of a criterion whose subject is one sex, read for the sexes the trial enrols (module docstring).

    Returns the rules, notes (the reading chosen, for the report) and parts left out (no sex field: the group).
    """
    group = named_group(text)
    if group is None:
        return rules, [], []
    sex, clause_start, clause_end = group
    word = SEX_GROUP.search(text, clause_start)
    qualifier = _POTENTIAL.match(text, word.end()) if word else None
    potential = qualifier is not None
    other = "male" if sex == "female" else "female"
    named, unnamed = _PLURAL[sex], _PLURAL[other]
    out, changed, conditional = [], False, False
    for rule in rules:
        in_clause = clause_start <= rule.span[0] < clause_end
        inner = None if rule.tree is None or rule.applies_to or rule.group_span or not in_clause \
            else _without_sex(rule.tree, sex)
        if inner is None:
            out.append(rule)
            continue
        if kind == "inclusion" and ("childbearing_potential" in expr.names(inner) or potential):
            # "Women who could become pregnant need a negative test": the text itself makes the group a condition
            # (women who cannot become pregnant pass), so the other sex passes too, whatever the trial enrols
            if "childbearing_potential" not in expr.names(inner):
                inner = trees.any_of([trees.negate(trees.name("childbearing_potential")), inner])
            tree, conditional = trees.any_of([trees.equals("sex", other), inner]), True
            if qualifier is not None:  # the group's words are read: "women of childbearing potential"
                out.append(dataclasses.replace(rule, tree=tree, group_span=(word.start(), qualifier.end())))
                changed = True
                continue
        elif kind == "inclusion" and enrolled_sex in {"all", other}:
            tree = trees.any_of([trees.equals("sex", other), inner])
        else:
            tree = trees.all_of([trees.equals("sex", sex), inner])
        changed = True
        out.append(dataclasses.replace(rule, tree=tree))
    if not changed:
        return rules, [], []
    if kind == "exclusion":
        return out, [f"the criterion names {named} only: it excludes {named} only"], []
    if conditional:
        return out, [f"the criterion names {named} who could become pregnant: it applies to them; {unnamed} and "
                     f"{named} who cannot become pregnant pass"], []
    if enrolled_sex == sex:
        return out, [f"the trial enrols {named} only (registry sex field): the criterion names {named} and holds "
                     "for everyone"], []
    if enrolled_sex in {"all", other}:
        whom = "all sexes" if enrolled_sex == "all" else f"{unnamed} only"
        return out, [f"the trial enrols {whom} (registry sex field) and the criterion names {named} only: it is "
                     f"read as applying to {named}; {unnamed} pass"], []
    return out, [], [f"whom it applies to: {named}; {unnamed} are not named in the text and no registry sex field "
                     f"says whether the trial enrols them (read as admitting {named} only)"]


# --- adults named as the subject --------------------------------------------------------------------------------------
# "Adults with BMI >= 30 kg/m2", "Adult patients with HbA1c 7-10%": the text names adults only. "adults" is one of the
# words a rule's coverage does not count (lexicon.UNCOVERED_STOP_WORDS), so without this step the group was dropped
# unsaid; other age groups ("Children with ...", "Adolescents ...") are named as left out already.
_ADULTS = re.compile(r"^\W*(?:(?!(?:of|in|for|with|no|not|non)\b)[\w-]+\s+){0,2}?adults?\b", re.I)
ADULT_AGE = 18.0


def read_for_enrolled_ages(text: str, rules: list[Rule], minimum_age: float | None
                           ) -> tuple[list[str], list[str]]:
    """Notes and parts left out for a criterion whose subject is adults, decided by the registry's minimum age: a
    trial that enrols adults only makes the word add nothing; otherwise younger people are not named by the text and
    the group is named as left out (the rule holds for everyone it reads)."""
    if not rules or not _ADULTS.match(text) or any("age" in expr.names(r.tree) for r in rules if r.tree is not None):
        return [], []
    if minimum_age is not None and minimum_age >= ADULT_AGE:
        return [f"the trial enrols adults only (registry minimum age {minimum_age:g} years): 'adults' adds nothing"], []
    return [], ["whom it applies to: adults; younger people are not named in the text and the registry's minimum age "
                "does not limit the trial to adults"]
