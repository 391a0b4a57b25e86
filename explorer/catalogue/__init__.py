"""The variable catalogue: names, kinds, units and plausible ranges every expression and loader share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

import yaml

from explorer.errors import DefinitionError

Kind = Literal["number", "boolean", "category", "event"]
KINDS: tuple[str, ...] = ("number", "boolean", "category", "event")


@dataclass(frozen=True)
class Variable:
    name: str
    kind: Kind
    description: str = ""
    unit: str | None = None
    range: tuple[float, float] | None = None
    categories: tuple[str, ...] = ()
    role: str = "screening"

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.unit is not None:
            out["unit"] = self.unit
        if self.range is not None:
            out["range"] = list(self.range)
        if self.categories:
            out["categories"] = list(self.categories)
        out["role"] = self.role
        if self.description:
            out["description"] = self.description
        return out


def variable_from_dict(name: str, spec: Mapping, *, source: str = "catalogue") -> Variable:
    """Build a Variable from its YAML mapping, with errors that name the variable."""
    if not isinstance(spec, Mapping):
        raise DefinitionError(f"variable {name!r} must be a mapping", file=source, field=name)
    unknown = set(spec) - {"kind", "unit", "range", "categories", "role", "description"}
    if unknown:
        raise DefinitionError(f"variable {name!r} has unknown keys {sorted(unknown)}", file=source, field=name)
    kind = spec.get("kind")
    if kind not in KINDS:
        raise DefinitionError(f"variable {name!r} has kind {kind!r}; use one of {list(KINDS)}",
                              file=source, field=name)
    rng = spec.get("range")
    if rng is not None and (len(rng) != 2 or float(rng[0]) > float(rng[1])):
        raise DefinitionError(f"variable {name!r}: range must be [low, high]", file=source, field=name)
    cats = tuple(str(c) for c in spec.get("categories", ()))
    if kind == "category" and not cats:
        raise DefinitionError(f"category variable {name!r} needs `categories`", file=source, field=name)
    return Variable(
        name=name, kind=kind, description=str(spec.get("description", "")),
        unit=None if spec.get("unit") is None else str(spec["unit"]),
        range=None if rng is None else (float(rng[0]), float(rng[1])),
        categories=cats, role=str(spec.get("role", "screening")),
    )


@dataclass(frozen=True)
class Catalogue:
    """A read-only mapping of variable name -> Variable."""

    variables: Mapping[str, Variable] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def __getitem__(self, name: str) -> Variable:
        return self.variables[name]

    def __iter__(self):
        return iter(self.variables.values())

    def __len__(self) -> int:
        return len(self.variables)

    def get(self, name: str) -> Variable | None:
        return self.variables.get(name)

    def names(self, kind: str | None = None) -> list[str]:
        return [v.name for v in self.variables.values() if kind is None or v.kind == kind]

    def extended(self, extra: Iterable[Variable]) -> Catalogue:
        """A new catalogue with trial-specific variables added (a name may not be redefined)."""
        merged = dict(self.variables)
        for var in extra:
            if var.name in merged and merged[var.name] != var:
                raise DefinitionError(f"variable {var.name!r} is already in the catalogue; choose another name",
                                      field="variables")
            merged[var.name] = var
        return Catalogue(merged)


@cache
def default_catalogue() -> Catalogue:
    """The packaged catalogue (explorer/catalogue/variables.yaml)."""
    text = resources.files(__package__).joinpath("variables.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)["variables"]
    return Catalogue({name: variable_from_dict(name, spec) for name, spec in data.items()})
