"""Sampling the Bayesian piecewise-exponential model: nutpie (or PyMC's NUTS), and everything a saved fit keeps.

With nutpie and the default coefficient prior the density is :mod:`tmesurv.models.pwe.posterior`'s (nothing to
compile); a model with another coefficient prior (the shrinkage screens) is compiled from PyMC once per structure and
rebound to each cohort's data. Sampling and what a fit keeps are :mod:`tmesurv.models.pwe.sampling`'s, shared with the
other models. The fit keeps its inputs (``constant_data``), so it can be re-scored and compared (LOO)
without refitting: :func:`pointwise_log_likelihood` gives the per-patient log-likelihood of any patients at every draw,
a block at a time. The whole chains x draws x patients array is kept only on request (``log_likelihood=True``), as
float32.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import nutpie
import pandas as pd
import pymc as pm

from tmesurv.models.pwe.data import PweData, pwe_data, pwe_log_likelihood
from tmesurv.models.pwe.model import CoefficientPrior, centred_steps, pwe_model
from tmesurv.models.pwe.posterior import nutpie_model
from tmesurv.models.pwe.sampling import FittedPatients, keep_inputs, nutpie_cores, per_patient, sample_posterior
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings


def fit_pwe(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    settings: PweSettings,
    sampler: SamplerSettings,
    *,
    log_likelihood: bool = False,
    coefficient_prior: CoefficientPrior | None = None,
) -> az.InferenceData:
    """Sample the PWE model and keep everything needed to re-score the fit.

    Parameters
    ----------
    time, event, design, settings
        As for :func:`~tmesurv.models.pwe.model.build_pwe_model`: the data, and the model's intervals, priors and
        time-varying arm effect.
    sampler
        The sampler (nutpie, or PyMC's NUTS), draws, tune, chains, target acceptance and the seed (the same seed gives
        identical draws). With nutpie and the default coefficient prior the density is
        :mod:`tmesurv.models.pwe.posterior`'s (nothing to compile); with another coefficient prior the compiled PyMC
        model is kept and reused for the next fit with the same number of terms and intervals, the same priors and the
        same structure.
    log_likelihood
        Keep the per-patient log-likelihood of every draw (group ``log_likelihood``, float32): ``chains x draws x n``
        values. Without it (the default) LOO is computed from :func:`pointwise_log_likelihood` a block of patients at
        a time (:func:`tmesurv.models.pwe.compare.add_loo`).
    coefficient_prior
        As for :func:`~tmesurv.models.pwe.model.build_pwe_model`.

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior`` (the variables of :func:`~tmesurv.models.pwe.model.build_pwe_model`; ``coef_time``
        over ``interval`` with a time-varying arm effect), ``sample_stats``, ``constant_data`` with ``time``, ``event``,
        ``design`` (patient x term), ``design_mean``, ``design_sd`` and ``cuts``, and with ``log_likelihood`` the group
        ``log_likelihood`` (``event``: one float32 value per chain, draw and patient, in the row order of ``design``).
    """
    data = pwe_data(time, event, design, settings.intervals, time_varying=settings.time_varying)
    sampled = data.collapsed()  # the same likelihood; patients with one design row in an interval are one record
    idata = sample_posterior(
        sampler,
        lambda: _nutpie_model(sampled, settings, sampler, coefficient_prior),
        lambda: pwe_model(sampled, list(design.columns), settings, coefficient_prior),
    )
    return keep_inputs(idata, time, event, design, data, pointwise_log_likelihood if log_likelihood else None)


_COMPILED: dict[tuple, tuple[pm.Model, object]] = {}  # structure -> the PyMC model and its nutpie compilation


def _nutpie_model(
    data: PweData, settings: PweSettings, sampler: SamplerSettings, coefficient_prior: CoefficientPrior | None
) -> tuple[object, int]:
    """What nutpie samples, and on how many threads: the default prior's hand-coded density, or the PyMC model.

    Compiling the PyMC graph costs 40 s or more the first time on a machine; the default prior's density
    (:mod:`tmesurv.models.pwe.posterior`, equal to the PyMC model's) needs no compilation. A model with another
    coefficient prior is compiled once per (terms, intervals, priors, structure) and rebound to each cohort's data.
    """
    if coefficient_prior is None:
        return nutpie_model(data, settings, centred_steps(data)), nutpie_cores(sampler, data.z.size)
    return _compiled_pymc_model(data, settings, coefficient_prior), nutpie_cores(sampler)


def _compiled_pymc_model(data: PweData, settings: PweSettings, coefficient_prior: CoefficientPrior):
    """The nutpie compilation of the PyMC model with this prior, cached by structure and bound to ``data``.

    The key holds everything the compiled graph depends on: the numbers of terms and intervals, the form of the
    baseline steps, the priors, the time-varying arm effect and the coefficient prior (not the number of intervals
    asked for, which the cuts may reduce, nor the sampler settings, which the graph does not see). The compiled
    density reads the cohort's arrays from its own copies (``with_data``); the initial point, PyMC's function of the
    model's data containers, reads the containers: both are bound to ``data``, so a reused compilation samples exactly
    as a fresh one (the same draws for the same seed).
    """
    from numba.core.errors import NumbaPerformanceWarning

    key = (data.z.shape[1], data.width.size, centred_steps(data), settings.priors, settings.time_varying)
    key += (coefficient_prior,)
    arrays = data.arrays()
    if key not in _COMPILED:
        generic_terms = [f"term_{j}" for j in range(data.z.shape[1])]  # shared by fits whose terms differ
        model = pwe_model(data, generic_terms, settings, coefficient_prior)
        with warnings.catch_warnings():
            # numba's hint that a transposed (non-contiguous) operand of a small dot in the gradient is slower
            warnings.filterwarnings("ignore", category=NumbaPerformanceWarning)
            _COMPILED[key] = model, nutpie.compile_pymc_model(model, freeze_model=False)
    model, compiled = _COMPILED[key]
    for name, value in arrays.items():  # the containers the initial point reads
        container = model[name]
        container.set_value(np.asarray(value, dtype=container.dtype))
    used = compiled.shared_data  # a coefficient prior of its own leaves the rotation unused
    return compiled.with_data(**{name: value for name, value in arrays.items() if name in used})


def pointwise_log_likelihood(idata: az.InferenceData, rows: slice = slice(None)) -> np.ndarray:
    """Log-likelihood of the patients ``rows`` at every draw, from the original-scale coefficients and baseline.

    Parameters
    ----------
    idata
        A fit of :func:`fit_pwe` (posterior ``coef``, ``log_baseline`` and, time-varying, ``coef_time``; its
        ``constant_data``).
    rows
        Positions along ``constant_data.patient`` (the rows of the fitted design); default every patient.

    Returns
    -------
    numpy.ndarray
        Float64, shape ``(chain, draw, patients in rows)``: ``d_i (a_{k(i)} + eta_i) - exp(eta_i) H0(t_i)``
        (:func:`~tmesurv.models.pwe.data.pwe_log_likelihood`).
    """
    return per_patient(idata, rows, _log_likelihood)


def _log_likelihood(patients: FittedPatients) -> np.ndarray:
    """The PWE log-likelihood of ``patients`` at every draw (draws x patients)."""
    design, coef = patients.design, patients.draws("coef", "term")
    arm = arm_effect = None
    if "coef_time" in patients.posterior:  # time-varying arm effect: the arm (first column) enters per interval
        arm, arm_effect = design[:, 0], patients.draws("coef_time", "interval")
        design, coef = design[:, 1:], coef[:, 1:]
    return pwe_log_likelihood(
        patients.time,
        patients.event,
        coef @ design.T,
        patients.draws("log_baseline", "interval"),
        patients.cuts,
        arm=arm,
        arm_effect=arm_effect,
    )
