"""Sampling the mixture-cure PWE model, and its per-patient log-likelihood for LOO and re-scoring.

nutpie samples :mod:`.density`'s hand-coded density (nothing to compile); ``sampler: pymc`` samples the PyMC
specification (:mod:`.model`). Sampling, the inputs a fit keeps (the same ``constant_data`` as a proportional-hazards
fit, so survival, LOO and storage read it the same way) and the plumbing of the per-patient log-likelihood are
:mod:`tmesurv.models.pwe.sampling`'s, shared with the proportional-hazards model.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from tmesurv.models.pwe.cure.density import nutpie_cure_model
from tmesurv.models.pwe.cure.likelihood import cure_data, cure_log_likelihood
from tmesurv.models.pwe.cure.model import cure_model
from tmesurv.models.pwe.sampling import FittedPatients, keep_inputs, nutpie_cores, per_patient, sample_posterior
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings


def fit_cure(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    settings: PweSettings,
    sampler: SamplerSettings,
    *,
    log_likelihood: bool = False,
) -> az.InferenceData:
    """Sample the mixture-cure model (see :mod:`tmesurv.models.pwe.cure.model`).

    Parameters
    ----------
    time, event, design
        Follow-up times, event indicators and one numeric, non-constant column per term; the columns enter both the
        incidence (logit of the cure fraction) and the latency (log hazard of the uncured).
    settings
        Intervals and priors (``priors.cure_*`` for the incidence); ``time_varying`` must be False.
    sampler
        As for :func:`~tmesurv.models.pwe.fit.fit_pwe`; the same seed gives identical draws.
    log_likelihood
        Keep the per-patient log-likelihood of every draw (group ``log_likelihood``, ``event``: chain x draw x
        patient, float32).

    Returns
    -------
    arviz.InferenceData
        ``posterior`` with the latency's ``coef`` (log HR among the uncured, over ``term``), ``log_baseline`` and the
        incidence's ``cure_coef`` (log odds ratio of cure, over ``term``) and ``cure_intercept`` (logit of the cure
        fraction at design value 0), with their standardised and sampled forms; ``sample_stats``; ``constant_data``
        as a proportional-hazards fit (``time``, ``event``, ``design``, ``design_mean``, ``design_sd``, ``cuts``).
    """
    data = cure_data(time, event, design, settings.intervals)
    idata = sample_posterior(
        sampler,
        lambda: (nutpie_cure_model(data, settings), nutpie_cores(sampler, data.pwe.z.size)),
        lambda: cure_model(data, list(design.columns), settings),
    )
    return keep_inputs(idata, time, event, design, data.pwe, pointwise_log_likelihood if log_likelihood else None)


def pointwise_log_likelihood(idata: az.InferenceData, rows: slice = slice(None)) -> np.ndarray:
    """Log-likelihood of the patients ``rows`` at every draw of a cure fit, from the original-scale parameters.

    Parameters
    ----------
    idata
        A fit of :func:`fit_cure`.
    rows
        Positions along ``constant_data.patient``; default every patient.

    Returns
    -------
    numpy.ndarray
        Float64, shape ``(chain, draw, patients in rows)``
        (:func:`~tmesurv.models.pwe.cure.likelihood.cure_log_likelihood`).
    """
    return per_patient(idata, rows, _log_likelihood)


def _log_likelihood(patients: FittedPatients) -> np.ndarray:
    """The mixture-cure log-likelihood of ``patients`` at every draw (draws x patients)."""
    design = patients.design
    coef, cure_coef = patients.draws("coef", "term"), patients.draws("cure_coef", "term")
    intercept = patients.posterior["cure_intercept"].to_numpy().reshape(-1, 1)
    return cure_log_likelihood(
        patients.time,
        patients.event,
        coef @ design.T,
        patients.draws("log_baseline", "interval"),
        patients.cuts,
        intercept + cure_coef @ design.T,
    )
