from __future__ import annotations

import numpy as np
import pandas as pd

from tests.reports.conftest import ARM_NAMES
from tmesurv.reports import graphics
from tmesurv.reports.sections import prior_predictive


def test_prior_predictive_figure_colours_every_arm_like_the_km_figures(results) -> None:
    check = results.bayes_prior_predictive
    third = check[check["arm"] == "control"].assign(arm="placebo")
    km = results.km_curves
    km = pd.concat([km, km[(km["arm"] == "control") & (km["subgroup"] == "all")].assign(arm="placebo")])
    figure = prior_predictive.prior_predictive_figure(pd.concat([check, third]), "efs", km)
    colours = [ax.get_lines()[0].get_color() for ax in figure.get_axes()]  # the Kaplan-Meier step of each panel
    assert colours == [graphics.arm_colour(arm, index) for index, arm in enumerate(["treated", "control", "placebo"])]
    assert colours[2] == graphics.OTHER_COLOURS[2]


def test_prior_predictive_figure_has_a_panel_per_arm_with_the_km(results) -> None:
    figure = prior_predictive.prior_predictive_figure(
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
