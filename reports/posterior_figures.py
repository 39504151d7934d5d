"""Figures of the optional Bayesian analyses: the interaction screen, the time-varying effect, the prior check.

Each takes the tidy table ``tmesurv bayes`` wrote (``bayes_screen.csv``, ``bayes_time_varying.csv``,
``bayes_prior_predictive.csv``) and states the fit's divergences and convergence in the figure itself: an unconverged
fit is drawn with hollow markers and says so in its title.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tmesurv.cohort import CONTROL, TREATED
from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.reports.figures import arm_colour, ordered_arms
from tmesurv.reports.forest import BAND_COLOUR, BAYES_COLOUR, hr_at_posterior_mean, hr_axis_limit, log_hr_axis
from tmesurv.reports.tables import CONVERGED, fit_status

SCREEN_ROW_HEIGHT = 0.24  # inches per screened biomarker
OPEN_END_SHARE = 0.25  # the last, open-ended interval is drawn this share of the follow-up beyond its start
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


def time_varying_figure(
    time_varying: pd.DataFrame, endpoint: str, arm_names: Mapping[str, str] | None = None
) -> Figure:
    """The treatment HR per baseline interval (all patients): HR at the posterior mean log HR and 95% CrI.

    Parameters
    ----------
    time_varying
        ``bayes_time_varying.csv``: rows of analysis ``treatment`` (subgroup ``all``) with ``start``, ``end``
        (months; the last is infinite), ``mean`` (log HR), ``hr_lower``, ``hr_upper``, ``converged``,
        ``divergences``.
    endpoint
        The endpoint.
    arm_names
        Display name per arm value.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal segments on a log HR axis against months; the open last interval ends in an arrow.
    """
    rows = _overall(time_varying, endpoint).sort_values("interval")
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    start = rows["start"].to_numpy(dtype=float)
    end = rows["end"].to_numpy(dtype=float)
    last = start[-1] + OPEN_END_SHARE * max(start[-1], 1.0)
    end = np.where(np.isfinite(end), end, last)
    hr = hr_at_posterior_mean(rows["mean"])
    lower, upper = rows["hr_lower"].to_numpy(dtype=float), rows["hr_upper"].to_numpy(dtype=float)
    converged = _converged(rows)
    figure = Figure(figsize=(7.0, 3.8), layout="constrained")
    ax = figure.add_subplot()
    middle = (start + end) / 2
    for left, right, low, high in zip(start, end, lower, upper, strict=True):
        ax.fill_between([left, right], low, high, color=BAND_COLOUR, linewidth=0)
    ax.hlines(hr, start, end, color=BAYES_COLOUR, linewidth=2.0)
    face = BAYES_COLOUR if converged else "white"
    ax.plot(middle, hr, "o", color=BAYES_COLOUR, markerfacecolor=face, markersize=5, linestyle="")
    ax.annotate("", xy=(end[-1], hr[-1]), xytext=(middle[-1], hr[-1]), arrowprops={"arrowstyle": "->"})
    _hr_axis_around_one(ax, np.concatenate([lower, upper]), "y")
    ax.set_xlim(0, end[-1] * 1.02)
    ax.set_xlabel("Months since randomisation (baseline intervals; the last is open-ended)")
    ax.set_ylabel(f"Treatment HR, {names[TREATED]} vs {names[CONTROL]}\n(log scale)", parse_math=False)
    divergences = int(np.nan_to_num(rows["divergences"].max()))
    ax.set_title(
        f"{endpoint}: treatment HR per interval at the posterior mean log HR, 95% CrI\n"
        f"{divergences} divergences, {_status_text(converged)}",
        parse_math=False,
        fontsize=10,
    )
    return figure


def prior_predictive_figure(
    check: pd.DataFrame,
    endpoint: str,
    km_curves: pd.DataFrame | None = None,
    arm_names: Mapping[str, str] | None = None,
) -> Figure:
    """Prior predictive survival at the landmarks against the Kaplan-Meier curve, a panel per arm.

    Parameters
    ----------
    check
        ``bayes_prior_predictive.csv``: rows of statistic ``survival`` (per arm and landmark ``time``: prior
        predictive median ``estimate``, 95% ``lower``/``upper``, ``observed`` Kaplan-Meier) and one of ``events``.
    endpoint
        The endpoint.
    km_curves
        ``km_curves.csv``, optional: the Kaplan-Meier step curve of each arm (subgroup ``all``).
    arm_names
        Display name per arm value.

    Returns
    -------
    matplotlib.figure.Figure
        Survival probability (0 to 1) against months; the title gives the prior predictive and observed events.
    """
    rows = check[check["endpoint"] == endpoint]
    survival = rows[rows["statistic"] == "survival"]
    arms = ordered_arms(survival["arm"])
    names = dict(arm_names or {})
    figure = Figure(figsize=(4.2 * len(arms) + 0.4, 3.9), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(arms), sharey=True, squeeze=False).ravel())
    for index, (ax, arm) in enumerate(zip(axes, arms, strict=True)):
        km_colour = arm_colour(str(arm), index)
        _prior_panel(ax, survival[survival["arm"] == arm], _km_curve(km_curves, endpoint, arm), km_colour)
        ax.set_title(names.get(str(arm), str(arm)), parse_math=False, fontsize=10)
        ax.set_xlabel("Months since randomisation")
    axes[0].set_ylabel("Survival probability")
    figure.suptitle(_events_title(rows, endpoint), parse_math=False, fontsize=10)
    handles = [
        Line2D([], [], color="#555555", linewidth=1.2, drawstyle="steps-post"),
        Line2D([], [], color=BAYES_COLOUR, marker="s", linewidth=1.4),
        Line2D([], [], color="black", marker="x", linestyle=""),
    ]
    labels = ["Kaplan-Meier", "Prior predictive median, 95% interval", "Kaplan-Meier at the landmark"]
    figure.legend(handles, labels, loc="outside lower center", frameon=False, fontsize=8, ncols=3)
    return figure


def _prior_panel(ax: Axes, rows: pd.DataFrame, km: pd.DataFrame | None, km_colour: str) -> None:
    if km is not None and not km.empty:
        ax.step(km["time"], km["survival"], where="post", color=km_colour, linewidth=1.2)
    time = rows["time"].to_numpy(dtype=float)
    estimate = rows["estimate"].to_numpy(dtype=float)
    errors = np.abs(np.vstack([estimate - rows["lower"].to_numpy(dtype=float), rows["upper"] - estimate]))
    ax.errorbar(time, estimate, yerr=errors, fmt="s", color=BAYES_COLOUR, capsize=4, markersize=5)
    ax.plot(time, rows["observed"].to_numpy(dtype=float), "x", color="black", markersize=7)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)


def _km_curve(km_curves: pd.DataFrame | None, endpoint: str, arm: str) -> pd.DataFrame | None:
    if km_curves is None:
        return None
    chosen = (km_curves["endpoint"] == endpoint) & (km_curves["arm"] == arm) & (km_curves["subgroup"] == ALL_PATIENTS)
    return km_curves[chosen].sort_values("time")


def _events_title(rows: pd.DataFrame, endpoint: str) -> str:
    events = rows[rows["statistic"] == "events"]
    title = f"{endpoint}: prior predictive check of the treatment model"
    if events.empty:
        return title
    record = events.iloc[0]
    return (
        f"{title}\nevents in the follow-up: prior predictive median {record['estimate']:.0f} "
        f"(95% interval {record['lower']:.0f}\u2013{record['upper']:.0f}), observed {record['observed']:.0f}"
    )


def _overall(time_varying: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    rows = time_varying[(time_varying["endpoint"] == endpoint) & (time_varying["analysis"] == "treatment")]
    if rows.empty:
        raise ValueError(f"bayes_time_varying has no treatment rows for endpoint '{endpoint}'")
    return rows


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
