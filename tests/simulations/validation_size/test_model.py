"""The model, the target population and the cohorts simulated from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tmesurv.simulations.power.study import load_power_study
from tmesurv.simulations.validation_size.chunks import prepared
from tmesurv.simulations.validation_size.model import (
    baseline_scale,
    linear_predictor,
    predicted_risk,
    simulate_cohorts,
)
from tmesurv.simulations.validation_size.study import Setting

from .conftest import write_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    return load_power_study(write_study(folder, follow_up=1000.0, dropout_per_year=0.0))


def test_batched_predictions_equal_the_saved_model(study):
    model, population = prepared(study)
    rows = np.arange(0, len(population), 97)
    values = pd.DataFrame({term: population.terms[term][rows] for term in model.info.spec.terms})
    treated = population.treated[rows].astype(float)
    expected_lp = model.linear_predictor(values, treated)
    np.testing.assert_allclose(population.lp[rows], expected_lp, rtol=0, atol=1e-12)
    lp = linear_predictor(model, {k: v.to_numpy()[None] for k, v in values.items()}, treated[None])[0]
    np.testing.assert_allclose(lp, expected_lp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(predicted_risk(model, lp, 12.0), model.risk(values, treated, [12.0])[:, 0], rtol=1e-14)


@pytest.mark.parametrize(("slope", "oe"), [(1.0, 1.0), (0.8, 1.0), (1.0, 1.25), (1.3, 0.8)])
def test_baseline_scale_gives_the_population_oe(study, slope, oe):
    model, population = prepared(study)
    k = baseline_scale(model, population, 12.0, slope, oe)
    true_risk = -np.expm1(-k * model.cumulative_baseline([12.0])[0] * np.exp(slope * population.lp)).mean()
    assert true_risk / predicted_risk(model, population.lp, 12.0).mean() == pytest.approx(oe, rel=1e-10)
    if (slope, oe) == (1.0, 1.0):
        assert k == pytest.approx(1.0, rel=1e-8)


@pytest.mark.parametrize(("slope", "oe"), [(1.0, 1.0), (0.8, 1.25)])
def test_simulated_outcomes_follow_the_miscalibrated_model(study, slope, oe):
    """Without censoring before the horizon, the share of events by it equals the true risk (4 binomial SE)."""
    model, population = prepared(study)
    cohorts = simulate_cohorts(study, model, population, Setting(0, 4000, slope, oe), range(25))
    by_horizon = (cohorts.event == 1) & (cohorts.time <= 12.0)
    k = baseline_scale(model, population, 12.0, slope, oe)
    true_risk = -np.expm1(-k * model.cumulative_baseline([12.0])[0] * np.exp(slope * cohorts.lp))
    se = np.sqrt((true_risk * (1 - true_risk)).sum()) / true_risk.size
    assert abs(by_horizon.mean() - true_risk.mean()) < 4 * se
    assert by_horizon.mean() / cohorts.risk.mean() == pytest.approx(oe, abs=4 * se / cohorts.risk.mean() + 0.01)
    # the events are a step function's: every event time is a development event time
    assert np.isin(cohorts.time[cohorts.event == 1], model.baseline_time).all()
    # patients are drawn uniformly from the population: its treated share within 4 binomial SE
    share = population.treated.mean()
    assert abs(cohorts.treated.mean() - share) < 4 * np.sqrt(share * (1 - share) / cohorts.treated.size)


def test_replicates_do_not_depend_on_the_chunk(study):
    model, population = prepared(study)
    setting = study.settings()[3]
    whole = simulate_cohorts(study, model, population, setting, range(6))
    part = simulate_cohorts(study, model, population, setting, range(4, 6))
    np.testing.assert_array_equal(whole.time[4:], part.time)
    np.testing.assert_array_equal(whole.lp[4:], part.lp)


def test_calibration_slope_is_the_grid_value(study):
    """The Cox regression of the simulated outcome on lp estimates the grid's slope (pooled, 4 SE)."""
    from tmesurv.simulations.validation_size.metrics import calibration_slope_batch

    model, population = prepared(study)
    cohorts = simulate_cohorts(study, model, population, Setting(0, 3000, 0.8, 1.0), range(8))
    slope, se = calibration_slope_batch(cohorts.time, cohorts.event, cohorts.lp)
    pooled_se = 1 / np.sqrt((1 / se**2).sum())
    pooled = (slope / se**2).sum() * pooled_se**2
    assert abs(pooled - 0.8) < stats.norm.ppf(0.99995) * pooled_se


def test_estimates_equal_tmesurv_validate_on_the_same_cohort(study, tmp_path):
    """End to end: a simulated cohort written as a Cohort and scored by ``tmesurv.validate`` with the saved model."""
    from dataclasses import replace

    from tmesurv import Cohort, validate
    from tmesurv.models.prediction.storage import write_validation_model
    from tmesurv.simulations.validation_size.metrics import analytic_metric

    model, population = prepared(study)
    cohorts = simulate_cohorts(study, model, population, replace(study.settings()[0], n=300), range(1))
    write_validation_model(model, tmp_path / "validation_model.json")
    arms = study.scenario.arms
    frame = pd.DataFrame({"id": [f"P{i}" for i in range(300)], "time": cohorts.time[0]})
    frame["arm"] = np.where(cohorts.treated[0], arms.treated_label, arms.control_label)
    frame["event"] = cohorts.event[0].astype(int)
    for term, values in population.terms.items():
        frame[term] = values[cohorts.rows[0]]
    cohort = Cohort.from_frame(
        frame, treated=arms.treated_label, control=arms.control_label, endpoint="efs", biomarkers=list(population.terms)
    )
    metrics = validate(tmp_path, cohort, horizons=(12.0,), bootstrap=0).metrics
    for name, horizon in (("harrell_c", np.nan), ("calibration_slope", np.nan), ("oe_ratio", 12.0)):
        at_horizon = metrics["horizon"].isna() if np.isnan(horizon) else metrics["horizon"] == horizon
        (expected,) = metrics.loc[(metrics["metric"] == name) & at_horizon, "estimate"]
        assert analytic_metric(name, cohorts, 12.0, 0.05)["estimate"][0] == pytest.approx(expected, rel=1e-12), name
