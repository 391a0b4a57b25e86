"""The neutral registry record every source reader produces and the importer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutcomeMeasure:
    measure: str
    time_frame: str = ""
    description: str = ""
    primary: bool = True


@dataclass(frozen=True)
class Arm:
    label: str
    type: str = ""
    description: str = ""
    interventions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intervention:
    name: str
    type: str = ""
    description: str = ""
    arms: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegistryRecord:
    """What a registry says about one study, whatever the source format.

    Ages are in years (None = no limit given); `sex` is "all", "female" or "male" (None = not given).
    `eligibility_text` is the eligibility section as published, markdown escapes removed.
    """

    source: str                       # file path (or "<text>")
    source_format: str                # ctgov-json | ctgov-xml | registry-page
    nct_id: str = ""
    title: str = ""
    official_title: str = ""
    acronym: str = ""
    status: str = ""
    phase: str = ""
    study_type: str = ""
    conditions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    sponsor: str = ""
    enrollment: int | None = None
    enrollment_type: str = ""
    summary: str = ""
    arms: tuple[Arm, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    outcomes: tuple[OutcomeMeasure, ...] = ()
    sex: str | None = None
    minimum_age: float | None = None
    maximum_age: float | None = None
    minimum_age_text: str = ""
    maximum_age_text: str = ""
    healthy_volunteers: bool | None = None
    eligibility_text: str = ""
    warnings: tuple[str, ...] = field(default=())
