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
adapt to, and the rotation removes most of it (see :func:`~tmesurv.models.pwe.data.principal_axes`).

The likelihood is summed from interval statistics without splitting follow-up into patient-intervals (see
:class:`~tmesurv.models.pwe.data.PweData`): O(n) per evaluation. The per-patient log-likelihood
``loglik_i = d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)`` is computed after sampling, for LOO
(:func:`~tmesurv.models.pwe.data.pwe_log_likelihood`); sampling is :func:`tmesurv.models.pwe.fit.fit_pwe`.

Time-varying treatment effect (``PweSettings.time_varying``): the design's first column must be ``arm`` (0/1) and its
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

from collections.abc import Hashable
from typing import Protocol

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from tmesurv.models.pwe.data import PweData, pwe_data
from tmesurv.models.pwe.likelihood import pwe_log_likelihood_op
from tmesurv.models.pwe.settings import PwePriors, PweSettings

CENTRED_EVENTS_PER_INTERVAL = 10


class CoefficientPrior(Hashable, Protocol):
    """A prior on the standardised coefficients: declares ``coef_std`` (dims ``term``) in the current model.

    It must be hashable and compare equal to another prior that declares the same model (a frozen dataclass), because
    compiled models are cached by it.
    """

    def __call__(self, containers: dict[str, pt.TensorVariable], priors: PwePriors) -> pt.TensorVariable:
        """Declare the prior's variables (``priors`` gives their scales) and return ``coef_std``."""
        ...


def build_pwe_model(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    settings: PweSettings,
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
    data: PweData, terms: list[str], settings: PweSettings, coefficient_prior: CoefficientPrior | None = None
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
            coef_std = coefficient_prior(containers, settings.priors)
        log_hazard = _random_walk_baseline(
            containers["crude_log_rate"], data.width.size - 1, settings.priors, centred_steps(data)
        )
        if settings.time_varying:
            likelihood = _time_varying_effect(containers, coef_std, log_hazard, data.width.size - 1, settings.priors)
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
    priors: PwePriors,
) -> pt.TensorVariable:
    """Declare the per-interval arm effect, ``coef``, ``coef_time`` and ``log_baseline``; return the log-likelihood.

    ``coef_std[0]`` is the first interval's arm log HR per sd of the arm; the steps are non-centred on the log-HR scale.
    """
    scale, centre = data["scale"], data["centre"]
    arm_effect_std = pt.repeat(coef_std[0], n_steps + 1)  # per sd of the arm
    if n_steps > 0:
        sd = pm.HalfNormal("time_varying_sd", priors.time_varying_sd)
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


def centred_steps(data: PweData) -> bool:
    """Whether the random-walk steps are declared centred: enough events per interval (see the baseline prior)."""
    return data.interval_events.sum() / data.width.size >= CENTRED_EVENTS_PER_INTERVAL


def _random_walk_baseline(
    crude_log_rate: pt.TensorVariable, n_steps: int, priors: PwePriors, centred: bool
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
