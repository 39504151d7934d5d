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
is the hazard on the original scale. The sampler moves along the eigenvectors of the Cox information at zero
(``coef_rotated``; ``coef_std = rotation @ coef_rotated``, the same isotropic prior, so the same model): an arm and
its product with a biomarker far from zero are nearly collinear, a correlation NUTS's diagonal mass matrix cannot
adapt to, and the rotation removes most of it (see :func:`principal_axes`).

The likelihood is summed from interval statistics without splitting follow-up into patient-intervals (see
:class:`PweData`): O(n) per evaluation. The per-patient log-likelihood
``loglik_i = d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)`` is computed after sampling, for LOO.

Time-varying treatment effect (``settings.time_varying``): the design's first column must be ``arm`` (0/1) and its
log hazard ratio is ``b_k`` in baseline interval ``k``: ``b_1`` gets the arm's usual prior (``Normal(0, coef_sd)``
per sd of the column) and the steps ``b_k - b_{k-1} ~ Normal(0, s_b)`` on the log-HR scale, with
``s_b ~ HalfNormal(priors.time_varying_sd)`` (non-centred), so a small scale shrinks toward proportional hazards. The
likelihood stays O(n): the exposure ``E_k`` is split into the treated and control patients' exposures, each from the
same two cumulative sums. Variable ``coef_time`` (interval) holds ``b_k``; ``coef`` of ``arm`` is then the
event-weighted average ``sum_k D_k b_k / D`` (``D_k`` events in interval ``k``), comparable to a Cox estimate.

Other priors on the coefficients (the horseshoe and R2D2 of :mod:`tmesurv.models.pwe.shrinkage`) plug in through a
``coefficient_prior``: a hashable callable that declares ``coef_std``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

import arviz as az
import numpy as np
import nutpie
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from tmesurv.config import BayesSpec
from tmesurv.errors import InputError
from tmesurv.models.cox.batched import cox_information
from tmesurv.models.pwe.likelihood import pwe_log_likelihood_op
from tmesurv.models.pwe.posterior import nutpie_model

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
    "ess_tail",
    "bfmi_min",
    "converged",
]
BFMI_MIN = 0.3
RHAT_MAX = 1.01
ESS_MIN = 400
CI_PROB = 0.95
TARGET_ACCEPT = 0.9  # the default of BayesSpec.target_accept
CENTRED_EVENTS_PER_INTERVAL = 10
# Patients x terms from which chains of the hand-coded density run on two threads: below, the threads' contention for
# Python's GIL costs more than the second core gives (measured: 4 chains at n = 3,000 x 3 terms take 4.5 s on one
# thread and 5.0 s on two; at 5,000 x 3, 5.8 s and 5.4 s; at 20,000 x 3, 28 s and 14 s).
PARALLEL_CHAINS_MIN_WORK = 12_000
ARM = "arm"


class CoefficientPrior(Hashable, Protocol):
    """A prior on the standardised coefficients: declares ``coef_std`` (dims ``term``) in the current model.

    It must be hashable and compare equal to another prior that declares the same model (a frozen dataclass), because
    compiled models are cached by it.
    """

    def __call__(self, containers: dict[str, pt.TensorVariable], settings: BayesSpec) -> pt.TensorVariable:
        """Declare the prior's variables and return ``coef_std``."""
        ...


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
    time: np.ndarray,
    event: np.ndarray,
    eta: np.ndarray,
    log_baseline: np.ndarray,
    cuts: np.ndarray,
    arm: np.ndarray | None = None,
    arm_effect: np.ndarray | None = None,
) -> np.ndarray:
    """Per-patient log-likelihood of the piecewise-exponential (proportional-hazards) model.

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
    arm, arm_effect
        A time-varying treatment effect (both or neither): the arm (0/1, length ``n``) and its log hazard ratio per
        interval, shape ``(..., K)``; ``eta`` then excludes the arm.

    Returns
    -------
    numpy.ndarray
        ``d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)``, shape ``(..., n)``; with a time-varying effect the treated
        patients' ``a_k`` is ``a_k + arm_effect_k``.
    """
    index, offset, width = interval_layout(time, cuts)
    eta, log_baseline = np.asarray(eta, dtype=float), np.asarray(log_baseline, dtype=float)
    if log_baseline.shape[-1] != width.size + 1:
        raise ValueError(f"log_baseline has {log_baseline.shape[-1]} intervals, the cuts define {width.size + 1}")
    if (arm is None) != (arm_effect is None):
        raise ValueError("give both arm and arm_effect (a time-varying treatment effect) or neither")
    log_hazard, cumulative = hazard_at_times(log_baseline, index, offset, width)
    if arm_effect is not None:
        treated = np.asarray(arm) == 1
        log_hazard_treated, cumulative_treated = hazard_at_times(log_baseline + arm_effect, index, offset, width)
        log_hazard = np.where(treated, log_hazard_treated, log_hazard)
        cumulative = np.where(treated, cumulative_treated, cumulative)
    return np.asarray(event, dtype=float) * (log_hazard + eta) - np.exp(eta) * cumulative


def hazard_at_times(
    log_hazard: np.ndarray, index: np.ndarray, offset: np.ndarray, width: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log hazard and cumulative hazard of piecewise-constant log hazards ``(..., K)`` at located times."""
    hazard = np.exp(log_hazard)
    cumulative = np.cumsum(hazard[..., :-1] * width, axis=-1)
    before = np.concatenate([np.zeros((*cumulative.shape[:-1], 1)), cumulative], axis=-1)
    return log_hazard[..., index], before[..., index] + hazard[..., index] * offset


@dataclass(frozen=True)
class PweData:
    """What the PWE likelihood needs: the standardised design and interval statistics, patients in time order.

    The statistics are the events per interval and where each interval's patients start and end in the time order.
    The log-likelihood is ``sum_k D_k a_k + (sum_i d_i z_i) . b - sum_k exp(a_k) E_k(b)`` with
    ``E_k(b) = width_k sum_{i beyond k} w_i + sum_{i in k} w_i offset_i`` and ``w_i = exp(z_i . b)``, summed in one
    pass over the patients (:mod:`tmesurv.models.pwe.likelihood`): O(n) per evaluation, and nothing is ever split
    into patient-intervals. With a time-varying arm effect the arms are two strata, each with its own baseline.
    """

    z: np.ndarray  # (n, p) standardised design, time order
    offset: np.ndarray  # (n,) time since the start of the patient's interval
    boundaries: np.ndarray  # (K + 1,) first position of each interval in time order, then n
    width: np.ndarray  # (K,) interval widths; 0 for the last, open interval
    event_z: np.ndarray  # (p,) sum over events of z
    crude_log_rate: float
    centre: np.ndarray  # (p,) design means
    scale: np.ndarray  # (p,) design standard deviations (ddof = 0)
    cuts: np.ndarray  # (K - 1,) interior cut points
    stratum: np.ndarray  # (n,) baseline stratum in time order: all 0, or the 0/1 arm for a time-varying arm effect
    stratum_events: np.ndarray  # (strata, K) events per stratum and interval
    rotation: np.ndarray | None = None  # (p, p) orthogonal: principal axes of z over the events (see below)

    @property
    def interval_events(self) -> np.ndarray:
        """Events per interval, summed over the strata."""
        return self.stratum_events.sum(axis=0)

    @property
    def time_varying(self) -> bool:
        """Whether the arms are strata of a time-varying arm effect."""
        return self.stratum_events.shape[0] == 2

    def arrays(self) -> dict[str, np.ndarray]:
        """The model's data containers by name (to rebind a compiled model to a new cohort of the same shape)."""
        return {
            "z": self.z,
            "offset": self.offset,
            "stratum": self.stratum,
            "boundaries": self.boundaries,
            "width": self.width,
            "interval_events": self.interval_events,
            "stratum_events": self.stratum_events,
            "event_z": self.event_z,
            "crude_log_rate": np.asarray(self.crude_log_rate),
            "centre": self.centre,
            "scale": self.scale,
            "rotation": self.rotation,
        }


def pwe_data(
    time: np.ndarray, event: np.ndarray, design: pd.DataFrame, intervals: int, time_varying: bool = False
) -> PweData:
    """Standardise the design and compute the interval statistics of the PWE likelihood.

    Parameters
    ----------
    time, event
        Follow-up times (>= 0) and event indicators (0/1), in the row order of ``design``.
    design
        One numeric, non-constant column per term.
    intervals
        Number of baseline intervals ``K`` (cut at event-time quantiles; fewer when quantiles coincide).
    time_varying
        Also compute the per-arm statistics of a time-varying arm effect (the first column must be ``arm``, 0/1).

    Returns
    -------
    PweData
        The statistics, patients sorted by time.

    Raises
    ------
    InputError
        If the inputs have mismatched lengths, invalid values, or a constant design column; or, with
        ``time_varying``, if the first column is not a 0/1 ``arm``.
    """
    time, event, x = _validated_inputs(time, event, design)
    if time_varying:
        _require_arm_first(design)
    cuts = interval_cuts(time, event, intervals)
    order = np.argsort(time, kind="stable")
    index, offset, width = interval_layout(time[order], cuts)
    n_intervals = cuts.size + 1
    centre, scale = x.mean(axis=0), x.std(axis=0)
    z = (x[order] - centre) / scale
    stratum = x[order, 0].astype(np.int64) if time_varying else np.zeros(time.size, dtype=np.int64)
    stratum_events = np.zeros((2 if time_varying else 1, n_intervals))
    np.add.at(stratum_events, (stratum, index), event[order])
    return PweData(
        z=z,
        offset=offset,
        boundaries=np.searchsorted(index, np.arange(n_intervals + 1), side="left"),
        width=np.concatenate([width, [0.0]]),
        event_z=event[order] @ z,
        crude_log_rate=float(np.log(event.sum() / time.sum())),
        centre=centre,
        scale=scale,
        cuts=cuts,
        stratum=stratum,
        stratum_events=stratum_events,
        rotation=principal_axes(time[order], event[order], z),
    )


def _require_arm_first(design: pd.DataFrame) -> None:
    """A time-varying arm effect needs the first design column to be the 0/1 arm."""
    if design.columns[0] != ARM or not design[ARM].isin([0, 1]).all():
        raise InputError(
            f"a time-varying treatment effect (bayes.time_varying) needs the design's first column to be '{ARM}' "
            f"coded 0/1 (1 = treated); got first column '{design.columns[0]}'"
        )


def build_pwe_model(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    settings: BayesSpec,
    *,
    coefficient_prior: CoefficientPrior | None = None,
) -> pm.Model:
    """Build the PyMC model (see the module docstring for the parametrisation).

    Parameters
    ----------
    time, event
        Follow-up times (>= 0) and event indicators (0/1), in the row order of ``design``.
    design
        One numeric, non-constant column per term; column names become the ``term`` coordinate.
    settings
        Number of intervals, priors, and whether the arm effect varies over the intervals (``time_varying``).
    coefficient_prior
        A prior that declares ``coef_std`` (e.g. a horseshoe on some terms); default independent
        ``Normal(0, priors.coef_sd)``.

    Returns
    -------
    pymc.Model
        Coordinates ``term`` and ``interval``; data containers named as in :meth:`PweData.arrays` (so a compiled
        model can be rebound to another cohort with the same number of terms and intervals); variables
        ``coef_std``, ``coef``, ``baseline_start``, and with more than one interval ``random_walk_sd`` and
        ``baseline_steps_std``; deterministics ``log_baseline_centred`` and ``log_baseline``; and the potential
        ``log_likelihood``. A time-varying arm effect adds ``time_varying_sd`` and ``time_steps_std`` (with more than
        one interval) and the deterministic ``coef_time`` (interval).

    Raises
    ------
    InputError
        If the inputs have mismatched lengths, invalid values, or a constant design column; or with
        ``time_varying`` if the design's first column is not a 0/1 ``arm``.
    """
    data = pwe_data(time, event, design, settings.intervals, time_varying=settings.time_varying)
    return pwe_model(data, list(design.columns), settings, coefficient_prior=coefficient_prior)


def pwe_model(
    data: PweData, terms: list[str], settings: BayesSpec, coefficient_prior: CoefficientPrior | None = None
) -> pm.Model:
    """The PyMC model on prepared data (see :func:`build_pwe_model`), with ``terms`` as the ``term`` coordinate."""
    if settings.time_varying and not data.time_varying:
        raise ValueError("settings.time_varying needs data prepared with pwe_data(..., time_varying=True)")
    coords = {"term": terms, "interval": np.arange(data.width.size)}
    with pm.Model(coords=coords) as model:
        containers = {name: pm.Data(name, value) for name, value in data.arrays().items()}
        if coefficient_prior is None:  # the same isotropic prior, sampled along the design's principal axes
            coef_rotated = pm.Normal("coef_rotated", 0.0, settings.priors.coef_sd, dims="term")
            coef_std = pm.Deterministic("coef_std", pt.dot(containers["rotation"], coef_rotated), dims="term")
        else:
            coef_std = coefficient_prior(containers, settings)
        log_hazard = _random_walk_baseline(
            containers["crude_log_rate"], data.width.size - 1, settings, centred_steps(data)
        )
        if settings.time_varying:
            likelihood = _time_varying_effect(containers, coef_std, log_hazard, data.width.size - 1, settings)
        else:
            coef = pm.Deterministic("coef", coef_std / containers["scale"], dims="term")
            pm.Deterministic("log_baseline", log_hazard - pt.dot(containers["centre"], coef), dims="interval")
            likelihood = _pwe_log_likelihood(containers, coef_std, log_hazard)
        pm.Potential("log_likelihood", likelihood)
    return model


def _time_varying_effect(
    data: dict[str, pt.TensorVariable],
    coef_std: pt.TensorVariable,
    log_hazard: pt.TensorVariable,
    n_steps: int,
    settings: BayesSpec,
) -> pt.TensorVariable:
    """Declare the per-interval arm effect, ``coef``, ``coef_time`` and ``log_baseline``; return the log-likelihood.

    ``coef_std[0]`` is the first interval's arm log HR per sd of the arm; the steps are non-centred on the log-HR scale.
    """
    scale, centre = data["scale"], data["centre"]
    arm_effect_std = pt.repeat(coef_std[0], n_steps + 1)  # per sd of the arm
    if n_steps > 0:
        sd = pm.HalfNormal("time_varying_sd", settings.priors.time_varying_sd)
        steps = pm.Normal("time_steps_std", 0.0, 1.0, shape=n_steps)
        arm_effect_std = arm_effect_std + scale[0] * sd * pt.concatenate([pt.zeros(1), pt.cumsum(steps)])
    coef_time = pm.Deterministic("coef_time", arm_effect_std / scale[0], dims="interval")
    events = data["interval_events"]
    average = pt.dot(events, coef_time) / pt.sum(events)
    coef = pm.Deterministic("coef", pt.set_subtensor((coef_std / scale)[0], average), dims="term")
    others = pt.dot(centre[1:], coef[1:])
    pm.Deterministic("log_baseline", log_hazard - centre[0] * coef_time - others, dims="interval")
    return _pwe_log_likelihood_time_varying(data, coef_std, arm_effect_std, log_hazard)


def _pwe_log_likelihood(
    data: dict[str, pt.TensorVariable], coef_std: pt.TensorVariable, log_hazard: pt.TensorVariable
) -> pt.TensorVariable:
    """The summed PWE log-likelihood from the interval statistics (see :class:`PweData`), one stratum."""
    return pwe_log_likelihood_op(coef_std, log_hazard[None, :], data)


def _pwe_log_likelihood_time_varying(
    data: dict[str, pt.TensorVariable],
    coef_std: pt.TensorVariable,
    arm_effect_std: pt.TensorVariable,
    log_hazard: pt.TensorVariable,
) -> pt.TensorVariable:
    """The summed PWE log-likelihood with a per-interval arm effect (first column): the arms as two strata.

    The control arm's log baseline is ``a_k + b_k z_C`` and the treated arm's ``a_k + b_k z_T``, with ``b_k`` the arm
    effect per sd, ``z_T`` and ``z_C`` the standardised arm of a treated and a control patient; the other terms enter
    through their coefficients ``beta``.
    """
    z_treated = (1.0 - data["centre"][0]) / data["scale"][0]
    z_control = -data["centre"][0] / data["scale"][0]
    strata = pt.stack([log_hazard + arm_effect_std * z_control, log_hazard + arm_effect_std * z_treated])
    others = data | {"z": data["z"][:, 1:], "event_z": data["event_z"][1:]}
    return pwe_log_likelihood_op(coef_std[1:], strata, others)


def fit_pwe(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    settings: BayesSpec,
    log_likelihood: bool = True,
    *,
    coefficient_prior: CoefficientPrior | None = None,
) -> az.InferenceData:
    """Sample the PWE model and keep everything needed to re-score the fit.

    Parameters
    ----------
    time, event, design, settings
        As for :func:`build_pwe_model`; ``settings`` also gives the sampler (nutpie, or PyMC's NUTS), draws, tune,
        chains, target acceptance and the seed (the same seed gives identical draws). With nutpie and the default
        coefficient prior the density is :mod:`tmesurv.models.pwe.posterior`'s (nothing to compile); with another
        coefficient prior the compiled PyMC model is kept and reused for the next fit with the same number of terms and
        intervals, the same priors and the same structure.
    log_likelihood
        Store the per-patient log-likelihood (for LOO); ``chains x draws x n`` values.
    coefficient_prior
        As for :func:`build_pwe_model`.

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior`` (the variables of :func:`build_pwe_model`; ``coef_time`` over ``interval`` with a
        time-varying arm effect), ``sample_stats``, ``log_likelihood`` (``event``: one value per patient and draw, in
        the row order of ``design``) and ``constant_data`` with ``time``, ``event``, ``design`` (patient x term),
        ``design_mean``, ``design_sd`` and ``cuts``.
    """
    data = pwe_data(time, event, design, settings.intervals, time_varying=settings.time_varying)
    with warnings.catch_warnings():
        # Early in tuning, before the step size adapts, trajectories can overflow exp(eta); NUTS rejects them
        # and numpy's RuntimeWarning says nothing the diagnostics do not.
        warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered", category=RuntimeWarning)
        if settings.sampler == "nutpie":
            idata = _sample_nutpie(data, settings, coefficient_prior)
        else:
            idata = _sample_pymc(pwe_model(data, list(design.columns), settings, coefficient_prior), settings)
    idata = idata.assign_coords(term=list(design.columns), groups="posterior")
    if "constant_data" in idata.groups():  # PyMC stores its data containers; the fit keeps the original inputs
        del idata.constant_data
    constant = _constant_data(time, event, design, data)
    if log_likelihood:
        idata.add_groups(log_likelihood=_pointwise_log_likelihood(idata.posterior, constant))
    idata.add_groups(constant_data=constant)
    return idata


_COMPILED: dict[tuple, object] = {}


def _sample_nutpie(data: PweData, settings: BayesSpec, coefficient_prior: CoefficientPrior | None) -> az.InferenceData:
    """Sample with nutpie: the default prior's hand-coded density, or the PyMC model compiled once per structure.

    Compiling the PyMC graph costs 40 s or more the first time on a machine; the default prior's density
    (:mod:`tmesurv.models.pwe.posterior`, equal to the PyMC model's) needs no compilation. A model with another
    coefficient prior is compiled once per (terms, intervals, priors, structure) and rebound to each cohort's data.
    """
    cores = min(settings.chains, 2)
    if coefficient_prior is None:
        compiled = nutpie_model(data, settings, centred_steps(data))
        if data.z.size < PARALLEL_CHAINS_MIN_WORK:  # Python calls the density: two threads would contend for the GIL
            cores = 1
    else:
        compiled = _compiled_pymc_model(data, settings, coefficient_prior)
    return nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=cores,
        seed=settings.seed,
        target_accept=settings.target_accept,
        progress_bar=False,
        save_warmup=False,
    )


def _compiled_pymc_model(data: PweData, settings: BayesSpec, coefficient_prior: CoefficientPrior):
    """The nutpie compilation of the PyMC model with this prior, cached by structure and bound to ``data``."""
    from numba.core.errors import NumbaPerformanceWarning

    key = (data.z.shape[1], data.width.size, centred_steps(data), settings.priors, settings.time_varying)
    key += (coefficient_prior,)
    if key not in _COMPILED:
        generic_terms = [f"term_{j}" for j in range(data.z.shape[1])]  # shared by fits whose terms differ
        model = pwe_model(data, generic_terms, settings, coefficient_prior)
        with warnings.catch_warnings():
            # numba's hint that a transposed (non-contiguous) operand of a small dot in the gradient is slower
            warnings.filterwarnings("ignore", category=NumbaPerformanceWarning)
            _COMPILED[key] = nutpie.compile_pymc_model(model, freeze_model=False)
    used = _COMPILED[key].shared_data  # a coefficient prior of its own leaves the rotation unused
    return _COMPILED[key].with_data(**{name: value for name, value in data.arrays().items() if name in used})


def _sample_pymc(model: pm.Model, settings: BayesSpec) -> az.InferenceData:
    """Sample with PyMC's NUTS (the fallback when nutpie is not wanted)."""
    with model:
        return pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, 2),
            random_seed=settings.seed,
            target_accept=settings.target_accept,
            progressbar=False,
            compute_convergence_checks=False,
        )


def _pointwise_log_likelihood(posterior: xr.Dataset, constant: xr.Dataset) -> xr.Dataset:
    """Per-patient log-likelihood at every draw, from the original-scale coefficients and baseline."""
    design, coef = constant["design"].to_numpy(), posterior["coef"].to_numpy()
    arm = arm_effect = None
    if "coef_time" in posterior:  # time-varying arm effect: the arm (first column) enters per interval
        arm, arm_effect = design[:, 0], posterior["coef_time"].to_numpy()
        design, coef = design[:, 1:], coef[..., 1:]
    values = pwe_log_likelihood(
        constant["time"].to_numpy(),
        constant["event"].to_numpy(),
        np.einsum("pt,cdt->cdp", design, coef),
        posterior["log_baseline"].to_numpy(),
        constant["cuts"].to_numpy(),
        arm=arm,
        arm_effect=arm_effect,
    )
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], "patient": constant["patient"]}
    return xr.Dataset({"event": (("chain", "draw", "patient"), values)}, coords=coords)


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
        ``prob_hr_below_1`` = P(coef < 0); ``r_hat`` (rank-normalised split R-hat), ``ess_bulk`` and ``ess_tail``
        from arviz; ``bfmi_min``, the lowest energy BFMI over chains (NaN without energy statistics); and
        ``converged``, which is True when ``r_hat < 1.01``, both ESS ``>= 400``, no chain's BFMI is below 0.3 and
        the sampler reported no divergent transition in any chain (a missing ``sample_stats.diverging`` counts as none);
        constant draws give ``r_hat`` NaN and so ``converged`` False.
        The total number of divergences is in ``attrs["divergences"]``.
    """
    coef = idata.posterior["coef"]
    summary = pd.DataFrame(
        {"term": coef["term"].to_numpy().astype(str)} | log_hr_summary(coef, "term") | diagnostics(idata, "coef"),
        columns=SUMMARY_COLUMNS,
    )
    summary.attrs["divergences"] = count_divergences(idata)
    return summary


def log_hr_summary(draws: xr.DataArray, dim: str) -> dict[str, np.ndarray]:
    """Posterior summaries of log hazard ratios over ``chain, draw``, one value per element of ``dim``.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``mean``, ``sd``, ``hr_mean``, ``hr_lower``, ``hr_upper`` (95% equal-tailed, on the HR scale) and
        ``prob_hr_below_1`` (as in :func:`summarize_pwe`).
    """
    values = draws.transpose(dim, "chain", "draw").to_numpy().reshape(draws.sizes[dim], -1)
    hr = np.exp(values)
    tail = (1 - CI_PROB) / 2
    return {
        "mean": values.mean(axis=1),
        "sd": values.std(axis=1, ddof=1),
        "hr_mean": hr.mean(axis=1),
        "hr_lower": np.quantile(hr, tail, axis=1),
        "hr_upper": np.quantile(hr, 1 - tail, axis=1),
        "prob_hr_below_1": (values < 0).mean(axis=1),
    }


def diagnostics(idata: az.InferenceData, var_name: str) -> dict[str, np.ndarray]:
    """Convergence columns of one posterior variable, one value per element (see :func:`summarize_pwe`).

    Returns
    -------
    dict[str, numpy.ndarray]
        ``r_hat``, ``ess_bulk``, ``ess_tail``, ``bfmi_min`` and ``converged``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # constant draws: r_hat is NaN, not a warning
        r_hat = az.rhat(idata, var_names=[var_name], method="rank")[var_name].to_numpy().ravel()
        ess_bulk = az.ess(idata, var_names=[var_name], method="bulk")[var_name].to_numpy().ravel()
        ess_tail = az.ess(idata, var_names=[var_name], method="tail")[var_name].to_numpy().ravel()
    bfmi_min = _lowest_bfmi(idata)
    converged = (
        (r_hat < RHAT_MAX)
        & (ess_bulk >= ESS_MIN)
        & (ess_tail >= ESS_MIN)
        & (count_divergences(idata) == 0)
        & ~(bfmi_min < BFMI_MIN)
    )
    bfmi = np.full(r_hat.shape, bfmi_min)
    return {"r_hat": r_hat, "ess_bulk": ess_bulk, "ess_tail": ess_tail, "bfmi_min": bfmi, "converged": converged}


def principal_axes(time: np.ndarray, event: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Orthogonal rotation to the eigenvectors of the Cox information at zero, a proxy of the posterior precision.

    The information is :func:`~tmesurv.models.cox.batched.cox_information` (Breslow ties), so the rotation does not
    depend on the order of the rows. The Normal(0, coef_sd) prior on the standardised coefficients is isotropic, so
    sampling ``coef_rotated`` with the same prior and setting ``coef_std = rotation @ coef_rotated`` is the same model;
    along these axes the posterior is nearly uncorrelated, which NUTS's diagonal mass matrix samples well (an arm and
    its product with an uncentred biomarker are nearly collinear otherwise).

    Parameters
    ----------
    time, event
        Follow-up times and event indicators.
    z
        Standardised design ``(n, p)``, rows as ``time``.
    """
    p = z.shape[1]
    if p == 1 or event.sum() < 2:
        return np.eye(p)
    _, axes = np.linalg.eigh(cox_information(time, event, z, np.zeros(p)))
    return np.ascontiguousarray(axes)


def centred_steps(data: PweData) -> bool:
    """Whether the random-walk steps are declared centred: enough events per interval (see the baseline prior)."""
    return data.interval_events.sum() / data.width.size >= CENTRED_EVENTS_PER_INTERVAL


def _random_walk_baseline(
    crude_log_rate: pt.TensorVariable, n_steps: int, settings: BayesSpec, centred: bool
) -> pt.TensorVariable:
    """Declare the random-walk log baseline (centred design) and return it over the ``interval`` dim.

    ``a_1 ~ Normal(crude log rate, baseline_sd)`` and ``a_k ~ Normal(a_{k-1}, s)`` (centred) with the hyperprior
    ``s ~ Gamma(2, 2 / priors.random_walk_sd)`` (mean ``priors.random_walk_sd``), so the data decide how smooth the
    baseline is; or ``s`` fixed at ``priors.random_walk_sd`` (``random_walk_sd_fixed``). The gamma's density
    vanishes at zero: a half-normal scale lets the walk collapse to a constant hazard, a funnel on which NUTS
    diverges whenever the data pin the baseline down. A learned ``s`` smooths the baseline, which can move a
    treatment effect under non-proportional hazards away from Cox's (which leaves the baseline free).

    With a learned ``s`` the steps are declared centred (``baseline_steps ~ Normal(0, s)``) when the data inform
    every interval well (``centred``: at least ``CENTRED_EVENTS_PER_INTERVAL`` events per interval on average), and
    non-centred (``s * z_k``, ``z_k`` standard normal) otherwise: each form has its funnel where the other has none.
    With a fixed ``s`` there is no funnel and the levels ``a_k`` themselves are the parameters (``baseline_levels``):
    with many events per interval their posterior is nearly independent, which NUTS's diagonal mass matrix samples
    well, where steps as parameters would be strongly correlated (long trajectories with fine cuts).
    """
    priors = settings.priors
    if n_steps == 0:
        start = pm.Normal("baseline_start", crude_log_rate, priors.baseline_sd)
        return pm.Deterministic("log_baseline_centred", pt.reshape(start, (1,)), dims="interval")
    if priors.random_walk_sd_fixed:  # no funnel: the levels themselves, near-independent in the posterior
        first = pm.Normal.dist(crude_log_rate, priors.baseline_sd)
        log_hazard = pm.GaussianRandomWalk(
            "baseline_levels", sigma=priors.random_walk_sd, init_dist=first, steps=n_steps
        )
        return pm.Deterministic("log_baseline_centred", log_hazard, dims="interval")
    scale = pm.Gamma("random_walk_sd", alpha=2.0, beta=2.0 / priors.random_walk_sd)
    start = pm.Normal("baseline_start", crude_log_rate, priors.baseline_sd)
    if centred:
        steps = pm.Normal("baseline_steps", 0.0, scale, shape=n_steps)
    else:
        steps = scale * pm.Normal("baseline_steps_std", 0.0, 1.0, shape=n_steps)
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


def _constant_data(time: np.ndarray, event: np.ndarray, design: pd.DataFrame, data: PweData) -> xr.Dataset:
    """The fit's inputs, so that a saved fit can be re-scored without refitting."""
    x = design.to_numpy(dtype=float)
    terms, patients = list(design.columns), np.arange(len(design))
    return xr.Dataset(
        {
            "time": ("patient", np.asarray(time, dtype=float)),
            "event": ("patient", np.asarray(event, dtype=float)),
            "design": (("patient", "term"), x),
            "design_mean": ("term", data.centre),
            "design_sd": ("term", data.scale),
            "cuts": ("cut", data.cuts),
        },
        coords={"patient": patients, "term": terms, "cut": np.arange(data.cuts.size)},
    )


def _lowest_bfmi(idata: az.InferenceData) -> float:
    """The lowest energy Bayesian fraction of missing information over chains (NaN without energy statistics)."""
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "energy" not in stats:
        return float("nan")
    return float(np.min(az.bfmi(idata)))


def count_divergences(idata: az.InferenceData) -> int:
    """Total divergent transitions over all chains (0 when the sampler stats are absent)."""
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "diverging" not in stats:
        return 0
    return int(stats["diverging"].sum())
