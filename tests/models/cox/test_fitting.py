"""One Cox fit or the reason it cannot be estimated; the fit equals lifelines' (an independent implementation)."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from tmesurv.models.cox.fitting import fit_cox, fitted_cox, try_fit_cox, wald_table

TIME = np.arange(1.0, 21.0)
EVENT = np.r_[np.ones(10), np.zeros(10)]


@pytest.mark.parametrize(
    ("event", "design", "reason"),
    [
        (np.zeros(20), pd.DataFrame({"x": np.arange(20.0)}), "no events"),
        (EVENT, pd.DataFrame({"x": np.arange(20.0), "c": 1.0}), "'c' takes one value only"),
        (EVENT, pd.DataFrame({"g": np.r_[np.zeros(10), np.ones(10)]}), "no events in one level of 'g' (monotone"),
        # every event has the largest value of its risk set: the likelihood rises for ever
        (EVENT, pd.DataFrame({"x": np.r_[np.arange(20.0, 10.0, -1), np.zeros(10)]}), "the fit did not converge"),
    ],
)
def test_an_inestimable_model_gives_its_reason_not_a_fit(event, design, reason):
    fitter, problem = try_fit_cox(TIME, event, design)
    assert fitter is None
    assert problem.startswith(reason)


def test_an_estimable_model_is_the_plain_fit():
    design = pd.DataFrame({"x": np.random.default_rng(1).normal(size=20)})
    fitter, problem = try_fit_cox(TIME, EVENT, design)
    assert problem is None
    expected = fitted_cox(TIME, EVENT, design)
    np.testing.assert_array_equal(fitter.coef, expected.coef)
    pd.testing.assert_frame_equal(wald_table(fitter), fit_cox(TIME, EVENT, design))


@pytest.mark.parametrize("ties", ["continuous", "rounded"])
def test_fit_equals_lifelines_with_strata_and_ties(ties):
    """Coefficients, covariance and log-likelihood of a stratified model equal lifelines' (Efron ties)."""
    rng = np.random.default_rng(7)
    n = 400
    design = pd.DataFrame({"arm": rng.integers(0, 2, n).astype(float), "b": rng.normal(size=n)})
    design["arm:b"] = design["arm"] * design["b"]
    strata = pd.DataFrame({"s1": rng.integers(0, 2, n), "s2": rng.choice(["a", "b", "c"], n)})
    time = rng.exponential(np.exp(0.3 * strata["s1"] - 0.4 * design["arm"]))
    time = np.round(time, 1) + 0.1 if ties == "rounded" else time
    event = (rng.random(n) < 0.7).astype(float)
    ours = fitted_cox(time, event, design, strata)
    frame = pd.concat([design, strata], axis=1).assign(t=time, e=event)
    options = {"precision": 1e-14, "r_precision": 1e-15}
    reference = CoxPHFitter().fit(frame, "t", "e", strata=["s1", "s2"], fit_options=options)
    np.testing.assert_allclose(ours.coef, reference.params_, rtol=1e-9)
    np.testing.assert_allclose(ours.covariance, reference.variance_matrix_, rtol=1e-8)
    assert ours.loglik == pytest.approx(reference.log_likelihood_, rel=1e-12)
    unstratified = fitted_cox(time, event, design)
    assert abs(unstratified.coef["arm"] - ours.coef["arm"]) > 1e-3  # the strata matter here
