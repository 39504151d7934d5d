"""Kaplan-Meier under the posterior survival of every compared Bayesian model: a panel per subgroup and arm.

Each panel draws one arm's Kaplan-Meier curve (black steps, censoring times ``+``) and over it the posterior median and
pointwise 95% band of every model of ``bayes_curves.csv`` (``bayes.model`` and the models of ``bayes.compare``), each
model in its own colour and line style, with the arm's numbers at risk below. So a reader sees where a model's band
misses Kaplan-Meier, and why PSIS-LOO prefers one model (``bayes_fit_check.csv`` says the same in numbers).
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

from tmesurv.reports.format import arm_label
from tmesurv.reports.graphics import ordered_arms
from tmesurv.reports.km_marks import (
    CENSOR_MARKER,
    GID_CENSOR,
    GID_STEPS,
    at_risk_times,
    censoring_times,
    numbers_at_risk,
)
from tmesurv.reports.km_plot import KM_STYLE_LABEL, X_LABEL, Y_LABEL

MODEL_COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#E69F00")  # Okabe-Ito, colour-blind safe; bayes.model first
MODEL_LINESTYLES = ("--", "-.", (0, (1, 1.5)), (0, (6, 1.5, 1, 1.5, 1, 1.5)))
KM_COLOUR = "#000000"
BAND_ALPHA = 0.14
NOTE_LINE_POINTS = 10.5  # height of a line of the panel's note (8 pt text)
GID_MEDIAN, GID_POSTERIOR_BAND = "posterior-median", "posterior-band"  # artist ids


@dataclass(frozen=True)
class ModelStyle:
    """How one model's posterior is drawn: its rows' ``model`` value, legend label, colour and line style."""

    model: str
    label: str
    colour: str
    linestyle: str | tuple


def model_styles(posterior: pd.DataFrame, main: str | None = None) -> list[ModelStyle]:
    """A style per model of ``bayes_curves.csv`` in file order (``bayes.model`` first), ``main`` labelled as such."""
    styles = []
    for index, model in enumerate(str(m) for m in pd.unique(posterior["model"])):
        label = f"{model} (bayes.model)" if model == main else model
        colour, linestyle = MODEL_COLOURS[index % len(MODEL_COLOURS)], MODEL_LINESTYLES[index % len(MODEL_LINESTYLES)]
        styles.append(ModelStyle(model, label, colour, linestyle))
    return styles


def km_models_figure(
    curves: pd.DataFrame,
    posterior: pd.DataFrame,
    endpoint: str,
    subgroups: Sequence[str],
    titles: Mapping[str, str] | None = None,
    arm_names: Mapping[str, str] | None = None,
    annotations: Mapping[tuple[str, str], str] | None = None,
    main: str | None = None,
) -> Figure:
    """Kaplan-Meier under every model's posterior median and 95% band: a row per subgroup, a column per arm.

    Parameters
    ----------
    curves
        ``km_curves.csv``.
    posterior
        ``bayes_curves.csv``: rows of every compared model (``model``).
    endpoint
        The endpoint.
    subgroups
        The subgroups to draw (``all`` for all patients), a row of panels each.
    titles
        Title per subgroup (default the subgroup); the panel's title adds the arm.
    arm_names
        Display name per arm value.
    annotations
        Text per (subgroup, arm), written between the panel's title and its plot (the models' fit check).
    main
        ``bayes.model``, named in the legend.

    Returns
    -------
    matplotlib.figure.Figure
        Panels in ``subgroups`` order (arms treated, control), each with its numbers at risk; one legend below.
    """
    rows = curves[curves["endpoint"] == endpoint]
    posterior = posterior[posterior["endpoint"] == endpoint]
    styles = model_styles(posterior, main)
    arms = ordered_arms(rows.loc[rows["subgroup"].isin(subgroups), "arm"])
    span = max(
        float(rows.loc[rows["subgroup"].isin(subgroups), "time"].max()),
        float(posterior.loc[posterior["subgroup"].isin(subgroups), "time"].max()),
    )
    height = 4.4 + 0.15 * max((note.count("\n") + 1 for note in (annotations or {}).values()), default=0)
    figure = Figure(figsize=(5.6 * len(arms), height * len(subgroups) + 0.9), layout="constrained")
    body, legend_row = figure.subfigures(2, 1, height_ratios=(height * len(subgroups), 0.9))
    panels = body.subfigures(len(subgroups), len(arms), squeeze=False)
    for row, subgroup in enumerate(subgroups):
        for column, arm in enumerate(arms):
            title = f"{(titles or {}).get(subgroup, subgroup)}: {arm_label(arm, arm_names, role=False)}"
            km = rows[(rows["subgroup"] == subgroup) & (rows["arm"] == arm)].sort_values("time", kind="stable")
            fitted = posterior[(posterior["subgroup"] == subgroup) & (posterior["arm"] == arm)]
            note = (annotations or {}).get((subgroup, arm))
            _panel(panels[row, column], km, fitted, styles, title, span, note)
    figure.suptitle(f"{endpoint}: Kaplan-Meier (censor marks +) under each model's posterior", parse_math=False)
    _legend(legend_row, styles)
    return figure


def _panel(
    container: SubFigure,
    km: pd.DataFrame,
    posterior: pd.DataFrame,
    styles: list[ModelStyle],
    title: str,
    span: float,
    note: str | None,
) -> None:
    """One arm of one subgroup: Kaplan-Meier, every model's posterior over it, numbers at risk below."""
    times = at_risk_times(span)
    ax, ax_risk = container.subplots(2, 1, sharex=True, height_ratios=(4.2, 0.75))
    for style in styles:
        rows = posterior[posterior["model"] == style.model]
        _draw_model(ax, rows.sort_values("time", kind="stable"), style)
    if not km.empty:
        _draw_km(ax, km)
    ax.set_xlim(-0.03 * span, 1.03 * span if span > 0 else 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xticks(times)
    ax.set_ylabel(Y_LABEL)
    lines = note.count("\n") + 1 if note else 0
    ax.set_title(title, parse_math=False, fontsize=10, pad=4 + NOTE_LINE_POINTS * lines)
    if note:  # between the title and the plot, where it hides no curve
        ax.text(0.0, 1.0 + 0.01, note, transform=ax.transAxes, fontsize=8, va="bottom").set_parse_math(False)
    ax.grid(color="#e5e5e5", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    _at_risk(ax_risk, km, times)


def _draw_model(ax: Axes, rows: pd.DataFrame, style: ModelStyle) -> None:
    """A model's posterior median (its line style) over its 95% band (filled), in its colour."""
    if rows.empty:
        return
    time = rows["time"].to_numpy(dtype=float)
    lower, upper = rows["lower"].to_numpy(dtype=float), rows["upper"].to_numpy(dtype=float)
    ax.fill_between(time, lower, upper, color=style.colour, alpha=BAND_ALPHA, linewidth=0).set_gid(GID_POSTERIOR_BAND)
    (median,) = ax.plot(time, rows["survival"].to_numpy(dtype=float), color=style.colour, linestyle=style.linestyle)
    median.set_linewidth(1.7)
    median.set_gid(GID_MEDIAN)
    median.set_label(style.model)


def _draw_km(ax: Axes, km: pd.DataFrame) -> None:
    time, survival = km["time"].to_numpy(dtype=float), km["survival"].to_numpy(dtype=float)
    (steps,) = ax.step(time, survival, where="post", color=KM_COLOUR, linewidth=1.4)
    steps.set_gid(GID_STEPS)
    censored = np.isin(time, censoring_times(km))
    (marks,) = ax.plot(time[censored], survival[censored], CENSOR_MARKER, color=KM_COLOUR, markersize=6)
    marks.set_gid(GID_CENSOR)


def _at_risk(ax: Axes, km: pd.DataFrame, times: np.ndarray) -> None:
    counts = numbers_at_risk(km, times) if not km.empty else np.zeros(times.size, dtype=int)
    for time, count in zip(times, counts, strict=True):
        ax.text(time, 0, str(count), ha="center", va="center", fontsize=9, color=KM_COLOUR)
    ax.set_ylim(0.5, -0.5)
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title("Number at risk", loc="left", fontsize=9)
    ax.set_xlabel(X_LABEL)


def _legend(container: SubFigure, styles: list[ModelStyle]) -> None:
    """Kaplan-Meier, censored, and per model its median line over its band."""
    handles: list = [
        Line2D([], [], color=KM_COLOUR, linewidth=1.4),
        Line2D([], [], color=KM_COLOUR, marker=CENSOR_MARKER, linestyle="", markersize=6),
    ]
    labels = [KM_STYLE_LABEL, "Censored"]
    for style in styles:
        band = Patch(color=style.colour, alpha=BAND_ALPHA * 2, linewidth=0)
        handles.append((band, Line2D([], [], color=style.colour, linestyle=style.linestyle, linewidth=1.5)))
        labels.append(f"{style.label}: posterior median, 95% band")
    legend = container.legend(handles, labels, loc="center", frameon=False, fontsize=9, ncols=min(len(handles), 3))
    for text in legend.get_texts():
        text.set_parse_math(False)
