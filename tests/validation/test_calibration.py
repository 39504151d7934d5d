"""O/E, calibration-in-the-large, calibration slope and the smoothed calibration curve (Austin et al. 2020) against
R: survfit, coxph on the linear predictor, and coxph(Surv ~ rms::rcs(cll, 3)) with survfit.coxph."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.validation.calibration import (
    _rcs_basis,
    calibration_curve,
    calibration_in_the_large,
    calibration_slope,
    observed_risk,
    oe_ratio,
)

REFERENCE = Path(__file__).parents[1] / "reference"
TOL = 1e-10
COX_TOL = 1e-9  # Newton-Raphson fits converged to relative log-likelihood change 1e-10 here and in R


def outcome(external):
    return external["time"].to_numpy(), external["event"].to_numpy()


@pytest.mark.parametrize("horizon", [3, 5])
def test_observed_risk_oe_and_calibration_in_the_large_equal_r(external, reference, horizon):
    time, event = outcome(external)
    risk = external[f"risk_{horizon}"]
    assert observed_risk(time, event, horizon) == pytest.approx(reference("observed_risk", horizon), abs=TOL)
    assert oe_ratio(time, event, risk, horizon) == pytest.approx(reference("oe_ratio", horizon), abs=TOL)
    ours = calibration_in_the_large(time, event, risk, horizon)
    assert ours == pytest.approx(reference("calibration_in_the_large", horizon), abs=TOL)


@pytest.mark.parametrize("censor_at", [None, 5])
def test_calibration_slope_equals_r_coxph(external, reference, censor_at):
    time, event = outcome(external)
    ours = calibration_slope(time, event, external["lp"], censor_at)
    assert ours == pytest.approx(reference("calibration_slope", censor_at), abs=COX_TOL)


@pytest.mark.parametrize("horizon", [3, 5])
def test_calibration_curve_equals_r_coxph_rcs(external, reference, horizon):
    time, event = outcome(external)
    risk = external[f"risk_{horizon}"].to_numpy()
    grid_reference = pd.read_csv(REFERENCE / "validation_calibration_grid.csv").query("horizon == @horizon")
    curve = calibration_curve(time, event, risk, horizon, grid=grid_reference["predicted"].to_numpy())
    np.testing.assert_allclose(curve.patient_observed[0], external[f"cal_{horizon}"], atol=COX_TOL, rtol=0)
    np.testing.assert_allclose(curve.observed[0], grid_reference["observed"], atol=COX_TOL, rtol=0)
    for name in ("ici", "e50", "e90"):
        assert getattr(curve, name)[0] == pytest.approx(reference(name, horizon), abs=COX_TOL)
    # The paper's own code (rms::cph + survest) stops Newton-Raphson earlier: its ICI differs by about 4e-7.
    assert curve.ici[0] == pytest.approx(reference("ici_rms", horizon), abs=1e-6)


def test_default_grid_is_the_papers(external):
    """seq(quantile(risk, 0.01), quantile(risk, 0.99), length = 100), as in Austin et al.'s code."""
    time, event = outcome(external)
    grid = pd.read_csv(REFERENCE / "validation_calibration_grid.csv").query("horizon == 3")["predicted"]
    curve = calibration_curve(time, event, external["risk_3"].to_numpy(), 3)
    np.testing.assert_allclose(curve.grid, grid, atol=TOL, rtol=0)


def test_rcs_basis_by_hand():
    """Knots 0, 1, 2: the nonlinear term is ((x)+^3 - 2 (x - 1)+^3 + (x - 2)+^3) / 4 (Harrell's norm = 2)."""
    x = np.array([[-1.0, 0.5, 1.5, 3.0]])
    basis = _rcs_basis(x, np.array([[0.0, 1.0, 2.0]]))
    expected = (np.maximum(x, 0) ** 3 - 2 * np.maximum(x - 1, 0) ** 3 + np.maximum(x - 2, 0) ** 3) / 4
    np.testing.assert_allclose(basis[..., 0], x)
    np.testing.assert_allclose(basis[..., 1], expected)
    assert basis[0, -1, 1] == pytest.approx(1.5 * 3.0 - 1.5)  # linear beyond the last knot: (6 x - 6) / 4


def test_perfectly_calibrated_exponential_model_has_small_ici():
    """Closed form: exponential event times with known rates, independent censoring; the true risks are
    calibrated, so the smoothed curve is near the diagonal (ICI of order n^-1/2) and O/E near 1."""
    rng = np.random.default_rng(5)
    n, horizon = 4000, 1.0
    rate = np.exp(rng.normal(-0.5, 0.7, n))
    event_time, censor_time = rng.exponential(1 / rate), rng.uniform(0.5, 3.0, n)
    time, event = np.minimum(event_time, censor_time), (event_time <= censor_time).astype(float)
    risk = 1 - np.exp(-rate * horizon)
    curve = calibration_curve(time, event, risk, horizon)
    assert curve.ici[0] < 0.01
    assert oe_ratio(time, event, risk, horizon) == pytest.approx(1, abs=0.05)
    assert calibration_slope(time, event, np.log(rate)) == pytest.approx(1, abs=0.06)


def test_weights_equal_resampled_data(external, resampled):
    time, event = outcome(external)
    risk, lp = external["risk_5"].to_numpy(), external["lp"].to_numpy()
    rows, counts = resampled
    slope = calibration_slope(time, event, lp, weights=counts)
    curve = calibration_curve(time, event, risk, 5, weights=counts)
    oe = oe_ratio(time, event, risk, 5, counts)
    for b, row in enumerate(rows):
        assert slope[b] == pytest.approx(calibration_slope(time[row], event[row], lp[row]), abs=COX_TOL)
        assert curve.ici[b] == pytest.approx(calibration_curve(time[row], event[row], risk[row], 5).ici[0], abs=COX_TOL)
        assert oe[b] == pytest.approx(oe_ratio(time[row], event[row], risk[row], 5), abs=TOL)


def test_cox_metrics_need_integer_counts(external):
    time, event = outcome(external)
    with pytest.raises(ValueError, match="integer resampling counts"):
        calibration_slope(time, event, external["lp"], weights=np.full((1, len(time)), 0.5))


def test_horizon_beyond_follow_up_gives_nan(external):
    time, event = outcome(external)
    late = time.max() + 1
    assert np.isnan(oe_ratio(time, event, external["risk_5"], late))
    curve = calibration_curve(time, event, external["risk_5"].to_numpy(), late)
    assert np.isnan(curve.ici).all()
    assert np.isnan(curve.observed).all()


def test_risks_of_zero_or_one_are_refused(external):
    time, event = outcome(external)
    risk = external["risk_5"].to_numpy().copy()
    risk[0] = 1.0
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        calibration_curve(time, event, risk, 5)
