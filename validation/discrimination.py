"""Discrimination of a survival model on an external cohort: Harrell's and Uno's C, and the time-dependent AUC.

``risk`` is any score that is higher for a worse prognosis (a Cox linear predictor, a predicted event probability).
A pair of patients is comparable when the one with the shorter time had the event; a censoring at the same time as
an event counts as later, two events at the same time are not comparable. A comparable pair is concordant when the
earlier event has the higher risk; tied risks count one half.

* Harrell's C counts every comparable pair once: R's ``survival::concordance(Surv(time, status) ~ risk,
  reverse = TRUE)`` (``timewt = "n"``) and scikit-survival's ``concordance_index_censored``.
* Uno's C (Uno et al. 2011, Stat Med 30:1105) weights a pair by ``1 / G(T_i)^2`` of its earlier event time and counts
  events up to ``tau`` only: R's ``concordance(..., timewt = "n/G2", ymax = tau)`` with ``G(T_i-)`` (the default
  here), or scikit-survival's ``concordance_index_ipcw`` with ``G(T_i)`` (``limit = "at"``; it keeps events strictly
  before ``tau``, R and this module events at or before ``tau``). See :mod:`tmesurv.validation.ipcw` for ``G``.
* The time-dependent AUC at horizon t is the cumulative/dynamic AUC (Heagerty, Lumley & Pepe 2000; IPCW estimator of
  Uno et al. 2007 and Blanche, Dartigues & Jacqmin-Gadda 2013): cases are patients with an event by t, weighted by
  ``1 / G(T_i-)``, controls are patients followed beyond t (or, when nobody is, as at an administrative censoring
  time, those censored at t; see :func:`tmesurv.validation.ipcw.controls_at`; their common weight cancels), and the
  AUC is the weighted share of case-control pairs where the case has the higher risk (ties one half). This is
  ``riskRegression::Score(..., metrics = "auc", cens.model = "km")`` (and ``timeROC``); scikit-survival's
  ``cumulative_dynamic_auc`` weights cases by ``1 / G(T_i)`` (``limit = "at"``).

All functions take optional case weights ``(B, n)`` and then return one value per row (see
:mod:`tmesurv.validation.bootstrap`). Pair sums never form the n x n pair matrix: the concordance indices sweep the
patients from the latest time with a Fenwick tree over risk ranks (numba), the AUC sorts the controls by risk; both
O(B n log n), so 100,000 patients score in about a second (``benchmarks/bench_validation.py``).
"""

from __future__ import annotations

import numba
import numpy as np

from tmesurv.validation.ipcw import CensoringLimit, censoring_weights, controls_at, followed_to, survival_inputs


def harrell_c(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """Harrell's concordance index.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    risk
        ``(n,)`` risk scores, higher = worse prognosis.
    weights
        ``(B, n)`` case weights (bootstrap counts); None for the plain estimate.

    Returns
    -------
    float or numpy.ndarray
        The C index, or ``(B,)`` values, one per row of ``weights``.
    """
    time, event, w, risk = survival_inputs(time, event, weights, risk)
    value = _concordance(time, event, risk, w, w * event)
    return value if weights is not None else float(value[0])


def uno_c(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    tau: float | None = None,
    weights: np.ndarray | None = None,
    limit: CensoringLimit = "before",
) -> float | np.ndarray:
    """Uno's inverse-probability-of-censoring weighted concordance index, truncated at ``tau``.

    Parameters
    ----------
    time, event, risk, weights
        As in :func:`harrell_c`.
    tau
        Truncation time: events after ``tau`` do not count (None: no truncation). Choose a time with enough
        patients still at risk; weights ``1 / G^2`` explode near the end of follow-up.
    limit
        ``"before"`` (``G(T_i-)``, R) or ``"at"`` (``G(T_i)``, scikit-survival).

    Returns
    -------
    float or numpy.ndarray
        The C index, or ``(B,)`` values.
    """
    time, event, w, risk = survival_inputs(time, event, weights, risk)
    _, g = censoring_weights(time, event, w, limit)
    counted = event * (time <= (np.inf if tau is None else tau))
    row_weights = _safe_divide(w * counted, g**2)
    value = _concordance(time, event, risk, w, row_weights)
    return value if weights is not None else float(value[0])


def time_auc(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
    limit: CensoringLimit = "before",
) -> float | np.ndarray:
    """Cumulative/dynamic time-dependent AUC at ``horizon``, inverse-probability-of-censoring weighted.

    Parameters
    ----------
    time, event, weights
        As in :func:`harrell_c`.
    risk
        ``(n,)`` predicted risk of an event by ``horizon`` (or any score increasing in it).
    horizon
        The time t.
    limit
        ``"before"`` (cases weighted by ``1 / G(T_i-)``, riskRegression) or ``"at"`` (``1 / G(T_i)``,
        scikit-survival).

    Returns
    -------
    float or numpy.ndarray
        The AUC, or ``(B,)`` values; NaN where no case or no control has positive weight (e.g. a horizon at or
        beyond the last follow-up time).
    """
    time, event, w, risk = survival_inputs(time, event, weights, risk)
    _, g = censoring_weights(time, event, w, limit)
    cases = np.flatnonzero((time <= horizon) & (event == 1))
    member = controls_at(time, event, w, horizon).member
    controls = np.flatnonzero(member.any(axis=0))
    control_weights = np.where(member[:, controls], w[:, controls], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        case_weights = _safe_divide(w[:, cases], g[:, cases])
        pairs = _case_control_sum(case_weights, risk[cases], control_weights, risk[controls])
        value = pairs / (case_weights.sum(axis=1) * control_weights.sum(axis=1))
    value = np.where(followed_to(time, w, horizon), value, np.nan)
    return value if weights is not None else float(value[0])


def _concordance(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, w: np.ndarray, row_weights: np.ndarray
) -> np.ndarray:
    """Weighted concordance: pairs (i, j) weighted by ``row_weights_i * w_j`` over comparable pairs."""
    rank = np.unique(risk, return_inverse=True)[1].ravel()
    order = np.lexsort((event, -time))  # latest first; at a tied time, censorings before events
    numerator, denominator = _dominance_sums(
        time[order],
        event[order] == 1,
        rank[order],
        np.ascontiguousarray(row_weights[:, order].T),
        np.ascontiguousarray(w[:, order].T),
        int(rank.max()) + 1,
    )
    with np.errstate(invalid="ignore"):
        return numerator / denominator


@numba.njit(cache=True)
def _dominance_sums(
    time: np.ndarray,
    event: np.ndarray,
    rank: np.ndarray,
    row_weights: np.ndarray,
    column_weights: np.ndarray,
    n_ranks: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Concordant and comparable pair weights, summed over event rows in one pass from the latest time.

    Patients come latest first. A patient joins a Fenwick tree over risk ranks (one column per replicate) after the
    events of its time are scored, or before them when censored, so each event row meets exactly its comparable
    columns: O(B n log n) instead of the O(B n^2) pair matrix.
    """
    n, replicates = column_weights.shape
    tree = np.zeros((n_ranks + 1, replicates))
    at_rank = np.zeros((n_ranks, replicates))
    total = np.zeros(replicates)
    below = np.zeros(replicates)
    numerator = np.zeros(replicates)
    denominator = np.zeros(replicates)
    start = 0
    while start < n:
        stop = start
        while stop < n and time[stop] == time[start]:
            stop += 1
        for k in range(start, stop):
            if not event[k]:
                _insert(tree, at_rank, total, rank[k], column_weights[k])
        for k in range(start, stop):
            if event[k]:
                _weight_below(tree, rank[k], below)
                for b in range(replicates):
                    numerator[b] += row_weights[k, b] * (below[b] + 0.5 * at_rank[rank[k], b])
                    denominator[b] += row_weights[k, b] * total[b]
        for k in range(start, stop):
            if event[k]:
                _insert(tree, at_rank, total, rank[k], column_weights[k])
        start = stop
    return numerator, denominator


@numba.njit(cache=True)
def _insert(tree: np.ndarray, at_rank: np.ndarray, total: np.ndarray, rank: int, weight: np.ndarray) -> None:
    """Add one patient's replicate weights at its risk rank."""
    at_rank[rank] += weight
    total += weight
    position = rank + 1
    while position < tree.shape[0]:
        tree[position] += weight
        position += position & -position


@numba.njit(cache=True)
def _weight_below(tree: np.ndarray, rank: int, out: np.ndarray) -> None:
    """Per replicate, the weight of the patients in the tree with a risk rank below ``rank``."""
    out[:] = 0.0
    position = rank
    while position > 0:
        out += tree[position]
        position -= position & -position


def _safe_divide(weights: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``weights / g``, 0 where the weight is 0 (a patient not in the resample may sit where ``G`` is 0)."""
    return np.divide(weights, g, out=np.zeros_like(weights), where=weights > 0)


def _case_control_sum(
    case_weights: np.ndarray, case_risk: np.ndarray, control_weights: np.ndarray, control_risk: np.ndarray
) -> np.ndarray:
    """``sum_ij case_weights[b, i] * control_weights[b, j] * ([r_i > r_j] + [r_i = r_j] / 2)`` for every b.

    Controls sorted by risk with cumulative weights: each case's share is two look-ups, O(B n log n).
    """
    order = np.argsort(control_risk, kind="stable")
    sorted_risk = control_risk[order]
    cumulative = np.zeros((control_weights.shape[0], order.size + 1))
    np.cumsum(control_weights[:, order], axis=1, out=cumulative[:, 1:])
    lower, upper = np.searchsorted(sorted_risk, case_risk, "left"), np.searchsorted(sorted_risk, case_risk, "right")
    pair_share = 0.5 * (cumulative[:, lower] + cumulative[:, upper])  # below, plus half the tied
    return (case_weights * pair_share).sum(axis=1)
