"""The validation figures draw the values of their tables: calibration band and histogram, decision curve, Emax."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from tmesurv.validation.figures import HISTOGRAM_BINS, calibration_figure, decision_curve_figure

REFERENCE = Path(__file__).parents[1] / "reference"
HORIZON = 60.0


def _calibration_rows() -> pd.DataFrame:
    predicted = np.linspace(0.2, 0.8, 7)
    curve = pd.DataFrame(
        {"kind": "curve", "predicted": predicted, "observed": predicted + 0.02, "lower": predicted - 0.03,
         "upper": predicted + 0.07}
    )  # fmt: skip
    groups = pd.DataFrame(
        {"kind": "group", "group": ["Q1", "Q2"], "predicted": [0.3, 0.6], "observed": [0.32, 0.58],
         "lower": [0.25, 0.5], "upper": [0.4, 0.66], "n": [50, 50]}
    )  # fmt: skip
    return pd.concat([curve, groups], ignore_index=True).reindex(
        columns=["horizon", "kind", "group", "predicted", "observed", "lower", "upper", "n"]
    )


def test_calibration_figure_draws_the_band_the_curve_the_histogram_and_emax():
    rows = _calibration_rows()
    risks = np.random.default_rng(3).uniform(0.1, 0.9, 200)
    errors = {"ici": 0.0301, "e50": 0.0262, "e90": 0.0746, "emax": 0.0753}
    figure = calibration_figure(rows, errors, "cox", HORIZON, risks)
    calibration, histogram = figure.get_axes()
    curve = rows[rows["kind"] == "curve"]
    smoothed = next(line for line in calibration.get_lines() if line.get_label() == "smoothed (Austin et al.)")
    np.testing.assert_array_equal(smoothed.get_xdata(), curve["predicted"])
    np.testing.assert_array_equal(smoothed.get_ydata(), curve["observed"])
    (band,) = [c for c in calibration.collections if isinstance(c, PolyCollection) and c.get_label().startswith("boot")]
    vertices = band.get_paths()[0].vertices
    for x, low, high in curve[["predicted", "lower", "upper"]].itertuples(index=False):
        at_x = vertices[np.isclose(vertices[:, 0], x), 1]
        assert at_x.min() == pytest.approx(low)
        assert at_x.max() == pytest.approx(high)
    texts = [text.get_text() for text in calibration.texts]
    assert "ICI 0.030   E50 0.026   E90 0.075   EMAX 0.075" in texts
    heights = [patch.get_height() for patch in histogram.patches]
    top = calibration.get_xlim()[1]
    expected, _ = np.histogram(risks, bins=np.linspace(0, top, HISTOGRAM_BINS + 1))
    np.testing.assert_array_equal(heights, expected)
    assert sum(heights) == risks.size  # every risk is inside the drawn range
    assert histogram.get_xlabel() == "Predicted risk by 60 months"


def test_calibration_figure_without_band_or_risks():
    rows = _calibration_rows()
    rows.loc[rows["kind"] == "curve", ["lower", "upper"]] = np.nan  # no bootstrap
    figure = calibration_figure(rows, {}, "cox", HORIZON)
    (axes,) = figure.get_axes()
    assert not [c for c in axes.collections if c.get_label().startswith("boot")]
    assert "EMAX nan" in axes.texts[0].get_text()


def test_decision_curve_figure_draws_the_net_benefit_of_the_stratos_case():
    reference = pd.read_csv(REFERENCE / "stratos_net_benefit.csv").assign(treat_none=0.0)
    figure = decision_curve_figure(reference, "cox", HORIZON)
    (axes,) = figure.get_axes()
    lines = {line.get_label(): line for line in axes.get_lines()}
    model = lines["Cox: treat if predicted risk > threshold"]
    np.testing.assert_array_equal(model.get_xdata(), reference["threshold"])
    np.testing.assert_array_equal(model.get_ydata(), reference["net_benefit"])
    np.testing.assert_array_equal(lines["treat all"].get_ydata(), reference["treat_all"])
    np.testing.assert_array_equal(lines["treat none"].get_ydata(), np.zeros(len(reference)))
    top = max(reference["net_benefit"].max(), reference["treat_all"].max()) * 1.05
    assert axes.get_ylim() == pytest.approx((-0.1 * top, top))
    assert axes.get_xlabel() == "Threshold probability (risk by 60 months)"


def test_benefit_decision_curve_figure_stops_after_the_last_treated_threshold():
    thresholds = np.arange(1, 100) / 100
    rows = pd.DataFrame(
        {"decision": "benefit", "threshold": thresholds, "net_benefit": np.where(thresholds < 0.2, 0.05, 0.0),
         "treat_all": 0.08 - thresholds, "treat_none": 0.0}
    )  # fmt: skip
    (axes,) = decision_curve_figure(rows, "cox", 36.0).get_axes()
    assert axes.get_xlim() == pytest.approx((0.0, 0.19 + 0.05))
    assert "Cox: treat if predicted benefit > threshold" in [line.get_label() for line in axes.get_lines()]
    assert axes.get_xlabel() == "Threshold: harm of treatment as a risk difference by 36 months"
