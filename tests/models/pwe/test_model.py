import math

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from lifelines import CoxPHFitter

from tmesurv.config import BayesSpec
from tmesurv.errors import InputError
from tmesurv.models.pwe.model import (
    build_pwe_model,
    fit_pwe,
    interval_cuts,
    pwe_data,
    pwe_log_likelihood,
    summarize_pwe,
)
from tmesurv.models.pwe.settings import PwePriors
from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial

# Event times 1..9 with K = 4 give cuts at exactly 3, 5 and 7 (linear quantiles at positions 2, 4, 6), so some
# patients sit exactly on a cut; censored times 5 and 12 must not move the cuts.
SMALL_TIME = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 5.0, 12.0, 0.5])
SMALL_EVENT = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
SMALL_DESIGN = pd.DataFrame(
    {
        "arm": [0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0],
        "b_cell_ges": [2.1, 3.5, 1.2, 4.4, 2.8, 3.3, 0.9, 5.1, 2.2, 3.0, 1.7, 4.0],
    },
    dtype=float,
).assign(**{"arm:b_cell_ges": lambda frame: frame["arm"] * frame["b_cell_ges"]})
SMALL_SETTINGS = BayesSpec(intervals=4, draws=60, tune=60, chains=2, seed=11)


def hand_log_likelihood(time, event, eta, log_baseline, cuts):
    """Explicit per-interval loop: exposure in every interval (start, end], and the interval of the event."""
    bounds = [0.0, *cuts, math.inf]
    result = []
    for t, d, e in zip(time, event, eta, strict=True):
        cumulative, log_hazard_at_t = 0.0, None
        for k in range(len(bounds) - 1):
            start, end = bounds[k], bounds[k + 1]
            cumulative += math.exp(log_baseline[k]) * max(0.0, min(t, end) - start)
            if start < t <= end or (k == 0 and t == 0):
                log_hazard_at_t = log_baseline[k]
        result.append(d * (log_hazard_at_t + e) - math.exp(e) * cumulative)
    return np.array(result)


SMALL_STEPS = np.array([0.3, -0.72, 0.48])
SMALL_STEP_SD = 0.8


def small_point(model):
    """A fixed point in the model's (transformed) value space; the steps are ``SMALL_STEPS`` in either form."""
    point = {
        "coef_std": np.array([0.4, -0.3, 0.25]),
        "baseline_start": np.float64(-1.7),
        "random_walk_sd_log__": np.float64(np.log(SMALL_STEP_SD)),
    }
    if "baseline_steps_std" in model.initial_point():  # few events per interval: non-centred steps
        return point | {"baseline_steps_std": SMALL_STEPS / SMALL_STEP_SD}
    return point | {"baseline_steps": SMALL_STEPS}


def original_scale(point, design):
    """Coefficients and log baseline on the original design scale, computed by hand from a point."""
    x = design.to_numpy()
    coef = point["coef_std"] / x.std(axis=0)
    steps = point["baseline_steps"] if "baseline_steps" in point else point["baseline_steps_std"] * SMALL_STEP_SD
    centred = point["baseline_start"] + np.concatenate([[0.0], np.cumsum(steps)])
    return coef, centred - x.mean(axis=0) @ coef


# 1. log density against a hand computation


def test_model_log_density_matches_hand_computation(likelihood_at, value_point):
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_SETTINGS)
    point = small_point(model)
    assert set(value_point(model, point)) == set(model.initial_point())
    coef, log_baseline = original_scale(point, SMALL_DESIGN)
    expected = hand_log_likelihood(
        SMALL_TIME, SMALL_EVENT, SMALL_DESIGN.to_numpy() @ coef, log_baseline, [3.0, 5.0, 7.0]
    )
    assert likelihood_at(model, point) == pytest.approx(expected.sum(), abs=1e-8)


def test_single_interval_model_log_density(likelihood_at, value_point):
    settings = SMALL_SETTINGS.model_copy(update={"intervals": 1})
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, settings)
    point = {"coef_std": np.array([0.4, -0.3, 0.25]), "baseline_start": np.float64(-1.7)}
    assert set(value_point(model, point)) == set(model.initial_point())
    x = SMALL_DESIGN.to_numpy()
    coef = point["coef_std"] / x.std(axis=0)
    log_baseline = [point["baseline_start"] - x.mean(axis=0) @ coef]
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, x @ coef, log_baseline, [])
    assert likelihood_at(model, point) == pytest.approx(expected.sum(), abs=1e-8)


def test_rotated_coefficients_keep_the_isotropic_normal_prior(value_point):
    """Sampling along the design's principal axes is the same model: the same prior density on ``coef_std``."""
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_SETTINGS)
    rotation = model["rotation"].get_value()
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    coef_std = np.array([0.4, -0.3, 0.25])
    point = value_point(model, {"coef_std": coef_std}) | {"baseline_start": np.float64(-1.7)}
    prior = model.compile_logp(vars=[model["coef_rotated"]])(model.initial_point() | point)
    expected = pm.logp(pm.Normal.dist(0.0, SMALL_SETTINGS.priors.coef_sd), coef_std).sum().eval()
    assert prior == pytest.approx(expected, abs=1e-10)
    (standardised,) = model.replace_rvs_by_values([model["coef_std"]])
    at = model.compile_fn(standardised, inputs=model.value_vars, point_fn=True, on_unused_input="ignore")
    np.testing.assert_allclose(at(model.initial_point() | point), coef_std, atol=1e-12)


def test_rotation_diagonalises_the_cox_information_at_zero():
    """The information by hand: over events, the covariance of the standardised design over the risk set."""
    data = pwe_data(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, 4)
    x = SMALL_DESIGN.to_numpy()
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    information = sum(np.cov(z[t <= SMALL_TIME].T, ddof=0) for t in SMALL_TIME[SMALL_EVENT == 1])
    crossed = data.rotation.T @ information @ data.rotation
    np.testing.assert_allclose(data.rotation.T @ data.rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(crossed - np.diag(np.diag(crossed)), 0.0, atol=1e-9)


def test_rotation_does_not_depend_on_the_row_order_under_tied_times():
    """Integer months tie often: a censoring listed before an event at the same time must not change the axes."""
    rng = np.random.default_rng(8)
    time, event = rng.integers(1, 6, 60).astype(float), rng.integers(0, 2, 60)
    design = pd.DataFrame({"arm": rng.integers(0, 2, 60).astype(float), "b": rng.normal(size=60)})
    design["arm:b"] = design["arm"] * design["b"]
    shuffled = rng.permutation(60)
    first = pwe_data(time, event, design, 3).rotation
    second = pwe_data(time[shuffled], event[shuffled], design.iloc[shuffled].reset_index(drop=True), 3).rotation
    np.testing.assert_allclose(np.abs(first.T @ second), np.eye(3), atol=1e-9)  # same axes, up to sign


def test_numpy_kernel_matches_hand_computation():
    cuts = np.array([3.0, 5.0, 7.0])
    eta = np.linspace(-0.8, 0.9, SMALL_TIME.size)
    log_baseline = np.array([-2.0, -1.4, -2.3, -0.9])
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, cuts)
    got = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, cuts)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_numpy_kernel_broadcasts_over_draws():
    cuts = np.array([3.0, 5.0, 7.0])
    rng = np.random.default_rng(5)
    eta = rng.normal(size=(2, 3, SMALL_TIME.size))
    log_baseline = rng.normal(-1.5, 0.5, size=(2, 3, 4))
    got = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, cuts)
    assert got.shape == (2, 3, SMALL_TIME.size)
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, eta[1, 2], log_baseline[1, 2], cuts)
    np.testing.assert_allclose(got[1, 2], expected, rtol=0, atol=1e-12)


def test_single_interval_is_exponential():
    eta = np.zeros(SMALL_TIME.size)
    got = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, np.array([-1.0]), np.empty(0))
    np.testing.assert_allclose(got, SMALL_EVENT * -1.0 - np.exp(-1.0) * SMALL_TIME, atol=1e-12)


# 2. interval cuts


def test_interval_cuts_are_event_time_quantiles():
    np.testing.assert_allclose(interval_cuts(SMALL_TIME, SMALL_EVENT, 4), [3.0, 5.0, 7.0])
    # K = 2: the median of the nine event times.
    np.testing.assert_allclose(interval_cuts(SMALL_TIME, SMALL_EVENT, 2), [5.0])
    # K = 3 on 1..9: positions 8/3 and 16/3, i.e. 1 + 8/3 and 1 + 16/3.
    np.testing.assert_allclose(interval_cuts(SMALL_TIME, SMALL_EVENT, 3), [11 / 3, 19 / 3])


def test_interval_cuts_deduplicate_and_handle_one_interval():
    time = np.array([2.0, 2.0, 2.0, 2.0, 5.0, 8.0])
    event = np.array([1, 1, 1, 1, 1, 0])
    np.testing.assert_allclose(interval_cuts(time, event, 4), [2.0])
    assert interval_cuts(time, event, 1).size == 0


def test_interval_cuts_need_events():
    with pytest.raises(InputError, match="at least one event"):
        interval_cuts(SMALL_TIME, np.zeros(SMALL_TIME.size), 4)


def test_build_rejects_constant_column():
    design = SMALL_DESIGN.assign(constant=1.0)
    with pytest.raises(InputError, match="constant"):
        build_pwe_model(SMALL_TIME, SMALL_EVENT, design, SMALL_SETTINGS)


def test_model_coords():
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_SETTINGS)
    assert list(model.coords["term"]) == ["arm", "b_cell_ges", "arm:b_cell_ges"]
    assert len(model.coords["interval"]) == 4


# 3. agreement with Cox


@pytest.mark.sampling
def test_posterior_means_agree_with_cox(pwe_cohort):
    time, event, design = pwe_cohort(seed=2024)
    cox = CoxPHFitter().fit(design.assign(time=time, event=event), duration_col="time", event_col="event")
    settings = BayesSpec(intervals=4, draws=1000, tune=500, chains=2, seed=7, priors=PwePriors(coef_sd=10.0))
    summary = summarize_pwe(fit_pwe(time, event, design, settings)).set_index("term")
    difference = (summary["mean"] - cox.params_.reindex(summary.index)).abs()
    assert (difference < 0.05).all(), difference
    assert (summary["r_hat"] < 1.01).all(), summary["r_hat"]


@pytest.mark.sampling
@pytest.mark.parametrize("biomarker", [None, "b_cell_ges", "ldh_elevated"])
def test_vague_fine_cut_posterior_reproduces_cox_on_the_zuma7_scenario(biomarker):
    """Vague priors, a free baseline (fixed large random-walk sd) and 40 intervals: within 0.03 of Cox (Efron)."""
    trial = simulate_trial(load_scenario("zuma7"), seed=1).to_frame()
    if biomarker is not None:
        trial = trial[trial[biomarker].notna()]
    design = pd.DataFrame({"arm": (trial["arm"] == "axi-cel").to_numpy(dtype=float)})
    if biomarker is not None:
        design[biomarker] = trial[biomarker].to_numpy(dtype=float)
        design[f"arm:{biomarker}"] = design["arm"] * design[biomarker]
    time, event = trial["efs_time"].to_numpy(), trial["efs_event"].to_numpy()
    cox = CoxPHFitter().fit(design.assign(time=time, event=event), duration_col="time", event_col="event")
    vague = PwePriors(coef_sd=10.0, random_walk_sd=10.0, random_walk_sd_fixed=True)
    settings = BayesSpec(intervals=40, draws=1000, tune=1000, chains=2, seed=3, priors=vague)
    summary = summarize_pwe(fit_pwe(time, event, design, settings, log_likelihood=False)).set_index("term")
    difference = (summary["mean"] - cox.params_.reindex(summary.index)).abs()
    assert (difference < 0.03).all(), difference
    assert summary["converged"].all(), summary


# 4. reproducibility and the summary


@pytest.fixture(scope="module")
def small_fit():
    return fit_pwe(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_SETTINGS)


@pytest.mark.sampling
def test_same_seed_gives_identical_posterior(small_fit):
    again = fit_pwe(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_SETTINGS)
    for name in ["coef_std", "coef", "log_baseline"]:
        np.testing.assert_array_equal(again.posterior[name].to_numpy(), small_fit.posterior[name].to_numpy())
    np.testing.assert_array_equal(
        again.log_likelihood["event"].to_numpy(), small_fit.log_likelihood["event"].to_numpy()
    )


@pytest.mark.sampling
def test_fit_keeps_inputs_for_rescoring(small_fit, tmp_path):
    small_fit.to_netcdf(tmp_path / "fit.nc")
    saved = az.from_netcdf(tmp_path / "fit.nc")
    data = saved.constant_data
    np.testing.assert_array_equal(data["time"].to_numpy(), SMALL_TIME)
    np.testing.assert_array_equal(data["event"].to_numpy(), SMALL_EVENT)
    np.testing.assert_array_equal(data["design"].to_numpy(), SMALL_DESIGN.to_numpy())
    assert list(data["term"].to_numpy()) == list(SMALL_DESIGN.columns)
    np.testing.assert_allclose(data["cuts"].to_numpy(), [3.0, 5.0, 7.0])
    # Re-score from the stored inputs and original-scale parameters alone.
    posterior = saved.posterior
    eta = np.einsum("pt,cdt->cdp", data["design"].to_numpy(), posterior["coef"].to_numpy())
    rescored = pwe_log_likelihood(
        data["time"].to_numpy(), data["event"].to_numpy(), eta, posterior["log_baseline"].to_numpy(), data["cuts"]
    )
    np.testing.assert_allclose(rescored, small_fit.log_likelihood["event"].to_numpy(), atol=1e-8)


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


# 5. pointwise log-likelihood


@pytest.mark.sampling
def test_log_likelihood_is_per_patient_and_sums_to_model_likelihood(small_fit, likelihood_at):
    pointwise = small_fit.log_likelihood["event"]
    assert pointwise.dims == ("chain", "draw", "patient")
    assert pointwise.shape == (SMALL_SETTINGS.chains, SMALL_SETTINGS.draws, SMALL_TIME.size)
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_SETTINGS)
    posterior = small_fit.posterior
    for chain, draw in [(0, 0), (1, SMALL_SETTINGS.draws - 1), (0, 17)]:
        at = posterior.isel(chain=chain, draw=draw)
        point = {
            "coef_std": at["coef_std"].to_numpy(),
            "baseline_start": at["baseline_start"].to_numpy(),
            "random_walk_sd_log__": np.log(at["random_walk_sd"].to_numpy()),
            "baseline_steps_std": at["baseline_steps_std"].to_numpy(),  # 9 events in 4 intervals: non-centred
        }
        expected = likelihood_at(model, point)
        assert float(pointwise.isel(chain=chain, draw=draw).sum()) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_both_samplers_give_the_same_posterior_within_monte_carlo_error(sampler, pwe_cohort):
    time, event, design = pwe_cohort(seed=11, n=300)
    settings = BayesSpec(intervals=4, draws=500, tune=500, chains=2, seed=5, sampler=sampler)
    fit = fit_pwe(time, event, design, settings)
    reference = fit_pwe(time, event, design, settings.model_copy(update={"sampler": "nutpie", "seed": 99}))
    mean, reference_mean = (f.posterior["coef"].mean(("chain", "draw")) for f in (fit, reference))
    error = np.sqrt(az.mcse(fit, var_names=["coef"])["coef"] ** 2 + az.mcse(reference, var_names=["coef"])["coef"] ** 2)
    assert (np.abs(mean - reference_mean) < 4 * error).all()
    assert list(fit.posterior["coef"]["term"].to_numpy()) == list(design.columns)


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


def test_step_parametrisation_follows_events_per_interval(pwe_cohort):
    few = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_SETTINGS)
    assert "baseline_steps_std" in few.initial_point()
    time, event, design = pwe_cohort(seed=3, n=600)
    many = build_pwe_model(time, event, design, SMALL_SETTINGS)  # hundreds of events in 4 intervals
    assert "baseline_steps" in many.initial_point()
    fixed = SMALL_SETTINGS.model_copy(update={"priors": PwePriors(random_walk_sd=10.0, random_walk_sd_fixed=True)})
    assert "baseline_levels" in build_pwe_model(time, event, design, fixed).initial_point()
