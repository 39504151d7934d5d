"""The Bayesian mixture-cure piecewise-exponential model in PyMC: the specification the fast density is held to.

``S(t | x) = pi(x) + (1 - pi(x)) S_u(t | x)``. The incidence is ``logit pi(x) = alpha + x . g`` (arm, biomarker, arm x
biomarker, covariates: the design's columns), the latency ``S_u`` the piecewise-exponential proportional-hazards model
of :mod:`tmesurv.models.pwe.model` with its own coefficients ``b`` on the same columns and its random-walk log
baseline. As there, the design is standardised (centred, divided by its population sd) and the coefficients sampled
along principal axes with isotropic priors:

* latency: ``coef_std ~ Normal(0, priors.coef_sd)`` (log HR among the uncured, per sd), the baseline prior of the PWE
  model;
* incidence: ``cure_intercept_centred ~ Normal(priors.cure_intercept_mean, priors.cure_intercept_sd)``, the logit of
  the cure fraction at the design's mean, and ``cure_coef_std ~ Normal(0, priors.cure_coef_sd)``, log odds ratios of
  cure per sd of the column (sampled as ``cure_coef_rotated`` along the eigenvectors of ``z' z``).

Deterministics on the original column scale: ``coef`` (log HR among the uncured), ``log_baseline`` (at design value
0), ``cure_coef`` (log odds ratio of cure) and ``cure_intercept`` (logit of the cure fraction at design value 0). The
log-likelihood (:mod:`.likelihood`) is written here in plain PyTensor operations, differentiated automatically, so the
hand-coded gradient of :mod:`.density` has an independent reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from tmesurv.models.pwe.cure.likelihood import CureData, cure_data
from tmesurv.models.pwe.model import _random_walk_baseline, centred_steps
from tmesurv.models.pwe.settings import PweSettings


def build_cure_model(time: np.ndarray, event: np.ndarray, design: pd.DataFrame, settings: PweSettings) -> pm.Model:
    """The PyMC mixture-cure model of these data (see the module docstring).

    Parameters
    ----------
    time, event, design
        As for :func:`~tmesurv.models.pwe.model.build_pwe_model`: the columns of ``design`` enter both parts.
    settings
        Intervals and priors (``time_varying`` must be False: the latency has proportional hazards).

    Returns
    -------
    pymc.Model
        Free variables, in order: ``coef_rotated``, the baseline's (as the PWE model), ``cure_intercept_centred`` and
        ``cure_coef_rotated``; the potential ``log_likelihood``.

    Raises
    ------
    InputError
        As :func:`~tmesurv.models.pwe.data.pwe_data`.
    """
    return cure_model(cure_data(time, event, design, settings.intervals), list(design.columns), settings)


def cure_model(data: CureData, terms: list[str], settings: PweSettings) -> pm.Model:
    """The PyMC model on prepared data (see :func:`build_cure_model`), with ``terms`` as the ``term`` coordinate."""
    if settings.time_varying:
        raise ValueError("the cure model's latency has proportional hazards: settings.time_varying must be False")
    pwe, priors = data.pwe, settings.priors
    with pm.Model(coords={"term": terms, "interval": np.arange(pwe.width.size)}) as model:
        z, centre, scale = pm.Data("z", pwe.z), pm.Data("centre", pwe.centre), pm.Data("scale", pwe.scale)
        rotation, cure_rotation = pm.Data("rotation", pwe.rotation), pm.Data("cure_rotation", data.cure_rotation)
        coef_rotated = pm.Normal("coef_rotated", 0.0, priors.coef_sd, dims="term")
        coef_std = pm.Deterministic("coef_std", pt.dot(rotation, coef_rotated), dims="term")
        log_hazard = _random_walk_baseline(pwe.crude_log_rate, pwe.width.size - 1, priors, centred_steps(pwe))
        intercept = pm.Normal("cure_intercept_centred", priors.cure_intercept_mean, priors.cure_intercept_sd)
        cure_rotated = pm.Normal("cure_coef_rotated", 0.0, priors.cure_coef_sd, dims="term")
        cure_std = pm.Deterministic("cure_coef_std", pt.dot(cure_rotation, cure_rotated), dims="term")
        coef = pm.Deterministic("coef", coef_std / scale, dims="term")
        pm.Deterministic("log_baseline", log_hazard - pt.dot(centre, coef), dims="interval")
        cure_coef = pm.Deterministic("cure_coef", cure_std / scale, dims="term")
        pm.Deterministic("cure_intercept", intercept - pt.dot(centre, cure_coef))
        likelihood = _log_likelihood(data, intercept + pt.dot(z, cure_std), pt.dot(z, coef_std), log_hazard)
        pm.Potential("log_likelihood", likelihood)
    return model


def _log_likelihood(
    data: CureData,
    logit: pt.TensorVariable,
    eta: pt.TensorVariable,
    log_hazard: pt.TensorVariable,
) -> pt.TensorVariable:
    """The summed mixture-cure log-likelihood, patient by patient (time order), in PyTensor operations."""
    pwe = data.pwe
    interval = pm.Data("interval", data.interval)
    offset, width, event = pm.Data("offset", pwe.offset), pm.Data("width", pwe.width), pm.Data("event", data.event)
    hazard = pt.exp(log_hazard)
    before = pt.concatenate([pt.zeros(1), pt.cumsum(hazard[:-1] * width[:-1])])
    loss = pt.exp(eta) * (before[interval] + hazard[interval] * offset)
    log_cured, log_uncured = -pt.softplus(-logit), -pt.softplus(logit)
    at_event = log_uncured + log_hazard[interval] + eta - loss
    censored = pt.logaddexp(log_cured, log_uncured - loss)
    return pt.sum(pt.switch(pt.eq(event, 1.0), at_event, censored))
