"""Calibration of predicted event probabilities at a horizon on an external cohort.

Following McLernon et al. 2023 (Ann Intern Med 176:105, "Assessing performance and clinical usefulness in prediction
models with survival outcomes") and Austin, Harrell & van Klaveren 2020 (Stat Med 39:2714, "Graphical calibration
curves and the integrated calibration index (ICI) for survival models"):

* **O/E** at horizon t: the observed risk, ``1 - S_KM(t)`` of the external cohort, over the mean predicted risk.
* **Calibration-in-the-large**: observed minus mean predicted risk (a risk difference; 0 is perfect).
* **Calibration slope**: the coefficient of a Cox regression (Efron ties) of the external outcome on the model's
  linear predictor (1 is perfect; below 1, predictions too extreme). For a proportional-hazards model the linear
  predictor and ``log(-log(1 - risk))`` differ by a constant, so either gives the same slope.
* **Smoothed calibration curve** (Austin et al. 2020): a Cox regression of the external outcome on a restricted cubic
  spline of ``log(-log(1 - risk))`` (Harrell's basis, ``rms::rcs``: 3 knots at the 10th, 50th and 90th percentiles by
  default), fitted with Efron ties; the smoothed observed risk at t of a patient is ``1 - exp(-H0(t) exp(eta))`` with
  the Efron-type baseline hazard (R's ``survfit.coxph`` default for Efron fits). **ICI** is the mean absolute difference
  between smoothed observed and predicted risk over the cohort's patients, **E50** its median, **E90** its 90th
  percentile (type-7 quantiles, as R's ``quantile``), **Emax** its maximum (McLernon et al.). The paper fits
  ``rms::cph`` and predicts with ``rms::survest``, whose looser default convergence moves the ICI by about 4e-7 on the
  reference data; the tests match ``survival::coxph`` with the same ``rcs`` basis and ``survfit.coxph`` to 1e-9.

The Cox fits use the full external follow-up (Austin et al.), or follow-up administratively censored at ``censor_at``
(McLernon et al. censor at the horizon). Case weights must be integer bootstrap counts for the Cox-based metrics: the
replicates are refitted all at once by :func:`tmesurv.models.cox.batched.fit_cox_batch` on the resampled data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tmesurv.models.cox.batched import fit_cox_batch
from tmesurv.validation.bootstrap import counts_to_indices
from tmesurv.validation.ipcw import followed_to, km_risk, survival_inputs

_OUTER_QUANTILE = {3: 0.10, 4: 0.05, 5: 0.05, 6: 0.05}  # Hmisc::rcspline.eval; 0.025 for 7 knots or more


def observed_risk(
    time: np.ndarray, event: np.ndarray, horizon: float, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """Kaplan-Meier risk of an event by ``horizon``, ``1 - S_KM(horizon)``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    horizon
        The time t.
    weights
        ``(B, n)`` case weights (bootstrap counts); None for the plain estimate.

    Returns
    -------
    float or numpy.ndarray
        The observed risk, or ``(B,)`` values; NaN where nobody is followed beyond ``horizon``.
    """
    time, event, w = survival_inputs(time, event, weights)
    value = km_risk(time, event, w, horizon)
    return value if weights is not None else float(value[0])


def oe_ratio(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """Observed (Kaplan-Meier) over expected (mean predicted) risk at ``horizon``.

    Parameters
    ----------
    time, event, horizon, weights
        As in :func:`observed_risk`.
    risk
        ``(n,)`` predicted probability of an event by ``horizon``.

    Returns
    -------
    float or numpy.ndarray
        O/E (1 is perfect, above 1 the model under-predicts), or ``(B,)`` values.
    """
    observed, expected = _observed_expected(time, event, risk, horizon, weights)
    value = observed / expected
    return value if weights is not None else float(value[0])


def calibration_in_the_large(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, weights: np.ndarray | None = None
) -> float | np.ndarray:
    """Observed (Kaplan-Meier) minus mean predicted risk at ``horizon``.

    Parameters
    ----------
    time, event, risk, horizon, weights
        As in :func:`oe_ratio`.

    Returns
    -------
    float or numpy.ndarray
        The difference (0 is perfect, positive: the model under-predicts), or ``(B,)`` values.
    """
    observed, expected = _observed_expected(time, event, risk, horizon, weights)
    value = observed - expected
    return value if weights is not None else float(value[0])


def calibration_slope(
    time: np.ndarray,
    event: np.ndarray,
    lp: np.ndarray,
    censor_at: float | None = None,
    weights: np.ndarray | None = None,
) -> float | np.ndarray:
    """Calibration slope: the Cox regression coefficient of the external outcome on the linear predictor.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    lp
        ``(n,)`` the model's linear predictor (or ``log(-log(1 - risk))`` of its predicted risks).
    censor_at
        Administratively censor follow-up at this time first (e.g. the horizon); None uses all follow-up.
    weights
        ``(B, n)`` integer bootstrap counts (every row summing to n); None for the plain estimate.

    Returns
    -------
    float or numpy.ndarray
        The slope (R's ``coef(coxph(Surv(time, event) ~ lp))``), or ``(B,)`` values; NaN where not estimable.
    """
    time, event, w, lp = survival_inputs(time, event, weights, lp)
    t, d, (x,) = _resampled(time, event, w, censor_at, lp)
    value = fit_cox_batch(t, d, x).coef[:, 0]
    return value if weights is not None else float(value[0])


@dataclass(frozen=True)
class CalibrationCurve:
    """A smoothed calibration curve (Austin et al. 2020) for each row of case weights.

    Attributes
    ----------
    horizon
        The time t of the predicted risks.
    grid
        ``(g,)`` predicted risks at which the curve is evaluated.
    observed
        ``(B, g)`` smoothed observed risk at the grid.
    patient_observed
        ``(B, n)`` smoothed observed risk of each patient of the (resampled) cohort.
    ici, e50, e90, emax
        ``(B,)`` mean, median, 90th percentile and maximum of ``|observed - predicted|`` over the cohort's patients.
    """

    horizon: float
    grid: np.ndarray
    observed: np.ndarray
    patient_observed: np.ndarray
    ici: np.ndarray
    e50: np.ndarray
    e90: np.ndarray
    emax: np.ndarray


def calibration_curve(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    horizon: float,
    knots: int = 3,
    weights: np.ndarray | None = None,
    grid: np.ndarray | None = None,
    censor_at: float | None = None,
) -> CalibrationCurve:
    """Smoothed calibration curve at ``horizon`` and its ICI, E50, E90 and Emax (Austin, Harrell & van Klaveren 2020).

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    risk
        ``(n,)`` predicted probability of an event by ``horizon``, strictly between 0 and 1.
    horizon
        The time t.
    knots
        Number of spline knots (3 to 7), placed at Harrell's default quantiles of ``log(-log(1 - risk))``
        (``Hmisc::rcspline.eval``'s special rules for heavily tied or few distinct values are not reproduced).
    weights
        ``(B, n)`` integer bootstrap counts; None for the plain estimate (then ``B = 1``).
    grid
        Predicted risks at which to evaluate the curve; default 100 equally spaced points from the 1st to the 99th
        percentile of ``risk``, as in the paper.
    censor_at
        Administratively censor follow-up at this time before fitting; None uses all follow-up.

    Returns
    -------
    CalibrationCurve
        Arrays with one row per row of ``weights``; NaN rows where nobody is followed beyond ``horizon``, the
        predicted risks have too few distinct values for distinct knots (a model with one binary term), or the
        spline Cox model cannot be fitted.
    """
    time, event, w, risk = survival_inputs(time, event, weights, risk)
    if not ((risk > 0) & (risk < 1)).all():
        raise ValueError("predicted risks must be strictly between 0 and 1 for log(-log(1 - risk))")
    if not 3 <= knots <= 7:
        raise ValueError(f"knots must be between 3 and 7, not {knots}")
    grid = np.linspace(*np.quantile(risk, [0.01, 0.99]), 100) if grid is None else np.asarray(grid, dtype=float)
    t, d, (predicted,) = _resampled(time, event, w, censor_at, risk)
    x = _cloglog(predicted)
    knot_values = np.quantile(x, _knot_quantiles(knots), axis=1).T
    distinct = (np.diff(knot_values, axis=1) > 0).all(axis=1)  # too few distinct risks (one binary term): no curve
    knot_values = np.where(distinct[:, None], knot_values, np.arange(knots))  # placeholder knots, masked below
    basis = _rcs_basis(x, knot_values)
    coef = fit_cox_batch(t, d, basis).coef
    eta = np.einsum("bnp,bp->bn", basis, coef)
    eta_grid = np.einsum(
        "bgp,bp->bg", _rcs_basis(np.broadcast_to(_cloglog(grid), (x.shape[0], grid.size)), knot_values), coef
    )
    shift = eta.max(axis=1, keepdims=True)  # exp() cannot overflow; the hazard is on the same shifted scale
    hazard = _efron_cumulative_hazard(t, d, eta - shift, horizon)[:, None]
    estimable = (followed_to(time, w, horizon) & distinct)[:, None]
    patient_observed, observed = (
        np.where(estimable, 1 - np.exp(-hazard * np.exp(linear - shift)), np.nan) for linear in (eta, eta_grid)
    )
    error = np.abs(patient_observed - predicted)
    e50, e90 = np.quantile(error, [0.5, 0.9], axis=1)
    return CalibrationCurve(horizon, grid, observed, patient_observed, error.mean(axis=1), e50, e90, error.max(axis=1))


def _observed_expected(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, horizon: float, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(B,)`` Kaplan-Meier risk and weighted mean predicted risk at ``horizon``."""
    time, event, w, risk = survival_inputs(time, event, weights, risk)
    return km_risk(time, event, w, horizon), (w @ risk) / w.sum(axis=1)


def _resampled(
    time: np.ndarray, event: np.ndarray, w: np.ndarray, censor_at: float | None, *columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``(B, n)`` resampled (and optionally administratively censored) time, event and columns from the counts."""
    rows = counts_to_indices(w)
    t, d = time[rows], event[rows]
    if censor_at is not None:
        d = np.where(t > censor_at, 0.0, d)
        t = np.minimum(t, censor_at)
    return t, d, [column[rows] for column in columns]


def _cloglog(risk: np.ndarray) -> np.ndarray:
    return np.log(-np.log1p(-risk))


def _knot_quantiles(knots: int) -> np.ndarray:
    """Harrell's default knot quantiles (``Hmisc::rcspline.eval``): equally spaced between the outer quantiles."""
    outer = _OUTER_QUANTILE.get(knots, 0.025)
    return np.linspace(outer, 1 - outer, knots)


def _rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted cubic spline basis ``(B, n, K - 1)`` of ``x`` ``(B, n)`` with knots ``(B, K)``.

    The columns are ``x`` and, for ``j = 1 .. K - 2``, Harrell's truncated-power terms scaled by
    ``(k_K - k_1)^2`` (``Hmisc::rcspline.eval(norm = 2, inclx = TRUE)``, what ``rms::rcs`` uses).
    """
    k = knots[:, None, :]
    last, before_last = k[..., -1], k[..., -2]

    def cube(v: np.ndarray) -> np.ndarray:
        return np.maximum(v, 0.0) ** 3

    x3 = x[..., None]
    terms = (
        cube(x3 - k[..., :-2])
        - cube(x3 - before_last[..., None]) * (last[..., None] - k[..., :-2]) / (last - before_last)[..., None]
        + cube(x3 - last[..., None]) * (before_last[..., None] - k[..., :-2]) / (last - before_last)[..., None]
    ) / ((last - k[..., 0]) ** 2)[..., None]
    return np.concatenate([x3, terms], axis=-1)


def _efron_cumulative_hazard(time: np.ndarray, event: np.ndarray, eta: np.ndarray, horizon: float) -> np.ndarray:
    """``(B,)`` baseline cumulative hazard at ``horizon`` of Cox fits with linear predictors ``eta`` ``(B, n)``.

    The Efron-type estimator of R's ``survfit.coxph`` (``ctype = 2``): a tie group of m events at time s with
    risk-set sum ``R(s)`` of ``exp(eta)`` and event sum ``E(s)`` adds ``sum_{k<m} 1 / (R(s) - (k/m) E(s))``.
    """
    order = np.lexsort((1.0 - event, time), axis=1)
    t, d = np.take_along_axis(time, order, axis=1), np.take_along_axis(event, order, axis=1)
    w = np.exp(np.take_along_axis(eta, order, axis=1))
    n_rep, n = t.shape
    positions = np.broadcast_to(np.arange(n), (n_rep, n))
    first = np.ones((n_rep, n), dtype=bool)
    first[:, 1:] = t[:, 1:] != t[:, :-1]
    start = np.maximum.accumulate(np.where(first, positions, 0), axis=1)
    rows = np.arange(n_rep)[:, None]
    risk_sum = np.zeros((n_rep, n + 1))
    np.cumsum(w[:, ::-1], axis=1, out=risk_sum[:, -2::-1])
    event_count = np.zeros((n_rep, n + 1))
    np.cumsum(d, axis=1, out=event_count[:, 1:])
    group_events = _group_total(event_count, first, start, rows)
    group_risk = risk_sum[rows, start]
    event_sum = group_risk - risk_sum[rows, start + group_events.astype(int)]
    share = np.divide(positions - start, group_events, out=np.zeros((n_rep, n)), where=d > 0)
    increments = np.divide(d, group_risk - share * event_sum, out=np.zeros((n_rep, n)), where=d > 0)
    return np.where(t <= horizon, increments, 0.0).sum(axis=1)


def _group_total(cumulative: np.ndarray, first: np.ndarray, start: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``(B, n)`` total of a counted quantity over each patient's tie group, from its cumulative sum."""
    n = first.shape[1]
    last = np.ones_like(first)
    last[:, :-1] = first[:, 1:]
    positions = np.broadcast_to(np.arange(n), first.shape)
    stop = np.minimum.accumulate(np.where(last, positions + 1, n)[:, ::-1], axis=1)[:, ::-1]
    return cumulative[rows, stop] - cumulative[rows, start]
