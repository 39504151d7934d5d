"""Parameter recovery of the Bayesian PWE model: 90% credible intervals cover the true interaction 85-95% of the time.

Fifty cohorts drawn from a piecewise-exponential model with a known arm x biomarker interaction, each fitted with the
default priors and one compiled model (nutpie reuses it across cohorts of the same shape).
"""

import numpy as np
import pytest

from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

COHORTS, PATIENTS = 50, 240
TRUE_INTERACTION = -0.3  # tests/models/conftest.py INTERACTION
SETTINGS = PweSettings(intervals=4)
SAMPLER = SamplerSettings(draws=400, tune=400, chains=2)


@pytest.mark.slow
@pytest.mark.sampling
def test_ninety_percent_intervals_cover_the_true_interaction(pwe_cohort):
    covered, means = [], []
    for seed in range(COHORTS):
        time, event, design = pwe_cohort(seed=1000 + seed, n=PATIENTS)
        sampler = SAMPLER.model_copy(update={"seed": seed})
        fit = fit_pwe(time, event, design, SETTINGS, sampler, log_likelihood=False)
        draws = fit.posterior["coef"].sel(term="arm:b_cell_ges").to_numpy().ravel()
        lower, upper = np.quantile(draws, [0.05, 0.95])
        covered.append(lower <= TRUE_INTERACTION <= upper)
        means.append(draws.mean())
    coverage = np.mean(covered)
    assert 0.85 <= coverage <= 0.95, coverage
    assert abs(np.mean(means) - TRUE_INTERACTION) < 0.05  # no material bias
