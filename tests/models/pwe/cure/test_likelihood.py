"""The mixture-cure likelihood -- kernel, numpy per-patient values and PyMC potential -- against a hand computation."""

import math

import numpy as np
import pytest

from tests.models.pwe.conftest import SMALL_DESIGN, SMALL_EVENT, SMALL_TIME, hand_log_likelihood
from tmesurv.models.pwe.cure.likelihood import cure_data, cure_log_likelihood, cure_value_and_gradient
from tmesurv.models.pwe.cure.model import build_cure_model
from tmesurv.models.pwe.settings import PweSettings

CUTS = [3.0, 5.0, 7.0]  # SMALL_TIME's event-time quartiles (tests/models/pwe/conftest.py)
COEF = np.array([-0.4, 0.3, 0.2])  # latency log HRs on the original scale
LOG_BASELINE = np.array([-2.1, -1.6, -1.9, -1.2])
CURE_COEF = np.array([0.8, -0.25, 0.35])  # log odds ratios of cure
CURE_INTERCEPT = -0.6


def hand_cure_log_likelihood(time, event, x, coef, log_baseline, cuts, cure_intercept, cure_coef):
    """Explicit loops: the cumulative hazard interval by interval, then the mixture's density or survival."""
    bounds = [0.0, *cuts, math.inf]
    result = []
    for t, d, row in zip(time, event, x, strict=True):
        cumulative, hazard_at_t = 0.0, None
        for k in range(len(bounds) - 1):
            start, end = bounds[k], bounds[k + 1]
            cumulative += math.exp(log_baseline[k]) * max(0.0, min(t, end) - start)
            if start < t <= end or (k == 0 and t == 0):
                hazard_at_t = math.exp(log_baseline[k])
        relative = math.exp(float(row @ coef))
        uncured_survival = math.exp(-relative * cumulative)
        cured = 1.0 / (1.0 + math.exp(-(cure_intercept + float(row @ cure_coef))))
        if d == 1:
            result.append(math.log((1.0 - cured) * hazard_at_t * relative * uncured_survival))
        else:
            result.append(math.log(cured + (1.0 - cured) * uncured_survival))
    return np.array(result)


def expected():
    x = SMALL_DESIGN.to_numpy()
    args = (SMALL_TIME, SMALL_EVENT, x, COEF, LOG_BASELINE, CUTS, CURE_INTERCEPT, CURE_COEF)
    return hand_cure_log_likelihood(*args)


def standardised():
    """The parameters on the standardised design the kernel and the PyMC model use."""
    x = SMALL_DESIGN.to_numpy()
    centre, scale = x.mean(axis=0), x.std(axis=0)
    return {
        "coef_std": COEF * scale,
        "log_hazard": LOG_BASELINE + centre @ COEF,
        "cure_std": CURE_COEF * scale,
        "intercept": CURE_INTERCEPT + centre @ CURE_COEF,
    }


def test_per_patient_log_likelihood_equals_hand_computation():
    x = SMALL_DESIGN.to_numpy()
    values = cure_log_likelihood(SMALL_TIME, SMALL_EVENT, x @ COEF, LOG_BASELINE, np.array(CUTS),
                                 CURE_INTERCEPT + x @ CURE_COEF)  # fmt: skip
    np.testing.assert_allclose(values, expected(), rtol=0, atol=1e-12)


def test_kernel_value_equals_hand_computation():
    data = cure_data(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, intervals=4)
    np.testing.assert_allclose(data.pwe.cuts, CUTS)
    point = standardised()
    pwe = data.pwe
    value, *_ = cure_value_and_gradient(
        point["intercept"], point["cure_std"], point["coef_std"], point["log_hazard"], pwe.z, data.event,
        pwe.offset, pwe.boundaries, pwe.width,
    )  # fmt: skip
    assert value == pytest.approx(expected().sum(), abs=1e-10)


def test_pymc_potential_equals_hand_computation():
    model = build_cure_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, PweSettings(intervals=4))
    point = standardised()
    steps = np.diff(point["log_hazard"])
    step_sd = 0.8
    values = {
        "coef_rotated": model["rotation"].get_value().T @ point["coef_std"],
        "baseline_start": np.float64(point["log_hazard"][0]),
        "random_walk_sd_log__": np.float64(np.log(step_sd)),
        "baseline_steps_std": steps / step_sd,  # few events per interval: non-centred steps
        "cure_intercept_centred": np.float64(point["intercept"]),
        "cure_coef_rotated": model["cure_rotation"].get_value().T @ point["cure_std"],
    }
    assert set(values) == set(model.initial_point())
    (likelihood,) = model.replace_rvs_by_values([model["log_likelihood"]])
    function = model.compile_fn(likelihood, inputs=model.value_vars, point_fn=True, on_unused_input="ignore")
    assert float(function(values)) == pytest.approx(expected().sum(), abs=1e-8)


def test_no_cure_is_the_proportional_hazards_likelihood():
    """As the cure logit goes to minus infinity the mixture is the PWE model (hand likelihood of the PH tests)."""
    x = SMALL_DESIGN.to_numpy()
    values = cure_log_likelihood(SMALL_TIME, SMALL_EVENT, x @ COEF, LOG_BASELINE, np.array(CUTS),
                                 np.full(len(x), -60.0))  # fmt: skip
    ph = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, x @ COEF, LOG_BASELINE, CUTS)
    np.testing.assert_allclose(values, ph, rtol=0, atol=1e-12)


def test_kernel_gradient_equals_finite_differences():
    """Central differences of the kernel's own value (step 1e-6) in every parameter."""
    data = cure_data(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, intervals=4)
    pwe, point = data.pwe, standardised()
    flat = np.concatenate([[point["intercept"]], point["cure_std"], point["coef_std"], point["log_hazard"]])

    def kernel(vector):
        return cure_value_and_gradient(vector[0], vector[1:4], vector[4:7], vector[7:], pwe.z, data.event,
                                       pwe.offset, pwe.boundaries, pwe.width)  # fmt: skip

    _, *gradients = kernel(flat)
    gradient = np.concatenate([[gradients[0]], *gradients[1:]])
    step = 1e-6
    units = np.eye(flat.size)
    numeric = [(kernel(flat + step * unit)[0] - kernel(flat - step * unit)[0]) / (2 * step) for unit in units]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize(
    ("intercept_shift", "hazard_shift"),
    [(40.0, 0.0), (-40.0, 0.0), (-700.0, 6.5), (-40.0, 6.5)],
    ids=["almost-all-cured", "almost-none-cured", "both-terms-underflow", "survival-underflows"],
)
def test_kernel_at_extreme_cure_fractions_equals_the_per_patient_logs(intercept_shift, hazard_shift):
    """Far in the tails -- pi within 1e-17 of 1 or 0, and pi + (1 - pi) S_u below 1e-280, where the kernel sums in
    logs -- its value equals the per-patient values computed with logaddexp, and its gradient the differences."""
    data = cure_data(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, intervals=4)
    pwe, point = data.pwe, standardised()
    intercept, log_hazard = point["intercept"] + intercept_shift, point["log_hazard"] + hazard_shift
    x = SMALL_DESIGN.to_numpy()
    centre = x.mean(axis=0)
    reference = cure_log_likelihood(
        SMALL_TIME, SMALL_EVENT, (x - centre) @ COEF, log_hazard, np.array(CUTS),
        intercept + (x - centre) @ CURE_COEF,
    ).sum()  # fmt: skip

    def kernel(vector):
        return cure_value_and_gradient(vector[0], vector[1:4], vector[4:7], vector[7:], pwe.z, data.event,
                                       pwe.offset, pwe.boundaries, pwe.width)  # fmt: skip

    flat = np.concatenate([[intercept], point["cure_std"], point["coef_std"], log_hazard])
    value, *gradients = kernel(flat)
    assert value == pytest.approx(reference, rel=1e-12)
    gradient = np.concatenate([[gradients[0]], *gradients[1:]])
    step = 1e-6
    units = np.eye(flat.size)
    numeric = [(kernel(flat + step * unit)[0] - kernel(flat - step * unit)[0]) / (2 * step) for unit in units]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-6)
