"""The Kaplan-Meier figures draw the numbers of the result files: steps, bands, censor marks, log-rank P.

On R's veteran data (``tests/reference/veteran_cox.R`` wrote the R references): the drawn steps are ``km_curves.csv``
and, at the landmarks, R's ``survfit`` estimates; the drawn band is ``km_curves.csv``'s limits and, at the landmarks,
R's ``log-log`` (or ``log``, when configured) limits; the censor marks sit at the censored patients' times; the P
printed is R's ``survdiff`` P.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from tests.reports.test_km_plot import drawn
from tmesurv.config import load_config
from tmesurv.models.cox.km import fit_km, km_by_arm
from tmesurv.models.cox.subgroups import analysis_groupings
from tmesurv.readers import read_cohort
from tmesurv.reports import km_plot
from tmesurv.reports.km_marks import GID_BAND, GID_CENSOR, GID_LOGRANK, GID_STEPS, KmMarks, censoring_times

REFERENCE = Path(__file__).parents[1] / "reference"
ARMS = ("treated", "control")  # drawing order
LANDMARKS = (6.0, 12.0, 24.0)


@pytest.fixture(scope="module")
def veteran():
    config, _ = load_config(REFERENCE / "veteran.yaml")
    cohort = read_cohort(config.data)
    return cohort, analysis_groupings(cohort, config.analysis)


def r_landmarks(name: str, subgroup: str, arm: str) -> pd.DataFrame:
    reference = pd.read_csv(REFERENCE / name)
    rows = reference[(reference["subgroup"] == subgroup) & (reference["arm"] == arm)]
    return rows[rows["statistic"] == "survival"]


def step_value(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """The value of a right-continuous step function drawn through (x, y) at ``at``."""
    return float(y[np.searchsorted(x, at, side="right") - 1])


def band_at(vertices: np.ndarray, at: float) -> tuple[float, float]:
    """The limits of a drawn step band at time ``at``: the heights held from the vertex time before it to the next."""
    left = vertices[:, 0][vertices[:, 0] <= at].max()
    right = vertices[:, 0][vertices[:, 0] > at].min()
    held = np.intersect1d(vertices[vertices[:, 0] == left, 1], vertices[vertices[:, 0] == right, 1])
    return float(held.min()), float(held.max())


def band_vertices(ax: Axes, index: int) -> np.ndarray:
    band = drawn(ax, GID_BAND)[index]
    return np.concatenate([path.vertices for path in band.get_paths()])


@pytest.mark.parametrize(("ci_method", "reference"), [("log-log", "veteran_km.csv"), ("log", "veteran_km_log.csv")])
def test_overall_figure_draws_km_curves_and_r_survfit(veteran, ci_method: str, reference: str) -> None:
    cohort, _ = veteran
    _, curves = km_by_arm(cohort, "os", LANDMARKS, ci_method)
    figure = km_plot.km_arms_figure(curves, "os", marks=KmMarks(ci_method=ci_method))
    ax = figure.get_axes()[0]
    for index, arm in enumerate(ARMS):
        rows = curves[(curves["arm"] == arm) & (curves["subgroup"] == "all")]
        steps = drawn(ax, GID_STEPS)[index]
        assert steps.get_drawstyle() == "steps-post"
        np.testing.assert_array_equal(steps.get_xdata(), rows["time"])
        np.testing.assert_array_equal(steps.get_ydata(), rows["survival"])
        vertices = band_vertices(ax, index)
        _assert_band_is(vertices, rows)
        x, y = np.asarray(steps.get_xdata()), np.asarray(steps.get_ydata())
        for landmark in r_landmarks(reference, "all", arm).itertuples():
            assert step_value(x, y, landmark.time) == pytest.approx(landmark.estimate, rel=1e-9)
            if np.isfinite(landmark.lower):
                lower, upper = band_at(vertices, landmark.time)
                assert lower == pytest.approx(landmark.lower, rel=1e-8)
                assert upper == pytest.approx(landmark.upper, rel=1e-8)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert f"Kaplan-Meier 95% CI ({ci_method})" in legend


def _assert_band_is(vertices: np.ndarray, rows: pd.DataFrame) -> None:
    """Every step of the band is a row's (lower, upper) held to the next row's time; nothing else is drawn."""
    time, lower, upper = (rows[column].to_numpy(dtype=float) for column in ("time", "lower", "upper"))
    points = {(round(x, 12), round(y, 12)) for x, y in vertices}
    for i in range(len(time) - 1):
        if np.isfinite(lower[i]) and np.isfinite(lower[i + 1]):
            for bound in (lower[i], upper[i]):
                assert (round(time[i], 12), round(bound, 12)) in points
                assert (round(time[i + 1], 12), round(bound, 12)) in points
    limits = np.concatenate([lower, upper])
    limits = limits[np.isfinite(limits)]
    assert np.isclose(vertices[:, 1][:, None], limits[None, :], rtol=0, atol=1e-12).any(axis=1).all()


def test_censor_marks_sit_at_the_censored_patients_times(veteran) -> None:
    cohort, _ = veteran
    _, curves = km_by_arm(cohort, "os", LANDMARKS)
    ax = km_plot.km_arms_figure(curves, "os").get_axes()[0]
    for index, arm in enumerate(ARMS):
        patients = cohort.arm_subset(arm)
        censored = np.unique(patients.time("os")[patients.event("os") == 0])
        marks = drawn(ax, GID_CENSOR)[index]
        assert marks.get_marker() == "+"
        np.testing.assert_array_equal(marks.get_xdata(), censored)
        rows = curves[(curves["arm"] == arm) & (curves["subgroup"] == "all")]
        expected = [step_value(rows["time"].to_numpy(), rows["survival"].to_numpy(), t) for t in censored]
        np.testing.assert_array_equal(marks.get_ydata(), expected)


def test_censoring_times_with_ties_and_time_zero() -> None:
    time = np.array([0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0])
    event = np.array([0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1])
    assert list(censoring_times(fit_km(time, event))) == [0.0, 1.0, 2.0, 3.0]
    assert list(censoring_times(fit_km(time, np.ones_like(event)))) == []


def test_log_rank_p_of_r_survdiff_on_each_figure(veteran) -> None:
    cohort, groupings = veteran
    _, curves = km_by_arm(cohort, "os", LANDMARKS, groupings=groupings)
    logrank = pd.read_csv(REFERENCE / "veteran_logrank.csv")  # R's survdiff
    descriptions = {"karno=low": "karno \u2264 60", "karno=high": "karno > 60"}
    marks = KmMarks(logrank, "log-log", descriptions)
    overall = drawn(km_plot.km_arms_figure(curves, "os", marks=marks).get_axes()[0], GID_LOGRANK)
    assert [text.get_text() for text in overall] == ["Log-rank P = 0.928"]  # R: 0.9277
    levels = km_plot.km_levels_figure(curves, "os", "karno", marks=marks)
    panels = [panel.get_axes()[0] for panel in levels.subfigs[0].subfigs]
    assert [panel.get_title() for panel in panels] == ["karno \u2264 60", "karno > 60"]
    expected = logrank[(logrank["comparison"] == "arm") & logrank["subgroup"].isin(["karno=low", "karno=high"])]
    shown = [drawn(panel, GID_LOGRANK)[0].get_text() for panel in panels]
    assert shown == [f"Log-rank P = {p:.3g}" for p in expected["p"]]
    by_level = km_plot.km_subgroup_figure(curves, "os", "karno", marks=marks)
    rows = [label.get_text() for label in by_level.get_axes()[1].get_yticklabels()]
    assert rows == [f"{arm}, karno {cut}" for arm in ARMS for cut in ("\u2264 60", "> 60")]
    (text,) = drawn(by_level.get_axes()[0], GID_LOGRANK)
    within = logrank[logrank["comparison"] == "karno"].set_index("subgroup")["p"]
    assert within["treated"] < 0.001
    assert text.get_text() == (
        "Log-rank P < 0.001, karno levels within treated\n"
        f"Log-rank P = {within['control']:.3g}, karno levels within control"
    )


def test_no_log_rank_text_without_the_file(veteran) -> None:
    cohort, _ = veteran
    _, curves = km_by_arm(cohort, "os", LANDMARKS)
    ax = km_plot.km_arms_figure(curves, "os").get_axes()[0]
    assert drawn(ax, GID_LOGRANK) == []
