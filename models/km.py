"""Kaplan-Meier estimates per arm: medians and landmark survival with Greenwood log-log confidence intervals.

The estimator is lifelines' ``KaplanMeierFitter`` (Greenwood variance, log(-log) "exponential Greenwood" intervals,
the same as R's ``survfit(conf.type = "log-log")``). Medians follow R's ``quantile.survfit``: the first time the curve
is at or below 0.5, and the midpoint to the next event time when the curve sits exactly at 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from tmesurv.cohort import CONTROL, TREATED, Cohort

CI_METHOD = "log-log"
FLAT_TOLERANCE = np.sqrt(np.finfo(float).eps)
KM_COLUMNS = [
    "endpoint",
    "arm",
    "statistic",
    "time",
    "estimate",
    "lower",
    "upper",
    "n",
    "events",
    "ci_method",
]


def fit_km(time: np.ndarray, event: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Fit a Kaplan-Meier curve and return it as a step table.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event).
    alpha
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``time, survival, lower, upper, at_risk``, one row per distinct time, starting at time 0.
    """
    fitter = KaplanMeierFitter(alpha=alpha).fit(time, event)
    interval = fitter.confidence_interval_survival_function_
    table = fitter.event_table
    curve = pd.DataFrame(
        {
            "time": fitter.survival_function_.index.to_numpy(dtype=float),
            "survival": fitter.survival_function_.iloc[:, 0].to_numpy(),
            "lower": interval.iloc[:, 0].to_numpy(),
            "upper": interval.iloc[:, 1].to_numpy(),
            "at_risk": table["at_risk"].reindex(fitter.survival_function_.index).to_numpy(),
        }
    )
    curve.loc[0, ["lower", "upper"]] = 1.0
    return curve


def curve_quantile(time: np.ndarray, survival: np.ndarray, probability: float = 0.5) -> float:
    """Time at which a step curve first reaches ``probability``, as R's ``quantile.survfit`` computes it.

    Parameters
    ----------
    time, survival
        The step function (right-continuous, non-increasing), starting at time 0.
    probability
        The survival level (0.5 for the median).

    Returns
    -------
    float
        The first time with survival <= ``probability``; where the curve is flat at exactly ``probability``,
        the midpoint between that time and the next; NaN if the curve never gets there.
    """
    reached = np.flatnonzero(survival <= probability + FLAT_TOLERANCE)
    if reached.size == 0:
        return float("nan")
    first = reached[0]
    if abs(survival[first] - probability) < FLAT_TOLERANCE:
        if first + 1 < len(time):
            return float((time[first] + time[first + 1]) / 2)
        return float("nan")
    return float(time[first])


def curve_at(curve: pd.DataFrame, landmark: float) -> pd.Series:
    """Survival and its interval at ``landmark``.

    Beyond the last follow-up time the survival is unknown (NaN), unless the curve has already reached 0.
    """
    if landmark > curve["time"].iloc[-1]:
        known_zero = curve["survival"].iloc[-1] == 0
        return pd.Series({"survival": 0.0 if known_zero else np.nan, "lower": np.nan, "upper": np.nan})
    row = np.searchsorted(curve["time"].to_numpy(), landmark, side="right") - 1
    return curve.iloc[row][["survival", "lower", "upper"]]


def km_summary(curve: pd.DataFrame, landmarks: Sequence[float]) -> list[dict]:
    """Median with its interval and survival at each landmark, as rows of ``km.csv`` (without endpoint and arm)."""
    times = curve["time"].to_numpy()
    rows = [
        {
            "statistic": "median",
            "time": np.nan,
            "estimate": curve_quantile(times, curve["survival"].to_numpy()),
            "lower": curve_quantile(times, curve["lower"].to_numpy()),
            "upper": curve_quantile(times, curve["upper"].to_numpy()),
        }
    ]
    for landmark in landmarks:
        value = curve_at(curve, landmark)
        rows.append(
            {
                "statistic": "survival",
                "time": landmark,
                "estimate": value["survival"],
                "lower": value["lower"],
                "upper": value["upper"],
            }
        )
    return rows


def km_by_arm(cohort: Cohort, endpoint: str, landmarks: Sequence[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier per arm for one endpoint.

    Parameters
    ----------
    cohort
        The validated cohort.
    endpoint
        Endpoint name.
    landmarks
        Times (months) at which to report survival.

    Returns
    -------
    tuple[pandas.DataFrame, pandas.DataFrame]
        The ``km.csv`` table (columns ``KM_COLUMNS``) and the step curves (``endpoint, arm, time, survival,
        lower, upper, at_risk``).
    """
    summaries, curves = [], []
    for arm in (TREATED, CONTROL):
        patients = cohort.arm_subset(arm)
        event = patients.event(endpoint)
        curve = fit_km(patients.time(endpoint), event)
        context = {"endpoint": endpoint, "arm": arm}
        for row in km_summary(curve, landmarks):
            summaries.append({**context, **row, "n": patients.n, "events": int(event.sum()), "ci_method": CI_METHOD})
        curves.append(curve.assign(**context))
    curve_columns = ["endpoint", "arm", "time", "survival", "lower", "upper", "at_risk"]
    return pd.DataFrame(summaries, columns=KM_COLUMNS), pd.concat(curves)[curve_columns]


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan-Meier method (censoring treated as the event)."""
    curve = fit_km(time, 1 - event)
    return curve_quantile(curve["time"].to_numpy(), curve["survival"].to_numpy())


def cohort_table(cohort: Cohort, endpoint: str) -> pd.DataFrame:
    """Patients, events and median follow-up (reverse Kaplan-Meier, months) per arm.

    Parameters
    ----------
    cohort
        The validated cohort.
    endpoint
        Endpoint whose events and follow-up are counted.

    Returns
    -------
    pandas.DataFrame
        Columns ``arm, patients, events, median_follow_up``; one row per arm.
    """
    rows = []
    for arm in (TREATED, CONTROL):
        patients = cohort.arm_subset(arm)
        time, event = patients.time(endpoint), patients.event(endpoint)
        rows.append(
            {
                "arm": arm,
                "patients": patients.n,
                "events": int(event.sum()),
                "median_follow_up": median_follow_up(time, event),
            }
        )
    return pd.DataFrame(rows)
