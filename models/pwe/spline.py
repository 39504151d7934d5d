"""The treatment hazard ratio as a smooth curve over a continuous biomarker, without dichotomising it.

A cubic B-spline basis ``B(x)`` of the biomarker (scikit-learn's ``SplineTransformer``: ``bayes.spline_knots`` knots
at quantiles, the constant dropped, linear beyond the boundary knots) enters the PWE model twice: as the biomarker's
main effect and multiplied by the arm. The treatment log hazard ratio at biomarker value ``x`` is then
``b_arm + B(x) . g`` with ``g`` the arm x spline coefficients; every posterior draw gives a curve, summarised pointwise
by its median and a 95% equal-tailed credible band.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
from sklearn.preprocessing import SplineTransformer

from tmesurv.errors import InputError
from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.pwe.diagnostics import CI_PROB, count_divergences, diagnostics, probability_below_zero
from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

CURVE_COLUMNS = ["biomarker", "value", "hr", "lower", "upper", "prob_hr_below_1"]
DEGREE = 3
GRID_QUANTILES = (0.01, 0.99)


@dataclass
class HrCurve:
    """The treatment-HR curve (tidy table), the fit, the spline basis, and how many patients were left out."""

    table: pd.DataFrame
    idata: az.InferenceData
    basis: SplineTransformer
    excluded: int


def fit_hr_curve(
    time: np.ndarray,
    event: np.ndarray,
    arm: np.ndarray,
    values: np.ndarray,
    settings: PweSettings,
    sampler: SamplerSettings,
    knots: int,
    biomarker: str = "biomarker",
    grid: np.ndarray | None = None,
) -> HrCurve:
    """Fit arm, a spline of the biomarker and arm x spline; return the treatment HR over the biomarker.

    Parameters
    ----------
    time, event
        Follow-up times (months) and event indicators (1 = event).
    arm
        1 = treated, 0 = control.
    values
        The continuous biomarker; patients with a missing value are left out and counted.
    settings
        Intervals and priors (``coef_sd`` on every standardised spline coefficient).
    sampler
        Sampler settings.
    knots
        Knots of the B-spline basis, at quantiles of the biomarker (``bayes.spline_knots``).
    biomarker
        Name of the biomarker, for the table and the design's term names.
    grid
        Biomarker values at which to give the HR; default the distinct values among 50 percentiles from the 1st to
        the 99th.

    Returns
    -------
    HrCurve
        ``table`` with columns ``CURVE_COLUMNS``: per grid value the posterior median HR (treated vs control), the
        95% band and P(HR < 1); ``attrs`` holds ``divergences``, ``converged`` (every coefficient passes the rule of
        :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe`), ``n`` and ``excluded``.

    Raises
    ------
    InputError
        If the lengths differ, the arm is not 0/1, or the biomarker has too few distinct values for the basis.
    """
    time, event, arm, values = (np.asarray(column, dtype=float) for column in (time, event, arm, values))
    if not time.shape == event.shape == arm.shape == values.shape:
        raise InputError(f"time, event, arm and {biomarker} must have the same length")
    if not np.isin(arm, [0, 1]).all():
        raise InputError("arm must be 0 (control) or 1 (treated) for every patient")
    present = np.isfinite(values)
    basis = _basis(values[present], knots, biomarker)
    design = spline_design(basis, arm[present], values[present], biomarker)
    idata = fit_pwe(time[present], event[present], design, settings, sampler)
    if grid is None:  # distinct values: a biomarker with ties (e.g. many zeros) repeats quantiles
        grid = np.unique(np.quantile(values[present], np.linspace(*GRID_QUANTILES, 50)))
    grid = np.asarray(grid, dtype=float)
    table = curve_table(idata, basis, grid, biomarker)
    converged = bool(np.all(diagnostics(idata, "coef")["converged"]))
    excluded = int((~present).sum())
    table.attrs.update(
        divergences=count_divergences(idata), converged=converged, n=int(present.sum()), excluded=excluded
    )
    return HrCurve(table, idata, basis, excluded)


def spline_design(basis: SplineTransformer, arm: np.ndarray, values: np.ndarray, biomarker: str) -> pd.DataFrame:
    """Columns ``arm``, ``<biomarker>_s<j>`` (the basis) and ``arm:<biomarker>_s<j>``."""
    splines = basis.transform(values[:, None])
    names = _spline_names(splines.shape[1], biomarker)
    main = pd.DataFrame(splines, columns=names)
    interaction = pd.DataFrame(splines * arm[:, None], columns=[interaction_term(name) for name in names])
    return pd.concat([pd.DataFrame({ARM: arm}), main, interaction], axis=1)


def treatment_log_hr(idata: az.InferenceData, basis: SplineTransformer, grid: np.ndarray, biomarker: str) -> np.ndarray:
    """Draws of the treatment log HR at each grid value, shape ``(draws, len(grid))``."""
    coef = idata.posterior["coef"]
    splines = basis.transform(np.asarray(grid, dtype=float)[:, None])
    terms = [interaction_term(name) for name in _spline_names(splines.shape[1], biomarker)]
    arm = coef.sel(term=ARM).to_numpy().reshape(-1, 1)
    interaction = coef.sel(term=terms).transpose("chain", "draw", "term").to_numpy().reshape(-1, len(terms))
    return arm + interaction @ splines.T


def curve_table(idata: az.InferenceData, basis: SplineTransformer, grid: np.ndarray, biomarker: str) -> pd.DataFrame:
    """Pointwise posterior median HR, 95% band and P(HR < 1) at each grid value (columns ``CURVE_COLUMNS``)."""
    draws = treatment_log_hr(idata, basis, grid, biomarker)
    tail = (1 - CI_PROB) / 2
    lower, median, upper = np.exp(np.quantile(draws, [tail, 0.5, 1 - tail], axis=0))
    return pd.DataFrame(
        {
            "biomarker": biomarker,
            "value": grid,
            "hr": median,
            "lower": lower,
            "upper": upper,
            "prob_hr_below_1": probability_below_zero(draws, axis=0),
        },
        columns=CURVE_COLUMNS,
    )


def check_spline_values(values: np.ndarray, knots: int, biomarker: str) -> None:
    """Raise :class:`InputError` if ``values`` have too few distinct values for a spline with ``knots`` knots."""
    distinct = np.unique(values).size
    if distinct <= knots + DEGREE:
        raise InputError(
            f"bayes.hr_curves: '{biomarker}' has {distinct} distinct values, too few for a spline with {knots} knots; "
            "remove it from bayes.hr_curves (a two-level biomarker has its treatment HR per level in bayes.csv) or "
            "lower bayes.spline_knots"
        )


def _basis(values: np.ndarray, knots: int, biomarker: str) -> SplineTransformer:
    check_spline_values(values, knots, biomarker)
    transformer = SplineTransformer(
        n_knots=knots, degree=DEGREE, knots="quantile", extrapolation="linear", include_bias=False
    )
    return transformer.fit(values[:, None])


def _spline_names(count: int, biomarker: str) -> list[str]:
    return [f"{biomarker}_s{j}" for j in range(1, count + 1)]
