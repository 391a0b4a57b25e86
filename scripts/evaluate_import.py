"""Measure registry import quality on any set of records.

    .venv/bin/python scripts/evaluate_import.py ../shared/data/ctgov/legacy_xml \
        --gold tests/fixtures/registry/gold_thresholds.yaml

Per record: criteria found in the text, criteria made computable, and whether the age limits read from the
text match the registry's structured fields. With a hand-labelled gold file (records: {NCT id: [{variable,
comparator, value, unit}]}), precision and recall of numeric thresholds: an extracted threshold is right when
variable, comparator, value (within 1%) and unit all match a gold one. Two levels are scored: every threshold
the importer read (also readings it judged too uncertain to make computable), and only those in computable
expressions. Writes JSON and a markdown table (default: benchmarks/results/import_quality.legacy_xml.{json,md};
benchmarks/results/import_quality.md is the hand-written summary of both measurements and is never overwritten).

    .venv/bin/python scripts/evaluate_import.py --chia ../shared/data/ctgov/chia_dev_non_diabetes.zip \
        --out benchmarks/results/import_quality.chia.json --sample 50

With --chia, the brat-annotated Chia corpus is read instead (see the section "Chia gold" below): recall and
precision per variable family, for every reading and for readings inside computable expressions, and
(--sample N) a seeded random sample of computable criteria to hand-check against their text.
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from explorer.errors import ExplorerError
from explorer.registry import extract, import_trials, split_criteria

ROOT = Path(__file__).resolve().parents[1]

SUFFIXES = {".xml", ".json", ".txt", ".md"}


def collect(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for pattern in paths:
        matches = [Path(p) for p in glob.glob(pattern)] or [Path(pattern)]
        for path in matches:
            if path.is_dir():
                files += sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
            elif path.is_file():
                files.append(path)
    return sorted(dict.fromkeys(files))


def thresholds(report, *, computable_only: bool) -> list[dict]:
    out = []
    for c in report.text_criteria:
        if computable_only and not (c.computable or c.status == "covered"):
            continue
        for rule in c.rules:
            for t in rule.thresholds:
                if t.variable.startswith("count("):
                    continue  # event counts are scored elsewhere; the gold holds levels
                out.append({"criterion": c.id, "variable": t.variable, "comparator": t.comparator,
                            "value": t.value, "unit": t.unit, "source": rule.source})
    return out


def _same(a: dict, b: dict) -> bool:
    va, vb = float(a["value"]), float(b["value"])
    return (a["variable"] == b["variable"] and a["comparator"] == b["comparator"] and str(a["unit"]) == str(b["unit"])
            and abs(va - vb) <= max(0.01 * abs(vb), 0.011))


def score(extracted: list[dict], gold: list[dict]) -> dict:
    unmatched_gold = list(gold)
    right, wrong = 0, []
    for item in extracted:
        hit = next((g for g in unmatched_gold if _same(item, g)), None)
        if hit is None:
            wrong.append(item)
        else:
            right += 1
            unmatched_gold.remove(hit)
    return {"extracted": len(extracted), "right": right, "gold": len(gold), "wrong": wrong,
            "missed": unmatched_gold}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def evaluate(files: list[Path], gold: dict | None) -> dict:
    rows, totals = [], {"read": [0, 0, 0], "computable": [0, 0, 0]}  # right, extracted, gold
    details = {}
    for path in files:
        try:
            results = import_trials(path)
        except ExplorerError as err:
            rows.append({"record": path.name, "error": str(err)})
            continue
        for trial, report in results:
            s = report.summary()
            row = {"record": trial.id, "file": path.name, "criteria_found": s["criteria_found"],
                   "computable": s["computable"], "age_fields": _limits(report.age.structured_min,
                                                                         report.age.structured_max),
                   "age_text": _limits(report.age.text_min, report.age.text_max),
                   "age_match": report.age.matches}
            if gold is not None and trial.id in gold:
                for level in ("read", "computable"):
                    result = score(thresholds(report, computable_only=level == "computable"), gold[trial.id])
                    totals[level][0] += result["right"]
                    totals[level][1] += result["extracted"]
                    totals[level][2] += result["gold"]
                    row[f"{level}_right"] = f"{result['right']}/{result['extracted']} (gold {result['gold']})"
                    details.setdefault(trial.id, {})[level] = {"wrong": result["wrong"], "missed": result["missed"]}
            rows.append(row)
    summary = {
        "records": len([r for r in rows if "error" not in r]), "errors": len([r for r in rows if "error" in r]),
        "criteria_found": sum(r.get("criteria_found", 0) for r in rows),
        "computable": sum(r.get("computable", 0) for r in rows),
        "age_checked": sum(1 for r in rows if r.get("age_match") is not None),
        "age_matched": sum(1 for r in rows if r.get("age_match") is True),
    }
    if gold is not None:
        for level, (right, extracted, gold_n) in totals.items():
            summary[f"threshold_precision_{level}"] = _ratio(right, extracted)
            summary[f"threshold_recall_{level}"] = _ratio(right, gold_n)
            summary[f"thresholds_{level}"] = {"right": right, "extracted": extracted, "gold": gold_n}
    return {"summary": summary, "records": rows, "threshold_details": details}


def _limits(low, high) -> str:
    if low is None and high is None:
        return "-"
    return f"{'' if low is None else f'{low:g}'}-{'' if high is None else f'{high:g}'}"


def markdown(result: dict) -> str:
    s = result["summary"]
    lines = ["# Registry import quality", "",
             f"{s['records']} records, {s['criteria_found']} criteria found, {s['computable']} made computable; "
             f"age limits checked on {s['age_checked']} records, matching on {s['age_matched']}.", ""]
    if "threshold_precision_read" in s:
        for level in ("read", "computable"):
            t = s[f"thresholds_{level}"]
            lines.append(f"- thresholds {level}: precision {s[f'threshold_precision_{level}']} "
                         f"({t['right']}/{t['extracted']}), recall {s[f'threshold_recall_{level}']} "
                         f"({t['right']}/{t['gold']})")
        lines.append("")
    cols = ["record", "criteria_found", "computable", "age_fields", "age_text", "age_match", "read_right",
            "computable_right"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in result["records"]:
        if "error" in row:
            lines.append(f"| {row['record']} | error: {row['error']} |")
            continue
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    return "\n".join(lines) + "\n"


# --- Chia gold -------------------------------------------------------------------------------------------

# family -> pattern the annotated entity text must match (case-insensitive); written apart from the
# importer's lexicon on purpose, so the measurement does not grade the lexicon against itself
FAMILY_TERMS: dict[str, str] = {
    # a gestational or bone age is not the person's age (the lookbehinds: "Gestational age", "bone age reading")
    "age": r"^(?:age[sd]?|old|years?(?:\s+old)?|adults?|children|child|patients?\s+aged?)$"
           r"|(?<!gestational\s)(?<!bone\s)\bage\b(?!.*gestation)",
    "hba1c": r"hb\s?a1c|\ba1c\b|glyc\w*\s+h\w*globin|hemoglobin\s+a1c",
    "glucose": r"glucose|\bfpg\b|\bfbg\b|\bfbs\b|blood\s+sugar|glyc(?:a)?emia",
    "bmi": r"\bbmi\b|body\s+mass\s+index",
    "blood pressure": r"blood\s+pressure|\b[sd]?bp\b|systolic|diastolic|hypertension|hypotension",
    # "Serum Cr" (capital C, small r: never "CR", a complete response, nor "CrCl")
    "kidney": r"creatinine(?!\s+clearance)|\begfr\b|\bgfr\b|glomerular\s+filtration|(?-i:\bCr\b)(?!\s*Cl)",
    "liver x ULN": r"\balt\b|\bast\b|sgpt|sgot|transaminase|aminotransferase|bilirubin|liver\s+(?:enzymes|function)"
                   r"|\blfts?\b|hepatic\s+(?:enzymes|function)|(?-i:\bG[OP]T\b)|\bA[SL]AT\b",
    "C-peptide": r"\bc[- ]?peptide",  # not the "...c peptide" of "natriuretic peptide"
    "diabetes duration": r"diabet|\bt[12]dm?\b",
    "pregnancy": r"pregnan|lactat|breast[- ]?feed|nursing",
}
# the catalogue variables each family stands for, on the importer's side
FAMILY_VARIABLES: dict[str, set[str]] = {
    "age": {"age"}, "hba1c": {"hba1c"},
    # "glucose": a glucose whose timing the text does not state, read but never computable (registry/unstated.py)
    "glucose": {"fasting_glucose", "postmeal_glucose", "random_glucose", "glucose"},
    "bmi": {"bmi"}, "blood pressure": {"systolic_bp", "diastolic_bp"}, "kidney": {"egfr", "creatinine"},
    "liver x ULN": {"alt", "ast", "bilirubin"}, "C-peptide": {"fasting_cpeptide", "postmeal_cpeptide"},
    "diabetes duration": {"diabetes_duration"}, "pregnancy": {"pregnant", "lactating"},
}
_ULN = re.compile(r"\buln\b|\bunl\b|upper\s+(?:limit|normal)|normal\s+(?:upper|range)|\bx\s*n\b|times?\s+normal"
                  r"|(?:x|×)\s*normal", re.I)
# numbers as digits or as words ("between one and 24 months"); "twice"/"three times" only where no digit is written
_NUMBER = re.compile(r"(?<![\d.])\d+(?:[.,]\d+)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
                     r"\b(?!\s+times)", re.I)
_SPELLED = {w: float(i) for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                                "nine", "ten", "eleven", "twelve"])}
_WORD_NUMBERS = {"twice": 2.0, "double": 2.0, "three times": 3.0, "two times": 2.0, "triple": 3.0, "thrice": 3.0}
# a Person entity holding a time ("women older than 35 years", "years or older", "45y"): the value is an age
_TIME = re.compile(r"\b(?:years?|yrs?|months?|weeks?|old|older|younger|aged?|ages)\b|\d\s*y\b", re.I)
_SEX = re.compile(r"^(?:men|women|males?|females?|boys?|girls?)$", re.I)
_PREGNANCY_WORDS = re.compile(r"\bpregnan\w*|\blactat\w*|\bbreast[- ]?feed\w*|\bnursing\b", re.I)
# numbers that belong to a unit, not to a threshold: "mL/min/1.73 m2", "x 10^9/L", the square of "kg/m^2", "kg.m-2",
# "kg m⁻²" (round 13: they were counted as gold thresholds of 2, which no reading can match)
# (a power of ten needs its caret or its "x": "100 mmHg" is a hundred, not 10^0)
_UNIT_NUMBERS = re.compile(r"1[.,]73\s*m(?:2|²|\^2)?|(?:[x×*]\s*)10\s*\^?\s*\d+|10\s*\^\s*\d+|10\s*[eE]\d+|m2\b|m²|"
                           r"(?<=[a-zA-Z])\s*\^\s*-?\s*2\b|(?<=m)\s*[-−⁻]\s*[2²]\b|m⁻²", re.I)


@dataclass(frozen=True)
class GoldItem:
    line: int
    family: str
    number: float | None     # None for a family scored per line (pregnancy)
    text: str
    # pregnancy, scored per line: whether some pregnancy word of the line names a current pregnancy or lactation
    # (names_current_pregnancy); "Pregnant or planning a pregnancy" does, "Desire to become pregnant" does not
    current: bool = True
    before: str = ""         # the line's words right before the annotated value ("> " of "> 18 years old")
    entity: str = ""         # the annotated entity the value hangs on ("age", "systolic")


@dataclass(frozen=True)
class ChiaLine:
    trial: str
    kind: str                # inclusion | exclusion
    index: int               # line number in the file
    text: str
    gold: tuple[GoldItem, ...]
    # where the gold itself is silent, for sorting "false positives" (never used to count a reading right):
    unlinked: tuple[float, ...] = ()   # numbers of annotated Values that no Has_value joins to anything
    pregnancy_unannotated: bool = False  # the line names pregnancy or lactation and no entity covers the word


def numbers_of(value_text: str) -> list[float]:
    """The threshold numbers of an annotated Value ("= 18 years" -> [18], "8,5 %" -> [8.5])."""
    text = _UNIT_NUMBERS.sub(" ", value_text)
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group(0)
        if raw.lower() in _SPELLED:
            out.append(_SPELLED[raw.lower()])
            continue
        # a comma followed by one or two digits is a decimal comma; three digits group thousands
        raw = raw.replace(",", ".") if re.fullmatch(r"\d+,\d{1,2}", raw) else raw.replace(",", "")
        out.append(float(raw))
    if not out:
        out = [v for w, v in _WORD_NUMBERS.items() if w in value_text.lower()]
    return out


def family_of(entity_text: str) -> str | None:
    for family, pattern in FAMILY_TERMS.items():
        if family != "pregnancy" and re.search(pattern, entity_text, re.I):
            return family
    return None


def _parse_ann(ann: str) -> tuple[dict[str, tuple[str, int, int, str]], list[tuple[str, str, str]]]:
    entities, relations = {}, []
    for row in ann.splitlines():
        parts = row.split("\t")
        if row.startswith("T") and len(parts) >= 3:
            head = parts[1].split(" ")
            # discontinuous spans "12 15;20 25": first start, last end
            start, end = int(head[1]), int(head[-1])
            entities[parts[0]] = (head[0], start, end, parts[2])
        elif row.startswith("R") and len(parts) >= 2:
            rel, a1, a2 = parts[1].split(" ")[:3]
            relations.append((rel, a1.split(":", 1)[1], a2.split(":", 1)[1]))
    return entities, relations


def read_file_pair(trial: str, kind: str, text: str, ann: str) -> list[ChiaLine]:
    lines = text.split("\n")
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1

    def line_of(offset: int) -> int:
        i = 0
        while i + 1 < len(starts) and starts[i + 1] <= offset:
            i += 1
        return i

    entities, relations = _parse_ann(ann)
    gold: dict[int, list[GoldItem]] = {}
    for rel, a1, a2 in relations:
        if rel != "Has_value" or a1 not in entities or a2 not in entities:
            continue
        etype, start, _, etext = entities[a1]
        vtype, vstart, vend, vtext = entities[a2]
        if etype not in {"Measurement", "Person", "Condition", "Observation"} or vtype != "Value":
            continue
        family = family_of(etext)
        if family is None and etype == "Person":
            # Chia hangs ages on whatever Person it marked ("women older than 35 years", "18 years or older"), and
            # a per-sex limit on the sex ("creatinine > 2.5 mg/dL in men"): the family is the age, or the
            # measurement named before the value on the same line
            if _TIME.search(vtext) or _TIME.search(etext):
                family = "age"
            elif _SEX.match(etext.strip()):
                family = _measurement_before(entities, line_of, vstart)
        if family is None or family == "diabetes duration":
            continue
        after = text[vend:vend + 40].split("\n")[0]  # "ULN" on the next criterion line is not this value's
        if family == "liver x ULN" and not (_ULN.search(vtext) or _ULN.search(after[:25])):
            continue  # absolute liver values are not this family
        line = line_of(start)
        for number in numbers_of(vtext):
            if any(g.family == family and g.number == number for g in gold.get(line, [])):
                continue  # "AST or ALT > 3 x ULN": one value in the text, however many entities share it
            gold.setdefault(line, []).append(GoldItem(line, family, number, f"{etext} {vtext}",
                                                      before=text[max(starts[line], vstart - 20):vstart],
                                                      entity=etext.strip().lower()))
    for rel, a1, a2 in relations:  # "diabetes for more than 5 years": the duration hangs on the condition
        if rel == "Has_temporal" and a1 in entities and a2 in entities:
            etype, start, _, etext = entities[a1]
            if etype == "Condition" and re.search(FAMILY_TERMS["diabetes duration"], etext, re.I):
                line = line_of(start)
                for number in numbers_of(entities[a2][3]):
                    gold.setdefault(line, []).append(GoldItem(line, "diabetes duration", number,
                                                              f"{etext} {entities[a2][3]}"))
    pregnancy_words: dict[int, list[tuple[str, bool]]] = {}
    for etype, start, end, etext in entities.values():
        if etype != "Negation" and re.search(FAMILY_TERMS["pregnancy"], etext, re.I):
            line = line_of(start)
            pregnancy_words.setdefault(line, []).append(
                (etext, names_current_pregnancy(lines[line], start - starts[line], end - starts[line])))
    for line, words in pregnancy_words.items():
        gold.setdefault(line, []).append(GoldItem(line, "pregnancy", None, words[0][0],
                                                  current=any(current for _, current in words)))
    targets = {a2 for rel, _, a2 in relations if rel == "Has_value"}
    unlinked: dict[int, list[float]] = {}
    for key, (etype, start, _, etext) in entities.items():
        if etype == "Value" and key not in targets:
            unlinked.setdefault(line_of(start), []).extend(numbers_of(etext))
    covered = [(s, e) for _, s, e, _ in entities.values()]
    silent_pregnancy = {line_of(m.start()) for m in _PREGNANCY_WORDS.finditer(text)
                        if not any(s <= m.start() < e for s, e in covered)}
    return [ChiaLine(trial, kind, i, line, tuple(gold.get(i, ())), tuple(unlinked.get(i, ())), i in silent_pregnancy)
            for i, line in enumerate(lines) if line.strip()]


def _measurement_before(entities: dict, line_of, offset: int) -> str | None:
    """The family of the nearest family-naming Measurement before `offset` on the same line."""
    before = [(start, etext) for etype, start, _, etext in entities.values()
              if etype == "Measurement" and start < offset and line_of(start) == line_of(offset)]
    for _, etext in sorted(before, reverse=True):
        family = family_of(etext)
        if family is not None:
            return family
    return None


def read_chia(path: Path) -> list[ChiaLine]:
    """Every criterion line of a Chia zip (or folder), with its gold items."""
    path = Path(path)
    out: list[ChiaLine] = []
    if path.is_dir():
        names = {p.name: p for p in path.rglob("*") if p.is_file()}
        def read(name):
            return names[name].read_text(encoding="utf-8") if name in names else None
    else:
        archive = zipfile.ZipFile(path)
        names = {Path(n).name: n for n in archive.namelist()}
        def read(name):
            return archive.read(names[name]).decode("utf-8") if name in names else None
    for name in sorted(names):
        m = re.fullmatch(r"(NCT\d+)_(inc|exc)\.txt", name)
        if not m:
            continue
        ann = read(name[:-4] + ".ann")
        if ann is None:
            continue
        kind = "inclusion" if m.group(2) == "inc" else "exclusion"
        out += read_file_pair(m.group(1), kind, read(name), ann)
    return out


def _rule_family(variable: str, unit: str | None) -> str | None:
    for family, variables in FAMILY_VARIABLES.items():
        if variable in variables:
            if family == "liver x ULN" and unit != "x ULN":
                return None
            return family
    return None


def readings(line: ChiaLine) -> list[dict]:
    """What the importer reads from one Chia line: one dict per threshold (and one per pregnancy rule)."""
    out = []
    for piece in split_criteria(line.text) or []:
        result = extract(piece.text, line.kind)
        computable = result.expression is not None
        for rule in tuple(result.rules) + tuple(result.skipped):
            if re.search(r"\b(?:pregnant|lactating)\b", rule.expression):
                out.append({"family": "pregnancy", "number": None, "computable": computable,
                            "source": rule.source, "expression": rule.expression,
                            "why": () if computable else result.notes})
            for t in rule.thresholds:
                family = _rule_family(t.variable, t.unit)
                if family is not None:
                    number = t.source_value if t.source_value is not None else t.value
                    out.append({"family": family, "number": number, "computable": computable,
                                "source": rule.source, "variable": t.variable, "comparator": t.comparator,
                                "value": t.value, "unit": t.unit, "why": () if computable else result.notes})
        # a value whose comparator the text does not state ("Age 18 years", Chia's "Age = 18 years") counts as read,
        # since comparators are not judged on Chia; it is never computable, and its share is reported apart
        for t in getattr(result, "unstated", ()):  # getattr: the script also measures older code ("before")
            family = _rule_family(t.variable, t.unit)
            if family is not None:
                out.append({"family": family, "number": t.source_value if t.source_value is not None else t.value,
                            "computable": False, "comparator_stated": False, "source": piece.text,
                            "unread_part": "comparator" if t.comparator == "" else "timing",
                            "variable": t.variable, "comparator": t.comparator, "value": t.value, "unit": t.unit})
    # one value in the text is one item, however many variables share it ("ALT or AST > 3 x ULN"); a value read with
    # its comparator wins over the same value read without
    unique = {}
    for item in out:
        if item.get("comparator_stated", True) or not any(
                (item["family"], item["number"]) == key[:2] for key in unique):
            unique.setdefault((item["family"], item["number"], item["computable"]), item)
    return list(unique.values())


def _match(item: dict, gold: list[GoldItem]) -> GoldItem | None:
    for g in gold:
        if g.family != item["family"]:
            continue
        if g.number is None or (item["number"] is not None
                                and abs(item["number"] - g.number) <= max(0.01 * abs(g.number), 1e-6)):
            return g
    return None


def evaluate_chia(lines: list[ChiaLine], *, sample: int = 0, seed: int = 0, records: list[Path] = ()) -> dict:
    # [right, extracted, of the rest: readings the gold is silent on (a Value no relation joins, pregnancy unmarked)]
    counts = {f: {"gold": 0, "read": [0, 0, 0], "computable": [0, 0, 0],
                  "expressible": [0, 0], "held_inexpressible": 0} for f in FAMILY_TERMS}
    inexpressible_classes: dict[str, dict[str, int]] = {}  # reason -> family -> gold items (inexpressible())
    wrong, missed, computable_criteria = [], [], []
    uncomputable = []  # every gold item no computable rule holds, with its cause (written with --details only)
    # "comparator" | "timing" -> family -> right readings the text leaves that part out of (registry/unstated.py)
    unstated: dict[str, dict[str, int]] = {}
    not_computable: dict[str, dict[str, int]] = {}  # why_class -> family -> right readings left non-computable
    causes: dict[str, dict[str, int]] = {}  # cause_class -> family -> gold items no computable rule holds
    for line in lines:
        reasons = {id(g): inexpressible(g, line.gold) for g in line.gold}
        for g in line.gold:
            counts[g.family]["gold"] += 1
            if reasons[id(g)]:
                row = inexpressible_classes.setdefault(reasons[id(g)], {})
                row[g.family] = row.get(g.family, 0) + 1
            else:
                counts[g.family]["expressible"][1] += 1
        items = readings(line)
        read_by: dict[int, dict] = {}  # id(gold item) -> the reading that read it (at the "read" level)
        for level in ("read", "computable"):
            open_gold = list(line.gold)
            for item in items:
                if level == "computable" and not item["computable"]:
                    continue
                counts[item["family"]][level][1] += 1
                hit = _match(item, open_gold)
                if hit is not None:
                    counts[item["family"]][level][0] += 1
                    open_gold.remove(hit)
                    if level == "read":
                        read_by[id(hit)] = item
                    elif reasons[id(hit)]:
                        counts[item["family"]]["held_inexpressible"] += 1
                    else:
                        counts[item["family"]]["expressible"][0] += 1
                    if level == "read" and not item.get("comparator_stated", True):
                        by_family = unstated.setdefault(item["unread_part"], {})
                        by_family[item["family"]] = by_family.get(item["family"], 0) + 1
                    elif level == "read" and not item["computable"]:
                        by_family = not_computable.setdefault(why_class(item.get("why", ())), {})
                        by_family[item["family"]] = by_family.get(item["family"], 0) + 1
                    continue
                silent = gold_silent(line, item)
                counts[item["family"]][level][2] += bool(silent)
                if level == "read":
                    wrong.append({"trial": line.trial, "kind": line.kind, "line": line.index, "text": line.text,
                                  "gold_silent": silent, **item})
            if level == "read":
                missed += [{"trial": line.trial, "kind": line.kind, "line": line.index, "family": g.family, "gold": g.text,
                            "text": line.text} for g in open_gold]
            else:  # every gold item no computable rule holds, by its cause (cause_class)
                for g in open_gold:
                    cause = cause_class(g, line.text, read_by.get(id(g)))
                    row = causes.setdefault(cause, {})
                    row[g.family] = row.get(g.family, 0) + 1
                    uncomputable.append({"trial": line.trial, "kind": line.kind, "line": line.index, "family": g.family,
                                         "gold": g.text, "cause": cause, "inexpressible": reasons[id(g)],
                                         "text": line.text})
        if any(i["computable"] for i in items):
            computable_criteria.append(line)
    families = {}
    for family, c in counts.items():
        families[family] = {"gold": c["gold"]}
        for level in ("read", "computable"):
            families[family][level] = _level(*c[level], c["gold"])
        families[family]["expressible"] = _expressible(*c["expressible"], c["held_inexpressible"])
    total = {"gold": sum(c["gold"] for c in counts.values())}
    for level in ("read", "computable"):
        total[level] = _level(*(sum(c[level][i] for c in counts.values()) for i in range(3)), total["gold"])
    total["expressible"] = _expressible(*(sum(c["expressible"][i] for c in counts.values()) for i in range(2)),
                                        sum(c["held_inexpressible"] for c in counts.values()))
    for part in ("comparator", "timing"):
        total["read"][f"right_{part}_unstated"] = sum(unstated.get(part, {}).values())
        for family, n in unstated.get(part, {}).items():
            families[family]["read"][f"right_{part}_unstated"] = n
    result = {"summary": {"lines": len(lines), "trials": len({(ln.trial) for ln in lines}), "total": total},
              "families": families, "miss_classes": count_miss_classes(missed),
              "inexpressible_classes": dict(sorted(inexpressible_classes.items(), key=lambda kv: -sum(kv[1].values()))),
              "not_computable_classes": dict(sorted(not_computable.items(), key=lambda kv: -sum(kv[1].values()))),
              "cause_classes": dict(sorted(causes.items(), key=lambda kv: -sum(kv[1].values()))),
              "wrong": wrong, "missed": missed, "uncomputable": uncomputable}
    if sample:
        result["sample"], result["sample_pool"] = sample_rules(lines, sample, seed, records)
    return result


# --- classes of misses (what a reader would have to do to read them; counted, never tuned to sentences) --------

# a comparator stated in signs or words, or a range (whose bounds say the direction)
_STATED = re.compile(r"[<>≤≥＜＞⩽⩾≦≧]|\b(?:greater|more|less|fewer|higher|lower|over|under|above|below|older|younger|"
                     r"least|most|up\s+to|exceed\w*|minimum|maximum|within|until|prior|before|after|beyond|"
                     r"between|from|through|ranging|range|to|and\s+(?:older|over|above)|or\s+(?:older|greater|more|"
                     r"higher|less|lower|younger)|superior|inferior|max|min|no\s+more|no\s+less|\+)|"
                     r"\d\s*[-–]\s*\d|\d\s*\+|\+\s*$", re.I)
# an "=" right before a number: Chia's flattened >= or <= (at least one bound of the item lost its direction)
_FLATTENED = re.compile(r"(?<![<>≤≥!=])=\s*(?=\d)")
# pregnancy gold about something other than being pregnant or lactating now: a faithful reader leaves it unread
_NOT_CURRENT_PREGNANCY = re.compile(
    r"plan\w*|desir\w*|intent\w*|intend\w*|wish\w*|attempt\w*|trying|seeking|avoid\w*|prevent\w*|become\s+pregnant|"
    r"multiple|multi-?fetal|twin|singleton|ectopic|molar|unknown\s+location|previous|history|loss|complicated|"
    r"trimester|partner|nursing\s+homes?|lactate|impregnat\w*|contracep\w*|should\s+a\s+woman|fetal|fetus\w*",
    re.I)


def miss_class(family: str, gold_text: str) -> str:
    """The class of a gold item the importer did not read, from its annotated text alone."""
    if family == "pregnancy":
        if _NOT_CURRENT_PREGNANCY.search(gold_text):
            return "pregnancy: not a current pregnancy (planned, multiple, ectopic, a partner's, nursing home)"
        return "pregnancy: current pregnancy or lactation"
    if _FLATTENED.search(gold_text):
        return "comparator flattened to '=' by Chia"
    if not _STATED.search(gold_text):
        return "no comparator in the text"
    return "comparator stated"


# why a right reading (comparator stated) stayed out of a computable rule: the first class its criterion's notes
# fall in, in this order (the order puts what the catalogue cannot express before the looser notes that follow it)
WHY_CLASSES: list[tuple[str, str]] = [
    ("an exception or 'N of the following' the rule cannot state", r"exception|of the following|ineligible"),
    ("a threshold under a condition (if, for a group, except)", r"applies only under a condition"),
    ("different thresholds for the same variable, or another value in its unit", r"same variable has different|"
                                                                                   r"another value in the same unit"),
    ("a history limited to a time window the catalogue does not record", r"time window"),
    ("an unread alternative of an inclusion, or an unread value joined to the rule", r"is an alternative the rule|"
                                                                                     r"joined to the rule by|only some alternatives"),
    ("a concept the catalogue cannot express as the text means it", r"cannot be read as the text means|negated inside"),
    ("the rule tied to an unread part ('with', 'despite')", r"is tied to a part not read"),
    ("'and' and 'or' mixed: the grouping is a guess", r"mixes 'and' and 'or'"),
    ("the text looks cut off", r"looks cut off"),
    ("the rest of the criterion may change who qualifies (run-on lines, unread conditions)", r"may change who qualifies"),
]


def why_class(notes) -> str:
    """The class of why a criterion's readings were not made computable, from its notes (WHY_CLASSES)."""
    for name, pattern in WHY_CLASSES:
        if any(re.search(pattern, n) for n in notes):
            return name
    return "other"


# why a gold item is in no computable rule, when nothing read it: the first class its annotated text (or, for the
# shape of the sentence, its line) falls in. Decided from the text alone, in this order; counted, never tuned to lines.
_NOT_THE_VARIABLE = re.compile(  # Chia tags these with a family's word, but they are another measure
    r"\b(?:drop|fall|diameter|speed|ambulatory|ABPM|mean\s+(?:arterial\s+)?(?:blood\s+)?pressure|wedge|atrial|"
    r"ventricular|ratio|increase|drinks?|units?/week|life\s+expectancy|born|gestation\w*|percentile|"
    r"onset|relative|Epidermal)\b", re.I)
_SUBGROUP = re.compile(r"\b(?:for|in)\s+(?:men|women|males?|females?|persons|patients|subjects|children|Singapore)\b|"
                       r"\b(?:men|women|males?|females?)\b\s*[:,]?\s*[<>=≤≥]?\s*\d|\bif\b|\bexcept\b|\bunless\b", re.I)
_VALUE_FORM = re.compile(r"\d\s*[-–]\s*\d|\d\s+(?:to|through)\s+\d|\bbetween\b|[<>≤≥=]\s*\d[^<>≤≥=]*\band\b\s*[<>≤≥=]"
                         r"|\d\s*/\s*\d|±|\d\s*[eE]\d", re.I)
_UNIT_ODD = re.compile(r"\d\s*(?:m\b|mo\b|y\b|ys\b|hours?|mol/ml|kg\s*/\s*mm|mL/min(?!\s*/\s*1\.73)|mm\b|/1\.7m|"
                       r"\.S|mg⁄dL|kg\.m)", re.I)
_COMPARATOR_WORDS = re.compile(r"/\s*equals?|\bfrom\b|\bup\s+to\b|\bfactor\b|\bor\s+more\s+above\b|\babove\s+the\b"
                               r"|\bminimum\b|\bprior\b", re.I)
_LIST = re.compile(r"[,;]|\b(?:and|or)\b")


def cause_class(gold: GoldItem, line_text: str, reading: dict | None) -> str:
    """Why a gold item is in no computable rule: read but left non-computable (and what blocked it), or not read
    (and the first class of _NOT_THE_VARIABLE .. _LIST its annotated text falls in)."""
    if reading is not None:
        if not reading.get("comparator_stated", True):
            return ("read, left non-computable: " + ("no comparator stated (Chia's flattened '=' or none)"
                                                      if reading.get("unread_part") == "comparator" else
                                                      "glucose timing not stated"))
        return "read, left non-computable: " + why_class(reading.get("why", ()))
    base = miss_class(gold.family, gold.text)
    if gold.family == "pregnancy" or base != "comparator stated":
        return "not read: " + base
    for name, pattern, where in [
            ("variable not in the catalogue (another measure under the family's word)", _NOT_THE_VARIABLE, gold.text),
            ("unit not read or not converted", _UNIT_ODD, gold.text),
            ("value form (a range, 'x to y', a pair, ±, scientific notation)", _VALUE_FORM, gold.text),
            ("comparator words", _COMPARATOR_WORDS, gold.text),
            ("a limit for a subgroup or under a condition", _SUBGROUP, line_text),
            ("list or 'any of' structure", _LIST, gold.text)]:
        if pattern.search(where):
            return "not read: " + name
    return "not read: phrasing (the variable's words or the sentence's shape)"


def count_miss_classes(missed: list[dict]) -> dict[str, dict[str, int]]:
    """{class: {family: misses}}, the classes of miss_class."""
    out: dict[str, dict[str, int]] = {}
    for item in missed:
        row = out.setdefault(miss_class(item["family"], item["gold"]), {})
        row[item["family"]] = row.get(item["family"], 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -sum(kv[1].values())))


def gold_silent(line: ChiaLine, item: dict) -> str:
    """Why a reading the gold does not hold may be the gold's gap rather than a wrong reading ("" if no such
    sign): its number is an annotated Value that Chia joined to nothing, or its pregnancy word was never
    marked. Decided from the annotations alone; the readings are then checked by hand (import_quality.md)."""
    if item["number"] is not None and any(abs(item["number"] - n) <= max(0.01 * abs(n), 1e-6) for n in line.unlinked):
        return "value joined to nothing"
    if item["family"] == "pregnancy" and line.pregnancy_unannotated:
        return "pregnancy not marked"
    return ""


# a comparator written right before an annotated value, outside its span ("> 18 years old")
_STATED_BEFORE = re.compile(r"(?:[<>≤≥＜＞]|\b(?:over|under|above|below|greater\s+than|less\s+than|more\s+than|"
                            r"older\s+than|younger\s+than|at\s+least|up\s+to|between|from)\b)\s*$", re.I)


def inexpressible(gold: GoldItem, line_gold: tuple[GoldItem, ...] = ()) -> str:
    """Why no computable rule could hold this gold item without saying more than its text ("" when one could).

    Decided from the annotated text alone, never from what the importer read, so the denominator does not grade the
    importer against itself: a pregnancy that is not a current one (planned, multiple, ectopic, a partner's: the
    catalogue has current pregnancy and lactation only), another measure Chia tagged with a family's word (a drop, a
    diameter, ambulatory pressure), and a single value with no comparator once Chia's flattened "=" is set aside
    ("Age = 18 years", "systolic 180 mm Hg": a minimum, a maximum or the value itself). Two values stay expressible
    ("= 18 and = 50 years" is a range), and so does a pair ("=140/90 mmHg", conservatively)."""
    if gold.family == "pregnancy":
        return "" if gold.current else "a pregnancy other than a current one"
    if _NOT_THE_VARIABLE.search(gold.text):
        return "another measure under the family's word"
    # another value of the same entity word on the line may be the other end of a range ("= 14 years of age and = 60
    # years of age", annotated as two items): expressible ("systolic 180, diastolic 95" are two entities: not)
    other_end = any(o.family == gold.family and o.entity == gold.entity and o.number != gold.number
                    for o in line_gold)
    if not _STATED.search(gold.text) and not _STATED_BEFORE.search(gold.before) and len(numbers_of(gold.text)) <= 1 \
            and not other_end:
        return "one value and no comparator (or only Chia's flattened '=')"
    return ""


_SEPARATOR = re.compile(r"[,;.()/]|\b(?:or|and)\b", re.I)


def names_current_pregnancy(line: str, start: int, end: int) -> bool:
    """True when some pregnancy word inside the annotated span line[start:end] is not qualified as another pregnancy
    by the words of its own phrase in the line (up to four before it and four after it, not past a comma, a slash or
    an "or"). Chia marks whole sentences ("Pregnant or lactating women, or women who plan to become pregnant") as well
    as lone words whose qualifier is another entity ("wish for pregnancy"), so neither the entity's text nor the line
    as a whole is a guide; "pregnant" standing alone is a current pregnancy, while "Singleton pregnancy", "plan to
    become pregnant", "pregnancy loss", "nursing home" and "sodium lactate" are not."""
    for m in _PREGNANCY_WORDS.finditer(line, start, end):
        before = _SEPARATOR.split(line[:m.start()])[-1].split()[-4:]
        after = _SEPARATOR.split(line[m.end():])[0].split()[:4]
        if not _NOT_CURRENT_PREGNANCY.search(" ".join(before + [m.group(0)] + after)):
            return True
    return False


def _expressible(right: int, gold: int, held_inexpressible: int) -> dict:
    """Computable recall over the gold items a computable rule could express (inexpressible()); a computable
    reading of an item judged inexpressible is counted apart (it says more than its text, or the judgement errs)."""
    return {"right": right, "gold": gold, "recall": _ratio(right, gold), "held_inexpressible": held_inexpressible}


def _level(right: int, extracted: int, silent: int, gold: int) -> dict:
    """Recall and precision; precision also without the readings the gold is silent on (gold_silent)."""
    return {"right": right, "extracted": extracted, "precision": _ratio(right, extracted),
            "recall": _ratio(right, gold), "gold_silent": silent,
            "precision_without_gold_silent": _ratio(right, extracted - silent)}


def computable_rows(lines: list[ChiaLine], records: list[Path] = ()) -> list[dict]:
    """Every computable criterion of the Chia lines and of whole registry records (legacy XML, JSON, pages)."""
    rows = []
    for line in lines:
        for piece in split_criteria(line.text) or []:
            result = extract(piece.text, line.kind)
            if result.expression is not None:
                rows.append({"trial": line.trial, "kind": line.kind, "line": line.index, "text": piece.text,
                             "expression": result.expression, "status": result.status,
                             "confidence": round(result.confidence, 2),
                             "parameters": {k: v["value"] for k, v in result.parameters.items()},
                             "named": named_parts(result.notes)})
    for path in records:
        for trial, report in import_trials(path):
            for c in report.text_criteria:
                if c.computable:
                    params = {name: p.value for name, p in trial.criterion(c.id).parameters.items()}
                    rows.append({"trial": trial.id, "kind": c.kind, "line": c.id, "text": c.text,
                                 "expression": c.expression, "status": c.status,
                                 "confidence": round(c.confidence, 2), "parameters": params,
                                 "named": named_parts(c.notes)})
    return rows


def named_parts(notes) -> str:
    """What a partial reading says it leaves out (its notes "partial: leaves out ..." and "reads only part of the
    criterion ...: ..."), for the person checking it."""
    named = (re.match(r"(?:partial: leaves out |reads only part of the criterion; not computable: )(.*)", n, re.S)
             for n in notes)
    return "; ".join(m.group(1) for m in named if m)


def sample_rules(lines: list[ChiaLine], n: int, seed: int, records: list[Path] = ()) -> tuple[list[dict], int]:
    """A seeded random sample of computable criteria (any variable), for a person to check against the text;
    and how many there were to draw from."""
    rows = computable_rows(lines, records)
    return random.Random(seed).sample(rows, min(n, len(rows))), len(rows)


def markdown_sample(rows: list[dict], seed: int, sources: str, pool: int) -> str:
    """The sample as a table to fill in by hand: one row per criterion, verdict and why left blank."""
    lines = [f"# Hand-checked sample of computable rules (seed {seed})", "",
             f"Drawn by `scripts/evaluate_import.py {sources} --sample {len(rows)} --seed {seed}` from {pool} "
             "computable criteria.", "",
             "| # | trial | kind | text | expression | status | named as left out | verdict | why |",
             "|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        text = " ".join(r["text"].split()).replace("|", "\\|")
        named = " ".join(r.get("named", "").split()).replace("|", "\\|")
        lines.append(f"| {i} | {r['trial']} | {r['kind']} | {text} | `{r['expression']}` | {r['status']} | {named} |  |  |")
    return "\n".join(lines) + "\n"


def _class_table(head: str, classes: dict[str, dict[str, int]], families: list[str]) -> list[str]:
    """A markdown table: one row per class, its total and its count per family."""
    lines = [f"| {head} | " + " | ".join(families) + " |", "|---|---|" + "---|" * len(families)]
    for name, row in classes.items():
        lines.append(f"| {name} | {sum(row.values())} | " + " | ".join(str(row.get(f, 0)) for f in families) + " |")
    return lines


def markdown_chia(result: dict) -> str:
    s = result["summary"]
    t = s["total"]
    lines = ["# Registry import quality on the Chia development set", "",
             f"{s['lines']} criterion lines of {s['trials']} trials; {t['gold']} gold items. A reading is right when "
             "its line, family and number (as written) match a gold value; comparators are not judged (Chia "
             "flattened >= and <= to '=').", "",
             "Precision is also given without the readings the gold is silent on (in brackets: an annotated "
             "Value joined to nothing, or a pregnancy word never marked).", "",
             "| family | gold | read: recall | read: precision [gold silent] | computable: recall | "
             "computable: precision [gold silent] |",
             "|---|---|---|---|---|---|"]
    for family, f in list(result["families"].items()) + [("all", t)]:
        r, c = f["read"], f["computable"]
        lines.append(f"| {family} | {f['gold']} | {r['recall']} ({r['right']}) | {r['precision']} "
                     f"({r['right']}/{r['extracted']}) [{r['precision_without_gold_silent']}, {r['gold_silent']}] | "
                     f"{c['recall']} ({c['right']}) | {c['precision']} ({c['right']}/{c['extracted']}) "
                     f"[{c['precision_without_gold_silent']}, {c['gold_silent']}] |")
    lines += ["", "Computable recall over the gold items a computable rule could express (`inexpressible`: decided "
                  "from the annotated text alone; the old definition, over every gold item, is the table's "
                  "'computable: recall'):", "",
              "| family | gold | expressible | computable recall (old: over all gold) | computable recall over "
              "expressible | inexpressible items held by a computable rule |", "|---|---|---|---|---|---|"]
    for family, f in list(result["families"].items()) + [("all", t)]:
        x = f["expressible"]
        lines.append(f"| {family} | {f['gold']} | {x['gold']} | {f['computable']['recall']} ({f['computable']['right']}) "
                     f"| {x['recall']} ({x['right']}) | {x['held_inexpressible']} |")
    unstated = t["read"].get("right_comparator_unstated", 0)
    untimed = t["read"].get("right_timing_unstated", 0)
    lines += ["", f"Of the {t['read']['right']} right readings, {unstated} ({_ratio(unstated, t['gold']) or 0} of the gold) "
                  "are values whose comparator the text does not state (\"Age 18 years\", Chia's flattened \"=\"; per "
                  "family: " + (", ".join(f"{f} {v['read']['right_comparator_unstated']}" for f, v in result["families"].items()
                                          if v["read"].get("right_comparator_unstated")) or "none")
              + f") and {untimed} are glucose values whose timing (fasting, after a meal, random) it does not state. Both "
                f"are read and never computable. Read recall without them: "
                f"{_ratio(t['read']['right'] - unstated - untimed, t['gold'])}."]
    for key, head, intro in [
            ("inexpressible_classes", "reason | items", "Gold items no computable rule could express without "
                                                          "saying more than its text, by reason (`inexpressible`):"),
            ("miss_classes", "class | misses", "Gold items not read, by class (`miss_class`: decided from the annotated "
                                               "text alone):"),
            ("cause_classes", "cause | items", "Gold items no computable rule holds, by cause (`cause_class`: read and "
                                               "left non-computable, by what blocked it; or not read, by the first "
                                               "class the annotated text falls in):"),
            ("not_computable_classes", "why | readings", "Right readings (comparator stated) left out of computable "
                                                         "rules, by why (`why_class`: the first class the criterion's "
                                                         "notes fall in):")]:
        if result.get(key):
            lines += ["", intro, ""] + _class_table(head, result[key], list(result["families"]))
    return "\n".join(lines) + "\n"


# --- hand-labelled criteria (tests/fixtures/registry/diabetes_criteria.yaml) ------------------------------

CRITERIA_FAMILIES: dict[str, set[str]] = {
    **{f: v for f, v in FAMILY_VARIABLES.items() if f not in {"C-peptide", "pregnancy", "hba1c", "bmi"}},
    "C-peptide": {"fasting_cpeptide", "postmeal_cpeptide", "random_cpeptide"},
    "hypoglycaemia": {"severe_hypoglycemia"},
    "insulin dose": {"insulin_dose", "insulin_dose_per_kg"},
    "BMI": {"bmi"}, "HbA1c": {"hba1c"},
}
_COUNT = re.compile(r"count\((?P<event>\w+)(?:,\s*within_days=(?P<days>\d+))?\)")


def _criteria_family(variable: str) -> str | None:
    m = _COUNT.fullmatch(variable)
    name = m.group("event") if m else variable
    return next((f for f, names in CRITERIA_FAMILIES.items() if name in names), None)


def _same_threshold(item: tuple, gold: list) -> bool:
    variable, comparator, value, unit = item
    gv, gc, gval, gu = gold
    a, b = _COUNT.fullmatch(variable), _COUNT.fullmatch(str(gv))
    if a and b:  # a window of "6 months" is 182 or 183 days: equal within 1 %
        same_var = a.group("event") == b.group("event") and abs(int(a.group("days") or 0) - int(b.group("days") or 0)) \
            <= 0.01 * int(b.group("days") or 0) + 0.5
    else:
        same_var = variable == gv
    return (same_var and comparator == gc and str(unit) == str(gu)
            and abs(float(value) - float(gval)) <= max(0.01 * abs(float(gval)), 0.011))


def evaluate_criteria(items: list[dict]) -> dict:
    """Per family: of the gold thresholds (and pregnancy flags), how many were read, and how many readings were right."""
    families = {}

    def count(family: str) -> dict:
        return families.setdefault(family, {"gold": 0, "read": [0, 0], "computable": [0, 0]})

    rows = []
    for item in items:
        e = extract(item["text"], item["kind"])
        computable = e.expression is not None
        for g in item.get("gold") or []:
            count(_criteria_family(g[0]) or item["family"])["gold"] += 1
        found = [(t.variable, t.comparator, t.value, t.unit) for r in tuple(e.rules) + tuple(e.skipped)
                 for t in r.thresholds]
        gold_by_family: dict[str, list] = {}
        for g in item.get("gold") or []:
            gold_by_family.setdefault(_criteria_family(g[0]) or item["family"], []).append(list(g))
        for level in ("read", "computable"):
            if level == "computable" and not computable:
                continue
            open_gold = {f: list(v) for f, v in gold_by_family.items()}
            for t in found:
                family = _criteria_family(t[0])
                if family is None:
                    continue
                count(family)[level][1] += 1
                hit = next((g for g in open_gold.get(family, []) if _same_threshold(t, g)), None)
                if hit is not None:
                    count(family)[level][0] += 1
                    open_gold[family].remove(hit)
        if "pregnancy" in item:
            said = any(re.search(r"\b(?:pregnant|lactating)\b", r.expression) for r in e.rules if r.tree is not None)
            c = count("pregnancy")
            c["gold"] += bool(item["pregnancy"])
            for level in ("read", "computable"):
                if said and (level == "read" or computable):
                    c[level][1] += 1
                    c[level][0] += bool(item["pregnancy"])
        rows.append({"text": item["text"], "kind": item["kind"], "family": item["family"], "status": e.status,
                     "expression": e.expression or (f"(candidate) {e.candidate}" if e.candidate else None),
                     "read": [list(t) for t in found], "gold": item.get("gold") or [],
                     **({"pregnancy": item["pregnancy"]} if "pregnancy" in item else {})})
    out = {}
    for family, c in families.items():
        out[family] = {"gold": c["gold"]}
        for level in ("read", "computable"):
            right, extracted = c[level]
            out[family][level] = {"right": right, "extracted": extracted, "recall": _ratio(right, c["gold"]),
                                  "precision": _ratio(right, extracted)}
    total = {"gold": sum(c["gold"] for c in families.values())}
    for level in ("read", "computable"):
        right = sum(c[level][0] for c in families.values())
        extracted = sum(c[level][1] for c in families.values())
        total[level] = {"right": right, "extracted": extracted, "recall": _ratio(right, total["gold"]),
                        "precision": _ratio(right, extracted)}
    return {"summary": {"criteria": len(items), "total": total}, "families": out, "criteria": rows}


def markdown_criteria(result: dict) -> str:
    s = result["summary"]
    lines = ["# Registry import quality on the hand-labelled diabetes criteria", "",
             f"{s['criteria']} criteria written for this project (tests/fixtures/registry/diabetes_criteria.yaml). "
             "A reading is right when variable, comparator, value (1 %) and catalogue unit match a gold threshold; "
             "pregnancy is scored per criterion (a rule about being pregnant or lactating, or none).", "",
             "| family | gold | read: recall | read: precision | computable: recall | computable: precision |",
             "|---|---|---|---|---|---|"]
    for family, f in sorted(result["families"].items()) + [("all", s["total"])]:
        r, c = f["read"], f["computable"]
        lines.append(f"| {family} | {f['gold']} | {r['recall']} ({r['right']}) | {r['precision']} "
                     f"({r['right']}/{r['extracted']}) | {c['recall']} ({c['right']}) | {c['precision']} "
                     f"({c['right']}/{c['extracted']}) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="record files, folders or glob patterns")
    parser.add_argument("--gold", help="hand-labelled thresholds (YAML: records: {id: [...]})")
    parser.add_argument("--chia", help="the Chia corpus (zip or folder of brat .txt/.ann pairs)")
    parser.add_argument("--criteria", help="hand-labelled criteria (YAML: items: [{text, kind, family, gold}]), "
                                           "e.g. tests/fixtures/registry/diabetes_criteria.yaml")
    parser.add_argument("--sample", type=int, default=0, help="with --chia: sample this many computable criteria")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-markdown", help="with --sample: also write the sample as a table to check by hand "
                                                  "(records given as PATHS join the Chia criteria in the draw)")
    parser.add_argument("--details", action="store_true",
                        help="with --chia: also write every wrong and missed item with its text (not for committing: "
                             "it copies the corpus)")
    parser.add_argument("--out", help="JSON path (default: benchmarks/results/import_quality.chia.json with --chia, "
                                      "else import_quality.legacy_xml.json)")
    parser.add_argument("--markdown", help="markdown table path (default: --out with .md)")
    args = parser.parse_args(argv)
    if args.out is None:
        name = ("import_quality.chia.json" if args.chia else "import_quality.diabetes.json" if args.criteria
                else "import_quality.legacy_xml.json")
        args.out = str(ROOT / "benchmarks" / "results" / name)
    if args.criteria:
        items = yaml.safe_load(Path(args.criteria).read_text(encoding="utf-8"))["items"]
        result = evaluate_criteria(items)
        _write(result, markdown_criteria(result), args)
        return 0
    if args.chia:
        records = collect(args.paths) if args.paths else []
        result = evaluate_chia(read_chia(Path(args.chia)), sample=args.sample, seed=args.seed, records=records)
        if args.sample_markdown and "sample" in result:
            sources = " ".join(args.paths + ["--chia", args.chia])
            Path(args.sample_markdown).write_text(markdown_sample(result["sample"], args.seed, sources,
                                                                  result["sample_pool"]),
                                                  encoding="utf-8")
        if not args.details:
            result = {k: v for k, v in result.items() if k not in {"wrong", "missed", "uncomputable"}}
        _write(result, markdown_chia(result), args)
        return 0
    if not args.paths:
        parser.error("give record paths, or --chia")
    files = collect(args.paths)
    if not files:
        parser.error(f"no record files found in {args.paths}")
    gold = None
    if args.gold:
        gold = yaml.safe_load(Path(args.gold).read_text(encoding="utf-8"))["records"]
        gold = {k: v or [] for k, v in gold.items()}
    result = evaluate(files, gold)
    _write(result, markdown(result), args)
    return 0


def _write(result: dict, text: str, args) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md = Path(args.markdown) if args.markdown else out.with_suffix(".md")
    md.write_text(text, encoding="utf-8")
    sys.stdout.write(text)


if __name__ == "__main__":
    raise SystemExit(main())
