"""Shared data of the cure model tests: cohorts drawn from a mixture-cure piecewise-exponential model."""

import numpy as np
import pandas as pd
import pytest

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
