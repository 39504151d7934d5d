"""Kaplan-Meier figures as survminer draws them, with the numbers-at-risk table and the Bayesian posterior.

Curves per arm or per level with censor marks (``+``), the pointwise confidence band of ``km_curves.csv`` (the
configured ``analysis.km_ci`` scale) and the log-rank P of ``logrank.csv`` (see :mod:`tmesurv.reports.km_marks`),
a numbers-at-risk table below, and the Bayesian posterior overlaid where fitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.reports.format import NOT_IN_SUBGROUP, arm_label, in_order, subgroup_level
from tmesurv.reports.graphics import (
    LEVEL_LINESTYLES,
    STYLE_COLOUR,
    FigureImage,
    arm_colour,
    dense,
    ordered_arms,
    png_data_uri,
)
from tmesurv.reports.km_marks import (
    AT_RISK_STEPS,
    CENSOR_MARKER,
    GID_BAND,
    GID_CENSOR,
    GID_LOGRANK,
    GID_STEPS,
    KmMarks,
    at_risk_times,
    band_label,
    censoring_times,
    numbers_at_risk,
)

X_LABEL = "Time since randomization (months)"


Y_LABEL = "Survival probability"


KM_STYLE_LABEL = "Kaplan-Meier"


POSTERIOR_STYLE_LABEL = "Bayesian posterior median (dashed), 95% band (dotted)"


CENSOR_LABEL = "Censored"


@dataclass(frozen=True)
class _Curve:
    """One step curve as drawn: its label, colour, line style and rows (sorted by time)."""

    label: str
    colour: str
    linestyle: str
    rows: pd.DataFrame
    posterior: pd.DataFrame | None = None  # time, survival, lower, upper of the Bayesian posterior


def km_figure(
    curves: pd.DataFrame,
    endpoint: str,
    posterior: pd.DataFrame | None = None,
    arm_names: Mapping[str, str] | None = None,
    marks: KmMarks | None = None,
) -> FigureImage:
    """The overall Kaplan-Meier figure of one endpoint for the HTML report (:func:`km_arms_figure` as a PNG URI).

    Parameters
    ----------
    curves
        Rows of ``km_curves.csv`` for this endpoint (see :func:`km_arms_figure`).
    endpoint
        Endpoint name, used in the title and the alt text.
    posterior
        Rows of ``bayes_curves.csv``, optional: the posterior survival of all patients is overlaid.
    arm_names
        Display name per arm value; default the raw values.
    marks
        The log-rank tests and the band's scale (see :class:`KmMarks`).

    Returns
    -------
    FigureImage
        The PNG as a ``data:`` URI, and alt text describing it.
    """
    marks = marks or KmMarks()
    figure = km_arms_figure(curves, endpoint, arm_names, posterior, marks)
    rows = _overall_rows(curves, endpoint)
    times = at_risk_times(float(rows["time"].max()))
    arms, step = ordered_arms(rows["arm"]), float(times[1] - times[0]) if len(times) > 1 else float(AT_RISK_STEPS[0])
    names = ", ".join(arm_label(arm, arm_names, role=False) for arm in arms)
    overlay = _has_rows(_overall_rows(posterior, endpoint)) if posterior is not None else False
    bands = f"pointwise {band_label(marks.ci_method)} bands and censoring times (+)"
    bands += "; the Bayesian posterior median and 95% band overlaid" if overlay else ""
    p_text = marks.p_text(endpoint, "arm", ALL_PATIENTS)
    tested = f"; {p_text} (treated vs control)" if p_text else ""
    alt = (
        f"Kaplan-Meier curves of {endpoint} by arm ({names}) with {bands}{tested}; "
        f"numbers at risk every {step:g} months below the plot."
    )
    return FigureImage(src=png_data_uri(figure), alt=alt)


def km_levels_figure(
    curves: pd.DataFrame,
    endpoint: str,
    grouping: str,
    posterior: pd.DataFrame | None = None,
    arm_names: Mapping[str, str] | None = None,
    marks: KmMarks | None = None,
) -> Figure:
    """One Kaplan-Meier panel per level of a grouping, both arms in each, with the Bayesian posterior overlaid.

    Parameters
    ----------
    curves
        ``km_curves.csv``: ``endpoint, arm, subgroup, time, survival, lower, upper, at_risk`` (time in months).
    endpoint
        The endpoint to draw.
    grouping
        A biomarker or covariate (subgroups ``<grouping>=<level>``) or a combined subgroup (subgroups
        ``<grouping>`` and ``not (<grouping>)``).
    posterior
        ``bayes_curves.csv`` (``endpoint, arm, subgroup, time, survival, lower, upper``), optional: the posterior
        median and 95% band of each arm in each level that has them, over the Kaplan-Meier curves and bands.
    arm_names
        Display name per arm value; default the raw values.
    marks
        The log-rank test of the arms within each level, the band's scale, the levels' meanings (:class:`KmMarks`).

    Returns
    -------
    matplotlib.figure.Figure
        A panel per level (titled with the subgroup's meaning, else its label) with its numbers at risk below; one
        legend; the same time axis in every panel.

    Raises
    ------
    ValueError
        If ``curves`` has no rows of ``grouping`` for ``endpoint``.
    """
    marks = marks or KmMarks()
    rows = curves[curves["endpoint"] == endpoint]
    subgroups = _grouping_subgroups(rows, endpoint, grouping)
    drawn = [_arm_curves(rows, subgroup, posterior, endpoint, arm_names) for subgroup in subgroups]
    span = max(float(c.rows["time"].max()) for panel in drawn for c in panel)
    ncols = 2 if len(drawn) in (2, 4) else min(len(drawn), 3)
    nrows = -(-len(drawn) // ncols)
    labels = max(len(c.label) for panel in drawn for c in panel)
    panel_height = 3.9 + 0.27 * max(len(panel) for panel in drawn)
    figure = Figure(figsize=(ncols * (5.0 + 0.075 * labels), nrows * panel_height + 1.0), layout="constrained")
    body, legend_row = figure.subfigures(2, 1, height_ratios=(nrows * panel_height + 0.5, 0.5))
    panels = body.subfigures(nrows, ncols, squeeze=False).ravel()
    for panel, subgroup, panel_curves in zip(panels, subgroups, drawn, strict=False):
        p_text = marks.p_text(endpoint, "arm", subgroup)
        _km_panel(panel, panel_curves, marks.title(subgroup), span, p_text=p_text)
    for panel in panels[len(drawn) :]:
        panel.set_visible(False)
    figure.suptitle(f"{endpoint} by arm within {grouping}", parse_math=False)
    overlay = any(c.posterior is not None for panel in drawn for c in panel)
    _figure_legend(legend_row, drawn[0], overlay, "center", marks.ci_method)
    return figure


def km_arms_figure(
    curves: pd.DataFrame,
    endpoint: str,
    arm_names: Mapping[str, str] | None = None,
    posterior: pd.DataFrame | None = None,
    marks: KmMarks | None = None,
) -> Figure:
    """Kaplan-Meier curves of all patients by arm, with censor marks, confidence bands and a numbers-at-risk table.

    Parameters
    ----------
    curves
        ``km_curves.csv`` rows: ``arm, time, survival, lower, upper, at_risk``, one row per distinct time per arm
        (a step function from time 0, survival 1; time in months). When present, ``endpoint`` selects the endpoint
        and ``subgroup`` the rows about all patients (``all``).
    endpoint
        Endpoint name, used in the title.
    arm_names
        Display name per arm value, e.g. ``{"treated": "axi-cel", "control": "SOC"}``; default the raw values.
    posterior
        ``bayes_curves.csv`` rows, optional: the posterior median and 95% band of all patients per arm are drawn
        over the Kaplan-Meier curves and bands.
    marks
        The log-rank test of the arms (comparison ``arm``, subgroup ``all``) and the band's scale (:class:`KmMarks`).

    Returns
    -------
    matplotlib.figure.Figure
        Curves above (censoring times marked ``+``, the log-rank P at the lower left), numbers at risk below.

    Raises
    ------
    ValueError
        If ``curves`` has no rows of all patients for ``endpoint``.
    """
    rows = _overall_rows(curves, endpoint)
    if rows.empty:
        raise ValueError(f"no Kaplan-Meier curves of all patients for endpoint '{endpoint}'")
    marks = marks or KmMarks()
    drawn = _arm_curves(rows, ALL_PATIENTS, posterior, endpoint, arm_names)
    overlay = any(curve.posterior is not None for curve in drawn)
    title = f"{endpoint}: Kaplan-Meier estimate" + (" and Bayesian posterior" if overlay else "")
    return _km_layout(drawn, title, True, marks.p_text(endpoint, "arm", ALL_PATIENTS), marks.ci_method)


def km_subgroup_figure(
    curves: pd.DataFrame,
    endpoint: str,
    grouping: str,
    arm_names: Mapping[str, str] | None = None,
    levels: Sequence[str] | None = None,
    marks: KmMarks | None = None,
) -> Figure:
    """Kaplan-Meier curves of every arm x level of one grouping in one panel, with a numbers-at-risk table.

    Colour marks the arm and line style the level (e.g. axi-cel high, axi-cel low, SOC high, SOC low), as in the
    paper's figures; censoring times are marked, confidence bands left out so the curves stay readable.

    Parameters
    ----------
    curves
        ``km_curves.csv``: ``endpoint, arm, subgroup, time, survival, lower, upper, at_risk`` (time in months).
    endpoint
        The endpoint to draw.
    grouping
        A biomarker or covariate (subgroups ``<grouping>=<level>``) or a combined subgroup such as
        ``cd19_hscore=low & sii=high`` (subgroups ``<grouping>`` and ``not (<grouping>)``).
    arm_names
        Display name per arm value; default the raw values.
    levels
        Level order (labels as returned by :func:`subgroup_level`); default the order in ``curves``.
    marks
        The log-rank tests of the levels within each arm (comparison ``grouping``, subgroup the arm), and the levels'
        meanings for the curve labels (``axi-cel, spd_mm2 > 3721``) (:class:`KmMarks`).

    Returns
    -------
    matplotlib.figure.Figure
        One curve per arm x level above, their numbers at risk below (one row per curve).

    Raises
    ------
    ValueError
        If ``curves`` has no rows of ``grouping`` for ``endpoint``.
    """
    marks = marks or KmMarks()
    rows = curves[curves["endpoint"] == endpoint]
    subgroups = {s: subgroup_level(s, grouping) for s in pd.unique(rows["subgroup"].dropna().astype(str))}
    subgroups = {s: level for s, level in subgroups.items() if level is not None}
    if not subgroups:
        found = sorted(set(rows["subgroup"].dropna().astype(str)) - {ALL_PATIENTS})
        raise ValueError(f"no {endpoint} curves for grouping '{grouping}'; subgroups in the table: {found}")
    order = in_order(list(subgroups.values()), levels)
    drawn = []
    arms = ordered_arms(rows["arm"])
    for index, arm in enumerate(arms):
        for subgroup, level in sorted(subgroups.items(), key=lambda item: order.index(item[1])):
            curve = rows[(rows["arm"] == arm) & (rows["subgroup"] == subgroup)]
            if not curve.empty:
                style = LEVEL_LINESTYLES[order.index(level) % len(LEVEL_LINESTYLES)]
                meaning = (marks.descriptions or {}).get(subgroup)
                label = f"{arm_label(arm, arm_names, role=False)}{', ' + meaning if meaning else ' ' + level}"
                drawn.append(_Curve(label, arm_colour(arm, index), style, _sorted_by_time(curve)))
    only = arm_label(arms[0], arm_names, role=False)
    within = f"arm and {grouping}" if len(arms) > 1 else f"{grouping}, {only} arm only"
    tests = [(arm_label(arm, arm_names, role=False), marks.p_text(endpoint, grouping, arm)) for arm in arms]
    p_text = "\n".join(f"{text}, {grouping} levels within {name}" for name, text in tests if text) or None
    return _km_layout(drawn, f"{endpoint} by {within}: Kaplan-Meier estimate", False, p_text, marks.ci_method)


def _arm_curves(
    rows: pd.DataFrame,
    subgroup: str,
    posterior: pd.DataFrame | None,
    endpoint: str,
    arm_names: Mapping[str, str] | None,
) -> list[_Curve]:
    """One curve per arm of one subgroup, each with its posterior rows when ``posterior`` has them."""
    rows = rows[rows["subgroup"] == subgroup] if "subgroup" in rows else rows
    drawn = []
    for index, arm in enumerate(ordered_arms(rows["arm"])):
        band = None if posterior is None else _posterior_rows(posterior, endpoint, subgroup, arm)
        curve = _sorted_by_time(rows[rows["arm"] == arm])
        drawn.append(_Curve(arm_label(arm, arm_names, role=False), arm_colour(arm, index), "-", curve, band))
    return drawn


def _posterior_rows(posterior: pd.DataFrame, endpoint: str, subgroup: str, arm: str) -> pd.DataFrame | None:
    rows = posterior[
        (posterior["endpoint"] == endpoint) & (posterior["subgroup"] == subgroup) & (posterior["arm"] == arm)
    ]
    return _sorted_by_time(rows) if _has_rows(rows) else None


def _has_rows(rows: pd.DataFrame) -> bool:
    return not rows.empty and bool(rows["survival"].notna().any())


def _grouping_subgroups(rows: pd.DataFrame, endpoint: str, grouping: str) -> list[str]:
    """The subgroups of ``grouping`` in table order, the combined subgroup before its complement."""
    subgroups = [s for s in pd.unique(rows["subgroup"].dropna().astype(str)) if subgroup_level(s, grouping) is not None]
    if not subgroups:
        found = sorted(set(rows["subgroup"].dropna().astype(str)) - {ALL_PATIENTS})
        raise ValueError(f"no {endpoint} curves for grouping '{grouping}'; subgroups in the table: {found}")
    return sorted(subgroups, key=lambda s: subgroup_level(s, grouping) == NOT_IN_SUBGROUP)


def _overall_rows(curves: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    rows = curves[curves["endpoint"] == endpoint] if "endpoint" in curves else curves
    return rows[rows["subgroup"] == ALL_PATIENTS] if "subgroup" in rows else rows


def _sorted_by_time(curve: pd.DataFrame) -> pd.DataFrame:
    return curve.sort_values("time", kind="stable")


def _km_layout(curves: list[_Curve], title: str, bands: bool, p_text: str | None, ci_method: str | None) -> Figure:
    """Curves above and their numbers at risk below, on a shared time axis."""
    overlay = any(curve.posterior is not None for curve in curves)
    outside = len(curves) > 2 or overlay
    label_width = 0.075 * max(len(c.label) for c in curves)  # inches of at-risk row labels (or legend) at 9 pt
    legend_width = max(label_width, 0.075 * len(POSTERIOR_STYLE_LABEL) if overlay else 0.0) + 0.6 if outside else 0.0
    figure = Figure(figsize=(6.6 + label_width + legend_width, 4.6 + 0.22 * len(curves)), layout="constrained")
    span = max(float(c.rows["time"].max()) for c in curves)
    _km_panel(figure, curves, title, span, bands=bands, p_text=p_text)
    band = ci_method if bands else None
    if outside:
        _figure_legend(figure, curves, overlay, "outside right upper", band, bands)
    else:
        _legend(figure.get_axes()[0], curves, band, bands)
    return figure


def _km_panel(
    container: Figure | SubFigure,
    curves: list[_Curve],
    title: str,
    span: float,
    bands: bool = True,
    p_text: str | None = None,
) -> None:
    """Curves (with their Kaplan-Meier bands and censor marks) above, numbers at risk below."""
    times = at_risk_times(span)
    ax_curves, ax_risk = container.subplots(2, 1, sharex=True, height_ratios=(4.2, 0.45 + 0.27 * len(curves)))
    _draw_curves(ax_curves, curves, times, bands)
    ax_curves.set_title(title, parse_math=False, fontsize=10)
    if p_text:
        box = {"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.5}
        text = ax_curves.text(0.02, 0.03, p_text, transform=ax_curves.transAxes, fontsize=9, va="bottom", bbox=box)
        text.set_parse_math(False)
        text.set_gid(GID_LOGRANK)
    _draw_at_risk(ax_risk, curves, times)


def _draw_curves(ax: Axes, curves: list[_Curve], times: np.ndarray, bands: bool) -> None:
    for curve in curves:
        time = curve.rows["time"].to_numpy(dtype=float)
        survival = curve.rows["survival"].to_numpy(dtype=float)
        (steps,) = ax.step(time, survival, where="post", color=curve.colour, linestyle=curve.linestyle, linewidth=1.6)
        steps.set_gid(GID_STEPS)
        censored = np.isin(time, censoring_times(curve.rows))
        (marks,) = ax.plot(time[censored], survival[censored], CENSOR_MARKER, color=curve.colour, markersize=6)
        marks.set_rasterized(dense(int(censored.sum())))
        marks.set_gid(GID_CENSOR)
        if bands:
            lower, upper = curve.rows["lower"].to_numpy(dtype=float), curve.rows["upper"].to_numpy(dtype=float)
            band = ax.fill_between(time, lower, upper, step="post", color=curve.colour, alpha=0.15, linewidth=0)
            band.set_rasterized(dense(time.size))  # a band of thousands of steps: most of an SVG's size
            band.set_gid(GID_BAND)
        if curve.posterior is not None:
            _draw_posterior(ax, curve)
    span = max(float(times[-1]), max(float(c.rows["time"].max()) for c in curves))
    ax.set_xlim(-0.03 * span, 1.03 * span if span > 0 else 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xticks(times)
    ax.set_ylabel(Y_LABEL)
    ax.grid(color="#e5e5e5", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)


def _draw_posterior(ax: Axes, curve: _Curve) -> None:
    """The posterior median as a dashed line between its 95% band's dotted limits, in the curve's colour."""
    rows = curve.posterior
    time = rows["time"].to_numpy(dtype=float)
    for column, style, width in (("lower", ":", 1.0), ("upper", ":", 1.0), ("survival", "--", 1.1)):
        ax.plot(time, rows[column].to_numpy(dtype=float), color=curve.colour, linestyle=style, linewidth=width)


def _style_entries(overlay: bool, ci_method: str | None, bands: bool) -> tuple[list, list[str]]:
    """Legend entries of what the marks mean: censored, the confidence band, and with a posterior its lines."""
    handles: list = [Line2D([], [], color=STYLE_COLOUR, marker=CENSOR_MARKER, linestyle="", markersize=6)]
    labels = [CENSOR_LABEL]
    if bands:
        handles.append(Patch(color=STYLE_COLOUR, alpha=0.25, linewidth=0))
        labels.append(f"Kaplan-Meier {band_label(ci_method)}")
    if overlay:
        handles += [
            Line2D([], [], color=STYLE_COLOUR, linewidth=1.6),
            (Line2D([], [], color=STYLE_COLOUR, linestyle="--"), Line2D([], [], color=STYLE_COLOUR, linestyle=":")),
        ]
        labels += [KM_STYLE_LABEL, POSTERIOR_STYLE_LABEL]
    return handles, labels


def _figure_legend(
    figure: Figure | SubFigure,
    curves: list[_Curve],
    overlay: bool,
    loc: str,
    ci_method: str | None = None,
    bands: bool = True,
) -> None:
    """One legend: a line per curve, then what the marks, the band and (with a posterior) the lines mean."""
    handles: list = [Line2D([], [], color=c.colour, linestyle=c.linestyle, linewidth=1.6) for c in curves]
    labels = [c.label for c in curves]
    styles, style_labels = _style_entries(overlay, ci_method, bands)
    ncols = len(handles) + len(styles) if loc == "center" else 1
    legend = figure.legend(handles + styles, labels + style_labels, loc=loc, frameon=False, fontsize=9, ncols=ncols)
    for text in legend.get_texts():
        text.set_parse_math(False)


def _legend(ax: Axes, curves: list[_Curve], ci_method: str | None, bands: bool) -> None:
    """Up to two curves without a posterior: a legend inside the plot."""
    handles: list = [Line2D([], [], color=c.colour, linestyle=c.linestyle, linewidth=1.6) for c in curves]
    styles, style_labels = _style_entries(False, ci_method, bands)
    labels = [c.label for c in curves] + style_labels
    legend = ax.legend(handles + styles, labels, loc="upper right", frameon=False, fontsize=9)
    for text in legend.get_texts():
        text.set_parse_math(False)


def _draw_at_risk(ax: Axes, curves: list[_Curve], times: np.ndarray) -> None:
    for row, curve in enumerate(curves):
        for time, count in zip(times, numbers_at_risk(curve.rows, times), strict=True):
            ax.text(time, row, str(count), ha="center", va="center", fontsize=9, color=curve.colour)
    ax.set_ylim(len(curves) - 0.5, -0.5)
    ax.set_yticks(range(len(curves)), labels=[c.label for c in curves], parse_math=False, fontsize=9)
    for tick, curve in zip(ax.get_yticklabels(), curves, strict=True):
        tick.set_color(curve.colour)
    ax.tick_params(axis="y", length=0)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title("Number at risk", loc="left", fontsize=9)
    ax.set_xlabel(X_LABEL)
