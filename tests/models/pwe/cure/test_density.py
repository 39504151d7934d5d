"""The hand-coded cure posterior (nutpie's density) equals the PyMC model it stands for, value and gradient."""

import numpy as np
import pytest

from tmesurv.models.pwe.cure.density import cure_layout, expanded_draw, nutpie_cure_model
from tmesurv.models.pwe.cure.likelihood import cure_data
from tmesurv.models.pwe.cure.model import cure_model
from tmesurv.models.pwe.settings import PwePriors, PweSettings

PRIORS = {"random_walk_sd": 0.7, "coef_sd": 2.0, "baseline_sd": 3.0, "cure_intercept_mean": -0.4}
PRIORS |= {"cure_intercept_sd": 1.3, "cure_coef_sd": 1.1}
# PyMC's normal log density differs from the exact one by a constant of about 1e-8 per variable (see
# tests/models/pwe/test_posterior.py); the gradient has no such constant.
PYMC_CONSTANT_TOLERANCE = 1e-7

# Intervals, fixed step sd, patients: every baseline form (single, levels, centred, non-centred steps).
STRUCTURES = [(1, True, 200), (5, True, 200), (5, False, 200), (5, False, 40)]


def prepared(cure_cohort, intervals, fixed, n):
    time, event, design, _ = cure_cohort(5, n=n)
    settings = PweSettings(intervals=intervals, priors=PwePriors(random_walk_sd_fixed=fixed, **PRIORS))
    data = cure_data(time, event, design, intervals)
    return data, settings, cure_model(data, list(design.columns), settings)


def as_point(model, layout, vector):
    """The flat unconstrained vector as PyMC's value-variable dict."""
    point, position = {}, 0
    for name, length in layout.parameters:
        point[name] = vector[position : position + length].reshape(model.initial_point()[name].shape)
        position += length
    return point


@pytest.mark.parametrize(("intervals", "fixed", "n"), STRUCTURES)
def test_density_and_gradient_equal_the_pymc_model(cure_cohort, intervals, fixed, n):
    data, settings, model = prepared(cure_cohort, intervals, fixed, n)
    compiled = nutpie_cure_model(data, settings)
    layout = cure_layout(data, settings)
    assert [variable.name for variable in model.value_vars] == [name for name, _ in layout.parameters]
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    ours = compiled._make_logp_func()
    rng = np.random.default_rng(intervals + n + fixed)
    for _ in range(4):
        vector = rng.normal(0.0, 0.8, layout.size)
        value, gradient = ours(vector, **compiled._shared_data)
        point = as_point(model, layout, vector)
        assert value == pytest.approx(logp(point), abs=PYMC_CONSTANT_TOLERANCE)
        np.testing.assert_allclose(gradient, dlogp(point), rtol=1e-8, atol=1e-8)


def test_expanded_draw_equals_the_pymc_deterministics(cure_cohort):
    data, settings, model = prepared(cure_cohort, 5, False, 200)
    compiled = nutpie_cure_model(data, settings)
    layout = cure_layout(data, settings)
    vector = np.random.default_rng(3).normal(0.0, 0.6, layout.size)
    ours = expanded_draw(vector, layout, **compiled._shared_data)
    names = ["coef_std", "coef", "log_baseline_centred", "log_baseline", "random_walk_sd"]
    names += ["cure_coef_std", "cure_coef", "cure_intercept"]
    outputs = model.replace_rvs_by_values([model[name] for name in names])
    function = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    expected = function(as_point(model, layout, vector))
    for name, value in zip(names, expected, strict=True):
        np.testing.assert_allclose(ours[name], value, rtol=1e-12, err_msg=name)
