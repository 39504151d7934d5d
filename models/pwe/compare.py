"""PSIS-LOO of every Bayesian fit, computed a block of patients at a time, and the comparison of models by LOO.

:func:`add_loo` computes Pareto-smoothed importance-sampling leave-one-out cross-validation (PSIS-LOO) exactly as
``arviz.loo`` does on the full log-likelihood (the same relative efficiency from the posterior's mean ESS, the same
smoothing as ``arviz.psislw``, vectorised over patients in :mod:`.psis`, the same sums), but from the model's
per-patient log-likelihood
(:mod:`tmesurv.models.pwe.registry`) computed for a block of patients at a time: memory stays O(block x draws), never
chains x draws x patients. It keeps the result in the fit's InferenceData group ``loo``: per patient the pointwise
elpd ``loo_i`` and the Pareto shape ``pareto_k``, and as attributes the totals (``elpd_loo``, ``se``, ``p_loo``,
``n_samples``, ``n_data_points``, ``good_k``, ``warning``). :func:`stored_loo` turns the group back into ArviZ's
``ELPDData``.

:func:`loo_table` is ``bayes_loo.csv``: per analysis (endpoint, analysis, subgroup) each fitted model's elpd, its
``arviz.compare`` difference from the best (``elpd_diff``, ``dse``) and rank, and the patients whose Pareto k exceeds
ArviZ's threshold ``good_k = min(1 - 1 / log10(S), 0.7)`` for ``S`` draws (0.7 at 4 x 1,000 draws), for whom the
importance sampling is unreliable. A model is *clearly* better when its elpd exceeds the next model's by at least
:data:`CLEAR_ELPD_DIFFERENCE` and by at least :data:`CLEAR_SE_MULTIPLE` standard errors of the difference (Vehtari's
cross-validation FAQ: differences under 4 are small); :func:`preference` says so in words.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from tmesurv.models.pwe.psis import log_mean_exp, psis_loo_pointwise
from tmesurv.models.pwe.registry import bayes_model
from tmesurv.models.pwe.storage import PweFit

LOO_GROUP = "loo"
LOG_LIKELIHOOD_BLOCK_VALUES = 2**21  # draws x patients per block: about 16 MB per float64 temporary
LOO_THREADS = min(2, os.cpu_count() or 1)
CLEAR_ELPD_DIFFERENCE = 4.0
CLEAR_SE_MULTIPLE = 2.0
LOO_COLUMNS = [
    "endpoint", "analysis", "subgroup", "model", "elpd_loo", "se", "p_loo", "elpd_diff", "dse", "n_pareto_k_high",
    "rank",
]  # fmt: skip
LOO_TOTALS = ("elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "good_k")
ELPD_INDEX = (*LOO_TOTALS[:5], "warning", "loo_i", "pareto_k", "scale", "good_k")  # arviz.loo's, in its order

LogLikelihood = Callable[[az.InferenceData, slice], np.ndarray]


def add_loo(idata: az.InferenceData, model: str) -> az.ELPDData:
    """PSIS-LOO of a fit of ``model`` (a name of the registry), kept in the fit's group ``loo``.

    Parameters
    ----------
    idata
        The fit (posterior and ``constant_data``); a ``loo`` group it has is replaced.
    model
        The registered model it is a fit of, which gives the per-patient log-likelihood.

    Returns
    -------
    arviz.ELPDData
        As ``arviz.loo(idata, pointwise=True)`` on the full log-likelihood (scale ``log``).
    """
    elpd = psis_loo(idata, bayes_model(model).log_likelihood)
    if LOO_GROUP in idata.groups():
        del idata[LOO_GROUP]
    idata.add_groups({LOO_GROUP: _loo_dataset(elpd, idata.constant_data["patient"])})
    return elpd


def psis_loo(idata: az.InferenceData, log_likelihood: LogLikelihood) -> az.ELPDData:
    """PSIS-LOO from ``log_likelihood(idata, rows)`` (float64, chain x draw x rows), a block of patients at a time.

    The same computation as ``arviz.loo(..., pointwise=True, scale="log")`` on the whole array, without the array.
    The blocks run on ``LOO_THREADS`` threads (numpy releases the GIL in the work of a block).
    """
    posterior = idata.posterior
    samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    patients = idata.constant_data.sizes["patient"]
    reff = relative_efficiency(posterior)

    def block(rows: slice) -> tuple[slice, np.ndarray, np.ndarray, np.ndarray]:
        values = np.ascontiguousarray(log_likelihood(idata, rows).reshape(samples, -1).T)  # patients x draws
        return rows, *psis_loo_pointwise(values, reff), log_mean_exp(values)

    loo_i, pareto_k, lppd_i = np.empty(patients), np.empty(patients), np.empty(patients)
    with ThreadPoolExecutor(LOO_THREADS) as pool:
        for rows, *pointwise in pool.map(block, patient_blocks(idata)):
            loo_i[rows], pareto_k[rows], lppd_i[rows] = pointwise
    good_k = min(1 - 1 / np.log10(samples), 0.7)
    elpd = loo_i.sum()
    totals = (elpd, math.sqrt(patients * np.var(loo_i)), lppd_i.sum() - elpd, samples, patients, good_k)
    return _elpd_data(totals, loo_i, pareto_k)


def relative_efficiency(posterior: xr.Dataset) -> float:
    """``arviz.loo``'s relative efficiency: the mean ESS (method ``mean``) over every posterior value, per draw."""
    samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    if posterior.sizes["chain"] == 1:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant deterministic has no ESS, as in arviz
        ess = az.ess(posterior, method="mean")
    return float(np.hstack([ess[name].to_numpy().ravel() for name in ess.data_vars]).mean() / samples)


def patient_blocks(idata: az.InferenceData) -> list[slice]:
    """Consecutive slices of the patients, each about ``LOG_LIKELIHOOD_BLOCK_VALUES`` draws x patients."""
    patients = idata.constant_data.sizes["patient"]
    draws = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    size = max(1, LOG_LIKELIHOOD_BLOCK_VALUES // draws)
    return [slice(start, min(start + size, patients)) for start in range(0, patients, size)]


def full_log_likelihood(idata: az.InferenceData, log_likelihood: LogLikelihood) -> xr.Dataset:
    """The ``log_likelihood`` group (``event``: chain x draw x patient, float32), filled a block at a time."""
    posterior, patient = idata.posterior, idata.constant_data["patient"]
    values = np.empty((posterior.sizes["chain"], posterior.sizes["draw"], patient.size), dtype=np.float32)
    for rows in patient_blocks(idata):
        values[..., rows] = log_likelihood(idata, rows)
    coords = {"chain": posterior["chain"], "draw": posterior["draw"], "patient": patient}
    return xr.Dataset({"event": (("chain", "draw", "patient"), values)}, coords=coords)


def stored_loo(idata: az.InferenceData) -> az.ELPDData:
    """The ``ELPDData`` kept in a fit's ``loo`` group by :func:`add_loo` (also after saving and loading).

    Raises
    ------
    ValueError
        If the fit has no ``loo`` group.
    """
    if LOO_GROUP not in idata.groups():
        raise ValueError("the fit has no PSIS-LOO (group 'loo'): compute it with add_loo")
    group = idata[LOO_GROUP]
    totals = tuple(group.attrs[name] for name in LOO_TOTALS)
    return _elpd_data(totals, group["loo_i"].to_numpy(), group["pareto_k"].to_numpy())


def loo_table(fits: Sequence[PweFit]) -> pd.DataFrame:
    """``bayes_loo.csv``: the LOO of every fit that has one, models of one analysis compared (``arviz.compare``).

    Returns
    -------
    pandas.DataFrame
        Columns ``LOO_COLUMNS``; analyses in fitting order, models by rank (0 is the best); ``elpd_diff`` and ``dse``
        are the difference from the best model and its standard error (0 for the best, and for a model fitted alone).
    """
    analyses: dict[tuple[str, str, str], dict[str, az.ELPDData]] = {}
    for fit in fits:
        if LOO_GROUP in fit.idata.groups():
            analyses.setdefault((fit.endpoint, fit.analysis, fit.subgroup), {})[fit.model] = stored_loo(fit.idata)
    rows = [_compared(key, models) for key, models in analyses.items()]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=LOO_COLUMNS)
    return table[LOO_COLUMNS]


def preference(rows: pd.DataFrame) -> str | None:
    """In words, which model one analysis's rows of :func:`loo_table` prefer; None with a single model.

    ``"time_varying over ph by 12.3 (SE 4.1)"`` when the best model is clearly better (see the module docstring), else
    ``"no clear preference: time_varying over ph by 1.2 (SE 2.0)"``.
    """
    if len(rows) < 2:
        return None
    ranked = rows.sort_values("rank")
    best, runner_up = ranked.iloc[0], ranked.iloc[1]
    difference, se = float(runner_up["elpd_diff"]), float(runner_up["dse"])
    text = f"{best['model']} over {runner_up['model']} by {difference:.1f} (SE {se:.1f})"
    return text if clearly_better(difference, se) else f"no clear preference: {text}"


def clearly_better(difference: float, se: float) -> bool:
    """Whether an elpd difference is clear: at least ``CLEAR_ELPD_DIFFERENCE`` and ``CLEAR_SE_MULTIPLE`` SEs."""
    return difference >= CLEAR_ELPD_DIFFERENCE and difference >= CLEAR_SE_MULTIPLE * se


def _compared(key: tuple[str, str, str], models: dict[str, az.ELPDData]) -> pd.DataFrame:
    """One analysis's rows: each model's LOO and its comparison with the others."""
    if len(models) == 1:
        compared = pd.DataFrame({"rank": [0], "elpd_diff": [0.0], "dse": [0.0]}, index=list(models))
    else:  # pseudo-BMA weights: no optimiser (the weights are not reported); elpd_diff and dse as every method
        compared = az.compare(models, ic="loo", method="pseudo-BMA", scale="log")
    rows = []
    for model in compared.index:
        elpd = models[model]
        high = int((elpd["pareto_k"].to_numpy() > elpd["good_k"]).sum())
        rows.append(
            {
                "model": model,
                "elpd_loo": float(elpd["elpd_loo"]),
                "se": float(elpd["se"]),
                "p_loo": float(elpd["p_loo"]),
                "elpd_diff": float(compared.loc[model, "elpd_diff"]),
                "dse": float(compared.loc[model, "dse"]),
                "n_pareto_k_high": high,
                "rank": int(compared.loc[model, "rank"]),
            }
        )
    endpoint, analysis, subgroup = key
    return pd.DataFrame(rows).assign(endpoint=endpoint, analysis=analysis, subgroup=subgroup)


def _elpd_data(totals: tuple, loo_i: np.ndarray, pareto_k: np.ndarray) -> az.ELPDData:
    """ArviZ's ``ELPDData`` of a pointwise LOO, as ``arviz.loo(..., pointwise=True, scale="log")`` returns it."""
    elpd, se, p_loo, samples, patients, good_k = totals
    values = {
        "elpd_loo": float(elpd),
        "se": float(se),
        "p_loo": float(p_loo),
        "n_samples": int(samples),
        "n_data_points": int(patients),
        "warning": bool(np.any(pareto_k > good_k)),
        "loo_i": xr.DataArray(loo_i, dims="patient", name="loo_i"),
        "pareto_k": xr.DataArray(pareto_k, dims="patient", name="pareto_shape"),
        "scale": "log",
        "good_k": float(good_k),
    }
    return az.ELPDData(data=[values[name] for name in ELPD_INDEX], index=list(ELPD_INDEX))


def _loo_dataset(elpd: az.ELPDData, patient: xr.DataArray) -> xr.Dataset:
    """The ``loo`` group: pointwise elpd and Pareto k over ``patient``, the totals as attributes."""
    attrs = {name: elpd[name] for name in LOO_TOTALS}
    attrs |= {"warning": int(elpd["warning"]), "scale": "log", "method": "PSIS-LOO (arviz.psislw), computed in blocks"}
    return xr.Dataset(
        {"loo_i": ("patient", elpd["loo_i"].to_numpy()), "pareto_k": ("patient", elpd["pareto_k"].to_numpy())},
        coords={"patient": patient},
        attrs=attrs,
    )
