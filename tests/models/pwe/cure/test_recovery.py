"""Recovery of the cure model: 90% credible intervals of the arm x biomarker effect on the cure logit cover the truth.

200 cohorts of 300 patients drawn from the mixture-cure model of tests/models/pwe/cure/conftest.py (cure logit
-0.8 + 0.9 arm + 0.2 b + 0.6 arm b; latency log HRs -0.3, 0.2, -0.2; follow-up 36-60 months, so the plateau is
supported), each fitted with the default priors. The number of intervals covering the true 0.6 is binomial; the band
170-190 of 200 (85-95%) passes a correct 90% interval with probability 0.987, an 80% interval with 0.043, an 83% one
with 0.26 and a 97% one with 0.081 (exact binomial): the check separates a correct interval from a wrong one, which 50
cohorts could not (0.77 and 0.19 for the 90% and 80% intervals at 85-95% of 50). The bias of the posterior mean over
the cohorts is reported in the failure message and bounded by 0.1 (a sixth of the effect; the Monte Carlo standard
error of the mean is about 0.03).
"""

import numpy as np
import pytest

from tests.models.pwe.cure.conftest import CURE_LOGIT, simulated_cure_cohort
from tmesurv.models.pwe.cure.fit import fit_cure
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

COHORTS, PATIENTS = 200, 300
COVERED_BOUNDS = (170, 190)
TERM = "arm:b_cell_ges"
SETTINGS = PweSettings(intervals=6)
SAMPLER = SamplerSettings(draws=300, tune=300, chains=2)


@pytest.mark.slow
@pytest.mark.sampling
def test_ninety_percent_intervals_cover_the_cure_interaction():
    truth = CURE_LOGIT[TERM]
    covered, means = [], []
    for seed in range(COHORTS):
        time, event, design, _ = simulated_cure_cohort(2000 + seed, n=PATIENTS, follow_up=(36.0, 60.0))
        fit = fit_cure(time, event, design, SETTINGS, SAMPLER.model_copy(update={"seed": seed}))
        draws = fit.posterior["cure_coef"].sel(term=TERM).to_numpy().ravel()
        lower, upper = np.quantile(draws, [0.05, 0.95])
        covered.append(lower <= truth <= upper)
        means.append(draws.mean())
    bias = float(np.mean(means) - truth)
    report = f"{sum(covered)} of {COHORTS} intervals cover {truth}; bias of the posterior mean {bias:+.3f}"
    assert COVERED_BOUNDS[0] <= sum(covered) <= COVERED_BOUNDS[1], report
    assert abs(bias) < 0.1, report
