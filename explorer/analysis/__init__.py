"""What researchers do after the funnel: threshold sensitivity, scenario comparison, representativeness,
outcomes under relaxed criteria. Everything here is arithmetic on the engine's public results
(explorer.engine: evaluate, funnel, final_counts, eligible_mask, baseline_table); see docs/analysis.md.

    choices.py             a scenario's eligibility choices in the engine's terms
    rules.py               where a criterion's rule compares one of its parameters
    sensitivity.py         the eligible count across one threshold's range, and its variable's spread
    compare.py             scenario A against B: funnels, counts, table 1, who moves in or out
    representativeness.py  standardised differences (smd.py) and a GIST score, eligible vs screened
    relaxed_outcomes.py    outcomes of the subjects a relaxed scenario adds, beside those it keeps
"""

from explorer.analysis.choices import Choices, choices, choices_of
from explorer.analysis.compare import Comparison, compare, registered
from explorer.analysis.relaxed_outcomes import RelaxedOutcomes, relaxed_outcomes
from explorer.analysis.representativeness import Representativeness, representativeness
from explorer.analysis.sensitivity import Sensitivity, threshold_sensitivity

__all__ = ["Choices", "Comparison", "RelaxedOutcomes", "Representativeness", "Sensitivity", "choices", "choices_of",
           "compare", "registered", "relaxed_outcomes", "representativeness", "threshold_sensitivity"]
