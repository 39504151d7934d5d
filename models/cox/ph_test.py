"""Proportional-hazards tests of fitted Cox models, equal to R's ``survival::cox.zph`` (survival >= 3.0).

The Grambsch-Therneau test asks whether a covariate's log hazard ratio changes with a function ``g`` of time. To a
model with coefficients ``beta`` on covariates ``x`` add the terms ``x g(t)``; the test is the score test of their
coefficients being 0 at ``(beta, 0)``, with the full ``2p x 2p`` information of the enlarged model (survival >= 3.0
computes this exactly, one pass over the risk sets as in R's C routine ``zph1``; survival 2.x approximated it from
the fit's variance, and lifelines' ``proportional_hazard_test`` follows that older approximation). Ties are handled
as in the fit (Efron by default), and each stratum of a stratified model has its own risk sets.

* ``g`` (R's ``transform``): ``km`` (the default) is ``1 - S(t-)``, the pooled Kaplan-Meier estimate of all patients
  (strata ignored, as R does) just before ``t``; ``rank`` the ranks of all follow-up times (ties averaged);
  ``identity`` the time itself. ``g`` is centred at its mean over the events. A test is unchanged by a linear change
  of ``g``, so a model fitted in months gives R's numbers for a model fitted in days.
* Per term (one design column, 1 df): the score of that column's time term alone, against the information of
  ``(beta, its time term)``; ``GLOBAL``: all ``p`` time terms together (``p`` df). P-values from the chi-square.
* Scaled Schoenfeld residuals (what ``plot(cox.zph(fit))`` draws against the transformed time): per event, its
  Schoenfeld residual (covariates minus the risk-set mean, Efron-averaged over a tie) times the inverse of the
  average information per event (per stratum, over the covariates that vary in it; R's ``vmean``), plus ``beta``.
  A covariate constant within a stratum has no residual (NaN) for that stratum's events, as in R.

The statistic uses the coefficients of the fit being tested; nothing is refitted. Cost: ``O(n p^2)`` per model
(risk-set sums are reverse cumulative sums over the time-sorted patients of each stratum).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from tmesurv.models.cox.km import fit_km

Transform = Literal["km", "rank", "identity"]
TRANSFORMS: tuple[str, ...] = ("km", "rank", "identity")
GLOBAL = "GLOBAL"
_RCOND = np.finfo(float).eps  # R's solve(): a smaller reciprocal condition number is a singular system


@dataclass(frozen=True)
class ZphTest:
    """Proportional-hazards tests of one Cox model (R's ``cox.zph`` value).

    Attributes
    ----------
    chisq, df, p
        ``(p + 1,)``: one per covariate (design column), then the global test. ``chisq`` and ``p`` are NaN where the
        information matrix of the test is singular (R's ``solve`` stops there).
    time
        ``(d,)`` event times, ordered by stratum, then time (R's ``$time``).
    transformed_time
        ``(d,)`` ``g`` at those times, before centring (R's ``$x``).
    residuals
        ``(d, p)`` scaled Schoenfeld residuals plus the coefficient (R's ``$y``).
    """

    chisq: np.ndarray
    df: np.ndarray
    p: np.ndarray
    time: np.ndarray
    transformed_time: np.ndarray
    residuals: np.ndarray


@dataclass(frozen=True)
class _StratumTerms:
    """One stratum's share of the score and information of the time terms, and its Schoenfeld residuals."""

    score: np.ndarray  # (p,) score of the time terms
    information: np.ndarray  # (2p, 2p)
    schoenfeld: np.ndarray  # (d_s, p)
    used: np.ndarray  # (p,) events of the stratum for a covariate that varies in it, else 0


def cox_zph(
    time: np.ndarray,
    event: np.ndarray,
    covariates: np.ndarray,
    coef: np.ndarray,
    strata: np.ndarray | None = None,
    transform: Transform = "km",
    ties: Literal["efron", "breslow"] = "efron",
) -> ZphTest:
    """Grambsch-Therneau tests of proportional hazards for a fitted Cox model, as R's ``cox.zph``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    covariates
        ``(n, p)`` the design the model was fitted on.
    coef
        ``(p,)`` the fitted log hazard ratios.
    strata
        ``(n,)`` stratum codes (sorted codes order the residuals as R's factor levels); None for one stratum.
    transform
        ``"km"``, ``"rank"`` or ``"identity"`` (see the module docstring).
    ties
        As in the fit: ``"efron"`` or ``"breslow"``.

    Returns
    -------
    ZphTest
        Per covariate and global chi-square, df and P-value, and the scaled Schoenfeld residuals.

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite values, events other than 0/1, no events, or an unknown transform or ties.
    """
    time, event, x, coef, stratum = _validated(time, event, covariates, coef, strata, transform, ties)
    transformed = transformed_times(time, event, transform)
    centred_g = transformed - transformed[event == 1].mean()
    order = np.lexsort((time, stratum))
    x = x - x.mean(axis=0)  # R recentres for stable sums; the statistics do not change
    boundaries = np.flatnonzero(np.diff(stratum[order])) + 1
    with_events = [rows for rows in np.split(order, boundaries) if event[rows].any()]  # the others add nothing
    parts = [
        _stratum_terms(time[rows], event[rows], x[rows], coef, centred_g[rows], ties == "efron") for rows in with_events
    ]
    information = sum(part.information for part in parts)
    chisq = _score_tests(sum(part.score for part in parts), information)
    n_var = x.shape[1]
    df = np.r_[np.ones(n_var), n_var]
    residuals = _scaled_residuals(parts, information[:n_var, :n_var], coef)
    events = order[event[order] == 1]
    return ZphTest(chisq, df, stats.chi2.sf(chisq, df), time[events], transformed[events], residuals)


def transformed_times(time: np.ndarray, event: np.ndarray, transform: Transform) -> np.ndarray:
    """``g(t)`` for every patient, before centring: R's ``cox.zph`` transforms ``km``, ``rank`` and ``identity``."""
    if transform == "identity":
        return time.astype(float)
    if transform == "rank":
        return stats.rankdata(time)
    curve = fit_km(time, event)
    before = np.searchsorted(curve["time"].to_numpy(), time, side="left")  # distinct times strictly before t
    return 1.0 - np.r_[1.0, curve["survival"].to_numpy()][before]


def _validated(
    time: np.ndarray,
    event: np.ndarray,
    covariates: np.ndarray,
    coef: np.ndarray,
    strata: np.ndarray | None,
    transform: str,
    ties: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    x, coef = np.asarray(covariates, dtype=float), np.asarray(coef, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    stratum = np.zeros(time.shape, dtype=int) if strata is None else np.asarray(strata)
    if transform not in TRANSFORMS or ties not in ("efron", "breslow"):
        raise ValueError(
            f"transform must be one of {TRANSFORMS} and ties 'efron' or 'breslow'; got {transform!r}, {ties!r}"
        )
    if time.ndim != 1 or event.shape != time.shape or stratum.shape != time.shape or x.shape[0] != time.size:
        raise ValueError(
            f"expected time, event, strata (n,) and covariates (n, p); got {time.shape}, {event.shape}, "
            f"{stratum.shape}, {x.shape}"
        )
    if coef.shape != (x.shape[1],):
        raise ValueError(f"expected {x.shape[1]} coefficients, one per covariate; got shape {coef.shape}")
    if not (np.isfinite(time).all() and np.isfinite(x).all() and np.isfinite(coef).all()):
        raise ValueError("time, covariates and coefficients must be finite")
    if not np.isin(event, (0.0, 1.0)).all() or event.sum() == 0:
        raise ValueError("event must be 0 or 1, with at least one event")
    return time, event.astype(int), x, coef, stratum


def _stratum_terms(
    time: np.ndarray, event: np.ndarray, x: np.ndarray, coef: np.ndarray, g: np.ndarray, efron: bool
) -> _StratumTerms:
    """Score and information of the time terms over one stratum's event times (patients sorted by time)."""
    eta = x @ coef
    w = np.exp(eta - eta.max())
    wx = w[:, None] * x
    wxx = wx[:, :, None] * x[:, None, :]
    starts = np.flatnonzero(np.r_[True, time[1:] != time[:-1]])  # first patient of each distinct time
    tie_group = np.cumsum(np.r_[True, time[1:] != time[:-1]]) - 1
    dead = event == 1

    def per_time(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts, axis=0)

    def at_risk(values: np.ndarray) -> np.ndarray:
        return np.cumsum(per_time(values)[::-1], axis=0)[::-1]

    group = tie_group[dead]
    first_of_group = np.searchsorted(group, group, side="left")
    deaths = per_time(event)[group]
    share = (np.arange(group.size) - first_of_group) / deaths if efron else np.zeros(group.size)
    denominator = at_risk(w)[group] - share * per_time(w * dead)[group]
    mean = (at_risk(wx)[group] - share[:, None] * per_time(wx * dead[:, None])[group]) / denominator[:, None]
    second = at_risk(wxx)[group] - share[:, None, None] * per_time(wxx * dead[:, None, None])[group]
    variance = second / denominator[:, None, None] - mean[:, :, None] * mean[:, None, :]
    g_dead = g[dead]
    within = variance.sum(axis=0)
    cross = np.einsum("i,ijk->jk", g_dead, variance)
    information = np.block([[within, cross], [cross, np.einsum("i,ijk->jk", g_dead**2, variance)]])
    tie_starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    tie_mean = np.add.reduceat(mean, tie_starts, axis=0) / np.diff(np.r_[tie_starts, group.size])[:, None]
    schoenfeld = x[dead] - np.repeat(tie_mean, np.diff(np.r_[tie_starts, group.size]), axis=0)
    used = np.where(np.ptp(x, axis=0) > 0, dead.sum(), 0)
    return _StratumTerms(g_dead @ (x[dead] - mean), information, schoenfeld, used)


def _score_tests(score: np.ndarray, information: np.ndarray) -> np.ndarray:
    """Per covariate (its time term with all the model's terms), then global, score statistics."""
    n_var = score.size
    chisq = np.empty(n_var + 1)
    for j in range(n_var):
        keep = np.r_[np.arange(n_var), n_var + j]
        chisq[j] = _quadratic_form(information[np.ix_(keep, keep)], np.r_[np.zeros(n_var), score[j]])
    chisq[n_var] = _quadratic_form(information, np.r_[np.zeros(n_var), score])
    return chisq


def _quadratic_form(matrix: np.ndarray, vector: np.ndarray) -> float:
    """``v' M^-1 v``; NaN when ``M`` is singular."""
    return np.nan if _singular(matrix) else float(vector @ np.linalg.solve(matrix, vector))


def _singular(matrix: np.ndarray) -> bool:
    """R's ``solve`` rule: a reciprocal condition number (1-norm) below machine epsilon."""
    with np.errstate(all="ignore"):
        condition = np.linalg.cond(matrix, 1)
    return not np.isfinite(condition) or 1.0 / condition < _RCOND


def _scaled_residuals(parts: list[_StratumTerms], within: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Schoenfeld residuals scaled by the average information per event (per stratum's varying covariates)."""
    used = np.array([part.used for part in parts])
    events = np.minimum(used[:, :, None], used[:, None, :]).sum(axis=0)
    average = within / np.where(events == 0, 1, events)
    blocks = []
    for part in parts:
        varying = part.used > 0
        block = np.full(part.schoenfeld.shape, np.nan)
        if varying.any() and not _singular(average[np.ix_(varying, varying)]):
            block[:, varying] = np.linalg.solve(average[np.ix_(varying, varying)], part.schoenfeld[:, varying].T).T
        blocks.append(block)
    return np.vstack(blocks) + coef


PH_TEST_COLUMNS = ["endpoint", "analysis", "subgroup", "model", "term", "transform", "chisq", "df", "p"]
PH_RESIDUAL_COLUMNS = ["endpoint", "analysis", "subgroup", "term", "transform", "time", "transformed_time", "residual"]
RESIDUAL_ANALYSES = ("treatment", "treatment_stratified", "interaction")


@dataclass(frozen=True)
class FittedCox:
    """One Cox model of a results table: the labels of its rows, the data it was fitted on, and its estimate.

    Attributes
    ----------
    endpoint, analysis, subgroup
        The keys of its rows in ``cox.csv``.
    time, event
        ``(n,)`` follow-up times (months) and event indicators.
    design
        One column per term, as fitted.
    strata
        The stratum columns of a stratified fit, else None.
    coef
        ``(p,)`` the fitted coefficients; None when the model was not estimated.
    """

    endpoint: str
    analysis: str
    subgroup: str
    time: np.ndarray
    event: np.ndarray
    design: pd.DataFrame
    strata: pd.DataFrame | None
    coef: np.ndarray | None

    def labels(self) -> dict[str, str]:
        """The row keys other than the term."""
        return {"endpoint": self.endpoint, "analysis": self.analysis, "subgroup": self.subgroup}

    def formula(self) -> str:
        """The model's terms as R writes them, e.g. ``arm + strata(celltype)``."""
        strata = [] if self.strata is None else [f"strata({', '.join(map(str, self.strata.columns))})"]
        return " + ".join([*map(str, self.design.columns), *strata])


def ph_tables(
    models: list[FittedCox], transforms: tuple[str, ...] = ("km",), notes: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Proportional-hazards tests of every model, and the residual points of the treatment and interaction models.

    Parameters
    ----------
    models
        The fitted models (see :class:`FittedCox`).
    transforms
        Time transforms to test with (``TRANSFORMS``); the first is the default ``km``.
    notes
        Where to append a note for a test that cannot be computed (its information matrix is singular).

    Returns
    -------
    tuple[pandas.DataFrame, pandas.DataFrame]
        ``PH_TEST_COLUMNS``: per model and transform a row per term (1 df) and a ``GLOBAL`` row (as many df as
        terms). ``model`` names the model's terms (``diagtime=Q2 + diagtime=Q3 + diagtime=Q4``): the within-arm
        models of several groupings share endpoint, analysis and subgroup, so their ``GLOBAL`` rows need it. chisq
        and p are NaN for a model that was not estimated (its note is already in the Cox notes) or whose test is
        singular. ``PH_RESIDUAL_COLUMNS``: per event and term of the ``RESIDUAL_ANALYSES`` models, the
        scaled Schoenfeld residual (NaN for a term constant within the event's stratum) against the event time and
        the transformed time.
    """
    tests, residuals = [], []
    for model in models:
        for transform in transforms:
            test = _model_test(model, transform)
            terms = [*model.design.columns, GLOBAL]
            chisq = np.full(len(terms), np.nan) if test is None else test.chisq
            p = np.full(len(terms), np.nan) if test is None else test.p
            df = np.r_[np.ones(len(terms) - 1), len(terms) - 1].astype(int)
            frame = pd.DataFrame({"term": terms, "transform": transform, "chisq": chisq, "df": df, "p": p})
            tests.append(frame.assign(**model.labels(), model=model.formula()))
            if test is not None and np.isnan(chisq).any() and notes is not None:
                notes.append(
                    f"{model.endpoint} {model.analysis} {model.subgroup}: PH test ({transform}) not computed "
                    "for some terms, its information matrix is singular (too few distinct event times?)"
                )
            if test is not None and model.analysis in RESIDUAL_ANALYSES:
                residuals.append(_residual_rows(model, transform, test))
    table = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame(columns=PH_TEST_COLUMNS)
    points = pd.concat(residuals, ignore_index=True) if residuals else pd.DataFrame(columns=PH_RESIDUAL_COLUMNS)
    return table[PH_TEST_COLUMNS], points[PH_RESIDUAL_COLUMNS]


def _model_test(model: FittedCox, transform: str) -> ZphTest | None:
    if model.coef is None:
        return None
    strata = None
    if model.strata is not None:
        strata = model.strata.groupby(list(model.strata.columns), sort=True).ngroup().to_numpy()
    return cox_zph(model.time, model.event, model.design.to_numpy(dtype=float), model.coef, strata, transform)


def _residual_rows(model: FittedCox, transform: str, test: ZphTest) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "term": term,
                "transform": transform,
                "time": test.time,
                "transformed_time": test.transformed_time,
                "residual": test.residuals[:, j],
            }
        )
        for j, term in enumerate(model.design.columns)
    ]
    return pd.concat(frames, ignore_index=True).assign(**model.labels())
