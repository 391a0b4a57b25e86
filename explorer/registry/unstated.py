"""Values read whose comparator the text does not state: reported as read, never made computable.

"Age 18 years", "65 years old", "LFT 3X upper limit of normal", "systolic 180 mm Hg" and the flattened
"Age = 18 years" of some corpora name a variable and a value but not whether the limit is a minimum, a
maximum or the value itself. Guessing the direction would put a rule in the trial that its text does not
hold, so the reading keeps the comparator empty: the import report names the value ("value read,
comparator not stated"), and `readings.numeric_rules` builds no rule from it (`no_comparator`).
"""

from __future__ import annotations

import re

from explorer.catalogue import default_catalogue
from explorer.registry import lexicon
from explorer.registry.attach import Attached, clause_before, convert
from explorer.registry.model import Threshold, Value

UNSTATED = ""  # the comparator of a reading whose text states none

# an age with no comparator right after "before"/"after"/"since"/"until"/"by" is the age at an event ("convulsions
# before 2 years old"), and after a caregiver or relative it is that person's age: neither is the participant's age
_AGE_AT_EVENT = re.compile(r"\b(?:before|after|since|until|till|by|prior\s+to)\s*(?:the\s+)?(?:age\s+(?:of\s+)?)?$", re.I)
_SOMEONE_ELSE = re.compile(r"\b(?:caregivers?|care-givers?|relatives?|parents?|partners?|spouses?|mothers?|fathers?|"
                           r"siblings?|guardians?)\b", re.I)


def no_comparator(value: Value) -> bool:
    """True when the text states no comparator for the value (a bare number, a pair without one)."""
    return all(op == "" for op in value.ops)


def unstated_thresholds(text: str, attached: list[Attached]) -> tuple[list[Threshold], list[str], list[Value]]:
    """The thresholds of every attached value without a comparator, in catalogue units, one note per value, and
    the values so read.

    The same conversions and plausible ranges as a stated threshold apply (attach.convert): a value whose
    unit is unknown, or that is implausible for its variable, is no reading at all.
    """
    found: list[Threshold] = []
    notes: list[str] = []
    read: list[Value] = []
    catalogue = default_catalogue()
    for item in attached:
        v = item.value
        variables = [n for m in item.mentions for n in m.variables]
        if not variables or not no_comparator(v) or v.unknown_unit:
            continue
        if variables == ["age"] and (_AGE_AT_EVENT.search(text[:v.start].rstrip(" =")) or
                                     _SOMEONE_ELSE.search(clause_before(text, v.start))):
            continue
        if v.form == "bp":
            if set(variables) != {"systolic_bp", "diastolic_bp"}:
                continue
            pairs = list(zip(("systolic_bp", "diastolic_bp"), v.numbers, ("mmHg", "mmHg"), strict=False))
        elif set(variables) == {"systolic_bp", "diastolic_bp"}:
            continue  # one number for "blood pressure": which of the two it is, the text does not say
        elif v.uln:
            if any(f"{n}_uln" not in catalogue for n in variables) or len(v.numbers) != 1 \
                    or not 0.5 <= v.numbers[0] <= 50:
                continue
            here = [Threshold(n, UNSTATED, v.numbers[0], lexicon.ULN_UNIT, v.numbers[0], lexicon.ULN_UNIT)
                    for n in variables]
            found += here
            notes.append(_note(text, v, here))
            read.append(v)
            continue
        else:
            units = list(v.units) + [None] * (len(v.numbers) - len(v.units))
            pairs = [(n, number, unit) for n in variables for number, unit in zip(v.numbers, units, strict=False)]
        here = []
        for variable, number, unit in pairs:
            value, read_unit, _, problem = convert(variable, number, unit, v.numbers)
            if problem:
                notes.append(f"{text[v.start:v.end]!r}: a value without a comparator; {problem}; not read")
                here = []
                break
            here.append(Threshold(variable, UNSTATED, value, catalogue[variable].unit, number, read_unit))
        if here:
            found += here
            notes.append(_note(text, v, here))
            read.append(v)
    return found, notes, read


def _note(text: str, v: Value, thresholds: list[Threshold]) -> str:
    read = ", ".join(f"{t.variable} {t.value:g} {t.unit or ''}".rstrip() for t in thresholds)
    return (f"{text[v.start:v.end].strip()!r}: value read ({read}), comparator not stated; not made computable "
            "(a minimum, a maximum or the value itself?)")
