"""Step 3 of extraction: attach each value to the variable it follows and convert it to the catalogue unit.

A short, clean gap joins a value to its variable; a list ("bilirubin, ALT and AST") shares one value; a
restatement in other units in brackets is skipped; a limit in years that stands alone is an age; a
duration of something else ("1 year of amenorrhea") is attached to nothing. Unknown units and
implausible numbers are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from explorer.catalogue import default_catalogue
from explorer.registry import lexicon
from explorer.registry.model import Mention, Value
from explorer.registry.values import cmp_group, op_of

_AGE_TAIL = re.compile(r"^\s*(?:old|of\s+age|years?\s+old|or\s+older|and\s+older|of\s+age\s+or\s+older)", re.I)
TIME_UNITS = {"years", "months", "weeks", "days"}
_AGE_ALONE = re.compile(r"[\W\d_]*(?:(?:patients?|subjects?|participants?|persons?|people|individuals?|adults?|children|"
                        r"men|women|males?|females?|aged?|aging|volunteers?|healthy|and|or|of|be|must|are|is|were|was|who|"
                        r"between|from|years?|adolescents?|infants?|boys?|girls?|recipients?|donors?|either|both|sex(?:es)?|"
                        r"genders?)[\W\d_]*)*", re.I)
_AGE_ALONE_AFTER = re.compile(r"\s*(?:$|[.;,()]|at\s|on\s+the\s+day|when\b|old\b|(?:of\s+)?ages?\b|inclusive\b|(?:or|and)\b)",
                              re.I)
# "Children 2-5 years with ...", "Patients over 18 years weighing ...": after a noun for people, a limit in
# years followed by what describes them is their age (without such a noun, "5 years with diabetes" is a duration)
_PERSON = re.compile(r"\b(?:patients?|subjects?|participants?|persons?|people|individuals?|adults?|children|"
                     r"men|women|males?|females?|volunteers?|adolescents?|infants?|boys?|girls?)\b", re.I)
_PERSON_AFTER = re.compile(r"\s*(?:with|who|whose|undergoing|admitted|scheduled|presenting|weighing|having|"
                           r"requiring|referred|attending|hospitali[sz]ed|diagnosed)\b", re.I)
# "Asymptomatic women 45-68 years", "Pediatric patients (under 18 years)", "male patients with androgenetic alopecia
# between 18 years and 60 years": a clause led by a noun for people (after at most two describing words), then only
# words for people (rest empty) or a description with no number, comparator or word of time, is about the people,
# so a limit in years ending it is their age. After a description the limit must state its direction ("between",
# a comparator): "women with diabetes 5-10 years" may be the diabetes' duration.
_PEOPLE = (r"(?:patients?|subjects?|participants?|persons?|people|individuals?|adults?|children|men|women|males?|"
           r"females?|volunteers?|adolescents?|infants?|boys?|girls?)\b")
_PERSON_LED = re.compile(rf"[\W\d_]*(?:(?:[a-z][\w-]*)\s+){{0,2}}?{_PEOPLE}(?P<rest>.*)", re.I | re.S)
_DESCRIBED = re.compile(rf"(?:\s*{_PEOPLE})*[\s,(]*(?:with|who\s+(?:have|has|are|is)|having|undergoing|suffering\s+from)\s[^\d<>≤≥=;:]*", re.I)
_TIME_WORDS = re.compile(r"\b(?:recent\w*|last|past|previous\w*|ago|"
                         r"for|since|durations?|diagnos\w*|history|onset|known|lasting|during|within|after|before|"
                         r"prior|ago|treated|treatment|therapy|from|of|at|on|in)\W*$|\b(?:durations?|onset|since|history|"
                         r"diagnos\w*|years?|months?|weeks?|days?)\b", re.I)


def age_could_end(clause: str, text: str, v: Value) -> bool:
    """'Patients with type 2 diabetes between 18 and 75 years': a limit in years ending a clause about people may be
    their age (readings.duration_rules then leaves a duration reading of it unread)."""
    return ("years" in v.units and bool(_PERSON.search(clause)) and bool(_AGE_ALONE_AFTER.match(text[v.end:])))


def _person_led_age(clause: str, v: Value) -> bool:
    m = _PERSON_LED.fullmatch(clause)
    if m is None:
        return False
    rest = m.group("rest")
    if _AGE_ALONE.fullmatch(rest):
        return True
    # an open bracket after a description qualifies its last word: "with recent (less than 3 years) use of drugs"
    return (v.form in ("between", "cmp", "cmprange", "trail", "from") and bool(_DESCRIBED.fullmatch(rest))
            and not _TIME_WORDS.search(rest) and not re.search(r"[(\[][^)\]]*$", rest))


_AGE_WORDS = re.compile(r"\b(?:old|older|younger)\b", re.I)
# "Patients older than 70": only an age is older or younger than a bare number (its years implied), as in "Adults
# (18 and older)"
_OLDER_THAN = re.compile(r"(?:older|younger)\s+than\s", re.I)
# ... said of people, or of no one named ("Lesions older than 3" is the age of a thing)
_PEOPLE_BEFORE = re.compile(rf"\W*(?:(?:[\w-]+\s+){{0,3}}{_PEOPLE}\s*(?:(?:who|that)\s+(?:are|is)\s+|being\s+)?)?", re.I)
_AGE_OF = re.compile(r"\bage\s+(?:of\s+)?\d", re.I)
_DURATION_OF = re.compile(r"\s*(?:of|since|after|without|from|following|on)\s+(?!age\b)(?!the\s+age\b)"
                          r"(?!the\s+(?:day|date|time)\s+of\b)[a-z]", re.I)


# "Adults (>= 18)", "Adults over 18 and under 75", "Adults 18-70": a comparator (or a range) and whole numbers without unit,
# right after "adult(s)" (the word that says it is an age; at most a noun for people, "aged" or an opening bracket
# between), ending the clause or followed by what describes them, is their age in years. "Patients > 18" names no
# age ("Patients with > 2 ..."): not read.
_ADULTS_JUST_BEFORE = re.compile(r"\badults?(?:\s+(?:patients?|subjects?|participants?|volunteers?|men|women|males?|"
                                 r"females?|individuals?|persons?|people))?(?:\s+(?:aged?|of\s+age))?[\s(]*$", re.I)
_BARE_AGE_AFTER = re.compile(r"\s*(?:$|[.;,)]|(?:with|who|and|or|undergoing|diagnosed|having)\b)", re.I)


def _bare_age_after_adults(text: str, v: Value) -> Mention | None:
    """The mention "adults ... <value>" when the value is such an age, else None."""
    if v.form not in ("cmp", "cmprange", "between", "dash", "fromto") or any(v.units) or v.uln or v.unknown_unit \
            or "" in v.ops \
            or not all(float(n).is_integer() and 1 <= n <= 120 for n in v.numbers) \
            or not _BARE_AGE_AFTER.match(text[v.end:]):
        return None
    m = _ADULTS_JUST_BEFORE.search(text[max(0, v.start - 60):v.start])
    if m is None:
        return None
    start = max(0, v.start - 60) + m.start()
    return Mention(start, v.end, ("age",), text[start:v.end])


def clause_before(text: str, start: int) -> str:
    clause = re.split(r"[;.]\s|,\s(?=(?:and|or)\b)", text[:start])[-1]
    return clause[-60:]


# words between a variable and its value; "de" is French ("âgés de 18 à 65 ans", "HbA1c de 7 à 10 %")
_GAP_OK = re.compile(
    r"^[\s:,(\[\])=]*(?:(?:of|de|is|was|are|were|that|which|level|levels|value|values|concentrations?|count|measured|measurement|at|"
    r"screening|baseline|enrol(?:l)?ment|entry|inclusion|randomi[sz]ation|registration|in|the|a|an|range|"
    # the registry's own label: "Ages eligible for study: 18 years to 65 years", "Age limits: 18-65"
    r"eligible(?:\s+for\s+(?:the\s+)?study)?|limits?|result|results|by|central|laboratory|lab|local|than|be|should|must|"
    r"have|has|had|with|\(\w+\)|\w{2,6}\)|"
    # the method named in brackets: "Estimated GFR (CKD-EPI) >= 45", "CrCl (Cockcroft-Gault formula) < 50"
    r"\((?:CKD[- ]?EPI|MDRD|Cockcroft[- ]Gault|C-G|IFCC|NGSP|DCCT)(?:\s+(?:formula|equation))?\)|"
    # ... or written out: "eGFR by MDRD < 60", "eGFR calculated using the CKD-EPI equation of < 45"
    rf"{lexicon.KIDNEY_METHOD}|serum|plasma|blood|total|test|score|index|between|from|ratio|to\s+be|"
    r"ranging|ranged|averag(?:e|ing)|"
    r"elevated|elevation|increased|reduced|decreased|documented|most|recent|current|within|range|dl|mg|"
    r"and|or|(?:in|for)\s+(?:men|women|males?|females?)|(?:(?<=[:,;(])|(?<=[:,;(]\s))(?:men|women|males?|females?)\s*:?|"
    # "> 1.5 mg/dL (men) / > 1.4 mg/dL (women)": one limit per sex, the slash between them
    r"\(\s*(?:men|women|males?|females?)\s*\)\s*/)[\s:,(\[\])=]*){0,8}$", re.I)


# "(>= 1.5 mg/dL for men; >= 1.4 mg/dL for women)": a semicolon after one sex's limit parts it from the other's
_AFTER_ONE_SEX = re.compile(r"\s*(?:(?:in|for)\s+)?(?:men|women|males?|females?)\s*\)?\s*;\s*", re.I)


def _gap_clean(gap: str) -> bool:
    return len(gap) <= 70 and (";" not in gap or bool(_AFTER_ONE_SEX.fullmatch(gap))) \
        and not re.search(r"\.\s", gap) and bool(_GAP_OK.match(gap.replace(";", ",")))


_NO_LIMIT = re.compile(r"[<>≤≥=]|\d")  # a comparator or a number (a unit's exponent is taken out first)


def _defined_in_bracket(text: str, mentions: list[Mention], candidates: list[int], v: Value) -> int | None:
    """'Body Mass Index (BMI, weight in kg divided by height in m²) of 18 to 30': the name restated at the start
    of a bracket that defines it, the value after the bracket: the index of that name's mention. The bracket
    holds no comparator and no number (an exponent such as the 2 of "m^2)" aside), so no condition or limit
    of its own is skipped; other names inside it ("weight") are part of the definition."""
    for i in reversed(candidates):
        mention = mentions[i]
        if "(" in mention.text and ")" not in mention.text[mention.text.index("("):]:
            opening = mention.start + mention.text.index("(")   # "Body mass index (BMI"
        else:
            opening = text.rfind("(", 0, mention.start)
            if opening < 0 or text[opening + 1:mention.start].strip() or i == 0 \
                    or mentions[i - 1].variables != mention.variables or text[mentions[i - 1].end:opening].strip():
                continue
        depth = 0
        for k in range(opening, v.start):
            depth += 1 if text[k] in "([" else -1 if text[k] in ")]" else 0
            if depth == 0:
                inside, rest = text[opening + 1:k], text[k + 1:v.start]
                if len(inside) <= 90 and not _NO_LIMIT.search(re.sub(r"\^\s*2|(?<=m)\s*2\b|²", "", inside)) \
                        and _gap_clean(rest) and all(m.end <= k for m in mentions[i:] if m.start < v.start):
                    return i
                return None
        return None
    return None


def _list_before(text: str, mentions: list[Mention], index: int) -> list[Mention]:
    """'total bilirubin, ALT, and AST' -> the mentions joined by commas/and/or ending at mentions[index]."""
    out = [mentions[index]]
    j = index - 1
    while j >= 0:
        between = text[mentions[j].end:out[0].start]
        if re.fullmatch(r"\s*(?:\([^()]{0,12}\))?\s*(?:,|,?\s*and\s*/\s*or|,?\s*and|,?\s*or|/)\s*", between):
            out.insert(0, mentions[j])
            j -= 1
        else:
            break
    return out


@dataclass
class Attached:
    value: Value
    mentions: list[Mention]


def attach(text: str, mentions: list[Mention], values: list[Value]) -> tuple[list[Attached], list[str]]:
    notes: list[str] = []
    attached: list[Attached] = []
    for v in values:
        lone = v.form == "bare" and not any(v.units) and not v.uln  # "2 hour", "Visit 1": no threshold alone
        # a value in parentheses right after another value restates it in other units: "126 mg/dl (7.0 mmol/l)"
        prev = attached[-1] if attached else None
        if prev and re.fullmatch(r"\s*[(\[]\s*", text[prev.value.end:v.start]):
            continue
        named_after = _name_after(text, mentions, v)
        if named_after is not None:
            # ">140 mm Hg systolic or >90 mm Hg diastolic": the name follows its value
            attached.append(Attached(v, [named_after]))
            continue
        candidates = [i for i, m in enumerate(mentions) if m.end <= v.start]
        after_age = bool(candidates) and mentions[candidates[-1]].variables == ("age",) and \
            _gap_clean(text[mentions[candidates[-1]].end:v.start])
        if set(v.units) & TIME_UNITS and _DURATION_OF.match(text[v.end:]) and not after_age:
            continue  # "1 year of amenorrhea", "2 years since transplant": the duration of something else
        chosen = None
        for i in ([] if lone else reversed(candidates)):
            gap = text[mentions[i].end:v.start]
            # values already attached to this mention may sit in between ("BMI <22 or >43")
            if prev and prev.mentions and prev.mentions[-1] is mentions[i] and prev.value.end <= v.start:
                gap = text[prev.value.end:v.start]
            if _gap_clean(gap):
                chosen = i
            break
        if chosen is None and not lone:
            chosen = _defined_in_bracket(text, mentions, candidates, v)
        if chosen is None:
            # "19 <= BMI" / "7.0% <= HbA1c": a value before the variable with a comparator between
            after = [m for m in mentions if m.start >= v.end and m.start - v.end <= 4]
            if after and v.form == "bare":
                between = text[v.end:after[0].start]
                cmp_m = re.match(rf"\s*{cmp_group('c')}\s*$", between, re.I)
                if cmp_m:
                    flipped = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}[op_of(cmp_m.group("c"))]
                    v2 = Value(v.start, after[0].end, "cmp", (flipped,), v.numbers, v.units, v.uln, v.unknown_unit)
                    attached.append(Attached(v2, [after[0]]))
                    continue
            if lone:
                continue
            if v.form in {"trail", "cmp"} and not any(v.units) and not v.uln and not v.unknown_unit \
                    and (v.form == "trail" or _OLDER_THAN.match(text, v.start)
                         and _PEOPLE_BEFORE.fullmatch(clause_before(text, v.start))) \
                    and _AGE_WORDS.search(text[v.start:v.end]) \
                    and not re.search(r"onset|diagnos|since|duration|for\s*$", text[max(0, v.start - 40):v.start], re.I):
                # "Adults (18 and older)": only an age is older or younger; its years are implied
                attached.append(Attached(v, [Mention(v.start, v.end, ("age",), "age")]))
                continue
            adults = _bare_age_after_adults(text, v)
            if adults is not None:
                # "Adults (>= 18)", "Adults over 18": a bare limit on the adults themselves
                attached.append(Attached(v, [adults]))
                continue
            clause = clause_before(text, v.start)
            if v.form == "ages" or ("years" in v.units and v.ops != ("",)
                                    and (_AGE_ALONE.fullmatch(clause) or _person_led_age(clause, v))
                                    and (_AGE_ALONE_AFTER.match(text[v.end:])
                                         or (_PERSON.search(clause) and _PERSON_AFTER.match(text[v.end:])))
                                    and not _one_sex(clause, text)):
                # "Over 18 years.", "30-60 years": a limit in years that stands alone is an age
                attached.append(Attached(v, [Mention(v.start, v.end, ("age",), "age")]))
                continue
            # "older than 30 days" after a surgery is recency, not age: other time units need "of age"/"old"
            if (set(v.units) & TIME_UNITS and (_AGE_TAIL.match(text[v.end:])
                                               or ("years" in v.units and _AGE_WORDS.search(text[v.start:v.end])))
                    or (not set(v.units) - TIME_UNITS - {None} and v.ops != ("",)
                        and _AGE_OF.search(text[v.start:v.end]))):
                # "3 months of age", "18 years old or more", "over the age of 80"
                before = text[max(0, v.start - 40):v.start].lower()
                opening = text.rfind("(", 0, v.start)
                if opening >= 0 and ")" not in text[opening:v.start] and \
                        not _PERSON.search(text[max(0, opening - 30):opening]):
                    continue  # "a vascular access (at least 1 month old)": the age of a thing, not of the person
                if not re.search(r"onset|diagnos|since|duration|for\s*$", before):
                    attached.append(Attached(v, [Mention(v.start, v.end, ("age",), "age")]))
            continue
        shared = _list_before(text, mentions, chosen)
        attached.append(Attached(v, shared))
    attached = _share_age_unit(text, values, attached)
    attached = _share_unit(text, attached)
    # a value before a bare comparator chain: "19≤BMI≤30" -> the two halves become one range
    merged: list[Attached] = []
    for a in attached:
        last = merged[-1] if merged else None
        if (last and last.mentions == a.mentions and len(last.value.ops) == 1 and len(a.value.ops) == 1
                and last.value.ops[0] in ("<=", "<") and a.value.ops[0] in (">=", ">", "<=", "<")
                and last.value.end >= a.mentions[0].end and a.value.start >= last.value.end
                and text[last.value.start:last.value.end].endswith(a.mentions[0].text)):
            v1, v2 = last.value, a.value
            merged[-1] = Attached(Value(v1.start, v2.end, "chain", (_reverse(v1.ops[0]), v2.ops[0]),
                                         (v1.numbers[0], v2.numbers[0]), (v1.units[0] if v1.units else None,
                                                                          v2.units[0] if v2.units else None),
                                         v1.uln or v2.uln), a.mentions)
            continue
        merged.append(a)
    return merged, notes


_NAME_ENDS = re.compile(r"\s*(?:$|[,;.)\]]|(?:or|and|based|on|at|in|measured|during|while|when)\b)", re.I)


def _name_after(text: str, mentions: list[Mention], v: Value) -> Mention | None:
    """The variable named right after a value with its unit, when nothing else follows that name: "90 mm Hg
    diastolic". A name followed by a value of its own ("7% fasting glucose > 10") is that value's."""
    if not any(v.units) or set(v.units) & TIME_UNITS:
        return None
    following = next((m for m in mentions if m.start >= v.end), None)
    if following is None or not following.variables or not re.fullmatch(r"[ \t]{1,3}", text[v.end:following.start]):
        return None
    return following if _NAME_ENDS.match(text[following.end:]) else None


def _sexes(text: str) -> tuple[bool, bool]:
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    return bool(words & lexicon.MALE_WORDS), bool(words & lexicon.FEMALE_WORDS)


_BOTH_SEXES = re.compile(r"\b(?:males?|men|boys)\s*,?\s*(?:or|and|and/or|&)\s*(?:females?|women|girls)\b|"
                         r"\b(?:females?|women|girls)\s*,?\s*(?:or|and|and/or|&)\s*(?:males?|men|boys)\b", re.I)


def _one_sex(clause: str, text: str) -> bool:
    """'Male, 35-80 years; female, ...': an age limit stated for one sex is not everyone's age limit.

    When the whole criterion is about that one sex ("Men between 45 and 80 years"), the limit is the age
    limit of everyone the criterion speaks of: an exclusion reads it with the sex (readings.subject_sex).
    """
    male, female = _sexes(clause)
    if male == female or _BOTH_SEXES.search(text):
        return False  # "Male, or female, 19 years to 75 years": the clause split the pair, the limit is everyone's
    return not (lexicon.SUBJECT_SEX.match(text) and _sexes(text) == (male, female))


def _share_age_unit(text: str, values: list[Value], attached: list[Attached]) -> list[Attached]:
    """'under 18 or over 50 years of age': a bound without unit joined by or/and to an age bound shares its
    unit; the two become one value, so the text's own connector between them is kept."""
    taken = {id(a.value) for a in attached}
    out = list(attached)
    for v, following in zip(values, values[1:], strict=False):
        if id(v) in taken or any(v.units) or v.uln or len(v.ops) != 1 or v.ops == ("",):
            continue
        partner = next((a for a in out if a.value is following and a.mentions[0].variables == ("age",)), None)
        if partner is None or len(following.ops) != 1 or \
                not re.fullmatch(r"\s*,?\s*(?:or|and)\s*", text[v.end:following.start], re.I):
            continue
        unit = next(u for u in following.units if u)
        joined = Value(v.start, following.end, "cmprange", v.ops + following.ops, v.numbers + following.numbers,
                       (unit, unit), False)
        out[out.index(partner)] = Attached(joined, partner.mentions)
    return out


def _share_unit(text: str, attached: list[Attached]) -> list[Attached]:
    """'Body weight <50 or >120 kg': a bound without unit, joined by or/and to the next bound of the same mention
    that has one, shares that unit (each keeps its own comparator). Without it the first bound was not read and an
    exclusion lost it silently (draw 20261402 #16)."""
    out = list(attached)
    for i, (a, b) in enumerate(zip(attached, attached[1:], strict=False)):
        if any(a.value.units) or a.value.uln or a.value.unknown_unit or len(a.value.ops) != 1 or a.value.ops == ("",) \
                or len(b.value.units) != 1 or not b.value.units[0] or len(b.value.ops) != 1 or b.value.ops == ("",) \
                or a.mentions != b.mentions or not a.mentions[0].variables or a.mentions[0].variables == ("age",) \
                or not re.fullmatch(r"\s*,?\s*(?:or|and)\s*", text[a.value.end:b.value.start], re.I):
            continue
        v = a.value
        out[i] = Attached(Value(v.start, v.end, v.form, v.ops, v.numbers, b.value.units, v.uln), a.mentions)
    return out


def _reverse(op: str) -> str:
    return {">=": "<=", "<=": ">=", ">": "<", "<": ">"}[op]


def convert(variable: str, number: float, unit: str | None, value_numbers: tuple[float, ...]
             ) -> tuple[float | None, str | None, float, str]:
    """(value in catalogue unit, the unit read, confidence, problem)."""
    catalogue = default_catalogue()
    var = catalogue.get(variable)
    target = var.unit if var else None
    confidence = 0.95
    if unit is None:
        for low, high, default, conf in lexicon.DEFAULT_UNITS.get(variable, []):
            if all(low <= n <= high for n in value_numbers):
                unit, confidence = default, conf
                break
        else:
            return None, None, 0.0, f"no unit given for {variable} and none can be assumed"
    table = lexicon.CONVERSIONS.get(variable, {})
    if unit not in table:
        return None, unit, 0.0, f"unit {unit} is not one {variable} can be converted from (catalogue unit {target})"
    factor = table[unit]
    value = factor(number) if callable(factor) else number * factor
    value = round(value, lexicon.DECIMALS.get(variable, 2))
    if var and var.range and not (var.range[0] <= value <= var.range[1]):
        return None, unit, 0.0, (f"{number:g} {unit} is {value:g} {target}, outside the plausible range "
                                 f"{var.range[0]:g}-{var.range[1]:g} {target} of {variable}")
    if variable == "egfr" and unit == "mL/min":
        confidence = min(confidence, 0.75)
    return value, unit, confidence, ""
