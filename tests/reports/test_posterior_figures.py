"""Figures of the optional Bayesian outputs, from the synthetic result files of ``conftest.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from tests.reports.conftest import ARM_NAMES, XSS, write_all
from tmesurv.reports import effect_figures, figures, forest, posterior_figures
from tmesurv.reports.results import read_results


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory):
    return read_results(write_all(tmp_path_factory.mktemp("results")))


def test_screen_figure_sorts_by_effect_and_states_divergences(results) -> None:
    figure = posterior_figures.screen_figure(results.bayes_screen, "efs")
    (ax,) = figure.get_axes()
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == [XSS, "sig_ifng", "b_cell_ges"]  # bottom to top: the largest benefit at the top
    points = ax.get_lines()[0]
    np.testing.assert_allclose(points.get_xdata(), [1.05, 0.97, 0.6])  # exp(posterior mean log HR)
    assert points.get_markerfacecolor() == "white"  # the fit did not converge: hollow
    assert "2 divergences, NOT CONVERGED" in ax.get_title()
    assert ax.get_xscale() == "log"
    assert "per SD" in ax.get_xlabel()


def test_time_varying_figure_draws_each_interval_over_its_months(results) -> None:
    rows = results.bayes_time_varying.assign(hr_mean=lambda frame: np.exp(frame["mean"]) * 1.3)
    figure = posterior_figures.time_varying_figure(rows, "efs", ARM_NAMES)
    (ax,) = figure.get_axes()
    segments = ax.collections[-1].get_segments()  # the hlines of the posterior means
    starts_ends = [(segment[0][0], segment[1][0]) for segment in segments]
    assert starts_ends[:2] == [(0.0, 3.0), (3.0, 9.0)]
    assert starts_ends[2][0] == 9.0
    assert starts_ends[2][1] == pytest.approx(9.0 * 1.25)  # the open interval drawn a quarter beyond its start
    overall = rows[(rows["analysis"] == "treatment")].sort_values("interval")
    assert [segment[0][1] for segment in segments] == pytest.approx(np.exp(overall["mean"]))  # not hr_mean
    assert ax.get_ylabel().startswith("Treatment HR, axi-cel vs SOC")
    assert "Months since randomisation" in ax.get_xlabel()
    assert "0 divergences, converged" in ax.get_title()
    assert "at the posterior mean log HR" in ax.get_title()


def test_screen_figure_without_a_recorded_status_is_not_called_converged(results) -> None:
    screen = results.bayes_screen.assign(converged=np.nan)
    (ax,) = posterior_figures.screen_figure(screen, "efs").get_axes()
    assert ax.get_lines()[0].get_markerfacecolor() == "white"
    assert ax.get_title().endswith("NOT CONVERGED: do not interpret")


def test_log_hr_axes_share_limits_and_ticks(results) -> None:
    (ax,) = posterior_figures.screen_figure(results.bayes_screen, "efs").get_axes()
    screen = results.bayes_screen
    limit = forest.hr_axis_limit(np.concatenate([screen["hr_lower"], screen["hr_upper"]]))
    assert ax.get_xlim() == pytest.approx((1 / limit, limit))
    assert list(ax.get_xticks()) == [tick for tick in forest.HR_TICKS if 1 / limit <= tick <= limit]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0.5", "1", "2"]
    assert forest.hr_axis_limit(np.array([np.nan, 0.0, -1.0])) == 2.0  # nothing to cover: 1/2 to 2
    assert forest.hr_axis_limit(np.array([1000.0])) == forest.MAX_HR_AXIS


def test_prior_predictive_figure_colours_every_arm_like_the_km_figures(results) -> None:
    check = results.bayes_prior_predictive
    third = check[check["arm"] == "control"].assign(arm="placebo")
    km = results.km_curves
    km = pd.concat([km, km[(km["arm"] == "control") & (km["subgroup"] == "all")].assign(arm="placebo")])
    figure = posterior_figures.prior_predictive_figure(pd.concat([check, third]), "efs", km)
    colours = [ax.get_lines()[0].get_color() for ax in figure.get_axes()]  # the Kaplan-Meier step of each panel
    assert colours == [figures.arm_colour(arm, index) for index, arm in enumerate(["treated", "control", "placebo"])]
    assert colours[2] == figures.OTHER_COLOURS[2]


def test_prior_predictive_figure_has_a_panel_per_arm_with_the_km(results) -> None:
    figure = posterior_figures.prior_predictive_figure(
        results.bayes_prior_predictive, "efs", results.km_curves, ARM_NAMES
    )
    treated, control = figure.get_axes()
    assert (treated.get_title(), control.get_title()) == ("axi-cel", "SOC")
    assert treated.get_ylabel() == "Survival probability"
    observed = control.get_lines()[-1]
    np.testing.assert_allclose(observed.get_xdata(), [12.0, 24.0])
    np.testing.assert_allclose(observed.get_ydata(), [0.38, 0.15])
    assert "observed 118" in figure.get_suptitle()
    assert "prior predictive median 150 (95% interval 20\u2013198)" in figure.get_suptitle()


def test_effect_figure_draws_the_spline_band_and_cox_over_its_range(results) -> None:
    figure = effect_figures.treatment_effect_figure(
        results.bayes, "efs", results.cox, ARM_NAMES, results.bayes_hr_curve
    )
    first, second = figure.get_axes()
    bands = [c for c in first.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    assert not [c for c in second.collections if isinstance(c, PolyCollection)]
    cox_line = next(line for line in first.get_lines() if line.get_linestyle() == "--")
    assert cox_line.get_xdata().min() == pytest.approx(-1.0)  # the curve's range, wider than the quartiles
    assert cox_line.get_xdata().max() == pytest.approx(1.5)
    median = next(line for line in first.get_lines() if line.get_linewidth() == pytest.approx(1.8))
    np.testing.assert_allclose(median.get_ydata(), np.exp(-0.2 - 0.4 * np.linspace(-1.0, 1.5, 20)))
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend[0] == "Bayesian spline: posterior median HR, 95% band"


def test_effect_figure_with_only_a_curve(results, tmp_path: Path) -> None:
    no_points = results.bayes[results.bayes["analysis"] != "treatment_at"]
    figure = effect_figures.treatment_effect_figure(no_points, "efs", None, None, results.bayes_hr_curve)
    assert [ax.get_title() for ax in figure.get_axes()] == ["b_cell_ges"]
    with pytest.raises(ValueError, match="no treatment_at rows or curves"):
        effect_figures.treatment_effect_figure(no_points, "efs", None, None, pd.DataFrame(columns=["endpoint"]))
