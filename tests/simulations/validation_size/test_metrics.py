"""Batched validation metrics equal tmesurv.validation's single-cohort functions, and their analytic standard errors.

The infinitesimal-jackknife (IJ) standard errors are checked twice: against R (``survival::concordance``'s
``sqrt(var)``, tests/reference/validation_size_concordance.R writes the data and the values; rerun it there to
regenerate) and against their definition, the square root of the summed squared derivatives of the estimate with
respect to each patient's case weight, taken by central differences through tmesurv.validation's weighted estimators.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.simulations.validation_size.metrics import calibration_slope_batch, harrell_c_batch, oe_ratio_batch
from tmesurv.validation.calibration import calibration_slope, oe_ratio
from tmesurv.validation.discrimination import harrell_c

REFERENCE = Path(__file__).parents[2] / "reference"
STEP = 1e-5


def tied_cohorts(replicates: int = 6, n: int = 120, seed: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cohorts with tied times, tied risks, and censorings at event times."""
    rng = np.random.default_rng(seed)
    time = np.round(rng.exponential(8, (replicates, n))) + 1
    event = (rng.random((replicates, n)) < 0.6).astype(float)
    risk = np.round(rng.normal(size=(replicates, n)) - 0.1 * time, 1)
    return time, event, risk


def ij_se(estimator, n: int) -> float:
    """sqrt(sum_i (d estimate / d w_i)^2) by central differences of a weighted estimator."""
    plus, minus = np.ones((n, n)) + STEP * np.eye(n), np.ones((n, n)) - STEP * np.eye(n)
    derivative = (np.asarray(estimator(plus)) - np.asarray(estimator(minus))) / (2 * STEP)
    return float(np.sqrt((derivative**2).sum()))


def test_harrell_c_equals_validation_and_r():
    data = pd.read_csv(REFERENCE / "validation_size_concordance_data.csv")
    reference = pd.read_csv(REFERENCE / "validation_size_concordance_r.csv")
    cohorts = [group for _, group in data.groupby("replicate", sort=True)]
    time, event, risk = (np.stack([group[column].to_numpy(float) for group in cohorts]) for column in data.columns[1:])
    c_index, se = harrell_c_batch(time, event, risk)
    single = [harrell_c(t, d, r) for t, d, r in zip(time, event, risk, strict=True)]
    np.testing.assert_allclose(c_index, single, rtol=0, atol=1e-13)
    np.testing.assert_allclose(c_index, reference["c_index"], rtol=1e-12)
    np.testing.assert_allclose(se, reference["se"], rtol=1e-10)


def test_harrell_c_se_is_the_infinitesimal_jackknife():
    time, event, risk = tied_cohorts(replicates=2)
    _, se = harrell_c_batch(time, event, risk)
    for r in range(2):
        expected = ij_se(lambda w, r=r: harrell_c(time[r], event[r], risk[r], w), time.shape[1])
        assert se[r] == pytest.approx(expected, rel=1e-7)


def test_calibration_slope_equals_validation():
    time, event, risk = tied_cohorts()
    lp = risk + np.random.default_rng(0).normal(0, 0.3, risk.shape)  # no tied lp needed: any score
    slope, se = calibration_slope_batch(time, event, lp)
    single = [calibration_slope(t, d, x) for t, d, x in zip(time, event, lp, strict=True)]
    np.testing.assert_allclose(slope, single, rtol=0, atol=1e-12)
    from lifelines import CoxPHFitter

    frame = pd.DataFrame({"time": time[0], "event": event[0], "lp": lp[0]})
    fitter = CoxPHFitter().fit(frame, "time", "event", fit_options={"precision": 1e-12})  # Efron ties, as R
    assert slope[0] == pytest.approx(fitter.params_["lp"], rel=1e-7)
    assert se[0] == pytest.approx(fitter.standard_errors_["lp"], rel=1e-6)


@pytest.mark.parametrize("horizon", [3.0, 9.5])
def test_oe_ratio_equals_validation_and_its_se_is_the_infinitesimal_jackknife(horizon):
    time, event, _ = tied_cohorts()
    risk = np.random.default_rng(1).uniform(0.05, 0.9, time.shape)
    ratio, se_log = oe_ratio_batch(time, event, risk, horizon)
    single = [oe_ratio(t, d, p, horizon) for t, d, p in zip(time, event, risk, strict=True)]
    np.testing.assert_allclose(ratio, single, rtol=1e-13)
    for r in range(2):
        expected = ij_se(lambda w, r=r: np.log(oe_ratio(time[r], event[r], risk[r], horizon, w)), time.shape[1])
        assert se_log[r] == pytest.approx(expected, rel=1e-6)


def test_oe_ratio_is_nan_where_nobody_is_followed_beyond_the_horizon():
    time, event, _ = tied_cohorts(replicates=2)
    risk = np.full(time.shape, 0.5)
    ratio, se_log = oe_ratio_batch(time, event, risk, float(time.max()))
    assert np.isnan(ratio).all()
    assert np.isnan(se_log).all()
