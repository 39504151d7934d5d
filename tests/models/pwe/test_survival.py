"""Posterior survival of the PWE treatment model: closed forms of the exponential and two-piece hazards, follow-up."""

import math
from pathlib import Path

import arviz as az
import numpy as np
import pytest
import xarray as xr

from tmesurv.cohort import Cohort
from tmesurv.models.cox.km import curve_quantile, fit_km
from tmesurv.models.designs import treatment_design
from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings
from tmesurv.models.pwe.survival import (
    cumulative_hazard,
    median_time,
    posterior_survival,
    restricted_mean,
    survival_statistics,
)

REFERENCE = Path(__file__).parents[2] / "reference"


def fake_fit(
    log_baseline: np.ndarray, arm_effect: np.ndarray, cuts: list[float], follow_up: tuple[float, float] = (100, 100)
) -> az.InferenceData:
    """A fit with given draws: ``log_baseline`` (chain, draw, K) and the arm log HR (chain, draw).

    Its patients: treated and control, followed up to ``follow_up`` (treated, control) months at the most.
    """
    idata = az.from_dict(
        posterior={"log_baseline": log_baseline, "coef": arm_effect[..., None]},
        coords={"term": ["arm"]},
        dims={"coef": ["term"], "log_baseline": ["interval"]},
    )
    time = [1.0, follow_up[0], 2.0, follow_up[1]]
    constant = {
        "cuts": ("cut", np.asarray(cuts, dtype=float)),
        "time": ("patient", np.asarray(time, dtype=float)),
        "design": (("patient", "term"), np.array([[1.0], [1.0], [0.0], [0.0]])),
    }
    idata.add_groups(constant_data=xr.Dataset(constant, coords={"term": ["arm"]}))
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


def exponential_medians(medians: np.ndarray, log_hr: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Draws of an exponential model whose control median survival times are ``medians`` (one chain)."""
    log_rate = np.log(math.log(2) / medians)
    return log_rate.reshape(1, -1, 1), np.full((1, medians.size), log_hr)


def test_a_median_beyond_follow_up_is_not_reached_with_its_probability():
    # Control medians 1, 1.1, ..., 20 months (closed form log 2 / rate); control followed up to 12 months.
    medians = np.linspace(1.0, 20.0, 191)
    log_baseline, arm = exponential_medians(medians, log_hr=math.log(0.25))  # treated medians 4 x as long
    idata = fake_fit(log_baseline, arm, cuts=[], follow_up=(30.0, 12.0))
    table = survival_statistics(idata, [6.0, 24.0]).set_index(["arm", "statistic", "time"])
    control = table.loc[("control", "median", np.nan)]
    assert control["reached"]
    assert control["estimate"] == pytest.approx(np.quantile(medians, 0.5), rel=1e-9)
    assert control["lower"] == pytest.approx(np.quantile(medians, 0.025), rel=1e-9)
    assert math.isnan(control["upper"])  # 97.5% quantile 19.5 > 12: NR
    assert control["prob_beyond_follow_up"] == pytest.approx(np.mean(medians > 12.0))
    assert control["follow_up"] == 12.0
    treated = table.loc[("treated", "median", np.nan)]  # posterior median 4 x 10.5 = 42 > 30
    assert not treated["reached"]
    assert np.isnan(treated[["estimate", "upper"]].to_numpy(dtype=float)).all()
    assert treated["lower"] == pytest.approx(4 * np.quantile(medians, 0.025), rel=1e-9)
    assert treated["prob_beyond_follow_up"] == pytest.approx(np.mean(4 * medians > 30.0))
    difference = table.loc[("difference", "median", np.nan)]
    assert not difference["reached"]
    assert np.isnan(difference[["estimate", "lower", "upper"]].to_numpy(dtype=float)).all()
    either = (4 * medians > 30.0) | (medians > 12.0)
    assert difference["prob_beyond_follow_up"] == pytest.approx(either.mean())
    assert difference["follow_up"] == 12.0


def test_landmarks_and_rmst_beyond_follow_up_are_not_estimated():
    rate = 0.05
    idata = fake_fit(np.full((1, 20, 1), math.log(rate)), np.zeros((1, 20)), cuts=[], follow_up=(30.0, 12.0))
    table = survival_statistics(idata, [6.0, 24.0]).set_index(["arm", "statistic", "time"])
    assert table.loc[("control", "survival", 6.0), "estimate"] == pytest.approx(math.exp(-rate * 6))
    assert table.loc[("control", "survival", 6.0), "reached"]
    for arm in ("control", "difference"):  # 24 months: beyond the control arm's 12
        for statistic in ("survival", "rmst"):
            row = table.loc[(arm, statistic, 24.0)]
            assert not row["reached"]
            assert row[["estimate", "lower", "upper", "prob_beyond_follow_up"]].isna().all()
    assert table.loc[("treated", "survival", 24.0), "estimate"] == pytest.approx(math.exp(-rate * 24))
    assert table.loc[("treated", "rmst", 24.0), "estimate"] == pytest.approx((1 - math.exp(-rate * 24)) / rate)
    assert table.loc[("difference", "survival", 6.0), "reached"]


def test_curves_stop_at_each_arms_follow_up():
    idata = fake_fit(np.full((1, 20, 1), math.log(0.05)), np.zeros((1, 20)), cuts=[], follow_up=(30.0, 12.0))
    curves = posterior_survival(idata, np.linspace(0.0, 30.0, 7))
    assert curves.loc[curves["arm"] == "control", "time"].tolist() == [0.0, 5.0, 10.0, 12.0]
    assert curves.loc[curves["arm"] == "treated", "time"].tolist() == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]


@pytest.mark.sampling
def test_colon_recurrence_no_median_beyond_follow_up_is_an_estimate():
    # Issue #17: on R's colon (recurrence, Lev+5FU vs Obs) the treated median was printed as 156 months against
    # 109 months of follow-up; Kaplan-Meier's is not reached.
    cohort = Cohort.from_config(REFERENCE / "colon.yaml")
    time, event = cohort.time("os"), cohort.event("os")
    treated = cohort.treated == 1
    assert math.isnan(curve_quantile(*fit_km(time[treated], event[treated])[["time", "survival"]].T.to_numpy()))
    idata = fit_pwe(time, event, treatment_design(cohort), PweSettings(), SamplerSettings(draws=500, chains=2, seed=3))
    table = survival_statistics(idata, [12.0, 36.0, 60.0])
    medians = table[table["statistic"] == "median"].set_index("arm")
    assert medians.loc["treated", "follow_up"] == pytest.approx(time[treated].max())
    assert not medians.loc["treated", "reached"]
    assert math.isnan(medians.loc["treated", "estimate"])
    assert medians.loc["treated", "prob_beyond_follow_up"] > 0.9
    assert medians.loc["control", "reached"]
    arms = medians.loc[["treated", "control"]]  # whatever is given lies within the arm's follow-up
    assert not (arms["estimate"] > arms["follow_up"]).any()
    assert not (arms["upper"] > arms["follow_up"]).any()
