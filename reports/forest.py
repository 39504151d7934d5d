"""Forest plot of the treatment effect overall and within every subgroup, with the interaction P per grouping.

Layout as in the ZUMA-7 biomarker paper: one row per subgroup under a header row per grouping, the events/N of each
arm as text, the hazard ratio and its interval on a log axis with a line at 1, and the interval in words.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

from tmesurv.cohort import CONTROL, TREATED
from tmesurv.models.km import ALL_PATIENTS
from tmesurv.reports.figures import IN_SUBGROUP, NOT_IN_SUBGROUP, is_combined_subgroup

NOT_ESTIMABLE = "not estimable"
OVERALL = "All patients"
TERM = "arm"
HR_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
MAX_HR_AXIS = 20.0  # the axis spans at most 1/20 to 20; longer intervals end in an arrow
FONT_SIZE = 9
CHAR_WIDTH = 0.075  # inches per character at FONT_SIZE, for sizing the text columns
ROW_HEIGHT = 0.27  # inches


@dataclass(frozen=True)
class _Row:
    """One line of the plot: a grouping header (no estimate) or a subgroup estimate."""

    label: str
    header: bool = False
    hr: float = np.nan
    lower: float = np.nan
    upper: float = np.nan
    treated: str = ""
    control: str = ""
    hr_text: str = ""
    p_text: str = ""


def forest_figure(
    cox: pd.DataFrame,
    endpoint: str,
    interactions: pd.DataFrame | None = None,
    arm_names: Mapping[str, str] | None = None,
) -> Figure:
    """Hazard ratio of treated vs control, overall and in every subgroup, on a log scale.

    Parameters
    ----------
    cox
        ``cox.csv``: ``endpoint, analysis, subgroup, term, n_treated, events_treated, n_control, events_control,
        hr, hr_lower, hr_upper``. The overall row is ``analysis == "treatment"``, subgroup ``all``; one row per
        subgroup has ``analysis == "subgroup"``; both with term ``arm``. A NaN hazard ratio reads "not estimable".
    endpoint
        The endpoint to draw.
    interactions
        ``interactions.csv`` (``endpoint, grouping, scale, lrt_p``), optional: the likelihood-ratio P of scale
        ``groups`` is shown on each grouping's header row.
    arm_names
        Display name per arm value, e.g. ``{"treated": "axi-cel", "control": "SOC"}``; default the raw values.

    Returns
    -------
    matplotlib.figure.Figure
        Columns: subgroup, events/N per arm, the interval plot, "HR (95% CI)" and, with ``interactions``,
        "P interaction".

    Raises
    ------
    ValueError
        If ``cox`` has no treatment or subgroup rows of term ``arm`` for ``endpoint``.
    """
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    p_values = _interaction_p(interactions, endpoint)
    rows = _forest_rows(cox, endpoint, p_values)
    columns = _columns(names, with_p=interactions is not None)
    widths = [_column_width(rows, field, header) for field, header in columns]
    plot_width = max(3.0, 2 * CHAR_WIDTH * max(len(names[TREATED]), len(names[CONTROL])) + 1.6)
    figure = Figure(figsize=(sum(widths) + plot_width + 0.4, 1.3 + ROW_HEIGHT * (len(rows) + 1)), layout="constrained")
    figure.get_layout_engine().set(w_pad=0.02, wspace=0.0)
    ratios = [*widths[:3], plot_width, *widths[3:]]
    axes = figure.subplots(1, len(ratios), sharey=True, width_ratios=ratios)
    text_axes = [*axes[:3], *axes[4:]]
    for ax, (field, header) in zip(text_axes, columns, strict=True):
        _draw_text_column(ax, rows, field, header)
    _draw_intervals(axes[3], rows, names)
    axes[0].set_ylim(len(rows) - 0.5, -1.6)
    figure.suptitle(f"{endpoint}: hazard ratio, {names[TREATED]} vs {names[CONTROL]}", parse_math=False)
    return figure


def split_subgroup(subgroup: str, groupings: Collection[str] = ()) -> tuple[str, str]:
    """The grouping a result-table subgroup belongs to, and its level label.

    Parameters
    ----------
    subgroup
        ``b_cell_ges=high``, ``cd19_hscore=low & sii=high``, ``not (cd19_hscore=low & sii=high)``, ...
    groupings
        Known grouping names (from ``interactions.csv``); they settle a combined subgroup of one condition.

    Returns
    -------
    tuple[str, str]
        For example ``("b_cell_ges", "high")`` or ``("cd19_hscore=low & sii=high", "in subgroup")``.
    """
    if subgroup.startswith("not (") and subgroup.endswith(")"):
        return subgroup[5:-1], NOT_IN_SUBGROUP
    if subgroup in groupings or is_combined_subgroup(subgroup):
        return subgroup, IN_SUBGROUP
    name, found, level = subgroup.partition("=")
    return (name, level) if found else (subgroup, subgroup)


def _interaction_p(interactions: pd.DataFrame | None, endpoint: str) -> dict[str, float]:
    if interactions is None:
        return {}
    rows = interactions[(interactions["endpoint"] == endpoint) & (interactions["scale"] == "groups")]
    return dict(zip(rows["grouping"].astype(str), rows["lrt_p"].astype(float), strict=True))


def _forest_rows(cox: pd.DataFrame, endpoint: str, p_values: dict[str, float]) -> list[_Row]:
    """The overall row, then per grouping (in table order) a header row and one row per level."""
    rows = cox[(cox["endpoint"] == endpoint) & (cox["term"] == TERM)]
    overall = rows[(rows["analysis"] == "treatment") & (rows["subgroup"] == ALL_PATIENTS)]
    subgroups = rows[rows["analysis"] == "subgroup"]
    if overall.empty and subgroups.empty:
        raise ValueError(f"cox table has no treatment or subgroup rows of term '{TERM}' for endpoint '{endpoint}'")
    drawn = [_estimate_row(OVERALL, row) for _, row in overall.head(1).iterrows()]
    split = [split_subgroup(str(s), p_values) for s in subgroups["subgroup"]]
    for grouping in dict.fromkeys(name for name, _ in split):
        drawn.append(_Row(grouping, header=True, p_text=_p_text(p_values.get(grouping, np.nan), grouping in p_values)))
        for (name, level), (_, row) in zip(split, subgroups.iterrows(), strict=True):
            if name == grouping:
                drawn.append(_estimate_row(f"   {level}", row))
    return drawn


def _estimate_row(label: str, row: pd.Series) -> _Row:
    hr, lower, upper = (float(row[column]) for column in ("hr", "hr_lower", "hr_upper"))
    return _Row(
        label=label,
        hr=hr,
        lower=lower,
        upper=upper,
        treated=_events_text(row["events_treated"], row["n_treated"]),
        control=_events_text(row["events_control"], row["n_control"]),
        hr_text=_hr_text(hr, lower, upper),
    )


def _events_text(events: object, n: object) -> str:
    return "/".join("NA" if pd.isna(value) else f"{int(value)}" for value in (events, n))


def _hr_text(hr: float, lower: float, upper: float) -> str:
    if not np.isfinite(hr):
        return NOT_ESTIMABLE
    return f"{_ratio(hr)} ({_ratio(lower)}\u2013{_ratio(upper)})"


def _ratio(value: float) -> str:
    if np.isnan(value):
        return "NE"
    if np.isinf(value):
        return "\u221e"
    return f"{value:.2f}" if 0.005 <= value < 1000 else f"{value:.2g}"


def _p_text(p: float, tested: bool) -> str:
    if not tested:
        return ""
    if np.isnan(p):
        return "not tested"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _columns(names: Mapping[str, str], with_p: bool) -> list[tuple[str, str]]:
    """(row field, header) of each text column: three left of the interval plot, the rest right of it."""
    columns = [
        ("label", "Subgroup"),
        ("treated", f"{names[TREATED]}\nevents/N"),
        ("control", f"{names[CONTROL]}\nevents/N"),
        ("hr_text", "HR (95% CI)"),
    ]
    return [*columns, ("p_text", "P interaction")] if with_p else columns


def _column_width(rows: list[_Row], field: str, header: str) -> float:
    longest = max([len(getattr(row, field)) for row in rows] + [len(line) for line in header.split("\n")])
    return CHAR_WIDTH * longest + 0.25


def _draw_text_column(ax: Axes, rows: list[_Row], field: str, header: str) -> None:
    left = field == "label"
    x, align = (0.0, "left") if left else (0.5, "center")
    for y, row in enumerate(rows):
        weight = "bold" if row.header and left else "normal"
        ax.text(x, y, getattr(row, field), ha=align, va="center", fontsize=FONT_SIZE, weight=weight, parse_math=False)
    ax.text(x, -1.1, header, ha=align, va="center", fontsize=FONT_SIZE, weight="bold", parse_math=False)
    ax.set_xlim(0.0, 1.0)
    ax.axis("off")
    ax.axhline(-0.55, color="#999999", linewidth=0.8)


def _draw_intervals(ax: Axes, rows: list[_Row], names: Mapping[str, str]) -> None:
    limit = _axis_limit(rows)
    for y, row in enumerate(rows):
        if np.isfinite(row.hr) and row.hr > 0:
            _draw_interval(ax, y, row, limit)
    ax.vlines(1.0, -0.5, len(rows) - 0.5, color="#555555", linewidth=0.9)
    ax.axhline(-0.55, color="#999999", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlim(1 / limit, limit)
    ax.set_xticks([tick for tick in HR_TICKS if 1 / limit <= tick <= limit])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.tick_params(axis="y", left=False, labelleft=False)
    ax.spines[["left", "right", "top"]].set_visible(False)
    ax.set_xlabel("Hazard ratio (log scale)")
    favours = {"fontsize": FONT_SIZE - 1, "va": "center", "textcoords": "offset points", "color": "#333333"}
    left = ax.annotate(f"\u2190 favours {names[TREATED]}", (1.0, -1.1), xytext=(-5, 0), ha="right", **favours)
    right = ax.annotate(f"favours {names[CONTROL]} \u2192", (1.0, -1.1), xytext=(5, 0), ha="left", **favours)
    for text in (left, right):
        text.set_parse_math(False)


def _draw_interval(ax: Axes, y: int, row: _Row, limit: float) -> None:
    """A square at the hazard ratio and a line over its interval; an arrow where the interval leaves the axis."""
    lower = row.hr if np.isnan(row.lower) else row.lower  # a missing bound draws no line on its side
    upper = row.hr if np.isnan(row.upper) else row.upper
    ax.plot([max(lower, 1 / limit), min(upper, limit)], [y, y], color="black", linewidth=1.2, solid_capstyle="butt")
    if lower < 1 / limit:
        ax.plot(1 / limit, y, marker="<", color="black", markersize=5, clip_on=False)
    if upper > limit:
        ax.plot(limit, y, marker=">", color="black", markersize=5, clip_on=False)
    marker, size = ("D", 7) if row.label == OVERALL else ("s", 6)
    ax.plot(row.hr, y, marker=marker, color="black", markersize=size)


def _axis_limit(rows: list[_Row]) -> float:
    """Symmetric log axis around 1 covering every hazard ratio and bound, at least 1/2 to 2, at most 1/20 to 20."""
    values = np.array([v for row in rows for v in (row.hr, row.lower, row.upper)], dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    spread = float(np.max(np.abs(np.log(values)))) if values.size else 0.0
    return float(np.clip(np.exp(spread * 1.08), 2.0, MAX_HR_AXIS))
