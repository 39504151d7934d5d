"""Vectorised bootstrap: resampling counts for all replicates at once, percentile intervals, and the output rows.

A bootstrap resample of n patients is stored as its counts: row b of a ``(B, n)`` integer matrix says how often each
patient was drawn into replicate b. The counts come from one seeded index matrix (``rng.integers(0, n, (B, n))``,
drawn within strata when given) and are used as case weights, so every estimator in :mod:`tmesurv.validation` is
evaluated for all B replicates in one vectorised pass over a ``(B, n)`` array: there is no Python loop over
replicates and no refit per replicate. Estimators that need the resampled data themselves (the Cox fits of the
calibration slope and curve) turn the counts back into an index matrix with :func:`counts_to_indices` and fit all
replicates at once with :func:`tmesurv.models.cox.batched.fit_cox_batch`.

Weighting by resampling counts gives the same value as evaluating the estimator on the resampled data set (a
patient drawn twice is two patients with identical data); the tests check this for every estimator.

Intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13) of the replicates; replicates where the metric
is undefined (NaN, e.g. no event before the horizon in that resample) are left out and counted in the row's note.
"""

from __future__ import annotations

import math

import numpy as np

VALIDATION_COLUMNS = ["metric", "group", "horizon", "estimate", "lower", "upper", "n", "events", "note"]
ALL_PATIENTS = "all"


def resample_counts(
    n: int, n_boot: int, seed: int | np.random.Generator, strata: np.ndarray | None = None
) -> np.ndarray:
    """Counts of each patient in ``n_boot`` bootstrap resamples, drawn from one index matrix.

    Parameters
    ----------
    n
        Number of patients.
    n_boot
        Number of bootstrap replicates B.
    seed
        Seed (or numpy Generator) of the resampling; the same seed gives the same counts.
    strata
        ``(n,)`` labels: resample within each stratum (e.g. arm, so that every replicate keeps the arm sizes).

    Returns
    -------
    numpy.ndarray
        ``(B, n)`` integer counts; every row sums to ``n`` (and, with strata, to each stratum's size within it).
    """
    rng = np.random.default_rng(seed)
    members = [np.arange(n)] if strata is None else [np.flatnonzero(strata == level) for level in np.unique(strata)]
    draws = np.concatenate([group[rng.integers(0, group.size, (n_boot, group.size))] for group in members], axis=1)
    flat = (draws + n * np.arange(n_boot)[:, None]).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)


def counts_to_indices(counts: np.ndarray) -> np.ndarray:
    """The index matrix of resampled patients, ``(B, n)``, from counts whose rows all sum to ``n``.

    Parameters
    ----------
    counts
        ``(B, m)`` non-negative integer counts with equal row sums ``n``.

    Returns
    -------
    numpy.ndarray
        ``(B, n)`` patient indices, sorted within each row (their order does not matter to any estimator).

    Raises
    ------
    ValueError
        If the counts are not integers or their row sums differ.
    """
    counts = np.asarray(counts)
    totals = counts.sum(axis=1)
    if not np.array_equal(counts, np.round(counts)) or (totals != totals[0]).any():
        raise ValueError("weights must be integer resampling counts with the same total in every row")
    n_rows, m = counts.shape
    return np.repeat(np.tile(np.arange(m), n_rows), counts.astype(int).ravel()).reshape(n_rows, int(totals[0]))


def with_estimate(n: int, counts: np.ndarray | None) -> np.ndarray:
    """Weights whose first row (all ones) gives the estimate and whose other rows are the bootstrap counts.

    Parameters
    ----------
    n
        Number of patients.
    counts
        ``(B, n)`` bootstrap counts, or None for the estimate alone.

    Returns
    -------
    numpy.ndarray
        ``(1 + B, n)`` weights (``(1, n)`` without counts).
    """
    ones = np.ones((1, n))
    return ones if counts is None else np.concatenate([ones, counts], axis=0)


def percentile_interval(replicates: np.ndarray, alpha: float = 0.05) -> tuple[float, float, int]:
    """Percentile interval of the finite bootstrap replicates.

    Parameters
    ----------
    replicates
        ``(B,)`` metric values, one per replicate (NaN where undefined).
    alpha
        One minus the confidence level.

    Returns
    -------
    tuple[float, float, int]
        Lower and upper limits (NaN without finite replicates) and the number of undefined replicates.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return math.nan, math.nan, int(replicates.size)
    lower, upper = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lower), float(upper), int(replicates.size - finite.size)


def metric_row(
    metric: str,
    values: np.ndarray | float,
    *,
    n: int,
    events: int,
    horizon: float = math.nan,
    group: str = ALL_PATIENTS,
    note: str = "",
    alpha: float = 0.05,
) -> dict:
    """One row of ``validation.csv`` from an estimate and (optionally) its bootstrap replicates.

    Parameters
    ----------
    metric
        Metric name (e.g. ``"harrell_c"``).
    values
        The estimate, or ``(1 + B,)`` values from :func:`with_estimate` weights: the estimate, then the replicates.
    n, events
        Patients and events the metric is computed on.
    horizon
        Prediction horizon (NaN for metrics without one).
    group
        ``"all"``, or the group the row is about (a quantile group of predicted benefit, a covariate).
    note
        Message for the ``note`` column (e.g. a horizon beyond follow-up); undefined replicates of a defined
        estimate are counted in it.
    alpha
        One minus the confidence level.

    Returns
    -------
    dict
        Keys ``VALIDATION_COLUMNS``; ``lower``/``upper`` NaN without replicates.
    """
    values = np.atleast_1d(np.asarray(values, dtype=float))
    lower, upper, undefined = percentile_interval(values[1:], alpha) if values.size > 1 else (math.nan, math.nan, 0)
    if undefined and np.isfinite(values[0]):
        note = "; ".join(filter(None, [note, f"{undefined} of {values.size - 1} bootstrap replicates undefined"]))
    return {
        "metric": metric,
        "group": group,
        "horizon": horizon,
        "estimate": float(values[0]),
        "lower": lower,
        "upper": upper,
        "n": n,
        "events": events,
        "note": note,
    }
