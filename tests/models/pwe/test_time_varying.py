"""Time-varying treatment effect of the PWE model (bayes.time_varying): log density by hand, recovery, PH limit."""

import math

import numpy as np
import pandas as pd
import pytest

from tmesurv.errors import InputError
from tmesurv.models.pwe.data import pwe_log_likelihood
from tmesurv.models.pwe.diagnostics import summarize_pwe
from tmesurv.models.pwe.fit import fit_pwe, pointwise_log_likelihood
from tmesurv.models.pwe.model import build_pwe_model
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings
from tmesurv.models.pwe.time_varying import arm_log_hazard_ratio, summarize_time_varying

# The small cohort of test_pwe.py: event times 1..9 with K = 4 give cuts at exactly 3, 5 and 7.
SMALL_TIME = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 5.0, 12.0, 0.5])
SMALL_EVENT = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
SMALL_DESIGN = pd.DataFrame(
    {
        "arm": [0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0],
        "b_cell_ges": [2.1, 3.5, 1.2, 4.4, 2.8, 3.3, 0.9, 5.1, 2.2, 3.0, 1.7, 4.0],
    },
    dtype=float,
).assign(**{"arm:b_cell_ges": lambda frame: frame["arm"] * frame["b_cell_ges"]})
CUTS = [3.0, 5.0, 7.0]
SETTINGS = PweSettings(intervals=4, time_varying=True)
STEPS, STEP_SD = np.array([0.3, -0.72, 0.48]), 0.8  # baseline random walk
ARM_STEPS, ARM_STEP_SD = np.array([0.5, -1.1, 0.2]), 0.35  # arm log-HR random walk


def hand_log_likelihood(time, event, eta, log_hazard):
    """Explicit per-interval loop with a per-patient log hazard per interval, ``log_hazard[i, k]``."""
    bounds = [0.0, *CUTS, math.inf]
    result = []
    for t, d, e, row in zip(time, event, eta, log_hazard, strict=True):
        cumulative, at_t = 0.0, None
        for k in range(len(bounds) - 1):
            start, end = bounds[k], bounds[k + 1]
            cumulative += math.exp(row[k]) * max(0.0, min(t, end) - start)
            if start < t <= end or (k == 0 and t == 0):
                at_t = row[k]
        result.append(d * (at_t + e) - math.exp(e) * cumulative)
    return np.array(result)


def small_point():
    return {
        "coef_std": np.array([0.4, -0.3, 0.25]),
        "baseline_start": np.float64(-1.7),
        "random_walk_sd_log__": np.float64(np.log(STEP_SD)),
        "baseline_steps_std": STEPS / STEP_SD,  # 9 events in 4 intervals: non-centred
        "time_varying_sd_log__": np.float64(np.log(ARM_STEP_SD)),
        "time_steps_std": ARM_STEPS / ARM_STEP_SD,
    }


def by_hand(point):
    """Original-scale arm log HR per interval, other coefficients and log baseline, computed from a point."""
    x = SMALL_DESIGN.to_numpy()
    mean, sd = x.mean(axis=0), x.std(axis=0)
    coef = point["coef_std"] / sd
    arm_effect = coef[0] + np.concatenate([[0.0], np.cumsum(ARM_STEPS)])  # steps on the log-HR scale
    centred = point["baseline_start"] + np.concatenate([[0.0], np.cumsum(STEPS)])
    log_baseline = centred - mean[0] * arm_effect - mean[1:] @ coef[1:]
    return arm_effect, coef[1:], log_baseline


def test_time_varying_log_density_matches_hand_computation(likelihood_at, value_point):
    model = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SETTINGS)
    point = small_point()
    assert set(value_point(model, point)) == set(model.initial_point())
    arm_effect, coef, log_baseline = by_hand(point)
    x = SMALL_DESIGN.to_numpy()
    log_hazard = log_baseline + np.outer(x[:, 0], arm_effect)
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, x[:, 1:] @ coef, log_hazard)
    assert likelihood_at(model, point) == pytest.approx(expected.sum(), abs=1e-8)
    # the deterministics are the same original-scale quantities
    outputs = model.replace_rvs_by_values([model["coef_time"], model["log_baseline"], model["coef"]])
    derived = model.compile_fn(outputs, inputs=model.value_vars, point_fn=True, on_unused_input="ignore")(
        value_point(model, point)
    )
    np.testing.assert_allclose(derived[0], arm_effect, atol=1e-12)
    np.testing.assert_allclose(derived[1], log_baseline, atol=1e-12)
    events = np.bincount(np.searchsorted(CUTS, SMALL_TIME[SMALL_EVENT == 1]), minlength=4)
    np.testing.assert_allclose(derived[2], [events @ arm_effect / events.sum(), *coef], atol=1e-12)


def test_numpy_kernel_with_arm_effect_matches_hand_computation():
    rng = np.random.default_rng(8)
    eta = rng.normal(size=SMALL_TIME.size)
    log_baseline, arm_effect = np.array([-2.0, -1.4, -2.3, -0.9]), np.array([-1.2, -0.6, 0.1, 0.4])
    arm = SMALL_DESIGN["arm"].to_numpy()
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline + np.outer(arm, arm_effect))
    got = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, CUTS, arm=arm, arm_effect=arm_effect)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # a constant arm effect is the proportional-hazards kernel with the arm in eta
    flat = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, CUTS, arm=arm, arm_effect=np.full(4, 0.3))
    ph = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta + 0.3 * arm, log_baseline, CUTS)
    np.testing.assert_allclose(flat, ph, rtol=0, atol=1e-12)


def test_single_interval_time_varying_is_proportional_hazards(likelihood_at, value_point):
    settings = SETTINGS.model_copy(update={"intervals": 1})
    tv = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, settings)
    ph = build_pwe_model(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, settings.model_copy(update={"time_varying": False}))
    point = {"coef_std": np.array([0.4, -0.3, 0.25]), "baseline_start": np.float64(-1.7)}
    assert set(value_point(tv, point)) == set(tv.initial_point())
    assert likelihood_at(tv, point) == pytest.approx(likelihood_at(ph, point), abs=1e-10)


@pytest.mark.parametrize(
    ("design", "match"),
    [
        (SMALL_DESIGN[["b_cell_ges", "arm"]], "first column to be 'arm'"),
        (SMALL_DESIGN.assign(arm=SMALL_DESIGN["arm"] * 2), "coded 0/1"),
    ],
)
def test_time_varying_needs_arm_first_and_binary(design, match):
    with pytest.raises(InputError, match=match):
        build_pwe_model(SMALL_TIME, SMALL_EVENT, design, SETTINGS)


# recovery on simulated cohorts


def simulate(seed: int, log_hr, n: int = 800) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Control hazard 0.06 / month; the treated hazard is 0.06 exp(log_hr(t)) with log_hr piecewise constant.

    ``log_hr`` is a list of (end of period, log HR) pairs, the last period open. Censoring uniform on 18-36 months.
    """
    rng = np.random.default_rng(seed)
    arm = (np.arange(n) % 2).astype(float)
    ends = np.array([end for end, _ in log_hr])
    starts = np.concatenate([[0.0], ends[:-1]])
    effect = np.array([value for _, value in log_hr])
    target = rng.exponential(size=n)
    event_time = np.empty(n)
    for group in (0, 1):
        rate = 0.06 * np.exp(effect * group)
        before = np.concatenate([[0.0], np.cumsum(rate[:-1] * np.diff(np.concatenate([[0.0], ends[:-1]])))])
        members = arm == group
        period = np.searchsorted(before, target[members], side="right") - 1
        event_time[members] = starts[period] + (target[members] - before[period]) / rate[period]
    censor = rng.uniform(18, 36, n)
    time = np.minimum(event_time, censor)
    return time, (event_time <= censor).astype(float), pd.DataFrame({"arm": arm})


def true_log_hr(log_hr, times):
    ends = np.array([end for end, _ in log_hr])
    return np.array([value for _, value in log_hr])[np.searchsorted(ends, times, side="left")]


NON_PH = [(6.0, math.log(0.3)), (math.inf, 0.0)]  # HR 0.3 in the first 6 months, 1 afterwards
TV_SETTINGS = PweSettings(intervals=6, time_varying=True)
TV_SAMPLER = SamplerSettings(draws=500, tune=500, chains=2, seed=3)


@pytest.fixture(scope="module")
def non_ph_fit():
    time, event, design = simulate(2024, NON_PH)
    return fit_pwe(time, event, design, TV_SETTINGS, TV_SAMPLER)


@pytest.mark.sampling
def test_per_interval_effect_tracks_a_non_proportional_truth(non_ph_fit):
    summary = summarize_time_varying(non_ph_fit)
    print(summary.to_string())
    middle = (summary["start"] + np.minimum(summary["end"], 36.0)) / 2
    truth = true_log_hr(NON_PH, middle)
    # intervals wholly before or after the change at month 6 (the one that straddles it is a mixture)
    clean = (summary["end"] <= 6.0) | (summary["start"] >= 6.0)
    error = (summary["mean"] - truth)[clean].abs()
    assert clean.sum() >= 4
    assert (error < 0.3).all(), summary[["start", "end", "mean"]].assign(truth=truth)
    early, late = summary[summary["end"] <= 6.0], summary[summary["start"] >= 6.0]
    assert (early["hr_upper"] < 0.75).all()
    assert ((late["hr_lower"] < 1) & (late["hr_upper"] > 1)).all()
    assert summary.attrs["time_varying_sd"]["mean"] > 0.2  # the data move the step sd off its prior mean 0.16


@pytest.mark.sampling
def test_time_varying_fit_keeps_pointwise_log_likelihood_consistent(non_ph_fit):
    constant, posterior = non_ph_fit.constant_data, non_ph_fit.posterior
    at = posterior.isel(chain=1, draw=17)
    design = constant["design"].to_numpy()
    expected = pwe_log_likelihood(
        constant["time"].to_numpy(),
        constant["event"].to_numpy(),
        np.zeros(design.shape[0]),
        at["log_baseline"].to_numpy(),
        constant["cuts"].to_numpy(),
        arm=design[:, 0],
        arm_effect=at["coef_time"].to_numpy(),
    )
    np.testing.assert_allclose(pointwise_log_likelihood(non_ph_fit)[1, 17], expected, atol=1e-10)
    np.testing.assert_allclose(pointwise_log_likelihood(non_ph_fit, slice(5, 9))[1, 17], expected[5:9], atol=1e-10)
    assert arm_log_hazard_ratio(non_ph_fit).shape == (TV_SAMPLER.chains * TV_SAMPLER.draws, 6)
    assert summarize_pwe(non_ph_fit).set_index("term").loc["arm", "mean"] < 0  # event-weighted average effect


@pytest.mark.sampling
def test_proportional_hazards_data_give_a_flat_effect(non_ph_fit):
    time, event, design = simulate(7, [(math.inf, math.log(0.6))])
    fit = fit_pwe(time, event, design, TV_SETTINGS, TV_SAMPLER)  # same shape: the compiled model is reused
    summary = summarize_time_varying(fit)
    print(summary.to_string(), summary.attrs)
    step_sd = summary.attrs["time_varying_sd"]["mean"]
    assert step_sd < 0.12  # below the prior mean sqrt(2 / pi) 0.2 = 0.16
    assert step_sd < summarize_time_varying(non_ph_fit).attrs["time_varying_sd"]["mean"] / 2
    assert np.ptp(summary["mean"]) < 0.25  # every interval's sd is about 0.12-0.16
    assert ((summary["hr_lower"] < 0.6) & (summary["hr_upper"] > 0.6)).all()


@pytest.mark.slow
@pytest.mark.sampling
def test_pymc_sampler_fits_the_time_varying_model():
    sampler = SamplerSettings(sampler="pymc", draws=50, tune=50, chains=2, seed=11)
    fit = fit_pwe(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SETTINGS, sampler, log_likelihood=True)
    assert fit.posterior["coef_time"].dims == ("chain", "draw", "interval")
    assert fit.log_likelihood["event"].shape == (2, 50, SMALL_TIME.size)
    assert list(summarize_time_varying(fit)["interval"]) == [0, 1, 2, 3]


def test_methods_text_says_what_is_fitted_and_how_the_average_is_weighted():
    from tmesurv.models.pwe.time_varying import treatment_effect_text

    varying = treatment_effect_text(True, 0.2, 8)
    assert "log hazard ratio in each of the (up to 8) baseline intervals" in varying
    assert "half-normal prior of scale 0.2" in varying
    assert "toward proportional hazards" in varying
    assert "event-weighted average" in varying
    assert "proportional hazards" in treatment_effect_text(False, 0.2, 8)
    assert "per-interval" not in treatment_effect_text(False, 0.2, 8)
