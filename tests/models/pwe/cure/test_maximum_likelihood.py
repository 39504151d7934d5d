"""The flat-prior posterior mode of the cure model equals a maximum-likelihood fit written independently (scipy).

The maximum-likelihood fit below uses its own likelihood: every patient's exposure in every interval (O(n K)), on the
original design scale, minimised by scipy's BFGS. The posterior mode maximises the hand-coded density of
:mod:`tmesurv.models.pwe.cure.density` with every prior so wide it is flat where the likelihood lives (sd 1e4, the
random-walk step sd fixed at 1e4) on the standardised, rotated parameters.
"""

import numpy as np
import pytest
from scipy import optimize

from tests.models.pwe.cure.conftest import zuma7_cohort
from tmesurv.models.pwe.cure.density import cure_layout, expanded_draw, nutpie_cure_model
from tmesurv.models.pwe.cure.likelihood import cure_data
from tmesurv.models.pwe.settings import PwePriors, PweSettings

WIDE = 1e4
FLAT = PwePriors(coef_sd=WIDE, baseline_sd=WIDE, random_walk_sd=WIDE, random_walk_sd_fixed=True,
                 cure_intercept_sd=WIDE, cure_coef_sd=WIDE)  # fmt: skip
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
    data = cure_data(time, event, design, INTERVALS)
    settings = PweSettings(intervals=INTERVALS, priors=FLAT)
    compiled = nutpie_cure_model(data, settings)
    layout = cure_layout(data, settings)
    logp = compiled._make_logp_func()

    def negative(vector):
        value, gradient = logp(vector, **compiled._shared_data)
        return -value, -gradient

    start = np.zeros(layout.size)
    start[layout.n_terms : layout.n_terms + layout.n_intervals] = data.pwe.crude_log_rate
    mode = optimize.minimize(negative, start, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 5000})
    assert np.abs(negative(mode.x)[1]).max() < 1e-5  # a stationary point (BFGS may stop on precision loss there)
    at_mode = expanded_draw(mode.x, layout, **compiled._shared_data)
    ours = np.concatenate([[at_mode["cure_intercept"]], at_mode["cure_coef"], at_mode["coef"], at_mode["log_baseline"]])

    x = design.to_numpy()
    arguments = (time, event, x, data.pwe.cuts)
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
