"""Kaplan-Meier figures for the HTML report, rendered to PNG and embedded as ``data:`` URIs.

Figures are built with :class:`matplotlib.figure.Figure` directly (the Agg renderer behind ``savefig``), never
through ``pyplot``: no global figure registry to leak into, and no backend switched under a user's notebook.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tmesurv.cohort import CONTROL, TREATED

ARM_ORDER = (TREATED, CONTROL)
ARM_COLOURS = {TREATED: "#0072B2", CONTROL: "#D55E00"}
OTHER_COLOURS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9")
AT_RISK_STEPS = (3, 6, 12, 24, 48)  # candidate months between at-risk columns
TARGET_AT_RISK_INTERVALS = 6  # 36 or 44 months of follow-up get a column every 6 months
X_LABEL = "Time since randomization (months)"
Y_LABEL = "Survival probability"
DPI = 110


@dataclass(frozen=True)
class FigureImage:
    """A rendered figure: a self-contained ``data:image/png;base64,...`` source and its alt text."""

    src: str
    alt: str


def km_figure(curves: pd.DataFrame, endpoint: str) -> FigureImage:
    """Draw the Kaplan-Meier curves of one endpoint, with CI bands and a numbers-at-risk row.

    Parameters
    ----------
    curves
        Rows of ``km_curves.csv`` for this endpoint: ``arm, time, survival, lower, upper, at_risk``, one row
        per distinct time per arm (a step function starting at time 0, survival 1; time in months).
    endpoint
        Endpoint name, used in the title and the alt text.

    Returns
    -------
    FigureImage
        The PNG as a ``data:`` URI, and alt text describing it.
    """
    by_arm = {arm: _sorted_by_time(curves[curves["arm"] == arm]) for arm in ordered_arms(curves["arm"])}
    times = at_risk_times(float(curves["time"].max()))
    figure = Figure(figsize=(7.5, 5.4), layout="constrained")
    ax_curves, ax_risk = figure.subplots(2, 1, sharex=True, height_ratios=(4.2, 0.4 + 0.3 * len(by_arm)))
    _draw_curves(ax_curves, by_arm, times)
    ax_curves.set_title(f"{endpoint}: Kaplan-Meier estimate", parse_math=False)
    _draw_at_risk(ax_risk, by_arm, times)
    alt = (
        f"Kaplan-Meier curves of {endpoint} by arm ({', '.join(by_arm)}) with confidence bands; "
        f"numbers at risk every {_step_of(times):g} months below the plot."
    )
    return FigureImage(src=png_data_uri(figure), alt=alt)


def ordered_arms(arms: pd.Series) -> list[str]:
    """Arms in display order: ``treated``, ``control``, then any others in order of appearance."""
    present = list(pd.unique(arms))
    return [arm for arm in ARM_ORDER if arm in present] + [arm for arm in present if arm not in ARM_ORDER]


def at_risk_times(max_time: float) -> np.ndarray:
    """Regular times (months) for the numbers-at-risk row: 0, step, 2 x step, ... up to ``max_time``.

    The step is the one of :data:`AT_RISK_STEPS` whose number of intervals is closest to
    :data:`TARGET_AT_RISK_INTERVALS` (ties go to the longer step).
    """
    max_time = max(max_time, 0.0)
    step = min(AT_RISK_STEPS, key=lambda s: (abs(max_time / s - TARGET_AT_RISK_INTERVALS), -s))
    return np.arange(0.0, max_time + 1e-9, step)


def numbers_at_risk(curve: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Read the number at risk at each of ``times`` off one arm's step data.

    Parameters
    ----------
    curve
        One arm's rows, sorted by ``time``; ``at_risk`` is the number at risk just before each ``time``.
    times
        Times (months) to report.

    Returns
    -------
    numpy.ndarray
        For each time ``t``: ``at_risk`` of the first row with ``time >= t`` (patients still followed at
        ``t``), or 0 after the last row. Patients censored between ``t`` and that row are not counted, so when
        the step data holds event times only this is a slight undercount.
    """
    curve_times = curve["time"].to_numpy(dtype=float)
    at_risk = np.append(curve["at_risk"].to_numpy(dtype=float), 0.0)
    return at_risk[np.searchsorted(curve_times, times, side="left")].astype(int)


def png_data_uri(figure: Figure) -> str:
    """Render ``figure`` to PNG and return it as a ``data:image/png;base64,`` URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    figure.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _sorted_by_time(curve: pd.DataFrame) -> pd.DataFrame:
    return curve.sort_values("time", kind="stable")


def _colour(arm: str, index: int) -> str:
    return ARM_COLOURS.get(arm, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def _plain(text: str) -> str:
    """Escape ``$`` so matplotlib shows user text literally instead of parsing it as mathtext."""
    return str(text).replace("$", r"\$")


def _step_of(times: np.ndarray) -> float:
    return float(times[1] - times[0]) if len(times) > 1 else float(AT_RISK_STEPS[0])


def _draw_curves(ax: Axes, by_arm: dict[str, pd.DataFrame], times: np.ndarray) -> None:
    for index, (arm, curve) in enumerate(by_arm.items()):
        colour = _colour(arm, index)
        time = curve["time"].to_numpy(dtype=float)
        ax.step(time, curve["survival"].to_numpy(dtype=float), where="post", color=colour, label=_plain(arm))
        lower, upper = curve["lower"].to_numpy(dtype=float), curve["upper"].to_numpy(dtype=float)
        ax.fill_between(time, lower, upper, step="post", color=colour, alpha=0.18, linewidth=0)
    span = max(float(times[-1]), max(float(c["time"].max()) for c in by_arm.values()))
    ax.set_xlim(-0.03 * span, 1.03 * span if span > 0 else 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xticks(times)
    ax.set_ylabel(Y_LABEL)
    ax.grid(color="#e5e5e5", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="best", frameon=False)


def _draw_at_risk(ax: Axes, by_arm: dict[str, pd.DataFrame], times: np.ndarray) -> None:
    for row, (arm, curve) in enumerate(by_arm.items()):
        for time, count in zip(times, numbers_at_risk(curve, times), strict=True):
            ax.text(time, row, str(count), ha="center", va="center", fontsize=9, color=_colour(arm, row))
    ax.set_ylim(len(by_arm) - 0.5, -0.5)
    ax.set_yticks(range(len(by_arm)), labels=[_plain(arm) for arm in by_arm])
    ax.tick_params(axis="y", length=0)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title("Number at risk", loc="left", fontsize=9)
    ax.set_xlabel(X_LABEL)
