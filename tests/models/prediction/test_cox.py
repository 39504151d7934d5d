"""The Cox fit of the validation model and its baselines: Breslow against lifelines, Efron-type by hand.

R's ``riskRegression::predictRisk`` (the Efron-type baseline) is checked on the STRATOS case in
``tests/validation/test_stratos.py``.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from tests.models.prediction.conftest import terms_of
from tmesurv.models.cox.fitting import fit_cox
from tmesurv.models.prediction.cox import breslow_baseline, efron_baseline, fit_validation_model
from tmesurv.models.prediction.terms import validation_design


@pytest.fixture(scope="module")
def breslow_development(development):
    loaded, _ = development
    plan = loaded.config.validation_model_plan()
    plan = dataclasses.replace(plan, spec=plan.spec.model_copy(update={"baseline": "breslow"}))
    model, _, problem = fit_validation_model(loaded, plan)
    assert problem == ""
    return loaded, model


def test_default_baseline_is_efron(development):
    loaded, model = development
    assert model.info.spec.baseline == "efron"
    lp = model.linear_predictor(terms_of(loaded, model.info.spec.terms), loaded.treated)
    times, hazard = efron_baseline(loaded.time("efs"), loaded.event("efs"), lp)
    np.testing.assert_array_equal(model.baseline_time, times)
    np.testing.assert_allclose(model.baseline_hazard, hazard, rtol=1e-13)


def lifelines_fit(time: np.ndarray, event: np.ndarray, design: pd.DataFrame) -> CoxPHFitter:
    """lifelines' Efron fit, converged tightly: an independent reference for the baseline and the risks."""
    frame = design.assign(__time__=time, __event__=event)
    return CoxPHFitter().fit(frame, "__time__", "__event__", fit_options={"precision": 1e-14, "r_precision": 1e-15})


def test_cox_fit_equals_fit_cox_and_lifelines_baseline(breslow_development):
    loaded, model = breslow_development
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
    lifelines = lifelines_fit(cohort.time("efs"), cohort.event("efs"), design).baseline_cumulative_hazard_.iloc[:, 0]
    np.testing.assert_allclose(model.baseline_hazard, lifelines.loc[model.baseline_time], rtol=1e-10)


def test_risk_is_one_minus_baseline_survival_to_the_power_exp_lp(breslow_development):
    loaded, model = breslow_development
    cohort = loaded
    values = terms_of(cohort, model.info.spec.terms)
    event_time = float(model.baseline_time[100])  # at an event time lifelines' interpolation is exact
    fitter = lifelines_fit(
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


def test_efron_baseline_by_hand():
    """Two tied events at time 2 (risks 2 and 3 of a risk set summing to 10) add 1/10 + 1/(10 - 5/2)."""
    time = np.array([1.0, 2.0, 2.0, 2.0, 3.0, 4.0])
    event = np.array([1, 1, 1, 0, 1, 0])
    lp = np.log([1.0, 2.0, 3.0, 1.0, 3.0, 1.0])
    times, hazard = efron_baseline(time, event, lp)
    np.testing.assert_array_equal(times, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(hazard, np.cumsum([1 / 11, 1 / 10 + 1 / 7.5, 1 / 4]), rtol=1e-15)
    _, breslow = breslow_baseline(time, event, lp)
    np.testing.assert_allclose(breslow, np.cumsum([1 / 11, 2 / 10, 1 / 4]), rtol=1e-15)


def test_identical_patients_get_identical_linear_predictors(development):
    loaded, model = development
    values = terms_of(loaded, model.info.spec.terms)
    repeated = values.iloc[np.repeat(np.arange(5), 40)].reset_index(drop=True)
    lp = model.linear_predictor(repeated, np.repeat(loaded.treated[:5], 40))
    assert (lp.reshape(5, 40) == lp.reshape(5, 40)[:, :1]).all()
