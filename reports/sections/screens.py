"""Association screen section: volcano plots, box plots by response group, and the screen gallery.

Association screen section: volcano plots and box plots by response group (``screen_*.csv``), and the gallery of
the screen figures ``tmesurv cox`` wrote into ``figures/``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from tmesurv.reports.format import in_order
from tmesurv.reports.gallery import FigureSection, Gallery, file_images
from tmesurv.reports.graphics import ARM_COLOURS, dense
from tmesurv.reports.results import Results

GROUP_COLOURS = ("#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#0072B2", "#D55E00", "#000000")  # Okabe-Ito, no yellow

SCREEN_FIGURES = (  # (file-name prefix, gallery title, wide)
    ("volcano_", "Volcano plots", False),
    ("response_boxes_", "Features by response group", True),
    ("signature_clusters", "Signature clusters", True),
    ("pca", "Principal components", True),
)


MISSING_COLOUR = "#999999"


NOT_SIGNIFICANT_COLOUR = "#9a9a9a"


SIGNIFICANT_COLOUR = "#D55E00"


NO_GROUP = "not recorded"  # a patient without a response group


TITLE_CHARS = 34  # characters of a feature name per title line in a box-plot panel


NAMED = "{named}"  # placeholder in the volcano note


# features may mix log2 scores and raw values
MEDIAN_DIFFERENCE_LABEL = "Difference in medians (feature units; log2 fold change for log2 scores)"


LABEL_OFFSETS = (  # (dx, dy) in points and alignment, nearest positions first; a leader line joins name and point
    (7, 5, "left", "bottom"),
    (-7, 5, "right", "bottom"),
    (7, -5, "left", "top"),
    (-7, -5, "right", "top"),
    (0, 10, "center", "bottom"),
    (0, -10, "center", "top"),
    (16, 16, "left", "bottom"),
    (-16, 16, "right", "bottom"),
    (16, -16, "left", "top"),
    (-16, -16, "right", "top"),
)


LEADER = {"arrowstyle": "-", "color": "#777777", "linewidth": 0.6, "shrinkA": 1, "shrinkB": 3}


def volcano_figure(screen: pd.DataFrame, title: str, q_threshold: float = 0.05, n_labels: int = 10) -> Figure:
    """Effect against -log10(P) for every feature of a screen, features with q below the threshold highlighted.

    Parameters
    ----------
    screen
        A screen table with ``feature, p, q`` and the effect: ``hr`` (or ``coef``, a log hazard ratio) of a Cox
        screen, drawn as log2 of the hazard ratio; else ``median_difference`` of a rank-sum screen (in the
        feature's units: the log2 fold change of the medians for log2-scale scores). Rows with a NaN effect or P
        are not drawn and are counted in a note.
    title
        Figure title.
    q_threshold
        Features with ``q`` below this are highlighted.
    n_labels
        At most this many highlighted features, smallest P first, are named; a name that would overlap another
        name or leave the plot is left out.

    Returns
    -------
    matplotlib.figure.Figure
        One panel; a dashed line marks the largest P with ``q`` below the threshold.
    """
    effect, x_label = _volcano_effect(screen)
    p, q = screen["p"].to_numpy(dtype=float), screen["q"].to_numpy(dtype=float)
    shown = np.isfinite(effect) & np.isfinite(p)
    floor = _p_floor(p[shown])
    y = -np.log10(np.clip(p, floor, 1.0))
    hit = shown & (q < q_threshold)
    figure = Figure(figsize=(7.6, 5.6), layout="constrained")
    ax = figure.add_subplot()
    dots = {"linewidths": 0, "alpha": 0.85}
    ax.scatter(effect[shown & ~hit], y[shown & ~hit], s=16, color=NOT_SIGNIFICANT_COLOUR, **dots)
    ax.scatter(effect[hit], y[hit], s=24, color=SIGNIFICANT_COLOUR, **dots)
    _volcano_axes(ax, effect[shown], y[shown], x_label, title)
    if hit.any():
        ax.axhline(y[hit].min(), color=SIGNIFICANT_COLOUR, linestyle="--", linewidth=0.8)
    _volcano_legend(ax, q_threshold, int(hit.sum()), int(shown.sum()))
    note = _volcano_note(figure, len(screen), int(shown.sum()), int(hit.sum()), bool((p[shown] < floor).any()))
    ranked = np.flatnonzero(hit)[np.argsort(p[hit], kind="stable")][:n_labels]
    names = screen["feature"].astype(str).to_numpy()
    points = [(effect[i], y[i], names[i]) for i in ranked]
    placed = _place_labels(ax, points, list(zip(effect[hit], y[hit], strict=True)))
    note.set_text(note.get_text().replace(NAMED, str(placed)))  # same length of line: the layout stays
    return figure


def response_box_figure(
    values: pd.DataFrame,
    order: Sequence[str] = (),
    features: Sequence[str] | None = None,
    kruskal_p: Mapping[str, float] | None = None,
    value_label: str = "Score",
    group_column: str = "response_group",
    seed: int = 0,
) -> Figure:
    """Box plots of features by response group with every patient's value as a jittered point.

    Parameters
    ----------
    values
        One row per patient: one column per feature and ``group_column``.
    order
        Group levels in display order (e.g. ``ongoing, relapsed, no_response``); levels not listed follow in
        order of appearance.
    features
        Columns to draw, one panel each; default every column but ``group_column``.
    kruskal_p
        Kruskal-Wallis P per feature, shown in the panel title.
    value_label
        The y-axis label, with units (e.g. ``Score (log2)``).
    group_column
        The column holding the response group.
    seed
        Seed of the horizontal jitter.

    Returns
    -------
    matplotlib.figure.Figure
        Up to three panels per row; each group's tick says how many patients it has values for.
    """
    features = [c for c in values.columns if c != group_column] if features is None else list(features)
    absent = [f for f in [*features, group_column] if f not in values.columns]
    if absent or not features:
        raise ValueError(
            f"give feature columns and '{group_column}'; missing {absent}, table has {list(values.columns)}"
        )
    grouped = values[values[group_column].notna()]
    levels = in_order(pd.unique(grouped[group_column].astype(str)), order)
    rng = np.random.default_rng(seed)
    ncols = min(len(features), 3)
    nrows = math.ceil(len(features) / ncols)
    figure = Figure(figsize=(3.4 * ncols, 3.5 * nrows + 0.3), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, feature in zip(axes, features, strict=False):
        p = None if kruskal_p is None else kruskal_p.get(feature)
        _draw_boxes(ax, grouped[feature], grouped[group_column].astype(str), levels, rng)
        title = _wrap_name(str(feature), TITLE_CHARS) + ("" if p is None else f"\nKruskal-Wallis {_p_text(p)}")
        ax.set_title(title, parse_math=False, fontsize=10)
        ax.set_ylabel(value_label, parse_math=False)
        ax.set_xlabel("Response group")
    for ax in axes[len(features) :]:
        ax.remove()
    if len(grouped) < len(values):
        note = f"Not shown: {len(values) - len(grouped)} of {len(values)} patients, without a response group."
        figure.supxlabel(note, fontsize=8)
    return figure


def _wrap_name(name: str, width: int) -> str:
    """Break a long name into lines of at most ``width`` characters, after underscores or spaces where possible."""
    pieces = re.findall(r"[^_ ]*[_ ]|[^_ ]+$", name) or [name]
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(chunk[i : i + width] for chunk in lines for i in range(0, max(len(chunk), 1), width))


def _place_labels(ax: Axes, points: list[tuple[float, float, str]], avoid: list[tuple[float, float]]) -> int:
    """Name points next to them without overlap: try positions nearest first, leave a name out if none fits.

    Parameters
    ----------
    ax
        The axes, with its data and limits final.
    points
        ``(x, y, name)`` in data coordinates, most important first.
    avoid
        Further points (data coordinates) whose markers a name must not cover.

    Returns
    -------
    int
        How many names were placed.
    """
    figure = ax.get_figure(root=True)
    figure.draw_without_rendering()  # settle the layout so display coordinates are final
    frame = ax.get_window_extent()
    radius = 4.0 * figure.dpi / 72  # a marker's half width in display units
    taken = [Bbox.from_bounds(*(ax.transData.transform(xy) - radius), 2 * radius, 2 * radius) for xy in avoid]
    placed = 0
    for x, y, name in points:
        label = _fitting_label(ax, (x, y), name, frame, taken)
        if label is not None:
            taken.append(label)
            placed += 1
    return placed


def _fitting_label(ax: Axes, xy: tuple[float, float], name: str, frame: Bbox, taken: list[Bbox]) -> Bbox | None:
    for dx, dy, ha, va in LABEL_OFFSETS:
        text = ax.annotate(
            name, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=8, arrowprops=LEADER
        )
        text.set_parse_math(False)
        text.set_in_layout(False)
        text.get_window_extent()  # positions the name and its leader line
        box = Text.get_window_extent(text)  # the name alone
        inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        if inside and not any(box.overlaps(other) for other in taken):
            return box
        text.remove()
    return None


def _volcano_effect(screen: pd.DataFrame) -> tuple[np.ndarray, str]:
    if "hr" in screen:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(screen["hr"].to_numpy(dtype=float)), "log2 hazard ratio"
    if "coef" in screen:
        return screen["coef"].to_numpy(dtype=float) / np.log(2.0), "log2 hazard ratio"
    if "median_difference" in screen:
        return screen["median_difference"].to_numpy(dtype=float), MEDIAN_DIFFERENCE_LABEL
    raise ValueError(f"a volcano plot needs an 'hr', 'coef' or 'median_difference' column; got {list(screen.columns)}")


def _p_floor(p: np.ndarray) -> float:
    """The smallest P drawn: a tenth of the smallest positive P, so a P of 0 sits just above the rest."""
    positive = p[p > 0]
    return float(positive.min()) / 10 if positive.size else 1e-16


def _volcano_axes(ax: Axes, x: np.ndarray, y: np.ndarray, x_label: str, title: str) -> None:
    reach = float(np.max(np.abs(x))) * 1.15 if x.size else 0.0
    reach = reach if reach > 0 else 1.0
    ax.set_xlim(-reach, reach)
    ax.set_ylim(0.0, (float(y.max()) if y.size else 1.0) * 1.12 + 0.2)
    ax.axvline(0.0, color="#555555", linewidth=0.8)
    ax.set_xlabel(x_label)
    ax.set_ylabel(r"$-\log_{10}$(P)")
    ax.set_title(title, parse_math=False)
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)


def _volcano_legend(ax: Axes, q_threshold: float, hits: int, shown: int) -> None:
    handles = [
        ax.scatter([], [], s=24, color=SIGNIFICANT_COLOUR),
        ax.scatter([], [], s=16, color=NOT_SIGNIFICANT_COLOUR),
    ]
    labels = [f"q < {q_threshold:g} ({hits})", f"q \u2265 {q_threshold:g} ({shown - hits})"]
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)


def _volcano_note(figure: Figure, total: int, shown: int, hits: int, clipped: bool) -> Text:
    """A note below the plot; :data:`NAMED` stands for the number of names placed, filled in afterwards."""
    notes = [f"Named: {NAMED} of {hits} highlighted features, smallest P first."] if hits else []
    if shown < total:
        notes.append(f"Not estimable (NaN effect or P), not drawn: {total - shown} of {total} features.")
    if clipped:
        notes.append("P = 0 is drawn at a tenth of the smallest positive P.")
    return figure.supxlabel(" ".join(notes), fontsize=8, parse_math=False)


def _level_colour(level: str, index: int) -> str:
    if level == NO_GROUP:
        return MISSING_COLOUR
    return ARM_COLOURS.get(level, GROUP_COLOURS[index % len(GROUP_COLOURS)])


def _draw_boxes(ax: Axes, values: pd.Series, groups: pd.Series, levels: list[str], rng: np.random.Generator) -> None:
    data = [values[(groups == level).to_numpy()].dropna().to_numpy(dtype=float) for level in levels]
    filled = [i for i, d in enumerate(data) if d.size]
    if filled:
        boxes = ax.boxplot(
            [data[i] for i in filled],
            positions=filled,
            widths=0.55,
            showfliers=False,
            patch_artist=True,
            medianprops={"color": "black", "linewidth": 1.4},
        )
        for patch, i in zip(boxes["boxes"], filled, strict=True):
            patch.set(facecolor=_level_colour(levels[i], i), alpha=0.25, edgecolor="#333333")
    for i in filled:
        jitter = rng.uniform(-0.18, 0.18, data[i].size)
        colour, rasterized = _level_colour(levels[i], i), dense(data[i].size)
        ax.scatter(i + jitter, data[i], s=12, color=colour, linewidths=0, alpha=0.85, zorder=3, rasterized=rasterized)
    labels = [f"{level}\n(n={d.size})" for level, d in zip(levels, data, strict=True)]
    ax.set_xticks(range(len(levels)), labels=labels, parse_math=False, fontsize=8)
    ax.set_xlim(-0.6, len(levels) - 0.4)
    ax.spines[["top", "right"]].set_visible(False)


def _p_text(p: float | None) -> str:
    if p is None or np.isnan(p):
        return "P not tested"
    return "P < 0.001" if p < 0.001 else f"P = {p:.3f}"


def screen_section(results: Results) -> FigureSection | None:
    """The screen figures of ``tmesurv cox`` (volcano, response boxes, heatmap, PCA) from ``figures/``."""
    galleries = []
    for prefix, title, wide in SCREEN_FIGURES:
        images = file_images(results, (prefix,), title)
        if images:
            galleries.append(Gallery(title, images, wide))
    return FigureSection(None, tuple(galleries)) if galleries else None
