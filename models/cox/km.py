"""Kaplan-Meier estimates per arm: medians and landmark survival with Greenwood confidence intervals.

The estimate and its event table come from lifelines' ``KaplanMeierFitter``. The pointwise intervals use Greenwood's
variance of log S on one of R's two scales: ``log-log`` (the default here; R's ``conf.type = "log-log"``, lifelines'
"exponential Greenwood") or ``log`` (R's ``survfit`` default; the upper limit is capped at 1). Medians and their
intervals follow R's ``quantile.survfit``: the first time the curve (or a limit curve) is at or below 0.5, and the
midpoint to the next time when it sits exactly at 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from scipy import stats

from tmesurv.arms import CONTROL, TREATED
from tmesurv.cohort import Cohort
from tmesurv.models.cox.settings import CiMethod
from tmesurv.models.cox.subgroups import Grouping

FLAT_TOLERANCE = np.sqrt(np.finfo(float).eps)
ALL_PATIENTS = "all"
KM_COLUMNS = [
    "endpoint",
    "arm",
    "subgroup",
    "statistic",
    "time",
    "estimate",
    "lower",
    "upper",
    "n",
    "events",
    "ci_method",
]


def fit_km(time: np.ndarray, event: np.ndarray, ci_method: CiMethod = "log-log", alpha: float = 0.05) -> pd.DataFrame:
    """Fit a Kaplan-Meier curve and return it as a step table.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event).
    ci_method
        Scale of the pointwise interval: ``"log-log"`` or ``"log"`` (see the module docstring).
    alpha
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``time, survival, lower, upper, at_risk``, one row per distinct time, starting at time 0;
        the limits are NaN where the survival is 0.
    """
    fitter = KaplanMeierFitter(alpha=alpha).fit(time, event)
    table = fitter.event_table.reindex(fitter.survival_function_.index)
    at_risk, died = table["at_risk"].to_numpy(dtype=float), table["observed"].to_numpy(dtype=float)
    survival = fitter.survival_function_.iloc[:, 0].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_se = np.sqrt(np.cumsum(died / (at_risk * (at_risk - died))))  # Greenwood sd of log S
        lower, upper = _interval(survival, log_se, stats.norm.ppf(1 - alpha / 2), ci_method)
    return pd.DataFrame(
        {
            "time": fitter.survival_function_.index.to_numpy(dtype=float),
            "survival": survival,
            "lower": lower,
            "upper": upper,
            "at_risk": at_risk,
        }
    )


def _interval(survival: np.ndarray, log_se: np.ndarray, z: float, ci_method: CiMethod) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise limits from the sd of log S, on the log or log(-log) scale."""
    positive = survival > 0
    if ci_method == "log":
        lower, upper = survival * np.exp(-z * log_se), np.minimum(survival * np.exp(z * log_se), 1.0)
    else:
        spread = np.exp(z * log_se / np.abs(np.log(survival)))
        lower, upper = survival**spread, survival ** (1 / spread)
        lower, upper = np.where(survival == 1, 1.0, lower), np.where(survival == 1, 1.0, upper)
    return np.where(positive, lower, np.nan), np.where(positive, upper, np.nan)


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
        the midpoint between that time and the time the curve next drops (the last time if it never does);
        NaN if the curve never gets there.
    """
    reached = np.flatnonzero(survival <= probability + FLAT_TOLERANCE)
    if reached.size == 0:
        return float("nan")
    first = reached[0]
    if abs(survival[first] - probability) < FLAT_TOLERANCE:
        drops = np.flatnonzero(survival[first:] != survival[first])
        flat_until = time[first + drops[0]] if drops.size else time[-1]
        return float((time[first] + flat_until) / 2)
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


def km_by_arm(
    cohort: Cohort,
    endpoint: str,
    landmarks: Sequence[float],
    ci_method: CiMethod = "log-log",
    groupings: Sequence[Grouping] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier per arm, and per arm x subgroup, for one endpoint.

    Parameters
    ----------
    cohort
        The validated cohort.
    endpoint
        Endpoint name.
    landmarks
        Times (months) at which to report survival.
    ci_method
        Scale of the confidence intervals (``"log-log"`` or ``"log"``), written into the ``ci_method`` column.
    groupings
        Subgroups to estimate within each arm (from :func:`tmesurv.models.cox.subgroups.analysis_groupings`).

    Returns
    -------
    tuple[pandas.DataFrame, pandas.DataFrame]
        The ``km.csv`` table (columns ``KM_COLUMNS``; ``subgroup`` is ``all`` or a level such as ``sii=high``) and
        the step curves (``endpoint, arm, subgroup, time, survival, lower, upper, at_risk``).
    """
    parts = [(ALL_PATIENTS, cohort)]
    for grouping in groupings:
        parts += [
            (grouping.subgroup(level), grouping.cohort.subset(grouping.labels == level)) for level in grouping.levels
        ]
    summaries, curves = [], []
    for subgroup, patients in parts:
        for arm in (TREATED, CONTROL):
            summary, curve = _km_rows(patients.arm_subset(arm), endpoint, landmarks, ci_method)
            context = {"endpoint": endpoint, "arm": arm, "subgroup": subgroup}
            summaries += [context | row for row in summary]
            if not curve.empty:  # an empty arm x subgroup (a single-arm cohort, a cut-point beyond the data)
                curves.append(curve.assign(**context))
    curve_columns = ["endpoint", "arm", "subgroup", "time", "survival", "lower", "upper", "at_risk"]
    return pd.DataFrame(summaries, columns=KM_COLUMNS), pd.concat(curves)[curve_columns]


def _km_rows(
    patients: Cohort, endpoint: str, landmarks: Sequence[float], ci_method: CiMethod
) -> tuple[list[dict], pd.DataFrame]:
    """Summary rows and step curve of one group of patients (an empty group gives no rows and no curve)."""
    if patients.n == 0:
        return [], pd.DataFrame(columns=["time", "survival", "lower", "upper", "at_risk"])
    event = patients.event(endpoint)
    curve = fit_km(patients.time(endpoint), event, ci_method)
    counts = {"n": patients.n, "events": int(event.sum()), "ci_method": ci_method}
    return [row | counts for row in km_summary(curve, landmarks)], curve


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
        if patients.n == 0:  # a single-arm cohort
            continue
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


LOGRANK_COLUMNS = ["endpoint", "comparison", "subgroup", "n", "events", "chisq", "df", "p"]


def logrank(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> tuple[float, int, float]:
    """Log-rank test of two or more groups (R's ``survdiff`` with ``rho = 0``).

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event).
    group
        Group label per patient.

    Returns
    -------
    tuple[float, int, float]
        The chi-square statistic, its degrees of freedom (groups - 1) and its P value; NaN with one group only.
    """
    groups = pd.unique(group)
    if len(groups) < 2:
        return np.nan, 0, np.nan
    result = multivariate_logrank_test(time, group, event)
    return float(result.test_statistic), len(groups) - 1, float(result.p_value)


def logrank_table(cohort: Cohort, endpoint: str, groupings: Sequence[Grouping] = ()) -> pd.DataFrame:
    """Log-rank tests: treated vs control overall and within each subgroup, and each grouping's levels per arm.

    Parameters
    ----------
    cohort
        The validated cohort.
    endpoint
        Endpoint name.
    groupings
        From :func:`tmesurv.models.cox.subgroups.analysis_groupings`.

    Returns
    -------
    pandas.DataFrame
        Columns ``LOGRANK_COLUMNS``. ``comparison`` is ``arm`` (``subgroup`` then names the patients: ``all`` or a
        level such as ``sii=high``) or a grouping's name (its levels compared within the arm named by ``subgroup``).
    """
    rows = [_logrank_row(cohort, endpoint, "arm", ALL_PATIENTS, cohort.patients["arm"].to_numpy())]
    for grouping in groupings:
        members = grouping.cohort
        for level in grouping.levels:
            in_level = members.subset(grouping.labels == level)
            rows.append(_logrank_row(in_level, endpoint, "arm", grouping.subgroup(level), in_level.patients["arm"]))
        for arm in (TREATED, CONTROL):
            in_arm = members.patients["arm"].to_numpy() == arm
            rows.append(_logrank_row(members.subset(in_arm), endpoint, grouping.name, arm, grouping.labels[in_arm]))
    return pd.DataFrame(rows, columns=LOGRANK_COLUMNS)


def _logrank_row(cohort: Cohort, endpoint: str, comparison: str, subgroup: str, group: np.ndarray) -> dict:
    time, event = cohort.time(endpoint), cohort.event(endpoint)
    chisq, df, p = logrank(time, event, np.asarray(group))
    counts = {"n": cohort.n, "events": int(event.sum())}
    return {
        "endpoint": endpoint,
        "comparison": comparison,
        "subgroup": subgroup,
        **counts,
        "chisq": chisq,
        "df": df,
        "p": p,
    }
