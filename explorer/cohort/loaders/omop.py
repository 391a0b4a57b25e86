"""Loader for an OMOP CDM (v5.3/5.4) database exported as CSV files, in a folder or a ZIP archive.

Tables: person, observation_period, measurement, condition_occurrence, observation, drug_exposure,
death (optional) and the vocabulary table concept (to resolve concept ids to vocabulary codes and names).
Standard concepts map to catalogue variables through omop_concepts.yaml (or the caller's mapping).

- subjects: person_id; gender_concept_id 8532 female, 8507 male; birth_datetime, else year/month/day
  of birth (a missing month or day is imputed to the middle of the period, counted).
- index date: the end of the person's latest observation period, or the death date if earlier; or the
  `index_date` given (one date, or a mapping person_id -> date).
- measurements: value_as_number in the unit of unit_concept_id (UCUM code), else unit_source_value;
  operator_concept_id "<" / ">" make censored values (below -> half the limit, as everywhere, with the code
  and limit kept for the interval criteria are decided on); the
  range_low / range_high of the row are the lab's reference range (range_high = ULN).
- conditions, observations, drugs: as omop_concepts.yaml documents; absence of a record while the
  person is observed means false ("none" for diabetes_type), the usual OHDSI assumption.
- event history: mapped events are recorded from the start of the observation period that contains
  the index date.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from explorer.catalogue import Catalogue
from explorer.cohort.values import CENSORING
from explorer.errors import DataError
from explorer.strict_input import load_yaml

from .common import (
    Boundary,
    OnInvalid,
    check_unique_ids,
    finish_cohort,
    finish_measurements,
    loader_catalogue,
    parse_dates,
    require_columns,
    subjects_frame,
    table_name,
)
from .problems import collects_problems
from .readers import NoRows, check_format, read_as_absent, read_table, read_text_bytes, read_zip_member
from .report import Loaded, LoadReport

GENDER = {"8532": "female", "8507": "male"}
# operator_concept_id (OMOP "Meas Value Operator" concepts)
OPERATORS = {"4171756": "<", "4171754": "<=", "4172703": "=", "4171755": ">=", "4172704": ">"}
TABLES = ("person", "observation_period", "measurement", "condition_occurrence", "observation",
          "drug_exposure", "death", "concept")
USECOLS = {
    "person": ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime"],
    "observation_period": ["person_id", "observation_period_start_date", "observation_period_end_date"],
    "measurement": ["person_id", "measurement_concept_id", "measurement_date", "measurement_datetime",
                    "operator_concept_id", "value_as_number", "unit_concept_id", "unit_source_value",
                    "range_low", "range_high"],
    "condition_occurrence": ["person_id", "condition_concept_id", "condition_start_date", "condition_end_date"],
    "observation": ["person_id", "observation_concept_id", "observation_date"],
    "drug_exposure": ["person_id", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_end_date",
                      "days_supply"],
    "death": ["person_id", "death_date"],
    "concept": ["concept_id", "concept_name", "vocabulary_id", "concept_code"],
}


class _Source:
    """CDM tables in a folder or a ZIP archive, found by file name whatever its case (PERSON.csv, person.csv)."""

    def __init__(self, path: Path):
        self.path = path
        if path.is_dir():
            self.files = {p.stem.lower(): p for p in path.iterdir() if p.suffix.lower() in (".csv", ".parquet")}
            self.members = {}
        else:
            fmt = check_format(path)
            if fmt != "zip":
                raise DataError("an OMOP CDM must be a folder of CSV files or a ZIP archive of them", file=str(path))
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.startswith("__MACOSX/") and n.lower().endswith(".csv")]
            self.members = {Path(n).stem.lower(): n for n in names}
            self.files = {}

    def has(self, table: str) -> bool:
        return table in self.files or table in self.members

    def forget(self, table: str) -> None:
        """Treat a table as absent (a header-only one: no rows to read)."""
        self.files.pop(table, None)
        self.members.pop(table, None)

    def where(self, table: str) -> str:
        return str(self.files[table]) if table in self.files else f"{self.path}!{self.members[table]}"

    def read(self, table: str) -> pd.DataFrame:
        wanted = USECOLS[table]
        if table in self.files:
            frame = read_table(self.files[table], subjects=table == "person")
        else:
            data = read_zip_member(self.path, self.members[table])
            frame = read_text_bytes(data, name=self.where(table), subjects=table == "person",
                                    usecols=lambda c: c.strip().lower() in wanted)
        frame.columns = [c.strip().lower() for c in frame.columns]
        return frame


def default_mapping() -> dict:
    text = resources.files(__package__).joinpath("omop_concepts.yaml").read_text(encoding="utf-8")
    return load_yaml(text)


@collects_problems
def load_omop(path: str | Path, *, mapping: str | Path | dict | None = None,
              index_date: str | pd.Timestamp | Mapping | None = None, on_invalid: OnInvalid = "raise",
              catalogue: Catalogue | None = None) -> Loaded:
    """Read an OMOP CDM folder or ZIP into a Cohort (see the module docstring for the rules)."""
    path = Path(path)
    source = _Source(path)
    for table in ("person", "concept"):
        if not source.has(table):
            raise DataError(f"no {table} table ({table.upper()}.csv) in the OMOP CDM export", file=str(path))
    spec = read_mapping(mapping)
    report = LoadReport(source=str(path), kind="omop")
    boundary = Boundary(report, on_invalid, loader_catalogue(catalogue))
    check_mapping(spec, boundary.catalogue, source=str(mapping) if isinstance(mapping, str | Path) else "OMOP mapping")
    raw = {}
    for t in (t for t in TABLES if source.has(t)):
        try:
            raw[t] = source.read(t)
        except NoRows:
            if t in ("person", "concept"):  # no subjects; no concept can be mapped
                raise
            # as an absent table: no measurements (or conditions...), so criteria on them are unknown
            read_as_absent(report, table_name(source.where(t)), t)
            source.forget(t)
            continue
        if t != "concept":
            report.read(table_name(source.where(t)), len(raw[t]))
    concepts = raw["concept"]
    require_columns(concepts, USECOLS["concept"], file=source.where("concept"))
    concepts = concepts.assign(key=concepts["vocabulary_id"].str.strip() + " " + concepts["concept_code"].str.strip())
    names = concepts.set_index("concept_id")["concept_name"]
    codes = concepts.set_index("concept_id")["concept_code"]
    by_key = concepts.groupby("key")["concept_id"].apply(list)

    subjects, observed_from = _persons(raw, source, boundary, index_date=index_date)
    index = subjects.set_index("subject_id")["index_date"]
    measurements = _measurements(raw["measurement"], spec.get("measurement", {}), by_key, names, codes, source,
                                 boundary) if "measurement" in raw else None
    static, events = _conditions(raw, spec, by_key, names, source, boundary, index, observed_from)
    for column, values in static.items():
        subjects[column] = subjects["subject_id"].map(values)
    subjects = subjects_frame({c: subjects[c] for c in subjects.columns}, index=subjects.index,
                              catalogue=boundary.catalogue)
    event_types = sorted({r["event"] for rules in spec.get("condition", {}).values() for r in mapping_rules(rules) if "event" in r})
    history = pd.DataFrame([(sid, e, start) for e in event_types for sid, start in observed_from.items()
                            if pd.notna(start)], columns=["subject_id", "event", "recorded_from"])
    cohort = finish_cohort(subjects, boundary, file=source.where("person"), source=str(path),
                           measurements=measurements, events=events,
                           event_history=history.astype({"subject_id": "string", "event": "string",
                                                         "recorded_from": "datetime64[ns]"}),
                           files={"measurements": source.where("measurement") if source.has("measurement") else str(path)})
    return Loaded(cohort, report)


def read_mapping(mapping) -> dict:
    """The concept mapping: the bundled omop_concepts.yaml (None), a dict, or a YAML file (a DataError if unreadable)."""
    if mapping is None:
        return default_mapping()
    if isinstance(mapping, dict):
        return mapping
    try:
        data = load_yaml(Path(mapping).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise DataError(f"cannot read the OMOP mapping: {err}", file=str(mapping)) from None
    if not isinstance(data, dict):
        raise DataError("an OMOP mapping must have sections measurement/condition/observation/drug", file=str(mapping))
    return data


def mapping_rules(entry) -> list[dict]:
    """A mapping entry as its list of rules (one rule may be written without the list)."""
    return entry if isinstance(entry, list) else [entry]


def concept_ids(spec_section: dict, by_key: pd.Series) -> dict[str, list[dict]]:
    """concept_id (string) -> rules, from "VOCAB code" keys (or plain concept ids)."""
    out: dict[str, list[dict]] = {}
    for key, entry in spec_section.items():
        key = str(key).strip()
        ids = [key] if key.isdigit() else by_key.get(key, [])
        for cid in ids:
            out.setdefault(str(cid), []).extend(mapping_rules(entry))
    return out


def birth_fields(given: bool, month: bool, day: bool) -> str:
    """The PERSON fields a birth date is read from: birth_datetime where it is given, else year_of_birth with the
    month_of_birth and day_of_birth given beside it (errors name these, not the canonical birth_date)."""
    if given:
        return "birth_datetime"
    return "/".join(["year_of_birth"] + ["month_of_birth"] * bool(month) + ["day_of_birth"] * bool(day))


def either(names) -> str:
    """Field names of several rows as one text: 'birth_datetime or year_of_birth' (first seen first)."""
    return " or ".join(dict.fromkeys(names))


def _persons(raw, source: _Source, boundary: Boundary, *, index_date) -> tuple[pd.DataFrame, pd.Series]:
    person = raw["person"]
    file = source.where("person")
    require_columns(person, ["person_id", "gender_concept_id", "year_of_birth"], file=file)
    report = boundary.report
    ids = person["person_id"].astype("string").str.strip()
    check_unique_ids(ids, file=file)  # before the look-ups by person id below, which need unique ids
    sex = person["gender_concept_id"].astype("string").str.strip().map(GENDER).astype("string")
    birth = parse_dates(person["birth_datetime"], file=file, column="birth_datetime") \
        if "birth_datetime" in person.columns else pd.Series(pd.NaT, index=person.index, dtype="datetime64[ns]")
    year = pd.to_numeric(person["year_of_birth"], errors="coerce")
    month = pd.to_numeric(person.get("month_of_birth"), errors="coerce") if "month_of_birth" in person else np.nan
    day = pd.to_numeric(person.get("day_of_birth"), errors="coerce") if "day_of_birth" in person else np.nan
    from_parts = pd.to_datetime(pd.DataFrame({"year": year, "month": pd.Series(month, index=person.index).fillna(7),
                                              "day": pd.Series(day, index=person.index).fillna(15)}), errors="coerce")
    imputed = birth.isna() & from_parts.notna() & (pd.Series(month, index=person.index).isna()
                                                   | pd.Series(day, index=person.index).isna())
    report.convert("birth date: month or day missing -> middle of the period", int(imputed.sum()))
    read_from = pd.Series([birth_fields(*known) for known in zip(birth.notna(), pd.Series(month, index=person.index)
                                                                   .notna(), pd.Series(day, index=person.index).notna(),
                                                                   strict=True)], index=person.index)
    boundary.source_fields["birth_date"] = lambda rows: either(read_from.loc[rows])
    birth = birth.fillna(from_parts)

    period_start = pd.Series(dtype="datetime64[ns]")
    index = pd.Series(pd.NaT, index=ids.to_numpy(), dtype="datetime64[ns]")
    if "observation_period" in raw:
        op = raw["observation_period"]
        opfile = source.where("observation_period")
        op_ids = op["person_id"].astype("string").str.strip()
        start = parse_dates(op["observation_period_start_date"], file=opfile, column="observation_period_start_date")
        end = parse_dates(op["observation_period_end_date"], file=opfile, column="observation_period_end_date")
        periods = pd.DataFrame({"subject_id": op_ids.to_numpy(), "start": start.to_numpy(), "end": end.to_numpy()})
        report.kept(table_name(opfile), len(op))
        latest = periods.sort_values("end").groupby("subject_id").last()
        index = latest["end"].reindex(ids.to_numpy())
    if "death" in raw:
        death = raw["death"]
        dfile = source.where("death")
        died = parse_dates(death["death_date"], file=dfile, column="death_date")
        died.index = death["person_id"].astype("string").str.strip().to_numpy()
        died = died.groupby(level=0).min().reindex(ids.to_numpy())
        earlier = (died < index).fillna(False)
        index = index.where(~earlier, died)
        report.kept(table_name(dfile), len(death))
        report.note(f"index date capped at the death date for {int(earlier.sum())} person(s)")
    if index_date is not None:
        if isinstance(index_date, Mapping):
            given = pd.Series({str(k): v for k, v in index_date.items()}).reindex(ids.to_numpy())
            index = parse_dates(given, file="index_date argument", column="index_date")
        else:
            index = pd.Series(pd.Timestamp(index_date), index=ids.to_numpy())
        report.note("index date: given by the caller")
    else:
        report.note("index date: end of the latest observation period (or the death date if earlier)")
    if "observation_period" in raw:
        # Observed at the index date: the period containing it; its start is when records begin.
        joined = periods.merge(index.rename("index").rename_axis("subject_id").reset_index(), on="subject_id")
        inside = joined[(joined["start"] <= joined["index"]) & (joined["index"] <= joined["end"] + pd.Timedelta(days=1))]
        period_start = inside.groupby("subject_id")["start"].min()
    observed_from = period_start.reindex(ids.to_numpy())
    subjects = pd.DataFrame({"subject_id": ids, "sex": sex, "birth_date": birth.astype("datetime64[ns]"),
                             "index_date": index.to_numpy(dtype="datetime64[ns]")}, index=person.index)
    report.kept(table_name(file), len(person))
    return subjects, observed_from


def _measurements(frame, section: dict, by_key, names, codes, source: _Source, boundary: Boundary) -> pd.DataFrame:
    file = source.where("measurement")
    name = table_name(file)
    require_columns(frame, ["person_id", "measurement_concept_id", "measurement_date", "value_as_number"], file=file)
    report = boundary.report
    rules = concept_ids(section, by_key)
    variable_of = {cid: r[0]["variable"] for cid, r in rules.items()}
    concept = frame["measurement_concept_id"].astype("string").str.strip()
    variable = concept.map(variable_of)
    mapped = variable.notna().to_numpy()
    report.count_unmapped(f"{name} concepts", concept[~mapped], label=lambda c: f"{names.get(c, c)} [{c}]")
    report.reject(name, "concept not mapped to a catalogue variable", int((~mapped).sum()))
    frame, variable = frame[mapped], variable[mapped]

    value = pd.to_numeric(frame["value_as_number"].str.strip(), errors="coerce").to_numpy(dtype="float64")
    text = frame["value_as_number"].astype("string").str.strip()
    bad = (text.notna() & (text != "") & np.isnan(value)).to_numpy()
    if bad.any():
        raise DataError("value_as_number is not a number", file=file, column="value_as_number",
                        rows=frame.index[bad][:10].tolist())
    operator = frame["operator_concept_id"].astype("string").str.strip().map(OPERATORS) \
        if "operator_concept_id" in frame.columns else pd.Series(pd.NA, index=frame.index)
    below = operator.isin(["<", "<="]).to_numpy()
    limit = value
    value = np.where(below, value / 2, value)
    code = operator.map(CENSORING).fillna(0).to_numpy(dtype="int8")
    report.convert("measurement: operator '<' (below limit) -> half the limit", int(below.sum()))
    report.convert("measurement: operator '>' (above limit) -> the limit", int(operator.isin([">", ">="]).sum()))

    unit = _units(frame, codes)
    when = frame["measurement_datetime"] if "measurement_datetime" in frame.columns else frame["measurement_date"]
    when = when.where(when.notna() & (when.astype("string").str.strip() != ""), frame["measurement_date"])
    draft = pd.DataFrame({
        "subject_id": frame["person_id"].astype("string").str.strip(),
        "time": parse_dates(when, file=file, column="measurement_datetime"),
        "variable": variable, "value": value, "unit": unit,
        "ref_low": pd.to_numeric(frame.get("range_low"), errors="coerce") if "range_low" in frame else np.nan,
        "ref_high": pd.to_numeric(frame.get("range_high"), errors="coerce") if "range_high" in frame else np.nan,
        "source_column": "value_as_number",
    }, index=frame.index)
    if code.any():  # the operator's interval is what decides a criterion (values.CENSORING)
        draft["censored"], draft["limit"] = code, np.where(code != 0, limit, np.nan)
    missing = np.isnan(value)
    report.reject(name, "value_as_number blank", int(missing.sum()))
    out = finish_measurements(boundary.set_aside(draft, missing), boundary, file=file)
    report.kept(name, len(out))
    return out


def _units(frame: pd.DataFrame, codes: pd.Series) -> pd.Series:
    """The UCUM code (concept_code) of unit_concept_id where the concept is known, else unit_source_value."""
    blank = pd.Series(pd.NA, index=frame.index, dtype="string")
    source_value = frame["unit_source_value"].astype("string").str.strip() if "unit_source_value" in frame else blank
    if "unit_concept_id" not in frame.columns:
        return source_value
    ucum = frame["unit_concept_id"].astype("string").str.strip().map(codes).astype("string")
    return ucum.fillna(source_value)


def _conditions(raw, spec: dict, by_key, names, source: _Source, boundary: Boundary, index: pd.Series,
                observed_from: pd.Series) -> tuple[dict[str, pd.Series], pd.DataFrame | None]:
    """Static subject variables (booleans, diabetes type and diagnosis date) and events at the index date."""
    report = boundary.report
    records = []
    for table, section, concept_col, start_col, end_col in (
            ("condition_occurrence", "condition", "condition_concept_id", "condition_start_date", "condition_end_date"),
            ("observation", "observation", "observation_concept_id", "observation_date", None)):
        if table not in raw:
            continue
        frame, file = raw[table], source.where(table)
        name = table_name(file)
        require_columns(frame, ["person_id", concept_col, start_col], file=file)
        rules = concept_ids(spec.get(section, {}), by_key)
        concept = frame[concept_col].astype("string").str.strip()
        mapped = concept.isin(list(rules)).to_numpy()
        report.reject(name, "concept not mapped to a catalogue variable", int((~mapped).sum()))
        report.kept(name, int(mapped.sum()))
        report.count_unmapped(f"{name} concepts", concept[~mapped], label=lambda c: f"{names.get(c, c)} [{c}]")
        frame = frame[mapped]
        start = parse_dates(frame[start_col], file=file, column=start_col)
        end = parse_dates(frame[end_col], file=file, column=end_col) if end_col and end_col in frame else \
            pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        for cid, subject, s, e in zip(concept[mapped], frame["person_id"].astype("string").str.strip(), start, end,
                                      strict=True):
            for rule in rules[cid]:
                records.append((subject, s, e, rule))
    if "drug_exposure" in raw:
        records += _drug_records(raw["drug_exposure"], spec.get("drug", {}), names, source, boundary, index)

    subjects = index.index
    observed = observed_from.reindex(subjects).notna().to_numpy()
    frame = pd.DataFrame(records, columns=["subject_id", "start", "end", "rule"])
    frame["index"] = frame["subject_id"].map(index)
    before = frame[frame["start"] <= frame["index"]]
    static: dict[str, pd.Series] = {}
    for variable in sorted(static_variables(spec)):
        rows = before[before["rule"].map(lambda r, v=variable: r.get("variable") == v).astype(bool)]
        if variable == "diabetes_type":
            static.update(_diabetes(rows, subjects, observed, report))
        else:
            static[variable] = _boolean_at_index(rows, subjects, observed)
    return static, _mapped_events(frame)


def _boolean_at_index(rows: pd.DataFrame, subjects: pd.Index, observed: np.ndarray) -> pd.Series:
    """True where a record (on or before the index date) says so; with `ongoing_days`, only while ongoing.

    Subjects observed at the index date without such a record are false; the others unknown.
    """
    days = rows["rule"].map(lambda r: r.get("ongoing_days"))
    still = (rows["end"] >= rows["index"]) | (rows["end"].isna()
                                              & ((rows["index"] - rows["start"]).dt.days <= days.fillna(0)))
    hit = rows[(days.isna() | still).to_numpy()]
    out = pd.Series(np.where(observed, False, pd.NA), index=subjects, dtype="boolean")
    if len(hit):
        truth = hit["rule"].map(lambda r: bool(r.get("value", True))).groupby(hit["subject_id"]).max()
        out[truth.index] = truth.astype(bool).to_numpy()
    return out


def _mapped_events(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Dated events from records whose rule names an `event` (e.g. severe_hypoglycemia)."""
    event = frame["rule"].map(lambda r: r.get("event")) if len(frame) else pd.Series(dtype=object)
    rows = frame[event.notna().to_numpy()] if len(frame) else frame
    if rows.empty:
        return None
    return pd.DataFrame({"subject_id": rows["subject_id"].astype("string"), "time": rows["start"],
                         "event": event[rows.index].astype("string"),
                         "severity": pd.array([pd.NA] * len(rows), dtype="Int64")})


def check_mapping(spec: dict, catalogue, *, source: str = "OMOP mapping") -> None:
    """Every rule names a catalogue variable of a kind its section can set, or a catalogue event."""
    for section in ("measurement", "condition", "observation"):
        for key, entry in spec.get(section, {}).items():
            for rule in mapping_rules(entry):
                where = f"{section}.{key}"
                if not isinstance(rule, dict) or ("variable" in rule) == ("event" in rule):
                    raise DataError("each rule needs exactly one of `variable` or `event`", file=source, column=where)
                if "event" in rule:
                    if section == "measurement" or rule["event"] not in catalogue.names("event"):
                        raise DataError(f"{rule['event']!r} is not a catalogue event (or events come from "
                                        "conditions/observations only)", file=source, column=where)
                    continue
                var = catalogue.get(rule["variable"])
                wanted = ("number",) if section == "measurement" else ("boolean", "category")
                if var is None or var.kind not in wanted or (var.kind == "category" and var.name != "diabetes_type"):
                    raise DataError(f"{rule['variable']!r} is not a catalogue {' or '.join(wanted)} variable this "
                                    f"section can set", file=source, column=where)
    for variable in spec.get("drug", {}):
        var = catalogue.get(variable)
        if var is None or var.kind != "boolean":
            raise DataError(f"{variable!r} is not a catalogue boolean variable", file=source, column=f"drug.{variable}")


def static_variables(spec: dict) -> set[str]:
    """The subject columns the conditions, observations and drugs of the mapping set (booleans, diabetes_type)."""
    names = set()
    for section in ("condition", "observation"):
        for entry in spec.get(section, {}).values():
            names |= {r["variable"] for r in mapping_rules(entry) if "variable" in r}
    return names | set(spec.get("drug", {}))


def _diabetes(rows: pd.DataFrame, subjects: pd.Index, observed: np.ndarray, report: LoadReport) -> dict[str, pd.Series]:
    """diabetes_type (most frequent stated type before the index date; ties -> the latest) and diagnosis date."""
    kinds = rows.assign(kind=rows["rule"].map(lambda r: r.get("value")))
    kinds = kinds[kinds["kind"].notna()]
    dtype = pd.Series(np.where(observed, "none", pd.NA), index=subjects, dtype="string")
    diagnosed = pd.Series(pd.NaT, index=subjects, dtype="datetime64[ns]")
    if len(kinds):
        tally = kinds.groupby(["subject_id", "kind"]).agg(n=("start", "size"), last=("start", "max")).reset_index()
        best = tally.sort_values(["subject_id", "n", "last"]).groupby("subject_id").last()["kind"]
        mixed = tally.groupby("subject_id").size()
        report.convert("diabetes_type: records of more than one type -> the most frequent", int((mixed > 1).sum()))
        dtype[best.index] = best.to_numpy()
        first = rows.groupby("subject_id")["start"].min()
        diagnosed[first.index] = first.to_numpy()
    return {"diabetes_type": dtype, "diagnosis_date": diagnosed}


def _drug_records(frame: pd.DataFrame, section: dict, names: pd.Series, source: _Source, boundary: Boundary,
                  index: pd.Series) -> list:
    file = source.where("drug_exposure")
    name = table_name(file)
    require_columns(frame, ["person_id", "drug_concept_id", "drug_exposure_start_date"], file=file)
    concept_name = frame["drug_concept_id"].astype("string").str.strip().map(names).astype("string").str.lower()
    start = parse_dates(frame["drug_exposure_start_date"], file=file, column="drug_exposure_start_date")
    end = parse_dates(frame["drug_exposure_end_date"], file=file, column="drug_exposure_end_date") \
        if "drug_exposure_end_date" in frame else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    supply = pd.to_numeric(frame.get("days_supply"), errors="coerce") if "days_supply" in frame else np.nan
    end = end.fillna(start + pd.to_timedelta(pd.Series(supply, index=frame.index).fillna(0), unit="D"))
    subject = frame["person_id"].astype("string").str.strip()
    records, used = [], np.zeros(len(frame), bool)
    for variable, rule in section.items():
        patterns = [p.lower() for p in rule.get("name_contains", [])]
        hit = concept_name.fillna("").map(lambda n, ps=patterns: any(p in n for p in ps)).to_numpy(dtype=bool)
        window = pd.Timedelta(days=float(rule.get("within_days", 0)))
        current = hit & (start <= subject.map(index)).to_numpy() & (end >= subject.map(index) - window).to_numpy()
        used |= hit
        records += [(s, st, pd.NaT, {"variable": variable}) for s, st in zip(subject[current], start[current], strict=True)]
    boundary.report.reject(name, "drug not mapped to a catalogue variable", int((~used).sum()))
    boundary.report.kept(name, int(used.sum()))
    return records
