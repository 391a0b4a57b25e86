"""Trial definitions as data: plain models, YAML load/save, JSON Schema, validation on load.

A trial file is what a researcher reads, diffs and edits (docs/trial-format.md). Models are frozen:
editing a threshold returns a new Trial (`with_parameter`), so a dashboard can keep the original.
No pandas here; engines consume the parsed expression trees.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Mapping
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from explorer import expr
from explorer.catalogue import Catalogue, Variable, default_catalogue, variable_from_dict
from explorer.errors import DefinitionError, ExpressionError
from explorer.strict_input import MAX_DEPTH, RefusedInput, load_json, load_yaml, nesting_depth

FORMAT = "trial-explorer/1"
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]*$"
NAME_PATTERN = r"^[a-z_][a-z0-9_]*$"
SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "trial.schema.json"


# Where a file not saved to disk (a download, stdout) points editors for the schema: beside the file,
# as `trial-explorer schema > trial.schema.json` writes it. Never a path of the machine that wrote it.
DETACHED_SCHEMA_REFERENCE = "trial.schema.json"


def schema_header(saved_at: Path | None = None) -> str:
    """The comment editors (VS Code's YAML extension) read to validate a trial file against the schema.

    Saved to disk: the schema's path relative to the file. Otherwise (a download, printed text) a
    relative reference to `trial.schema.json` beside the file, which `trial-explorer schema` writes.
    """
    if saved_at is None:
        return (f"# yaml-language-server: $schema={DETACHED_SCHEMA_REFERENCE}\n"
                f"# (write the schema beside this file with: trial-explorer schema > {DETACHED_SCHEMA_REFERENCE})\n")
    target = SCHEMA_FILE
    with contextlib.suppress(ValueError):  # another drive on Windows: keep the absolute path
        target = Path(os.path.relpath(SCHEMA_FILE, saved_at.resolve().parent))
    return f"# yaml-language-server: $schema={target.as_posix()}\n"


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.]*\d)")


def relabel(label: str, old: float, new: float, name: str) -> str:
    """A label that states a threshold, after the threshold changed from `old` to `new`.

    When the old value appears exactly once as a number in the label ("HbA1c >= 7.5%"), it is replaced
    ("HbA1c >= 8%"); otherwise the label cannot say which number is meant and the new value is added
    ("... [hba1c_min = 8]"), so a label never states a threshold that is not in force.
    """
    if old == new:
        return label
    matches = [m for m in _NUMBER.finditer(label) if float(m.group()) == old]
    if len(matches) == 1:
        m = matches[0]
        return label[:m.start()] + f"{new:g}" + label[m.end():]
    return f"{label} [{name} = {new:g}]"


class _Model(BaseModel):
    # unknown fields are an error (a typo must not be silently ignored); models are immutable
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(_Model):
    """A named threshold a dashboard can bind to a control without editing the expression."""

    value: float
    unit: str | None = Field(None, description="Must equal the unit of the variable it is compared with")
    min: float = Field(description="Smallest allowed value")
    max: float = Field(description="Largest allowed value")
    step: float | None = Field(None, gt=0, description="Control step")
    label: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _within_range(self) -> Parameter:
        # a slider, a sensitivity curve and a SQL literal need a finite range: inf or +-1e308 made NaN grids
        if not all(math.isfinite(v) for v in (self.value, self.min, self.max, self.max - self.min)):
            raise ValueError(f"value {self.value:g} and range [{self.min:g}, {self.max:g}] must be finite numbers "
                             "with a finite span; give the variable's plausible range")
        if self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is larger than max ({self.max:g})")
        if not self.min <= self.value <= self.max:
            raise ValueError(f"value {self.value:g} is outside its allowed range [{self.min:g}, {self.max:g}]; "
                             f"change the value or widen min/max")
        return self


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> expr.Node:
    return expr.parse(text)


class Criterion(_Model):
    """One inclusion or exclusion criterion: its original text and, when data could decide it, an expression.

    For an inclusion criterion the expression says who is included; for an exclusion criterion it says
    who is excluded. Missing data makes the expression unknown; `unknown` says how to count those
    subjects. A criterion without an expression is non-computable and counted as `assumption` says.
    """

    id: str = Field(pattern=ID_PATTERN, description="Unique within the trial, e.g. I1, E4")
    kind: Literal["inclusion", "exclusion"]
    text: str = Field(min_length=1, description="The criterion as the registry states it")
    label: str | None = Field(None, description="Short name for funnels and controls")
    expression: str | None = Field(None, description="Computable rule in the expression language")
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    unknown: Literal["unknown", "pass", "fail"] = Field(
        "unknown", description="How a subject whose result is unknown counts: kept as unknown (default), pass or fail")
    assumption: Literal["pass", "fail"] = Field(
        "pass", description="For a non-computable criterion: assumed satisfied (pass) or not (fail)")
    note: str | None = Field(None, description="Why this reading of the text; ambiguities and choices")
    source: Literal["criteria", "description"] = Field(
        "criteria", description="Where the criterion comes from: the registry's eligibility list (default), or "
                                "the study description (a reading of the text a user may switch off)")
    enabled: bool = Field(True, description="False: switched off (a scenario saved from the dashboard); the "
                          "criterion stays in the file but is not applied")

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: dict[str, Parameter]) -> dict[str, Parameter]:
        import re
        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"parameter name {name!r} must be lower_case_with_underscores")
        return value

    @property
    def computable(self) -> bool:
        return self.expression is not None

    @property
    def tree(self) -> expr.Node | None:
        return None if self.expression is None else _parse_cached(self.expression)

    @property
    def display_label(self) -> str:
        return self.label or (self.text if len(self.text) <= 60 else self.text[:57] + "...")

    def parameter_values(self) -> dict[str, float]:
        return {name: p.value for name, p in self.parameters.items()}


class Intervention(_Model):
    type: str | None = None
    name: str
    description: str | None = None


class Arm(_Model):
    name: str
    type: str | None = None
    description: str | None = None
    interventions: list[Intervention] = Field(default_factory=list)


class Visit(_Model):
    id: str = Field(pattern=ID_PATTERN)
    day: int = Field(description="Days from the intervention (baseline = 0 or negative)")
    window_days: int | None = Field(None, ge=0, description="Allowed deviation in days")
    label: str | None = None


class Outcome(_Model):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    kind: Literal["primary", "secondary", "other"] = "primary"
    description: str | None = None
    time_frame: str | None = None
    variables: list[str] = Field(min_length=1, description="Catalogue variables it is computed from")
    visits: list[str] | None = Field(None, description="Visit ids; default: every visit of the trial")
    summary: Literal["value", "change", "percent_change", "event_rate", "responder"] = Field(
        "change", description="How the measure is reported")
    note: str | None = None


class Source(_Model):
    registry: str | None = None
    url: str | None = None
    retrieved: str | None = None
    note: str | None = None


class Trial(_Model):
    format: Literal["trial-explorer/1"] = FORMAT
    id: str = Field(pattern=ID_PATTERN, description="Registry id, e.g. NCT06196996")
    title: str
    acronym: str | None = None
    sponsor: str | None = None
    phase: str | None = None
    status: str | None = None
    study_type: str | None = None
    design: str | None = None
    conditions: list[str] = Field(default_factory=list)
    enrollment: int | None = Field(None, ge=0, description="Target enrollment")
    sex: Literal["all", "female", "male"] = "all"
    summary: str | None = None
    arms: list[Arm] = Field(default_factory=list)
    visits: list[Visit] = Field(default_factory=list)
    variables: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Trial-specific variables added to the catalogue (same keys as the catalogue)")
    criteria: list[Criterion] = Field(default_factory=list)
    order: list[str] | None = Field(None, description="Funnel order of criterion ids (default: as listed; "
                                    "criteria left out follow in the listed order)")
    outcomes: list[Outcome] = Field(default_factory=list)
    source: Source | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Trial:
        _check_unique([c.id for c in self.criteria], "criterion", "criteria")
        _check_unique([o.id for o in self.outcomes], "outcome", "outcomes")
        _check_unique([v.id for v in self.visits], "visit", "visits")
        catalogue = self.catalogue
        for criterion in self.criteria:
            _check_criterion(criterion, catalogue)
        ids = {c.id for c in self.criteria}
        for cid in self.order or []:
            if cid not in ids:
                raise DefinitionError(f"order names {cid!r}, which is not a criterion of this trial; criteria are "
                                      f"{[c.id for c in self.criteria]}", field="order")
        if self.order and len(set(self.order)) != len(self.order):
            raise DefinitionError("order lists a criterion twice", field="order")
        visit_ids = {v.id for v in self.visits}
        for outcome in self.outcomes:
            for name in outcome.variables:
                if name not in catalogue:
                    raise DefinitionError(f"outcome {outcome.id} uses unknown variable {name!r}", field="outcomes")
            for visit in outcome.visits or []:
                if visit not in visit_ids:
                    raise DefinitionError(f"outcome {outcome.id} names visit {visit!r}, which is not among the "
                                          f"trial's visits {sorted(visit_ids)}", field="outcomes")
        return self

    @cached_property
    def catalogue(self) -> Catalogue:
        extra = []
        for name, spec in self.variables.items():
            try:
                extra.append(variable_from_dict(name, spec, source=""))
            except DefinitionError as err:  # name the trial file (filled in by the loader) and the field
                raise DefinitionError(err.reason, field=f"variables.{name}") from None
        return default_catalogue().extended(extra)

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise DefinitionError(f"no criterion {criterion_id!r}; the trial has {[c.id for c in self.criteria]}")

    def outcome(self, outcome_id: str) -> Outcome:
        for o in self.outcomes:
            if o.id == outcome_id:
                return o
        raise DefinitionError(f"no outcome {outcome_id!r}; the trial has {[o.id for o in self.outcomes]}")

    @property
    def inclusion(self) -> list[Criterion]:
        return [c for c in self.criteria if c.kind == "inclusion"]

    @property
    def exclusion(self) -> list[Criterion]:
        return [c for c in self.criteria if c.kind == "exclusion"]

    # --- editing returns a new trial ------------------------------------------------------------
    def with_criterion(self, criterion_id: str, **changes: Any) -> Trial:
        """A new trial with one criterion's fields replaced (validated)."""
        self.criterion(criterion_id)  # raises if unknown
        data = self.to_dict()
        for c in data["criteria"]:
            if c["id"] == criterion_id:
                c.update(changes)
                for key in [k for k, v in changes.items() if v is None]:
                    c.pop(key)
        return trial_from_dict(data)

    def with_parameter(self, criterion_id: str, name: str, value: float) -> Trial:
        """A new trial with one threshold changed; the value must lie within the parameter's range."""
        criterion = self.criterion(criterion_id)
        if name not in criterion.parameters:
            raise DefinitionError(f"no parameter {name!r}; this criterion has {sorted(criterion.parameters) or 'none'}",
                                  criterion=criterion_id)
        parameters = {n: p.model_dump(mode="json", exclude_none=True) for n, p in criterion.parameters.items()}
        parameters[name] = {**parameters[name], "value": float(value)}
        changes: dict[str, Any] = {"parameters": parameters}
        if criterion.label:
            changes["label"] = relabel(criterion.label, criterion.parameters[name].value, float(value), name)
        return self.with_criterion(criterion_id, **changes)

    def enabled_ids(self) -> list[str]:
        return [c.id for c in self.criteria if c.enabled]

    # --- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        for criterion in data["criteria"]:
            if criterion.get("enabled", True):
                criterion.pop("enabled", None)  # written only where a criterion is switched off
        return data

    def to_yaml(self, *, saved_at: Path | None = None) -> str:
        body = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)
        return schema_header(saved_at) + body


def _check_unique(ids: list[str], what: str, field: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise DefinitionError(f"duplicate {what} id {i!r}; every {what} needs its own id", field=field,
                                  criterion=i if what == "criterion" else None)
        seen.add(i)


def _check_criterion(criterion: Criterion, catalogue: Catalogue) -> None:
    for name in criterion.parameters:
        if name in catalogue:
            raise DefinitionError(f"parameter {name!r} has the name of a catalogue variable; rename it "
                                  f"(e.g. {name}_min)", criterion=criterion.id, field="parameters")
    if criterion.expression is None:
        if criterion.parameters:
            raise DefinitionError("parameters are declared but there is no expression to use them",
                                  criterion=criterion.id, field="parameters")
        return
    units = {name: p.unit for name, p in criterion.parameters.items()}
    try:
        tree = _parse_cached(criterion.expression)
        expr.check(tree, text=criterion.expression, catalogue=catalogue, parameters=units)
    except ExpressionError as err:
        raise err.located(criterion=criterion.id) from None
    unused = set(criterion.parameters) - expr.names(tree)
    if unused:
        raise DefinitionError(f"parameters {sorted(unused)} are declared but not used in the expression",
                              criterion=criterion.id, field="parameters")


# --- loading -------------------------------------------------------------------------------------

def _criterion_id_at(data: Any, loc: tuple) -> str | None:
    if len(loc) >= 2 and loc[0] == "criteria" and isinstance(loc[1], int):
        try:
            return str(data["criteria"][loc[1]].get("id"))
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
    return None


def _explain(error: dict) -> str:
    kind, msg = error.get("type", ""), error.get("msg", "")
    if kind == "extra_forbidden":
        return "unknown field; check its spelling against docs/trial-format.md or the JSON Schema"
    if kind == "missing":
        return "required field is missing"
    return msg.removeprefix("Value error, ")


def trial_from_dict(data: Any, *, source: str | None = None) -> Trial:
    """Validate a mapping as a Trial; errors name the source, the criterion and the field."""
    if not isinstance(data, Mapping):
        raise DefinitionError(f"a trial definition must be a mapping of fields, got {type(data).__name__}",
                              file=source)
    if nesting_depth(data) > MAX_DEPTH:
        raise DefinitionError(f"nested more than {MAX_DEPTH} levels deep; no definition needs that", file=source)
    try:
        return Trial.model_validate(dict(data))
    except DefinitionError as err:
        raise err.located(file=source) from None
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first.get("loc", ()))
        inner = first.get("ctx", {}).get("error")
        if isinstance(inner, DefinitionError):
            raise inner.located(file=source) from None
        field_path = ".".join(str(p) for p in loc)
        more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
        raise DefinitionError(_explain(first) + more, file=source, criterion=_criterion_id_at(data, loc),
                              field=field_path or None) from None


def _yaml_error(err: yaml.YAMLError, path: str) -> DefinitionError:
    if isinstance(err, RefusedInput):
        return DefinitionError(str(err), file=path)
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(err, "problem", None) or str(err)
    return DefinitionError(f"not valid YAML{where}: {problem}; fix the indentation or quoting there", file=path)


def trial_from_yaml(text: str, *, source: str | None = None) -> Trial:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        raise _yaml_error(err, source or "<text>") from None
    if data is None:
        raise DefinitionError("the file is empty; a trial needs at least id, title and criteria", file=source)
    return trial_from_dict(data, source=source)


def bundled_trials() -> list[str]:
    """Ids of the trial definitions shipped with the package."""
    folder = resources.files("explorer").joinpath("trials")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_trial(ref: str | Path) -> Trial:
    """Load a trial by bundled id (e.g. "NCT06196996") or from the path of any definition file."""
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        if not path.is_file():
            raise DefinitionError(f"no such trial file; bundled trials are {', '.join(bundled_trials())}",
                                  file=str(path))
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DefinitionError("the file is not UTF-8 text; save it as UTF-8 YAML", file=str(path)) from None
        if path.suffix.lower() == ".json":
            try:
                data = load_json(text)
            except json.JSONDecodeError as err:
                raise DefinitionError(f"not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                                      file=str(path)) from None
            except RefusedInput as err:
                raise DefinitionError(str(err), file=str(path)) from None
            return trial_from_dict(data, source=str(path))
        return trial_from_yaml(text, source=str(path))
    name = str(ref)
    if name in bundled_trials():
        resource = resources.files("explorer").joinpath("trials", f"{name}.yaml")
        return trial_from_yaml(resource.read_text(encoding="utf-8"), source=f"{name}.yaml (bundled)")
    raise DefinitionError(f"{name!r} is neither a bundled trial ({', '.join(bundled_trials())}) "
                          f"nor an existing file path")


def save_trial(trial: Trial, path: str | Path) -> Path:
    """Write a trial as YAML (with a schema header editors understand)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(trial.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        path.write_text(trial.to_yaml(saved_at=path), encoding="utf-8")
    return path


def trial_json_schema() -> dict[str, Any]:
    """The JSON Schema of the trial format (published as explorer/schema/trial.schema.json)."""
    schema = Trial.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Trial Explorer trial definition"
    return schema


def variable_catalogue(trial: Trial | None = None) -> list[Variable]:
    return list(trial.catalogue if trial else default_catalogue())
