"""Figures of the association screens: volcano plot, box plots by response group, correlation heatmap, PCA.

Each function takes the tidy tables of :mod:`tmesurv.models.screens.association`,
:mod:`tmesurv.models.screens.clustering` and :mod:`tmesurv.models.screens.pca` and returns a
:class:`matplotlib.figure.Figure` (write it with :func:`tmesurv.reports.figures.save_figure`). Feature names and group
levels are drawn literally.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from scipy.cluster import hierarchy

from tmesurv.reports.figures import ARM_COLOURS

GROUP_COLOURS = ("#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#0072B2", "#D55E00", "#000000")  # Okabe-Ito, no yellow
MISSING_COLOUR = "#999999"
NOT_SIGNIFICANT_COLOUR = "#9a9a9a"
SIGNIFICANT_COLOUR = "#D55E00"
NOT_RECORDED = "not recorded"
TITLE_CHARS = 34  # characters of a feature name per title line in a box-plot panel
NAMED = "{named}"  # placeholder in the volcano note
LOADING_COLOURS = ("#555555", "#bbbbbb")  # greys: distinct from the group colours of the score panel
# features may mix log2 scores and raw values
MEDIAN_DIFFERENCE_LABEL = "Difference in medians (feature units; log2 fold change for log2 scores)"
HEATMAP_CMAP = "RdBu_r"  # diverging, red-blue: readable with the common colour-vision deficiencies
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
    levels = _ordered_levels(grouped[group_column].astype(str), order)
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


def correlation_heatmap_figure(
    correlation: pd.DataFrame,
    linkage: np.ndarray,
    membership: pd.DataFrame,
    title: str = "Spearman correlation of signatures",
    max_labels: int = 80,
) -> Figure:
    """Correlation heatmap in dendrogram order, with the dendrogram above and a cluster colour bar.

    Parameters
    ----------
    correlation
        Features x features Spearman correlation matrix (:attr:`SignatureClusters.correlation`).
    linkage
        SciPy linkage matrix of its rows, in the order of ``correlation`` (:attr:`SignatureClusters.linkage`).
    membership
        Columns ``feature, cluster``: the cluster of every feature.
    title
        Figure title.
    max_labels
        Up to this many features are named on the axes; above it the names are left out and a note says so.

    Returns
    -------
    matplotlib.figure.Figure
        Dendrogram, cluster bar and heatmap stacked, the colour scale on the right.

    Raises
    ------
    ValueError
        If the matrix is not square with matching labels, the linkage does not fit it, or a feature has no cluster.
    """
    clusters = _check_heatmap_inputs(correlation, linkage, membership)
    n = len(correlation)
    side = float(np.clip(0.16 * n, 4.0, 9.0))  # inches of the heatmap
    labelled = n <= max_labels
    margin = 0.07 * max(len(str(f)) for f in correlation.index) * (0.8 if labelled else 0.0)
    figure = Figure(figsize=(side + margin + 1.6, side + margin + 2.4), layout="constrained")
    grid = figure.add_gridspec(3, 2, height_ratios=(1.6, 0.22, side), width_ratios=(side, 0.22))
    ax_tree, ax_bar, ax_heat = (figure.add_subplot(grid[row, 0]) for row in range(3))
    leaves = _draw_dendrogram(ax_tree, linkage, n)
    names = correlation.index[leaves]
    image = ax_heat.imshow(
        correlation.to_numpy(dtype=float)[np.ix_(leaves, leaves)],
        cmap=HEATMAP_CMAP,
        vmin=-1.0,
        vmax=1.0,
        aspect="auto",
        interpolation="nearest",
    )
    _draw_cluster_bar(ax_bar, clusters.loc[names].to_numpy())
    _heatmap_labels(ax_heat, [str(name) for name in names], labelled, side)
    figure.colorbar(image, cax=figure.add_subplot(grid[2, 1]), label="Spearman correlation")
    figure.suptitle(title, parse_math=False)
    return figure


def pca_figure(
    scores: pd.DataFrame,
    loadings: pd.DataFrame,
    explained: pd.DataFrame,
    groups: pd.Series | None = None,
    group_label: str = "Group",
    order: Sequence[str] = (),
    components: tuple[str, str] = ("PC1", "PC2"),
    n_loadings: int = 10,
    title: str = "Principal components of the features",
) -> Figure:
    """Patients' scores on two components, coloured by group, and the features' largest loadings.

    Parameters
    ----------
    scores
        Columns ``id, component, score`` (:attr:`FeaturePCA.scores`).
    loadings
        Columns ``feature, component, loading``.
    explained
        Columns ``component, variance, proportion, cumulative``.
    groups
        Optional group per patient, indexed by ``id`` (e.g. response group or arm); patients without a group are
        drawn in grey as "not recorded".
    group_label
        Legend title for ``groups``.
    order
        Group levels in display order; others follow in order of appearance.
    components
        The two components to draw.
    n_loadings
        The features with the longest loading vectors on the two components are shown, at most this many.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Score plot on the left, loadings bar chart on the right.
    """
    wide = _wide(scores, "id", "score")
    absent = [c for c in components if c not in wide.columns]
    if absent:
        raise ValueError(f"components {absent} are not in the scores; choose from {list(wide.columns)}")
    share = explained.set_index("component")["proportion"]
    axis_labels = [f"{c} ({100 * float(share.get(c, np.nan)):.1f}% of variance)" for c in components]
    figure = Figure(figsize=(13.0, 5.6), layout="constrained")
    ax_scores, ax_loadings = figure.subplots(1, 2, width_ratios=(1.15, 1.0))
    _draw_scores(ax_scores, wide[list(components)], _patient_groups(wide.index, groups), order, group_label)
    ax_scores.set_xlabel(axis_labels[0], parse_math=False)
    ax_scores.set_ylabel(axis_labels[1], parse_math=False)
    _draw_loadings(ax_loadings, loadings, components, n_loadings)
    figure.suptitle(title, parse_math=False)
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


def _ordered_levels(levels: pd.Series, order: Sequence[str]) -> list[str]:
    present = list(pd.unique(levels))
    return [level for level in order if level in present] + [level for level in present if level not in order]


def _level_colour(level: str, index: int) -> str:
    if level == NOT_RECORDED:
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
        ax.scatter(i + jitter, data[i], s=12, color=_level_colour(levels[i], i), linewidths=0, alpha=0.85, zorder=3)
    labels = [f"{level}\n(n={d.size})" for level, d in zip(levels, data, strict=True)]
    ax.set_xticks(range(len(levels)), labels=labels, parse_math=False, fontsize=8)
    ax.set_xlim(-0.6, len(levels) - 0.4)
    ax.spines[["top", "right"]].set_visible(False)


def _p_text(p: float | None) -> str:
    if p is None or np.isnan(p):
        return "P not tested"
    return "P < 0.001" if p < 0.001 else f"P = {p:.3f}"


def _check_heatmap_inputs(correlation: pd.DataFrame, linkage: np.ndarray, membership: pd.DataFrame) -> pd.Series:
    """The cluster of every feature, after checking that the three inputs describe the same features."""
    n = len(correlation)
    if correlation.shape != (n, n) or list(correlation.index) != list(correlation.columns):
        raise ValueError("the correlation matrix must be square with the same features as rows and columns")
    if n < 2 or np.shape(linkage) != (n - 1, 4):
        raise ValueError(f"the linkage matrix must have {n - 1} rows of 4 for {n} features, got {np.shape(linkage)}")
    clusters = membership.drop_duplicates("feature").set_index("feature")["cluster"]
    missing = [str(f) for f in correlation.index if f not in clusters.index]
    if missing:
        raise ValueError(f"features {missing} have no cluster in the membership table")
    return clusters


def _draw_dendrogram(ax: Axes, linkage: np.ndarray, n: int) -> list[int]:
    """The tree above the heatmap columns (leaf i at x = 10 i + 5); returns the leaf order."""
    tree = hierarchy.dendrogram(linkage, ax=ax, no_labels=True, link_color_func=lambda _: "#444444")
    ax.set_xlim(0, 10 * n)
    ax.set_xticks([])
    ax.set_ylabel("Linkage distance", fontsize=9)
    ax.spines[["top", "right", "bottom"]].set_visible(False)
    return list(tree["leaves"])


def _draw_cluster_bar(ax: Axes, clusters: np.ndarray) -> None:
    numbers = pd.unique(clusters)
    codes = pd.Categorical(clusters, categories=numbers).codes
    colours = ListedColormap([GROUP_COLOURS[i % len(GROUP_COLOURS)] for i in range(len(numbers))])
    ax.imshow(codes[np.newaxis, :], cmap=colours, vmin=-0.5, vmax=len(numbers) - 0.5, aspect="auto")
    for number, code in zip(numbers, range(len(numbers)), strict=True):
        where = np.flatnonzero(codes == code)
        if where.size >= 2:
            ink = "black" if _luminance(colours(code)) > 0.45 else "white"
            ax.text(where.mean(), 0, str(number), ha="center", va="center", fontsize=7, color=ink, weight="bold")
    ax.set_xticks([])
    ax.set_yticks([0], labels=["Cluster"], fontsize=9)
    ax.tick_params(length=0)


def _luminance(colour: tuple[float, float, float, float]) -> float:
    red, green, blue = colour[:3]
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _heatmap_labels(ax: Axes, names: list[str], labelled: bool, side: float) -> None:
    n = len(names)
    if labelled:
        size = float(np.clip(0.75 * 72 * side / n, 4.0, 8.0))  # three quarters of a cell, in points
        ax.set_xticks(range(n), labels=names, rotation=90, fontsize=size, parse_math=False)
        ax.set_yticks(range(n), labels=names, fontsize=size, parse_math=False)
        ax.set_xlabel("Signature (dendrogram order)")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{n} signatures in dendrogram order (names left out; see the cluster membership table)")
    ax.set_ylabel("Signature")
    ax.tick_params(length=0)


def _patient_groups(ids: pd.Index, groups: pd.Series | None) -> pd.Series:
    """Group per scored patient (matched on ``id`` as text), ``not recorded`` where absent."""
    if groups is None:
        return pd.Series(NOT_RECORDED, index=ids)
    by_id = groups.set_axis(groups.index.astype(str))
    by_id = by_id[~by_id.index.duplicated()]
    return by_id.reindex(ids.astype(str)).fillna(NOT_RECORDED).astype(str).set_axis(ids)


def _wide(table: pd.DataFrame, index: str, values: str) -> pd.DataFrame:
    """One column per component; a repeated (index, component) pair is an error, never averaged."""
    return table.pivot(index=index, columns="component", values=values)  # noqa: PD010 (pivot_table would average)


def _draw_scores(ax: Axes, xy: pd.DataFrame, groups: pd.Series, order: Sequence[str], title: str) -> None:
    levels = [level for level in _ordered_levels(groups, order) if level != NOT_RECORDED]
    levels += [NOT_RECORDED] if (groups == NOT_RECORDED).any() else []
    handles, labels = [], []
    for index, level in enumerate(levels):
        members = (groups == level).to_numpy()
        handles.append(ax.scatter(*xy.to_numpy()[members].T, s=22, color=_level_colour(level, index), alpha=0.8))
        labels.append(f"{level} (n={members.sum()})")
    ax.axhline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.axvline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    if set(levels) != {NOT_RECORDED}:
        legend = ax.legend(
            handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9
        )
        legend.get_title().set_parse_math(False)
        for text in legend.get_texts():
            text.set_parse_math(False)


def _draw_loadings(ax: Axes, loadings: pd.DataFrame, components: tuple[str, str], n_loadings: int) -> None:
    wide = _wide(loadings, "feature", "loading")[list(components)]
    top = wide.assign(length=np.hypot(*wide.to_numpy().T)).nlargest(n_loadings, "length").index
    shown = wide.loc[top]
    rows = np.arange(len(shown))
    for offset, (component, colour) in zip((-0.2, 0.2), zip(components, LOADING_COLOURS, strict=True), strict=True):
        ax.barh(rows + offset, shown[component], height=0.38, color=colour, label=component)
    ax.set_yticks(rows, labels=[str(f) for f in shown.index], parse_math=False, fontsize=8)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.axvline(0.0, color="#555555", linewidth=0.8)
    ax.set_xlabel("Loading (weight of the standardised feature)")
    ax.set_ylabel("Feature")
    ax.set_title(f"Largest loadings on {components[0]} and {components[1]}", parse_math=False, fontsize=10)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
