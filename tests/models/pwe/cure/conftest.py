"""Shared data of the cure model tests: cohorts drawn from a mixture-cure piecewise-exponential model."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from tmesurv.models.pwe.cure.density import cure_layout, expanded_draw, nutpie_cure_model
from tmesurv.models.pwe.cure.likelihood import cure_data
from tmesurv.models.pwe.settings import PwePriors, PweSettings

# The truth of :func:`simulated_cure_cohort`: the logit of the cure fraction and the uncured's log hazard ratios.
CURE_LOGIT = {"intercept": -0.8, "arm": 0.9, "b_cell_ges": 0.2, "arm:b_cell_ges": 0.6}
LATENCY_LOG_HR = {"arm": -0.3, "b_cell_ges": 0.2, "arm:b_cell_ges": -0.2}
EARLY_HAZARD, LATE_HAZARD, CHANGE = 0.15, 0.08, 6.0  # the uncured's baseline hazard per month, before/after month 6


def simulated_cure_cohort(seed: int, n: int = 400, follow_up: tuple[float, float] = (24.0, 48.0)):
    """Arm, a standard-normal biomarker and their product; cured patients never have the event.

    Returns time, event, the design (``arm``, ``b_cell_ges``, ``arm:b_cell_ges``) and each patient's cure probability.
    Censoring is uniform over ``follow_up`` (months), well after the uncured's events: the plateau is supported.
    """
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n).astype(float)
    biomarker = rng.normal(0.0, 1.0, n)
    design = pd.DataFrame({"arm": arm, "b_cell_ges": biomarker, "arm:b_cell_ges": arm * biomarker})
    logit = CURE_LOGIT["intercept"] + design.to_numpy() @ np.array([CURE_LOGIT[term] for term in design.columns])
    cure_probability = 1.0 / (1.0 + np.exp(-logit))
    cured = rng.random(n) < cure_probability
    eta = design.to_numpy() @ np.array([LATENCY_LOG_HR[term] for term in design.columns])
    target = rng.exponential(size=n) / np.exp(eta)
    early = EARLY_HAZARD * CHANGE
    event_time = np.where(target < early, target / EARLY_HAZARD, CHANGE + (target - early) / LATE_HAZARD)
    event_time[cured] = np.inf
    censor = rng.uniform(*follow_up, n)
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), design, cure_probability


@pytest.fixture
def cure_cohort():
    """:func:`simulated_cure_cohort`."""
    return simulated_cure_cohort


def zuma7_cohort(seed: int):
    """A simulated ZUMA-7 trial (n = 359, EFS in months): time, event, and the design of the arm alone."""
    from tmesurv.simulations.scenario import load_scenario
    from tmesurv.simulations.trial import simulate_trial

    scenario = load_scenario("zuma7")
    frame = simulate_trial(scenario, seed).to_frame()
    design = pd.DataFrame({"arm": (frame["arm"] == scenario.arms.treated_label).astype(float)})
    return frame["efs_time"].to_numpy(float), frame["efs_event"].to_numpy(float), design


WIDE = 1e4
FLAT = PwePriors(coef_sd=WIDE, baseline_sd=WIDE, random_walk_sd=WIDE, random_walk_sd_fixed=True,
                 cure_intercept_sd=WIDE, cure_coef_sd=WIDE)  # fmt: skip


def flat_prior_mode(time, event, design, intervals):
    """The mode of the hand-coded cure density with flat priors: the maximum-likelihood estimate, by BFGS.

    Every prior sd is 1e4 and the random-walk step sd is fixed at 1e4, so the priors are flat where the likelihood
    lives. Returns the original-scale parameters: cure intercept, cure coefficients, latency coefficients, log baseline.
    """
    data = cure_data(time, event, design, intervals)
    settings = PweSettings(intervals=intervals, priors=FLAT)
    compiled = nutpie_cure_model(data, settings)
    layout = cure_layout(data, settings)
    logp = compiled._make_logp_func()

    def negative(vector):
        value, gradient = logp(vector, **compiled._shared_data)
        return -value, -gradient

    start = np.zeros(layout.size)
    start[layout.n_terms : layout.n_terms + layout.n_intervals] = data.pwe.crude_log_rate
    mode = optimize.minimize(negative, start, jac=True, method="BFGS", options={"gtol": 1e-6, "maxiter": 5000})
    assert np.abs(negative(mode.x)[1]).max() < 1e-5  # a stationary point (BFGS may stop on precision loss there)
    at_mode = expanded_draw(mode.x, layout, **compiled._shared_data)
    return np.concatenate([[at_mode["cure_intercept"]], at_mode["cure_coef"], at_mode["coef"], at_mode["log_baseline"]])


TERMS = ["arm", "b_cell_ges", "arm:b_cell_ges"]


def constructed_fit(cure_intercept, cure_coef, coef, draws=400, jitter=0.0, seed=0):
    """An InferenceData with the variables of a cure fit: draws around fixed values, two chains."""
    rng = np.random.default_rng(seed)
    shape = (2, draws)
    posterior = {
        "cure_intercept": cure_intercept + jitter * rng.standard_normal(shape),
        "cure_coef": np.asarray(cure_coef) + jitter * rng.standard_normal((*shape, 3)),
        "coef": np.asarray(coef) + jitter * rng.standard_normal((*shape, 3)),
    }
    time = np.array([1.0, 2.0, 3.0, 4.0, 20.0, 25.0, 30.0, 2.5, 3.5, 22.0, 26.0, 31.0])
    event = np.array([1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0], dtype=float)
    arm = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], dtype=float)
    biomarker = np.linspace(-1.0, 1.0, 12)
    design = np.column_stack([arm, biomarker, arm * biomarker])
    constant = {"time": time, "event": event, "design": design, "design_mean": design.mean(axis=0)}
    return az.from_dict(
        posterior=posterior,
        constant_data=constant,
        sample_stats={"diverging": np.zeros(shape, dtype=bool)},
        coords={"term": TERMS, "patient": np.arange(12)},
        dims={"cure_coef": ["term"], "coef": ["term"], "design": ["patient", "term"], "design_mean": ["term"]}
        | {"time": ["patient"], "event": ["patient"]},
    )
