"""A value restated in another unit, in brackets right after it: "HbA1c ≥ 7.5% (58 mmol/mol)", "fasting glucose
≥ 7.0 mmol/L (126 mg/dL)", "HbA1c 7.5-10.0% (58-86 mmol/mol)".

Diabetes trials write HbA1c in both NGSP % and IFCC mmol/mol, and glucose or creatinine in both mass and molar units.
The bracket says nothing more than the value before it when both convert to the same catalogue value: then it is
read with that value (the rule's limit stays the value written first). When they differ (a typo, or another limit
for some people) nothing is decided here: the bracket stays a part left out and named, as before.
"""

from __future__ import annotations

import re

from explorer.registry import lexicon
from explorer.registry.model import Mention, Value

# how far two conversions of one limit may differ and still be the same limit: rounding of the restated value to
# two or three significant digits ("1.5 mg/dL (133 µmol/L)" is 132.6; "7.5% (58 mmol/mol)" is 7.46)
TOLERANCE = 0.02
_OPEN = re.compile(r"\s*[(\[]\s*")
# the bracket closes right after the restated value, at most with the name of its scale ("(58 mmol/mol IFCC)")
_CLOSE = re.compile(r"\s*(?:IFCC|NGSP|DCCT|SI)?\s*[)\]]")


def _units(v: Value) -> tuple[str | None, ...]:
    """The unit of each number: a range writes it once ("7.5-10%"), for both bounds."""
    shared = next((u for u in v.units if u), None)
    return tuple(u or shared for u in (v.units + (None,) * len(v.numbers))[:len(v.numbers)])


def _in_catalogue_unit(variable: str, number: float, unit: str | None) -> float | None:
    factor = lexicon.CONVERSIONS.get(variable, {}).get(unit) if unit else None
    if factor is None:
        return None
    return factor(number) if callable(factor) else number * factor


def _same_limit(variable: str, first: Value, restated: Value) -> bool:
    units_first, units_restated = _units(first), _units(restated)
    if len(first.numbers) != len(restated.numbers) or None in units_first + units_restated:
        return False
    if set(units_first) & set(units_restated):
        return False  # the same unit twice is another limit, never a restatement
    if restated.ops not in {("",), first.ops}:
        return False  # "(≥ 53 mmol/mol)" restates "≥ 7.0%"; "(< 53 mmol/mol)" does not
    for a, ua, b, ub in zip(first.numbers, units_first, restated.numbers, units_restated, strict=True):
        x, y = _in_catalogue_unit(variable, a, ua), _in_catalogue_unit(variable, b, ub)
        if x is None or y is None or abs(x - y) > TOLERANCE * max(abs(x), abs(y)):
            return False
    return True


def restatements(text: str, mentions: list[Mention], values: list[Value]) -> list[tuple[int, int]]:
    """Spans (bracket included) of values that restate the value right before them in another unit."""
    spans: list[tuple[int, int]] = []
    for first, restated in zip(values, values[1:], strict=False):
        opening = _OPEN.fullmatch(text[first.end:restated.start])
        closing = _CLOSE.match(text, restated.end)
        if not opening or not closing or first.uln or restated.uln:
            continue
        named = [m for m in mentions if m.end <= first.start and m.variables]
        if not named:
            continue
        if any(_same_limit(variable, first, restated) for variable in named[-1].variables):
            start = first.end + text[first.end:restated.start].index(text[first.end:restated.start].strip()[0])
            spans.append((start, closing.end()))
    return spans


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with the spans replaced by spaces: every offset stays the text's."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)
