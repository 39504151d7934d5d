"""One Cox fit or the reason it cannot be estimated: the one place that catches lifelines' non-convergence."""

import numpy as np
import pandas as pd
import pytest

from tmesurv.models.cox.fitting import fit_cox, fitted_cox, try_fit_cox, wald_table

TIME = np.arange(1.0, 21.0)
EVENT = np.r_[np.ones(10), np.zeros(10)]


@pytest.mark.parametrize(
    ("event", "design", "reason"),
    [
        (np.zeros(20), pd.DataFrame({"x": np.arange(20.0)}), "no events"),
        (EVENT, pd.DataFrame({"x": np.arange(20.0), "c": 1.0}), "'c' takes one value only"),
        (EVENT, pd.DataFrame({"g": np.r_[np.zeros(10), np.ones(10)]}), "no events in one level of 'g' (monotone"),
        # every event has the largest value of its risk set: the likelihood rises for ever, lifelines warns
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
    np.testing.assert_array_equal(fitter.params_, expected.params_)
    pd.testing.assert_frame_equal(wald_table(fitter), fit_cox(TIME, EVENT, design))
