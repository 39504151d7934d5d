"""Fitting one Cox model (Efron ties) as R's ``coxph`` does, or saying why it cannot be estimated.

Every Cox fit of the analyses goes through :func:`try_fit_cox`: a model that cannot be estimated (no events, a column
with one value, a 0/1 column with no events in one level, or a fit that does not converge) gives the reason in words,
never an exception or a silent NaN. The fit is :func:`tmesurv.models.cox.batched.fit_cox_batch` on one cohort (R's
``coxfit6`` iteration, vectorised over patients): at n = 20,000 about 100 times faster than lifelines' Python loop
over event times (``benchmarks/bench_batched_cox.py``), and equal to R's ``coxph`` (tests/models/cox).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tmesurv.models.cox.batched import fit_cox_batch

TOLERANCE = 1e-12  # relative change in the partial log-likelihood at convergence (R's eps is 1e-9)
MAX_ITERATIONS = 50


@dataclass(frozen=True)
class CoxFit:
    """One Cox fit: log hazard ratios by term, their covariance and the partial log-likelihood."""

    coef: pd.Series
    covariance: pd.DataFrame
    loglik: float

    @property
    def se(self) -> pd.Series:
        """Standard errors, the square roots of the covariance's diagonal."""
        return pd.Series(np.sqrt(np.diag(self.covariance.to_numpy())), index=self.coef.index)


class CoxFitError(ArithmeticError):
    """A Cox model that cannot be estimated: the likelihood is monotone, or the fit did not converge."""


def fit_cox(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    alpha: float = 0.05,
    strata: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fit a Cox model with Efron ties and return Wald statistics per term.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event).
    design
        One numeric column per term; column names become term names.
    strata
        Columns whose combinations get their own baseline hazard (R's ``strata()``); None for one baseline.
    alpha
        One minus the confidence level of the hazard-ratio interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by term, columns ``coef, se, hr, hr_lower, hr_upper, p``.

    Raises
    ------
    CoxFitError
        When the model cannot be estimated (see :func:`try_fit_cox` for the reason as text).
    """
    return wald_table(fitted_cox(time, event, design, strata), alpha)


def wald_table(fit: CoxFit, alpha: float = 0.05) -> pd.DataFrame:
    """Wald statistics per term of a fit (see :func:`fit_cox`)."""
    coef, se = fit.coef.to_numpy(), fit.se.to_numpy()
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame(
        {
            "coef": coef,
            "se": se,
            "hr": np.exp(coef),
            "hr_lower": np.exp(coef - z * se),
            "hr_upper": np.exp(coef + z * se),
            "p": 2 * stats.norm.sf(np.abs(coef / se)),
        },
        index=pd.Index(fit.coef.index, name="term"),
    )


def fitted_cox(time: np.ndarray, event: np.ndarray, design: pd.DataFrame, strata: pd.DataFrame | None = None) -> CoxFit:
    """The fit behind :func:`fit_cox`: Efron ties, R's Newton-Raphson iteration, converged to :data:`TOLERANCE`.

    Raises
    ------
    CoxFitError
        When the likelihood is monotone (a term separates the events), the information is singular, or the
        iteration does not converge.
    """
    codes = None if strata is None else strata.groupby(list(strata.columns), sort=True).ngroup().to_numpy()[None]
    batch = fit_cox_batch(
        np.asarray(time, dtype=float)[None],
        np.asarray(event, dtype=float)[None],
        design.to_numpy(dtype=float)[None],
        max_iter=MAX_ITERATIONS,
        tol=TOLERANCE,
        strata=codes,
    )
    if batch.monotone[0]:
        raise CoxFitError("a coefficient diverges (monotone likelihood: a term separates the events)")
    if not np.isfinite(batch.coef[0]).all():
        raise CoxFitError("the information matrix is singular (collinear terms?)")
    if not batch.converged[0]:
        raise CoxFitError(f"the log-likelihood still changed after {MAX_ITERATIONS} Newton iterations")
    terms = design.columns
    covariance = pd.DataFrame(batch.covariance[0], index=terms, columns=terms)
    return CoxFit(pd.Series(batch.coef[0], index=terms), covariance, float(batch.loglik[0]))


def try_fit_cox(
    time: np.ndarray, event: np.ndarray, design: pd.DataFrame, strata: pd.DataFrame | None = None
) -> tuple[CoxFit | None, str | None]:
    """:func:`fitted_cox`, or why the model cannot be estimated.

    Returns
    -------
    tuple[CoxFit | None, str | None]
        The fit and None; or None and the reason (:func:`inestimable`'s, or ``the fit did not converge: <why>`` when
        the iteration finds a diverging coefficient, a singular information or runs out of iterations).
    """
    problem = inestimable(design, event)
    if problem is not None:
        return None, problem
    try:
        return fitted_cox(time, event, design, strata), None
    except CoxFitError as error:
        return None, f"the fit did not converge: {error}"


def inestimable(design: pd.DataFrame, event: np.ndarray) -> str | None:
    """Why a Cox model of ``design`` cannot be estimated, found before fitting it; None when nothing is wrong.

    No events, a column with one value, or a 0/1 column with no events in one of its levels (a monotone likelihood).
    """
    if event.sum() == 0:
        return "no events"
    for column in design.columns:
        values = design[column].to_numpy()
        if np.ptp(values) == 0:
            return f"'{column}' takes one value only"
        if np.isin(values, (0.0, 1.0)).all() and min(event[values == 1].sum(), event[values == 0].sum()) == 0:
            return f"no events in one level of '{column}' (monotone likelihood)"
    return None
