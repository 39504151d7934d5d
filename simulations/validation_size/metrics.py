"""Validation metrics of many replicate cohorts at once, with analytic intervals; the others per replicate.

Batched (``(R, n)`` arrays in, ``(R,)`` out; each equals :mod:`tmesurv.validation`'s function on one cohort):

* ``harrell_c``: Harrell's C (:func:`tmesurv.validation.discrimination.harrell_c`: ties in risk count one half, a
  censoring at an event's time counts as later) and its infinitesimal-jackknife standard error, the variance R's
  ``survival::concordance`` reports: ``sum_i (dC/dw_i)^2`` with ``dC/dw_i = (c_i - C m_i) / D``, where ``m_i``
  counts the comparable pairs patient i is in, ``c_i`` the concordant ones (ties one half) and ``D`` all comparable
  pairs. Two sweeps per replicate with a Fenwick tree over risk ranks (numba): O(n log n).
* ``calibration_slope``: the Cox regression of the outcome on the linear predictor over all follow-up
  (:func:`tmesurv.validation.calibration.calibration_slope`) by :func:`tmesurv.models.cox.batched.fit_cox_batch`, with
  its model-based standard error.
* ``oe_ratio`` at the horizon: Kaplan-Meier risk over mean predicted risk
  (:func:`tmesurv.validation.calibration.oe_ratio`), the interval on the log scale with the infinitesimal-jackknife
  variance of ``log(O/E)`` (observed and expected both vary with the patients drawn, and together: a cohort of
  high-risk patients has a high O and a high E; taking E as fixed - Greenwood's variance of O alone - overstates
  the SD of O/E by about 12% in the ZUMA-7 scenario).

Intervals are Wald intervals: estimate +- z SE (O/E: exponentiated). Other metrics (Uno's C, time AUC, Brier, IPA,
ICI, c-for-benefit) are computed per replicate by :mod:`tmesurv.validation`'s functions, with bootstrap percentile
intervals when ``bootstrap`` resamples are asked for (as ``validate`` computes them), else no interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba
import numpy as np
from scipy import stats

from tmesurv.models.cox.batched import fit_cox_batch
from tmesurv.simulations.validation_size.model import ValidationCohorts
from tmesurv.validation.benefit_matching import c_for_benefit
from tmesurv.validation.bootstrap import percentile_interval, resample_counts, with_estimate
from tmesurv.validation.brier import brier_score, ipa
from tmesurv.validation.calibration import calibration_curve
from tmesurv.validation.discrimination import time_auc, uno_c

MetricArrays = dict[str, np.ndarray]
"""``estimate``, ``lower``, ``upper`` per replicate, ``(R,)``."""


def harrell_c_batch(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Harrell's C and its infinitesimal-jackknife standard error for every replicate.

    Parameters
    ----------
    time, event, risk
        ``(R, n)`` follow-up times, event indicators (1 = event) and risk scores (higher = worse).

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        ``(R,)`` C and its standard error (NaN without comparable pairs).
    """
    time, risk = np.asarray(time, dtype=float), np.asarray(risk, dtype=float)
    event = np.asarray(event, dtype=float) == 1
    order = np.lexsort((~event, time), axis=-1)  # earliest first; at a tied time events before censorings
    ranks = _dense_ranks(risk)
    sorted_time, sorted_event, sorted_rank = (np.take_along_axis(a, order, axis=-1) for a in (time, event, ranks))
    return _concordance_ij(sorted_time, sorted_event, sorted_rank)


def _dense_ranks(risk: np.ndarray) -> np.ndarray:
    """``(R, n)`` dense ranks of each row (equal risks share a rank), from 1."""
    order = np.argsort(risk, axis=-1, kind="stable")
    ordered = np.take_along_axis(risk, order, axis=-1)
    dense = np.cumsum(np.concatenate([np.ones((risk.shape[0], 1)), np.diff(ordered, axis=-1) > 0], axis=-1), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, dense.astype(np.int64), axis=-1)
    return ranks


@numba.njit(cache=True)
def _fenwick_add(tree: np.ndarray, position: int) -> None:
    while position < tree.size:
        tree[position] += 1.0
        position += position & -position


@numba.njit(cache=True)
def _fenwick_sum(tree: np.ndarray, position: int) -> float:
    """Count of entries with rank <= position."""
    total = 0.0
    while position > 0:
        total += tree[position]
        position -= position & -position
    return total


@numba.njit(cache=True)
def _concordance_ij(time: np.ndarray, event: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C and its IJ standard error per row; rows sorted by time, events before censorings at a tie."""
    n_rep, n = time.shape
    c_index, se = np.full(n_rep, np.nan), np.full(n_rep, np.nan)
    for r in range(n_rep):
        concordant, comparable = np.zeros(n), np.zeros(n)
        top = int(rank[r].max()) + 1
        tree = np.zeros(top)
        # as the earlier event: later patients (and censorings at its time), latest group first
        end = n
        while end > 0:
            start = end - 1
            while start > 0 and time[r, start - 1] == time[r, end - 1]:
                start -= 1
            for i in range(start, end):
                if not event[r, i]:
                    _fenwick_add(tree, rank[r, i])
            for i in range(start, end):
                if event[r, i]:
                    total, below = _fenwick_sum(tree, top - 1), _fenwick_sum(tree, rank[r, i] - 1)
                    tied = _fenwick_sum(tree, rank[r, i]) - below
                    concordant[i] += below + 0.5 * tied
                    comparable[i] += total
            for i in range(start, end):
                if event[r, i]:
                    _fenwick_add(tree, rank[r, i])
            end = start
        numerator, denominator = concordant.sum(), comparable.sum()
        # as the later patient: earlier events (and events at its time, if it is censored), earliest group first
        tree[:] = 0.0
        start = 0
        while start < n:
            end = start + 1
            while end < n and time[r, end] == time[r, start]:
                end += 1
            for phase in range(2):
                for i in range(start, end):
                    if event[r, i] == (phase == 0):
                        total = _fenwick_sum(tree, top - 1)
                        at_or_below = _fenwick_sum(tree, rank[r, i])
                        tied = at_or_below - _fenwick_sum(tree, rank[r, i] - 1)
                        concordant[i] += total - at_or_below + 0.5 * tied
                        comparable[i] += total
                if phase == 0:
                    for i in range(start, end):
                        if event[r, i]:
                            _fenwick_add(tree, rank[r, i])
            start = end
        if denominator > 0:
            value = numerator / denominator
            influence = (concordant - value * comparable) / denominator
            c_index[r], se[r] = value, math.sqrt((influence**2).sum())
    return c_index, se


def calibration_slope_batch(time: np.ndarray, event: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibration slope (Cox regression on ``lp``, Efron ties) and its standard error, ``(R,)`` each."""
    fit = fit_cox_batch(time, event, np.asarray(lp, dtype=float)[..., None])
    return fit.coef[:, 0], fit.se[:, 0]


def oe_ratio_batch(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """O/E at ``horizon`` and the infinitesimal-jackknife standard error of ``log(O/E)``, ``(R,)`` each.

    ``O`` is the Kaplan-Meier risk ``1 - S(horizon)``, ``E`` the mean predicted risk; both change with a patient's
    weight, so the influence of patient i on ``log(O/E)`` is ``-S / (1 - S) g_i - (p_i - E) / (n E)`` with ``g_i``
    its exact influence on ``log S``: ``sum_{t_j <= min(T_i, horizon)} d_j / (Y_j (Y_j - d_j))`` minus
    ``1 / (Y_i - d_i)`` if it had an event by the horizon (``Y`` at risk, ``d`` events at a time). The variance is
    the sum of squared influences. NaN where nobody is followed beyond ``horizon`` (as
    :func:`tmesurv.validation.ipcw.km_risk`) and the standard error NaN where ``S`` is 0 or 1.
    """
    time = np.asarray(time, dtype=float)
    order = np.argsort(time, axis=-1, kind="stable")
    sorted_time = np.take_along_axis(time, order, axis=-1)
    sorted_event = np.take_along_axis(np.asarray(event, dtype=float), order, axis=-1)
    sorted_risk = np.take_along_axis(np.asarray(risk, dtype=float), order, axis=-1)
    survival, se_log = _oe_at(sorted_time, sorted_event, sorted_risk, float(horizon))
    beyond = (time > horizon).any(axis=-1)
    ratio = np.where(beyond, (1 - survival) / sorted_risk.mean(axis=-1), np.nan)
    return ratio, np.where(beyond, se_log, np.nan)


@numba.njit(cache=True)
def _oe_at(time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    n_rep, n = time.shape
    survival, se_log = np.ones(n_rep), np.full(n_rep, np.nan)
    for r in range(n_rep):
        influence = np.zeros(n)  # on log S
        cumulative, start, degenerate = 0.0, 0, False
        while start < n and time[r, start] <= horizon:
            end, deaths = start, 0.0
            while end < n and time[r, end] == time[r, start]:
                deaths += event[r, end]
                end += 1
            at_risk = n - start
            if deaths >= at_risk:
                degenerate = True
                survival[r] = 0.0
                break
            if deaths > 0:
                survival[r] *= 1.0 - deaths / at_risk
                cumulative += deaths / (at_risk * (at_risk - deaths))
            for i in range(start, end):
                influence[i] = cumulative - (event[r, i] / (at_risk - deaths))
            start = end
        for i in range(start, n):
            influence[i] = cumulative
        s = survival[r]
        if degenerate or s >= 1.0:
            continue
        expected = risk[r].mean()
        total = 0.0
        for i in range(n):
            value = -s / (1.0 - s) * influence[i] - (risk[r, i] - expected) / (n * expected)
            total += value * value
        se_log[r] = math.sqrt(total)
    return survival, se_log


def analytic_metric(name: str, cohorts: ValidationCohorts, horizon: float, alpha: float) -> MetricArrays:
    """A batched metric's estimate and Wald interval for every replicate (names: ``ANALYTIC_METRICS``)."""
    z = stats.norm.ppf(1 - alpha / 2)
    c = cohorts
    if name == "harrell_c":
        estimate, se = harrell_c_batch(c.time, c.event, c.lp)
    elif name == "calibration_slope":
        estimate, se = calibration_slope_batch(c.time, c.event, c.lp)
    else:
        estimate, se_log = oe_ratio_batch(c.time, c.event, c.risk, horizon)
        with np.errstate(divide="ignore", invalid="ignore"):
            log = np.log(estimate)
        return {"estimate": estimate, "lower": np.exp(log - z * se_log), "upper": np.exp(log + z * se_log)}
    return {"estimate": estimate, "lower": estimate - z * se, "upper": estimate + z * se}


def loop_metric(
    name: str, cohorts: ValidationCohorts, horizon: float, alpha: float, bootstrap: int, seeds: np.ndarray
) -> MetricArrays:
    """A metric scored one replicate at a time by :mod:`tmesurv.validation`, with bootstrap percentile intervals.

    ``seeds`` are the replicates' bootstrap seeds (resampling within arm, as ``validate`` does for two arms).
    """
    score = _LOOP_SCORES[name]
    rows = []
    for r in range(cohorts.time.shape[0]):
        n = cohorts.time.shape[1]
        counts = resample_counts(n, bootstrap, int(seeds[r]), cohorts.treated[r]) if bootstrap else None
        values = np.atleast_1d(score(cohorts, r, horizon, with_estimate(n, counts)))
        lower, upper, _ = percentile_interval(values[1:], alpha) if bootstrap else (math.nan, math.nan, 0)
        rows.append((values[0], lower, upper))
    estimate, lower, upper = np.array(rows, dtype=float).T
    return {"estimate": estimate, "lower": lower, "upper": upper}


def _cohort(c: ValidationCohorts, r: int) -> tuple[np.ndarray, np.ndarray]:
    return c.time[r], c.event[r]


_LOOP_SCORES: dict[str, Callable[[ValidationCohorts, int, float, np.ndarray], np.ndarray]] = {
    "uno_c": lambda c, r, h, w: uno_c(*_cohort(c, r), c.lp[r], h, w),
    "time_auc": lambda c, r, h, w: time_auc(*_cohort(c, r), c.risk[r], h, w),
    "brier": lambda c, r, h, w: brier_score(*_cohort(c, r), c.risk[r], h, w),
    "ipa": lambda c, r, h, w: ipa(*_cohort(c, r), c.risk[r], h, w),
    "ici": lambda c, r, h, w: calibration_curve(*_cohort(c, r), c.risk[r], h, weights=w).ici,
    "c_for_benefit": lambda c, r, h, w: c_for_benefit(
        *_cohort(c, r), c.treated[r].astype(float), c.risk_control[r], c.risk_treated[r], h, w
    ),
}
