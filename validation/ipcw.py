"""Kaplan-Meier curves with case weights, for many weight vectors at once, and the censoring weights built on them.

Every estimator in :mod:`tmesurv.validation` takes case weights of shape ``(B, n)``: one row per bootstrap replicate
(resampling counts, see :mod:`tmesurv.validation.bootstrap`), or a single row of ones for the estimate itself. The
curves here are computed for all rows in one pass: patients are grouped by distinct time once, and the weighted
numbers at risk, events and censorings per distinct time are sums of the weight matrix over those groups.

Ties follow R: at a time shared by events and censorings the events come first. The survival curve is
``S(t) = prod_{s <= t} (1 - d(s) / n(s))``; the censoring curve ``G(t) = prod_{s <= t} (1 - c(s) / (n(s) - d(s)))``
(the reverse Kaplan-Meier with the events at ``s`` removed from its risk set), as R's ``survival::concordance`` and
``riskRegression::Score(cens.model = "km")`` estimate it. A patient's inverse-probability-of-censoring weight uses
``G(T_i-)``, the censoring curve just before their own time (``"before"``, R), or ``G(T_i)`` (``"at"``,
scikit-survival's ``CensoringDistributionEstimator``); the two differ only where censorings tie with events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

CensoringLimit = Literal["before", "at"]


@dataclass(frozen=True)
class WeightedCurves:
    """Kaplan-Meier bookkeeping of one cohort under B weight vectors.

    Attributes
    ----------
    times
        ``(m,)`` distinct follow-up times, increasing.
    position
        ``(n,)`` index of each patient's time in ``times``.
    at_risk, events, censored
        ``(B, m)`` weighted numbers at risk, events and censorings at each distinct time.
    """

    times: np.ndarray
    position: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray

    def survival(self) -> np.ndarray:
        """``(B, m)`` Kaplan-Meier survival just after each distinct time."""
        return np.cumprod(1 - _ratio(self.events, self.at_risk), axis=1)

    def censoring(self) -> np.ndarray:
        """``(B, m)`` censoring survival ``G`` just after each distinct time (events before censorings)."""
        return np.cumprod(1 - _ratio(self.censored, self.at_risk - self.events), axis=1)

    def at_horizon(self, curve: np.ndarray, horizon: float) -> np.ndarray:
        """``(B,)`` value of a step curve at ``horizon`` (1 before the first time)."""
        column = np.searchsorted(self.times, horizon, side="right") - 1
        return curve[:, column] if column >= 0 else np.ones(curve.shape[0])

    def before_horizon(self, curve: np.ndarray, horizon: float) -> np.ndarray:
        """``(B,)`` value of a step curve just before ``horizon`` (1 up to the first time)."""
        column = np.searchsorted(self.times, horizon, side="left") - 1
        return curve[:, column] if column >= 0 else np.ones(curve.shape[0])

    def at_own_time(self, curve: np.ndarray, limit: CensoringLimit = "at") -> np.ndarray:
        """``(B, n)`` value of a step curve at each patient's own time, or just before it (``limit="before"``)."""
        if limit == "at":
            return curve[:, self.position]
        padded = np.concatenate([np.ones((curve.shape[0], 1)), curve], axis=1)
        return padded[:, self.position]


def weighted_curves(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> WeightedCurves:
    """Weighted risk sets, events and censorings per distinct time, for each row of ``weights``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    weights
        ``(B, n)`` non-negative case weights.

    Returns
    -------
    WeightedCurves
        The counts, from which :meth:`WeightedCurves.survival` and :meth:`WeightedCurves.censoring` follow.
    """
    times, position = np.unique(time, return_inverse=True)
    order = np.argsort(position, kind="stable")
    starts = np.searchsorted(position[order], np.arange(times.size))
    total = np.add.reduceat(weights[:, order], starts, axis=1)
    events = np.add.reduceat((weights * event)[:, order], starts, axis=1)
    at_risk = np.cumsum(total[:, ::-1], axis=1)[:, ::-1]
    return WeightedCurves(times, position, at_risk, events, total - events)


def censoring_weights(
    time: np.ndarray, event: np.ndarray, weights: np.ndarray, limit: CensoringLimit = "before"
) -> tuple[WeightedCurves, np.ndarray]:
    """Censoring survival at each patient's own time, per row of ``weights``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    weights
        ``(B, n)`` case weights.
    limit
        ``"before"``: ``G(T_i-)`` (R's survival and riskRegression); ``"at"``: ``G(T_i)`` (scikit-survival).

    Returns
    -------
    tuple[WeightedCurves, numpy.ndarray]
        The curves, and ``(B, n)`` values of ``G`` (the inverse-probability-of-censoring weight is ``1 / G``).
    """
    curves = weighted_curves(time, event, weights)
    return curves, curves.at_own_time(curves.censoring(), limit)


def km_risk(time: np.ndarray, event: np.ndarray, weights: np.ndarray, horizon: float) -> np.ndarray:
    """Kaplan-Meier risk ``1 - S(horizon)`` for each row of ``weights``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    weights
        ``(B, n)`` case weights.
    horizon
        The time t.

    Returns
    -------
    numpy.ndarray
        ``(B,)`` risks; NaN where nobody with positive weight is followed up to ``horizon``.
    """
    curves = weighted_curves(time, event, weights)
    risk = 1 - curves.at_horizon(curves.survival(), horizon)
    return np.where(followed_to(time, weights, horizon), risk, np.nan)


def followed_to(time: np.ndarray, weights: np.ndarray, horizon: float) -> np.ndarray:
    """``(B,)`` whether any patient with positive weight is followed up to ``horizon``.

    The Kaplan-Meier curve is defined there, as R's ``summary(survfit(...), times = horizon)``: a horizon equal to an
    administrative censoring time is estimable.
    """
    return (weights[:, time >= horizon] > 0).any(axis=1)


def controls_at(time: np.ndarray, event: np.ndarray, weights: np.ndarray, horizon: float) -> Controls:
    """The patients known to be event-free at ``horizon`` (the controls of the Brier score and AUC), per weight row.

    Where some patient is followed beyond the horizon, the controls are those followed beyond it, with censoring
    weight ``1 / G(horizon)`` (riskRegression's ``Score``; a censoring exactly at the horizon counts as lost). Where
    nobody is (a horizon equal to the administrative censoring time, where ``Score`` is undefined because
    ``G(horizon) = 0``), the controls are the patients censored at the horizon, with weight ``1 / G(horizon-)``: the
    Kaplan-Meier convention (a censoring at t is event-free at t), and ``Score`` just before the horizon.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    weights
        ``(B, n)`` case weights.
    horizon
        The time t.

    Returns
    -------
    Controls
        ``(B, n)`` control indicator and ``(B,)`` censoring survival of the controls.
    """
    curves = weighted_curves(time, event, weights)
    censoring = curves.censoring()
    beyond = (weights[:, time > horizon] > 0).any(axis=1)
    at_horizon = (time == horizon) & (event == 0)
    member = np.where(beyond[:, None], time > horizon, at_horizon)
    g = np.where(beyond, curves.at_horizon(censoring, horizon), curves.before_horizon(censoring, horizon))
    return Controls(member, g)


@dataclass(frozen=True)
class Controls:
    """Patients known event-free at a horizon, per weight row (see :func:`controls_at`).

    Attributes
    ----------
    member
        ``(B, n)`` whether each patient is a control in each row.
    censoring
        ``(B,)`` censoring survival ``G`` that weights the controls (``1 / G``).
    """

    member: np.ndarray
    censoring: np.ndarray


def horizon_note(
    time: np.ndarray, horizon: float, development_follow_up: float | None = None, event: np.ndarray | None = None
) -> str:
    """Why a horizon cannot be assessed (or needs a caveat) in this cohort; empty when it is fine.

    Parameters
    ----------
    time
        External follow-up times.
    horizon
        The prediction horizon, in the units of ``time``.
    development_follow_up
        The last follow-up time of the development cohort, if known.
    event
        External event indicators, to flag a horizon with no event before it.

    Returns
    -------
    str
        A message for the ``note`` column: the horizon is beyond the last external follow-up time (no patient is
        at risk at it; the estimate is NaN), no event happened by it (discrimination is NaN), or it is
        beyond the development follow-up (the model's predictions there are extrapolations); ``""`` otherwise.
    """
    last = float(np.max(time))
    if horizon > last:
        return f"horizon {horizon:g} is beyond the last external follow-up time ({last:g}): not estimable"
    if event is not None and not (np.asarray(event)[np.asarray(time) <= horizon] == 1).any():
        return f"no event by horizon {horizon:g}: discrimination at it is not estimable"
    if development_follow_up is not None and horizon > development_follow_up:
        return (
            f"horizon {horizon:g} is beyond the development follow-up ({development_follow_up:g}): "
            "the predictions are extrapolated"
        )
    return ""


def survival_inputs(
    time: np.ndarray, event: np.ndarray, weights: np.ndarray | None, *predictions: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Checked float copies of a cohort's outcome, case weights and predictions.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times (non-negative) and event indicators (1 = event, 0 = censored).
    weights
        ``(B, n)`` non-negative case weights, or None for a single row of ones.
    *predictions
        Arrays with ``n`` rows (risk scores, predicted risks, ``(n, K)`` risks on a time grid).

    Returns
    -------
    tuple[numpy.ndarray, ...]
        ``time, event, weights, *predictions``, with ``weights`` of shape ``(B, n)``.

    Raises
    ------
    ValueError
        On mismatched lengths, events other than 0/1, non-finite values or negative weights, saying which.
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    predictions = tuple(np.asarray(p, dtype=float) for p in predictions)
    if time.ndim != 1 or event.shape != time.shape or any(p.shape[:1] != time.shape for p in predictions):
        shapes = ", ".join(str(a.shape) for a in (time, event, *predictions))
        raise ValueError(f"time, event and predictions must have one entry per patient; got shapes {shapes}")
    if not np.isin(event, (0.0, 1.0)).all():
        raise ValueError("event must be 0 (censored) or 1 (event)")
    if not (np.isfinite(time).all() and (time >= 0).all()):
        raise ValueError("time must be finite and non-negative")
    if not all(np.isfinite(p).all() for p in predictions):
        raise ValueError("predictions must be finite: drop patients without a prediction (and report them) first")
    w = np.ones((1, time.size)) if weights is None else np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != time.size or not (w >= 0).all():
        raise ValueError(f"weights must be non-negative with shape (B, {time.size}); got {w.shape}")
    return time, event, w, *predictions


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (nobody at risk: the curve stays flat)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=float), where=denominator > 0)
