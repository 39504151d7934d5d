"""The PWE likelihood kernel and Op against per-patient sums, finite differences and PyTensor's backends."""

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from tmesurv.models.pwe.data import pwe_data, pwe_log_likelihood
from tmesurv.models.pwe.likelihood import exp_into, pwe_log_likelihood_op, pwe_value_and_gradient


def kernel_inputs(data, coef, log_hazard):
    """The kernel's arguments for prepared data."""
    return (coef, log_hazard, data.z, data.offset, data.count, data.stratum, data.boundaries, data.width,
            data.stratum_events, data.event_z)  # fmt: skip


@pytest.fixture
def prepared(pwe_cohort):
    time, event, design = pwe_cohort(3, n=150)
    return time, event, design, pwe_data(time, event, design, 6)


def test_value_is_the_sum_of_per_patient_log_likelihoods(prepared):
    time, event, design, data = prepared
    coef_std = np.array([0.3, -0.2, 0.15])
    log_hazard = np.linspace(-3.5, -2.5, data.width.size)
    value, _, _ = pwe_value_and_gradient(*kernel_inputs(data, coef_std, log_hazard[None, :]))
    # On the original scale: eta = z . b with z = (x - centre) / scale; the centring moves into the baseline.
    x = design.to_numpy(dtype=float)
    eta = (x - data.centre) / data.scale @ coef_std
    expected = pwe_log_likelihood(time, event, eta, log_hazard, data.cuts).sum()
    assert value == pytest.approx(expected, rel=1e-12)


def test_two_strata_are_the_time_varying_per_patient_log_likelihood(prepared):
    time, event, design, _ = prepared
    data = pwe_data(time, event, design, 6, time_varying=True)
    coef_others = np.array([-0.2, 0.15])
    log_hazard = np.linspace(-3.5, -2.5, data.width.size)
    arm_effect = np.linspace(-0.8, 0.1, data.width.size)  # on the arm's 0/1 scale
    arm = design["arm"].to_numpy()
    # Strata: the control arm's log baseline at its own standardised arm value, the treated arm's at its own.
    z_arm = (np.array([0.0, 1.0]) - data.centre[0]) / data.scale[0]
    strata = log_hazard + np.outer(z_arm * data.scale[0], arm_effect)
    coef_others_std = coef_others * data.scale[1:]
    inputs = kernel_inputs(data, coef_others_std, strata)
    value, _, _ = pwe_value_and_gradient(inputs[0], inputs[1], data.z[:, 1:], *inputs[3:-1], data.event_z[1:])
    x = design.to_numpy(dtype=float)
    eta = (x[:, 1:] - data.centre[1:]) @ coef_others
    expected = pwe_log_likelihood(
        time, event, eta, log_hazard + z_arm[0] * data.scale[0] * arm_effect, data.cuts, arm=arm, arm_effect=arm_effect
    ).sum()
    assert value == pytest.approx(expected, rel=1e-12)


def test_gradient_matches_central_differences(prepared):
    *_, data = prepared
    coef = np.array([0.3, -0.2, 0.15])
    log_hazard = np.linspace(-3.5, -2.5, data.width.size)[None, :]
    _, gradient_coef, gradient_log_hazard = pwe_value_and_gradient(*kernel_inputs(data, coef, log_hazard))
    step = 1e-6

    def value(c, a):
        return pwe_value_and_gradient(*kernel_inputs(data, c, a))[0]

    numeric_coef = [(value(coef + step * e, log_hazard) - value(coef - step * e, log_hazard)) / (2 * step)
                    for e in np.eye(coef.size)]  # fmt: skip
    numeric_hazard = [
        (value(coef, log_hazard + step * e) - value(coef, log_hazard - step * e)) / (2 * step)
        for e in np.eye(log_hazard.size).reshape(-1, *log_hazard.shape)
    ]
    np.testing.assert_allclose(gradient_coef, numeric_coef, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gradient_log_hazard.ravel(), numeric_hazard, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("time_varying", [False, True])
@pytest.mark.parametrize("columns", [["arm"], ["arm", "ldh_high", "arm:ldh_high"]])
def test_collapsed_records_give_the_likelihood_of_the_patients(prepared, time_varying, columns):
    time, event, design, _ = prepared
    ldh_high = (design["b_cell_ges"] > 1.0).astype(float)  # a two-level biomarker: four distinct design rows
    design = design.assign(ldh_high=ldh_high, **{"arm:ldh_high": design["arm"] * ldh_high})[columns]
    data = pwe_data(time, event, design, 6, time_varying=time_varying)
    collapsed = data.collapsed()
    assert collapsed.z.shape[0] <= 2 ** len(columns) * data.width.size < data.z.shape[0]
    assert collapsed.count.sum() == data.z.shape[0] == 150
    rng = np.random.default_rng(len(columns) + time_varying)
    first = 1 if time_varying else 0  # with a time-varying arm effect the arm enters through the strata
    for _ in range(3):
        coef = rng.normal(0.0, 0.4, len(columns) - first)
        log_hazard = rng.normal(-3.0, 0.3, data.stratum_events.shape)
        expected, got = (
            pwe_value_and_gradient(coef, log_hazard, d.z[:, first:], *kernel_inputs(d, coef, log_hazard)[3:-1],
                                   d.event_z[first:])
            for d in (data, collapsed)
        )  # fmt: skip
        assert got[0] == pytest.approx(expected[0], rel=1e-12)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(got[2], expected[2], rtol=1e-10, atol=1e-10)


def test_a_continuous_design_is_not_collapsed(prepared):
    *_, data = prepared
    assert data.collapsed() is data  # 150 distinct rows: nothing to gain, the arithmetic stays per patient


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
def test_op_value_and_pytensor_gradient_in_each_backend(prepared, mode):
    *_, data = prepared
    containers = {name: pt.as_tensor_variable(value) for name, value in data.arrays().items() if value is not None}
    coef, log_hazard = pt.dvector("coef"), pt.dvector("log_hazard")
    value = pwe_log_likelihood_op(2.0 * coef, log_hazard[None, :], containers)
    function = pytensor.function([coef, log_hazard], [value, *pt.grad(value, [coef, log_hazard])], mode=mode)
    at_coef, at_hazard = np.array([0.15, -0.1, 0.075]), np.linspace(-3.5, -2.5, data.width.size)
    got = function(at_coef, at_hazard)
    expected = pwe_value_and_gradient(*kernel_inputs(data, 2.0 * at_coef, at_hazard[None, :]))
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(got[1], 2.0 * expected[1], rtol=1e-12)  # the chain rule through 2 * coef
    np.testing.assert_allclose(got[2], expected[2][0], rtol=1e-12)


def test_the_vectorised_exponential_is_within_one_unit_in_the_last_place():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-708.0, 709.7, 200_000), rng.normal(0.0, 3.0, 200_000), np.linspace(-1, 1, 2001)])
    got = np.empty_like(x)
    exp_into(x, got)
    expected = np.array([math.exp(value) for value in x])
    assert np.max(np.abs(got - expected) / expected) <= np.finfo(float).eps  # 2.2e-16: at most one ulp
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 709.78, 709.79, -745.13, -745.14, 1000.0, -1000.0])
    got = np.empty_like(special)
    exp_into(special, got)
    np.testing.assert_array_equal(got[:4], [1.0, 1.0, np.inf, 0.0])
    assert np.isnan(got[4])
    assert got[5] == pytest.approx(math.exp(709.78), rel=1e-15)
    np.testing.assert_array_equal(got[6:], [np.inf, 5e-324, 0.0, np.inf, 0.0])  # overflow, subnormal, underflow
