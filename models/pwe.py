"""Bayesian piecewise-exponential (PWE) proportional-hazards model in PyMC.

The hazard of patient ``i`` at time ``t`` in baseline interval ``k`` is ``log h_i(t) = a_k + eta_i`` with
``eta_i = X_i . beta``. Intervals are cut at quantiles of the event times; interval ``k`` is
``(c_{k-1}, c_k]`` (the first starts at 0, the last is open to infinity). The log baseline follows a
Gaussian random walk, and the coefficients get independent normal priors.

For sampling efficiency every design column is centred and divided by its standard deviation; the prior
``Normal(0, priors.coef_sd)`` therefore applies to the log hazard ratio **per standard deviation** of the
column (variable ``coef_std``; sd is the population sd, ``ddof=0``). The centring constant is absorbed by
the baseline. Coefficients on the original column scale (variable ``coef``) are ``coef_std / sd``, and
``log_baseline`` is the log baseline hazard at design value zero, so that ``exp(log_baseline_k + X . coef)``
is the hazard on the original scale.

The likelihood is evaluated per patient without splitting follow-up into patient-intervals:
``loglik_i = d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)``, where ``k(i)`` is the interval containing ``t_i``
and ``H0`` the cumulative baseline hazard. It is an observed ``pm.CustomDist`` so that PyMC can store the
pointwise log-likelihood (one value per patient) for LOO.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from tmesurv.config import BayesSpec
from tmesurv.errors import InputError

SUMMARY_COLUMNS = [
    "term",
    "mean",
    "sd",
    "hr_mean",
    "hr_lower",
    "hr_upper",
    "prob_hr_below_1",
    "r_hat",
    "ess_bulk",
    "converged",
]
RHAT_MAX = 1.01
ESS_MIN = 400
CI_PROB = 0.95
TARGET_ACCEPT = 0.9


def interval_cuts(time: np.ndarray, event: np.ndarray, n_intervals: int) -> np.ndarray:
    """Interior cut points of the baseline intervals: quantiles of the event times.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event).
    n_intervals
        The wanted number of intervals ``K``.

    Returns
    -------
    numpy.ndarray
        The sorted, distinct, positive ``(1/K, ..., (K-1)/K)`` quantiles of the event times (numpy's default
        linear interpolation); length at most ``K - 1``, fewer when quantiles coincide.

    Raises
    ------
    InputError
        If there are no events or ``n_intervals < 1``.
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event)
    event_times = time[event == 1]
    if n_intervals < 1:
        raise InputError(f"the number of baseline intervals must be at least 1, got {n_intervals}")
    if event_times.size == 0:
        raise InputError("the piecewise-exponential model needs at least one event")
    if n_intervals == 1:
        return np.empty(0)
    cuts = np.unique(np.quantile(event_times, np.arange(1, n_intervals) / n_intervals))
    return cuts[cuts > 0]


def interval_layout(time: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Locate every time in the intervals ``[0, c_1], (c_1, c_2], ..., (c_{K-1}, inf)``.

    Parameters
    ----------
    time
        Follow-up times (non-negative).
    cuts
        Sorted interior cut points.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]
        The interval index of each time, the time elapsed since the start of that interval, and the widths of
        the ``K - 1`` closed intervals.
    """
    time, cuts = np.asarray(time, dtype=float), np.asarray(cuts, dtype=float)
    starts = np.concatenate([[0.0], cuts])
    index = np.searchsorted(cuts, time, side="left")
    return index, time - starts[index], np.diff(starts)


def pwe_log_likelihood(
    time: np.ndarray, event: np.ndarray, eta: np.ndarray, log_baseline: np.ndarray, cuts: np.ndarray
) -> np.ndarray:
    """Per-patient log-likelihood of the piecewise-exponential proportional-hazards model.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event), length ``n``.
    eta
        Linear predictors, shape ``(..., n)``; leading axes (e.g. chain, draw) broadcast with ``log_baseline``.
    log_baseline
        Log baseline hazard per interval, shape ``(..., K)`` with ``K = len(cuts) + 1``, on the same scale
        as ``eta`` (e.g. ``log_baseline`` with ``X . coef``).
    cuts
        Sorted interior cut points.

    Returns
    -------
    numpy.ndarray
        ``d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)``, shape ``(..., n)``.
    """
    index, offset, width = interval_layout(time, cuts)
    eta, log_baseline = np.asarray(eta, dtype=float), np.asarray(log_baseline, dtype=float)
    if log_baseline.shape[-1] != width.size + 1:
        raise ValueError(f"log_baseline has {log_baseline.shape[-1]} intervals, the cuts define {width.size + 1}")
    hazard = np.exp(log_baseline)
    cumulative = np.cumsum(hazard[..., :-1] * width, axis=-1)
    before = np.concatenate([np.zeros((*cumulative.shape[:-1], 1)), cumulative], axis=-1)
    cumulative_baseline = before[..., index] + hazard[..., index] * offset
    return np.asarray(event, dtype=float) * (log_baseline[..., index] + eta) - np.exp(eta) * cumulative_baseline


def build_pwe_model(time: np.ndarray, event: np.ndarray, design: pd.DataFrame, settings: BayesSpec) -> pm.Model:
    """Build the PyMC model (see the module docstring for the parametrisation).

    Parameters
    ----------
    time, event
        Follow-up times (>= 0) and event indicators (0/1), in the row order of ``design``.
    design
        One numeric, non-constant column per term; column names become the ``term`` coordinate.
    settings
        Number of intervals and priors.

    Returns
    -------
    pymc.Model
        Coordinates ``term``, ``interval``, ``patient`` (row positions); variables ``coef_std``, ``coef``,
        ``baseline_start`` and ``baseline_steps`` (only with more than one interval),
        ``log_baseline_centred``, ``log_baseline`` and the observed ``event``.

    Raises
    ------
    InputError
        If the inputs have mismatched lengths, invalid values, or a constant design column.
    """
    time, event, x = _validated_inputs(time, event, design)
    cuts = interval_cuts(time, event, settings.intervals)
    centre, scale = x.mean(axis=0), x.std(axis=0)
    coords = {"term": list(design.columns), "interval": np.arange(cuts.size + 1), "patient": np.arange(time.size)}
    priors = settings.priors
    with pm.Model(coords=coords) as model:
        coef_std = pm.Normal("coef_std", 0.0, priors.coef_sd, dims="term")
        coef = pm.Deterministic("coef", coef_std / scale, dims="term")
        log_hazard = _random_walk_baseline(np.log(event.sum() / time.sum()), cuts.size, settings)
        pm.Deterministic("log_baseline", log_hazard - pt.dot(centre, coef), dims="interval")
        eta = pt.dot((x - centre) / scale, coef_std)
        _observe_events(event, eta, log_hazard, interval_layout(time, cuts))
    return model


def fit_pwe(time: np.ndarray, event: np.ndarray, design: pd.DataFrame, settings: BayesSpec) -> az.InferenceData:
    """Sample the PWE model with NUTS and keep everything needed to re-score the fit.

    Parameters
    ----------
    time, event, design, settings
        As for :func:`build_pwe_model`; ``settings`` also gives draws, tune, chains and the seed (the same
        seed gives identical draws). NUTS runs with ``target_accept = 0.95``.

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood`` (``event``, one value
        per patient and draw) and ``constant_data`` with ``time``, ``event``, ``design`` (patient x term),
        ``design_mean``, ``design_sd`` and ``cuts``.
    """
    model = build_pwe_model(time, event, design, settings)
    with model, warnings.catch_warnings():
        # Early in tuning, before the step size adapts, trajectories can overflow exp(eta); NUTS rejects them
        # and numpy's RuntimeWarning from inside PyMC says nothing the diagnostics do not (the sampler
        # processes inherit these filters).
        warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered", category=RuntimeWarning)
        idata = pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, 2),
            random_seed=settings.seed,
            target_accept=TARGET_ACCEPT,
            progressbar=False,
            compute_convergence_checks=False,
        )
        pm.compute_log_likelihood(idata, progressbar=False)
    idata.add_groups(constant_data=_constant_data(time, event, design, settings))
    return idata


def summarize_pwe(idata: az.InferenceData) -> pd.DataFrame:
    """Posterior summary of the log hazard ratios on the original column scale (variable ``coef``).

    Parameters
    ----------
    idata
        A fit from :func:`fit_pwe` (or any InferenceData with ``posterior.coef`` over ``chain, draw, term``).

    Returns
    -------
    pandas.DataFrame
        One row per term: ``mean`` and ``sd`` of the log hazard ratio; ``hr_mean``, the posterior mean of
        ``exp(coef)``; ``hr_lower`` and ``hr_upper``, the 2.5% and 97.5% quantiles of ``exp(coef)``;
        ``prob_hr_below_1`` = P(coef < 0); ``r_hat`` (rank-normalised split R-hat) and ``ess_bulk`` from
        arviz; and ``converged``, which is True when ``r_hat < 1.01``, ``ess_bulk >= 400`` and the sampler
        reported no divergent transition in any chain (a missing ``sample_stats.diverging`` counts as none);
        constant draws give ``r_hat`` NaN and so ``converged`` False.
        The total number of divergences is in ``attrs["divergences"]``.
    """
    coef = idata.posterior["coef"]
    draws = coef.transpose("term", "chain", "draw").to_numpy().reshape(coef.sizes["term"], -1)
    hr = np.exp(draws)
    tail = (1 - CI_PROB) / 2
    with np.errstate(divide="ignore", invalid="ignore"):  # constant draws: r_hat is NaN, not a warning
        r_hat = az.rhat(idata, var_names=["coef"], method="rank")["coef"].to_numpy()
        ess_bulk = az.ess(idata, var_names=["coef"], method="bulk")["coef"].to_numpy()
    divergences = _count_divergences(idata)
    summary = pd.DataFrame(
        {
            "term": coef["term"].to_numpy().astype(str),
            "mean": draws.mean(axis=1),
            "sd": draws.std(axis=1, ddof=1),
            "hr_mean": hr.mean(axis=1),
            "hr_lower": np.quantile(hr, tail, axis=1),
            "hr_upper": np.quantile(hr, 1 - tail, axis=1),
            "prob_hr_below_1": (draws < 0).mean(axis=1),
            "r_hat": r_hat,
            "ess_bulk": ess_bulk,
            "converged": (r_hat < RHAT_MAX) & (ess_bulk >= ESS_MIN) & (divergences == 0),
        },
        columns=SUMMARY_COLUMNS,
    )
    summary.attrs["divergences"] = divergences
    return summary


def _observe_events(
    event: np.ndarray,
    eta: pt.TensorVariable,
    log_hazard: pt.TensorVariable,
    layout: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Declare the observed ``event`` with the per-patient PWE log-likelihood (no patient-interval rows)."""
    index, offset, width = layout
    hazard = pt.exp(log_hazard)
    before = pt.concatenate([pt.zeros(1), pt.cumsum(hazard[:-1] * width)])
    cumulative = pt.exp(eta) * (before[index] + hazard[index] * offset)
    pm.CustomDist("event", log_hazard[index] + eta, cumulative, logp=_event_logp, observed=event, dims="patient")


def _event_logp(value: pt.TensorVariable, log_hazard: pt.TensorVariable, cumulative: pt.TensorVariable):
    """Log-likelihood of one patient given the log hazard at its time and its cumulative hazard."""
    return value * log_hazard - cumulative


def _random_walk_baseline(crude_log_rate: float, n_cuts: int, settings: BayesSpec) -> pt.TensorVariable:
    """Declare the random-walk log baseline (centred design) and return it over the ``interval`` dim.

    The steps ``a_k - a_{k-1}`` are ``Normal(0, priors.random_walk_sd)`` with a fixed scale: a half-normal
    hyperprior on the scale makes a funnel whenever the data pin the baseline down (a near-constant hazard
    puts the scale near zero), and NUTS then diverges in either the centred or the non-centred form.
    """
    priors = settings.priors
    start = pm.Normal("baseline_start", crude_log_rate, priors.baseline_sd)
    if n_cuts == 0:
        log_hazard = pt.reshape(start, (1,))
    else:
        steps = pm.Normal("baseline_steps", 0.0, priors.random_walk_sd, shape=n_cuts)
        log_hazard = pt.concatenate([pt.reshape(start, (1,)), start + pt.cumsum(steps)])
    return pm.Deterministic("log_baseline_centred", log_hazard, dims="interval")


def _validated_inputs(
    time: np.ndarray, event: np.ndarray, design: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and convert the inputs; raise :class:`InputError` naming the problem."""
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    if not time.shape == event.shape == (len(design),) or time.size == 0:
        raise InputError(f"time ({time.shape}), event ({event.shape}) and design ({len(design)} rows) must align")
    if not np.all(np.isfinite(time) & (time >= 0)):
        raise InputError("follow-up times must be finite and non-negative")
    if not np.all(np.isin(event, [0, 1])):
        raise InputError("event indicators must be 0 or 1")
    if design.shape[1] == 0 or design.columns.duplicated().any():
        raise InputError("the design needs at least one column, with distinct names")
    x = design.to_numpy(dtype=float)
    if not np.all(np.isfinite(x)):
        raise InputError("the design has missing or infinite values")
    constant = [str(name) for name, sd in zip(design.columns, x.std(axis=0), strict=True) if sd == 0]
    if constant:
        raise InputError(f"design columns {', '.join(constant)} are constant: drop them")
    return time, event, x


def _constant_data(time: np.ndarray, event: np.ndarray, design: pd.DataFrame, settings: BayesSpec) -> xr.Dataset:
    """The fit's inputs, so that a saved fit can be re-scored without refitting."""
    time, event, x = _validated_inputs(time, event, design)
    cuts = interval_cuts(time, event, settings.intervals)
    terms, patients = list(design.columns), np.arange(time.size)
    return xr.Dataset(
        {
            "time": ("patient", time),
            "event": ("patient", event),
            "design": (("patient", "term"), x),
            "design_mean": ("term", x.mean(axis=0)),
            "design_sd": ("term", x.std(axis=0)),
            "cuts": ("cut", cuts),
        },
        coords={"patient": patients, "term": terms, "cut": np.arange(cuts.size)},
    )


def _count_divergences(idata: az.InferenceData) -> int:
    """Total divergent transitions over all chains (0 when the sampler stats are absent)."""
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "diverging" not in stats:
        return 0
    return int(stats["diverging"].sum())
