"""Signature structure figures of the screen section: the clustering heatmap and the PCA.

Signature structure figures of the screen section: the clustering heatmap (``cluster_*.csv``) and the PCA
(``pca_*.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from scipy.cluster import hierarchy

from tmesurv.reports.format import in_order
from tmesurv.reports.graphics import dense
from tmesurv.reports.sections.screens import GROUP_COLOURS, NO_GROUP, _level_colour

LOADING_COLOURS = ("#555555", "#bbbbbb")  # greys: distinct from the group colours of the score panel


HEATMAP_CMAP = "RdBu_r"  # diverging, red-blue: readable with the common colour-vision deficiencies


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
        return pd.Series(NO_GROUP, index=ids)
    by_id = groups.set_axis(groups.index.astype(str))
    by_id = by_id[~by_id.index.duplicated()]
    return by_id.reindex(ids.astype(str)).fillna(NO_GROUP).astype(str).set_axis(ids)


def _wide(table: pd.DataFrame, index: str, values: str) -> pd.DataFrame:
    """One column per component; a repeated (index, component) pair is an error, never averaged."""
    return table.pivot(index=index, columns="component", values=values)  # noqa: PD010 (pivot_table would average)


def _draw_scores(ax: Axes, xy: pd.DataFrame, groups: pd.Series, order: Sequence[str], title: str) -> None:
    levels = [level for level in in_order(pd.unique(groups), order) if level != NO_GROUP]
    levels += [NO_GROUP] if (groups == NO_GROUP).any() else []
    handles, labels = [], []
    for index, level in enumerate(levels):
        members = (groups == level).to_numpy()
        points = xy.to_numpy()[members].T
        colour = _level_colour(level, index)
        handles.append(ax.scatter(*points, s=22, color=colour, alpha=0.8, rasterized=dense(int(members.sum()))))
        labels.append(f"{level} (n={members.sum()})")
    ax.axhline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.axvline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    if set(levels) != {NO_GROUP}:
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
