"""Sampling the mixture-cure PWE model, and its per-patient log-likelihood for LOO and re-scoring.

nutpie samples :mod:`.density`'s hand-coded density (nothing to compile); ``sampler: pymc`` samples the PyMC
specification (:mod:`.model`). The fit keeps the same ``constant_data`` as a proportional-hazards fit, so survival,
LOO and storage read it the same way.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import nutpie
import pandas as pd
import xarray as xr

from tmesurv.models.pwe.cure.density import nutpie_cure_model
from tmesurv.models.pwe.cure.likelihood import CureData, cure_data, cure_log_likelihood
from tmesurv.models.pwe.cure.model import cure_model
from tmesurv.models.pwe.fit import PARALLEL_CHAINS_MIN_WORK, _constant_data, _sample_pymc
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
    with warnings.catch_warnings():
        # Early in tuning trajectories can overflow exp(eta); NUTS rejects them, the diagnostics report what matters.
        warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered", category=RuntimeWarning)
        if sampler.sampler == "nutpie":
            idata = _sample_nutpie(data, settings, sampler)
        else:
            idata = _sample_pymc(cure_model(data, list(design.columns), settings), sampler)
    idata = idata.assign_coords(term=list(design.columns), groups="posterior")
    if "constant_data" in idata.groups():  # PyMC's containers; the fit keeps the original inputs
        del idata.constant_data
    idata.add_groups(constant_data=_constant_data(time, event, design, data.pwe))
    if log_likelihood:
        values = pointwise_log_likelihood(idata).astype(np.float32)
        coords = {"chain": idata.posterior["chain"], "draw": idata.posterior["draw"]}
        coords["patient"] = idata.constant_data["patient"]
        idata.add_groups(log_likelihood=xr.Dataset({"event": (("chain", "draw", "patient"), values)}, coords=coords))
    return idata


def _sample_nutpie(data: CureData, settings: PweSettings, sampler: SamplerSettings) -> az.InferenceData:
    """Sample with nutpie on the hand-coded density; two threads only when the work per evaluation outweighs the GIL."""
    cores = min(sampler.chains, 2) if data.pwe.z.size >= PARALLEL_CHAINS_MIN_WORK else 1
    return nutpie.sample(
        nutpie_cure_model(data, settings),
        draws=sampler.draws,
        tune=sampler.tune,
        chains=sampler.chains,
        cores=cores,
        seed=sampler.seed,
        target_accept=sampler.target_accept,
        progress_bar=False,
        save_warmup=False,
    )


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
    posterior, constant = idata.posterior, idata.constant_data
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    design = constant["design"].to_numpy()[rows]
    coef, cure_coef = _draws(posterior["coef"], "term"), _draws(posterior["cure_coef"], "term")
    intercept = posterior["cure_intercept"].to_numpy().reshape(-1, 1)
    values = cure_log_likelihood(
        constant["time"].to_numpy()[rows],
        constant["event"].to_numpy()[rows],
        coef @ design.T,
        _draws(posterior["log_baseline"], "interval"),
        constant["cuts"].to_numpy(),
        intercept + cure_coef @ design.T,
    )
    return values.reshape(*shape, -1)


def _draws(variable: xr.DataArray, dim: str) -> np.ndarray:
    """A posterior variable over ``dim`` as a (chain x draw, dim) array."""
    values = variable.transpose("chain", "draw", dim).to_numpy()
    return values.reshape(-1, values.shape[-1])
