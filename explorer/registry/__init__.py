"""Registry import: ClinicalTrials.gov (API v2 JSON, legacy XML) and registry text pages -> Trial.

    from explorer.registry import import_trial
    trial, report = import_trial("NCT00006505.xml")

Readers (sources) produce one neutral RegistryRecord; criteria.split_criteria splits the eligibility text;
extract.extract reads computable rules from one criterion; build.trial_from_record assembles the Trial and
an ImportReport (what was read from each criterion, with spans and confidences).

Extraction, one module per step: mentions (where variables are named), values (comparators, numbers,
units), attach (value -> variable, unit conversion), readings (rules as expr trees, built with trees.py),
combine (the criterion's connectors, what is left unread), faithful (no rule says more than its text);
model holds the data passed between them and lexicon every word list and confidence cap.
"""

from explorer.registry.build import (
           AgeCheck,
           CriterionReport,
           ImportReport,
           import_trial,
           import_trials,
           trial_from_record,
)
from explorer.registry.criteria import RawCriterion, split_criteria
from explorer.registry.extract import Extraction, Rule, extract
from explorer.registry.record import RegistryRecord
from explorer.registry.report import render_report
from explorer.registry.sources import read_record, read_records, records_from_text

__all__ = ["AgeCheck", "CriterionReport", "Extraction", "ImportReport", "RawCriterion", "RegistryRecord", "Rule",
           "extract", "import_trial", "import_trials", "read_record", "read_records", "records_from_text",
           "render_report", "split_criteria", "trial_from_record"]
