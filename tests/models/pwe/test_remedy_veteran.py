"""The divergence remedy on R's veteran (tests/reference/veteran.csv): a fit that diverges at the default target
acceptance is re-run at a higher one and comes back clean and converged.

``benchmarks/bench_divergence_remedy.py`` measures every fit of veteran and pbc (veteran: 19 of 24 fits diverge at
0.9, none with the remedy); this test takes one subgroup fit that diverges at 0.9 with the default settings (celltype
adeno, 27 patients: 4 divergences measured; 8 intervals, 4 chains x 1,000 draws after 1,000 tuning steps, seed
20180125) and runs it as ``tmesurv bayes`` does (:func:`~tmesurv.models.pwe.remedy.sample_with_remedy` with the default
``bayes.divergence_reruns``).
"""

from pathlib import Path

import pytest

from tmesurv.cohort import Cohort
from tmesurv.models.cox.subgroups import covariate_grouping
from tmesurv.models.designs import treatment_design
from tmesurv.models.pwe.diagnostics import count_divergences, summarize_pwe
from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.remedy import sample_with_remedy
from tmesurv.models.pwe.settings import PweAnalysisSettings, PweSettings, SamplerSettings

REFERENCE = Path(__file__).parents[2] / "reference"
COVARIATE, LEVEL = "celltype", "adeno"


@pytest.mark.slow
def test_divergent_veteran_subgroup_fit_is_rerun_clean():
    cohort = Cohort.from_config(REFERENCE / "veteran.yaml")
    grouping = covariate_grouping(cohort, COVARIATE)
    members = grouping.cohort.subset(grouping.labels == LEVEL)
    time, event, design = members.time("os"), members.event("os"), treatment_design(members)
    defaults = PweAnalysisSettings()

    def run(sampler: SamplerSettings):
        return fit_pwe(time, event, design, PweSettings(), sampler)

    remedied = sample_with_remedy(run, count_divergences, SamplerSettings(), defaults.divergence_reruns)
    assert remedied.first_divergences > 0  # at target_accept 0.9
    assert remedied.reruns >= 1
    assert remedied.target_accept > 0.9
    assert count_divergences(remedied.result) == 0
    assert summarize_pwe(remedied.result)["converged"].all()
