"""Summaries of a mixture-cure fit: its terms for ``bayes.csv`` and the cure fractions of ``bayes_cure.csv``.

Each design column has two coefficients, named so they cannot be mixed up: ``cure:<term>`` (incidence: log odds ratio
of cure; the ratio columns of ``bayes.csv`` hold the **odds ratio of cure**, above 1 = more patients cured) and
``latency:<term>`` (log hazard ratio **among the uncured**). The cure fraction of a patient with design row ``x`` is
``pi(x) = 1 / (1 + exp(-(cure_intercept + x . cure_coef)))``; :func:`cure_fraction_table` gives it per arm, and the
treated minus control difference, with the follow-up facts of :mod:`.plateau` that say whether the plateau is
supported.
"""

from __future__ import annotations

from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.pwe.cure.plateau import FOLLOW_UP_COLUMNS, follow_up_facts
from tmesurv.models.pwe.diagnostics import (
    CI_PROB,
    SUMMARY_COLUMNS,
    chain_mixing,
    count_divergences,
    diagnostics,
    log_hr_summary,
    mixes_well,
    sampler_passes,
)
from tmesurv.models.pwe.survival import DIFFERENCE

CURE = "cure"
LATENCY = "latency"
PARTS = ((CURE, "cure_coef"), (LATENCY, "coef"))  # each part of the model and its coefficients' posterior variable
_ARMS = {CONTROL: 0.0, TREATED: 1.0}  # the arm's design value
CURE_FRACTION_COLUMNS = [
    "arm",
    "mean",
    "sd",
    "lower",
    "upper",
    "prob_above_zero",
    "r_hat",
    "ess_bulk",
    "ess_tail",
    "converged",
    *FOLLOW_UP_COLUMNS,
]


def cure_term(part: str, term: str) -> str:
    """The name of a term in one part of the model: ``cure:<term>`` or ``latency:<term>``."""
    return f"{part}:{term}"


def summarize_cure(idata: az.InferenceData) -> pd.DataFrame:
    """Posterior summary of both parts' coefficients, one row per part and term (columns ``SUMMARY_COLUMNS``).

    Rows ``cure:<term>`` summarise ``cure_coef`` (log odds ratio of cure: ``hr_mean``, ``hr_lower``, ``hr_upper`` are
    the odds ratio's posterior mean and 95% interval and ``prob_hr_below_1`` is P(OR < 1)), then rows
    ``latency:<term>`` summarise ``coef`` (log HR among the uncured), with the convergence columns of
    :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe`. ``attrs["divergences"]`` holds the fit's divergences.
    """
    frames = []
    for part, variable in PARTS:
        draws = idata.posterior[variable]
        terms = [cure_term(part, term) for term in draws["term"].to_numpy().astype(str)]
        frames.append(pd.DataFrame({"term": terms} | log_hr_summary(draws, "term") | diagnostics(idata, variable)))
    summary = pd.concat(frames, ignore_index=True)[SUMMARY_COLUMNS]
    summary.attrs["divergences"] = count_divergences(idata)
    return summary


def cure_fraction_draws(idata: az.InferenceData, values: Mapping[str, float]) -> xr.DataArray:
    """Draws (chain, draw) of the cure fraction of one design row.

    ``values`` gives the value of each design term; a term it does not name is set at its mean over the fit's
    patients (``constant_data.design_mean``).
    """
    posterior, constant = idata.posterior, idata.constant_data
    terms = [str(term) for term in posterior["term"].to_numpy()]
    means = dict(zip(terms, constant["design_mean"].to_numpy(), strict=True))
    row = xr.DataArray([float(values.get(term, means[term])) for term in terms], coords={"term": posterior["term"]})
    logit = posterior["cure_intercept"] + (posterior["cure_coef"] * row).sum("term")
    return 1.0 / (1.0 + np.exp(-logit))


def arm_rows(arm: float, biomarker: str | None = None, value: float | None = None) -> dict[str, float]:
    """The design values of an arm (0/1), at a biomarker value when the model has one (with the arm's product)."""
    values = {ARM: arm}
    if biomarker is not None:
        values |= {biomarker: value, interaction_term(biomarker): arm * value}
    return values


def cure_fraction_table(idata: az.InferenceData, at: Mapping[str, tuple[str, float] | None]) -> pd.DataFrame:
    """Cure fraction per arm and its treated minus control difference, at each labelled biomarker value.

    Parameters
    ----------
    idata
        A cure fit whose design has the term ``arm`` (and, for an interaction model, the biomarker and its product).
    at
        Label (the ``subgroup`` of the rows) -> ``(biomarker, value)``, or None for a model of the arm alone.

    Returns
    -------
    pandas.DataFrame
        Columns ``subgroup`` and ``CURE_FRACTION_COLUMNS``: posterior mean, sd and 95% equal-tailed interval of the
        cure fraction (``arm`` control, treated) and of the difference (``arm`` difference, with ``prob_above_zero`` =
        P(treated > control)); R-hat and ESS of those draws, and ``converged`` by the rule of
        :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe` (divergences included); and the follow-up facts of
        :func:`~tmesurv.models.pwe.cure.plateau.follow_up_facts` of the arm's patients (of a two-level biomarker, the
        patients of the arm at that level). The difference row has the facts of the arm with the shorter follow-up,
        both arms' patients and events, and is supported only when both arms are.
    """
    sampler_ok = sampler_passes(idata)
    rows = []
    for label, biomarker_value in at.items():
        biomarker, value = biomarker_value if biomarker_value is not None else (None, None)
        draws = {arm: cure_fraction_draws(idata, arm_rows(code, biomarker, value)) for arm, code in _ARMS.items()}
        draws[DIFFERENCE] = draws[TREATED] - draws[CONTROL]
        follow_up = _follow_up(idata, biomarker, value)
        for arm, values in draws.items():
            facts = follow_up[arm] if arm in follow_up else _difference_facts(follow_up)
            rows.append({"subgroup": label, "arm": arm} | _draw_summary(values, arm, sampler_ok) | dict(facts))
    return pd.DataFrame(rows, columns=["subgroup", *CURE_FRACTION_COLUMNS])


def _follow_up(idata: az.InferenceData, biomarker: str | None, value: float | None) -> dict[str, dict]:
    """Follow-up facts per arm of the fit's patients; at a level of a two-level (0/1) biomarker, of that level's."""
    constant = idata.constant_data
    time, event = constant["time"].to_numpy(), constant["event"].to_numpy()
    treated = constant["design"].sel(term=ARM).to_numpy() == 1
    members = np.ones(time.size, dtype=bool)
    if biomarker is not None:
        levels = constant["design"].sel(term=biomarker).to_numpy()
        if np.isin(levels, [0.0, 1.0]).all() and value in (0.0, 1.0):
            members = levels == value
    return {
        arm: follow_up_facts(time[members & in_arm], event[members & in_arm])
        for arm, in_arm in ((CONTROL, ~treated), (TREATED, treated))
    }


def _difference_facts(follow_up: Mapping[str, Mapping]) -> dict:
    """Follow-up facts of a difference: the arm with the shorter follow-up's, supported only if both arms are."""
    shorter = min(follow_up.values(), key=lambda facts: facts["max_follow_up"])
    both = all(facts["plateau_supported"] for facts in follow_up.values())
    return dict(shorter) | {
        "n": sum(facts["n"] for facts in follow_up.values()),
        "events": sum(facts["events"] for facts in follow_up.values()),
        "plateau_supported": both,
    }


def _draw_summary(values: xr.DataArray, arm: str, sampler_ok: bool) -> dict:
    """Mean, sd, 95% interval, P(> 0) for a difference, and convergence of (chain, draw) draws."""
    flat = values.to_numpy().ravel()
    tail = (1 - CI_PROB) / 2
    r_hat, ess_bulk, ess_tail = (float(value[0]) for value in chain_mixing(xr.Dataset({"value": values}), "value"))
    converged = bool(mixes_well(r_hat, ess_bulk, ess_tail)) and sampler_ok
    return {
        "mean": flat.mean(),
        "sd": flat.std(ddof=1),
        "lower": np.quantile(flat, tail),
        "upper": np.quantile(flat, 1 - tail),
        "prob_above_zero": float((flat > 0).mean()) if arm == DIFFERENCE else np.nan,
        "r_hat": r_hat,
        "ess_bulk": ess_bulk,
        "ess_tail": ess_tail,
        "converged": bool(converged),
    }
