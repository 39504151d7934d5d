"""The hand-coded PWE posterior (nutpie's density for the default prior) equals the PyMC model it stands for."""

import numpy as np
import pytest
from scipy import stats

from tmesurv.models.pwe.data import pwe_data
from tmesurv.models.pwe.model import centred_steps, pwe_model
from tmesurv.models.pwe.posterior import expanded_draw, nutpie_model, posterior_layout
from tmesurv.models.pwe.settings import PwePriors, PweSettings

PRIORS = {"random_walk_sd": 0.7, "coef_sd": 2.0, "baseline_sd": 3.0, "time_varying_sd": 0.3}
# PyMC's normal log density differs from the exact one by a constant of about 1e-8 per variable (it depends on sigma
# only, e.g. -1.9e-9 at sigma = 2 and -2.0e-8 at sigma = 3 against scipy), so values agree to that constant.
PYMC_CONSTANT_TOLERANCE = 1e-7

# Intervals, fixed step sd, time-varying arm effect, patients: every baseline form with and without the arm effect.
STRUCTURES = [
    (intervals, fixed, time_varying, n)
    for intervals, fixed, n in [(1, True, 200), (5, True, 200), (5, False, 200), (5, False, 40)]
    for time_varying in (False, True)
]


def prepared(pwe_cohort, intervals, fixed, time_varying, n):
    time, event, design = pwe_cohort(5, n=n)
    priors = PwePriors(random_walk_sd_fixed=fixed, **PRIORS)
    settings = PweSettings(intervals=intervals, time_varying=time_varying, priors=priors)
    data = pwe_data(time, event, design, intervals, time_varying=time_varying)
    return data, settings, pwe_model(data, list(design.columns), settings)


def as_point(model, layout, vector):
    """The flat unconstrained vector as PyMC's value-variable dict."""
    point, position = {}, 0
    for name, length in layout.parameters:
        point[name] = vector[position : position + length].reshape(model.initial_point()[name].shape)
        position += length
    return point


@pytest.mark.parametrize(("intervals", "fixed", "time_varying", "n"), STRUCTURES)
def test_density_and_gradient_equal_the_pymc_model(pwe_cohort, intervals, fixed, time_varying, n):
    data, settings, model = prepared(pwe_cohort, intervals, fixed, time_varying, n)
    compiled = nutpie_model(data, settings, centred_steps(data))
    layout = posterior_layout(data.z.shape[1], data.width.size, settings, centred_steps(data))
    assert [variable.name for variable in model.value_vars] == [name for name, _ in layout.parameters]
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    ours = compiled._make_logp_func()
    rng = np.random.default_rng(intervals + 10 * time_varying + n)
    for _ in range(3):
        vector = rng.normal(0.0, 0.6, layout.size)
        value, gradient = ours(vector, **compiled._shared_data)
        point = as_point(model, layout, vector)
        assert value == pytest.approx(logp(point), abs=PYMC_CONSTANT_TOLERANCE)
        np.testing.assert_allclose(gradient, dlogp(point), rtol=1e-9, atol=1e-9)


def test_density_includes_the_exact_normalising_constants(pwe_cohort):
    """One interval: the likelihood in closed form, and the priors from scipy's exact densities."""
    data, settings, _ = prepared(pwe_cohort, 1, True, False, 200)
    compiled = nutpie_model(data, settings, centred=True)
    vector = np.array([0.1, -0.2, 0.3, -2.0])  # coef_rotated, baseline_start
    value, _ = compiled._make_logp_func()(vector, **compiled._shared_data)
    coef_std = data.rotation @ vector[:3]
    likelihood = data.interval_events[0] * vector[3] + data.event_z @ coef_std
    likelihood -= np.exp(vector[3]) * (np.exp(data.z @ coef_std) * data.offset).sum()
    priors = stats.norm.logpdf(vector[:3], 0, PRIORS["coef_sd"]).sum()
    priors += stats.norm.logpdf(vector[3], data.crude_log_rate, PRIORS["baseline_sd"])
    assert value == pytest.approx(likelihood + priors, abs=1e-10)


@pytest.mark.parametrize("time_varying", [False, True])
def test_expanded_draw_equals_the_pymc_deterministics(pwe_cohort, time_varying):
    data, settings, model = prepared(pwe_cohort, 5, False, time_varying, 200)
    compiled = nutpie_model(data, settings, centred_steps(data))
    layout = posterior_layout(data.z.shape[1], data.width.size, settings, centred_steps(data))
    vector = np.random.default_rng(3).normal(0.0, 0.6, layout.size)
    ours = expanded_draw(vector, layout, **compiled._shared_data)
    names = ["coef_std", "coef", "log_baseline_centred", "log_baseline", "random_walk_sd"]
    names += ["coef_time", "time_varying_sd"] if time_varying else []
    outputs = model.replace_rvs_by_values([model[name] for name in names])  # functions of the values, not draws
    function = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    expected = function(as_point(model, layout, vector))
    for name, value in zip(names, expected, strict=True):
        np.testing.assert_allclose(ours[name], value, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("time_varying", [False, True])
def test_an_underflowing_scale_gives_a_non_finite_density_not_an_error(pwe_cohort, time_varying):
    """Early trajectories can send a log scale far negative: NUTS must see a rejectable value, not an exception."""
    data, settings, _ = prepared(pwe_cohort, 5, False, time_varying, 200)
    compiled = nutpie_model(data, settings, centred_steps(data))
    layout = posterior_layout(data.z.shape[1], data.width.size, settings, centred_steps(data))
    vector = np.zeros(layout.size)
    names = [name for name, _ in layout.parameters]
    vector[sum(length for _, length in layout.parameters[: names.index("random_walk_sd_log__")])] = -800.0
    value, _ = compiled._make_logp_func()(vector, **compiled._shared_data)
    assert not np.isfinite(value)
