"""The treatment hazard ratio as a function of a continuous biomarker, from the Bayesian interaction models.

A panel per biomarker: the treatment HR at the posterior mean log HR with its 95% credible interval at the
biomarker's quartiles and chosen values (``treatment_at`` rows of ``bayes.csv``), the spline treatment-HR curve with
its 95% credible band where it was fitted (``bayes_hr_curve.csv``), and, when ``cox.csv`` is given, the Cox
interaction model's point estimate ``exp(b_arm + b_arm:x * x)`` as a line over the same range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tmesurv.cohort import CONTROL, TREATED
from tmesurv.reports.forest import (
    BAND_COLOUR,
    BAYES_COLOUR,
    COX_COLOUR,
    hr_at_posterior_mean,
    hr_axis_limit,
    log_hr_axis,
)
from tmesurv.reports.posterior_tables import treatment_at_rows

MAX_COLUMNS = 3


def treatment_effect_figure(
    bayes: pd.DataFrame,
    endpoint: str,
    cox: pd.DataFrame | None = None,
    arm_names: Mapping[str, str] | None = None,
    curves: pd.DataFrame | None = None,
) -> Figure:
    """Treatment hazard ratio against the value of each biomarker, a panel per biomarker.

    Parameters
    ----------
    bayes
        ``bayes.csv``: rows of analysis ``treatment_at`` (subgroup ``<biomarker>=<value>``, ``mean`` (log HR),
        ``hr_lower``, ``hr_upper``, ``converged``), drawn at
        :func:`~tmesurv.reports.forest.hr_at_posterior_mean`.
    endpoint
        The endpoint.
    cox
        ``cox.csv``, optional: the terms ``arm`` and ``arm:<biomarker>`` of the interaction model (analysis
        ``interaction``, subgroup ``<biomarker>``) draw the Cox point estimate as a dashed line.
    arm_names
        Display name per arm value; default the raw values.
    curves
        ``bayes_hr_curve.csv``, optional: per biomarker the spline curve (``value``, median ``hr``, ``lower``,
        ``upper``, ``converged``), drawn as a line with its band.

    Returns
    -------
    matplotlib.figure.Figure
        The HR on a log axis (a line at 1) against the biomarker's value in its own units.

    Raises
    ------
    ValueError
        If there are neither ``treatment_at`` rows nor curves for ``endpoint``.
    """
    rows = treatment_at_rows(bayes)
    rows = rows[rows["endpoint"] == endpoint]
    curves = _endpoint_curves(curves, endpoint)
    if rows.empty and curves.empty:
        raise ValueError(f"bayes table has no treatment_at rows or curves for endpoint '{endpoint}'")
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    biomarkers = list(dict.fromkeys([*pd.unique(rows["biomarker"]), *pd.unique(curves["biomarker"])]))
    ncols = min(len(biomarkers), MAX_COLUMNS)
    nrows = math.ceil(len(biomarkers) / ncols)
    figure = Figure(figsize=(3.9 * ncols + 0.4, 3.3 * nrows + 1.4), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    limit = _axis_limit(rows, curves)
    drew_cox = False
    for ax, biomarker in zip(axes, biomarkers, strict=False):
        points = rows[rows["biomarker"] == biomarker].sort_values("value")
        curve = curves[curves["biomarker"] == biomarker].sort_values("value")
        _draw_curve(ax, curve)
        _draw_posterior(ax, points)
        span = np.concatenate([points["value"].to_numpy(dtype=float), curve["value"].to_numpy(dtype=float)])
        drew_cox |= _draw_cox(ax, cox, endpoint, biomarker, span)
        _style_axes(ax, biomarker, limit)
    for ax in axes[len(biomarkers) :]:
        ax.remove()
    for ax in axes[::ncols][:nrows]:
        ax.set_ylabel(f"Treatment HR, {names[TREATED]} vs {names[CONTROL]}\n(log scale)", parse_math=False)
    figure.suptitle(f"{endpoint}: treatment effect along each biomarker", parse_math=False)
    unconverged = bool((rows["converged"] == 0).any() or (curves["converged"] == 0).any())
    _legend(figure, drew_cox, unconverged, has_points=not rows.empty, has_curves=not curves.empty)
    return figure


def _endpoint_curves(curves: pd.DataFrame | None, endpoint: str) -> pd.DataFrame:
    columns = ["endpoint", "biomarker", "value", "hr", "lower", "upper", "converged"]
    if curves is None:
        return pd.DataFrame(columns=columns)
    return curves[curves["endpoint"] == endpoint]


def _draw_curve(ax: Axes, curve: pd.DataFrame) -> None:
    """The spline curve's pointwise median and 95% band; dotted when the fit did not converge."""
    if curve.empty:
        return
    x = curve["value"].to_numpy(dtype=float)
    style = ":" if (curve["converged"] == 0).any() else "-"
    ax.fill_between(x, curve["lower"].to_numpy(dtype=float), curve["upper"].to_numpy(dtype=float), color=BAND_COLOUR)
    ax.plot(x, curve["hr"].to_numpy(dtype=float), color=BAYES_COLOUR, linewidth=1.8, linestyle=style)


def _draw_posterior(ax: Axes, points: pd.DataFrame) -> None:
    if points.empty:
        return
    x = points["value"].to_numpy(dtype=float)
    hr = hr_at_posterior_mean(points["mean"])
    lower, upper = points["hr_lower"].to_numpy(dtype=float), points["hr_upper"].to_numpy(dtype=float)
    errors = np.abs(np.vstack([hr - lower, upper - hr]))
    ax.plot(x, hr, color=BAYES_COLOUR, linewidth=1.0, alpha=0.6)
    ax.errorbar(x, hr, yerr=errors, fmt="none", ecolor=BAYES_COLOUR, elinewidth=1.4, capsize=4)
    unconverged = (points["converged"] == 0).to_numpy()
    for hollow in (False, True):
        chosen = unconverged == hollow
        face = "white" if hollow else BAYES_COLOUR
        ax.plot(x[chosen], hr[chosen], "o", color=BAYES_COLOUR, markerfacecolor=face, markersize=6, linestyle="")


def _draw_cox(ax: Axes, cox: pd.DataFrame | None, endpoint: str, biomarker: str, values: np.ndarray) -> bool:
    """The Cox point estimate over the range of ``values``; False when ``cox`` has no such model."""
    if cox is None or values.size == 0:
        return False
    model = cox[(cox["endpoint"] == endpoint) & (cox["analysis"] == "interaction") & (cox["subgroup"] == biomarker)]
    coef = dict(zip(model["term"].astype(str), model["coef"].astype(float), strict=True))
    arm, interaction = coef.get("arm", np.nan), coef.get(f"arm:{biomarker}", np.nan)
    if not (np.isfinite(arm) and np.isfinite(interaction)):
        return False
    grid = np.linspace(values.min(), values.max(), 50) if values.size > 1 else values
    ax.plot(grid, np.exp(arm + interaction * grid), color=COX_COLOUR, linestyle="--", linewidth=1.1)
    return True


def _style_axes(ax: Axes, biomarker: str, limit: float) -> None:
    log_hr_axis(ax, limit, "y")
    ax.axhline(1.0, color="#555555", linewidth=0.9)
    ax.set_xlabel(f"{biomarker} (value in the data's units)", parse_math=False)
    ax.set_title(biomarker, parse_math=False, fontsize=10)
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0.12)


def _legend(figure: Figure, drew_cox: bool, unconverged: bool, has_points: bool, has_curves: bool) -> None:
    handles, labels = [], []
    if has_curves:
        handles.append(Patch(facecolor=BAND_COLOUR, edgecolor=BAYES_COLOUR, linewidth=1.8))
        labels.append("Bayesian spline: posterior median HR, 95% band")
    if has_points:
        handles.append(Line2D([], [], color=BAYES_COLOUR, marker="o", linewidth=1.4))
        labels.append("Bayesian linear interaction: HR at posterior mean log HR, 95% CrI")
    if drew_cox:
        handles.append(Line2D([], [], color=COX_COLOUR, linestyle="--", linewidth=1.1))
        labels.append("Cox interaction model: point estimate")
    if unconverged:
        handles.append(Line2D([], [], color=BAYES_COLOUR, marker="o", markerfacecolor="white", linestyle=":"))
        labels.append("Bayesian fit not converged (hollow, dotted): do not interpret")
    figure.legend(
        handles, labels, loc="outside lower center", frameon=False, fontsize=8, ncols=1 if len(handles) > 2 else 2
    )


def _axis_limit(rows: pd.DataFrame, curves: pd.DataFrame) -> float:
    """The axis limit covering every interval and band (see :func:`~tmesurv.reports.forest.hr_axis_limit`)."""
    values = np.concatenate(
        [
            hr_at_posterior_mean(rows["mean"]),
            rows[["hr_lower", "hr_upper"]].to_numpy(dtype=float).ravel(),
            curves[["hr", "lower", "upper"]].to_numpy(dtype=float).ravel(),
        ]
    )
    return hr_axis_limit(values)
