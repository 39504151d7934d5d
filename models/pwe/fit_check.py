"""Posterior survival against Kaplan-Meier: does a fitted PWE model describe the data it summarises.

Per arm of a fit, the arm's posterior mean survival ``S(t)`` (averaged over the arm's patients, so an interaction
model's arm curve is the population average over its biomarker values) is set against the arm's Kaplan-Meier curve
``KM(t)`` over the arm's follow-up ``[0, tau]`` (``tau`` its last follow-up time):

* ``max_abs_difference``: ``sup |S(t) - KM(t)|`` over ``[0, tau]``, exactly: ``KM`` is a step function and ``S``
  continuous and decreasing, so the supremum over a step is at one of its ends (``largest_at``, the time).
* ``mean_abs_difference``: ``(1 / tau) integral_0^tau |S(t) - KM(t)| dt``, by the trapezoidal rule on
  :data:`GRID_POINTS` equally spaced times and every jump of ``KM`` (a piece where ``S - KM`` changes sign is split
  where its chord crosses zero).
* ``share_in_band``: the share of the arm's distinct event times at which ``KM`` lies inside the pointwise 95%
  posterior band of the arm's survival.
* ``misfit``: the rule of :func:`is_misfit` (:func:`misfit_rule_text` in words): KM lies inside the band at fewer
  than :data:`MISFIT_SHARE_IN_BAND` of the event times, or ``sqrt(n) x mean_abs_difference`` (``n`` the arm's
  patients: the mean distance on the scale of Kaplan-Meier's sampling error) exceeds :data:`MISFIT_SCALED_MEAN`.

Calibration (``tests/reference/fit_check_calibration.py`` -> ``fit_check_calibration.csv``, held by
``tests/models/pwe/test_fit_check_calibration.py``; default priors, nutpie, 4 chains x 500 draws): correct models
(proportional hazards; piecewise-exponential baselines, a ZUMA-7-like one dropping tenfold over 12 months and a smooth
one; n = 60, 120 and 359) against the PH model fitted to the ZUMA-7-like scenario (a cured fraction per arm; n = 359,
and a random half as a subgroup). With the default 8 intervals (16 replicates per cohort) the rule flagged none of
the 96 correct fits, and the PH fit of the ZUMA-7-like trial in 13 of 16 trials (of the halves: 2 of 16; a PH misfit
in a subgroup of 180 is mostly not detectable this way). The distance alone cannot tell them apart: with 8 quantile
intervals the correct stepped baseline sits up to 0.099 from KM at n = 359 (time-averaged 0.028), because the
intervals are coarse where the hazard drops fast, the ZUMA-7 PH fit up to 0.103 (0.035). The band can: the PH fit's
treated band misses the plateau (KM inside it at 62% of the event times on average, at 50% at worst), while for the
correct fits it is 92-94% on average and never below 68%. ``sqrt(n) x mean_abs_difference`` reached 0.58 for a correct
fit and 0.59 for the ZUMA-7 PH fit: it guards against gross misfits only. With 16 intervals (28 replicates) the
correct fits sit closer to KM (stepped baseline: up to 0.082, time-averaged 0.020), but the PH model absorbs more of
the plateau and the rule flags it in only 9 of 28 trials (correct fits: 1 of 168 flagged): 8 intervals stay the
default.

The posterior is read at up to :data:`CHECK_DRAWS` draws, evenly spaced over the chains. An arm whose patients have
more than :data:`EXACT_ROWS` distinct design rows (an interaction model of a continuous biomarker) is averaged over
groups of patients with neighbouring linear predictors, each represented by its mean row, with as many groups as keep
the average within :data:`AVERAGE_TOLERANCE` of the exact one at every time and draw (:func:`patient_groups`): at
20,000 patients the exact average would cost hours.
"""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pandas as pd

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.cox.km import fit_km
from tmesurv.models.designs import ARM
from tmesurv.models.pwe.cure.survival import mixture_survival
from tmesurv.models.pwe.diagnostics import CI_PROB
from tmesurv.models.pwe.survival import cumulative_hazard
from tmesurv.models.pwe.time_varying import arm_log_hazard_ratio

FIT_CHECK_COLUMNS = [
    "arm",
    "n",
    "events",
    "follow_up",
    "max_abs_difference",
    "largest_at",
    "mean_abs_difference",
    "share_in_band",
    "misfit",
]
GRID_POINTS = 400
CHECK_DRAWS = 1000
# The misfit rule (see is_misfit and the module docstring for its calibration).
MISFIT_SHARE_IN_BAND = 0.65
MISFIT_SCALED_MEAN = 0.7
# What the rule detected in its calibration (fit_check_calibration.csv, 8 intervals): the PH fit of the ZUMA-7-like
# trial flagged in 13 of 16 trials (n = 359), in 2 of 16 random halves (a subgroup of about 180).
CALIBRATED_DETECTION = {"trial": (13, 16), "half": (2, 16)}
EXACT_ROWS = 16  # distinct design rows averaged exactly; more are grouped (patient_groups)
AVERAGE_TOLERANCE = 1e-4  # bound on |grouped - exact| patient-average survival
_PEAK = (3 + math.sqrt(5)) / 2  # where |y (y - 1)| exp(-y) is largest over y >= 0
SECOND_DERIVATIVE_BOUND = _PEAK * (_PEAK - 1) * math.exp(-_PEAK)  # 0.3089...: |d2/deta2 exp(-H exp(eta))|


def misfit_rule_text() -> str:
    """The rule of :func:`is_misfit` in words, from its constants (for the report's methods)."""
    return (
        f"an arm's fit is flagged as a misfit when the Kaplan-Meier curve lies inside the 95% posterior band at fewer "
        f"than {MISFIT_SHARE_IN_BAND:.0%} of the arm's event times, or the time-averaged |posterior mean survival - "
        f"Kaplan-Meier| exceeds {MISFIT_SCALED_MEAN:g}/sqrt(n) (n: the arm's patients); calibrated by simulation so "
        "that correct models are not flagged (tests/reference/fit_check_calibration.py)"
    )


def misfit_power_text() -> str:
    """What an unflagged fit means, from the calibration's detection rates (for the report's model check)."""
    trial, half = CALIBRATED_DETECTION["trial"], CALIBRATED_DETECTION["half"]
    return (
        "The check has little power in small groups: in its calibration it flagged the PH fit of a ZUMA-7-like trial "
        f"(cure plateau) in {trial[0]} of {trial[1]} trials of 359 patients but in {half[0]} of {half[1]} random "
        "halves, so an unflagged subgroup is no evidence that the model fits there (see the PH tests and PSIS-LOO)"
    )


def is_misfit(share_in_band: np.ndarray, mean_abs_difference: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The misfit rule: ``share_in_band < MISFIT_SHARE_IN_BAND`` or ``sqrt(n) mean_abs > MISFIT_SCALED_MEAN``."""
    scaled = np.sqrt(np.asarray(n, dtype=float)) * np.asarray(mean_abs_difference)
    return (np.asarray(share_in_band) < MISFIT_SHARE_IN_BAND) | (scaled > MISFIT_SCALED_MEAN)


def fit_check(idata: az.InferenceData) -> pd.DataFrame:
    """Posterior mean survival against Kaplan-Meier, per arm of a fit (see the module docstring).

    Parameters
    ----------
    idata
        A fit of :func:`~tmesurv.models.pwe.fit.fit_pwe` whose design has the column ``arm`` (treatment, subgroup
        and interaction models); ``constant_data`` holds its patients.

    Returns
    -------
    pandas.DataFrame
        One row per arm (treated, control) with columns ``FIT_CHECK_COLUMNS``; an arm without events has NaN
        statistics and ``misfit`` False.
    """
    constant = idata.constant_data
    time, event = constant["time"].to_numpy(), constant["event"].to_numpy()
    treated = constant["design"].sel(term=ARM).to_numpy() == 1
    rows = []
    for arm, members in ((TREATED, treated), (CONTROL, ~treated)):
        rows.append({"arm": arm} | _arm_check(idata, members, time[members], event[members]))
    return pd.DataFrame(rows, columns=FIT_CHECK_COLUMNS)


def _arm_check(idata: az.InferenceData, members: np.ndarray, time: np.ndarray, event: np.ndarray) -> dict:
    counts = {"n": int(members.sum()), "events": int(event.sum()), "follow_up": float(time.max())}
    if counts["events"] == 0:
        return counts | {"misfit": False}
    km = fit_km(time, event)
    steps, levels = km["time"].to_numpy(), km["survival"].to_numpy()
    tau = counts["follow_up"]
    jumps = np.unique(time[event == 1])
    times = np.unique(np.concatenate([np.linspace(0.0, tau, GRID_POINTS), jumps]))
    draws = arm_survival_draws(idata, members, times)
    mean = draws.mean(axis=0)
    step_level = levels[np.searchsorted(steps, times, side="right") - 1]  # KM on [times_i, times_i+1)
    signed_start, signed_end = mean[:-1] - step_level[:-1], mean[1:] - step_level[:-1]
    at_start, at_end = np.abs(signed_start), np.abs(signed_end)
    largest = int(np.argmax(np.maximum(at_start, at_end)))
    largest_at = times[largest] if at_start[largest] >= at_end[largest] else times[largest + 1]
    tail = (1 - CI_PROB) / 2
    at_jumps = np.searchsorted(times, jumps)
    lower, upper = np.quantile(draws[:, at_jumps], [tail, 1 - tail], axis=0)
    inside = (step_level[at_jumps] >= lower) & (step_level[at_jumps] <= upper)
    statistics = {
        "max_abs_difference": float(max(at_start[largest], at_end[largest])),
        "largest_at": float(largest_at),
        "mean_abs_difference": float(_integral_of_absolute(signed_start, signed_end, np.diff(times)) / tau),
        "share_in_band": float(inside.mean()),
    }
    misfit = bool(is_misfit(statistics["share_in_band"], statistics["mean_abs_difference"], counts["n"]))
    return counts | statistics | {"misfit": misfit}


def _integral_of_absolute(start: np.ndarray, end: np.ndarray, width: np.ndarray) -> float:
    """Trapezoidal integral of ``|f|`` from ``f`` at each piece's ends, split where ``f`` changes sign within one."""
    crossing = start * end < 0
    total = np.abs(start) + np.abs(end)
    area = np.where(crossing, (start**2 + end**2) / np.where(crossing, 2 * total, 1.0), total / 2)
    return float(np.sum(area * width))


def arm_survival_draws(idata: az.InferenceData, members: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Per draw, the survival at ``times`` averaged over the patients ``members`` (a boolean mask of the fit's).

    A patient with design row ``x`` has log hazard ``log_baseline_k + x . coef`` in interval ``k`` (the arm's term
    per interval with a time-varying effect); patients with the same row are computed once, and more than
    :data:`EXACT_ROWS` distinct rows are grouped (:func:`patient_groups`, within :data:`AVERAGE_TOLERANCE`). A
    mixture-cure fit's patient survives as ``pi + (1 - pi) exp(-H)``, ``pi`` the cure fraction of the row
    (``cure_intercept`` and ``cure_coef``); its rows are averaged exactly (the grouping's bound holds for ``exp(-H)``).

    Returns
    -------
    numpy.ndarray
        Shape ``(draws, len(times))``, at up to :data:`CHECK_DRAWS` draws evenly spaced over the chains.
    """
    posterior = idata.posterior
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    kept = np.unique(np.linspace(0, total - 1, min(total, CHECK_DRAWS)).round().astype(int))
    log_baseline = posterior["log_baseline"].transpose("chain", "draw", "interval").to_numpy()
    log_baseline = log_baseline.reshape(total, -1)[kept]
    arm_effect = arm_log_hazard_ratio(idata)[kept]
    design = idata.constant_data["design"]
    others = [str(term) for term in design["term"].to_numpy() if term != ARM]
    coef = posterior["coef"].sel(term=others).transpose("chain", "draw", "term").to_numpy()
    coef = coef.reshape(total, len(others))[kept]
    rows, counts = np.unique(design.sel(term=[ARM, *others]).to_numpy()[members], axis=0, return_counts=True)
    cuts = idata.constant_data["cuts"].to_numpy()
    cure_logit = _cure_logit(posterior, [ARM, *others], kept)
    survival = np.zeros((kept.size, len(times)))
    if cure_logit is not None:
        for row, count in zip(rows, counts, strict=True):
            log_hazard = log_baseline + row[0] * arm_effect + (coef @ row[1:])[:, None]
            cumulative = cumulative_hazard(np.exp(log_hazard), cuts, times)
            cure = 1.0 / (1.0 + np.exp(-(cure_logit[0] + cure_logit[1] @ row)))
            survival += count * mixture_survival(cure, cumulative)
        return survival / counts.sum()
    for arm in np.unique(rows[:, 0]):
        in_arm = rows[:, 0] == arm
        baseline = cumulative_hazard(np.exp(log_baseline + arm * arm_effect), cuts, times)  # at the others = 0
        representatives, weights, _ = patient_groups(rows[in_arm, 1:], counts[in_arm], coef)
        for row, weight in zip(representatives, weights, strict=True):
            survival += weight * np.exp(-baseline * np.exp(coef @ row)[:, None])
    return survival / counts.sum()


def patient_groups(rows: np.ndarray, counts: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Distinct design rows (one arm's other terms) grouped by their linear predictor, for the patient average.

    With at most :data:`EXACT_ROWS` rows, the rows themselves (exact). Otherwise the rows, sorted by their linear
    predictor at the posterior mean, are cut into 16, 32, ... runs of about equal numbers of patients, each represented
    by its patients' mean row, until the bound below is within :data:`AVERAGE_TOLERANCE` (or, with as many runs as
    rows, the rows themselves). With ``f(eta) = exp(-H exp(eta))``, ``|f''| <= SECOND_DERIVATIVE_BOUND`` for every
    ``H >= 0``; a group's mean linear predictor is its representative's at every draw, so the first-order terms of
    Taylor's expansion cancel and ``|mean_i f(eta_i) - sum_g w_g f(eta_g)| <= SECOND_DERIVATIVE_BOUND / 2 * mean_i
    (eta_i - eta_g(i))^2`` at every time and draw.

    Parameters
    ----------
    rows, counts
        Distinct rows of the terms other than the arm, and their numbers of patients.
    coef
        Draws x terms: the coefficients of those terms.

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray, float]
        Representative rows, their numbers of patients, and the bound (0 when exact), largest over the draws.
    """
    if len(rows) <= EXACT_ROWS:
        return rows, counts, 0.0
    order = np.argsort(rows @ coef.mean(axis=0), kind="stable")
    rows, counts = rows[order], counts[order]
    position = np.cumsum(counts) - counts  # patients before each row
    groups = EXACT_ROWS
    while groups < len(rows):
        label = position * groups // counts.sum()  # runs of about equal numbers of patients
        weights = np.bincount(label, weights=counts)
        present = weights > 0
        representatives = (np.add.reduceat(rows * counts[:, None], np.flatnonzero(np.diff(label, prepend=-1))) /
                           weights[present][:, None])  # fmt: skip
        deviation = rows - representatives[np.searchsorted(np.flatnonzero(present), label)]
        scatter = (deviation * counts[:, None]).T @ deviation  # within groups: sum_i n_i (eta_i - eta_g)^2 = c' S c
        largest = float(np.einsum("dp,pq,dq->d", coef, scatter, coef).max())
        bound = SECOND_DERIVATIVE_BOUND / 2 * largest / counts.sum()
        if bound <= AVERAGE_TOLERANCE:
            return representatives, weights[present], bound
        groups *= 2
    return rows, counts, 0.0


def _cure_logit(posterior, terms: list[str], kept: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The kept draws of a cure fit's ``cure_intercept`` and ``cure_coef`` over ``terms``; None without a cure part."""
    if "cure_intercept" not in posterior:
        return None
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    intercept = posterior["cure_intercept"].transpose("chain", "draw").to_numpy().reshape(total)[kept]
    coef = posterior["cure_coef"].sel(term=terms).transpose("chain", "draw", "term").to_numpy()
    return intercept, coef.reshape(total, len(terms))[kept]
