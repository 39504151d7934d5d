"""Sampling the Bayesian piecewise-exponential model: nutpie (or PyMC's NUTS), and everything a saved fit keeps.

With nutpie and the default coefficient prior the density is :mod:`tmesurv.models.pwe.posterior`'s (nothing to
compile); a model with another coefficient prior (the shrinkage screens) is compiled from PyMC once per structure and
rebound to each cohort's data. The fit keeps its inputs (``constant_data``), so it can be re-scored and compared (LOO)
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
import xarray as xr

from tmesurv.interrupts import raise_if_interrupted
from tmesurv.models.pwe.compare import full_log_likelihood
from tmesurv.models.pwe.data import PweData, pwe_data, pwe_log_likelihood
from tmesurv.models.pwe.diagnostics import require_complete_draws
from tmesurv.models.pwe.model import CoefficientPrior, centred_steps, pwe_model
from tmesurv.models.pwe.posterior import nutpie_model
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

# Patients x terms from which chains of the hand-coded density run on two threads: below, the threads' contention for
# Python's GIL costs more than the second core gives (measured: 4 chains at n = 3,000 x 3 terms take 4.5 s on one
# thread and 5.0 s on two; at 5,000 x 3, 5.8 s and 5.4 s; at 20,000 x 3, 28 s and 14 s).
PARALLEL_CHAINS_MIN_WORK = 12_000


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
    with warnings.catch_warnings():
        # Early in tuning, before the step size adapts, trajectories can overflow exp(eta); NUTS rejects them
        # and numpy's RuntimeWarning says nothing the diagnostics do not.
        warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered", category=RuntimeWarning)
        if sampler.sampler == "nutpie":
            idata = _sample_nutpie(sampled, settings, sampler, coefficient_prior)
        else:
            idata = _sample_pymc(pwe_model(sampled, list(design.columns), settings, coefficient_prior), sampler)
    raise_if_interrupted()  # the sampler catches Ctrl-C and returns what it has: never summarise that
    require_complete_draws(idata)
    idata = idata.assign_coords(term=list(design.columns), groups="posterior")
    if "constant_data" in idata.groups():  # PyMC stores its data containers; the fit keeps the original inputs
        del idata.constant_data
    idata.add_groups(constant_data=_constant_data(time, event, design, data))
    if log_likelihood:
        idata.add_groups(log_likelihood=full_log_likelihood(idata, pointwise_log_likelihood))
    return idata


_COMPILED: dict[tuple, tuple[pm.Model, object]] = {}  # structure -> the PyMC model and its nutpie compilation


def _sample_nutpie(
    data: PweData, settings: PweSettings, sampler: SamplerSettings, coefficient_prior: CoefficientPrior | None
) -> az.InferenceData:
    """Sample with nutpie: the default prior's hand-coded density, or the PyMC model compiled once per structure.

    Compiling the PyMC graph costs 40 s or more the first time on a machine; the default prior's density
    (:mod:`tmesurv.models.pwe.posterior`, equal to the PyMC model's) needs no compilation. A model with another
    coefficient prior is compiled once per (terms, intervals, priors, structure) and rebound to each cohort's data.
    """
    cores = min(sampler.chains, 2)
    if coefficient_prior is None:
        compiled = nutpie_model(data, settings, centred_steps(data))
        if data.z.size < PARALLEL_CHAINS_MIN_WORK:  # Python calls the density: two threads would contend for the GIL
            cores = 1
    else:
        compiled = _compiled_pymc_model(data, settings, coefficient_prior)
    return nutpie.sample(
        compiled,
        draws=sampler.draws,
        tune=sampler.tune,
        chains=sampler.chains,
        cores=cores,
        seed=sampler.seed,
        target_accept=sampler.target_accept,
        progress_bar=False,
        save_warmup=False,
    )


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


def _sample_pymc(model: pm.Model, sampler: SamplerSettings) -> az.InferenceData:
    """Sample with PyMC's NUTS (the fallback when nutpie is not wanted)."""
    with model:
        return pm.sample(
            draws=sampler.draws,
            tune=sampler.tune,
            chains=sampler.chains,
            cores=min(sampler.chains, 2),
            random_seed=sampler.seed,
            target_accept=sampler.target_accept,
            progressbar=False,
            compute_convergence_checks=False,
        )


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
    posterior, constant = idata.posterior, idata.constant_data
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    design = constant["design"].to_numpy()[rows]
    coef = _draws(posterior["coef"], "term")
    arm = arm_effect = None
    if "coef_time" in posterior:  # time-varying arm effect: the arm (first column) enters per interval
        arm, arm_effect = design[:, 0], _draws(posterior["coef_time"], "interval")
        design, coef = design[:, 1:], coef[:, 1:]
    values = pwe_log_likelihood(
        constant["time"].to_numpy()[rows],
        constant["event"].to_numpy()[rows],
        coef @ design.T,
        _draws(posterior["log_baseline"], "interval"),
        constant["cuts"].to_numpy(),
        arm=arm,
        arm_effect=arm_effect,
    )
    return values.reshape(*shape, -1)


def _draws(variable: xr.DataArray, dim: str) -> np.ndarray:
    """A posterior variable over ``dim`` as a (chain x draw, dim) array."""
    values = variable.transpose("chain", "draw", dim).to_numpy()
    return values.reshape(-1, values.shape[-1])


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
