"""Simulation-based calibration (SBC; Talts et al. 2018, arXiv:1804.06788) of the Bayesian PWE model's priors.

Draw the parameters from the prior, simulate a cohort from the piecewise-exponential model, fit it with the default
sampler (nutpie on :func:`~tmesurv.models.pwe.posterior.nutpie_model`, the density of the PyMC specification), and
record the rank of each true value among near-independent posterior draws. If the fit computes the posterior of the
model that generated the data, every rank is uniform on ``0..THINNED``.

SBC needs a prior that does not depend on the data; the product fixes three things from the cohort, each a constant
here:

* the covariates are drawn first and everything is conditional on them, so the design's standardisation (the prior
  ``Normal(0, coef_sd)`` is per sd of each column) is a constant; the rotation to the principal axes does not change
  the isotropic prior;
* the cut points are fixed in advance (``CUTS``; :func:`~tmesurv.models.pwe.data.pwe_data` ``cuts``) instead of the
  event-time quantiles;
* the first level's prior is centred on the constant ``PRIOR_CENTRE`` instead of the cohort's crude log rate.

A cohort without events cannot be fitted and is drawn again: conditioning on an event of the data leaves every
posterior, and so the ranks' uniformity, unchanged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import nutpie
import pandas as pd
import pyarrow as pa
from scipy import stats

from tmesurv.models.pwe.data import pwe_data
from tmesurv.models.pwe.model import centred_steps
from tmesurv.models.pwe.posterior import GAMMA_SHAPE, nutpie_model
from tmesurv.models.pwe.settings import PwePriors, PweSettings

PATIENTS = 60
CUTS = np.array([3.0, 8.0])  # months: three baseline intervals
PRIOR_CENTRE = float(np.log(0.1))  # the first level's prior mean (log events per month)
CENSORING = (6.0, 18.0)  # uniform censoring times (months), independent of the parameters
TUNE, DRAWS, THIN = 200, 240, 4
THINNED = DRAWS // THIN - 1  # draws kept per fit (every THIN-th after the first THIN): ranks 0..THINNED
BINS = 10  # (THINNED + 1) / BINS ranks per bin


@dataclass(frozen=True)
class Truth:
    """One draw of the parameters, in the model's parametrisation (``coef_std`` per sd of each design column)."""

    coef_std: np.ndarray  # (terms,)
    levels: np.ndarray  # (K,) the centred log baseline a_k
    random_walk_sd: float
    arm_effect_std: np.ndarray  # (K,) arm log HR per sd of the arm in each interval (coef_std[0] when PH)
    time_varying_sd: float  # nan without a time-varying effect


def draw_truth(rng: np.random.Generator, arm_scale: float, terms: int, settings: PweSettings) -> Truth:
    """One draw from the model's prior (``tmesurv.models.pwe.model``): the test holds it equal to PyMC's."""
    priors, steps = settings.priors, CUTS.size
    coef_std = rng.normal(0.0, priors.coef_sd, terms)
    step_sd = rng.gamma(GAMMA_SHAPE, priors.random_walk_sd / GAMMA_SHAPE)
    first = rng.normal(PRIOR_CENTRE, priors.baseline_sd)
    levels = first + np.concatenate([[0.0], np.cumsum(rng.normal(0.0, step_sd, steps))])
    arm_effect_std, arm_sd = np.full(steps + 1, coef_std[0]), float("nan")
    if settings.time_varying:  # steps of the arm's log HR ~ Normal(0, s_b): per sd of the arm, times its sd
        arm_sd = abs(rng.normal(0.0, priors.time_varying_sd))
        walk = np.cumsum(rng.normal(0.0, arm_sd, steps))
        arm_effect_std = coef_std[0] + arm_scale * np.concatenate([[0.0], walk])
    return Truth(coef_std, levels, float(step_sd), arm_effect_std, arm_sd)


def simulate_times(rng: np.random.Generator, z: np.ndarray, truth: Truth) -> tuple[np.ndarray, np.ndarray]:
    """Event times from the piecewise-constant hazards, censored uniformly: ``(time, event)``.

    Patient ``i``'s log hazard in interval ``k`` is ``a_k + z_i,arm b_k + z_i,rest . coef_rest`` (``z`` the
    standardised design, arm first); the event time inverts its cumulative hazard at a standard exponential draw.
    """
    log_hazard = truth.levels + np.outer(z[:, 0], truth.arm_effect_std) + (z[:, 1:] @ truth.coef_std[1:])[:, None]
    hazard = np.exp(log_hazard)
    starts = np.concatenate([[0.0], CUTS])
    at_starts = np.concatenate([np.zeros((len(z), 1)), np.cumsum(hazard[:, :-1] * np.diff(starts), axis=1)], axis=1)
    target = rng.standard_exponential(len(z))
    interval = (target[:, None] >= at_starts[:, 1:]).sum(axis=1)
    rows = np.arange(len(z))
    event_time = starts[interval] + (target - at_starts[rows, interval]) / hazard[rows, interval]
    censor = rng.uniform(*CENSORING, len(z))
    return np.minimum(event_time, censor), (event_time <= censor).astype(float)


def cohort_design(rng: np.random.Generator, time_varying: bool) -> pd.DataFrame:
    """Balanced arms and a standard normal biomarker: ``arm, b, arm:b`` (PH) or ``arm, b`` (time-varying)."""
    arm = (np.arange(PATIENTS) % 2).astype(float)
    biomarker = rng.standard_normal(PATIENTS)
    design = pd.DataFrame({"arm": arm, "b": biomarker})
    return design if time_varying else design.assign(**{"arm:b": arm * biomarker})


def standardised(design: pd.DataFrame) -> np.ndarray:
    """The design centred and divided by its population sd, as the model standardises it."""
    x = design.to_numpy()
    return (x - x.mean(axis=0)) / x.std(axis=0)


def fit_draws(
    time: np.ndarray, event: np.ndarray, design: pd.DataFrame, settings: PweSettings, seed: int
) -> dict[str, np.ndarray]:
    """All ``DRAWS`` posterior draws of one chain by variable, and ``divergences`` (nutpie on the product's density).

    nutpie's raw trace is read directly: building an ArviZ object would cost more than sampling these tiny cohorts.
    """
    data = pwe_data(time, event, design, CUTS.size + 1, time_varying=settings.time_varying, cuts=CUTS)
    data = replace(data, crude_log_rate=PRIOR_CENTRE).collapsed()
    with warnings.catch_warnings():  # early-tuning overflow in exp(eta); NUTS rejects those trajectories
        warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered", category=RuntimeWarning)
        trace = nutpie.sample(
            nutpie_model(data, settings, centred_steps(data)),
            draws=DRAWS,
            tune=TUNE,
            chains=1,
            cores=1,
            seed=seed,
            progress_bar=False,
            save_warmup=False,
            return_raw_trace=True,
        )
    (draws,), (sample_stats,) = trace.get_arrow_trace()
    kept = ~_column(sample_stats, "tuning").astype(bool)
    values = {name: _column(draws, name)[kept] for name in draws.schema.names}
    return values | {"divergences": np.asarray(int(_column(sample_stats, "diverging")[kept].sum()))}


def _column(batch, name: str) -> np.ndarray:
    """One column of an Arrow record batch as numpy: ``(rows,)``, or ``(rows, length)`` for a list column."""
    column = pa.array(batch.column(name))
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return column.flatten().to_numpy().reshape(len(column), -1)
    return column.to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class Calibration:
    """The SBC of one model: per quantity the rank of every simulation's truth, and each fit's full draws."""

    ranks: dict[str, np.ndarray]  # quantity -> (simulations,) ranks in 0..THINNED
    truths: dict[str, np.ndarray]  # quantity -> (simulations,) true values
    draws: dict[str, np.ndarray]  # quantity -> (simulations, DRAWS) posterior draws
    divergences: int


def calibrate(
    simulations: int, settings: PweSettings, quantities: dict[str, tuple[str, int | None]], seed: int
) -> Calibration:
    """Run SBC: ``quantities`` maps a name to a posterior variable and its index (``None``: a scalar).

    The truth of each quantity is read from the same variable computed from :class:`Truth` (:func:`true_values`).
    """
    rng = np.random.default_rng(seed)
    truths = {name: [] for name in quantities}
    draws = {name: [] for name in quantities}
    divergences = 0
    for simulation in range(simulations):
        design, time, event, truth = _cohort_with_events(rng, settings)
        values = true_values(truth, design, settings)
        fit = fit_draws(time, event, design, settings, seed=seed + simulation)
        divergences += int(fit["divergences"])
        for name, (variable, index) in quantities.items():
            draws[name].append(fit[variable] if index is None else fit[variable][:, index])
            truths[name].append(values[variable] if index is None else values[variable][index])
    draws = {name: np.array(values) for name, values in draws.items()}
    truths = {name: np.array(values) for name, values in truths.items()}
    ranks = {name: rank(truths[name], draws[name][:, THIN::THIN]) for name in quantities}
    return Calibration(ranks, truths, draws, divergences)


def _cohort_with_events(
    rng: np.random.Generator, settings: PweSettings
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, Truth]:
    while True:
        design = cohort_design(rng, settings.time_varying)
        z = standardised(design)
        truth = draw_truth(rng, float(design["arm"].std(ddof=0)), design.shape[1], settings)
        time, event = simulate_times(rng, z, truth)
        if event.sum() > 0:
            return design, time, event, truth


def true_values(truth: Truth, design: pd.DataFrame, settings: PweSettings) -> dict[str, np.ndarray]:
    """The posterior's variables at the truth: ``coef_std``, ``coef``, ``log_baseline_centred``, the scales and
    ``coef_time`` (original scale: ``coef_std / sd``)."""
    sd = design.to_numpy().std(axis=0)
    values = {
        "coef_std": truth.coef_std,
        "coef": truth.coef_std / sd,
        "log_baseline_centred": truth.levels,
        "random_walk_sd": np.asarray(truth.random_walk_sd),
    }
    if settings.time_varying:
        values |= {"coef_time": truth.arm_effect_std / sd[0], "time_varying_sd": np.asarray(truth.time_varying_sd)}
    return values


def rank(truth: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Number of draws below the truth, per simulation (rows of ``draws``)."""
    return (draws < truth[:, None]).sum(axis=1)


def binned(ranks: np.ndarray) -> np.ndarray:
    """Counts of the ranks ``0..THINNED`` in ``BINS`` equal bins."""
    return np.bincount(ranks * BINS // (THINNED + 1), minlength=BINS)


def uniformity_p_value(ranks: np.ndarray) -> float:
    """Pearson chi-square test of equal bin counts (``BINS - 1`` degrees of freedom)."""
    return float(stats.chisquare(binned(ranks)).pvalue)


def reweighted_fractions(truth: np.ndarray, draws: np.ndarray, log_weight: np.ndarray) -> np.ndarray:
    """Per simulation, the posterior probability below the truth under another prior, by importance weights.

    ``log_weight`` (simulations, draws) is the log ratio of the other prior's density to the fitted one at each draw:
    the draws then stand for the posterior the other prior gives on the same data.
    """
    weight = np.exp(log_weight - log_weight.max(axis=1, keepdims=True))
    return (weight * (draws < truth[:, None])).sum(axis=1) / weight.sum(axis=1)


def fraction_p_value(fractions: np.ndarray) -> float:
    """As :func:`uniformity_p_value`, for fractions in [0, 1] (the reweighted ranks)."""
    counts = np.bincount(np.minimum((fractions * BINS).astype(int), BINS - 1), minlength=BINS)
    return float(stats.chisquare(counts).pvalue)


def sbc_priors() -> PwePriors:
    """The calibrated priors: the default random-walk and time-varying scales, unit location scales (see the tests)."""
    return PwePriors(coef_sd=1.0, baseline_sd=1.0)
