"""Registry record -> Trial definition for a person to review, plus a per-criterion extraction report.

Structured fields come first: the registry's minimum/maximum age and sex become criteria AGE and SEX, and
an age read from the text is compared with them (and not computed twice). Every text criterion is kept
with its full text; only the confident readings get an expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from explorer import expr
from explorer.errors import DefinitionError, ExpressionError, ImportFailure
from explorer.registry import lexicon
from explorer.registry.criteria import RawCriterion, split_criteria
from explorer.registry.extract import Extraction, Rule, extract, looks_english, variable_mentions
from explorer.registry.record import RegistryRecord
from explorer.registry.sources import read_records
from explorer.trial import Criterion, Trial, trial_from_dict


@dataclass(frozen=True)
class CriterionReport:
    id: str
    kind: str
    text: str
    status: str                 # structured | computable | partial | candidate | none | rejected | covered
    confidence: float
    expression: str | None
    candidate: str | None = None
    rules: tuple[Rule, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def computable(self) -> bool:
        return self.expression is not None

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "computable": self.computable, "status": self.status,
                "confidence": round(self.confidence, 2), "expression": self.expression,
                "candidate": self.candidate, "rules": [r.to_dict() for r in self.rules],
                "notes": list(self.notes), "text": self.text}


@dataclass(frozen=True)
class AgeCheck:
    """The registry's structured age limits against the limits read from the eligibility text."""

    structured_min: float | None
    structured_max: float | None
    text_min: float | None
    text_max: float | None

    @property
    def has_text(self) -> bool:
        return self.text_min is not None or self.text_max is not None

    @property
    def matches(self) -> bool | None:
        """None when the text states no age; else whether the limits agree (0.01 y tolerance; >17 = >=18)."""
        if not self.has_text or (self.structured_min is None and self.structured_max is None):
            return None
        return _close(self.structured_min, self.text_min) and _close(self.structured_max, self.text_max)

    def to_dict(self) -> dict:
        return {"structured_min": self.structured_min, "structured_max": self.structured_max,
                "text_min": self.text_min, "text_max": self.text_max, "matches": self.matches}


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) < 0.02


@dataclass(frozen=True)
class ImportReport:
    source: str
    source_format: str
    trial_id: str
    criteria: tuple[CriterionReport, ...]
    age: AgeCheck
    warnings: tuple[str, ...] = ()
    unmapped_outcomes: tuple[str, ...] = field(default=())

    @property
    def text_criteria(self) -> list[CriterionReport]:
        return [c for c in self.criteria if c.status != "structured"]

    def summary(self) -> dict:
        text = self.text_criteria
        return {"trial": self.trial_id, "source_format": self.source_format, "criteria_found": len(text),
                "computable": sum(c.computable for c in text),
                "structured_criteria": len(self.criteria) - len(text),
                "age_matches_structured": self.age.matches}

    def to_dict(self) -> dict:
        return {"source": self.source, **self.summary(), "age": self.age.to_dict(),
                "warnings": list(self.warnings), "unmapped_outcomes": list(self.unmapped_outcomes),
                "criteria": [c.to_dict() for c in self.criteria]}


# --- building ---------------------------------------------------------------------------------------

def _age_limits(rules: list[tuple[str, Rule]]) -> tuple[float | None, float | None]:
    """The inclusive age limits (years) the text's age rules state; exclusion rules are turned round."""
    low = high = None
    for kind, r in rules:
        for name, comparator in _age_bounds(r):
            value = r.parameters[name]["value"]
            if kind == "exclusion":  # excluded if age < 18  ->  included from 18
                comparator = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}[comparator]
            # "> 17" means 18 and over in whole years, as registries state limits
            if comparator == ">" and value == int(value):
                value, comparator = value + 1, ">="
            if comparator == "<" and value == int(value):
                value, comparator = value - 1, "<="
            # several statements (alternatives such as "3-45 years if ..., 3-20 years if ...") span the
            # widest range, as the registry's structured fields do
            if comparator in (">=", ">"):
                low = value if low is None else min(low, value)
            else:
                high = value if high is None else max(high, value)
    return low, high


def _age_bounds(rule: Rule) -> list[tuple[str, str]]:
    """(parameter, comparator) of each `age <op> parameter` comparison in the rule's tree."""
    out = []
    for node in expr.walk(rule.tree) if rule.tree is not None else ():
        if (isinstance(node, expr.Compare) and len(node.ops) == 1 and node.operands[0] == expr.Name("age")
                and isinstance(node.operands[1], expr.Name) and node.operands[1].name in rule.parameters
                and node.ops[0] in ("<", "<=", ">", ">=")):
            out.append((node.operands[1].name, node.ops[0]))
    return out


def _age_criterion(record: RegistryRecord) -> dict | None:
    low, high = record.minimum_age, record.maximum_age
    if low is None and high is None:
        return None
    parts, params = [], {}
    if low is not None:
        parts.append("age >= age_min")
        params["age_min"] = {"value": low, "unit": "years", "min": 0, "max": max(100, low), "step": 1,
                             "label": "Minimum age"}
    if high is not None:
        parts.append("age <= age_max")
        params["age_max"] = {"value": high, "unit": "years", "min": 0, "max": max(120, high), "step": 1,
                             "label": "Maximum age"}
    stated = ", ".join(p for p in (f"minimum {record.minimum_age_text}" if low is not None else "",
                                   f"maximum {record.maximum_age_text}" if high is not None else "") if p)
    return {"id": "AGE", "kind": "inclusion", "label": "Age (registry fields)",
            "text": f"Age limits from the registry's structured fields: {stated}.",
            "expression": " and ".join(parts), "parameters": params,
            "note": "From the registry's minimum/maximum age fields, which take precedence over the text. "
                    "A maximum age is read as 'up to that birthday' (age <= limit)."}


def _sex_criterion(record: RegistryRecord) -> dict | None:
    if record.sex not in {"female", "male"}:
        return None
    return {"id": "SEX", "kind": "inclusion", "label": f"Sex: {record.sex} (registry field)",
            "text": f"The registry's sex field: {record.sex}.", "expression": f'sex == "{record.sex}"',
            "note": "From the registry's structured sex field."}


def _note(extraction: Extraction, extra: list[str]) -> str | None:
    parts = list(extra)
    if extraction.expression is not None:
        sources = "; ".join(f"'{r.source}'" for r in extraction.rules)
        parts.insert(0, f"Imported reading (confidence {extraction.confidence:.2f}) of {sources}; review it.")
    elif extraction.candidate:
        parts.insert(0, f"Not computable: the candidate reading `{extraction.candidate}` "
                        f"(confidence {extraction.confidence:.2f}) was not confident enough.")
    parts += [n[:1].upper() + n[1:] for n in extraction.notes]
    parts += [r.note[:1].upper() + r.note[1:] for r in extraction.rules if r.note and extraction.expression]
    text = " ".join(p if p.endswith((".", "?", "!")) else p + "." for p in parts if p)
    return text or None


def _validated(criterion: dict) -> tuple[dict, str | None]:
    """The criterion as given, or without its expression when it does not validate (with the reason)."""
    try:
        tree = expr.parse(criterion["expression"])
        units = {n: p.get("unit") for n, p in criterion.get("parameters", {}).items()}
        expr.check(tree, text=criterion["expression"], parameters=units)
        Criterion.model_validate(criterion)
        return criterion, None
    except (ExpressionError, DefinitionError, ValueError) as err:
        reason = str(err).splitlines()[0]
        stripped = {k: v for k, v in criterion.items() if k not in {"expression", "parameters"}}
        return stripped, f"the extracted expression {criterion['expression']!r} did not validate ({reason})"


def _text_criteria(raw: list[RawCriterion], record: RegistryRecord, has_structured_age: bool, english: bool = True
                   ) -> tuple[list[dict], list[CriterionReport], list[tuple[str, Rule]]]:
    counters = {"inclusion": 0, "exclusion": 0}
    criteria, reports, age_rules = [], [], []
    for item in raw:
        kind = item.kind if item.kind in counters else "inclusion"
        counters[kind] += 1
        cid = f"{'I' if kind == 'inclusion' else 'E'}{counters[kind]}"
        text = item.full_text
        extra: list[str] = []
        if not english:
            extraction = Extraction(None, {}, (), 0.0, "rejected", ("not read: the record is not in English",))
        elif item.kind == "unknown":
            extraction = extract(item.text, "inclusion", enrolled_sex=record.sex, minimum_age=record.minimum_age)
            extra.append("No 'Inclusion'/'Exclusion' heading precedes this criterion, so its kind is unknown; "
                         "it is listed as inclusion and left non-computable")
            extraction = Extraction(None, {}, extraction.rules, extraction.confidence, "candidate",
                                    extraction.notes, candidate=extraction.expression or extraction.candidate)
        else:
            extraction = extract(item.text, kind, skip_variables=("age",) if has_structured_age else (),
                                 enrolled_sex=record.sex, minimum_age=record.minimum_age)
        if item.context:
            extra.append(f"Listed under: '{item.context}'")
        if item.kind != "unknown":
            if extraction.expression is not None:
                age_rules += [(kind, r) for r in extraction.rules if r.variable == "age"]
            age_rules += [(kind, r) for r in extraction.skipped]
        if extraction.skipped:
            extra.append("Age limits here are taken from the registry's structured fields (criterion AGE)")
        offset = len(text) - len(item.text)
        rules = tuple(_shift(r, offset) for r in tuple(extraction.rules) + tuple(extraction.skipped))
        criterion = {"id": cid, "kind": kind, "text": text}
        status = extraction.status if extraction.expression or extraction.status != "computable" else "none"
        if extraction.expression is not None:
            criterion.update(expression=extraction.expression, parameters=extraction.parameters)
            criterion, problem = _validated(criterion)
            if problem:
                extra.append(problem)
                extraction = Extraction(None, {}, extraction.rules, extraction.confidence, "rejected",
                                        extraction.notes, candidate=extraction.expression)
                status = "rejected"
        elif extraction.skipped and not extraction.candidate:
            status = "covered"
        note = _note(extraction, extra)
        if note:
            criterion["note"] = note
        if not criterion.get("parameters"):
            criterion.pop("parameters", None)
        criteria.append(criterion)
        reports.append(CriterionReport(cid, kind, text, status, extraction.confidence, extraction.expression,
                                       extraction.candidate, rules, tuple(extraction.notes) + tuple(extra)))
    return criteria, reports, age_rules


def _shift(rule: Rule, offset: int) -> Rule:
    if not offset:
        return rule
    return Rule(rule.variable, rule.tree, rule.parameters, (rule.span[0] + offset, rule.span[1] + offset),
                rule.source, rule.confidence, rule.comparator, rule.value, rule.unit, rule.source_value,
                rule.source_unit, rule.note, rule.thresholds)


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].strip("_") or "outcome"
    if not base[0].isalpha():
        base = f"o_{base}"
    slug, i = base, 2
    while slug in taken:
        slug, i = f"{base}_{i}", i + 1
    taken.add(slug)
    return slug


def _outcome_variables(text: str) -> list[str]:
    names: list[str] = []
    for pattern, variables in lexicon.OUTCOME_TERMS:
        if re.search(pattern, text, re.I):
            names += [v for v in variables if v not in names]
    for m in variable_mentions(text):
        for v in m.variables:
            if v not in names and v != "age":
                names.append(v)
    return names


def _outcomes(record: RegistryRecord) -> tuple[list[dict], list[str]]:
    out, unmapped, taken = [], [], set()
    for o in record.outcomes:
        variables = _outcome_variables(o.measure) or _outcome_variables(o.description)
        if not variables:
            unmapped.append(o.measure)
            continue
        events = {"severe_hypoglycemia", "serious_adverse_event", "trial_participation"}
        item = {"id": _slug(o.measure, taken), "name": o.measure[:200], "kind": "primary" if o.primary else "secondary",
                "variables": variables, "summary": "event_rate" if set(variables) <= events else "change",
                "note": "Variables matched automatically from the measure's wording; check them."}
        if o.description:
            item["description"] = o.description
        if o.time_frame:
            item["time_frame"] = o.time_frame
        out.append(item)
    return out, unmapped


def _arms(record: RegistryRecord) -> list[dict]:
    def intervention(iv):
        return {k: v for k, v in (("type", iv.type or None), ("name", iv.name),
                                  ("description", iv.description or None)) if v}

    arms = []
    for arm in record.arms:
        ivs = [intervention(iv) for iv in record.interventions if arm.label in iv.arms]
        arms.append({k: v for k, v in (("name", arm.label or "Arm"), ("type", arm.type or None),
                                       ("description", arm.description or None), ("interventions", ivs)) if v})
    if not arms and record.interventions:
        arms.append({"name": "Intervention", "interventions": [intervention(iv) for iv in record.interventions
                                                               if iv.name]})
    return arms


def trial_from_record(record: RegistryRecord) -> tuple[Trial, ImportReport]:
    """Build the Trial and its ImportReport from one registry record (no I/O)."""
    trial_id = record.nct_id or re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(record.source).stem) or "imported"
    if not trial_id[0].isalpha():
        trial_id = f"T{trial_id}"
    warnings: list[str] = list(record.warnings)
    raw = split_criteria(record.eligibility_text)
    if not record.eligibility_text.strip():
        warnings.append("the record has no eligibility text; only the structured fields became criteria")
    elif not raw:
        warnings.append("the eligibility text holds no criteria that could be split out")
    if raw and all(c.kind == "unknown" for c in raw):
        warnings.append("no 'Inclusion'/'Exclusion' headings: criteria kept as text, none made computable")
    structured = [c for c in (_age_criterion(record), _sex_criterion(record)) if c]
    has_age = record.minimum_age is not None or record.maximum_age is not None
    english = looks_english(record.eligibility_text)
    if not english:
        warnings.append("the eligibility text does not look like English: every criterion is kept as text, "
                        "none made computable")
    criteria, reports, age_rules = _text_criteria(raw, record, has_age, english)
    text_min, text_max = _age_limits(age_rules)
    age = AgeCheck(record.minimum_age, record.maximum_age, text_min, text_max)
    if has_age and age.has_text and not age.matches:
        warnings.append(f"the text's age limits ({_fmt(text_min)}-{_fmt(text_max)} y) differ from the structured "
                        f"fields ({_fmt(record.minimum_age)}-{_fmt(record.maximum_age)} y); the fields are used")
    outcomes, unmapped = _outcomes(record)
    if unmapped:
        warnings.append(f"{len(unmapped)} outcome measure(s) name no catalogue variable and are listed in the "
                        f"report only")
    structured_reports = [CriterionReport(c["id"], c["kind"], c["text"], "structured", 1.0, c["expression"])
                          for c in structured]
    data = {
        "id": trial_id, "title": record.title or record.official_title or trial_id,
        "acronym": record.acronym or None, "sponsor": record.sponsor or None, "phase": record.phase or None,
        "status": record.status or None, "study_type": record.study_type or None,
        "conditions": list(record.conditions), "enrollment": record.enrollment,
        "sex": record.sex if record.sex in {"all", "female", "male"} else "all",
        "summary": record.summary or None, "arms": _arms(record),
        "criteria": structured + criteria, "outcomes": outcomes,
        "source": {"registry": "ClinicalTrials.gov" if record.nct_id else None,
                   "url": f"https://clinicaltrials.gov/study/{record.nct_id}" if record.nct_id else None,
                   "note": f"Imported by trial-explorer import from {Path(record.source).name} "
                           f"({record.source_format}). Every expression is a machine reading of the text: "
                           f"review it before use."},
    }
    data = {k: v for k, v in data.items() if v is not None}
    data["source"] = {k: v for k, v in data["source"].items() if v is not None}
    try:
        trial = trial_from_dict(data, source=record.source)
    except DefinitionError as err:
        raise ImportFailure(f"{record.source}: the imported definition does not validate: {err}") from None
    report = ImportReport(record.source, record.source_format, trial_id,
                          tuple(structured_reports + reports), age, tuple(warnings), tuple(unmapped))
    return trial, report


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def import_trials(source_path: str | Path) -> list[tuple[Trial, ImportReport]]:
    """Every study in a file (an API v2 JSON file may hold several)."""
    return [trial_from_record(record) for record in read_records(source_path)]


def import_trial(source_path: str | Path) -> tuple[Trial, ImportReport]:
    """Import one registry record (ClinicalTrials.gov API v2 JSON, legacy XML, or a saved registry page)."""
    results = import_trials(source_path)
    if len(results) != 1:
        raise ImportFailure(f"{source_path}: holds {len(results)} studies; use import_trials() for several")
    return results[0]
