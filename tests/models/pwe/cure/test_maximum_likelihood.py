"""The flat-prior posterior mode of the cure model equals a maximum-likelihood fit written independently (scipy).

The maximum-likelihood fit below uses its own likelihood: every patient's exposure in every interval (O(n K)), on the
original design scale, minimised by scipy's BFGS. The posterior mode maximises the hand-coded density of
:mod:`tmesurv.models.pwe.cure.density` with every prior so wide it is flat where the likelihood lives (sd 1e4, the
random-walk step sd fixed at 1e4) on the standardised, rotated parameters.
"""

import numpy as np
import pytest
from scipy import optimize

from tests.models.pwe.cure.conftest import flat_prior_mode, zuma7_cohort
from tmesurv.models.pwe.data import interval_cuts

INTERVALS = 8


def independent_negative_log_likelihood(parameters, time, event, x, cuts):
    """Minus the mixture-cure log-likelihood: (intercept, cure coefs, latency coefs, log baseline) on x's scale."""
    p = x.shape[1]
    intercept, cure_coef, coef = parameters[0], parameters[1 : 1 + p], parameters[1 + p : 1 + 2 * p]
    log_baseline = parameters[1 + 2 * p :]
    starts, ends = np.concatenate([[0.0], cuts]), np.concatenate([cuts, [np.inf]])
    exposure = np.clip(np.minimum(time[:, None], ends) - starts, 0.0, None)  # (n, K)
    cumulative = exposure @ np.exp(log_baseline)
    interval = np.searchsorted(cuts, time, side="left")
    eta = x @ coef
    cured = 1.0 / (1.0 + np.exp(-(intercept + x @ cure_coef)))
    uncured_survival = np.exp(-np.exp(eta) * cumulative)
    density = (1 - cured) * np.exp(log_baseline[interval] + eta) * uncured_survival
    return -np.sum(np.where(event == 1, np.log(density), np.log(cured + (1 - cured) * uncured_survival)))


@pytest.mark.parametrize("seed", [2, 7])
def test_flat_prior_mode_equals_the_maximum_likelihood_fit(seed):
    time, event, design = zuma7_cohort(seed)
    ours = flat_prior_mode(time, event, design, INTERVALS)
    x = design.to_numpy()
    arguments = (time, event, x, interval_cuts(time, event, INTERVALS))
    mle_start = np.concatenate([np.zeros(1 + 2 * x.shape[1]), np.full(INTERVALS, np.log(event.sum() / time.sum()))])
    options = {"gtol": 1e-6, "maxiter": 10000}
    mle = optimize.minimize(
        independent_negative_log_likelihood, mle_start, args=arguments, method="BFGS", options=options
    )
    slope = optimize.approx_fprime(mle.x, independent_negative_log_likelihood, 1e-7, *arguments)
    assert np.abs(slope).max() < 1e-3  # a stationary point of the independent likelihood (to finite differences)
    np.testing.assert_allclose(ours, mle.x, rtol=0, atol=2e-6)
    # the cure fractions per arm: the quantity the model is for
    expit = lambda logit: 1 / (1 + np.exp(-logit))  # noqa: E731
    np.testing.assert_allclose(expit(ours[0] + np.array([0.0, ours[1]])), expit(mle.x[0] + np.array([0.0, mle.x[1]])),
                               atol=1e-6)  # fmt: skip
