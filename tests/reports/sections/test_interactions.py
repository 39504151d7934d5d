from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from tests.reports.builders import assert_axes_labelled, treatment_at
from tests.reports.conftest import ARM_NAMES, XSS
from tmesurv.reports.sections import interactions as interaction_section


def test_treatment_effect_figure_labels_axes_and_overlays_cox(cox: pd.DataFrame) -> None:
    bayes = pd.concat([treatment_at("b_cell_ges"), treatment_at(XSS, converged=0.0)], ignore_index=True)
    interaction = cox[cox["analysis"] == "interaction"].assign(subgroup="b_cell_ges")
    arm = interaction.assign(term="arm", coef=-0.5)
    effect_figure = interaction_section.treatment_effect_figure(bayes, "efs", pd.concat([interaction, arm]), ARM_NAMES)
    first, second = effect_figure.get_axes()
    assert first.get_yscale() == "log"
    assert first.get_xlabel() == "b_cell_ges (value in the data's units)"
    assert first.get_ylabel() == "Treatment HR, axi-cel vs SOC\n(log scale)"
    assert second.get_title() == XSS
    points = next(line for line in first.get_lines() if line.get_marker() == "o" and len(line.get_ydata()))
    np.testing.assert_allclose(points.get_ydata(), np.exp(treatment_at("b_cell_ges")["mean"]))
    assert any(line.get_linestyle() == "--" for line in first.get_lines())  # the Cox point estimate
    assert not any(line.get_linestyle() == "--" for line in second.get_lines())
    legend = [t.get_text() for t in effect_figure.legends[0].get_texts()]
    assert legend[1] == "Cox interaction model: point estimate"
    assert "not converged" in legend[2]
    assert_axes_labelled(effect_figure)
    with pytest.raises(ValueError, match="no treatment_at rows or curves for endpoint 'os'"):
        interaction_section.treatment_effect_figure(bayes, "os")


def test_effect_figure_draws_the_spline_band_and_cox_over_its_range(results) -> None:
    figure = interaction_section.treatment_effect_figure(
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
    figure = interaction_section.treatment_effect_figure(no_points, "efs", None, None, results.bayes_hr_curve)
    assert [ax.get_title() for ax in figure.get_axes()] == ["b_cell_ges"]
    with pytest.raises(ValueError, match="no treatment_at rows or curves"):
        interaction_section.treatment_effect_figure(no_points, "efs", None, None, pd.DataFrame(columns=["endpoint"]))
