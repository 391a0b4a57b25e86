"""Values read whose text leaves out what a rule needs: reported as read, never made computable.

"Age 18 years", "65 years old", "LFT 3X upper limit of normal", "systolic 180 mm Hg" and the flattened
"Age = 18 years" of some corpora name a variable and a value but not whether the limit is a minimum, a
maximum or the value itself. Guessing the direction would put a rule in the trial that its text does not
hold, so the reading keeps the comparator empty: the import report names the value ("value read,
comparator not stated"), and `readings.numeric_rules` builds no rule from it (`no_comparator`).

"Blood glucose > 200 mg/dL" states its comparator but not whether the glucose is fasting, after a meal or
random, three catalogue variables with different cut-offs: it is read as `glucose` (no catalogue variable)
and named the same way, never made one of the three.
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
# a glucose whose timing the text does not state ("serum glucose", "blood glucose level"); a timing, a test or another
# fluid written just before it makes it something else ("glucose of 140 mg/dL or greater after OGTT" is read no more)
_GLUCOSE = re.compile(r"(?:blood\s+|plasma\s+|serum\s+)?glucose", re.I)
_GLUCOSE_TIMED = re.compile(r"fast|random|casual|post|after|hours?\b|\bh\b|\d\s*-?\s*h|ogtt|tolerance|urine|urinary|"
                            r"csf|cerebrospinal|pleural|ascit|sensor|cgm|mean", re.I)
UNTIMED_GLUCOSE = "glucose"  # the variable of such a reading: none of the catalogue's three glucoses
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
        if v.unknown_unit:
            continue
        if not variables:
            here, note = _untimed_glucose(text, item)
            if note:
                notes.append(note)
            if here:
                found += here
                read.append(v)
            continue
        if not no_comparator(v):
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


def _untimed_glucose(text: str, item: Attached) -> tuple[list[Threshold], str]:
    """A value of a glucose whose timing is not stated, in mmol/L, comparators as written ("" if none)."""
    v = item.value
    mention = item.mentions[-1]
    # the unit must be written: a bare number after "glucose" is as often a count ("monitor blood glucose >4/day")
    if len(item.mentions) != 1 or not _GLUCOSE.fullmatch(mention.text.strip()) or v.uln or not any(v.units) \
            or _GLUCOSE_TIMED.search(text[max(0, mention.start - 30):mention.start]) \
            or _GLUCOSE_TIMED.search(text[mention.end:v.start]) \
            or _GLUCOSE_TIMED.match(text[v.end:v.end + 25].lstrip(" ,(")):
        return [], ""
    ops = v.ops if len(v.ops) == len(v.numbers) else (UNSTATED,) * len(v.numbers)
    units = list(v.units) + [None] * (len(v.numbers) - len(v.units))
    here = []
    for op, number, unit in zip(ops, v.numbers, units, strict=False):
        # the three glucoses share units, conversion and plausible range: any of them converts the value
        value, read_unit, _, problem = convert("random_glucose", number, unit or next(filter(None, units)), v.numbers)
        if problem:
            return [], ""
        here.append(Threshold(UNTIMED_GLUCOSE, op, value, "mmol/L", number, read_unit))
    read = ", ".join(f"glucose {t.comparator} {t.value:g} mmol/L".replace("  ", " ") for t in here)
    return here, (f"{text[mention.start:v.end].strip()!r}: value read ({read}), not said whether fasting, after a "
                  "meal or random; not made computable")
