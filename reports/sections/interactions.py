"""Interaction section: arm x biomarker interactions, Cox and Bayes, and the effect along a biomarker.

Interaction section: the arm x biomarker interactions, Cox and Bayes (``cox.csv``, ``bayes.csv``,
``interactions.csv``), the treatment effect at biomarker values (``treatment_at`` rows of ``bayes.csv``), and the
treatment HR along each continuous biomarker (``bayes_hr_curve.csv``, ``biomarkers.csv``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tmesurv.arms import CONTROL, TREATED
from tmesurv.reports.format import (
    PER_UNIT,
    Column,
    Row,
    Table,
    diagnostics_badge,
    failed_diagnostics,
    format_mean_sd,
    format_p,
    format_posterior_hr,
    format_probability,
    hr_at_posterior_mean,
    scale_of,
    scaled_interval,
    term_scales,
)
from tmesurv.reports.gallery import endpoints_of
from tmesurv.reports.graphics import (
    BAND_COLOUR,
    BAYES_COLOUR,
    COX_COLOUR,
    FigureImage,
    hr_axis_limit,
    log_hr_axis,
    png_data_uri,
)
from tmesurv.reports.results import Results, of_bayes_model
from tmesurv.reports.sections.model_check import MisfitBanner, misfit_banner
from tmesurv.reports.sections.summary import misfit_pointer

FIT_KEYS = ("endpoint", "analysis", "subgroup")


TREATMENT_AT = "treatment_at"


INTERACTION = "interaction"


def interaction_table(
    bayes: pd.DataFrame,
    cox: pd.DataFrame | None = None,
    interactions: pd.DataFrame | None = None,
    biomarkers: pd.DataFrame | None = None,
) -> Table:
    """The posterior of every treatment-by-biomarker interaction, next to the Cox estimate and tests.

    Parameters
    ----------
    bayes
        ``bayes.csv``: rows of analysis ``interaction`` whose term starts with ``arm:``.
    cox
        ``cox.csv``, optional: the same terms' hazard ratio and Wald P.
    interactions
        ``interactions.csv``, optional: the likelihood-ratio P of the continuous biomarker.
    biomarkers
        ``biomarkers.csv``, optional: continuous biomarkers are then stated per interquartile range (see
        :func:`~tmesurv.reports.tables.term_scales`), else per unit.

    Returns
    -------
    Table
        One row per interaction term; unconverged fits flagged.
    """
    rows = bayes[(bayes["analysis"] == INTERACTION) & bayes["term"].astype(str).str.startswith("arm:")]
    cox_terms = {} if cox is None else {_term_key(row): row for _, row in cox.iterrows()}
    lrt = _continuous_lrt(interactions)
    scales = term_scales(biomarkers)
    table_rows = []
    for _, row in rows.iterrows():
        scale = scale_of(row, scales) or PER_UNIT
        match = cox_terms.get(_term_key(row))
        cox_cells = ("", "")
        if match is not None:
            cox_cells = (
                scaled_interval(match["hr"], match["hr_lower"], match["hr_upper"], scale.factor),
                format_p(match["p"]),
            )
        cells = (
            row["endpoint"],
            row["subgroup"],
            scale.label,
            format_mean_sd(float(row["mean"]) * scale.factor, float(row["sd"]) * scale.factor),
            format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"], scale.factor),
            format_probability(row["prob_hr_below_1"]),
            *cox_cells,
            format_p(lrt.get((row["endpoint"], row["subgroup"]))),
            diagnostics_badge(row["converged"]),
        )
        table_rows.append(Row(cells, flagged=failed_diagnostics(row["converged"])))
    columns = (
        Column("Endpoint"),
        Column("Biomarker"),
        Column("Scale"),
        Column("Posterior mean log HR (SD)", numeric=True),
        Column("HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("LRT P", numeric=True),
        Column("Diagnostics", badge=True),
    )
    keep = (True,) * 6 + (cox is not None,) * 2 + (interactions is not None, True)
    columns = tuple(column for column, kept in zip(columns, keep, strict=True) if kept)
    table_rows = [Row(tuple(c for c, k in zip(r.cells, keep, strict=True) if k), r.flagged) for r in table_rows]
    frequentist = sum(keep[6:9])
    groups = (("", 3), ("Bayesian", 3)) + ((("Cox", frequentist),) if frequentist else ()) + (("", 1),)
    caption = (
        "The interaction term arm:<biomarker> of the model arm + biomarker + arm x biomarker: the ratio of the "
        "treatment hazard ratios between two biomarker values. Scale: for a continuous biomarker, between its 75th "
        "and 25th percentile (per interquartile range, IQR, values given), i.e. the per-unit hazard ratio raised to "
        "the power IQR, which transforms the estimate and both interval bounds exactly; for a 0/1 biomarker, the "
        "treatment HR when it is 1 over the treatment HR when it is 0; per unit when the biomarker's quartiles are "
        "not in the results (biomarkers.csv). Bayesian: posterior mean (SD) of the log HR and exp of the posterior "
        "mean log HR with the 95% equal-tailed credible interval, both on that scale. P(HR<1): posterior "
        "probability that the treatment benefit grows with the biomarker. LRT P: likelihood-ratio test of the "
        "interaction term."
    )
    return Table(columns, tuple(table_rows), groups=groups, caption=caption)


def treatment_at_table(bayes: pd.DataFrame) -> Table:
    """The treatment hazard ratio at the quartiles of each biomarker, from its Bayesian interaction model.

    Parameters
    ----------
    bayes
        ``bayes.csv``: rows of analysis ``treatment_at`` with subgroup ``<biomarker>=<value>``.

    Returns
    -------
    Table
        One row per (endpoint, biomarker, value).
    """
    rows = []
    for _, row in treatment_at_rows(bayes).iterrows():
        cells = (
            row["endpoint"],
            row["biomarker"],
            f"{row['value']:.4g}",
            format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"]),
            format_probability(row["prob_hr_below_1"]),
            diagnostics_badge(row["converged"]),
        )
        rows.append(Row(cells, flagged=failed_diagnostics(row["converged"])))
    columns = (
        Column("Endpoint"),
        Column("Biomarker"),
        Column("Biomarker value", numeric=True),
        Column("Treatment HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("Diagnostics", badge=True),
    )
    caption = (
        "Treatment hazard ratio exp(b_arm + b_arm:x * x) at the 25th, 50th and 75th percentile x of the biomarker "
        "(distinct values only): exp of the posterior mean of the log HR b_arm + b_arm:x * x, with the 95% "
        "equal-tailed credible interval."
    )
    return Table(columns, tuple(rows), caption=caption)


def treatment_at_rows(bayes: pd.DataFrame) -> pd.DataFrame:
    """The ``treatment_at`` rows with the biomarker and its value split out of the subgroup label.

    Returns
    -------
    pandas.DataFrame
        The rows with numeric ``value`` (labels whose value is not a number are left out) and ``biomarker``.
    """
    rows = bayes[bayes["analysis"] == TREATMENT_AT]
    labels = rows["subgroup"].fillna("").astype(str)
    biomarker = labels.map(lambda label: label.rpartition("=")[0])
    value = pd.to_numeric(labels.map(lambda label: label.rpartition("=")[2]), errors="coerce")
    rows = rows.assign(biomarker=biomarker, value=value)
    return rows[rows["value"].notna() & (rows["biomarker"] != "")]


def _term_key(row: pd.Series) -> tuple[str, str, str, str]:
    return tuple(str(row[key]) for key in ("endpoint", "analysis", "subgroup", "term"))


def _continuous_lrt(interactions: pd.DataFrame | None) -> dict[tuple[str, str], float]:
    """LRT P of each arm x biomarker term: the continuous test, else (a 0/1 biomarker) the 1-df groups test."""
    if interactions is None:
        return {}
    found: dict[tuple[str, str], float] = {}
    for scale in ("groups", "continuous"):  # continuous last: it wins where both exist
        rows = interactions[(interactions["scale"] == scale) & ((scale == "continuous") | (interactions["df"] == 1))]
        keys = zip(rows["endpoint"].astype(str), rows["grouping"].astype(str), strict=True)
        found |= dict(zip(keys, rows["lrt_p"].astype(float), strict=True))
    return found


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


@dataclass(frozen=True)
class InteractionSection:
    """Interaction posteriors, and the treatment effect along each biomarker (figure per endpoint and table)."""

    table: Table | None
    images: tuple[FigureImage, ...]
    along: Table | None
    misfit: MisfitBanner | None = None
    misfit_pointer: str = ""


def interaction_section(results: Results, names: dict[str, str]) -> InteractionSection | None:
    """Interaction posteriors and the treatment effect along each biomarker; None without Bayesian results."""
    bayes = of_bayes_model(results.bayes, results)  # bayes.csv: the terms of bayes.model
    if bayes is None:
        return None
    interactions = bayes[(bayes["analysis"] == INTERACTION) & bayes["term"].astype(str).str.startswith("arm:")]
    along, curves = treatment_at_rows(bayes), results.bayes_hr_curve
    if interactions.empty and along.empty and curves is None:
        return None
    endpoints = endpoints_of(*(frame for frame in (along, curves) if frame is not None))
    images = tuple(
        FigureImage(
            png_data_uri(treatment_effect_figure(bayes, endpoint, results.cox, names, curves)),
            _effect_alt(endpoint, curves is not None and (curves["endpoint"] == endpoint).any()),
        )
        for endpoint in endpoints
    )
    misfit = misfit_banner(of_bayes_model(results.bayes_fit_check, results), (INTERACTION,))
    return InteractionSection(
        misfit=misfit,
        misfit_pointer=misfit_pointer(results) if misfit else "",
        table=None
        if interactions.empty
        else interaction_table(bayes, results.cox, results.interactions, results.biomarkers),
        images=images,
        along=None if along.empty else treatment_at_table(bayes),
    )


def _effect_alt(endpoint: str, has_curves: bool) -> str:
    curve = "the spline treatment-HR curve with its 95% credible band, and " if has_curves else ""
    return (
        f"Treatment hazard ratio of {endpoint} against the value of each biomarker: {curve}the linear interaction "
        "model's exp(posterior mean log hazard ratio) and 95% credible interval at the biomarker's quartiles and "
        "chosen values, log scale."
    )
