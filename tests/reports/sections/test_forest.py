from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.reports.builders import MATH, bayes_frame, bayes_rows, interactions, texts
from tests.reports.conftest import ARM_NAMES, XSS
from tmesurv.reports import format
from tmesurv.reports.sections import forest, forest_plot


def test_forest_rows_columns_and_not_estimable(cox: pd.DataFrame) -> None:
    figure = forest_plot.forest_figure(cox, "efs", interactions({"b_cell_ges": 0.012, "diagtime": 0.0004}), ARM_NAMES)
    drawn = texts(figure)
    for expected in ("All patients", "b_cell_ges", "   high", "HR (95% CI)", "axi-cel\nevents/N", "SOC\nevents/N"):
        assert expected in drawn
    assert "25/50" in drawn
    assert "35/50" in drawn
    assert "0.35 (0.21\u20130.56)" in drawn
    assert drawn.count(format.NOT_ESTIMABLE) == 1  # diagtime=Q2
    assert "0.50 (0\u2013\u221e)" in drawn  # the monotone-likelihood interval, drawn as arrows
    assert "0.012" in drawn
    assert "<0.001" in drawn
    assert "P interaction" in drawn
    assert f"   {XSS}" in drawn
    assert MATH in drawn
    plot = figure.get_axes()[3]
    assert plot.get_xscale() == "log"
    assert plot.get_xlabel() == "Hazard ratio (log scale)"


def test_forest_groups_combined_subgroups_under_one_header(cox: pd.DataFrame) -> None:
    drawn = texts(forest_plot.forest_figure(cox, "efs"))
    header = drawn.index("cd19_hscore=low & sii=high")
    assert drawn[header + 1 : header + 3] == ["   in subgroup", "   not in subgroup"]
    assert "P interaction" not in drawn


def test_forest_without_rows_names_the_endpoint(cox: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="endpoint 'os'"):
        forest_plot.forest_figure(cox, "os")


def test_forest_with_bayes_draws_a_dodged_pair_on_one_axis(cox: pd.DataFrame) -> None:
    figure = forest_plot.forest_figure(cox, "efs", arm_names=ARM_NAMES, bayes=bayes_rows(cox))
    drawn = texts(figure)
    assert "Cox HR\n(95% CI)" in drawn
    assert "Bayesian HR\n(95% CrI)" in drawn
    assert "0.37 (0.21\u20130.56) \u2020" in drawn  # b_cell_ges=high: exp(mean) = 0.35 x 1.05, not converged
    assert "0.35 (0.21\u20130.56)" in drawn  # its Cox estimate
    assert forest_plot.COX_LABEL in drawn
    assert forest_plot.BAYES_LABEL in drawn
    assert forest_plot.UNCONVERGED_LABEL in drawn
    plot = figure.get_axes()[3]
    # overall row: Cox above, Bayes below
    heights = {round(line.get_ydata()[0], 2) for line in plot.get_lines() if len(line.get_ydata()) == 1}
    assert {-forest_plot.DODGE, forest_plot.DODGE} <= {round(h, 2) for h in heights}
    hollow = [line for line in plot.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1
    assert hollow[0].get_xdata()[0] == pytest.approx(0.35 * 1.05)  # exp(posterior mean log HR), not hr_mean
    assert plot.get_xlabel() == "Hazard ratio (log scale)"


def test_forest_with_bayes_only(cox: pd.DataFrame) -> None:
    drawn = texts(forest_plot.forest_figure(None, "efs", bayes=bayes_rows(cox)))
    assert "Bayesian HR\n(95% CrI)" in drawn
    assert "HR (95% CI)" not in drawn
    assert "Cox HR\n(95% CI)" not in drawn


def test_badge_marks_only_rows_whose_fit_failed() -> None:
    bayes = bayes_frame().assign(converged=[0.0, np.nan, 1.0, 1.0])  # a blank flag: not recorded, not failed
    table = forest.forest_table(None, bayes, "efs")
    badges = [(row.cells[-1], row.flagged) for row in table.rows if not row.header]
    assert badges == [(format.NOT_CONVERGED, True), ("", False)]
