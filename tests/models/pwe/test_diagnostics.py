"""Posterior summaries and the convergence rule of PWE fits, on hand-made draws."""

import math

import arviz as az
import numpy as np
import pytest

from tmesurv.errors import SamplingError
from tmesurv.models.pwe.diagnostics import (
    BFMI_MIN,
    ESS_MIN,
    RHAT_MAX,
    convergence_rule_text,
    diagnostics,
    probability_below_zero,
    require_complete_draws,
    summarize_pwe,
)


def fake_idata(coef, diverging=None):
    """InferenceData with a hand-made ``coef`` (chain, draw, term) and optional divergence flags."""
    chains, draws, terms = coef.shape
    sample_stats = {"diverging": diverging if diverging is not None else np.zeros((chains, draws), dtype=bool)}
    return az.from_dict(
        posterior={"coef": coef},
        sample_stats=sample_stats,
        coords={"term": [f"t{j}" for j in range(terms)]},
        dims={"coef": ["term"]},
    )


def test_summary_of_point_mass():
    coef = np.empty((2, 50, 2))
    coef[..., 0], coef[..., 1] = 0.3, -0.7
    summary = summarize_pwe(fake_idata(coef)).set_index("term")
    np.testing.assert_allclose(summary["mean"], [0.3, -0.7])
    np.testing.assert_allclose(summary["sd"], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(summary["hr_mean"], np.exp([0.3, -0.7]))
    np.testing.assert_allclose(summary["hr_lower"], np.exp([0.3, -0.7]))
    np.testing.assert_allclose(summary["hr_upper"], np.exp([0.3, -0.7]))
    np.testing.assert_array_equal(summary["prob_hr_below_1"], [0.0, 1.0])
    assert not summary["converged"].any()  # constant chains: R-hat undefined, ESS 100 < 400


def test_summary_of_known_draws():
    # Two chains, each the same 401 equally spaced draws on [-1, 1]. In the pooled 802 sorted draws every grid
    # value appears twice, so the 2.5% and 97.5% quantiles (positions 20.025 and 780.975) are grid values 10 and
    # 390 exactly: -0.95 and 0.95.
    step = 2 / 400
    grid = -1 + step * np.arange(401)
    summary = summarize_pwe(fake_idata(np.stack([grid, grid])[..., None])).iloc[0]
    assert summary["term"] == "t0"
    assert summary["mean"] == pytest.approx(0.0, abs=1e-12)
    assert summary["sd"] == pytest.approx(np.sqrt(2 * np.sum(grid**2) / 801), rel=1e-12)
    geometric_mean_of_exp = math.exp(-1) * (math.exp(401 * step) - 1) / (math.exp(step) - 1) / 401
    assert summary["hr_mean"] == pytest.approx(geometric_mean_of_exp, rel=1e-12)
    assert summary["hr_lower"] == pytest.approx(math.exp(-0.95), rel=1e-12)
    assert summary["hr_upper"] == pytest.approx(math.exp(0.95), rel=1e-12)
    assert summary["prob_hr_below_1"] == pytest.approx(200 / 401)
    assert summary["r_hat"] > 1.01  # sorted draws: the split halves of each chain disagree
    assert not summary["converged"]


def test_summary_convergence_rule():
    rng = np.random.default_rng(3)
    coef = rng.normal(size=(4, 500, 1))
    assert summarize_pwe(fake_idata(coef))["converged"].all()
    diverging = np.zeros((4, 500), dtype=bool)
    diverging[2, 17] = True
    summary = summarize_pwe(fake_idata(coef, diverging))
    assert not summary["converged"].any()
    assert summary.attrs["divergences"] == 1
    assert list(summary.columns) == [
        "term",
        "mean",
        "sd",
        "hr_mean",
        "hr_lower",
        "hr_upper",
        "prob_hr_below_1",
        "r_hat",
        "ess_bulk",
        "ess_tail",
        "bfmi_min",
        "converged",
    ]


def test_low_bfmi_fails_the_convergence_rule():
    rng = np.random.default_rng(4)
    coef = rng.normal(size=(2, 500, 1))
    smooth = np.cumsum(rng.normal(scale=0.01, size=(2, 500)), axis=1)  # energy that barely moves between draws
    idata = fake_idata(coef)
    idata.sample_stats["energy"] = (("chain", "draw"), smooth)
    summary = summarize_pwe(idata)
    assert summary["bfmi_min"].item() < 0.3
    assert not summary["converged"].item()
    idata.sample_stats["energy"] = (("chain", "draw"), rng.normal(size=(2, 500)))
    assert summarize_pwe(idata)["converged"].item()


def test_converged_is_a_boolean_array_false_when_bfmi_is_low():
    """The rule's BFMI part is a boolean: every other part passes, so a low BFMI alone must give False (not 0 or -2)."""
    rng = np.random.default_rng(4)
    idata = fake_idata(rng.normal(size=(2, 500, 3)))
    idata.sample_stats["energy"] = (("chain", "draw"), np.cumsum(rng.normal(scale=0.01, size=(2, 500)), axis=1))
    columns = diagnostics(idata, "coef")
    assert columns["bfmi_min"][0] < BFMI_MIN
    assert (columns["r_hat"] < RHAT_MAX).all()
    assert (np.minimum(columns["ess_bulk"], columns["ess_tail"]) >= ESS_MIN).all()
    assert columns["converged"].dtype == np.bool_
    np.testing.assert_array_equal(columns["converged"], [False, False, False])
    summary = summarize_pwe(idata)
    assert summary["converged"].dtype == np.bool_
    assert summary["converged"].tolist() == [False, False, False]


def test_without_energy_statistics_bfmi_does_not_fail_the_rule():
    idata = fake_idata(np.random.default_rng(3).normal(size=(4, 500, 2)))
    columns = diagnostics(idata, "coef")
    assert np.isnan(columns["bfmi_min"]).all()
    assert columns["converged"].dtype == np.bool_
    assert columns["converged"].tolist() == [True, True]


def test_convergence_rule_text_states_the_constants():
    assert convergence_rule_text() == (
        f"R-hat below {RHAT_MAX:g}, bulk and tail effective sample sizes of at least {ESS_MIN}, an energy BFMI of at "
        f"least {BFMI_MIN:g} in every chain and no divergent transitions"
    )
    # the report's wording of the shipped rule, unchanged by the move of the text into the model
    assert convergence_rule_text() == (
        "R-hat below 1.01, bulk and tail effective sample sizes of at least 400, an energy BFMI of at least 0.3 in "
        "every chain and no divergent transitions"
    )


def test_posterior_probability_is_nan_when_any_draw_is_nan():
    # Issue #22: an interrupted chain's NaN draws were counted as "not below 1" (0.243 reported for 0.968).
    coef = np.full((2, 50, 2), -0.5)
    coef[1, 30:, 0] = np.nan  # chain 1 stopped after 30 draws
    summary = summarize_pwe(fake_idata(coef)).set_index("term")
    assert math.isnan(summary.loc["t0", "prob_hr_below_1"])
    assert summary.loc["t1", "prob_hr_below_1"] == 1.0
    np.testing.assert_array_equal(probability_below_zero(np.array([[-1.0, 1.0, -2.0, 0.0]]), axis=1), [0.5])
    assert math.isnan(probability_below_zero(np.array([-1.0, np.nan])))


def test_a_posterior_with_a_nan_draw_is_refused_naming_the_chain():
    coef = np.full((3, 20, 1), 0.1)
    coef[2, 5:, 0] = np.nan
    with pytest.raises(SamplingError, match=r"NaN draws \(coef in chain 2\)"):
        require_complete_draws(fake_idata(coef))
    require_complete_draws(fake_idata(np.full((3, 20, 1), 0.1)))  # complete draws pass
