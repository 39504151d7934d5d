from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.artist import Artist
from matplotlib.axes import Axes

from tests.reports.builders import MATH, texts
from tests.reports.conftest import ARM_NAMES, XSS
from tmesurv.models.cox.km import fit_km
from tmesurv.reports import km_plot
from tmesurv.reports.graphics import DENSE_POINTS, save_figure
from tmesurv.reports.km_marks import GID_BAND, GID_CENSOR, GID_STEPS


def drawn(ax: Axes, gid: str) -> list[Artist]:
    """The artists of ``ax`` with the given id (Kaplan-Meier steps, bands, censor marks)."""
    return [artist for artist in (*ax.get_lines(), *ax.collections, *ax.texts) if artist.get_gid() == gid]


def test_km_arms_figure_labels_and_arm_names(km_curves: pd.DataFrame) -> None:
    figure = km_plot.km_arms_figure(km_curves, "efs", ARM_NAMES)
    curves_ax, risk_ax = figure.get_axes()
    assert curves_ax.get_ylabel() == km_plot.Y_LABEL
    assert risk_ax.get_xlabel() == km_plot.X_LABEL
    assert [t.get_text() for t in risk_ax.get_yticklabels()] == ["axi-cel", "SOC"]
    assert len(drawn(curves_ax, GID_STEPS)) == 2  # all patients only, not the subgroups


def test_km_subgroup_figure_draws_arm_by_level(km_curves: pd.DataFrame) -> None:
    figure = km_plot.km_subgroup_figure(km_curves, "efs", "b_cell_ges", ARM_NAMES, levels=["high", "low"])
    curves_ax, risk_ax = figure.get_axes()
    rows = [t.get_text() for t in risk_ax.get_yticklabels()]
    assert rows == ["axi-cel high", "axi-cel low", "SOC high", "SOC low"]
    assert len(drawn(curves_ax, GID_STEPS)) == 4
    assert drawn(curves_ax, GID_BAND) == []  # no bands when four curves share a panel
    assert curves_ax.get_ylabel()
    assert risk_ax.get_xlabel()


def test_km_subgroup_figure_quartiles_and_combined(km_curves: pd.DataFrame) -> None:
    quartiles = km_plot.km_subgroup_figure(km_curves, "efs", "diagtime")
    assert len(drawn(quartiles.get_axes()[0], GID_STEPS)) == 8
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
    assert len(drawn(low, GID_STEPS)) == len(drawn(high, GID_STEPS)) == 2
    assert len(drawn(low, GID_BAND)) == len(drawn(high, GID_BAND)) == 2  # the Kaplan-Meier bands under the posterior
    undrawn = [line for line in low.get_lines() if line.get_gid() is None]
    assert undrawn == []  # no posterior in the low level
    posterior = [line for line in high.get_lines() if line.get_gid() is None]
    assert [line.get_linestyle() for line in posterior] == [":", ":", "--"] * 2  # band limits, median per arm
    for panel in panels:
        curves_ax, risk_ax = panel.get_axes()
        assert curves_ax.get_ylabel() == km_plot.Y_LABEL
        assert risk_ax.get_xlabel() == km_plot.X_LABEL
    legend = [t.get_text() for t in figure.subfigs[1].legends[0].get_texts()]
    styles = [km_plot.CENSOR_LABEL, "Kaplan-Meier 95% CI", km_plot.KM_STYLE_LABEL, km_plot.POSTERIOR_STYLE_LABEL]
    assert legend == ["axi-cel", "SOC", *styles]


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


def test_censor_marks_of_thousands_of_patients_are_an_image_in_the_svg(km_curves: pd.DataFrame, tmp_path) -> None:
    """Per-patient marks and bands of thousands of steps are rasterized in SVG files (kilobytes, not megabytes);
    the steps stay vector, and so do the marks of a small cohort."""
    rng = np.random.default_rng(3)
    parts = []
    for arm in ("treated", "control"):
        event_time, censor = rng.exponential(20.0, 6000), rng.uniform(1.0, 40.0, 6000)
        curve = fit_km(np.minimum(event_time, censor), (event_time <= censor).astype(float))
        parts.append(curve.assign(endpoint="efs", arm=arm, subgroup="all"))
    large = km_plot.km_arms_figure(pd.concat(parts, ignore_index=True), "efs", ARM_NAMES)
    marks = drawn(large.get_axes()[0], GID_CENSOR)
    assert [len(mark.get_xdata()) > DENSE_POINTS for mark in marks] == [True, True]
    assert all(mark.get_rasterized() for mark in marks)
    assert all(band.get_rasterized() for band in drawn(large.get_axes()[0], GID_BAND))
    assert not any(steps.get_rasterized() for steps in drawn(large.get_axes()[0], GID_STEPS))
    svg = save_figure(large, tmp_path / "km")[1].read_text(encoding="utf-8")
    assert "<image" in svg
    assert len(svg) < 300_000  # 1.4 MB with every mark and band vertex a vector
    small = km_plot.km_arms_figure(km_curves, "efs", ARM_NAMES)
    assert not any(mark.get_rasterized() for mark in drawn(small.get_axes()[0], GID_CENSOR))
