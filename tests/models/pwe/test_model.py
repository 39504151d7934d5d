"""The PyMC specification of the PWE model: its log density at fixed points against a hand computation."""

import numpy as np
import pymc as pm
import pytest

from tests.models.pwe.conftest import SMALL_DESIGN, SMALL_EVENT, SMALL_MODEL, SMALL_TIME, hand_log_likelihood
from tmesurv.errors import InputError
from tmesurv.models.pwe.model import build_pwe_model
from tmesurv.models.pwe.settings import PwePriors

SMALL_STEPS = np.array([0.3, -0.72, 0.48])
SMALL_STEP_SD = 0.8


def small_point(model):
    """A fixed point in the model's (transformed) value space; the steps are ``SMALL_STEPS`` in either form."""
    point = {
        "coef_std": np.array([0.4, -0.3, 0.25]),
        "baseline_start": np.float64(-1.7),
        "random_walk_sd_log__": np.float64(np.log(SMALL_STEP_SD)),
    }
    if "baseline_steps_std" in model.initial_point():  # few events per interval: non-centred steps
        return point | {"baseline_steps_std": SMALL_STEPS / SMALL_STEP_SD}
    return point | {"baseline_steps": SMALL_STEPS}


def original_scale(point, design):
    """Coefficients and log baseline on the original design scale, computed by hand from a point."""
    x = design.to_numpy()
    coef = point["coef_std"] / x.std(axis=0)
    steps = point["baseline_steps"] if "baseline_steps" in point else point["baseline_steps_std"] * SMALL_STEP_SD
    centred = point["baseline_start"] + np.concatenate([[0.0], np.cumsum(steps)])
    return coef, centred - x.mean(axis=0) @ coef


def test_model_log_density_matches_hand_computation(likelihood_at, value_point):
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL)
    point = small_point(model)
    assert set(value_point(model, point)) == set(model.initial_point())
    coef, log_baseline = original_scale(point, SMALL_DESIGN)
    expected = hand_log_likelihood(
        SMALL_TIME, SMALL_EVENT, SMALL_DESIGN.to_numpy() @ coef, log_baseline, [3.0, 5.0, 7.0]
    )
    assert likelihood_at(model, point) == pytest.approx(expected.sum(), abs=1e-8)


def test_single_interval_model_log_density(likelihood_at, value_point):
    settings = SMALL_MODEL.model_copy(update={"intervals": 1})
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, settings)
    point = {"coef_std": np.array([0.4, -0.3, 0.25]), "baseline_start": np.float64(-1.7)}
    assert set(value_point(model, point)) == set(model.initial_point())
    x = SMALL_DESIGN.to_numpy()
    coef = point["coef_std"] / x.std(axis=0)
    log_baseline = [point["baseline_start"] - x.mean(axis=0) @ coef]
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, x @ coef, log_baseline, [])
    assert likelihood_at(model, point) == pytest.approx(expected.sum(), abs=1e-8)


def test_rotated_coefficients_keep_the_isotropic_normal_prior(value_point):
    """Sampling along the design's principal axes is the same model: the same prior density on ``coef_std``."""
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL)
    rotation = model["rotation"].get_value()
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    coef_std = np.array([0.4, -0.3, 0.25])
    point = value_point(model, {"coef_std": coef_std}) | {"baseline_start": np.float64(-1.7)}
    prior = model.compile_logp(vars=[model["coef_rotated"]])(model.initial_point() | point)
    expected = pm.logp(pm.Normal.dist(0.0, SMALL_MODEL.priors.coef_sd), coef_std).sum().eval()
    assert prior == pytest.approx(expected, abs=1e-10)
    (standardised,) = model.replace_rvs_by_values([model["coef_std"]])
    at = model.compile_fn(standardised, inputs=model.value_vars, point_fn=True, on_unused_input="ignore")
    np.testing.assert_allclose(at(model.initial_point() | point), coef_std, atol=1e-12)


def test_build_rejects_constant_column():
    design = SMALL_DESIGN.assign(constant=1.0)
    with pytest.raises(InputError, match="constant"):
        build_pwe_model(SMALL_TIME, SMALL_EVENT, design, SMALL_MODEL)


def test_model_coords():
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL)
    assert list(model.coords["term"]) == ["arm", "b_cell_ges", "arm:b_cell_ges"]
    assert len(model.coords["interval"]) == 4


def test_step_parametrisation_follows_events_per_interval(pwe_cohort):
    few = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL)
    assert "baseline_steps_std" in few.initial_point()
    time, event, design = pwe_cohort(seed=3, n=600)
    many = build_pwe_model(time, event, design, SMALL_MODEL)  # hundreds of events in 4 intervals
    assert "baseline_steps" in many.initial_point()
    fixed = SMALL_MODEL.model_copy(update={"priors": PwePriors(random_walk_sd=10.0, random_walk_sd_fixed=True)})
    assert "baseline_levels" in build_pwe_model(time, event, design, fixed).initial_point()
