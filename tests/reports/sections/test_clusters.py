from __future__ import annotations

import io
import itertools

import pandas as pd
import pytest
from scipy.cluster import hierarchy

from tests.reports.builders import correlation_inputs, pca_tables, texts
from tests.reports.conftest import XSS
from tmesurv.reports.sections import clusters


def test_heatmap_46_features_renders_with_legible_labels() -> None:
    correlation, linkage, membership = correlation_inputs()
    figure = clusters.correlation_heatmap_figure(correlation, linkage, membership)
    figure.savefig(io.BytesIO(), format="png", dpi=40)  # renders (low resolution: fast)
    heat = figure.get_axes()[2]
    labels = heat.get_yticklabels()
    assert len(labels) == 46
    assert labels[0].get_fontsize() >= 6
    assert labels[0].get_text() == correlation.index[hierarchy.leaves_list(linkage)[0]]
    boxes = [label.get_window_extent() for label in labels]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    assert heat.get_xlabel()
    assert heat.get_ylabel()
    assert figure.get_axes()[0].get_ylabel() == "Linkage distance"
    assert any(ax.get_ylabel() == "Spearman correlation" for ax in figure.get_axes())


def test_heatmap_omits_names_beyond_the_limit_with_a_note() -> None:
    figure = clusters.correlation_heatmap_figure(*correlation_inputs(n=12), max_labels=10)
    heat = figure.get_axes()[2]
    assert not heat.get_yticklabels()
    assert "names left out" in heat.get_xlabel()


def test_heatmap_checks_its_inputs_agree() -> None:
    correlation, linkage, membership = correlation_inputs(n=6)
    with pytest.raises(ValueError, match="no cluster"):
        clusters.correlation_heatmap_figure(correlation, linkage, membership.iloc[1:])
    with pytest.raises(ValueError, match="linkage matrix must have 5 rows"):
        clusters.correlation_heatmap_figure(correlation, linkage[1:], membership)


def test_pca_axes_name_the_variance_and_groups_match_on_id() -> None:
    scores, loadings, explained = pca_tables()
    groups = pd.Series(["ongoing", "relapsed"] * 19, index=[f"P{i:02d}" for i in range(2, 40)])
    figure = clusters.pca_figure(scores, loadings, explained, groups, group_label=XSS, n_loadings=5)
    score_ax, loading_ax = figure.get_axes()
    assert score_ax.get_xlabel() == "PC1 (41.0% of variance)"
    assert score_ax.get_ylabel() == "PC2 (25.0% of variance)"
    legend = [t.get_text() for t in score_ax.get_legend().get_texts()]
    assert legend == ["ongoing (n=19)", "relapsed (n=19)", "not recorded (n=2)"]
    assert len(loading_ax.get_yticklabels()) == 5
    assert loading_ax.get_xlabel()
    assert loading_ax.get_ylabel()
    texts(figure)


def test_pca_without_groups_and_other_components() -> None:
    figure = clusters.pca_figure(*pca_tables(), components=("PC2", "PC3"))
    assert figure.get_axes()[0].get_xlabel() == "PC2 (25.0% of variance)"
    assert figure.get_axes()[0].get_legend() is None
    with pytest.raises(ValueError, match="PC9"):
        clusters.pca_figure(*pca_tables(), components=("PC1", "PC9"))
