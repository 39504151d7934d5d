"""c-for-benefit by rank and by van Klaveren's random matching, and E-for-benefit, against R on a split of colon.

``Rscript tests/reference/benefit_matching.R`` (from the repository root) writes the scored half of R's colon data
with a benefit model's predicted risks under each arm, the metrics computed in R (rank matching: exact values; random
matching: mean and sd over 2000 matchings drawn by R's RNG) and a loess reference.
"""

from itertools import combinations, permutations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.validation.benefit_matching import (
    BenefitMatching,
    c_for_benefit,
    e_for_benefit,
    loess_direct,
    matched_pairs,
)
from tmesurv.validation.bootstrap import resample_counts, with_estimate

REFERENCE = Path(__file__).parents[1] / "reference"
COLON = pd.read_csv(REFERENCE / "benefit_matching_colon.csv")
R = pd.read_csv(REFERENCE / "benefit_matching_reference.csv", keep_default_na=False)
HORIZON = 1096.0
RANDOM = BenefitMatching("random", repeats=2000, seed=7)
E_METRICS = ("e_for_benefit", "e50_for_benefit", "e90_for_benefit")


def r_value(metric: str, matching: str, statistic: str = "value") -> float:
    chosen = R[(R["metric"] == metric) & (R["matching"] == matching) & (R["statistic"] == statistic)]
    assert len(chosen) == 1, (metric, matching, statistic)
    return float(chosen["value"].iloc[0])


def arms() -> tuple[np.ndarray, ...]:
    columns = ("time", "status", "treated", "risk_control", "risk_treated")
    return (*(COLON[column].to_numpy(dtype=float) for column in columns), HORIZON)


def test_loess_equals_r_direct_surface():
    data = pd.read_csv(REFERENCE / "benefit_matching_loess.csv")
    np.testing.assert_allclose(loess_direct(data["x"], data["y"]), data["fit"], rtol=0, atol=1e-12)


def test_rank_matching_equals_r():
    assert c_for_benefit(*arms()) == pytest.approx(r_value("c_for_benefit", "rank"), abs=1e-12)
    errors = e_for_benefit(*arms())
    for metric in E_METRICS:
        assert errors[metric] == pytest.approx(r_value(metric, "rank"), abs=1e-12), metric


@pytest.fixture(scope="module")
def random_matching() -> dict[str, float]:
    """The metrics by 2000 random matchings (seeded)."""
    return {"c_for_benefit": c_for_benefit(*arms(), matching=RANDOM), **e_for_benefit(*arms(), matching=RANDOM)}


@pytest.mark.parametrize("metric", ["c_for_benefit", *E_METRICS])
def test_random_matching_mean_agrees_with_r(random_matching, metric):
    """Means over 2000 matchings by two RNGs: equal up to Monte Carlo error (4 standard errors of the difference)."""
    standard_error = r_value(metric, "random", "sd") * np.sqrt(2 / RANDOM.repeats)
    assert abs(random_matching[metric] - r_value(metric, "random", "mean")) < 4 * standard_error


def test_random_and_rank_matching_differ_on_colon(random_matching):
    """The comparison of the issue (van Klaveren's matching against the deterministic one), on colon."""
    rank, random = r_value("c_for_benefit", "rank"), r_value("c_for_benefit", "random", "mean")
    assert (round(rank, 3), round(random, 3)) == (0.498, 0.501)
    assert round(c_for_benefit(*arms()), 3) == 0.498
    assert round(random_matching["c_for_benefit"], 3) == 0.501


def test_every_random_matching_is_a_sorted_subset_and_all_occur():
    """Brute force: 2 control against 3 treated patients, two treated tied on predicted benefit."""
    benefit = np.array([0.10, 0.30, 0.20, 0.20, 0.40])
    treated = np.array([0, 0, 1, 1, 1])
    time, event = np.full(5, 10.0), np.ones(5)
    possible = set()
    for kept in combinations([2, 3, 4], 2):
        for order in permutations(kept):  # any order of tied values
            if list(benefit[list(order)]) == sorted(benefit[list(order)]):
                possible.add(tuple(np.round((benefit[[0, 1]] + benefit[list(order)]) / 2, 12)))
    pairs = matched_pairs(time, event, treated, benefit, 5.0, None, BenefitMatching("random", repeats=300, seed=2))
    seen = {tuple(np.round(row[:2], 12)) for row in pairs.predicted}
    assert seen == possible
    assert pairs.valid[:, :2].all()
    assert not pairs.valid[:, 2:].any()


def test_random_equals_rank_matching_with_equal_arms_and_no_ties():
    rng = np.random.default_rng(4)
    n = 40
    time, event = rng.exponential(10, n), rng.integers(0, 2, n).astype(float)
    treated, control_risk, treated_risk = np.repeat([0, 1], n // 2), rng.random(n), rng.random(n)
    time[:] = np.where(event == 1, time, 20.0)  # nobody censored before the horizon: equal arms stay equal
    args = (time, event, treated, control_risk, treated_risk, 5.0)
    assert c_for_benefit(*args, matching=BenefitMatching("random", repeats=3)) == pytest.approx(
        c_for_benefit(*args), abs=1e-15
    )


def test_estimate_does_not_depend_on_the_bootstrap_and_replicates_are_seeded():
    time, event, treated, control, treated_risk, horizon = arms()
    matching = BenefitMatching("random", repeats=20, seed=3)
    plain = c_for_benefit(time, event, treated, control, treated_risk, horizon, matching=matching)
    weights = with_estimate(time.size, resample_counts(time.size, 30, 5, treated))
    boot = c_for_benefit(time, event, treated, control, treated_risk, horizon, weights, matching)
    assert boot[0] == plain
    again = c_for_benefit(time, event, treated, control, treated_risk, horizon, weights, matching)
    np.testing.assert_array_equal(boot, again)
    assert np.unique(boot[1:]).size > 1


def test_matching_settings_are_checked():
    with pytest.raises(ValueError, match="use one of rank, random"):
        BenefitMatching("nearest")
    with pytest.raises(ValueError, match="at least 1"):
        BenefitMatching("random", repeats=0)
