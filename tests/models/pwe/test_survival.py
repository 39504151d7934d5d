"""Posterior survival of the PWE treatment model against closed forms of the exponential and two-piece hazards."""

import math

import arviz as az
import numpy as np
import pytest
import xarray as xr

from tmesurv.models.pwe.survival import (
    cumulative_hazard,
    median_time,
    posterior_survival,
    restricted_mean,
    survival_statistics,
)


def fake_fit(log_baseline: np.ndarray, arm_effect: np.ndarray, cuts: list[float]) -> az.InferenceData:
    """A fit with given draws: ``log_baseline`` (chain, draw, K) and the arm log HR (chain, draw)."""
    idata = az.from_dict(
        posterior={"log_baseline": log_baseline, "coef": arm_effect[..., None]},
        coords={"term": ["arm"]},
        dims={"coef": ["term"], "log_baseline": ["interval"]},
    )
    idata.add_groups(constant_data=xr.Dataset({"cuts": ("cut", np.asarray(cuts, dtype=float))}))
    return idata


def test_two_piece_hazard_closed_forms():
    hazard = np.array([[0.1, 0.3]])  # 0.1 / month up to month 4, then 0.3
    cuts = np.array([4.0])
    np.testing.assert_allclose(cumulative_hazard(hazard, cuts, np.array([0.0, 2.0, 4.0, 6.0])), [[0, 0.2, 0.4, 1.0]])
    # H(t) = log 2 after the cut: 0.4 + 0.3 (t - 4) = log 2
    assert median_time(hazard, cuts)[0] == pytest.approx(4 + (math.log(2) - 0.4) / 0.3, rel=1e-12)
    rmst = (1 - math.exp(-0.4)) / 0.1 + math.exp(-0.4) * (1 - math.exp(-0.3 * 6)) / 0.3
    assert restricted_mean(hazard, cuts, 10.0)[0] == pytest.approx(rmst, rel=1e-12)
    assert restricted_mean(hazard, cuts, 4.0)[0] == pytest.approx((1 - math.exp(-0.4)) / 0.1, rel=1e-12)
    assert restricted_mean(hazard, cuts, 3.0)[0] == pytest.approx((1 - math.exp(-0.3)) / 0.1, rel=1e-12)


def test_statistics_of_an_exponential_model_per_arm_and_difference():
    rate, log_hr = 0.05, math.log(0.5)
    draws = np.full((2, 50, 1), math.log(rate))
    idata = fake_fit(draws, np.full((2, 50), log_hr), cuts=[])
    table = survival_statistics(idata, [12.0, 24.0]).set_index(["arm", "statistic", "time"])
    treated_rate = rate * 0.5
    assert table.loc[("control", "median", np.nan), "estimate"] == pytest.approx(math.log(2) / rate)
    assert table.loc[("treated", "survival", 24.0), "estimate"] == pytest.approx(math.exp(-treated_rate * 24))
    rmst = {arm: (1 - math.exp(-r * 24)) / r for arm, r in (("treated", treated_rate), ("control", rate))}
    assert table.loc[("difference", "rmst", 24.0), "estimate"] == pytest.approx(rmst["treated"] - rmst["control"])
    assert table.loc[("difference", "rmst", 24.0), "lower"] == pytest.approx(rmst["treated"] - rmst["control"])


def test_curve_band_holds_the_draws_quantiles():
    rng = np.random.default_rng(2)
    log_rates = np.log(rng.uniform(0.02, 0.08, size=(2, 400, 1)))
    idata = fake_fit(log_rates, np.zeros((2, 400)), cuts=[])
    curves = posterior_survival(idata, np.array([0.0, 10.0]))
    at_10 = curves[(curves["arm"] == "control") & (curves["time"] == 10.0)].iloc[0]
    survival = np.exp(-np.exp(log_rates).ravel() * 10)
    assert at_10["survival"] == pytest.approx(np.median(survival))
    assert at_10["lower"] == pytest.approx(np.quantile(survival, 0.025))
    assert curves.loc[curves["time"] == 0.0, "survival"].eq(1.0).all()
