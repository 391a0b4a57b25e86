"""How representative the eligible are of the screened population: standardised differences and a GIST score.

Two views, both from the eligibility matrix and the screening:

- **Standardised mean differences** of the key variables, eligible vs screened (explorer.engine's table 1;
  formulas in explorer.analysis.smd). |SMD| >= 0.1 marks a variable on which the eligible differ.
- **GIST** (Generalizability Index for Study Traits): the proportion of the target population (here: the
  screened) that a trial's criteria on its quantitative traits admit. sGIST_k is the share that meets
  criterion k; the multi-trait mGIST is the share that meets every such criterion at once, counted
  jointly per subject, so it keeps the dependencies between traits (He et al. 2016 assumed independent
  traits; GIST 2.0, Sen et al. 2016, models the dependencies). GIST 2.0 weights each patient (trait
  significance scaling, residual distance to a hyper-surface through the traits); those weights are not
  implemented here, every subject weighs 1, so this score is the unweighted proportion and must not be
  reported as GIST 2.0. See docs/analysis.md.

Missing data are three-valued here as everywhere: a subject whose trait is unknown is left out of that
trait's sGIST (it is a share of the known), mGIST is reported over the subjects known on every trait,
and its bounds count the unknown as failing (low) or meeting (high) the criteria.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from explorer.analysis.smd import NEGLIGIBLE
from explorer.engine import FAIL, PASS, UNKNOWN, baseline_table
from explorer.engine.privacy import Protection

REFERENCES = (
    "He Z, Ryan P, Hoxha J, Wang S, Carini S, Sim I, Weng C. Multivariate analysis of the population "
    "representativeness of related clinical studies. J Biomed Inform. 2016;60:66-76. doi:10.1016/j.jbi.2016.01.007",
    "Sen A, Chakrabarti S, Goldstein A, Wang S, Ryan PB, Weng C. GIST 2.0: A scalable multi-trait metric for "
    "quantifying population representativeness of individual clinical studies. J Biomed Inform. 2016;63:325-336. "
    "doi:10.1016/j.jbi.2016.09.003",
)


@dataclass(frozen=True)
class Representativeness:
    """Eligible vs screened: `smd` per variable, `traits` (sGIST per criterion) and the mGIST summary."""

    smd: pd.DataFrame     # variable, level, screened_value, eligible_value, smd, differs (|smd| >= 0.1)
    traits: pd.DataFrame  # criterion, label, known, meeting, sgist
    mgist: float          # share of the subjects known on every trait who meet all of them
    mgist_low: float      # unknown counted as not meeting (share of all screened)
    mgist_high: float     # unknown counted as meeting
    complete: int         # subjects known on every trait
    screened: int

    def protected(self, protection: Protection) -> Representativeness:
        """Under small-cell protection: tables through the one rule, and a share blanked (NaN) wherever the
        subjects it counts as meeting, or as not meeting, are a blanked count (0.98 of 500 publishes 10)."""
        if not protection.on:
            return self

        def share(value, denominator):
            if pd.isna(value) or not denominator:
                return float("nan")
            meeting = round(value * denominator)
            hidden = np.isnan(protection.count(meeting)) or np.isnan(protection.count(denominator - meeting))
            return float("nan") if hidden else value

        traits = protection.table(self.traits)
        traits["sgist"] = [share(v, k) for v, k in zip(self.traits["sgist"], self.traits["known"], strict=True)]
        traits["sgist"] = traits["sgist"].where(traits["known"].notna())
        return replace(self, smd=protection.table(self.smd), traits=traits,
                       mgist=share(self.mgist, self.complete), mgist_low=share(self.mgist_low, self.screened),
                       mgist_high=share(self.mgist_high, self.screened))

    @property
    def definition(self) -> str:
        return ("mGIST: the share of the screened population that meets every quantitative eligibility "
                "criterion at once, each subject weighted 1 (GIST after He et al. 2016 and Sen et al. 2016, "
                "without GIST 2.0's patient weights); 1 = the criteria exclude no one, near 0 = the eligible "
                "are a small corner of the population.")


def quantitative_criteria(matrix, enabled: Iterable[str] | None = None) -> list[str]:
    """The enabled computable criteria with a numeric threshold: GIST's quantitative study traits."""
    ids = set(matrix.ids if enabled is None else enabled)
    return [c.id for c in matrix.criteria if c.id in ids and c.computable and c.parameters]


def representativeness(matrix, screening, *, enabled: Iterable[str] | None = None,
                       policies: Mapping[str, str] | None = None, traits: Iterable[str] | None = None,
                       variables: Iterable[str] | None = None) -> Representativeness:
    """Eligible vs screened (see the module docstring). `traits` overrides the criteria GIST scores."""
    enabled = list(matrix.ids if enabled is None else enabled)
    table = baseline_table(matrix, screening, variables=variables, enabled=enabled, policies=policies)
    smd = table.loc[table["variable"] != "subjects",
                    ["variable", "level", "screened_n", "screened_value", "eligible_n", "eligible_value", "smd"]]
    smd = smd.assign(differs=smd["smd"].abs() >= NEGLIGIBLE).reset_index(drop=True)
    smd.attrs.update(counts=["screened_n", "eligible_n"], percents={},
                     dependent={"eligible_value": "eligible_n", "smd": "eligible_n"})

    chosen = list(traits) if traits is not None else quantitative_criteria(matrix, enabled)
    rows, all_meet, any_unknown, any_fail = [], None, None, None
    n = matrix.n_subjects
    for cid in chosen:
        column = matrix.column(cid)  # raw status: the trait's own verdict, before any unknown policy
        meets, fails, unknown = column == PASS, column == FAIL, column == UNKNOWN
        known = int(n - unknown.sum())
        rows.append({"criterion": cid, "label": matrix.criterion(cid).label, "known": known,
                     "meeting": int(meets.sum()), "sgist": meets.sum() / known if known else np.nan})
        all_meet = meets if all_meet is None else all_meet & meets
        any_unknown = unknown if any_unknown is None else any_unknown | unknown
        any_fail = fails if any_fail is None else any_fail | fails
    frame = pd.DataFrame(rows, columns=["criterion", "label", "known", "meeting", "sgist"])
    frame.attrs.update(counts=["known", "meeting"], percents={}, dependent={"sgist": "known"})
    if all_meet is None:  # no quantitative trait: nobody is excluded on one
        return Representativeness(smd, frame, 1.0, 1.0, 1.0, n, n)
    complete = ~any_unknown
    meeting_complete = int((all_meet & complete).sum())
    return Representativeness(
        smd=smd, traits=frame,
        mgist=meeting_complete / int(complete.sum()) if complete.any() else float("nan"),
        mgist_low=int(all_meet.sum()) / n if n else float("nan"),
        mgist_high=int((~any_fail).sum()) / n if n else float("nan"),
        complete=int(complete.sum()), screened=n)
