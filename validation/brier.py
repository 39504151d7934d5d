"""Overall accuracy at a horizon: the IPCW Brier score, its integral over a time grid, and the IPA (scaled Brier).

The Brier score at horizon t of predicted risks ``F_i = 1 - S(t | x_i)`` is estimated with inverse-probability-of-
censoring weights (Graf et al. 1999, Stat Med 18:2529; Gerds & Schumacher 2006):

``BS(t) = 1/n sum_i [ 1{T_i <= t, event} (1 - F_i)^2 / G(T_i-) + 1{T_i > t} F_i^2 / G(t) ]``
(when nobody is followed beyond t, as at an administrative censoring time, the patients censored at t are the
controls, weighted by ``1 / G(t-)``: see :func:`tmesurv.validation.ipcw.controls_at`)

with ``G`` the Kaplan-Meier estimate of the censoring distribution in the same cohort (see
:mod:`tmesurv.validation.ipcw`); patients censored before t contribute 0 to the sum but count in n. This is
``riskRegression::Score(..., metrics = "brier", cens.model = "km")``. scikit-survival's ``brier_score`` weights the
events by ``1 / G(T_i)`` (``limit = "at"``).

The null model predicts everyone the cohort's own Kaplan-Meier risk ``1 - S_KM(t)``; the index of prediction accuracy
is ``IPA = 1 - BS(model) / BS(null)`` (Kattan & Gerds 2018, Diagn Progn Res 2:7), as ``riskRegression``'s
``Score(..., summary = "ipa")``.

The integrated Brier score over a grid ``t_1 < ... < t_K`` is either riskRegression's (``rule = "step"``,
``Score(..., summary = "ibs")``): ``(1 / t_K) sum_{k<K} BS(t_k) (t_{k+1} - t_k)``, the Brier curve held constant
between grid times and 0 before ``t_1`` (so start the grid at 0 or the first event time); or scikit-survival's
(``rule = "trapezoid"``, ``integrated_brier_score``): the trapezoid rule over ``[t_1, t_K]`` divided by
``t_K - t_1``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tmesurv.validation.ipcw import (
    CensoringLimit,
    censoring_weights,
    controls_at,
    followed_to,
    km_risk,
    survival_inputs,
)

IntegrationRule = Literal["step", "trapezoid"]


def brier_score(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
    limit: CensoringLimit = "before",
) -> float | np.ndarray:
    """IPCW Brier score of predicted event probabilities at ``horizon``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    risk
        ``(n,)`` predicted probability of an event by ``horizon``.
    horizon
        The time t.
    weights
        ``(B, n)`` case weights (bootstrap counts); None for the plain estimate.
    limit
        ``"before"`` (events weighted by ``1 / G(T_i-)``, riskRegression) or ``"at"`` (scikit-survival).

    Returns
    -------
    float or numpy.ndarray
        The Brier score, or ``(B,)`` values; NaN where nobody is followed beyond ``horizon``.
    """
    time, event, w, risk = survival_inputs(time, event, weights, risk)
    value = _brier(time, event, w, risk[None, :], horizon, limit)
    return value if weights is not None else float(value[0])


def null_brier_score(
    time: np.ndarray, event: np.ndarray, horizon: float, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """Brier score of the null model: everyone predicted the cohort's Kaplan-Meier risk at ``horizon``.

    Parameters
    ----------
    time, event, horizon, weights
        As in :func:`brier_score`.

    Returns
    -------
    float or numpy.ndarray
        The null model's Brier score, or ``(B,)`` values (the Kaplan-Meier risk is re-estimated per row).
    """
    time, event, w = survival_inputs(time, event, weights)
    value = _brier(time, event, w, km_risk(time, event, w, horizon)[:, None], horizon, "before")
    return value if weights is not None else float(value[0])


def ipa(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """Index of prediction accuracy, ``1 - BS(model) / BS(null)`` (the scaled Brier score), at ``horizon``.

    Parameters
    ----------
    time, event, risk, horizon, weights
        As in :func:`brier_score`.

    Returns
    -------
    float or numpy.ndarray
        The IPA (1 is perfect, 0 no better than the Kaplan-Meier risk, negative worse), or ``(B,)`` values.
    """
    model = brier_score(time, event, risk, horizon, weights)
    null = null_brier_score(time, event, horizon, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 1 - np.divide(model, null)
    return value if weights is not None else float(value)


def integrated_brier(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    times: np.ndarray,
    weights: np.ndarray | None = None,
    rule: IntegrationRule = "step",
    limit: CensoringLimit = "before",
) -> float | np.ndarray:
    """Integrated Brier score over a grid of times.

    Parameters
    ----------
    time, event, weights, limit
        As in :func:`brier_score`.
    risk
        ``(n, K)`` predicted probability of an event by each grid time.
    times
        ``(K,)`` increasing grid times (at least two), all before the last follow-up time.
    rule
        ``"step"`` (riskRegression) or ``"trapezoid"`` (scikit-survival); see the module docstring.

    Returns
    -------
    float or numpy.ndarray
        The integrated Brier score, or ``(B,)`` values; NaN where a grid time is beyond that row's follow-up.
    """
    time, event, w, risk = survival_inputs(time, event, weights, risk)
    times = np.asarray(times, dtype=float)
    if risk.ndim != 2 or risk.shape[1] != times.size or times.size < 2 or (np.diff(times) <= 0).any():
        raise ValueError(f"need increasing grid times (at least 2) and risk of shape (n, K); got {risk.shape}")
    curve = np.stack([_brier(time, event, w, risk[None, :, k], t, limit) for k, t in enumerate(times)], axis=1)
    if rule == "step":
        value = (curve[:, :-1] * np.diff(times)).sum(axis=1) / times[-1]
    else:
        value = ((curve[:, 1:] + curve[:, :-1]) / 2 * np.diff(times)).sum(axis=1) / (times[-1] - times[0])
    value = np.where(np.isnan(curve).any(axis=1), np.nan, value)
    return value if weights is not None else float(value[0])


def _brier(
    time: np.ndarray, event: np.ndarray, w: np.ndarray, risk: np.ndarray, horizon: float, limit: CensoringLimit
) -> np.ndarray:
    """``(B,)`` IPCW Brier scores of ``risk`` (``(1, n)`` or ``(B, n)``, or ``(B, 1)`` for one risk per row)."""
    _, g = censoring_weights(time, event, w, limit)
    controls = controls_at(time, event, w, horizon)
    g_horizon, control = controls.censoring[:, None], controls.member
    case = (time <= horizon) & (event == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(case, (1 - risk) ** 2 / g, 0.0) + np.where(control, risk**2 / g_horizon, 0.0)
        value = np.where(w > 0, w * loss, 0.0).sum(axis=1) / w.sum(axis=1)
    return np.where(followed_to(time, w, horizon), value, np.nan)
