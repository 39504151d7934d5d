"""Derived quantities of a Bayesian fit of the validation model, from a fake point-mass posterior."""

import numpy as np
import pytest

from tests.models.prediction.conftest import terms_of
from tmesurv.models.prediction.info import ModelInfo
from tmesurv.models.prediction.posterior import PosteriorModel
from tmesurv.models.prediction.terms import validation_design
from tmesurv.models.pwe.data import pwe_log_likelihood


@pytest.fixture
def point_mass(development) -> PosteriorModel:
    """A posterior whose 50 draws all equal the Cox coefficients, with a two-interval baseline."""
    _, model = development
    info = ModelInfo(model.info.spec, "efs", (6.0, 12.0), model.info.development, {}, "test")
    coef = np.tile(model.coef, (50, 1))
    return PosteriorModel(info, coef, np.tile(np.log([0.05, 0.08]), (50, 1)), np.array([5.0]))


def test_point_mass_posterior_predictions_by_hand(point_mass, development):
    loaded, _ = development
    values, treated = terms_of(loaded, point_mass.info.spec.terms).iloc[:30], loaded.treated[:30]
    eta = (
        validation_design(values, treated, point_mass.info.spec, point_mass.info.terms).to_numpy() @ point_mass.coef[0]
    )
    np.testing.assert_allclose(point_mass.linear_predictor(values, treated), eta, rtol=1e-12)
    hazard_at = {3.0: 0.05 * 3, 8.0: 0.05 * 5 + 0.08 * 3}
    expected = np.stack([1 - np.exp(-np.exp(eta) * h) for h in hazard_at.values()], axis=1)
    np.testing.assert_allclose(point_mass.risk(values, treated, list(hazard_at)), expected, rtol=1e-12)
    time, event = np.linspace(1, 10, 30), np.tile([1, 0, 1], 10)
    own = pwe_log_likelihood(time, event, eta, np.log([0.05, 0.08]), np.array([5.0]))
    np.testing.assert_allclose(point_mass.log_predictive_density(values, treated, time, event), own, rtol=1e-12)
    effect = (pytest.approx(point_mass.coef[0, -1], abs=1e-15), pytest.approx(0.0, abs=1e-15))  # sd of equal draws
    assert point_mass.interaction_effects() == {"b_cell_ges": effect}


def test_simulated_event_times_invert_the_cumulative_hazard(point_mass, development):
    loaded, _ = development
    values, treated = terms_of(loaded, point_mass.info.spec.terms), loaded.treated
    times = point_mass.draw_event_times(values, treated, 20, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    rng.choice(50, size=20, replace=False)
    exponential = rng.exponential(size=times.shape)
    eta = point_mass.eta(values, treated)[:20]
    cumulative = -pwe_log_likelihood(times[0], np.zeros(times.shape[1]), eta[0], np.log([0.05, 0.08]), np.array([5.0]))
    np.testing.assert_allclose(cumulative, exponential[0], rtol=1e-10)
    assert (times > 0).all()
