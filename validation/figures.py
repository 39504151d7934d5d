"""Figures of an external validation, drawn from the tables of :class:`tmesurv.validation.external.ValidationResults`.

Per model (Cox, Bayesian) and horizon: the calibration plot (smoothed calibration curve, Kaplan-Meier observed risk
by quantile group of predicted risk, ICI/E50/E90) and, for a two-arm cohort and an interaction model, observed
against predicted benefit by group with the c-for-benefit. Per model: the external Kaplan-Meier curve against the
model's mean predicted survival and, for a Bayesian fit, the posterior predictive band. Built on ``Figure`` directly
and saved as PNG and SVG by :func:`tmesurv.reports.graphics.save_figure`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tmesurv.reports.graphics import OTHER_COLOURS, save_figure
from tmesurv.reports.km_plot import X_LABEL, Y_LABEL

if TYPE_CHECKING:
    from tmesurv.validation.external import ValidationResults

MODEL_NAMES = {"cox": "Cox", "bayes": "Bayesian PWE"}
MODEL_COLOURS = {"cox": "#0072B2", "bayes": "#009E73"}
EXTERNAL_COLOUR = "#333333"
DIAGONAL = {"color": "#999999", "linestyle": "--", "linewidth": 1.0}


def calibration_figure(rows: pd.DataFrame, errors: dict[str, float], model: str, horizon: float) -> Figure:
    """Calibration plot at one horizon: smoothed curve, observed risk by group, and the diagonal.

    Parameters
    ----------
    rows
        Rows of ``calibration_curves.csv`` for one model and horizon (``kind`` ``curve`` and ``group``).
    errors
        ``ici``, ``e50`` and ``e90`` of the curve (NaN when not estimable).
    model
        ``cox`` or ``bayes``.
    horizon
        The horizon, in months.

    Returns
    -------
    matplotlib.figure.Figure
        The plot.
    """
    figure = Figure(figsize=(5.4, 5.0), layout="constrained")
    ax = figure.subplots()
    curve, groups = rows[rows["kind"] == "curve"], rows[rows["kind"] == "group"]
    colour = MODEL_COLOURS.get(model, OTHER_COLOURS[0])
    top = float(np.nanmax([rows["predicted"].max(), rows["observed"].max(), rows["upper"].max(), 0.05])) * 1.05
    ax.plot([0, top], [0, top], **DIAGONAL, label="perfect calibration")
    if curve["observed"].notna().any():
        ax.plot(curve["predicted"], curve["observed"], color=colour, linewidth=1.8, label="smoothed (Austin et al.)")
    yerr = np.abs(groups[["lower", "upper"]].to_numpy().T - groups["observed"].to_numpy())
    ax.errorbar(
        groups["predicted"],
        groups["observed"],
        yerr=yerr,
        fmt="o",
        color=colour,
        capsize=3,
        label="Kaplan-Meier by group",
    )
    text = "   ".join(f"{name.upper()} {errors.get(name, np.nan):.3f}" for name in ("ici", "e50", "e90"))
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=9, parse_math=False)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(f"Predicted risk by {horizon:g} months")
    ax.set_ylabel("Observed risk")
    ax.set_title(f"{MODEL_NAMES.get(model, model)}: calibration at {horizon:g} months", parse_math=False)
    _finish(ax, loc="lower right")
    return figure


def benefit_figure(rows: pd.DataFrame, c_for_benefit: float, model: str, horizon: float) -> Figure:
    """Observed against predicted absolute benefit by quantile group of predicted benefit.

    Parameters
    ----------
    rows
        Rows of ``benefit.csv`` for one model and horizon (groups ``Q1``..., and ``all``).
    c_for_benefit
        The c-for-benefit at the horizon.
    model
        ``cox`` or ``bayes``.
    horizon
        The horizon, in months.

    Returns
    -------
    matplotlib.figure.Figure
        The plot; benefit is control minus treated risk (positive: the treatment helps).
    """
    figure = Figure(figsize=(5.4, 5.0), layout="constrained")
    ax = figure.subplots()
    colour = MODEL_COLOURS.get(model, OTHER_COLOURS[0])
    groups, overall = rows[rows["group"] != "all"], rows[rows["group"] == "all"]
    limits = rows[["predicted", "observed", "lower", "upper"]].to_numpy(dtype=float)
    low, high = float(np.nanmin([np.nanmin(limits), 0.0])), float(np.nanmax([np.nanmax(limits), 0.05]))
    ax.plot([low, high], [low, high], **DIAGONAL, label="observed = predicted")
    ax.axhline(0.0, color="#cccccc", linewidth=0.8)
    for frame, marker, label in ((groups, "o", "quantile group"), (overall, "D", "all patients")):
        yerr = np.abs(frame[["lower", "upper"]].to_numpy(dtype=float).T - frame["observed"].to_numpy(dtype=float))
        ax.errorbar(frame["predicted"], frame["observed"], yerr=yerr, fmt=marker, color=colour, capsize=3, label=label)
    for row in groups.itertuples(index=False):
        ax.annotate(str(row.group), (row.predicted, row.observed), xytext=(5, 4), textcoords="offset points")
    ax.text(0.02, 0.98, f"c-for-benefit {c_for_benefit:.3f}", transform=ax.transAxes, va="top", fontsize=9)
    ax.set_xlabel(f"Predicted benefit by {horizon:g} months (risk difference)")
    ax.set_ylabel("Observed benefit (Kaplan-Meier, 95% CI)")
    ax.set_title(f"{MODEL_NAMES.get(model, model)}: treatment benefit at {horizon:g} months", parse_math=False)
    _finish(ax, loc="lower right")
    return figure


def survival_figure(rows: pd.DataFrame, model: str) -> Figure:
    """The external Kaplan-Meier curve against the model's mean predicted survival (and predictive band).

    Parameters
    ----------
    rows
        ``survival_curves.csv`` rows of the external cohort (``model`` ``external``) and of one model.
    model
        ``cox`` or ``bayes``.

    Returns
    -------
    matplotlib.figure.Figure
        The plot.
    """
    figure = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = figure.subplots()
    external = rows[rows["model"] == "external"].sort_values("time")
    ax.step(external["time"], external["survival"], where="post", color=EXTERNAL_COLOUR, label="external Kaplan-Meier")
    ax.fill_between(
        external["time"], external["lower"], external["upper"], step="post", color=EXTERNAL_COLOUR, alpha=0.15, lw=0
    )
    colour = MODEL_COLOURS.get(model, OTHER_COLOURS[0])
    band = rows[(rows["model"] == model) & (rows["curve"] == "posterior_predictive")]
    if not band.empty:
        label = "posterior predictive 95% band"
        ax.fill_between(band["time"], band["lower"], band["upper"], color=colour, alpha=0.25, lw=0, label=label)
    mean = rows[(rows["model"] == model) & (rows["curve"] == "mean_predicted")]
    label = f"{MODEL_NAMES.get(model, model)}: mean predicted survival"
    ax.plot(mean["time"], mean["survival"], color=colour, linewidth=1.8, label=label)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_title(f"External cohort against the {MODEL_NAMES.get(model, model)} model", parse_math=False)
    _finish(ax, loc="upper right")
    return figure


def write_validation_figures(folder: Path, results: ValidationResults) -> list[Path]:
    """Draw every figure the results allow into ``folder`` (PNG and SVG each).

    Returns
    -------
    list[pathlib.Path]
        The files written: ``calibration_<model>_<horizon>``, ``benefit_<model>_<horizon>`` and
        ``survival_<model>``.
    """
    written: list[Path] = []
    table = results.table
    for model in [m for m in table["model"].unique() if m in MODEL_NAMES]:
        rows = table[table["model"] == model]
        calibration = results.calibration[results.calibration["model"] == model]
        for horizon, curve in calibration.groupby("horizon", sort=True):
            errors = {name: _estimate(rows, name, horizon) for name in ("ici", "e50", "e90")}
            figure = calibration_figure(curve, errors, model, float(horizon))
            written += save_figure(figure, folder / f"calibration_{model}_{_horizon_name(horizon)}")
        if results.benefit is not None:
            benefit = results.benefit[results.benefit["model"] == model]
            for horizon, groups in benefit.groupby("horizon", sort=True):
                if groups["observed"].notna().any():
                    figure = benefit_figure(groups, _estimate(rows, "c_for_benefit", horizon), model, float(horizon))
                    written += save_figure(figure, folder / f"benefit_{model}_{_horizon_name(horizon)}")
        survival = results.survival[results.survival["model"].isin(["external", model])]
        written += save_figure(survival_figure(survival, model), folder / f"survival_{model}")
    return written


def _estimate(rows: pd.DataFrame, metric: str, horizon: float) -> float:
    chosen = rows[(rows["metric"] == metric) & (rows["horizon"] == horizon) & (rows["group"] == "all")]
    return float(chosen["estimate"].iloc[0]) if len(chosen) else float("nan")


def _horizon_name(horizon: float) -> str:
    return f"{float(horizon):g}".replace(".", "_")


def _finish(ax: Axes, loc: str) -> None:
    ax.grid(color="#e5e5e5", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    legend = ax.legend(loc=loc, frameon=False, fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)
