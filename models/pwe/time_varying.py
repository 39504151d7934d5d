"""Summaries of a piecewise-exponential fit with a time-varying treatment effect (``bayes.time_varying``).

The fit (see :func:`~tmesurv.models.pwe.fit.fit_pwe`) holds ``coef_time`` (chain, draw, interval): the arm's log
hazard ratio in every baseline interval, and ``time_varying_sd``, the sd of its steps from one interval to the next
(near 0: proportional hazards).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from tmesurv.models.designs import ARM
from tmesurv.models.pwe.diagnostics import (
    CI_PROB,
    CONVERGENCE_COLUMNS,
    ESTIMATE_COLUMNS,
    count_divergences,
    diagnostics,
    log_hr_summary,
)

TIME_VARYING_COLUMNS = ["interval", "start", "end", "events", *ESTIMATE_COLUMNS, *CONVERGENCE_COLUMNS]


def treatment_effect_text(time_varying: bool, time_varying_sd: float, intervals: int) -> str:
    """The treatment effect a PWE model fits, in words, as fitted (for the report's methods).

    Parameters
    ----------
    time_varying
        ``bayes.time_varying``.
    time_varying_sd
        ``bayes.priors.time_varying_sd``, the scale of the half-normal prior on the steps' sd.
    intervals
        ``bayes.intervals``, the baseline intervals asked for.

    Returns
    -------
    str
        One sentence: a single treatment hazard ratio (proportional hazards), or a treatment hazard ratio per baseline
        interval shrunk toward proportional hazards, and how its reported average is weighted.
    """
    if not time_varying:
        return (
            "The treatment effect is one hazard ratio for the whole follow-up (proportional hazards within each "
            "model); the check against Kaplan-Meier (bayes_fit_check) shows where that does not describe the data."
        )
    return (
        f"The treatment effect varies over time: the models fit a treatment log hazard ratio in each of the (up to "
        f"{intervals}) baseline intervals, the first with the usual prior and each step to the next interval normal "
        f"with a standard deviation that has a half-normal prior of scale {time_varying_sd:g} "
        "(bayes.priors.time_varying_sd), which shrinks the model toward proportional hazards; the per-interval hazard "
        "ratios are in bayes_time_varying.csv, and the treatment hazard ratio of bayes.csv is exp of the "
        "event-weighted average of the per-interval log hazard ratios (weights: all events in each interval), a "
        "summary comparable to a Cox estimate, not a hazard ratio that holds at every time."
    )


def summarize_time_varying(idata: az.InferenceData) -> pd.DataFrame:
    """Posterior summary of the arm's log hazard ratio per baseline interval.

    Parameters
    ----------
    idata
        A fit with a time-varying arm effect (posterior ``coef_time``; ``constant_data`` with ``time``, ``event`` and
        ``cuts``).

    Returns
    -------
    pandas.DataFrame
        One row per interval: ``interval``, ``start`` and ``end`` (months; the last ends at infinity), ``events`` in
        the interval, and the columns of :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe` for ``coef_time``.
        ``attrs`` holds ``divergences`` and ``time_varying_sd``: the posterior mean and 95% interval of the step sd
        (``None`` with one interval).
    """
    if "coef_time" not in idata.posterior:
        raise ValueError("the fit has no time-varying arm effect (coef_time): fit it with bayes.time_varying: true")
    coef_time = idata.posterior["coef_time"]
    cuts = idata.constant_data["cuts"].to_numpy()
    starts, ends = np.concatenate([[0.0], cuts]), np.concatenate([cuts, [np.inf]])
    summary = pd.DataFrame(
        {"interval": np.arange(starts.size), "start": starts, "end": ends, "events": _events_per_interval(idata)}
        | log_hr_summary(coef_time, "interval")
        | diagnostics(idata, "coef_time"),
        columns=TIME_VARYING_COLUMNS,
    )
    summary.attrs["divergences"] = count_divergences(idata)
    summary.attrs["time_varying_sd"] = _step_sd_summary(idata)
    return summary


def arm_log_hazard_ratio(idata: az.InferenceData) -> np.ndarray:
    """The arm's log hazard ratio per draw and interval, shape ``(draws, K)``: ``coef_time``, or ``coef`` repeated.

    A fit without a time-varying effect has one arm effect for every interval; this lets survival curves and other
    derived quantities treat both kinds of fit alike.
    """
    posterior = idata.posterior
    if "coef_time" in posterior:
        values = posterior["coef_time"].transpose("chain", "draw", "interval").to_numpy()
        return values.reshape(-1, values.shape[-1])
    intervals = posterior["log_baseline"].sizes["interval"]
    arm = posterior["coef"].sel(term=ARM).to_numpy().reshape(-1, 1)
    return np.repeat(arm, intervals, axis=1)


def _events_per_interval(idata: az.InferenceData) -> np.ndarray:
    constant = idata.constant_data
    cuts = constant["cuts"].to_numpy()
    index = np.searchsorted(cuts, constant["time"].to_numpy(), side="left")
    return np.bincount(index, weights=constant["event"].to_numpy(), minlength=cuts.size + 1).astype(int)


def _step_sd_summary(idata: az.InferenceData) -> dict[str, float] | None:
    if "time_varying_sd" not in idata.posterior:
        return None
    draws = idata.posterior["time_varying_sd"].to_numpy().ravel()
    tail = (1 - CI_PROB) / 2
    lower, upper = np.quantile(draws, [tail, 1 - tail])
    return {"mean": float(draws.mean()), "lower": float(lower), "upper": float(upper)}
