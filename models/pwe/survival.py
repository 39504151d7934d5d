"""Posterior survival of a fitted piecewise-exponential treatment model (term ``arm``), per arm and per draw.

The survival of arm ``a`` is ``S_a(t) = exp(-H0(t) exp(b_arm a))`` with ``H0`` the piecewise-linear cumulative
baseline hazard of the draw (``log_baseline`` is the baseline at design value zero, the control arm). Every draw gives
a curve; the curves are summarised pointwise by the posterior median and the 2.5% and 97.5% quantiles. Medians and
restricted mean survival times (RMST, the area under the curve up to a horizon) are computed exactly per draw from
the piecewise-exponential form, not read off a grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd

from tmesurv.cohort import CONTROL, TREATED
from tmesurv.models.pwe.data import interval_layout
from tmesurv.models.pwe.diagnostics import CI_PROB
from tmesurv.models.pwe.time_varying import arm_log_hazard_ratio

CURVE_COLUMNS = ["endpoint", "arm", "subgroup", "time", "survival", "lower", "upper"]
SURVIVAL_COLUMNS = ["endpoint", "subgroup", "arm", "statistic", "time", "estimate", "lower", "upper"]
DIFFERENCE = "difference"  # treated minus control


def arm_hazards(idata: az.InferenceData) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per arm the hazard of every interval and draw, shape ``(draws, K)``, and the interior cuts."""
    log_baseline = idata.posterior["log_baseline"].to_numpy()
    log_baseline = log_baseline.reshape(-1, log_baseline.shape[-1])
    arm_effect = arm_log_hazard_ratio(idata)  # (draws, K): constant over intervals unless the fit is time-varying
    cuts = idata.constant_data["cuts"].to_numpy()
    return {CONTROL: np.exp(log_baseline), TREATED: np.exp(log_baseline + arm_effect)}, cuts


def cumulative_hazard(hazard: np.ndarray, cuts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """``H(t)`` of piecewise-constant hazards ``(draws, K)`` at ``times``: shape ``(draws, len(times))``."""
    index, offset, width = interval_layout(times, cuts)
    before = np.concatenate([np.zeros((hazard.shape[0], 1)), np.cumsum(hazard[:, :-1] * width, axis=1)], axis=1)
    return before[:, index] + hazard[:, index] * offset


def posterior_survival(idata: az.InferenceData, times: np.ndarray) -> pd.DataFrame:
    """Pointwise posterior median survival with its 95% band, per arm, at ``times`` (months).

    Returns
    -------
    pandas.DataFrame
        Columns ``arm, time, survival, lower, upper``.
    """
    hazards, cuts = arm_hazards(idata)
    tail = (1 - CI_PROB) / 2
    frames = []
    for arm, hazard in hazards.items():
        survival = np.exp(-cumulative_hazard(hazard, cuts, times))
        lower, median, upper = np.quantile(survival, [tail, 0.5, 1 - tail], axis=0)
        frames.append(pd.DataFrame({"arm": arm, "time": times, "survival": median, "lower": lower, "upper": upper}))
    return pd.concat(frames, ignore_index=True)


def survival_statistics(idata: az.InferenceData, landmarks: Sequence[float]) -> pd.DataFrame:
    """Posterior median survival time, survival at each landmark and RMST up to the last landmark, per arm.

    Each statistic is also given as the treated-minus-control difference (``arm = "difference"``); the estimate is
    the posterior median with a 95% equal-tailed credible interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``arm, statistic, time, estimate, lower, upper``; ``statistic`` is ``median``, ``survival`` or
        ``rmst`` and ``time`` the landmark or horizon (NaN for the median).
    """
    hazards, cuts = arm_hazards(idata)
    by_arm = {arm: _statistic_draws(hazard, cuts, landmarks) for arm, hazard in hazards.items()}
    by_arm[DIFFERENCE] = {key: by_arm[TREATED][key] - by_arm[CONTROL][key] for key in by_arm[TREATED]}
    rows = [_row(statistic, time, arm, draws) for arm in by_arm for (statistic, time), draws in by_arm[arm].items()]
    return pd.DataFrame(rows)


def _statistic_draws(hazard: np.ndarray, cuts: np.ndarray, landmarks: Sequence[float]) -> dict[tuple, np.ndarray]:
    """Draws of the median, the survival at each landmark and the RMST up to the last landmark, for one arm."""
    draws = {("median", np.nan): median_time(hazard, cuts)}
    for landmark in landmarks:
        at = np.array([float(landmark)])
        draws["survival", float(landmark)] = np.exp(-cumulative_hazard(hazard, cuts, at))[:, 0]
    if landmarks:
        horizon = float(max(landmarks))
        draws["rmst", horizon] = restricted_mean(hazard, cuts, horizon)
    return draws


def median_time(hazard: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Per draw, the time at which ``S(t) = 0.5``: the exact inverse of the piecewise-linear ``H`` at ``log 2``."""
    starts = np.concatenate([[0.0], cuts])
    at_starts = np.concatenate(
        [np.zeros((hazard.shape[0], 1)), np.cumsum(hazard[:, :-1] * np.diff(starts), axis=1)], axis=1
    )
    target = np.log(2.0)
    interval = (at_starts <= target).sum(axis=1) - 1
    rows = np.arange(hazard.shape[0])
    return starts[interval] + (target - at_starts[rows, interval]) / hazard[rows, interval]


def restricted_mean(hazard: np.ndarray, cuts: np.ndarray, horizon: float) -> np.ndarray:
    """Per draw, ``integral_0^horizon S(t) dt``, exactly: per interval ``exp(-H_start) (1 - exp(-h w)) / h``."""
    edges = np.unique(np.concatenate([[0.0], cuts[cuts < horizon], [horizon]]))
    starts, widths = edges[:-1], np.diff(edges)
    rate = hazard[:, np.searchsorted(cuts, starts, side="right")]  # a segment starting at a cut is the next interval
    before = np.concatenate([np.zeros((hazard.shape[0], 1)), np.cumsum(rate[:, :-1] * widths[:-1], axis=1)], axis=1)
    return (np.exp(-before) * -np.expm1(-rate * widths) / rate).sum(axis=1)


def _row(statistic: str, time: float, arm: str, draws: np.ndarray) -> dict:
    tail = (1 - CI_PROB) / 2
    lower, estimate, upper = np.quantile(draws, [tail, 0.5, 1 - tail])
    return {"arm": arm, "statistic": statistic, "time": time, "estimate": estimate, "lower": lower, "upper": upper}
