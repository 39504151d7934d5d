"""The vectorised PSIS-LOO equals arviz.psislw patient by patient: in the regular case and the cases it hands over."""

import arviz as az
import numpy as np
import pytest
from scipy.special import logsumexp

from tmesurv.models.pwe.psis import gpd_fit, psis_loo_pointwise


def arviz_pointwise(log_likelihood: np.ndarray, reff: float) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's PSIS weights one patient at a time, and the LOO elpd as arviz.loo sums it."""
    log_weights, k = az.psislw(-log_likelihood, reff)
    return logsumexp(log_weights + log_likelihood, axis=1), k


def heavy_and_light_tails(patients: int, draws: int, seed: int) -> np.ndarray:
    """Log-likelihoods whose importance ratios range from well-behaved (k near 0) to heavy-tailed (k above 1)."""
    rng = np.random.default_rng(seed)
    spread = np.geomspace(0.05, 6.0, patients)[:, None]  # the larger, the heavier the tail of exp(-loglik)
    return -2.0 + spread * rng.standard_normal((patients, draws)) - rng.exponential(size=(patients, draws)) * spread


@pytest.mark.parametrize(("draws", "reff"), [(4000, 0.9), (1000, 0.35), (2000, 1.3)])
def test_vectorised_psis_equals_arviz_patient_by_patient(draws, reff):
    values = heavy_and_light_tails(60, draws, seed=draws)
    loo_i, k = psis_loo_pointwise(values, reff)
    expected_loo, expected_k = arviz_pointwise(values, reff)
    np.testing.assert_allclose(k, expected_k, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loo_i, expected_loo, rtol=1e-12, atol=1e-10)
    assert k.min() < 0.3  # both ends of the Pareto range are exercised
    assert k.max() > 1.0


def test_ties_at_the_cutoff_and_tiny_tails_go_through_arviz():
    values = heavy_and_light_tails(6, 500, seed=4)
    values[0] = np.round(values[0], 1)  # ties everywhere, also at the cutoff
    values[1, :] = values[1, 0]  # constant: every weight equal
    values[2] = -np.arange(500.0) * 3.0  # log weights down to -1500: a cutoff below the smallest normal float
    loo_i, k = psis_loo_pointwise(values, 0.8)
    expected_loo, expected_k = arviz_pointwise(values, 0.8)
    np.testing.assert_allclose(loo_i, expected_loo, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(k, expected_k, rtol=1e-10, atol=1e-12)
    few = heavy_and_light_tails(3, 20, seed=5)  # M = 4 draws in the tail: no Pareto fit (k = inf)
    loo_few, k_few = psis_loo_pointwise(few, 1.0)
    assert np.isinf(k_few).all()
    np.testing.assert_allclose(loo_few, arviz_pointwise(few, 1.0)[0], rtol=1e-12)


def test_gpd_fit_recovers_a_known_shape():
    rng = np.random.default_rng(1)
    k_true, sigma_true = 0.3, 2.0  # not the prior mean 0.5
    draws = np.sort(sigma_true * (rng.uniform(size=(3, 4000)) ** -k_true - 1) / k_true, axis=1)  # GPD by inversion
    k, sigma = gpd_fit(draws)
    np.testing.assert_allclose(k, k_true, atol=0.05)  # 4,000 exceedances: sd of k about 0.02
    np.testing.assert_allclose(sigma, sigma_true, rtol=0.1)
