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
  ``1 / G(T_i-)``, controls are patients still event-free after t (their common weight ``1 / G(t)`` cancels), and the
  AUC is the weighted share of case-control pairs where the case has the higher risk (ties one half). This is
  ``riskRegression::Score(..., metrics = "auc", cens.model = "km")`` (and ``timeROC``); scikit-survival's
  ``cumulative_dynamic_auc`` weights cases by ``1 / G(T_i)`` (``limit = "at"``).

All functions take optional case weights ``(B, n)`` and then return one value per row (see
:mod:`tmesurv.validation.bootstrap`); pair sums are matrix products of the weights with a pair-score matrix, built in
blocks of event rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tmesurv.validation.ipcw import CensoringLimit, censoring_weights, followed_beyond, survival_inputs

_BLOCK_ELEMENTS = 1 << 22  # pair-matrix entries built at a time


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
    cases, controls = np.flatnonzero((time <= horizon) & (event == 1)), np.flatnonzero(time > horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        case_weights = _safe_divide(w[:, cases], g[:, cases])
        pairs = _pair_sum(case_weights, w[:, controls], lambda rows: _score(risk[cases[rows]], risk[controls]))
        value = pairs / (case_weights.sum(axis=1) * w[:, controls].sum(axis=1))
    value = np.where(followed_beyond(time, w, horizon), value, np.nan)
    return value if weights is not None else float(value[0])


def _concordance(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, w: np.ndarray, row_weights: np.ndarray
) -> np.ndarray:
    """Weighted concordance: pairs (i, j) weighted by ``row_weights_i * w_j`` over comparable pairs."""
    rows = np.flatnonzero(event == 1)

    def comparable(block: np.ndarray) -> np.ndarray:
        t_i = time[rows[block], None]
        return ((time > t_i) | ((time == t_i) & (event == 0))).astype(float)

    def concordant(block: np.ndarray) -> np.ndarray:
        return comparable(block) * _score(risk[rows[block]], risk)

    with np.errstate(invalid="ignore"):
        return _pair_sum(row_weights[:, rows], w, concordant) / _pair_sum(row_weights[:, rows], w, comparable)


def _safe_divide(weights: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``weights / g``, 0 where the weight is 0 (a patient not in the resample may sit where ``G`` is 0)."""
    return np.divide(weights, g, out=np.zeros_like(weights), where=weights > 0)


def _score(row_risk: np.ndarray, column_risk: np.ndarray) -> np.ndarray:
    """1 where the row's risk is higher, 1/2 where tied, 0 otherwise."""
    return (row_risk[:, None] > column_risk).astype(float) + 0.5 * (row_risk[:, None] == column_risk)


def _pair_sum(
    row_weights: np.ndarray, column_weights: np.ndarray, pair_matrix: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``sum_ij row_weights[b, i] * M[i, j] * column_weights[b, j]`` for every b, with M built in row blocks."""
    n_rows, n_columns = row_weights.shape[1], column_weights.shape[1]
    step = max(1, _BLOCK_ELEMENTS // max(n_columns, 1))
    total = np.zeros(row_weights.shape[0])
    for start in range(0, n_rows, step):
        block = np.arange(start, min(start + step, n_rows))
        total += np.einsum("bi,bi->b", row_weights[:, block], column_weights @ pair_matrix(block).T)
    return total
