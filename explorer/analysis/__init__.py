"""What researchers do after the funnel: threshold sensitivity, scenario comparison, representativeness,
outcomes under relaxed criteria. Everything here is arithmetic on the engine's public results
(explorer.engine: evaluate, funnel, final_counts, eligible_mask, baseline_table); see docs/analysis.md.
"""

from explorer.analysis.choices import Choices, choices, choices_of
from explorer.analysis.compare import Comparison, compare, registered
from explorer.analysis.relaxed_outcomes import RelaxedOutcomes, relaxed_outcomes
from explorer.analysis.representativeness import Representativeness, representativeness
from explorer.analysis.sensitivity import Sensitivity, threshold_sensitivity

__all__ = ["Choices", "Comparison", "RelaxedOutcomes", "Representativeness", "Sensitivity", "choices", "choices_of",
           "compare", "registered", "relaxed_outcomes", "representativeness", "threshold_sensitivity"]
