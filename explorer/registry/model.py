"""The data passed between the extraction steps: mentions, values, thresholds, rules and a criterion's result."""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer import expr
from explorer.registry import trees


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    variables: tuple[str, ...]   # () = a measurement the catalogue does not hold
    text: str


@dataclass(frozen=True)
class Value:
    start: int
    end: int
    form: str                    # between | fromto | flatpair | cmprange | bp | dash | cmp | trail | bare
    ops: tuple[str, ...]         # one op, or two for a range (">=", "<=")
    numbers: tuple[float, ...]
    units: tuple[str | None, ...]
    uln: bool
    unknown_unit: str = ""


@dataclass(frozen=True)
class Threshold:
    """One comparison read from the text: `variable comparator value unit` (catalogue unit)."""

    variable: str
    comparator: str
    value: float
    unit: str | None
    source_value: float | None = None
    source_unit: str | None = None

    def to_dict(self) -> dict:
        return {"variable": self.variable, "comparator": self.comparator, "value": self.value, "unit": self.unit,
                "source_value": self.source_value, "source_unit": self.source_unit}


@dataclass(frozen=True)
class Rule:
    """One extracted comparison or concept, in catalogue units, with where it came from."""

    variable: str
    tree: expr.Node | None        # None only for a reading that failed (mixed pregnancy wording)
    parameters: dict = field(default_factory=dict, compare=False)
    span: tuple[int, int] = (0, 0)
    source: str = ""
    confidence: float = 0.9
    comparator: str | None = None
    value: float | None = None
    unit: str | None = None
    source_value: float | None = None
    source_unit: str | None = None
    note: str = ""
    thresholds: tuple[Threshold, ...] = ()
    applies_to: str = ""          # "male" / "female": a threshold the text states for one sex only
    group_span: tuple[int, int] | None = None  # the words naming the group a rule holds for ("for women ..."), read

    @property
    def expression(self) -> str:
        """The rule as expression text, printed from its tree."""
        return trees.text(self.tree)

    def to_dict(self) -> dict:
        out = {"variable": self.variable, "expression": self.expression, "span": list(self.span),
               "source": self.source, "confidence": round(self.confidence, 2)}
        if self.thresholds:
            out["thresholds"] = [t.to_dict() for t in self.thresholds]
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Extraction:
    """What came out of one criterion: an expression (or None), its parameters, rules and notes."""

    expression: str | None
    parameters: dict
    rules: tuple[Rule, ...]
    confidence: float
    status: str                  # computable | partial | candidate | none | rejected
    notes: tuple[str, ...] = ()
    candidate: str | None = None  # the reading that was not confident enough, for the note
    uncovered: str = ""
    skipped: tuple[Rule, ...] = ()  # rules read but left to another criterion (age: the registry fields)
    # values read that no rule can hold: no comparator stated (comparator ""), or a glucose of unstated timing
    # (variable "glucose"); reported, never computable (unstated.py)
    unstated: tuple[Threshold, ...] = ()
