"""Sampling the PWE model: agreement with Cox, reproducibility, the inputs and log-likelihood a fit keeps."""

import signal

import arviz as az
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from tests.models.pwe.conftest import SMALL_DESIGN, SMALL_EVENT, SMALL_MODEL, SMALL_SAMPLER, SMALL_TIME
from tmesurv import interrupts
from tmesurv.models.pwe.data import pwe_log_likelihood
from tmesurv.models.pwe.diagnostics import summarize_pwe
from tmesurv.models.pwe.fit import fit_pwe, pointwise_log_likelihood
from tmesurv.models.pwe.model import build_pwe_model
from tmesurv.models.pwe.settings import PwePriors, PweSettings, SamplerSettings
from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial


@pytest.mark.sampling
def test_posterior_means_agree_with_cox(pwe_cohort):
    time, event, design = pwe_cohort(seed=2024)
    cox = CoxPHFitter().fit(design.assign(time=time, event=event), duration_col="time", event_col="event")
    settings = PweSettings(intervals=4, priors=PwePriors(coef_sd=10.0))
    sampler = SamplerSettings(draws=1000, tune=500, chains=2, seed=7)
    summary = summarize_pwe(fit_pwe(time, event, design, settings, sampler)).set_index("term")
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
    settings, sampler = (
        PweSettings(intervals=40, priors=vague),
        SamplerSettings(draws=1000, tune=1000, chains=2, seed=3),
    )
    summary = summarize_pwe(fit_pwe(time, event, design, settings, sampler, log_likelihood=False)).set_index("term")
    difference = (summary["mean"] - cox.params_.reindex(summary.index)).abs()
    assert (difference < 0.03).all(), difference
    assert summary["converged"].all(), summary


@pytest.fixture(scope="module")
def small_fit():
    return fit_pwe(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL, SMALL_SAMPLER, log_likelihood=True)


@pytest.mark.sampling
def test_an_interrupt_the_sampler_swallowed_is_raised_again(monkeypatch):
    # nutpie catches Ctrl-C and returns its NaN-padded chains; the fit must raise instead of returning them.
    monkeypatch.setattr(interrupts, "_received", [signal.SIGINT])
    with pytest.raises(KeyboardInterrupt):
        fit_pwe(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL, SMALL_SAMPLER)


@pytest.mark.sampling
def test_same_seed_gives_identical_posterior(small_fit):
    again = fit_pwe(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL, SMALL_SAMPLER)
    for name in ["coef_std", "coef", "log_baseline"]:
        np.testing.assert_array_equal(again.posterior[name].to_numpy(), small_fit.posterior[name].to_numpy())


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
    np.testing.assert_allclose(rescored, pointwise_log_likelihood(saved), atol=1e-8)
    np.testing.assert_allclose(rescored, saved.log_likelihood["event"].to_numpy(), rtol=1e-6)  # kept as float32
    assert saved.log_likelihood["event"].dtype == np.float32


@pytest.mark.sampling
def test_a_fit_keeps_no_draws_x_patients_array_unless_asked():
    fit = fit_pwe(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL, SMALL_SAMPLER)
    assert set(fit.groups()) == {"posterior", "sample_stats", "constant_data"}


@pytest.mark.sampling
def test_log_likelihood_is_per_patient_and_sums_to_model_likelihood(small_fit, likelihood_at):
    pointwise = pointwise_log_likelihood(small_fit)
    assert pointwise.shape == (SMALL_SAMPLER.chains, SMALL_SAMPLER.draws, SMALL_TIME.size)
    assert small_fit.log_likelihood["event"].dims == ("chain", "draw", "patient")
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL)
    posterior = small_fit.posterior
    for chain, draw in [(0, 0), (1, SMALL_SAMPLER.draws - 1), (0, 17)]:
        at = posterior.isel(chain=chain, draw=draw)
        point = {
            "coef_std": at["coef_std"].to_numpy(),
            "baseline_start": at["baseline_start"].to_numpy(),
            "random_walk_sd_log__": np.log(at["random_walk_sd"].to_numpy()),
            "baseline_steps_std": at["baseline_steps_std"].to_numpy(),  # 9 events in 4 intervals: non-centred
        }
        expected = likelihood_at(model, point)
        assert float(pointwise[chain, draw].sum()) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_both_samplers_give_the_same_posterior_within_monte_carlo_error(sampler, pwe_cohort):
    time, event, design = pwe_cohort(seed=11, n=300)
    settings = PweSettings(intervals=4)
    chosen = SamplerSettings(draws=500, tune=500, chains=2, seed=5, sampler=sampler)
    fit = fit_pwe(time, event, design, settings, chosen)
    reference = fit_pwe(time, event, design, settings, chosen.model_copy(update={"sampler": "nutpie", "seed": 99}))
    mean, reference_mean = (f.posterior["coef"].mean(("chain", "draw")) for f in (fit, reference))
    error = np.sqrt(az.mcse(fit, var_names=["coef"])["coef"] ** 2 + az.mcse(reference, var_names=["coef"])["coef"] ** 2)
    assert (np.abs(mean - reference_mean) < 4 * error).all()
    assert list(fit.posterior["coef"]["term"].to_numpy()) == list(design.columns)


@pytest.mark.slow
@pytest.mark.sampling
def test_a_reused_compiled_model_gives_the_draws_of_a_fresh_compile(pwe_cohort, monkeypatch):
    from tmesurv.models.pwe import fit as fit_module
    from tmesurv.models.pwe.shrinkage import ShrinkagePrior

    monkeypatch.setattr(fit_module, "_COMPILED", {})
    prior = ShrinkagePrior("horseshoe", shrunk=(1, 2), terms=3)
    sampler = SamplerSettings(draws=50, tune=50, chains=2, seed=4)
    settings = PweSettings(intervals=4, priors=PwePriors(expected_interactions=1.0))
    fit_pwe(*pwe_cohort(seed=1, n=150), settings, sampler, coefficient_prior=prior)  # compiles, kept for reuse
    ((key, (_, compiled)),) = fit_module._COMPILED.items()
    other_cohort = pwe_cohort(seed=2, n=200)  # another size and other data: the compiled model rebound
    reused = fit_pwe(*other_cohort, settings, sampler, coefficient_prior=prior)
    assert list(fit_module._COMPILED) == [key]  # the same structure: not compiled again
    assert fit_module._COMPILED[key][1] is compiled
    fit_module._COMPILED.clear()
    fresh = fit_pwe(*other_cohort, settings, sampler, coefficient_prior=prior)
    assert fit_module._COMPILED[key][1] is not compiled  # compiled afresh
    for name in ("coef", "log_baseline"):
        np.testing.assert_array_equal(reused.posterior[name].to_numpy(), fresh.posterior[name].to_numpy())
    np.testing.assert_array_equal(reused.constant_data["time"].to_numpy(), other_cohort[0])
