"""Simulation-based calibration of the PWE model's priors, with the default sampler (see ``tests/models/pwe/sbc.py``).

Design: ``SIMULATIONS = 100`` cohorts per model (60 patients, three baseline intervals fixed at 3 and 8 months, about
30 events), one nutpie chain of 200 tuning and 240 draws per fit, thinned by 4 to 59 near-independent draws (the lag-4
autocorrelation of the unthinned draws averages 0.00-0.03 over the simulations for every quantity), so each rank is
uniform on 0..59 under a correct fit. Each quantity's ranks are put in 10 bins of 6 and tested for uniformity with
Pearson's chi-square (9 df) at ``LEVEL = 0.001``; with the 10 quantities of the two models, a correct implementation
fails somewhere with probability at most 1% (Bonferroni). Measured p-values: PH 0.92 (interaction), 0.13 (arm), 0.025
(first level), 0.44 (last level), 0.48 (random-walk scale); time-varying 0.74 and 0.64 (arm log HR in the first and
last interval), 0.90 (time_varying_sd), 0.98 (random-walk scale), 0.29 (biomarker). About 0.6% of the transitions
diverge (137 and 146 of 24,000 per model); the ranks show no bias from them.

Priors: the defaults of the random-walk scale (``Gamma(2, 2 / random_walk_sd)``, mean 1) and of the time-varying sd
(``HalfNormal(0.2)``); the location scales ``coef_sd`` and ``baseline_sd`` are 1 instead of the vague default 10 (the
same density code with another constant). At 10 the prior draws log hazard ratios of 10-27 per sd of a biomarker and
first levels e^10 times the centre: most cohorts have all their events in the first interval or almost none
(measured events per interval: 24-0-0, 34-1-0, 1-1-0, 20-0-0), and nutpie hits the maximum tree depth on half of
them (3 of 6 fits with 392-400 of 400 transitions at depth 10, ESS 1), so SBC at the vague scales tests the degenerate
cohorts' geometry, not the priors. The vague defaults are checked instead against exact quadrature
(``test_quadrature.py``).

Power, measured on these fits by reweighting each posterior's draws by the ratio of a wrong prior to the right one
(which gives the posterior the wrong prior would have had on the same cohort) and asserted below: a gamma hyperprior of
mean 0.5 or 2 instead of 1 fails the random-walk scale's test at p = 1e-10 and 6e-9 (PH model) and 4e-20 (mean 0.5,
time-varying model); a half-normal of scale 0.1 instead of 0.2 fails at p = 1e-30. Not asserted, because 100
simulations do not detect them reliably at this level: mean 2 in the time-varying model (p = 4e-4 on one CPU, 1.2e-3
on another, whose chains differ: the arm's free steps absorb part of a wider baseline walk), and a half-normal of
scale 0.4 (p = 7e-6 here, 0.002 on another 100 simulations: with three intervals the data say little about the arm's
steps).
"""

from dataclasses import replace

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from tests.models.pwe import sbc
from tmesurv.models.pwe.data import pwe_data
from tmesurv.models.pwe.model import pwe_model
from tmesurv.models.pwe.settings import PweSettings

SIMULATIONS = 100
LEVEL = 0.001
PH = PweSettings(intervals=3, priors=sbc.sbc_priors())
TIME_VARYING = PH.model_copy(update={"time_varying": True})
PH_QUANTITIES = {
    "interaction": ("coef", 2),
    "arm": ("coef", 0),
    "first_level": ("log_baseline_centred", 0),
    "last_level": ("log_baseline_centred", 2),
    "random_walk_sd": ("random_walk_sd", None),
}
TIME_VARYING_QUANTITIES = {
    "arm_first_interval": ("coef_time", 0),
    "arm_last_interval": ("coef_time", 2),
    "time_varying_sd": ("time_varying_sd", None),
    "random_walk_sd": ("random_walk_sd", None),
    "biomarker": ("coef", 1),
}
COVERED = (3, 56)  # the central 54 of the 60 rank values: a 90% interval exactly
COVERAGE_BOUNDS = (170, 192)  # of 200 intervals (the PH interaction's and the last interval's arm log HR)


@pytest.fixture(scope="module")
def ph_calibration():
    return sbc.calibrate(SIMULATIONS, PH, PH_QUANTITIES, seed=100)


@pytest.fixture(scope="module")
def time_varying_calibration():
    return sbc.calibrate(SIMULATIONS, TIME_VARYING, TIME_VARYING_QUANTITIES, seed=1000)  # independent of the PH


def _failed(calibration: sbc.Calibration) -> dict[str, tuple[list[int], float]]:
    p_values = {name: sbc.uniformity_p_value(ranks) for name, ranks in calibration.ranks.items()}
    return {name: (sbc.binned(calibration.ranks[name]).tolist(), p) for name, p in p_values.items() if p < LEVEL}


def _wrong_prior_p_value(calibration: sbc.Calibration, name: str, log_ratio) -> float:
    draws = calibration.draws[name]
    fractions = sbc.reweighted_fractions(calibration.truths[name], draws, log_ratio(draws))
    return sbc.fraction_p_value(fractions)


def _gamma_ratio(mean: float):
    """Log density ratio of the random-walk scale's gamma prior with another mean to the default (mean 1)."""
    return lambda s: stats.gamma.logpdf(s, 2.0, scale=mean / 2) - stats.gamma.logpdf(s, 2.0, scale=0.5)


@pytest.mark.slow
@pytest.mark.sampling
def test_ph_model_ranks_are_uniform(ph_calibration):
    assert not _failed(ph_calibration), (_failed(ph_calibration), ph_calibration.divergences)


@pytest.mark.slow
@pytest.mark.sampling
def test_time_varying_model_ranks_are_uniform(time_varying_calibration):
    failed = _failed(time_varying_calibration)
    assert not failed, (failed, time_varying_calibration.divergences)


@pytest.mark.slow
@pytest.mark.sampling
@pytest.mark.parametrize(("model", "mean"), [("ph", 0.5), ("ph", 2.0), ("time_varying", 0.5)])
def test_a_wrong_random_walk_prior_fails_the_calibration(ph_calibration, time_varying_calibration, model, mean):
    calibration = ph_calibration if model == "ph" else time_varying_calibration
    assert _wrong_prior_p_value(calibration, "random_walk_sd", _gamma_ratio(mean)) < LEVEL


@pytest.mark.slow
@pytest.mark.sampling
def test_a_halved_time_varying_prior_fails_the_calibration(time_varying_calibration):
    def halved(s):
        return stats.halfnorm.logpdf(s, scale=0.1) - stats.halfnorm.logpdf(s, scale=0.2)

    assert _wrong_prior_p_value(time_varying_calibration, "time_varying_sd", halved) < LEVEL


@pytest.mark.slow
@pytest.mark.sampling
def test_ninety_percent_intervals_cover_ninety_percent(ph_calibration, time_varying_calibration):
    """90% intervals of the interaction (PH) and of the last interval's arm log HR (time-varying): 200 independent
    intervals, covered 170-192 times. A calibrated 90% interval fails that with probability 1.0%, an 80% interval
    passes it with probability 4.3% (a 99% one 0.1%); the bounds' error probabilities are asserted first."""
    low, high = COVERAGE_BOUNDS
    intervals = 2 * SIMULATIONS
    assert stats.binom.cdf(low - 1, intervals, 0.9) + stats.binom.sf(high, intervals, 0.9) < 0.011
    assert stats.binom.cdf(high, intervals, 0.8) - stats.binom.cdf(low - 1, intervals, 0.8) < 0.044
    ranks = np.concatenate([ph_calibration.ranks["interaction"], time_varying_calibration.ranks["arm_last_interval"]])
    covered = int(((ranks >= COVERED[0]) & (ranks <= COVERED[1])).sum())
    assert low <= covered <= high, covered


@pytest.mark.parametrize("settings", [PH, TIME_VARYING], ids=["ph", "time_varying"])
def test_the_sbc_prior_draws_are_the_pymc_models(settings):
    """The numpy prior sampler of the SBC against PyMC's draws of the model it fits (two-sample KS, 4,000 draws)."""
    rng = np.random.default_rng(7)
    design = sbc.cohort_design(rng, settings.time_varying)
    time, event = rng.uniform(1, 12, sbc.PATIENTS), (rng.uniform(size=sbc.PATIENTS) < 0.5).astype(float)
    data = pwe_data(time, event, design, 3, time_varying=settings.time_varying, cuts=sbc.CUTS)
    data = replace(data, crude_log_rate=sbc.PRIOR_CENTRE)
    names = ["coef", "log_baseline_centred", "random_walk_sd"]
    names += ["coef_time", "time_varying_sd"] if settings.time_varying else []
    with pytest.warns(UserWarning, match="Potential"):
        prior = pm.sample_prior_predictive(
            draws=4000, model=pwe_model(data, list(design.columns), settings), var_names=names, random_seed=3
        ).prior
    arm_scale = float(design["arm"].std(ddof=0))
    draws = (sbc.draw_truth(rng, arm_scale, design.shape[1], settings) for _ in range(4000))
    ours = [sbc.true_values(truth, design, settings) for truth in draws]
    for name in names:
        theirs = prior[name].to_numpy().reshape(4000, -1)
        mine = np.array([np.atleast_1d(values[name]) for values in ours])
        if name == "coef" and settings.time_varying:  # the arm's coef is then the event-weighted average
            theirs, mine = theirs[:, 1:], mine[:, 1:]
        for column in range(theirs.shape[1]):
            assert stats.ks_2samp(theirs[:, column], mine[:, column]).pvalue > 0.001, (name, column)
