"""The power curve of a power study (``power_curve.png``/``.svg``): its numbers and its drawing.

:func:`power_curve` takes the numbers the figure shows from the study's Dataset (plain arrays and strings, a
:class:`PowerCurve`); :func:`draw_power_curve` draws them with matplotlib; :func:`power_curve_figure` does both.
:mod:`.figure_process` draws a :class:`PowerCurve` in a helper process while the study writes its other outputs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

METHOD_COLOURS = {
    "cox_interaction": "#0072B2",
    "cox_interaction_stratified": "#56B4E9",
    "median_split": "#D55E00",
    "bayes_interaction": "#009E73",
    "bayes_cure_interaction": "#CC79A7",
}
MARKERS = ("o", "s", "^", "D", "v", "P")
FIGURE_STEM = "power_curve"


@dataclass(frozen=True)
class Series:
    """One method at one (follow-up, dropout) pair: simulated power against mean events, with 2 Monte Carlo SE."""

    label: str
    colour: str
    marker: str
    events: np.ndarray
    power: np.ndarray
    error: np.ndarray


@dataclass(frozen=True)
class Panel:
    """One (design, prognostic HR, prevalence, interaction HR) panel.

    Its series, the analytic curve (randomized designs: mean events and power), and the horizontal lines (alpha, 0.8).
    """

    title: str
    series: tuple[Series, ...]
    analytic: tuple[np.ndarray, np.ndarray] | None
    levels: tuple[float, float]


@dataclass(frozen=True)
class PowerCurve:
    """The figure's numbers: panels by row (design, prognostic HR, prevalence) and column (interaction HR)."""

    panels: tuple[tuple[Panel, ...], ...]
    title: str


def power_curve_figure(dataset: xr.Dataset) -> Figure:
    """Power against mean events: a row per (design, prognostic HR, prevalence), a column per interaction HR.

    Points are the simulated power of each method at each cohort size (error bars: 2 Monte Carlo SE), one marker per
    (follow-up, dropout) pair; the black dashed line is the analytic power of the Cox interaction test (randomized
    rows only); dotted lines mark alpha and 0.8.

    Parameters
    ----------
    dataset
        A result of :func:`~tmesurv.simulations.power.summary.summarize_power`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    return draw_power_curve(power_curve(dataset))


def power_curve(dataset: xr.Dataset) -> PowerCurve:
    """The numbers of :func:`power_curve_figure`, taken from a study's Dataset."""
    rows = list(itertools.product(*(dataset[dim].to_numpy() for dim in ("design", "prognostic_hr", "prevalence"))))
    panels = tuple(
        tuple(
            _panel(
                dataset.sel(design=design, prognostic_hr=prognostic, prevalence=prevalence, interaction_hr=hr),
                dataset.attrs,
            )
            for hr in dataset["interaction_hr"].to_numpy()
        )
        for design, prognostic, prevalence in rows
    )
    title = f"Power study {dataset.attrs['study']}: {dataset.attrs['replicates']} replicates per setting"
    return PowerCurve(panels, title)


def _panel(panel: xr.Dataset, attrs: dict) -> Panel:
    """Simulated points of every method and (follow-up, dropout) pair, and the analytic curve."""
    import numpy as np  # not at the top: the study imports this module first, to start the helper process

    combos = [(f, d) for f in panel["follow_up"].to_numpy() for d in panel["dropout_per_year"].to_numpy()]
    series = []
    for method in panel["method"].to_numpy():
        for number, (follow_up, dropout) in enumerate(combos):
            point = panel.sel({"method": method, "follow_up": follow_up, "dropout_per_year": dropout})
            order = np.argsort(point["mean_events"].to_numpy())
            label = (
                str(method) if len(combos) == 1 else f"{method} (follow-up {follow_up:.3g} mo, dropout {dropout:.3g}/y)"
            )
            series.append(
                Series(
                    label,
                    METHOD_COLOURS.get(str(method), "grey"),
                    MARKERS[number % len(MARKERS)],
                    point["mean_events"].to_numpy()[order],
                    point["power"].to_numpy()[order],
                    2 * point["power_mcse"].to_numpy()[order],
                )
            )
    design, hr = str(panel["design"].to_numpy()), float(panel["interaction_hr"])
    analytic = _analytic_curve(panel, attrs) if design == "randomized" else None
    title = _panel_title(design, float(panel["prevalence"]), hr, float(panel["prognostic_hr"]))
    return Panel(title, tuple(series), analytic, (attrs["alpha"], 0.8))


def _panel_title(design: str, prevalence: float, hr: float, prognostic: float) -> str:
    """Randomized: the interaction the power is for; single-arm: the treated arm's prognostic HR it really detects."""
    if design == "single_arm":
        return (
            f"single-arm, prevalence {prevalence:g}: power for a PROGNOSTIC\n"
            f"effect, treated-arm HR {prognostic * hr:g} (HR_int {hr:g} x prognostic {prognostic:g})"
        )
    return f"randomized, prevalence {prevalence:g}\nHR_int {hr:g}, prognostic HR {prognostic:g}"


def _analytic_curve(panel: xr.Dataset, attrs: dict) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    from tmesurv.simulations.power.methods import analytic_power  # scipy: not for the drawing process

    top = float(np.nanmax(panel["mean_events"].to_numpy())) * 1.1
    events = np.linspace(1, max(top, 2.0), 200)
    power = analytic_power(
        events, float(panel["interaction_hr"]), float(panel["prevalence"]), attrs["allocation"], attrs["alpha"]
    )
    return events, power


def draw_power_curve(curve: PowerCurve) -> Figure:
    """Draw a :class:`PowerCurve` (see :func:`power_curve_figure`)."""
    from matplotlib.figure import Figure

    n_rows, n_columns = len(curve.panels), len(curve.panels[0])
    figure = Figure(figsize=(3.4 * n_columns + 3.2, 2.7 * n_rows + 0.5), layout="constrained")
    axes = figure.subplots(n_rows, n_columns, squeeze=False, sharey=True)
    for panels, row in zip(curve.panels, axes, strict=True):
        for panel, ax in zip(panels, row, strict=True):
            _draw_panel(ax, panel)
            ax.set_title(panel.title, fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("Mean events per cohort")
    for ax in axes[:, 0]:
        ax.set_ylabel("Power (rejection rate)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=7, frameon=False)
    figure.suptitle(curve.title)
    return figure


def _draw_panel(ax: Axes, panel: Panel) -> None:
    for series in panel.series:
        ax.errorbar(
            series.events,
            series.power,
            yerr=series.error,
            color=series.colour,
            marker=series.marker,
            markersize=4,
            linewidth=1,
            capsize=2,
            label=series.label,
        )
    if panel.analytic is not None:
        events, power = panel.analytic
        ax.plot(events, power, color="black", linestyle="--", linewidth=1, label="analytic (Cox interaction)")
    for level in panel.levels:
        ax.axhline(level, color="grey", linestyle=":", linewidth=0.8)
    ax.set_ylim(0, 1)
