"""The tables behind the figures of an external validation: calibration curves and survival curves.

:func:`calibration_table` gives the smoothed calibration curve with its bootstrap band and the Kaplan-Meier observed
risk by quantile group of predicted risk (``calibration_curves.csv``); :func:`survival_table` a model's mean predicted
survival and, for a Bayesian fit, the posterior predictive Kaplan-Meier band; :func:`external_km` the external
Kaplan-Meier curve (together ``survival_curves.csv``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tmesurv.models.cox.km import curve_at, fit_km
from tmesurv.models.prediction.posterior import PosteriorModel
from tmesurv.models.prediction.storage import ValidationFit
from tmesurv.validation.bootstrap import with_estimate
from tmesurv.validation.calibration import calibration_curve
from tmesurv.validation.ipcw import weighted_curves
from tmesurv.validation.score import ExternalPredictions

if TYPE_CHECKING:
    from tmesurv.validation.external import ExternalPatients, ValidationSettings

CURVE_POINTS = 61  # times of the mean predicted survival curves
CALIBRATION_GROUPS = 5  # quantile groups of predicted risk drawn as points on the calibration plot


def calibration_table(
    predictions: ExternalPredictions, counts: np.ndarray | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """Smoothed calibration curve and Kaplan-Meier risk by quantile group of predicted risk, per estimable horizon.

    Parameters
    ----------
    predictions
        The external cohort's outcome and a model's predictions.
    counts
        ``(B, n)`` bootstrap counts (:func:`tmesurv.validation.bootstrap.resample_counts`); None: no band.
    alpha
        One minus the level of the band.

    Returns
    -------
    pandas.DataFrame
        ``calibration_curves.csv`` without ``model``: ``kind`` ``curve`` rows carry the pointwise bootstrap
        percentile band of the smoothed curve in ``lower``/``upper`` (each replicate refits the spline Cox model on
        its resample; replicates where it cannot be fitted are left out), ``kind`` ``group`` rows the Kaplan-Meier
        log-log interval.
    """
    p, rows = predictions, []
    weights = with_estimate(p.time.size, counts)
    for horizon, risk in p.risk.items():
        if horizon > p.time.max():
            continue
        curve = calibration_curve(p.time, p.event, risk, horizon, weights=weights)
        smoothed = pd.DataFrame({"predicted": curve.grid, "observed": curve.observed[0]})
        if counts is not None:
            smoothed["lower"], smoothed["upper"] = _band(curve.observed[1:], alpha)
        rows.append(smoothed.assign(kind="curve", horizon=horizon))
        rows.append(_calibration_groups(p.time, p.event, risk, horizon).assign(kind="group", horizon=horizon))
    columns = ["horizon", "kind", "group", "predicted", "observed", "lower", "upper", "n"]
    return pd.concat(rows, ignore_index=True).reindex(columns=columns) if rows else pd.DataFrame(columns=columns)


def _band(replicates: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile interval of ``(B, g)`` replicate curves (NaN rows left out; NaN when all are)."""
    fitted = replicates[~np.isnan(replicates).all(axis=1)]
    if fitted.shape[0] == 0:
        return np.full(replicates.shape[1], np.nan), np.full(replicates.shape[1], np.nan)
    lower, upper = np.quantile(fitted, [alpha / 2, 1 - alpha / 2], axis=0)
    return lower, upper


def _calibration_groups(time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float) -> pd.DataFrame:
    """Mean predicted risk and Kaplan-Meier risk (log-log interval) by quantile group of predicted risk."""
    breaks = np.quantile(risk, np.linspace(0, 1, CALIBRATION_GROUPS + 1))
    labels = np.searchsorted(breaks[1:-1], risk, side="left")
    rows = []
    for group in np.unique(labels):
        members = labels == group
        survival = curve_at(fit_km(time[members], event[members]), horizon)
        rows.append(
            {
                "group": f"Q{group + 1}",
                "predicted": float(risk[members].mean()),
                "observed": 1 - survival["survival"],
                "lower": 1 - survival["upper"],
                "upper": 1 - survival["lower"],
                "n": int(members.sum()),
            }
        )
    return pd.DataFrame(rows)


def survival_table(fit: ValidationFit, external: ExternalPatients, settings: ValidationSettings) -> pd.DataFrame:
    """The mean predicted survival curve and, for a Bayesian fit, the posterior predictive Kaplan-Meier band."""
    times = np.linspace(0.0, float(external.time.max()), CURVE_POINTS)
    mean = 1 - fit.risk(external.terms, external.treated, times).mean(axis=0)
    rows = [pd.DataFrame({"curve": "mean_predicted", "time": times, "survival": mean})]
    if isinstance(fit, PosteriorModel):
        rows.append(_predictive_band(fit, external, times, settings))
    return pd.concat(rows, ignore_index=True).assign(model=fit.kind)


def _predictive_band(
    fit: PosteriorModel, external: ExternalPatients, times: np.ndarray, settings: ValidationSettings
) -> pd.DataFrame:
    """Pointwise median and interval of Kaplan-Meier curves of replicated external cohorts.

    A replicate draws every patient's event time from one posterior draw, and a censoring time from the external
    cohort's censoring distribution (reverse Kaplan-Meier; beyond its last time, censored at the last follow-up), so
    its Kaplan-Meier curve varies as the external one would if the model were right.
    """
    rng = np.random.default_rng(settings.seed)
    event_times = fit.draw_event_times(external.terms, external.treated, settings.predictive_draws, rng)
    censoring = _draw_censoring(external.time, external.event, event_times.shape, rng)
    observed, status = np.minimum(event_times, censoring), (event_times <= censoring).astype(int)
    curves = np.stack([_km_at(t, d, times) for t, d in zip(observed, status, strict=True)])
    lower, median, upper = np.nanquantile(curves, [settings.alpha / 2, 0.5, 1 - settings.alpha / 2], axis=0)
    return pd.DataFrame(
        {"curve": "posterior_predictive", "time": times, "survival": median, "lower": lower, "upper": upper}
    )


def _draw_censoring(
    time: np.ndarray, event: np.ndarray, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Censoring times drawn from the reverse Kaplan-Meier curve of the external cohort."""
    curve = fit_km(time, 1 - event)
    steps, survival = curve["time"].to_numpy(), curve["survival"].to_numpy()
    level = rng.uniform(size=shape)
    index = np.searchsorted(-survival, -level, side="left")  # first time the curve is at or below the level
    return np.where(index < steps.size, steps[np.minimum(index, steps.size - 1)], time.max())


def _km_at(time: np.ndarray, event: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival at ``times`` (1 before the first time, NaN after the last follow-up time)."""
    curves = weighted_curves(time, event, np.ones((1, time.size)))
    survival = np.concatenate([[1.0], curves.survival()[0]])
    position = np.searchsorted(curves.times, times, side="right")
    return np.where(times <= time.max(), survival[position], np.nan)


def external_km(external: ExternalPatients) -> pd.DataFrame:
    """The external cohort's Kaplan-Meier curve (log-log interval)."""
    curve = fit_km(external.time, external.event)[["time", "survival", "lower", "upper"]]
    return curve.assign(model="external", curve="kaplan_meier")
