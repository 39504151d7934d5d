"""The figures of the published analysis set, drawn from the tables of ``tmesurv cox`` into ``DIR/figures``.

One PNG and one SVG per figure: Kaplan-Meier by arm and by arm x subgroup for every grouping, the forest plot of the
treatment effect by subgroup, a volcano plot per screen, box plots of the top response-associated features, the
signature clustering heatmap and the PCA. File names are built from safe versions of the names in the tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmesurv.cohort import Cohort
from tmesurv.config import AnalysisConfig, arm_names
from tmesurv.reports.format import subgroup_descriptions
from tmesurv.reports.graphics import safe_name, save_figure
from tmesurv.reports.km_marks import KmMarks
from tmesurv.reports.km_plot import km_arms_figure, km_subgroup_figure
from tmesurv.reports.sections.clusters import correlation_heatmap_figure, pca_figure
from tmesurv.reports.sections.forest_plot import forest_figure
from tmesurv.reports.sections.screens import response_box_figure, volcano_figure

BOX_FEATURES = 6  # features with the smallest Kruskal-Wallis q drawn by response group
BOX_VALUE_LABEL = "Value (feature's units)"  # the features of a screen mix log2 scores and raw measurements


@dataclass(frozen=True)
class AnalysisTables:
    """What ``tmesurv cox`` computed, by table name (``cox``, ``km_curves``, ``screen_cox``, ...)."""

    tables: Mapping[str, pd.DataFrame]
    groupings: tuple[str, ...]
    linkage: object | None = None

    def get(self, name: str) -> pd.DataFrame | None:
        """One table, or None when it was not computed."""
        return self.tables.get(name)


def write_figure_set(out_dir: Path, cohort: Cohort, config: AnalysisConfig, results: AnalysisTables) -> list[Path]:
    """Draw every figure the tables allow and write them to ``out_dir/figures``.

    Returns
    -------
    list[pathlib.Path]
        The files written (PNG and SVG of each figure).
    """
    folder = out_dir / "figures"
    names = arm_names(config.data.arm)
    endpoint = config.analysis.endpoint
    written: list[Path] = []
    curves = results.get("km_curves")
    if curves is not None:
        marks = KmMarks(results.get("logrank"), config.analysis.km_ci, subgroup_descriptions(results.get("subgroups")))
        figure = km_arms_figure(curves, endpoint, names, marks=marks)
        written += save_figure(figure, folder / f"km_{safe_name(endpoint)}")
        for grouping in results.groupings:
            figure = km_subgroup_figure(curves, endpoint, grouping, names, marks=marks)
            written += save_figure(figure, folder / f"km_{safe_name(endpoint)}_{safe_name(grouping)}")
    if results.get("cox") is not None:
        extra = {"subgroups": results.get("subgroups"), "ph_test": results.get("ph_test")}
        figure = forest_figure(results.get("cox"), endpoint, results.get("interactions"), names, **extra)
        written += save_figure(figure, folder / f"forest_{safe_name(endpoint)}")
    written += _volcano_figures(folder, results, names)
    written += _response_figures(folder, cohort, config, results, names)
    written += _structure_figures(folder, cohort, config, results)
    return written


def _volcano_figures(folder: Path, results: AnalysisTables, arm_names: Mapping[str, str]) -> list[Path]:
    written: list[Path] = []
    screen = results.get("screen_cox")
    if screen is not None:
        for (endpoint, arm), rows in screen.groupby(["endpoint", "arm"], sort=False):
            title = f"Cox screen: {endpoint}, {arm_names[arm]} arm"
            stem = folder / f"volcano_cox_{safe_name(endpoint)}_{arm}"
            written += save_figure(volcano_figure(rows, title), stem)
    screen = results.get("screen_response")
    if screen is not None:
        for arm, rows in screen.groupby("arm", sort=False):
            level = rows["level"].iloc[0]
            title = f"{level} vs others (Wilcoxon), {arm_names[arm]} arm"
            written += save_figure(volcano_figure(rows, title), folder / f"volcano_response_{arm}")
    return written


def _response_figures(
    folder: Path, cohort: Cohort, config: AnalysisConfig, results: AnalysisTables, arm_names: Mapping[str, str]
) -> list[Path]:
    kruskal = results.get("screen_response_groups")
    if kruskal is None or config.screens is None or config.screens.response is None:
        return []
    column = config.screens.response.column
    written: list[Path] = []
    for arm, rows in kruskal.groupby("arm", sort=False):
        top = rows.nsmallest(BOX_FEATURES, "q")
        patients = cohort.arm_subset(arm).patients
        values = patients[[*top["feature"], column]].rename(columns={column: "response_group"})
        figure = response_box_figure(
            values,
            order=(config.screens.response.level,),
            features=list(top["feature"]),
            kruskal_p=dict(zip(top["feature"], top["p"], strict=True)),
            value_label=BOX_VALUE_LABEL,
        )
        figure.suptitle(f"Features by {column}, {arm_names[arm]} arm", parse_math=False)
        written += save_figure(figure, folder / f"response_boxes_{arm}")
    return written


def _structure_figures(folder: Path, cohort: Cohort, config: AnalysisConfig, results: AnalysisTables) -> list[Path]:
    written: list[Path] = []
    correlation, membership = results.get("cluster_correlation"), results.get("clusters")
    if correlation is not None and membership is not None and results.linkage is not None:
        matrix = correlation.set_index("feature")
        figure = correlation_heatmap_figure(matrix, results.linkage, membership)
        written += save_figure(figure, folder / "signature_clusters")
    scores = results.get("pca_scores")
    if scores is not None:
        response = config.screens.response if config.screens else None
        groups = None if response is None else cohort.patients[response.column]
        label = "Group" if response is None else response.column
        figure = pca_figure(scores, results.get("pca_loadings"), results.get("pca_explained"), groups, label)
        written += save_figure(figure, folder / "pca")
    return written
