"""Operating characteristics of a power study with Monte Carlo standard errors, as an xarray Dataset.

Per setting and method, over the ``R`` replicates (``R_ok`` of them with an estimate), following Morris, White &
Crowther (2019, Stat Med 38:2074, table 6):

* ``power``: share of all ``R`` replicates that reject (a failed analysis does not confirm); it is the type I error
  where ``interaction_hr`` is 1 (single-arm designs: where ``prognostic_hr * interaction_hr`` is 1; see ``estimand``).
  MCSE ``sqrt(p (1 - p) / R)``.
* ``bias``: mean of ``estimate - truth``; MCSE ``sd(estimate) / sqrt(R_ok)``.
* ``rmse``: ``sqrt(mean((estimate - truth)^2))``; MCSE by the delta method, ``MCSE(MSE) / (2 rmse)`` with
  ``MCSE(MSE) = sd((estimate - truth)^2) / sqrt(R_ok)``.
* ``coverage``: share of intervals containing the truth (nominal ``1 - alpha``); MCSE ``sqrt(c (1 - c) / R_ok)``.
* ``failed_share``, ``flagged_share``: shares of replicates without an estimate, and with an unvouched one.
* ``error_share``: share of replicates whose analysis raised an exception (counted in ``failed_share`` too; their
  messages are in :func:`error_table` - ``power_errors.csv`` - and the first few in the Dataset's ``error_messages``
  attribute, with ``replicate_errors`` their total over the study).

Over (design, method): ``estimand``, what ``power`` is the power to detect. ``interaction`` in a randomized cohort
(the ratio of the within-arm HRs of positivity, treated over control). ``prognostic`` in a single-arm cohort, whatever
the method: every patient is treated, so nothing separates a predictive biomarker from a prognostic one, and the
rejection rate is the power to detect the biomarker's effect within the treated arm (HR ``prognostic_hr *
interaction_hr``; its type I error where that product is 1), not an interaction. A method that does not apply to a
design has an empty ``estimand`` there.

Over settings only: ``mean_events`` (and its MCSE), and ``analytic_power``, the power of the Cox interaction test
from the analytic events formula at the simulated mean events (randomized designs; NaN for single-arm ones).
Methods that do not apply to a design are NaN there. Select a method with ``dataset.sel({"method": "median_split"})``:
in ``dataset.sel(method=...)`` xarray takes ``method`` as its own argument (the inexact-match method).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from tmesurv import __version__
from tmesurv.simulations.power.methods import FIELDS, Method, analytic_power, build_methods
from tmesurv.simulations.power.study import DIMS, PowerStudy

METRICS = ("power", "bias", "rmse", "coverage")
METHOD_VARIABLES = (
    *(name for metric in METRICS for name in (metric, f"{metric}_mcse")),
    "failed_share",
    "error_share",
    "flagged_share",
    "truth",
)
DESCRIPTIONS = {
    "power": "share of replicates that confirm the biomarker (type I error where the truth is no effect)",
    "bias": "mean of estimate - truth (log hazard ratio; bayes_cure_interaction: log odds ratio of cure)",
    "rmse": "root mean squared error of the estimate (log hazard ratio; bayes_cure_interaction: log odds ratio of "
    "cure)",
    "coverage": "share of 1 - alpha intervals containing the truth",
    "failed_share": "share of replicates without an estimate (monotone likelihood, empty group, no events, an error)",
    "error_share": "share of replicates whose analysis raised an exception (see power_errors.csv)",
    "estimand": "what power detects: interaction (randomized) or prognostic (single-arm: the treated arm's HR)",
    "flagged_share": "share of replicates whose estimate did not converge",
    "truth": "the method's estimand (log hazard ratio; bayes_cure_interaction: log odds ratio of cure)",
    "mean_events": "mean events per cohort",
    "analytic_power": "power of the Cox interaction test from the analytic events formula at mean_events",
}
ESTIMANDS = {"randomized": "interaction", "single_arm": "prognostic"}
"""What ``power`` detects in each design (see the module docstring)."""
MAX_MESSAGES = 5
"""Distinct error messages kept per setting and method (power_errors.csv) and over the study (attributes)."""


def operating_characteristics(result: dict[str, np.ndarray], truth: float) -> dict[str, float]:
    """Metrics and their Monte Carlo standard errors for one method and setting (see the module docstring).

    Parameters
    ----------
    result
        Per-replicate ``estimate, se, lower, upper, reject, failed, flagged`` and ``error`` (messages, ``""`` where
        none).
    truth
        The method's estimand.

    Returns
    -------
    dict[str, float]
        One value per name of :data:`METHOD_VARIABLES`.
    """
    replicates = result["reject"].size
    ok = ~result["failed"]
    estimate = result["estimate"][ok]
    error = estimate - truth
    power = float(result["reject"].mean())
    out = {"power": power, "power_mcse": _share_mcse(power, replicates), "truth": truth}
    out |= _error_metrics(error, estimate)
    if ok.sum() > 0:
        coverage = float(((result["lower"][ok] <= truth) & (truth <= result["upper"][ok])).mean())
        out |= {"coverage": coverage, "coverage_mcse": _share_mcse(coverage, int(ok.sum()))}
    else:
        out |= {"coverage": math.nan, "coverage_mcse": math.nan}
    return out | {
        "failed_share": float(result["failed"].mean()),
        "error_share": float((result["error"] != "").mean()),
        "flagged_share": float(result["flagged"].mean()),
    }


def _share_mcse(share: float, count: int) -> float:
    return math.sqrt(share * (1 - share) / count)


def _error_metrics(error: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    count = error.size
    if count < 2:
        return {name: math.nan for name in ("bias", "bias_mcse", "rmse", "rmse_mcse")}
    squared = error**2
    rmse = math.sqrt(squared.mean())
    mse_mcse = squared.std(ddof=1) / math.sqrt(count)
    return {
        "bias": float(error.mean()),
        "bias_mcse": float(estimate.std(ddof=1) / math.sqrt(count)),
        "rmse": rmse,
        "rmse_mcse": mse_mcse / (2 * rmse) if rmse > 0 else math.nan,
    }


def summarize_power(study: PowerStudy, results: dict[int, dict[str, np.ndarray]]) -> xr.Dataset:
    """The study's operating characteristics over (setting dims..., method).

    Parameters
    ----------
    study
        The study.
    results
        Per setting index: ``events`` and ``<method>.<field>`` arrays over all its replicates, in replicate order.

    Returns
    -------
    xarray.Dataset
        Dims :data:`~tmesurv.simulations.power.study.DIMS` and ``method``; see the module docstring.
    """
    coords = study.coords
    shape = tuple(len(values) for values in coords.values())
    methods = build_methods(study.spec)
    per_method = {name: np.full((*shape, len(methods)), np.nan) for name in METHOD_VARIABLES}
    per_setting = {name: np.full(shape, np.nan) for name in ("mean_events", "mean_events_mcse", "analytic_power")}
    for setting in study.settings():
        where = np.unravel_index(setting.index, shape)
        arrays, model = results[setting.index], study.cohort_model(setting)
        events = arrays["events"]
        per_setting["mean_events"][where] = events.mean()
        per_setting["mean_events_mcse"][where] = events.std(ddof=1) / math.sqrt(events.size)
        if setting.design == "randomized":
            power = analytic_power(events.mean(), setting.interaction_hr, setting.prevalence, study.allocation)
            per_setting["analytic_power"][where] = power
        for position, (name, method) in enumerate(methods.items()):
            if method.applies_to(setting.design):
                result = {field: arrays[f"{name}.{field}"] for field in (*FIELDS, "error")}
                for variable, value in operating_characteristics(result, method.truth(model)).items():
                    per_method[variable][(*where, position)] = value
    variables = {name: ((*DIMS, "method"), values) for name, values in per_method.items()}
    variables |= {name: (DIMS, values) for name, values in per_setting.items()}
    variables["estimand"] = (("design", "method"), _estimands(coords["design"], methods))
    dataset = xr.Dataset(variables, coords={**coords, "method": list(methods)})
    for name, variable in dataset.data_vars.items():
        base = name.removesuffix("_mcse")
        variable.attrs["description"] = DESCRIPTIONS[base] + (" (Monte Carlo standard error)" if base != name else "")
    dataset.attrs = _attributes(study) | _error_attributes(error_table(study, results))
    return dataset


def _estimands(designs: list[str], methods: dict[str, Method]) -> np.ndarray:
    """``(design, method)``: the estimand of each design where the method applies, ``""`` elsewhere."""
    return np.array(
        [[ESTIMANDS[design] if method.applies_to(design) else "" for method in methods.values()] for design in designs],
        dtype=object,
    )


def error_table(study: PowerStudy, results: dict[int, dict[str, np.ndarray]]) -> pd.DataFrame:
    """The replicates whose analysis raised: a row per setting, method and distinct message (``power_errors.csv``).

    Per setting and method, the first :data:`MAX_MESSAGES` distinct messages in replicate order, each with the number
    of replicates that raised it and the first of them (``error_share`` counts every one).

    Parameters
    ----------
    study
        The study.
    results
        As for :func:`summarize_power`.

    Returns
    -------
    pandas.DataFrame
        Columns: the setting dimensions, ``method, message, replicates, first_replicate``; no rows when nothing raised.
    """
    rows = []
    methods = build_methods(study.spec)
    for setting in study.settings():
        values = {dim: getattr(setting, dim) for dim in DIMS}
        for name, method in methods.items():
            if not method.applies_to(setting.design):
                continue
            messages = results[setting.index][f"{name}.error"]
            distinct, first, counts = np.unique(messages[messages != ""], return_index=True, return_counts=True)
            replicates = np.flatnonzero(messages != "")
            for order in np.argsort(first, kind="stable")[:MAX_MESSAGES]:
                rows.append(
                    values
                    | {"method": name, "message": str(distinct[order]), "replicates": int(counts[order])}
                    | {"first_replicate": int(replicates[first[order]])}
                )
    return pd.DataFrame(rows, columns=[*DIMS, "method", "message", "replicates", "first_replicate"])


def _error_attributes(errors: pd.DataFrame) -> dict[str, object]:
    """``replicate_errors`` (the total) and ``error_messages`` (the first few distinct messages over the study)."""
    summary = errors.groupby(["method", "message"], sort=False)["replicates"].sum().reset_index()
    lines = [
        f"{row.method}: {row.message} ({row.replicates} replicate{'s' if row.replicates != 1 else ''})"
        for row in summary.head(MAX_MESSAGES).itertuples()
    ]
    return {"replicate_errors": int(errors["replicates"].sum()), "error_messages": "\n".join(lines)}


def _attributes(study: PowerStudy) -> dict[str, object]:
    spec = study.spec
    return {
        "study": spec.name,
        "study_hash": study.digest,
        "scenario": study.scenario.name,
        "seed": spec.seed,
        "replicates": spec.replicates,
        "alpha": spec.alpha,
        "allocation": study.allocation,
        "biomarker_kind": spec.biomarker.kind,
        "tmesurv_version": __version__,
    }


def power_table(dataset: xr.Dataset) -> pd.DataFrame:
    """The Dataset as one flat table: a row per (setting, method), setting-only variables repeated."""
    table = dataset.to_dataframe().reset_index()
    columns = ["method", "estimand", *METHOD_VARIABLES, "mean_events", "mean_events_mcse", "analytic_power"]
    return table[[*DIMS, *columns]]
