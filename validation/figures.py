"""Figures of an external validation, drawn from the tables of :class:`tmesurv.validation.external.ValidationResults`.

Per model (Cox, Bayesian) and horizon: the calibration plot (smoothed calibration curve with its bootstrap band,
Kaplan-Meier observed risk by quantile group of predicted risk, ICI/E50/E90/Emax, the histogram of predicted risks
under it), the decision curve (net benefit against treat all and treat none) and, for a two-arm cohort and an
interaction model, observed against predicted benefit by group with the c-for-benefit. Per model: the external
Kaplan-Meier curve against the model's mean predicted survival and, for a Bayesian fit, the posterior predictive band.
Built on ``Figure`` directly and saved as PNG and SVG by :func:`tmesurv.reports.graphics.save_figure`.
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
CALIBRATION_ERRORS = ("ici", "e50", "e90", "emax")
HISTOGRAM_BINS = 40


def calibration_figure(
    rows: pd.DataFrame, errors: dict[str, float], model: str, horizon: float, risks: np.ndarray | None = None
) -> Figure:
    """Calibration plot at one horizon (smoothed curve and band, observed risk by group) over a risk histogram.

    Parameters
    ----------
    rows
        Rows of ``calibration_curves.csv`` for one model and horizon (``kind`` ``curve``, whose ``lower``/``upper``
        are the bootstrap band when present, and ``group``).
    errors
        ``ici``, ``e50``, ``e90`` and ``emax`` of the curve (NaN when not estimable).
    model
        ``cox`` or ``bayes``.
    horizon
        The horizon, in months.
    risks
        The patients' predicted risks by ``horizon`` (``predictions.csv``), for the histogram; None: no histogram.

    Returns
    -------
    matplotlib.figure.Figure
        The plot: axes 0 the calibration plot, axes 1 the histogram (when ``risks`` is given).
    """
    figure = Figure(figsize=(5.4, 6.2 if risks is not None else 5.0), layout="constrained")
    if risks is not None:
        ax, histogram = figure.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    else:
        ax, histogram = figure.subplots(), None
    curve, groups = rows[rows["kind"] == "curve"], rows[rows["kind"] == "group"]
    colour = MODEL_COLOURS.get(model, OTHER_COLOURS[0])
    top = float(np.nanmax([rows["predicted"].max(), rows["observed"].max(), rows["upper"].max(), 0.05])) * 1.05
    ax.plot([0, top], [0, top], **DIAGONAL, label="perfect calibration")
    if curve[["lower", "upper"]].notna().all(axis=1).any():
        band = curve.dropna(subset=["lower", "upper"])
        ax.fill_between(band["predicted"], band["lower"], band["upper"], color=colour, alpha=0.2, lw=0,
                        label="bootstrap 95% band")  # fmt: skip
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
    text = "   ".join(f"{name.upper()} {errors.get(name, np.nan):.3f}" for name in CALIBRATION_ERRORS)
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=9, parse_math=False)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_ylabel("Observed risk")
    ax.set_title(f"{MODEL_NAMES.get(model, model)}: calibration at {horizon:g} months", parse_math=False)
    _finish(ax, loc="lower right")
    x_label = f"Predicted risk by {horizon:g} months"
    if histogram is None:
        ax.set_xlabel(x_label)
        return figure
    histogram.hist(risks, bins=np.linspace(0, top, HISTOGRAM_BINS + 1), color=colour, alpha=0.6)
    histogram.set_xlabel(x_label)
    histogram.set_ylabel("Patients")
    histogram.spines[["top", "right"]].set_visible(False)
    return figure


def decision_curve_figure(rows: pd.DataFrame, model: str, horizon: float) -> Figure:
    """Net benefit by threshold of treating by the model, treating all and treating none, at one horizon.

    Parameters
    ----------
    rows
        Rows of ``decision_curve.csv`` for one model, decision (``risk``: treat if predicted risk exceeds the
        threshold; ``benefit``: if predicted benefit does) and horizon.
    model
        ``cox`` or ``bayes``.
    horizon
        The horizon, in months.

    Returns
    -------
    matplotlib.figure.Figure
        The plot; the y axis runs from a tenth of the highest net benefit below 0 to just above it, so treat all's
        steep fall at high thresholds leaves the plot. For benefit, the x axis stops 0.05 after the last threshold
        some patient's predicted benefit exceeds.
    """
    by_benefit = "decision" in rows and (rows["decision"] == "benefit").all()
    quantity = "benefit" if by_benefit else "risk"
    figure = Figure(figsize=(6.0, 4.6), layout="constrained")
    ax = figure.subplots()
    colour = MODEL_COLOURS.get(model, OTHER_COLOURS[0])
    top = float(np.nanmax([rows["net_benefit"].max(), rows["treat_all"].max(), 0.01])) * 1.05
    ax.plot(rows["threshold"], rows["treat_none"], color="#999999", linewidth=1.2, label="treat none")
    ax.plot(rows["threshold"], rows["treat_all"], color=EXTERNAL_COLOUR, linewidth=1.2, linestyle="--",
            label="treat all")  # fmt: skip
    ax.plot(rows["threshold"], rows["net_benefit"], color=colour, linewidth=1.8,
            label=f"{MODEL_NAMES.get(model, model)}: treat if predicted {quantity} > threshold")  # fmt: skip
    treating = rows.loc[rows["net_benefit"].fillna(1.0) != 0, "threshold"]
    right = min(1.0, float(treating.max()) + 0.05) if by_benefit and len(treating) else 1.0
    ax.set_xlim(0, right)
    ax.set_ylim(-0.1 * top, top)
    if by_benefit:
        ax.set_xlabel(f"Threshold: harm of treatment as a risk difference by {horizon:g} months")
    else:
        ax.set_xlabel(f"Threshold probability (risk by {horizon:g} months)")
    ax.set_ylabel("Net benefit")
    ax.set_title(f"{MODEL_NAMES.get(model, model)}: decision curve at {horizon:g} months", parse_math=False)
    _finish(ax, loc="upper right")
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
        The files written: ``calibration_<model>_<horizon>``, ``decision_curve_<model>_<horizon>`` (and
        ``decision_curve_benefit_<model>_<horizon>`` for a benefit model on two arms),
        ``benefit_<model>_<horizon>`` and ``survival_<model>``.
    """
    written: list[Path] = []
    table = results.table
    for model in [m for m in table["model"].unique() if m in MODEL_NAMES]:
        rows = table[table["model"] == model]
        calibration = results.calibration[results.calibration["model"] == model]
        predictions = results.predictions[results.predictions["model"] == model]
        for horizon, curve in calibration.groupby("horizon", sort=True):
            errors = {name: _estimate(rows, name, horizon) for name in CALIBRATION_ERRORS}
            risks = predictions.loc[predictions["horizon"] == horizon, "risk"].to_numpy(dtype=float)
            figure = calibration_figure(curve, errors, model, float(horizon), risks)
            written += save_figure(figure, folder / f"calibration_{model}_{_horizon_name(horizon)}")
        decision = results.decision_curve[results.decision_curve["model"] == model]
        for (kind, horizon), curve in decision.groupby(["decision", "horizon"], sort=True):
            figure = decision_curve_figure(curve, model, float(horizon))
            name = "decision_curve" if kind == "risk" else "decision_curve_benefit"
            written += save_figure(figure, folder / f"{name}_{model}_{_horizon_name(horizon)}")
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
