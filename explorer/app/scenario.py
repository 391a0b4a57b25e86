"""A scenario: everything a researcher chose in the dashboard, as plain data.

Trial, data source, enabled criteria, funnel order, threshold changes, unknown policies and
small-cell protection. It round-trips through JSON (save / restore) and through a readable page
address (`?trial=NCT06196996&data=synthetic:t1d:10000:0&off=E7&set=I2.hba1c_min:8`), so a link
reopens the same view. No widgets, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import parse_qs, quote, urlencode

from explorer.engine.privacy import DEFAULT_MIN_CELL, Protection
from explorer.errors import DefinitionError
from explorer.sources import DataSource  # the one data-source description (CLI, dashboard, outcomes)

POLICIES = ("unknown", "pass", "fail")
CELL_METHODS = ("suppress", "round")
# small-cell protection a scenario has unless it says otherwise: none for synthetic data; for real data
# (anything read from a path) k = 11, suppress
SYNTHETIC_PROTECTION = (0, "round")
REAL_DATA_PROTECTION = (DEFAULT_MIN_CELL, "suppress")


def default_protection(source: DataSource) -> tuple[int, str]:
    return SYNTHETIC_PROTECTION if source.kind == "synthetic" else REAL_DATA_PROTECTION


def _method(name: str) -> str:
    if name not in CELL_METHODS:
        raise DefinitionError(f"small-cell method {name!r}; use one of {list(CELL_METHODS)}")
    return name


@dataclass(frozen=True)
class Scenario:
    trial: str = "NCT06196996"
    data: DataSource = field(default_factory=DataSource)
    disabled: tuple[str, ...] = ()
    order: tuple[str, ...] = ()                          # empty: the trial's order
    settings: tuple[tuple[str, str, float], ...] = ()    # (criterion, parameter, value) changed from the file
    policies: tuple[tuple[str, str], ...] = ()           # (criterion, unknown policy) changed from the file
    min_cell: int = 0                                    # 0: no small-cell protection
    # "round" also rounds the other counts to multiples of 5, so a suppressed cell cannot be recovered by
    # subtracting two published counts; "suppress" only blanks small counts
    cell_method: str = "round"

    @property
    def protection(self) -> Protection:
        """The small-cell rule every view and export of this scenario applies (explorer.engine.privacy)."""
        return Protection(self.min_cell, self.cell_method)

    def with_data(self, source: DataSource) -> Scenario:
        """Another data source. Moving from synthetic to real data switches protection on (k = 11,
        suppress) unless it already is: results from patients are protected by default."""
        scenario = replace(self, data=source)
        if source.kind != "synthetic" and not self.min_cell:
            scenario = replace(scenario, min_cell=REAL_DATA_PROTECTION[0], cell_method=REAL_DATA_PROTECTION[1])
        return scenario

    # --- edits (each returns a new scenario) ---------------------------------------------------
    def with_enabled(self, criterion: str, on: bool) -> Scenario:
        disabled = [c for c in self.disabled if c != criterion] + ([] if on else [criterion])
        return replace(self, disabled=tuple(disabled))

    def with_setting(self, criterion: str, parameter: str, value: float) -> Scenario:
        kept = [s for s in self.settings if (s[0], s[1]) != (criterion, parameter)]
        return replace(self, settings=tuple(kept + [(criterion, parameter, float(value))]))

    def with_policy(self, criterion: str, policy: str) -> Scenario:
        if policy not in POLICIES:
            raise DefinitionError(f"unknown policy {policy!r}; use one of {list(POLICIES)}", criterion=criterion)
        kept = [p for p in self.policies if p[0] != criterion]
        return replace(self, policies=tuple(kept + [(criterion, policy)]))

    # --- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data["settings"] = [list(s) for s in self.settings]
        data["policies"] = [list(p) for p in self.policies]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> Scenario:
        if not isinstance(data, dict):
            raise DefinitionError("a scenario must be a JSON object")
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise DefinitionError(f"unknown scenario fields {sorted(unknown)}")
        try:
            source = data.get("data") or {}
            source = DataSource(**source).validate() if isinstance(source, dict) else DataSource.from_text(source)
            default_k, default_method = default_protection(source)
            return cls(
                trial=str(data.get("trial", cls.trial)),
                data=source,
                disabled=tuple(str(c) for c in data.get("disabled", ())),
                order=tuple(str(c) for c in data.get("order", ())),
                settings=tuple((str(c), str(p), float(v)) for c, p, v in data.get("settings", ())),
                policies=tuple((str(c), str(p)) for c, p in data.get("policies", ())),
                min_cell=int(data.get("min_cell", default_k)),
                cell_method=_method(str(data.get("cell_method", default_method))),
            )
        except (TypeError, ValueError) as err:
            raise DefinitionError(f"cannot read the scenario: {err}") from None

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as err:
            raise DefinitionError(f"the scenario is not valid JSON (line {err.lineno}): {err.msg}") from None

    # --- page address --------------------------------------------------------------------------
    def to_query(self) -> str:
        """A readable query string; defaults are left out so links stay short."""
        query: list[tuple[str, str]] = [("trial", self.trial), ("data", self.data.to_text())]
        if self.disabled:
            query.append(("off", ",".join(self.disabled)))
        if self.order:
            query.append(("order", ",".join(self.order)))
        for criterion, parameter, value in self.settings:
            query.append(("set", f"{criterion}.{parameter}:{_number(value)}"))
        for criterion, policy in self.policies:
            query.append(("unknown", f"{criterion}:{policy}"))
        default_k, default_method = default_protection(self.data)
        if self.min_cell != default_k:
            query.append(("min_cell", str(self.min_cell)))
        if self.min_cell and self.cell_method != default_method:
            query.append(("cells", self.cell_method))
        return urlencode(query, quote_via=quote, safe=":,./")

    @classmethod
    def from_query(cls, query: str) -> Scenario:
        params = parse_qs(query.lstrip("?"), keep_blank_values=False)

        def one(name: str, default: str = "") -> str:
            return params.get(name, [default])[-1]

        def listed(name: str) -> tuple[str, ...]:
            return tuple(x for value in params.get(name, []) for x in value.split(",") if x)

        try:
            settings = []
            for item in params.get("set", []):
                target, _, value = item.rpartition(":")
                criterion, _, parameter = target.partition(".")
                settings.append((criterion, parameter, float(value)))
            policies = [tuple(item.split(":", 1)) for item in params.get("unknown", [])]
            data = DataSource.from_text(one("data")) if "data" in params else DataSource()
            default_k, default_method = default_protection(data)
            min_cell = int(one("min_cell", str(default_k)))
            if min_cell < 0:
                raise ValueError(f"min_cell {min_cell} is negative")
            return cls(
                trial=one("trial", cls.trial), data=data,
                disabled=listed("off"), order=listed("order"), settings=tuple(settings),
                policies=tuple((c, p) for c, p in policies), min_cell=min_cell,
                cell_method=_method(one("cells", default_method)),
            )
        except ValueError as err:
            raise DefinitionError(f"cannot read the page address: {err}") from None


def _number(value: float) -> str:
    """A threshold as the address writes it: "70" for a whole number, otherwise the shortest text that reads
    back as the same float (repr). "{:g}" kept six digits, so a link to 7.123456789 opened 7.12346: counts
    that were not the scenario's."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
