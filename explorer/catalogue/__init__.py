"""The variable catalogue: names, kinds, units and plausible ranges every expression and loader share."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

from explorer.errors import DefinitionError
from explorer.strict_input import load_yaml

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
    rng = _range(name, spec.get("range"), source)
    raw_categories = spec.get("categories", ())
    if isinstance(raw_categories, str) or not isinstance(raw_categories, list | tuple) \
            or any(isinstance(c, dict | list) for c in raw_categories):
        raise DefinitionError(f"variable {name!r}: categories must be a list of labels, e.g. [low, high]",
                              file=source, field=name)
    cats = tuple(str(c) for c in raw_categories)
    if kind == "category" and not cats:
        raise DefinitionError(f"category variable {name!r} needs `categories`", file=source, field=name)
    for key in ("unit", "role", "description"):
        if isinstance(spec.get(key), dict | list):
            raise DefinitionError(f"variable {name!r}: {key} must be text", file=source, field=name)
    return Variable(
        name=name, kind=kind, description=str(spec.get("description", "")),
        unit=None if spec.get("unit") is None else str(spec["unit"]),
        range=rng,
        categories=cats, role=str(spec.get("role", "screening")),
    )


def _range(name: str, rng, source: str) -> tuple[float, float] | None:
    """[low, high] as two finite numbers, low <= high; anything else is a DefinitionError naming the variable."""
    if rng is None:
        return None
    problem = f"variable {name!r}: range must be [low, high], two finite numbers with low <= high"
    if not isinstance(rng, list | tuple) or len(rng) != 2 \
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng):
        raise DefinitionError(f"{problem}; got {str(rng)[:40]}", file=source, field=name)
    try:
        low, high = float(rng[0]), float(rng[1])
    except OverflowError:  # a 400-digit integer does not fit a float
        raise DefinitionError(f"{problem}; a bound is too large", file=source, field=name) from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise DefinitionError(problem, file=source, field=name)
    return low, high


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
    data = load_yaml(text)["variables"]  # strict: a duplicated variable name is an error
    return Catalogue({name: variable_from_dict(name, spec) for name, spec in data.items()})
