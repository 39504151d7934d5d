"""The posterior-vs-Kaplan-Meier check against R (survfit on veteran, closed-form gamma posteriors) and by hand."""

import math
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from tmesurv.cohort import Cohort
from tmesurv.models.pwe.fit_check import (
    MISFIT_SCALED_MEAN,
    MISFIT_SHARE_IN_BAND,
    arm_survival_draws,
    fit_check,
    is_misfit,
    misfit_rule_text,
    patient_groups,
)

REFERENCE = Path(__file__).parents[2] / "reference"


def fitted(time, event, design: pd.DataFrame, posterior: dict, cuts=()) -> az.InferenceData:
    """A fit with hand-made draws (one chain) and the constant data a fit keeps."""
    idata = az.from_dict(
        posterior={name: np.asarray(value)[None] for name, value in posterior.items()},
        coords={"term": list(design.columns)},
        dims={"coef": ["term"], "log_baseline": ["interval"], "coef_time": ["interval"]},
    )
    constant = {
        "time": ("patient", np.asarray(time, dtype=float)),
        "event": ("patient", np.asarray(event, dtype=float)),
        "design": (("patient", "term"), design.to_numpy(dtype=float)),
        "cuts": ("cut", np.asarray(cuts, dtype=float)),
    }
    idata.add_groups(constant_data=xr.Dataset(constant, coords={"term": list(design.columns)}))
    return idata


def test_veteran_against_r_with_conjugate_exponential_posteriors():
    """Each arm's posterior: rate ~ Gamma(events, exposure), as 1,000 draws at the gamma's quantiles (i + 0.5) / 1000.

    The references are exact (R: survfit, the gamma's Laplace transform and quantiles); the draws' mean and quantiles
    differ from them by the 1,000-point quadrature (below 1e-6 here), and the mean difference by the trapezoidal rule
    on 400 times (below 5e-6); the share is exact.
    """
    reference = pd.read_csv(REFERENCE / "bayes_fit_check_veteran.csv").set_index("arm")
    cohort = Cohort.from_config(REFERENCE / "veteran.yaml")
    time, event, treated = cohort.time("os"), cohort.event("os"), cohort.treated.astype(float)
    levels = (np.arange(1000) + 0.5) / 1000
    rate = {arm: stats.gamma.ppf(levels, row.alpha, scale=1 / row.beta) for arm, row in reference.iterrows()}
    posterior = {
        "log_baseline": np.log(rate["control"])[:, None],
        "coef": np.log(rate["treated"] / rate["control"])[:, None],
    }
    check = fit_check(fitted(time, event, pd.DataFrame({"arm": treated}), posterior)).set_index("arm")
    for arm, row in reference.iterrows():
        assert check.loc[arm, "n"] == row.n
        assert check.loc[arm, "events"] == row.events
        assert check.loc[arm, "follow_up"] == pytest.approx(row.follow_up, rel=1e-12)
        assert check.loc[arm, "max_abs_difference"] == pytest.approx(row.max_abs_difference, abs=1e-6)
        assert check.loc[arm, "mean_abs_difference"] == pytest.approx(row.mean_abs_difference, abs=5e-6)
        assert check.loc[arm, "share_in_band"] == pytest.approx(row.share_in_band, rel=1e-12)
    assert check.loc["treated", "misfit"]  # an exponential model misses veteran's treated arm by 0.19


def test_the_largest_difference_is_found_exactly_at_a_step_end():
    # One arm, one event at 2 (KM 1 -> 0.5) and censoring at 4; posterior point mass S(t) = exp(-0.1 t).
    time, event = np.array([2.0, 4.0, 1.0, 3.0]), np.array([1, 0, 1, 0])
    design = pd.DataFrame({"arm": [1.0, 1.0, 0.0, 0.0]})
    posterior = {"log_baseline": np.full((50, 1), math.log(0.1)), "coef": np.zeros((50, 1))}
    treated = fit_check(fitted(time, event, design, posterior)).set_index("arm").loc["treated"]
    # On [0, 2) KM = 1: |S - 1| is largest at 2- (1 - e^-0.2); on [2, 4] KM = 0.5: largest at 2 (e^-0.2 - 0.5).
    assert treated["max_abs_difference"] == pytest.approx(math.exp(-0.2) - 0.5, rel=1e-12)
    assert treated["largest_at"] == 2.0
    exact = (2 - (1 - math.exp(-0.2)) / 0.1) + ((math.exp(-0.2) - math.exp(-0.4)) / 0.1 - 0.5 * 2)  # integral
    assert treated["mean_abs_difference"] == pytest.approx(exact / 4, rel=1e-6)  # trapezoid, 400 points
    assert treated["share_in_band"] == 0.0  # a point mass has no band: KM is outside at its one event time


def test_interaction_arm_curve_is_the_average_over_the_arms_patients():
    # Two treated patients with biomarker 0 and 1, coef of arm:x = log 2: hazards 0.1 and 0.2 (arm HR 1).
    design = pd.DataFrame({"arm": [1.0, 1.0, 0.0], "x": [0.0, 1.0, 1.0], "arm:x": [0.0, 1.0, 0.0]})
    posterior = {"log_baseline": np.full((5, 1), math.log(0.1)), "coef": np.tile([0.0, 0.0, math.log(2)], (5, 1))}
    idata = fitted([1.0, 2.0, 3.0], [1, 1, 1], design, posterior)
    times = np.array([0.0, 1.0, 5.0])
    expected = (np.exp(-0.1 * times) + np.exp(-0.2 * times)) / 2
    np.testing.assert_allclose(arm_survival_draws(idata, np.array([True, True, False]), times), [expected] * 5)


def test_many_patients_are_averaged_in_groups_within_the_tolerance_of_the_exact_average():
    # 4,000 treated patients with a continuous biomarker and its interaction; 30 draws with spread coefficients.
    rng = np.random.default_rng(5)
    n, draws = 4000, 30
    x = rng.standard_normal(n)
    design = pd.DataFrame({"arm": np.ones(n), "x": x, "arm:x": x})
    log_baseline = np.log([0.08, 0.05, 0.03]) + rng.normal(0, 0.1, (draws, 3))
    coef = np.column_stack([rng.normal(-0.5, 0.1, draws), rng.normal(0.3, 0.1, draws), rng.normal(-0.4, 0.1, draws)])
    idata = fitted(np.ones(n), np.ones(n), design, {"log_baseline": log_baseline, "coef": coef}, cuts=[3.0, 12.0])
    times = np.linspace(0.0, 40.0, 81)
    got = arm_survival_draws(idata, np.ones(n, dtype=bool), times)
    # exact: every patient, every draw, by the closed-form cumulative hazard
    rates = np.exp(log_baseline + coef[:, :1])  # the treated arm's baseline per draw
    widths = np.clip(times[:, None] - np.array([0.0, 3.0, 12.0]), 0.0, [3.0, 9.0, np.inf])  # times x intervals
    cumulative = rates @ widths.T  # draws x times
    eta = np.outer(coef[:, 1] + coef[:, 2], x)  # draws x patients
    exact = np.exp(-cumulative[:, :, None] * np.exp(eta)[:, None, :]).mean(axis=2)
    representatives, weights, bound = patient_groups(
        design[["x", "arm:x"]].to_numpy(), np.ones(n, dtype=int), coef[:, 1:]
    )
    assert len(representatives) < 200  # grouped, not exact
    assert weights.sum() == n
    assert 0 < bound <= 1e-4
    assert np.max(np.abs(got - exact)) <= bound  # the bound holds
    assert np.max(np.abs(got - exact)) > 0


def test_groups_that_cannot_meet_the_tolerance_give_way_to_the_exact_rows():
    rows, counts = np.arange(20.0)[:, None], np.arange(1, 21)
    grouped, weights, bound = patient_groups(rows, counts, np.full((3, 1), 50.0))  # log HR 50 per unit: no grouping
    np.testing.assert_array_equal(grouped, rows)
    np.testing.assert_array_equal(weights, counts)
    assert bound == 0.0
    few = patient_groups(rows[:16], counts[:16], np.full((3, 1), 50.0))  # up to EXACT_ROWS rows: always exact
    np.testing.assert_array_equal(few[0], rows[:16])


def test_time_varying_arm_effect_enters_per_interval():
    design = pd.DataFrame({"arm": [1.0, 0.0]})
    posterior = {
        "log_baseline": np.tile(np.log([0.1, 0.3]), (4, 1)),
        "coef": np.zeros((4, 1)),
        "coef_time": np.tile([0.0, math.log(0.5)], (4, 1)),
    }
    idata = fitted([1.0, 2.0], [1, 1], design, posterior, cuts=[2.0])
    times = np.array([1.0, 3.0])
    expected = np.exp(-np.array([0.1, 0.2 + 0.15]))  # treated: 0.1 to month 2, then 0.3 x 0.5
    np.testing.assert_allclose(arm_survival_draws(idata, np.array([True, False]), times)[0], expected)


def test_misfit_rule_and_its_text():
    share = np.array([0.64, 0.65, 0.95, 0.95])
    just_above = MISFIT_SCALED_MEAN / 10 + 1e-9  # n = 100: sqrt(n) x mean just above the threshold
    mean_abs = np.array([0.0, 0.0, MISFIT_SCALED_MEAN / 10, just_above])
    assert is_misfit(share, mean_abs, np.full(4, 100)).tolist() == [True, False, False, True]
    assert f"{MISFIT_SHARE_IN_BAND:.0%}" in misfit_rule_text()
    assert f"{MISFIT_SCALED_MEAN:g}/sqrt(n)" in misfit_rule_text()
