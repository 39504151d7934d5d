"""Posterior summaries and convergence diagnostics of piecewise-exponential fits, and the rule of convergence.

A fit is converged when every summarised parameter has R-hat (rank-normalised, split) below :data:`RHAT_MAX`, bulk and
tail ESS of at least :data:`ESS_MIN`, no chain's energy BFMI below :data:`BFMI_MIN`, and the sampler reported no
divergent transition; :func:`convergence_rule_text` says so in words for the report.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from tmesurv.errors import SamplingError

ESTIMATE_COLUMNS = ["mean", "sd", "hr_mean", "hr_lower", "hr_upper", "prob_hr_below_1"]  # of log_hr_summary
CONVERGENCE_COLUMNS = ["r_hat", "ess_bulk", "ess_tail", "bfmi_min", "converged"]  # of diagnostics
SUMMARY_COLUMNS = ["term", *ESTIMATE_COLUMNS, *CONVERGENCE_COLUMNS]
BFMI_MIN = 0.3
RHAT_MAX = 1.01
ESS_MIN = 400
CI_PROB = 0.95


def convergence_rule_text() -> str:
    """The convergence rule of :func:`diagnostics` in words, from its constants (for the report's methods)."""
    return (
        f"R-hat below {RHAT_MAX:g}, bulk and tail effective sample sizes of at least {ESS_MIN}, an energy BFMI of "
        f"at least {BFMI_MIN:g} in every chain and no divergent transitions"
    )


def summarize_pwe(idata: az.InferenceData) -> pd.DataFrame:
    """Posterior summary of the log hazard ratios on the original column scale (variable ``coef``).

    Parameters
    ----------
    idata
        A fit from :func:`~tmesurv.models.pwe.fit.fit_pwe` (or any InferenceData with ``posterior.coef`` over
        ``chain, draw, term``).

    Returns
    -------
    pandas.DataFrame
        One row per term: ``mean`` and ``sd`` of the log hazard ratio; ``hr_mean``, the posterior mean of
        ``exp(coef)``; ``hr_lower`` and ``hr_upper``, the 2.5% and 97.5% quantiles of ``exp(coef)``;
        ``prob_hr_below_1`` = P(coef < 0); ``r_hat`` (rank-normalised split R-hat), ``ess_bulk`` and ``ess_tail``
        from arviz; ``bfmi_min``, the lowest energy BFMI over chains (NaN without energy statistics); and
        ``converged``, a boolean that is True when ``r_hat < RHAT_MAX`` (1.01), both ESS ``>= ESS_MIN`` (400), no
        chain's BFMI is below ``BFMI_MIN`` (0.3) and the sampler reported no divergent transition in any chain (a
        missing ``sample_stats.diverging`` counts as none, missing energy statistics as no low BFMI); constant draws
        give ``r_hat`` NaN and so ``converged`` False.
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
        "prob_hr_below_1": probability_below_zero(values, axis=1),
    }


def probability_below_zero(draws: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Posterior probability that a quantity is below 0 (``P(HR < 1)`` of log-HR draws), NaN-aware.

    A NaN draw (an interrupted or failed chain) makes the probability NaN: it is never counted as "not below 0".

    Parameters
    ----------
    draws
        Draws of the quantity; ``axis`` runs over the draws (None: all of them).

    Returns
    -------
    numpy.ndarray
        The share of draws below 0, NaN where any draw is NaN.
    """
    draws = np.asarray(draws, dtype=float)
    share = (draws < 0).mean(axis=axis)
    return np.where(np.isnan(draws).any(axis=axis), np.nan, share)


def require_complete_draws(idata: az.InferenceData) -> None:
    """Refuse a posterior with a NaN draw (an interrupted or failed sampler): nothing is summarised from it.

    Raises
    ------
    tmesurv.errors.SamplingError
        Naming the variables and chains with NaN draws.
    """
    incomplete = {}
    for name, values in idata.posterior.data_vars.items():
        draws = values.transpose("chain", ...).to_numpy().reshape(values.sizes["chain"], -1)
        missing = np.isnan(draws).any(axis=1)
        if missing.any():
            incomplete[name] = [int(chain) for chain in values["chain"].to_numpy()[missing]]
    if incomplete:
        where = "; ".join(f"{name} in chain {', '.join(map(str, chains))}" for name, chains in incomplete.items())
        raise SamplingError(
            f"the sampler returned NaN draws ({where}): an interrupted or failed run, so nothing is summarised; "
            "run it again"
        )


def diagnostics(idata: az.InferenceData, var_name: str) -> dict[str, np.ndarray]:
    """Convergence columns of one posterior variable, one value per element (see :func:`summarize_pwe`).

    Returns
    -------
    dict[str, numpy.ndarray]
        ``r_hat``, ``ess_bulk``, ``ess_tail``, ``bfmi_min`` and ``converged`` (boolean).
    """
    r_hat, ess_bulk, ess_tail = chain_mixing(idata, var_name)
    bfmi_min = _lowest_bfmi(idata)
    converged = mixes_well(r_hat, ess_bulk, ess_tail) & _sampler_passes(count_divergences(idata), bfmi_min)
    bfmi = np.full(r_hat.shape, bfmi_min)
    return {"r_hat": r_hat, "ess_bulk": ess_bulk, "ess_tail": ess_tail, "bfmi_min": bfmi, "converged": converged}


def chain_mixing(draws: az.InferenceData | xr.Dataset, var_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat, bulk ESS and tail ESS of a variable's draws (over ``chain, draw``), flattened.

    Constant draws give R-hat NaN (no warning), which fails :func:`mixes_well`.
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # constant draws: r_hat is NaN, not a warning
        r_hat = az.rhat(draws, var_names=[var_name], method="rank")[var_name].to_numpy().ravel()
        ess_bulk = az.ess(draws, var_names=[var_name], method="bulk")[var_name].to_numpy().ravel()
        ess_tail = az.ess(draws, var_names=[var_name], method="tail")[var_name].to_numpy().ravel()
    return r_hat, ess_bulk, ess_tail


def mixes_well(r_hat: np.ndarray, ess_bulk: np.ndarray, ess_tail: np.ndarray) -> np.ndarray:
    """The per-quantity part of the convergence rule: R-hat below ``RHAT_MAX``, both ESS at least ``ESS_MIN``."""
    return (r_hat < RHAT_MAX) & (ess_bulk >= ESS_MIN) & (ess_tail >= ESS_MIN)


def sampler_passes(idata: az.InferenceData) -> bool:
    """The fit-wide part of the convergence rule: no divergent transition, no chain's BFMI below ``BFMI_MIN``."""
    return _sampler_passes(count_divergences(idata), _lowest_bfmi(idata))


def _sampler_passes(divergences: int, bfmi_min: float) -> bool:
    return divergences == 0 and not bfmi_min < BFMI_MIN  # NaN (no energy statistics) does not fail the rule


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
