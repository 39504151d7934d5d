"""The Cox fit of the validation model and its Breslow baseline, against lifelines."""

import numpy as np
import pytest

from tests.models.prediction.conftest import terms_of
from tmesurv.models.cox.fitting import fit_cox, fitted_cox
from tmesurv.models.prediction.cox import breslow_baseline
from tmesurv.models.prediction.terms import validation_design


def test_cox_fit_equals_fit_cox_and_lifelines_baseline(development):
    loaded, model = development
    cohort = loaded
    design = validation_design(
        terms_of(cohort, model.info.spec.terms), cohort.treated, model.info.spec, model.info.terms
    )
    reference = fit_cox(cohort.time("efs"), cohort.event("efs"), design)
    np.testing.assert_allclose(model.coef, reference["coef"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(model.covariance)), reference["se"], rtol=1e-12)
    (log_hr, se), *_ = model.interaction_effects().values()
    assert log_hr == pytest.approx(reference.loc["arm:b_cell_ges", "coef"], abs=1e-12)
    assert se == pytest.approx(reference.loc["arm:b_cell_ges", "se"], rel=1e-12)
    lifelines = fitted_cox(cohort.time("efs"), cohort.event("efs"), design).baseline_cumulative_hazard_.iloc[:, 0]
    np.testing.assert_allclose(model.baseline_hazard, lifelines.loc[model.baseline_time], rtol=1e-10)


def test_risk_is_one_minus_baseline_survival_to_the_power_exp_lp(development):
    loaded, model = development
    cohort = loaded
    values = terms_of(cohort, model.info.spec.terms)
    event_time = float(model.baseline_time[100])  # at an event time lifelines' interpolation is exact
    fitter = fitted_cox(
        cohort.time("efs"),
        cohort.event("efs"),
        validation_design(values, cohort.treated, model.info.spec, model.info.terms),
    )
    design = validation_design(values, cohort.treated, model.info.spec, model.info.terms)
    expected = 1 - fitter.predict_survival_function(design, times=[event_time]).to_numpy()[0]
    np.testing.assert_allclose(model.risk(values, cohort.treated, [event_time])[:, 0], expected, rtol=1e-9)
    lp = model.linear_predictor(values, cohort.treated)
    s0 = np.exp(-model.cumulative_baseline([12.0])[0])
    np.testing.assert_allclose(model.risk(values, cohort.treated, [12.0])[:, 0], 1 - s0 ** np.exp(lp), rtol=1e-12)


def test_breslow_baseline_by_hand():
    time, event, lp = np.array([1.0, 2.0, 2.0, 3.0, 4.0]), np.array([1, 1, 0, 1, 0]), np.log([1.0, 2.0, 1.0, 3.0, 1.0])
    times, hazard = breslow_baseline(time, event, lp)
    np.testing.assert_array_equal(times, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(hazard, np.cumsum([1 / 8, 1 / 7, 1 / 4]), rtol=1e-15)
