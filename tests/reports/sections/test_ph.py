"""The proportional-hazards section: R's plot.cox.zph smooth, the residual points of ph_residuals.csv, the test table.

``tests/reference/zph_smooth.R`` wrote ``zph_smooth_r.csv`` (the smooth and band R's ``plot.cox.zph`` draws) from the
veteran fits; ``cox_zph.R`` wrote R's residuals and tests (``cox_zph_residuals_r.csv``, ``cox_zph_r.csv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.reports.test_km_plot import drawn
from tmesurv.config import load_config
from tmesurv.models.cox.analyses import cox_analyses
from tmesurv.readers import read_cohort
from tmesurv.reports.sections import ph

REFERENCE = Path(__file__).parents[2] / "reference"


@pytest.fixture(scope="module")
def veteran_cox():
    config, _ = load_config(REFERENCE / "veteran.yaml")
    return cox_analyses(read_cohort(config.data), "os", config.analysis)


def r_residuals(analysis: str, subgroup: str, term: str) -> pd.DataFrame:
    rows = pd.read_csv(REFERENCE / "cox_zph_residuals_r.csv")
    chosen = (rows["dataset"] == "veteran") & (rows["analysis"] == analysis) & (rows["subgroup"] == subgroup)
    return rows[chosen & (rows["term"] == term)].sort_values("event")


def test_smooth_and_band_equal_r_plot_cox_zph() -> None:
    reference = pd.read_csv(REFERENCE / "zph_smooth_r.csv")
    cox = pd.read_csv(REFERENCE / "veteran_cox.csv").set_index(["analysis", "subgroup", "term"])
    for (analysis, subgroup, term), expected in reference.groupby(["analysis", "subgroup", "term"], sort=False):
        residuals = r_residuals(analysis, subgroup, term)
        variance = cox.loc[(analysis, subgroup, term), "se"] ** 2 * len(residuals)  # R's cox.zph(fit)$var
        smooth = ph.zph_smooth(residuals["transformed_time"], residuals["residual"], variance)
        np.testing.assert_allclose(smooth.x, expected["x"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(smooth.fit, expected["fit"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(smooth.lower, expected["lower"], rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(smooth.upper, expected["upper"], rtol=1e-8, atol=1e-9)


def test_smooth_without_enough_times_is_skipped_as_r_does() -> None:
    assert ph.zph_smooth(np.array([0.0, 0.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0])) is None
    smooth = ph.zph_smooth(np.linspace(0, 1, 30), np.linspace(0, 1, 30) * 2 - 1)
    assert smooth.lower is None  # no variance: no band
    np.testing.assert_allclose(smooth.fit, smooth.x * 2 - 1, atol=1e-12)  # a line is its own spline fit


def test_schoenfeld_points_are_ph_residuals_and_the_lines_their_smooth(veteran_cox) -> None:
    residuals, cox = veteran_cox.ph_residuals, veteran_cox.table
    figure = ph.schoenfeld_figure(residuals, "os", cox, veteran_cox.ph_test)
    panels = list(ph.residual_panels(residuals, "os"))
    terms = [(analysis, subgroup, term) for _, analysis, subgroup, term in panels]
    interactions = [("interaction", b, f"arm:{b}") for b in ("karno", "prior", "squamous", "age", "diagtime")]
    assert terms == [("treatment", "all", "arm"), ("treatment_stratified", "all", "arm"), *interactions]
    axes = figure.get_axes()
    assert len(axes) == len(panels)
    for ax, key in zip(axes, panels, strict=True):
        rows = residuals[
            (residuals["analysis"] == key[1]) & (residuals["subgroup"] == key[2]) & (residuals["term"] == key[3])
        ]
        (points,) = drawn(ax, ph.GID_POINTS)
        np.testing.assert_array_equal(points.get_xdata(), rows["transformed_time"])
        np.testing.assert_array_equal(points.get_ydata(), rows["residual"])
        model = cox[(cox["analysis"] == key[1]) & (cox["subgroup"] == key[2]) & (cox["term"] == key[3])].iloc[0]
        (coef,) = drawn(ax, ph.GID_COEF)
        assert coef.get_ydata()[0] == model["coef"]
        smooth = ph.zph_smooth(rows["transformed_time"], rows["residual"], model["se"] ** 2 * len(rows))
        (line,) = drawn(ax, ph.GID_SMOOTH)
        np.testing.assert_array_equal(line.get_ydata(), smooth.fit)
        assert len(drawn(ax, ph.GID_BAND)) == 1
        assert ax.get_ylabel() == f"Beta(t) for {key[3]}"
    treatment = r_residuals("treatment", "all", "arm")  # the points are R's too
    np.testing.assert_allclose(drawn(axes[0], ph.GID_POINTS)[0].get_ydata(), treatment["residual"], rtol=1e-6)


def test_panel_titles_give_the_test_and_mark_a_rejection(veteran_cox) -> None:
    figure = ph.schoenfeld_figure(veteran_cox.ph_residuals, "os", veteran_cox.table, veteran_cox.ph_test)
    tests = veteran_cox.ph_test
    km = tests[(tests["transform"] == "km") & (tests["analysis"] == "treatment") & (tests["term"] == "arm")]
    treatment = figure.get_axes()[0].get_title()
    assert treatment == f"treatment, all patients\nPH test P = {km['p'].iloc[0]:.3g}"  # R: 0.0600, not rejected
    karno = next(ax.get_title() for ax in figure.get_axes() if ax.get_ylabel().endswith("arm:karno"))
    karno_p = tests[(tests["transform"] == "km") & (tests["term"] == "arm:karno")]["p"].iloc[0]
    assert karno.endswith(f" {ph.PH_MARK}") == (karno_p < ph.PH_ALPHA)


def test_ph_table_of_r_cox_zph_flags_p_below_005() -> None:
    zph = pd.read_csv(REFERENCE / "cox_zph_r.csv")
    zph = zph[zph["dataset"] == "veteran"].drop(columns="dataset").reset_index(drop=True)
    table = ph.ph_table(zph)
    labels = [column.label for column in table.columns]
    assert labels[:6] == ["Endpoint", "Analysis", "Subgroup", "Model", "Term", "Transform"]  # three transforms
    assert [row.flagged for row in table.rows] == list(zph["p"] < 0.05)
    assert any(row.cells[4] == "GLOBAL" and row.flagged for row in table.rows)
    first = table.rows[0].cells
    assert first[4:] == ("arm", "km", "3.54", "1", "0.06", "")
    only_km = ph.ph_table(zph[zph["transform"] == "km"])
    assert "Transform" not in [column.label for column in only_km.columns]
    p_values = ph.ph_p_values(zph)
    assert p_values[("os", "treatment", "all", "arm")] == zph.loc[0, "p"]  # the km transform's, not rank's
    assert not ph.ph_rejected(p_values, ("os", "treatment", "all", "arm"))
    assert ph.ph_rejected(p_values, ("os", "subgroup", "diagtime=Q3", "arm"))
    assert not ph.ph_rejected(p_values, ("os", "subgroup", "no such subgroup", "arm"))
