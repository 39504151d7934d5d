"""Prior predictive section: survival and events the priors imply, beside the data.

Prior predictive section: survival and events the priors imply, beside the data (``bayes_prior_predictive.csv``,
``km_curves.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.reports.format import (
    Column,
    Row,
    Table,
    arm_label,
    format_interval,
    format_number,
    format_probability,
    statistic_label,
)
from tmesurv.reports.gallery import FigureSection, Gallery, endpoints_of
from tmesurv.reports.graphics import BAYES_COLOUR, FigureImage, arm_colour, ordered_arms, png_data_uri
from tmesurv.reports.results import Results
from tmesurv.reports.sections.time_varying import _events_title


def prior_predictive_table(check: pd.DataFrame, arm_names: dict[str, str] | None = None) -> Table:
    """Prior predictive survival per arm at the landmarks and events in the follow-up, next to the data.

    Parameters
    ----------
    check
        ``bayes_prior_predictive.csv``.
    arm_names
        Display name per arm value.

    Returns
    -------
    Table
        One row per (endpoint, statistic, arm, landmark).
    """
    rows = []
    for _, row in check.iterrows():
        digits = 0 if row["statistic"] == "events" else 2
        cells = (
            row["endpoint"],
            "Events in the follow-up" if row["statistic"] == "events" else statistic_label("survival", row["time"]),
            "both" if row["arm"] == "all" else arm_label(row["arm"], arm_names),
            format_interval(row["estimate"], row["lower"], row["upper"], digits),
            format_number(row["observed"], digits),
            format_probability(row["prob_below_observed"]),
        )
        rows.append(Row(cells))
    columns = (
        Column("Endpoint"),
        Column("Statistic"),
        Column("Arm"),
        Column("Prior predictive median (95% interval)", numeric=True),
        Column("Observed", numeric=True),
        Column("P(below observed)", numeric=True),
    )
    caption = (
        "What the priors of the treatment model say before seeing the outcomes: parameters drawn from the priors, "
        "each draw turned into the arm's average survival at the landmark and the number of events in the observed "
        "follow-up. Observed: Kaplan-Meier survival and the event count. P(below observed) near 0 or 1 means the "
        "priors do not expect the data; vague priors spread over the whole range, which is expected."
    )
    return Table(columns, tuple(rows), caption=caption)


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


def prior_predictive_section(results: Results, names: dict[str, str]) -> FigureSection | None:
    """The prior predictive check (``bayes_prior_predictive.csv``) against the Kaplan-Meier curves."""
    check = results.bayes_prior_predictive
    if check is None:
        return None
    images = tuple(
        FigureImage(
            png_data_uri(prior_predictive_figure(check, endpoint, results.km_curves, names)),
            f"Prior predictive check of {endpoint}: survival per arm implied by the priors (median and 95% "
            "interval at the landmarks) against the Kaplan-Meier curve.",
        )
        for endpoint in endpoints_of(check[check["statistic"] == "survival"])
    )
    galleries = (Gallery("Prior predictive survival", images),) if images else ()
    return FigureSection(prior_predictive_table(check, names), galleries)
