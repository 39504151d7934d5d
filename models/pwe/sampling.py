"""Sampling a Bayesian survival model and keeping what a saved fit needs: one way for every model of the registry.

A model's fit (:func:`tmesurv.models.pwe.fit.fit_pwe`, :func:`tmesurv.models.pwe.cure.fit.fit_cure`) builds its own
model -- for nutpie a hand-coded density or a compiled PyMC graph, for ``sampler: pymc`` the PyMC specification -- and
hands it to :func:`sample_posterior`, which samples it with the sampler settings, re-raises an interrupt the sampler
swallowed and refuses incomplete draws. :func:`keep_inputs` stores the fit's inputs (``constant_data``) and, on request,
the per-patient log-likelihood; :func:`per_patient` is the plumbing of every model's per-patient log-likelihood (the
registry's ``log_likelihood`` contract, :mod:`tmesurv.models.pwe.registry`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import arviz as az
import numpy as np
import nutpie
import pandas as pd
import pymc as pm
import xarray as xr

from tmesurv.interrupts import raise_if_interrupted
from tmesurv.models.pwe.compare import LogLikelihood, full_log_likelihood
from tmesurv.models.pwe.data import PweData
from tmesurv.models.pwe.diagnostics import require_complete_draws
from tmesurv.models.pwe.settings import SamplerSettings
from tmesurv.models.pwe.storage import netcdf_attrs

# Patients x terms from which chains of a hand-coded density run on two threads: below, the threads' contention for
# Python's GIL costs more than the second core gives (measured: 4 chains at n = 3,000 x 3 terms take 4.5 s on one
# thread and 5.0 s on two; at 5,000 x 3, 5.8 s and 5.4 s; at 20,000 x 3, 28 s and 14 s).
PARALLEL_CHAINS_MIN_WORK = 12_000
MAX_CORES = 2


def sample_posterior(
    sampler: SamplerSettings,
    nutpie_model: Callable[[], tuple[object, int]],
    pymc_model: Callable[[], pm.Model],
) -> az.InferenceData:
    """Sample a model with nutpie (or PyMC's NUTS); never return the draws of an interrupted or failed run.

    Parameters
    ----------
    sampler
        The sampler (nutpie, or PyMC's NUTS), draws, tune, chains, target acceptance and the seed (the same seed gives
        identical draws).
    nutpie_model
        Builds what ``nutpie.sample`` samples (a hand-coded density's ``PyFuncModel`` or a compiled PyMC model) and the
        number of threads to sample it on (:func:`nutpie_cores`); called only for ``sampler.sampler == "nutpie"``.
    pymc_model
        Builds the PyMC model; called only for PyMC's NUTS.

    Returns
    -------
    arviz.InferenceData
        The sampler's groups (``posterior``, ``sample_stats``; PyMC adds its data containers).

    Raises
    ------
    KeyboardInterrupt
        If Ctrl-C or SIGTERM came while sampling (the sampler catches it and returns what it has).
    tmesurv.errors.SamplingError
        If a draw is NaN (an interrupted or failed chain).
    """
    with warnings.catch_warnings():
        # Early in tuning, before the step size adapts, trajectories can overflow exp(eta); NUTS rejects them
        # and numpy's RuntimeWarning says nothing the diagnostics do not.
        warnings.filterwarnings("ignore", message="(overflow|invalid value) encountered", category=RuntimeWarning)
        if sampler.sampler == "nutpie":
            idata = _sample_nutpie(*nutpie_model(), sampler)
        else:
            idata = _sample_pymc(pymc_model(), sampler)
    raise_if_interrupted()  # the sampler catches Ctrl-C and returns what it has: never summarise that
    require_complete_draws(idata)
    idata.attrs = netcdf_attrs(idata.attrs or {})  # savable by az.to_netcdf as returned: nutpie >= 0.16.11 records
    for group in idata.groups():  # its settings as dictionaries
        dataset = getattr(idata, group)
        dataset.attrs = netcdf_attrs(dataset.attrs)
    return idata


def nutpie_cores(sampler: SamplerSettings, python_work: int | None = None) -> int:
    """Threads for nutpie's chains: two, or one for a density Python calls with too little work to beat the GIL.

    ``python_work`` is the patients x terms a hand-coded density reads per evaluation (None: a compiled graph, which
    runs without the GIL).
    """
    if python_work is not None and python_work < PARALLEL_CHAINS_MIN_WORK:
        return 1
    return min(sampler.chains, MAX_CORES)


def _sample_nutpie(compiled: object, cores: int, sampler: SamplerSettings) -> az.InferenceData:
    """Sample with nutpie, no progress bar and no warm-up draws kept."""
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


def _sample_pymc(model: pm.Model, sampler: SamplerSettings) -> az.InferenceData:
    """Sample with PyMC's NUTS (the fallback when nutpie is not wanted)."""
    with model:
        return pm.sample(
            draws=sampler.draws,
            tune=sampler.tune,
            chains=sampler.chains,
            cores=min(sampler.chains, MAX_CORES),
            random_seed=sampler.seed,
            target_accept=sampler.target_accept,
            progressbar=False,
            compute_convergence_checks=False,
        )


def keep_inputs(
    idata: az.InferenceData,
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    data: PweData,
    log_likelihood: LogLikelihood | None = None,
) -> az.InferenceData:
    """The sampled fit with the design's terms as ``term`` and its inputs, so it can be re-scored without refitting.

    Parameters
    ----------
    idata
        What :func:`sample_posterior` returned.
    time, event, design
        The fit's data, in the row order of ``design``.
    data
        The prepared data the model was built on (its standardisation and cuts).
    log_likelihood
        The model's per-patient log-likelihood: given, the group ``log_likelihood`` (``event``: chain x draw x patient,
        float32) is added, a block of patients at a time.

    Returns
    -------
    arviz.InferenceData
        ``posterior`` with the ``term`` coordinate, ``sample_stats``, ``constant_data`` with ``time``, ``event``,
        ``design`` (patient x term), ``design_mean``, ``design_sd`` and ``cuts`` (PyMC's data containers are dropped),
        and with ``log_likelihood`` that group.
    """
    idata = idata.assign_coords(term=list(design.columns), groups="posterior")
    if "constant_data" in idata.groups():  # PyMC stores its data containers; the fit keeps the original inputs
        del idata.constant_data
    idata.add_groups(constant_data=_constant_data(time, event, design, data))
    if log_likelihood is not None:
        idata.add_groups(log_likelihood=full_log_likelihood(idata, log_likelihood))
    return idata


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


@dataclass(frozen=True)
class FittedPatients:
    """Some patients of a fit (its ``constant_data``) and its posterior, as a per-patient log-likelihood reads them.

    Attributes
    ----------
    time, event
        The patients' follow-up times and event indicators.
    design
        Their design rows (patients x terms).
    cuts
        The fit's interior cut points.
    posterior
        The fit's posterior (read with :meth:`draws`).
    """

    time: np.ndarray
    event: np.ndarray
    design: np.ndarray
    cuts: np.ndarray
    posterior: xr.Dataset

    def draws(self, name: str, dim: str) -> np.ndarray:
        """The posterior variable ``name`` over ``dim`` as a (chain x draw, dim) array."""
        values = self.posterior[name].transpose("chain", "draw", dim).to_numpy()
        return values.reshape(-1, values.shape[-1])


def per_patient(
    idata: az.InferenceData, rows: slice, log_likelihood: Callable[[FittedPatients], np.ndarray]
) -> np.ndarray:
    """A model's per-patient log-likelihood of the patients ``rows`` at every draw, shape ``(chain, draw, rows)``.

    ``log_likelihood`` computes it from the patients and the posterior, one row per draw (chain x draw, in that
    order) and one column per patient.
    """
    posterior, constant = idata.posterior, idata.constant_data
    patients = FittedPatients(
        time=constant["time"].to_numpy()[rows],
        event=constant["event"].to_numpy()[rows],
        design=constant["design"].to_numpy()[rows],
        cuts=constant["cuts"].to_numpy(),
        posterior=posterior,
    )
    return log_likelihood(patients).reshape(posterior.sizes["chain"], posterior.sizes["draw"], -1)
