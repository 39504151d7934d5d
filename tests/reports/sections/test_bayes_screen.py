from __future__ import annotations

import numpy as np
import pytest

from tests.reports.builders import bayes_frame, screen_frame
from tests.reports.conftest import XSS
from tmesurv.reports import graphics
from tmesurv.reports.sections import bayes_screen
from tmesurv.reports.sections import interactions as interaction_section


def test_interaction_and_screen_show_the_log_hr_mean_and_sd() -> None:
    interaction = interaction_section.interaction_table(bayes_frame())
    assert interaction.rows[0].cells[3] == "-0.300 (0.500)"
    screen = bayes_screen.screen_table(screen_frame())
    assert [row.cells[2] for row in screen.rows] == ["-0.600 (0.500)", "0.100 (0.500)"]


def test_screen_figure_sorts_by_effect_and_states_divergences(results) -> None:
    figure = bayes_screen.screen_figure(results.bayes_screen, "efs")
    (ax,) = figure.get_axes()
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == [XSS, "sig_ifng", "b_cell_ges"]  # bottom to top: the largest benefit at the top
    points = ax.get_lines()[0]
    np.testing.assert_allclose(points.get_xdata(), [1.05, 0.97, 0.6])  # exp(posterior mean log HR)
    assert points.get_markerfacecolor() == "white"  # the fit did not converge: hollow
    assert "2 divergences, NOT CONVERGED" in ax.get_title()
    assert ax.get_xscale() == "log"
    assert "per SD" in ax.get_xlabel()


def test_screen_figure_without_a_recorded_status_is_not_called_converged(results) -> None:
    screen = results.bayes_screen.assign(converged=np.nan)
    (ax,) = bayes_screen.screen_figure(screen, "efs").get_axes()
    assert ax.get_lines()[0].get_markerfacecolor() == "white"
    assert ax.get_title().endswith("NOT CONVERGED: do not interpret")


def test_log_hr_axes_share_limits_and_ticks(results) -> None:
    (ax,) = bayes_screen.screen_figure(results.bayes_screen, "efs").get_axes()
    screen = results.bayes_screen
    limit = graphics.hr_axis_limit(np.concatenate([screen["hr_lower"], screen["hr_upper"]]))
    assert ax.get_xlim() == pytest.approx((1 / limit, limit))
    assert list(ax.get_xticks()) == [tick for tick in graphics.HR_TICKS if 1 / limit <= tick <= limit]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0.5", "1", "2"]
    assert graphics.hr_axis_limit(np.array([np.nan, 0.0, -1.0])) == 2.0  # nothing to cover: 1/2 to 2
    assert graphics.hr_axis_limit(np.array([1000.0])) == graphics.MAX_HR_AXIS
