"""Weighted Kaplan-Meier curves (against lifelines and by hand) and the horizon messages."""

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from tmesurv.validation.ipcw import censoring_weights, controls_at, horizon_note, km_risk, weighted_curves


def test_unit_weights_give_the_kaplan_meier_curve(external):
    time, event = external["time"].to_numpy(), external["event"].to_numpy()
    curves = weighted_curves(time, event, np.ones((1, time.size)))
    fitter = KaplanMeierFitter().fit(time, event)
    expected = fitter.survival_function_at_times(curves.times).to_numpy()
    np.testing.assert_allclose(curves.survival()[0], expected, atol=1e-12, rtol=0)


def test_censoring_curve_by_hand():
    """Times 1 (event), 2 (event and censoring), 3 (censoring), 4 (event). At 2 the event leaves the censoring risk
    set first: G(2) = 1 - 1/(4 - 1) = 2/3; G(3) = 2/3 (1 - 1/2) = 1/3; at 4 nobody is left to censor: G(4) = 1/3."""
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    event = np.array([1, 1, 0, 0, 1])
    curves, g_before = censoring_weights(time, event, np.ones((1, 5)), "before")
    np.testing.assert_allclose(curves.censoring()[0], [1, 2 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(g_before[0], [1, 1, 1, 2 / 3, 1 / 3])
    g_at = censoring_weights(time, event, np.ones((1, 5)), "at")[1][0]
    np.testing.assert_allclose(g_at, [1, 2 / 3, 2 / 3, 1 / 3, 1 / 3])


def test_weights_are_case_weights():
    """Weight 2 on a patient is the same as that patient twice."""
    time, event = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 1])
    twice = km_risk(np.r_[time, time[1]], np.r_[event, event[1]], np.ones((1, 5)), 3.5)
    assert km_risk(time, event, np.array([[1.0, 2.0, 1.0, 1.0]]), 3.5)[0] == pytest.approx(twice[0])


def test_horizon_notes():
    time = np.array([1.0, 5.0, 7.0])
    assert horizon_note(time, 3.0) == ""
    assert horizon_note(time, 7.0) == ""  # the Kaplan-Meier curve is defined at the last follow-up time
    assert "beyond the last external follow-up time (7)" in horizon_note(time, 7.5)
    assert "beyond the development follow-up (4)" in horizon_note(time, 5.0, development_follow_up=4.0)
    assert "no event by horizon 3" in horizon_note(time, 3.0, event=np.array([0, 1, 1]))
    assert km_risk(time, np.ones(3), np.ones((1, 3)), 7.0)[0] == 1.0  # R: summary(survfit(...), times = 7)
    assert np.isnan(km_risk(time, np.ones(3), np.ones((1, 3)), 7.5)[0])


def test_controls_at_an_administrative_censoring_time():
    """Nobody followed beyond t: the patients censored at t are the controls, weighted by 1 / G(t-)."""
    time, event = np.array([1.0, 2.0, 3.0, 3.0, 3.0]), np.array([1, 0, 1, 0, 0])
    controls = controls_at(time, event, np.ones((1, 5)), 3.0)
    np.testing.assert_array_equal(controls.member[0], [False, False, False, True, True])
    assert controls.censoring[0] == pytest.approx(3 / 4)  # G(3-): one censoring at 2 among the 4 at risk
    later = controls_at(time, event, np.ones((1, 5)), 2.5)
    np.testing.assert_array_equal(later.member[0], time > 2.5)
    assert later.censoring[0] == pytest.approx(3 / 4)
