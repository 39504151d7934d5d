"""Posterior survival of a fitted piecewise-exponential treatment model (term ``arm``), per arm and per draw.

The survival of arm ``a`` is ``S_a(t) = exp(-H0(t) exp(b_arm a))`` with ``H0`` the piecewise-linear cumulative
baseline hazard of the draw (``log_baseline`` is the baseline at design value zero, the control arm). A time-varying
fit has the arm's effect of each baseline interval ``k`` (``coef_time``, see
:func:`~tmesurv.models.pwe.time_varying.arm_log_hazard_ratio`): ``S_a(t) = exp(-sum_k h0_k exp(b_k a) w_k(t))``, with
``w_k(t)`` the time spent in interval ``k`` up to ``t``. A mixture-cure fit adds the arm's cure fraction ``pi_a``:
``S_a(t) = pi_a + (1 - pi_a) exp(-H0(t) exp(b_arm a))`` (:mod:`tmesurv.models.pwe.cure.survival`); its median is never
reached in a draw with ``pi_a >= 1/2``. Every draw gives a curve; the curves are summarised pointwise by the posterior
median and the 2.5% and 97.5% quantiles. Medians and restricted mean survival times (RMST, the area under the curve up
to a horizon) are computed exactly per draw from the piecewise-exponential form, not read off a grid.

Nothing is extrapolated beyond an arm's follow-up (its last follow-up time among the fit's patients) without saying so:
the curves stop there, and :func:`not_reached_rule_text` says how the statistics are reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.designs import ARM
from tmesurv.models.pwe.cure.survival import arm_cure_fractions, mixture_survival, uncured_median_target
from tmesurv.models.pwe.data import interval_layout
from tmesurv.models.pwe.diagnostics import CI_PROB
from tmesurv.models.pwe.time_varying import arm_log_hazard_ratio

CURVE_COLUMNS = ["endpoint", "arm", "subgroup", "model", "time", "survival", "lower", "upper"]
SURVIVAL_COLUMNS = [
    "endpoint",
    "subgroup",
    "model",
    "arm",
    "statistic",
    "time",
    "estimate",
    "lower",
    "upper",
    "reached",
    "prob_beyond_follow_up",
    "follow_up",
]
DIFFERENCE = "difference"  # treated minus control
LOG_2 = float(np.log(2.0))
NEVER = 1e12  # months: the median time of a draw whose survival never falls to 1/2 (a cure fraction of 1/2 or more)


def not_reached_rule_text() -> str:
    """How :func:`survival_statistics` treats follow-up, in words (for the report's methods)."""
    return (
        "A posterior median survival time whose posterior median lies beyond the arm's last follow-up time is not "
        "reached (NR), with the posterior probability that it lies beyond follow-up; a credible limit beyond "
        "follow-up is NR too. Landmark survival and restricted mean survival are given only up to the arm's last "
        "follow-up time, and posterior curves are drawn only up to it"
    )


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


def arm_follow_up(idata: az.InferenceData) -> dict[str, float]:
    """The last follow-up time (months) of each arm among the fit's patients (``constant_data``: time, design)."""
    constant = idata.constant_data
    time, treated = constant["time"].to_numpy(), constant["design"].sel(term=ARM).to_numpy() == 1
    return {TREATED: float(time[treated].max()), CONTROL: float(time[~treated].max())}


def posterior_survival(idata: az.InferenceData, times: np.ndarray) -> pd.DataFrame:
    """Pointwise posterior median survival with its 95% band, per arm, at ``times`` up to the arm's follow-up.

    Each arm's curve stops at its last follow-up time (:func:`arm_follow_up`), which is its last time.

    Returns
    -------
    pandas.DataFrame
        Columns ``arm, time, survival, lower, upper``.
    """
    hazards, cuts = arm_hazards(idata)
    cure = arm_cure_fractions(idata)
    follow_up = arm_follow_up(idata)
    tail = (1 - CI_PROB) / 2
    frames = []
    times = np.asarray(times, dtype=float)
    for arm, hazard in hazards.items():
        arm_times = np.append(times[times < follow_up[arm]], follow_up[arm])
        survival = mixture_survival(cure[arm], cumulative_hazard(hazard, cuts, arm_times))
        lower, median, upper = np.quantile(survival, [tail, 0.5, 1 - tail], axis=0)
        curve = {"arm": arm, "time": arm_times, "survival": median, "lower": lower, "upper": upper}
        frames.append(pd.DataFrame(curve))
    return pd.concat(frames, ignore_index=True)


def survival_statistics(idata: az.InferenceData, landmarks: Sequence[float]) -> pd.DataFrame:
    """Posterior median survival time, survival at each landmark and RMST up to the last landmark, per arm.

    Each statistic is also given as the treated-minus-control difference (``arm = "difference"``); the estimate is
    the posterior median with a 95% equal-tailed credible interval. Nothing beyond an arm's follow-up
    (:func:`arm_follow_up`) is given as an estimate:

    * median: not reached (``reached`` False, empty ``estimate``) when the posterior median of the median survival
      time lies beyond the arm's follow-up, and a credible limit beyond follow-up is empty; ``prob_beyond_follow_up``
      is the posterior probability that the median lies beyond follow-up. The difference has an estimate only when
      both arms' medians are reached, and limits only when both arms' upper limits are within follow-up; its
      ``prob_beyond_follow_up`` is the probability that either arm's median lies beyond follow-up.
    * landmark survival and RMST: not estimated (``reached`` False, empty estimate and limits) when the landmark or
      horizon lies beyond the arm's follow-up (for the difference, beyond either arm's); ``prob_beyond_follow_up``
      is empty.

    Returns
    -------
    pandas.DataFrame
        Columns ``arm, statistic, time, estimate, lower, upper, reached, prob_beyond_follow_up, follow_up``;
        ``statistic`` is ``median``, ``survival`` or ``rmst``, ``time`` the landmark or horizon (NaN for the median)
        and ``follow_up`` the arm's last follow-up time (the shorter of the two for the difference).
    """
    hazards, cuts = arm_hazards(idata)
    cure = arm_cure_fractions(idata)
    follow_up = arm_follow_up(idata)
    follow_up[DIFFERENCE] = min(follow_up[TREATED], follow_up[CONTROL])
    by_arm = {arm: _statistic_draws(hazard, cuts, landmarks, cure[arm]) for arm, hazard in hazards.items()}
    rows = {
        (arm, key): _row(*key, arm, draws, follow_up[arm]) for arm, statistics in by_arm.items()
        for key, draws in statistics.items()
    }  # fmt: skip
    for key, treated in by_arm[TREATED].items():
        arms = (rows[TREATED, key], rows[CONTROL, key])
        rows[DIFFERENCE, key] = _difference_row(*key, treated, by_arm[CONTROL][key], arms, follow_up)
    return pd.DataFrame(list(rows.values()))


def _statistic_draws(
    hazard: np.ndarray, cuts: np.ndarray, landmarks: Sequence[float], cure: np.ndarray
) -> dict[tuple, np.ndarray]:
    """Draws of the median, the survival at each landmark and the RMST up to the last landmark, for one arm.

    ``cure`` is the arm's cure fraction per draw (zeros without a cure fraction).
    """
    draws = {("median", np.nan): median_time(hazard, cuts, uncured_median_target(cure))}
    for landmark in landmarks:
        at = np.array([float(landmark)])
        draws["survival", float(landmark)] = mixture_survival(cure, cumulative_hazard(hazard, cuts, at))[:, 0]
    if landmarks:
        horizon = float(max(landmarks))
        draws["rmst", horizon] = cure * horizon + (1.0 - cure) * restricted_mean(hazard, cuts, horizon)
    return draws


def median_time(hazard: np.ndarray, cuts: np.ndarray, target: float | np.ndarray = LOG_2) -> np.ndarray:
    """Per draw, the time at which ``H(t) = target``: the exact inverse of the piecewise-linear ``H``.

    The default ``log 2`` gives the median of ``exp(-H)``; a per-draw ``target`` (a mixture-cure fit's, from
    :func:`~tmesurv.models.pwe.cure.survival.uncured_median_target`) may be infinite: such a draw's time is
    :data:`NEVER`.
    """
    starts = np.concatenate([[0.0], cuts])
    at_starts = np.concatenate(
        [np.zeros((hazard.shape[0], 1)), np.cumsum(hazard[:, :-1] * np.diff(starts), axis=1)], axis=1
    )
    target = np.broadcast_to(np.asarray(target, dtype=float), (hazard.shape[0],))
    never = np.isinf(target)
    target = np.where(never, 0.0, target)
    interval = (at_starts <= target[:, None]).sum(axis=1) - 1
    rows = np.arange(hazard.shape[0])
    times = starts[interval] + (target - at_starts[rows, interval]) / hazard[rows, interval]
    return np.where(never, NEVER, times)


def restricted_mean(hazard: np.ndarray, cuts: np.ndarray, horizon: float) -> np.ndarray:
    """Per draw, ``integral_0^horizon S(t) dt``, exactly: per interval ``exp(-H_start) (1 - exp(-h w)) / h``."""
    edges = np.unique(np.concatenate([[0.0], cuts[cuts < horizon], [horizon]]))
    starts, widths = edges[:-1], np.diff(edges)
    rate = hazard[:, np.searchsorted(cuts, starts, side="right")]  # a segment starting at a cut is the next interval
    before = np.concatenate([np.zeros((hazard.shape[0], 1)), np.cumsum(rate[:, :-1] * widths[:-1], axis=1)], axis=1)
    return (np.exp(-before) * -np.expm1(-rate * widths) / rate).sum(axis=1)


def _row(statistic: str, time: float, arm: str, draws: np.ndarray, follow_up: float) -> dict:
    """One arm's statistic: posterior median and 95% limits, each empty where it lies beyond follow-up."""
    values = _quantiles(draws)
    if statistic == "median":
        beyond = float((draws > follow_up).mean())
        values = {key: value if value <= follow_up else np.nan for key, value in values.items()}
        reached = not np.isnan(values["estimate"])
    else:
        beyond, reached = np.nan, time <= follow_up
        values = values if reached else dict.fromkeys(values, np.nan)
    facts = {"reached": reached, "prob_beyond_follow_up": beyond, "follow_up": follow_up}
    return {"arm": arm, "statistic": statistic, "time": time} | values | facts


def _difference_row(
    statistic: str,
    time: float,
    treated: np.ndarray,
    control: np.ndarray,
    arms: tuple[dict, dict],
    follow_up: dict[str, float],
) -> dict:
    """Treated minus control, given only where both arms' rows (``arms``) are within follow-up (see the caller)."""
    values = _quantiles(treated - control)
    reached = bool(arms[0]["reached"] and arms[1]["reached"])
    beyond = np.nan
    if statistic == "median":
        beyond = float(((treated > follow_up[TREATED]) | (control > follow_up[CONTROL])).mean())
        limits = not (np.isnan(arms[0]["upper"]) or np.isnan(arms[1]["upper"]))
    else:
        limits = reached
    values = {
        "estimate": values["estimate"] if reached else np.nan,
        "lower": values["lower"] if limits else np.nan,
        "upper": values["upper"] if limits else np.nan,
    }
    facts = {"reached": reached, "prob_beyond_follow_up": beyond, "follow_up": follow_up[DIFFERENCE]}
    return {"arm": DIFFERENCE, "statistic": statistic, "time": time} | values | facts


def _quantiles(draws: np.ndarray) -> dict[str, float]:
    tail = (1 - CI_PROB) / 2
    lower, estimate, upper = np.quantile(draws, [tail, 0.5, 1 - tail])
    return {"estimate": float(estimate), "lower": float(lower), "upper": float(upper)}
