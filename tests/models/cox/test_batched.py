"""The batched Cox solver against R's coxph, lifelines, and itself fitted one replicate at a time.

Reference files are made by ``Rscript tests/reference/batched_cox.R`` (from the repository root) from the committed
``batched_cox_data.csv``; the tests need no R.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from tmesurv.models.cox.batched import BatchCoxFit, fit_cox_batch
from tmesurv.simulations.power.methods import two_sided_p

REFERENCE = Path(__file__).parents[2] / "reference"
TERMS = ["x1", "x2", "x3"]
LIFELINES_OPTIONS = {"precision": 1e-14, "r_precision": 1e-15, "max_steps": 200}


def reference_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = pd.read_csv(REFERENCE / "batched_cox_data.csv").sort_values("replicate", kind="stable")
    n_rep = data["replicate"].nunique()
    time = data["time"].to_numpy(dtype=float).reshape(n_rep, -1)
    event = data["event"].to_numpy(dtype=float).reshape(n_rep, -1)
    x = data[TERMS].to_numpy(dtype=float).reshape(n_rep, -1, len(TERMS))
    return time, event, x


def simulated(n_rep: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, (n_rep, n)).astype(float)
    marker = rng.standard_normal((n_rep, n))
    x = np.stack([arm, marker, arm * marker], axis=-1)
    event_time = np.ceil(rng.exponential(12 * np.exp(0.5 * arm - 0.3 * marker + 0.3 * arm * marker)))
    censor = np.ceil(rng.uniform(6, 36, (n_rep, n)))
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), x


def single(fit: BatchCoxFit, r: int) -> list[np.ndarray]:
    return [fit.coef[r], fit.se[r], fit.loglik[r], fit.iterations[r], fit.converged[r], fit.monotone[r]]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_equals_r_coxph(ties):
    time, event, x = reference_arrays()
    fit = fit_cox_batch(time, event, x, ties=ties)
    reference = pd.read_csv(REFERENCE / "batched_cox_r.csv")
    reference = reference[reference["ties"] == ties].sort_values(["replicate", "term"])
    n_rep = time.shape[0]
    assert fit.converged.all()
    assert not fit.monotone.any()
    np.testing.assert_allclose(fit.coef, reference["coef"].to_numpy().reshape(n_rep, 3), rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se, reference["se"].to_numpy().reshape(n_rep, 3), rtol=0, atol=1e-6)
    loglik = reference.groupby("replicate")["loglik"].first().to_numpy()
    np.testing.assert_allclose(fit.loglik, loglik, rtol=0, atol=1e-6)


def test_efron_and_breslow_differ_with_ties():
    time, event, x = reference_arrays()
    efron, breslow = fit_cox_batch(time, event, x), fit_cox_batch(time, event, x, ties="breslow")
    assert np.abs(efron.coef - breslow.coef).max() > 1e-3


def test_equals_lifelines_efron():
    time, event, x = simulated(4, 200, seed=11)
    fit = fit_cox_batch(time, event, x)
    for r in range(time.shape[0]):
        frame = pd.DataFrame(x[r], columns=TERMS).assign(time=time[r], event=event[r])
        fitter = CoxPHFitter().fit(frame, "time", "event", fit_options=LIFELINES_OPTIONS)
        np.testing.assert_allclose(fit.coef[r], fitter.params_.to_numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(fit.se[r], fitter.standard_errors_.to_numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(fit.loglik[r], fitter.log_likelihood_, rtol=0, atol=1e-6)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_batch_equals_one_replicate_at_a_time(ties):
    time, event, x = simulated(6, 150, seed=5)
    fit = fit_cox_batch(time, event, x, ties=ties)
    for r in range(time.shape[0]):
        alone = fit_cox_batch(time[r : r + 1], event[r : r + 1], x[r : r + 1], ties=ties)
        for batched, one in zip(single(fit, r), single(alone, 0), strict=True):
            np.testing.assert_allclose(batched, one, rtol=0, atol=1e-12)


def test_separating_covariate_is_flagged_monotone_and_does_not_touch_the_others():
    time, event, x = simulated(5, 150, seed=8)
    event[2] = np.where(x[2, :, 0] == 1, event[2], 0.0)  # replicate 2: events only in the x1 = 1 group
    fit = fit_cox_batch(time, event, x)
    assert fit.monotone.tolist() == [False, False, True, False, False]
    assert np.isnan(fit.coef[2]).all()
    assert np.isnan(fit.se[2]).all()
    assert np.isnan(two_sided_p(fit.coef, fit.se)[2]).all()
    assert np.isfinite(fit.loglik[2])
    assert np.isfinite(fit.coef[[0, 1, 3, 4]]).all()
    for r in (0, 1, 3, 4):
        alone = fit_cox_batch(time[r : r + 1], event[r : r + 1], x[r : r + 1])
        for batched, one in zip(single(fit, r), single(alone, 0), strict=True):
            np.testing.assert_allclose(batched, one, rtol=0, atol=1e-12)


def test_monotone_in_a_single_binary_covariate():
    time, event, x = simulated(1, 100, seed=2)
    arm = x[..., :1]
    event = np.where(arm[..., 0] == 0, event, 0.0)  # events only in the x = 0 group: coef -> -inf
    fit = fit_cox_batch(time, event, arm)
    assert fit.monotone.all()
    assert np.isnan(fit.coef).all()


def test_no_events_or_constant_covariate_is_inestimable_not_monotone():
    time, event, x = simulated(3, 80, seed=4)
    event[0] = 0.0
    x[1, :, 1] = 1.0
    fit = fit_cox_batch(time, event, x)
    assert fit.converged.tolist() == [False, False, True]
    assert not fit.monotone.any()
    assert np.isnan(fit.coef[:2]).all()
    assert np.isfinite(fit.coef[2]).all()


def test_order_of_patients_does_not_matter():
    time, event, x = simulated(3, 120, seed=9)
    permutation = np.random.default_rng(0).permutation(120)
    fit = fit_cox_batch(time, event, x)
    shuffled = fit_cox_batch(time[:, permutation], event[:, permutation], x[:, permutation])
    np.testing.assert_allclose(fit.coef, shuffled.coef, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.loglik, shuffled.loglik, rtol=0, atol=1e-10)


def test_rejects_bad_input():
    time, event, x = simulated(2, 20, seed=1)
    with pytest.raises(ValueError, match="ties"):
        fit_cox_batch(time, event, x, ties="exact")
    with pytest.raises(ValueError, match="expected"):
        fit_cox_batch(time, event[:, :10], x)
    with pytest.raises(ValueError, match="0 or 1"):
        fit_cox_batch(time, event * 2, x)
    with pytest.raises(ValueError, match="max_iter"):
        fit_cox_batch(time, event, x, max_iter=0)
