from __future__ import annotations

import pandas as pd
import pytest

from tests.reports.builders import MATH, texts
from tests.reports.conftest import ARM_NAMES, XSS
from tmesurv.reports import km_plot


def test_km_arms_figure_labels_and_arm_names(km_curves: pd.DataFrame) -> None:
    figure = km_plot.km_arms_figure(km_curves, "efs", ARM_NAMES)
    curves_ax, risk_ax = figure.get_axes()
    assert curves_ax.get_ylabel() == km_plot.Y_LABEL
    assert risk_ax.get_xlabel() == km_plot.X_LABEL
    assert [t.get_text() for t in risk_ax.get_yticklabels()] == ["axi-cel", "SOC"]
    assert len(curves_ax.get_lines()) == 2  # all patients only, not the subgroups


def test_km_subgroup_figure_draws_arm_by_level(km_curves: pd.DataFrame) -> None:
    figure = km_plot.km_subgroup_figure(km_curves, "efs", "b_cell_ges", ARM_NAMES, levels=["high", "low"])
    curves_ax, risk_ax = figure.get_axes()
    rows = [t.get_text() for t in risk_ax.get_yticklabels()]
    assert rows == ["axi-cel high", "axi-cel low", "SOC high", "SOC low"]
    assert len(curves_ax.get_lines()) == 4
    assert curves_ax.get_ylabel()
    assert risk_ax.get_xlabel()


def test_km_subgroup_figure_quartiles_and_combined(km_curves: pd.DataFrame) -> None:
    quartiles = km_plot.km_subgroup_figure(km_curves, "efs", "diagtime")
    assert len(quartiles.get_axes()[0].get_lines()) == 8
    combined = km_plot.km_subgroup_figure(km_curves, "efs", "cd19_hscore=low & sii=high", ARM_NAMES)
    rows = [t.get_text() for t in combined.get_axes()[1].get_yticklabels()]
    assert rows == ["axi-cel not in subgroup", "axi-cel in subgroup", "SOC not in subgroup", "SOC in subgroup"]
    odd = km_plot.km_subgroup_figure(km_curves, "efs", MATH)  # a grouping named like mathtext, a level like HTML
    assert f"treated {XSS}" in texts(odd)


def test_km_subgroup_figure_unknown_grouping_says_what_exists(km_curves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"grouping 'sii'.*b_cell_ges=high"):
        km_plot.km_subgroup_figure(km_curves, "efs", "sii")


def test_km_figure_for_html_still_a_data_uri(km_curves: pd.DataFrame) -> None:
    image = km_plot.km_figure(km_curves[km_curves["endpoint"] == "efs"], "efs")
    assert image.src.startswith("data:image/png;base64,")
    assert "(treated, control)" in image.alt


def test_km_levels_figure_panels_with_posterior_bands(km_curves: pd.DataFrame) -> None:
    posterior = km_curves[km_curves["subgroup"] == "b_cell_ges=high"].drop(columns="at_risk")
    figure = km_plot.km_levels_figure(km_curves, "efs", "b_cell_ges", posterior, ARM_NAMES)
    panels = figure.subfigs[0].subfigs
    assert [panel.get_axes()[0].get_title() for panel in panels] == ["b_cell_ges=low", "b_cell_ges=high"]
    low, high = (panel.get_axes()[0] for panel in panels)
    assert len(low.get_lines()) == 2  # the Kaplan-Meier steps only
    assert len(high.get_lines()) == 4  # and a dashed posterior median per arm
    assert [line.get_linestyle() for line in high.get_lines()].count("--") == 2
    for panel in panels:
        curves_ax, risk_ax = panel.get_axes()
        assert curves_ax.get_ylabel() == km_plot.Y_LABEL
        assert risk_ax.get_xlabel() == km_plot.X_LABEL
    legend = [t.get_text() for t in figure.subfigs[1].legends[0].get_texts()]
    assert legend == ["axi-cel", "SOC", km_plot.KM_STYLE_LABEL, km_plot.POSTERIOR_STYLE_LABEL]


def test_km_levels_figure_quartiles_and_odd_names(km_curves: pd.DataFrame) -> None:
    quartiles = km_plot.km_levels_figure(km_curves, "efs", "diagtime")
    assert len(quartiles.subfigs[0].subfigs) == 4
    combined = km_plot.km_levels_figure(km_curves, "efs", "cd19_hscore=low & sii=high")
    titles = [panel.get_axes()[0].get_title() for panel in combined.subfigs[0].subfigs]
    assert titles == ["cd19_hscore=low & sii=high", "not (cd19_hscore=low & sii=high)"]
    odd = km_plot.km_levels_figure(km_curves, "efs", MATH)
    assert f"{MATH}={XSS}" in texts(odd)
    with pytest.raises(ValueError, match="grouping 'sii'"):
        km_plot.km_levels_figure(km_curves, "efs", "sii")
