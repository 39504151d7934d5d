"""Fitting one Cox model with lifelines, tightly enough to agree with R's ``coxph`` to 1e-6, or saying why it cannot be.

Every Cox fit of the analyses goes through :func:`try_fit_cox`: a model that cannot be estimated (no events, a column
with one value, a 0/1 column with no events in one level, or a fit that does not converge) gives the reason in words,
never an exception or a silent NaN.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy import stats

FIT_OPTIONS = {"precision": 1e-14, "r_precision": 1e-15, "max_steps": 200}
_TIME, _EVENT = "__time__", "__event__"


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
    ConvergenceWarning
        Re-raised by lifelines when the likelihood is monotone (a term separates events); callers decide.
    """
    return wald_table(fitted_cox(time, event, design, strata), alpha)


def wald_table(fitter: CoxPHFitter, alpha: float = 0.05) -> pd.DataFrame:
    """Wald statistics per term of a lifelines fit (see :func:`fit_cox`)."""
    coef = fitter.params_.to_numpy()
    se = fitter.standard_errors_.to_numpy()
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
        index=pd.Index(fitter.params_.index, name="term"),
    )


def fitted_cox(
    time: np.ndarray, event: np.ndarray, design: pd.DataFrame, strata: pd.DataFrame | None = None
) -> CoxPHFitter:
    """The lifelines fit behind :func:`fit_cox` (log-likelihood, covariance), Efron ties, tight convergence."""
    frame = design.reset_index(drop=True).assign(**{_TIME: time, _EVENT: event})
    strata_columns = None
    if strata is not None:
        strata_columns = [f"__stratum_{i}__" for i in range(strata.shape[1])]
        frame[strata_columns] = strata.to_numpy()
    return CoxPHFitter().fit(
        frame, duration_col=_TIME, event_col=_EVENT, strata=strata_columns, fit_options=FIT_OPTIONS
    )


def try_fit_cox(
    time: np.ndarray, event: np.ndarray, design: pd.DataFrame, strata: pd.DataFrame | None = None
) -> tuple[CoxPHFitter | None, str | None]:
    """:func:`fitted_cox`, or why the model cannot be estimated.

    Returns
    -------
    tuple[lifelines.CoxPHFitter | None, str | None]
        The fit and None; or None and the reason (:func:`inestimable`'s, or ``the fit did not converge (monotone
        likelihood?): <lifelines' message>`` when lifelines warns that it did not converge or gives up).
    """
    problem = inestimable(design, event)
    if problem is not None:
        return None, problem
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            return fitted_cox(time, event, design, strata), None
    except (ConvergenceWarning, ConvergenceError) as warning:
        return None, f"the fit did not converge (monotone likelihood?): {str(warning).splitlines()[0]}"


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
