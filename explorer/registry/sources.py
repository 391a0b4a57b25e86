"""Readers for registry records: ClinicalTrials.gov API v2 JSON, the legacy XML download, saved registry pages.

Each reader does I/O only at its edge (`read_record(path)`); the `*_from_*` functions take text or
parsed data and return RegistryRecord values, raising ImportFailure with the file and what is wrong.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from explorer.errors import ImportFailure
from explorer.registry.criteria import _EXCLUSION, _INCLUSION
from explorer.registry.record import Arm, Intervention, OutcomeMeasure, RegistryRecord

MAX_FILE_BYTES = 20_000_000  # a registry record is kilobytes; anything this large is not one
NCT_RE = re.compile(r"\bNCT\d{8}\b")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>=|~^&])")


def unescape_markdown(text: str) -> str:
    """ClinicalTrials.gov v2 criteria are markdown: `\\>=` means `>=`, `\\*` a literal star."""
    return _MD_ESCAPE.sub(r"\1", text)


def parse_age(text: str | None) -> float | None:
    """'18 Years' -> 18.0, '6 Months' -> 0.5, 'N/A' or '' -> None (no limit)."""
    if not text:
        return None
    match = re.match(r"\s*(\d+(?:\.\d+)?)\s*(year|yr|month|week|day|hour|minute)s?\b", text, re.I)
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2).lower()
    per_year = {"year": 1, "yr": 1, "month": 12, "week": 52.1775, "day": 365.25, "hour": 8766, "minute": 525960}
    return round(value / per_year[unit], 4)


def normalise_sex(text: str | None) -> str | None:
    if not text:
        return None
    word = text.strip().lower()
    if word in {"all", "both", "male and female", "all sexes"}:
        return "all"
    if word in {"female", "females", "women"}:
        return "female"
    if word in {"male", "males", "men"}:
        return "male"
    return None


def _int_or_none(value) -> int | None:
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError):
        return None


# --- ClinicalTrials.gov API v2 JSON ----------------------------------------------------------------

def records_from_json(data, *, source: str = "<json>") -> list[RegistryRecord]:
    """One study, a list of studies, or {"studies": [...]} -> records."""
    if isinstance(data, Mapping) and "studies" in data:
        studies = data["studies"]
    elif isinstance(data, list):
        studies = data
    else:
        studies = [data]
    if not isinstance(studies, list) or not studies:
        raise ImportFailure(f"{source}: no studies in this JSON file")
    records = []
    for i, study in enumerate(studies):
        where = source if len(studies) == 1 else f"{source} (study {i + 1})"
        if not isinstance(study, Mapping) or not isinstance(study.get("protocolSection"), Mapping):
            raise ImportFailure(
                f"{where}: not a ClinicalTrials.gov study: expected an object with 'protocolSection' "
                f"(the API v2 format, https://clinicaltrials.gov/data-api/api)")
        records.append(_record_from_study(study["protocolSection"], where))
    return records


def _get(mapping, *path, default=None):
    for key in path:
        if not isinstance(mapping, Mapping):
            return default
        mapping = mapping.get(key)
    return default if mapping is None else mapping


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _record_from_study(ps: Mapping, source: str) -> RegistryRecord:
    ident, status = _get(ps, "identificationModule", default={}), _get(ps, "statusModule", default={})
    design, elig = _get(ps, "designModule", default={}), _get(ps, "eligibilityModule", default={})
    arms_mod = _get(ps, "armsInterventionsModule", default={})
    outcomes = []
    for key, primary in (("primaryOutcomes", True), ("secondaryOutcomes", False), ("otherOutcomes", False)):
        for out in _get(ps, "outcomesModule", key, default=[]) or []:
            if isinstance(out, Mapping) and _text(out.get("measure")):
                outcomes.append(OutcomeMeasure(_text(out.get("measure")), _text(out.get("timeFrame")),
                                               _text(out.get("description")), primary))
    arms = tuple(
        Arm(_text(a.get("label")), _text(a.get("type")), _text(a.get("description")),
            tuple(str(n) for n in a.get("interventionNames") or ()))
        for a in _get(arms_mod, "armGroups", default=[]) if isinstance(a, Mapping))
    interventions = tuple(
        Intervention(_text(iv.get("name")), _text(iv.get("type")), _text(iv.get("description")),
                     tuple(str(n) for n in iv.get("armGroupLabels") or ()))
        for iv in _get(arms_mod, "interventions", default=[]) if isinstance(iv, Mapping))
    phases = _get(design, "phases", default=[])
    healthy = elig.get("healthyVolunteers") if isinstance(elig, Mapping) else None
    return RegistryRecord(
        source=source, source_format="ctgov-json",
        nct_id=_text(ident.get("nctId")), title=_text(ident.get("briefTitle")),
        official_title=_text(ident.get("officialTitle")), acronym=_text(ident.get("acronym")),
        status=_text(status.get("overallStatus")),
        phase=", ".join(str(p) for p in phases) if isinstance(phases, list) else _text(phases),
        study_type=_text(design.get("studyType")),
        conditions=tuple(str(c) for c in _get(ps, "conditionsModule", "conditions", default=[])),
        keywords=tuple(str(c) for c in _get(ps, "conditionsModule", "keywords", default=[])),
        sponsor=_text(_get(ps, "sponsorCollaboratorsModule", "leadSponsor", "name", default="")),
        enrollment=_int_or_none(_get(design, "enrollmentInfo", "count")),
        enrollment_type=_text(_get(design, "enrollmentInfo", "type", default="")),
        summary=_text(_get(ps, "descriptionModule", "briefSummary", default="")),
        arms=arms, interventions=interventions, outcomes=tuple(outcomes),
        sex=normalise_sex(_text(elig.get("sex"))),
        minimum_age=parse_age(_text(elig.get("minimumAge"))),
        maximum_age=parse_age(_text(elig.get("maximumAge"))),
        minimum_age_text=_text(elig.get("minimumAge")), maximum_age_text=_text(elig.get("maximumAge")),
        healthy_volunteers=healthy if isinstance(healthy, bool) else None,
        eligibility_text=unescape_markdown(_text(elig.get("eligibilityCriteria"))),
    )


# --- legacy XML (clinical_study) -------------------------------------------------------------------

def record_from_xml(text: str, *, source: str = "<xml>") -> RegistryRecord:
    # Anywhere, not only in the first few kB: a long comment can push a DOCTYPE with an entity bomb down the file
    # (expat stops the bomb, with a message about amplification that would not say why the file is refused).
    if re.search(r"<!(DOCTYPE|ENTITY)", text):
        raise ImportFailure(f"{source}: XML with a DOCTYPE or entity declarations is not a registry record")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ImportFailure(f"{source}: not well-formed XML ({err}); the file may be truncated") from None
    if root.tag != "clinical_study":
        raise ImportFailure(f"{source}: root element is <{root.tag}>, expected <clinical_study> "
                            f"(the ClinicalTrials.gov legacy XML download)")

    def t(path: str) -> str:
        node = root.find(path)
        return " ".join((node.text or "").split()) if node is not None else ""

    def block(node, tag: str) -> str:
        child = node.find(tag)
        if child is None:
            return ""
        inner = child.find("textblock")
        return _dedent((inner if inner is not None else child).text or "")

    outcomes = []
    for tag, primary in (("primary_outcome", True), ("secondary_outcome", False), ("other_outcome", False)):
        for node in root.findall(tag):
            measure = " ".join((node.findtext("measure") or "").split())
            if measure:
                outcomes.append(OutcomeMeasure(measure, " ".join((node.findtext("time_frame") or "").split()),
                                               " ".join((node.findtext("description") or "").split()), primary))
    arms = tuple(Arm(" ".join((a.findtext("arm_group_label") or "").split()), a.findtext("arm_group_type") or "",
                     " ".join((a.findtext("description") or "").split()))
                 for a in root.findall("arm_group"))
    interventions = tuple(
        Intervention(" ".join((iv.findtext("intervention_name") or "").split()), iv.findtext("intervention_type") or "",
                     " ".join((iv.findtext("description") or "").split()),
                     tuple(" ".join((x.text or "").split()) for x in iv.findall("arm_group_label")))
        for iv in root.findall("intervention"))
    elig = root.find("eligibility")
    healthy = t("eligibility/healthy_volunteers").lower()
    enrollment = root.find("enrollment")
    return RegistryRecord(
        source=source, source_format="ctgov-xml",
        nct_id=t("id_info/nct_id"), title=t("brief_title"), official_title=t("official_title"),
        acronym=t("acronym"), status=t("overall_status"), phase=t("phase"), study_type=t("study_type"),
        conditions=tuple(" ".join((c.text or "").split()) for c in root.findall("condition")),
        keywords=tuple(" ".join((c.text or "").split()) for c in root.findall("keyword")),
        sponsor=t("sponsors/lead_sponsor/agency"),
        enrollment=_int_or_none(enrollment.text) if enrollment is not None else None,
        enrollment_type=enrollment.get("type", "") if enrollment is not None else "",
        summary=block(root, "brief_summary"),
        arms=arms, interventions=interventions, outcomes=tuple(outcomes),
        sex=normalise_sex(t("eligibility/gender")),
        minimum_age=parse_age(t("eligibility/minimum_age")), maximum_age=parse_age(t("eligibility/maximum_age")),
        minimum_age_text=t("eligibility/minimum_age"), maximum_age_text=t("eligibility/maximum_age"),
        healthy_volunteers=(healthy.startswith("accepts") or healthy == "yes") if healthy else None,
        eligibility_text=block(elig, "criteria") if elig is not None else "",
    )


def _dedent(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] if line.strip() else "" for line in lines)


# --- registry pages saved as text (the seeds' format, and similar mirrors) ------------------------

# Labels a page shows on a line of their own, with the value on the following line(s).
_PAGE_FIELDS = {
    "conditions": "conditions", "interventions": "interventions", "registration number": "nct_id",
    "nct id": "nct_id", "lead sponsor": "sponsor", "sponsored by": "sponsor", "brief summary": "summary",
    "detailed description": "description", "status": "status", "sex": "sex", "gender": "sex",
    "target recruitment": "enrollment", "study participants": "enrollment", "study type": "study_type",
    "study design": "design", "phase": "phase", "minimum age": "minimum_age", "maximum age": "maximum_age",
    "age group": "age_group", "healthy volunteers": "healthy", "accepting healthy volunteers": "healthy",
}
_SECTION_END = re.compile(
    r"^\s*(?:-\s*)?(study & design|study type|study design|arm\s*&&?\s*interventions|primary outcome measures?|"
    r"secondary outcome measures?|trial locations|locations?\b|sites\s*/\s*locations|healthy volunteers|"
    r"accepting healthy volunteers|sex:|gender:|minimum age|maximum age|study:|outcome measures|contacts?\b)",
    re.I)
_CRITERIA_START = re.compile(
    rf"^\s*(?:[-*•]\s*)?(?:(?:key\s+)?(?:inclusion|exclusion|eligibility)\s+criteri|(?:{_INCLUSION}|{_EXCLUSION})\s*[:：])",
    re.I)
_PHASES = re.compile(r"^(?:early\s+)?phase\s*[0-4i]+(?:\s*[/|,]\s*phase\s*[0-4i]+)?$|^not applicable$|^n/a$", re.I)
_STATUSES = re.compile(
    r"^(recruiting|not yet recruiting|active,? not recruiting|completed|terminated|withdrawn|suspended|"
    r"enrolling by invitation|unknown( status)?)$", re.I)
# a measure line on such pages runs the time frame into the name: "HbA1cup to 12 months"
_TIME_FRAME_TAIL = re.compile(
    r"(?:(?:up to|within|through|over|after|at|for|during|from baseline to|baseline to|baseline and)\s*)?"
    r"(?:\d+(?:\.\d+)?|one|two|three|four|six|nine|twelve|eighteen|twenty[- ]four)\s*"
    r"(?:(?:-|to|and)\s*\d+\s*)?(?:days?|weeks?|months?|years?|hours?)\s*$", re.I)


def record_from_page(text: str, *, source: str = "<page>") -> RegistryRecord:
    """A registry page saved as text: label lines ('Conditions', 'Sex', 'Inclusion Criteria', ...)."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    stripped = [re.sub(r"^\s*[-•]\s+", "", line).strip() for line in lines]
    fields: dict[str, list[str]] = {}
    crit_start = crit_end = None
    i = 0
    while i < len(lines):
        label = stripped[i].rstrip(":").strip().lower()
        inline = re.match(r"^([A-Za-z][A-Za-z /&]{1,40}):\s*(\S.*)$", stripped[i])
        if crit_start is None and _CRITERIA_START.match(lines[i]):
            crit_start = i
            j = i + 1
            while j < len(lines) and not _SECTION_END.match(lines[j]):
                j += 1
            crit_end = j
            i = j
            continue
        if label in _PAGE_FIELDS:
            key, values, j = _PAGE_FIELDS[label], [], i + 1
            while j < len(lines) and not stripped[j]:
                j += 1
            while j < len(lines) and stripped[j] and stripped[j].rstrip(":").strip().lower() not in _PAGE_FIELDS \
                    and not _CRITERIA_START.match(lines[j]) and not _SECTION_END.match(lines[j]):
                values.append(stripped[j])
                j += 1
                if key not in {"conditions", "interventions", "summary", "description"}:
                    break
            fields.setdefault(key, values)
            i = max(j, i + 1)
            continue
        if inline and inline.group(1).strip().lower() in _PAGE_FIELDS:
            fields.setdefault(_PAGE_FIELDS[inline.group(1).strip().lower()], [inline.group(2).strip()])
        i += 1

    eligibility = "\n".join(lines[crit_start:crit_end]).strip() if crit_start is not None else ""
    if crit_start is not None:
        # run-on pages put the whole section on one line ("Eligibility Criteria: Inclusion Criteria: * ...")
        eligibility = re.sub(r"^\s*eligibility criteria\s*:\s*", "", eligibility, flags=re.I)
    joined = "\n".join(stripped)
    nct = (fields.get("nct_id") or [""])[0]
    nct_match = NCT_RE.search(nct) or NCT_RE.search(joined)
    head = [s for s in stripped[:12] if s]
    title = next((s for s in head if s.lower() not in {"medpath", "title"} and not _PHASES.match(s)
                  and not _STATUSES.match(s) and s.rstrip(":").lower() not in _PAGE_FIELDS
                  and not NCT_RE.fullmatch(s) and not s.lower().startswith("nct id")), "")
    phase = (fields.get("phase") or [""])[0] or next((s for s in head if _PHASES.match(s)), "")
    status = (fields.get("status") or [""])[0] or next((s for s in head if _STATUSES.match(s)), "")
    sex = normalise_sex((fields.get("sex") or [""])[0])
    min_age = (fields.get("minimum_age") or [""])[0]
    max_age = (fields.get("maximum_age") or [""])[0]
    age_group = (fields.get("age_group") or [""])[0]
    if age_group and not (min_age or max_age):
        m = re.match(r"(\d+\s*\w+)\s+to\s+(\d+\s*\w+)", age_group)
        if m:
            min_age, max_age = m.group(1), m.group(2)
    healthy = (fields.get("healthy") or [""])[0].lower()
    record = RegistryRecord(
        source=source, source_format="registry-page",
        nct_id=nct_match.group(0) if nct_match else "", title=title, status=status, phase=phase,
        study_type=(fields.get("study_type") or [""])[0],
        conditions=tuple(fields.get("conditions") or ()),
        sponsor=(fields.get("sponsor") or [""])[0],
        enrollment=_int_or_none((fields.get("enrollment") or [""])[0]),
        summary=" ".join(fields.get("summary") or ()),
        interventions=tuple(_page_intervention(s) for s in fields.get("interventions") or ()),
        outcomes=_page_outcomes(lines),
        sex=sex, minimum_age=parse_age(min_age), maximum_age=parse_age(max_age),
        minimum_age_text=min_age, maximum_age_text=max_age,
        healthy_volunteers=(healthy in {"yes", "true"} or healthy.startswith("accepts")) if healthy else None,
        eligibility_text=unescape_markdown(eligibility),
    )
    if not record.nct_id and not eligibility:
        raise ImportFailure(f"{source}: not a registry page: found neither a registration number (NCT...) "
                            f"nor an 'Inclusion Criteria' / 'Eligibility Criteria' section")
    return record


def _page_intervention(line: str) -> Intervention:
    kind, _, rest = line.partition(":")
    if rest and len(kind) < 30:
        return Intervention(rest.strip(), kind.strip())
    return Intervention(line.strip())


def _page_outcomes(lines: list[str]) -> tuple[OutcomeMeasure, ...]:
    """'Primary Outcome Measures' / 'NameTimeMethod' / '<name><time frame>' / '' / '<description>'."""
    out: list[OutcomeMeasure] = []
    primary = None
    for raw in lines:
        line = re.sub(r"^\s*-\s+", "", raw).strip()
        low = line.lower()
        if low.startswith(("primary outcome", "secondary outcome")):
            primary = low.startswith("primary")
            continue
        if primary is None or not line or low in {"nametimemethod", "name time method"}:
            continue
        if _SECTION_END.match(line):
            break
        tail = _TIME_FRAME_TAIL.search(line)
        if tail and tail.start() > 0 and not line.endswith("."):
            out.append(OutcomeMeasure(line[:tail.start()].rstrip(" ;,"), tail.group(0).strip(), "", primary))
        elif out and out[-1].primary == primary:
            last = out[-1]
            description = f"{last.description} {line}".strip()
            out[-1] = OutcomeMeasure(last.measure, last.time_frame, description, last.primary)
        else:
            out.append(OutcomeMeasure(line, "", "", primary))
    return tuple(out)


# --- dispatch --------------------------------------------------------------------------------------

def read_text(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ImportFailure(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ImportFailure(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise ImportFailure(f"{path}: {size:,} bytes is too large for a registry record")
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFailure(f"{path}: not UTF-8 text; save the record as UTF-8")


def records_from_text(text: str, *, source: str = "<text>") -> list[RegistryRecord]:
    """Sniff the format (JSON, XML, or a page) and read every record in the text."""
    head = text.lstrip()[:1]
    if not head:
        raise ImportFailure(f"{source}: the file is empty")
    if head in "{[":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ImportFailure(f"{source}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
                                f"the file may be truncated") from None
        return records_from_json(data, source=source)
    if head == "<":
        return [record_from_xml(text, source=source)]
    return [record_from_page(text, source=source)]


def read_records(path: str | Path) -> list[RegistryRecord]:
    return records_from_text(read_text(path), source=str(path))


def read_record(path: str | Path) -> RegistryRecord:
    """The one record in a file (a JSON file with several studies: use read_records)."""
    records = read_records(path)
    if len(records) != 1:
        raise ImportFailure(f"{path}: holds {len(records)} studies; import them with read_records() "
                            f"or split the file")
    return records[0]
