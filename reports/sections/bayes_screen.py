"""Bayesian interaction screen section: the shrunk arm x biomarker interactions of one model (``bayes_screen.csv``)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tmesurv.reports.format import (
    CONVERGED,
    Column,
    Row,
    Table,
    diagnostics_badge,
    failed_diagnostics,
    fit_status,
    format_count,
    format_mean_sd,
    format_number,
    format_posterior_hr,
    format_probability,
    hr_at_posterior_mean,
)
from tmesurv.reports.gallery import FigureSection, Gallery, endpoints_of
from tmesurv.reports.graphics import BAYES_COLOUR, FigureImage, hr_axis_limit, log_hr_axis, png_data_uri
from tmesurv.reports.results import Results


def screen_table(screen: pd.DataFrame) -> Table:
    """The interaction screen: per biomarker the shrunk interaction per SD, sorted by effect, with diagnostics.

    Parameters
    ----------
    screen
        ``bayes_screen.csv``.

    Returns
    -------
    Table
        One row per (endpoint, biomarker), the largest benefit-increasing interaction first; every row of an
        unconverged fit flagged.
    """
    rows = []
    for _, row in screen.sort_values(["endpoint", "mean"], kind="stable").iterrows():
        cells = (
            row["endpoint"],
            row["biomarker"],
            format_mean_sd(row["mean"], row["sd"]),
            format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"]),
            format_probability(row["prob_hr_below_1"]),
            format_number(row["kappa"], 2),
            format_number(row["biomarker_sd"], 3),
            format_number(row["r_hat"], 3),
            format_count(row["ess_bulk"]),
            format_count(row["divergences"]),
            diagnostics_badge(row["converged"]),
        )
        rows.append(Row(cells, flagged=failed_diagnostics(row["converged"])))
    columns = (
        Column("Endpoint"),
        Column("Biomarker"),
        Column("Log HR per SD, mean (SD)", numeric=True),
        Column("HR per SD at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("Shrinkage factor", numeric=True),
        Column("Biomarker SD", numeric=True),
        Column("R-hat", numeric=True),
        Column("ESS (bulk)", numeric=True),
        Column("Divergences (fit)", numeric=True),
        Column("Diagnostics", badge=True),
    )
    caption = (
        "All listed biomarkers and their arm interactions in one model; the interactions share a shrinkage prior "
        f"({_shrinkage_names(screen)}), so a screen of many biomarkers shrinks the null ones together instead of "
        "testing each at its own level. Biomarkers standardised over the complete cases: the interaction is the "
        "ratio of treatment hazard ratios per SD of the biomarker (SD given, in the biomarker's units). "
        "Shrinkage factor: posterior mean of 1 / (1 + events x prior variance), 0 = left alone, 1 = shrunk to zero "
        "(blank without a shrinkage prior). Divergences are those of the whole fit; a fit with any is flagged."
    )
    return Table(columns, tuple(rows), caption=caption)


def _shrinkage_names(screen: pd.DataFrame) -> str:
    names = [str(name) for name in pd.unique(screen["shrinkage"].dropna())]
    return ", ".join(names) if names else "bayes.shrinkage"


SCREEN_ROW_HEIGHT = 0.24  # inches per screened biomarker


UNCONVERGED_TITLE = "NOT CONVERGED: do not interpret"


def screen_figure(screen: pd.DataFrame, endpoint: str) -> Figure:
    """Dot and 95% interval of every screened interaction (ratio of treatment HRs per SD), sorted by effect.

    Parameters
    ----------
    screen
        ``bayes_screen.csv``: ``endpoint, biomarker, mean, hr_lower, hr_upper, converged, divergences`` and
        optionally ``shrinkage`` and ``max_treedepth``.
    endpoint
        The endpoint.

    Returns
    -------
    matplotlib.figure.Figure
        One row per biomarker, the largest benefit-increasing interaction at the top; the title states the prior,
        the divergences and whether the fit converged.
    """
    rows = screen[screen["endpoint"] == endpoint].sort_values("mean", ascending=False)
    figure = Figure(figsize=(7.5, SCREEN_ROW_HEIGHT * len(rows) + 1.6), layout="constrained")
    ax = figure.add_subplot()
    y = np.arange(len(rows))
    point = hr_at_posterior_mean(rows["mean"])
    lower, upper = rows["hr_lower"].to_numpy(dtype=float), rows["hr_upper"].to_numpy(dtype=float)
    converged = _converged(rows)
    ax.hlines(y, lower, upper, color=BAYES_COLOUR, linewidth=1.4)
    face = BAYES_COLOUR if converged else "white"
    ax.plot(point, y, "o", color=BAYES_COLOUR, markerfacecolor=face, markersize=5, linestyle="")
    ax.set_yticks(y, rows["biomarker"].astype(str).tolist())
    ax.set_ylim(-0.7, len(rows) - 0.3)
    _hr_axis_around_one(ax, np.concatenate([lower, upper]), "x")
    ax.set_xlabel("Ratio of treatment HRs per SD of the biomarker (log scale)")
    ax.set_title(_screen_title(rows, endpoint, converged), parse_math=False, fontsize=10)
    return figure


def _screen_title(rows: pd.DataFrame, endpoint: str, converged: bool) -> str:
    prior = str(rows["shrinkage"].iloc[0]) if rows["shrinkage"].notna().any() else "shrinkage"
    divergences = int(rows["divergences"].max())
    return f"{endpoint}: interaction screen, {prior} prior\n{divergences} divergences, {_status_text(converged)}"


def _converged(rows: pd.DataFrame) -> bool:
    """Whether the fit of ``rows`` converged (:func:`~tmesurv.reports.tables.fit_status`); not recorded is not."""
    return fit_status(rows["converged"]) == CONVERGED


def _status_text(converged: bool) -> str:
    return CONVERGED if converged else UNCONVERGED_TITLE


def _hr_axis_around_one(ax: Axes, values: np.ndarray, axis: Literal["x", "y"]) -> None:
    """A symmetric log HR axis covering ``values`` (:func:`~tmesurv.reports.forest.hr_axis_limit`), a line at 1."""
    log_hr_axis(ax, hr_axis_limit(values), axis)
    reference = ax.axvline if axis == "x" else ax.axhline
    reference(1.0, color="#555555", linewidth=0.9)
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)


def interaction_screen_section(results: Results) -> FigureSection | None:
    """The interaction screen under a shrinkage prior (``bayes_screen.csv``): dot-and-interval plot and table."""
    screen = results.bayes_screen
    if screen is None:
        return None
    images = tuple(
        FigureImage(
            png_data_uri(screen_figure(screen, endpoint)),
            f"Interaction screen of {endpoint}: exp(posterior mean log ratio of treatment hazard ratios) per SD of "
            "each biomarker with its 95% credible interval, sorted by effect, log scale; the title states the "
            "prior, the fit's divergences and its convergence.",
        )
        for endpoint in endpoints_of(screen)
    )
    return FigureSection(screen_table(screen), (Gallery("Screened interactions", images, wide=True),))
