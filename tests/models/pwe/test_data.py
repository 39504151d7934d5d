"""The PWE model's data: interval cuts, the principal axes, and the numpy per-patient log-likelihood."""

import numpy as np
import pandas as pd
import pytest

from tests.models.pwe.conftest import SMALL_DESIGN, SMALL_EVENT, SMALL_TIME, hand_log_likelihood
from tmesurv.errors import InputError
from tmesurv.models.pwe.data import interval_cuts, pwe_data, pwe_log_likelihood


def test_numpy_kernel_matches_hand_computation():
    cuts = np.array([3.0, 5.0, 7.0])
    eta = np.linspace(-0.8, 0.9, SMALL_TIME.size)
    log_baseline = np.array([-2.0, -1.4, -2.3, -0.9])
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, cuts)
    got = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, cuts)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_numpy_kernel_broadcasts_over_draws():
    cuts = np.array([3.0, 5.0, 7.0])
    rng = np.random.default_rng(5)
    eta = rng.normal(size=(2, 3, SMALL_TIME.size))
    log_baseline = rng.normal(-1.5, 0.5, size=(2, 3, 4))
    got = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, log_baseline, cuts)
    assert got.shape == (2, 3, SMALL_TIME.size)
    expected = hand_log_likelihood(SMALL_TIME, SMALL_EVENT, eta[1, 2], log_baseline[1, 2], cuts)
    np.testing.assert_allclose(got[1, 2], expected, rtol=0, atol=1e-12)


def test_single_interval_is_exponential():
    eta = np.zeros(SMALL_TIME.size)
    got = pwe_log_likelihood(SMALL_TIME, SMALL_EVENT, eta, np.array([-1.0]), np.empty(0))
    np.testing.assert_allclose(got, SMALL_EVENT * -1.0 - np.exp(-1.0) * SMALL_TIME, atol=1e-12)


def test_interval_cuts_are_event_time_quantiles():
    np.testing.assert_allclose(interval_cuts(SMALL_TIME, SMALL_EVENT, 4), [3.0, 5.0, 7.0])
    # K = 2: the median of the nine event times.
    np.testing.assert_allclose(interval_cuts(SMALL_TIME, SMALL_EVENT, 2), [5.0])
    # K = 3 on 1..9: positions 8/3 and 16/3, i.e. 1 + 8/3 and 1 + 16/3.
    np.testing.assert_allclose(interval_cuts(SMALL_TIME, SMALL_EVENT, 3), [11 / 3, 19 / 3])


def test_interval_cuts_deduplicate_and_handle_one_interval():
    time = np.array([2.0, 2.0, 2.0, 2.0, 5.0, 8.0])
    event = np.array([1, 1, 1, 1, 1, 0])
    np.testing.assert_allclose(interval_cuts(time, event, 4), [2.0])
    assert interval_cuts(time, event, 1).size == 0


def test_interval_cuts_need_events():
    with pytest.raises(InputError, match="at least one event"):
        interval_cuts(SMALL_TIME, np.zeros(SMALL_TIME.size), 4)


def test_rotation_diagonalises_the_cox_information_at_zero():
    """The information by hand: over events, the covariance of the standardised design over the risk set."""
    data = pwe_data(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, 4)
    x = SMALL_DESIGN.to_numpy()
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    information = sum(np.cov(z[t <= SMALL_TIME].T, ddof=0) for t in SMALL_TIME[SMALL_EVENT == 1])
    crossed = data.rotation.T @ information @ data.rotation
    np.testing.assert_allclose(data.rotation.T @ data.rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(crossed - np.diag(np.diag(crossed)), 0.0, atol=1e-9)


def test_rotation_does_not_depend_on_the_row_order_under_tied_times():
    """Integer months tie often: a censoring listed before an event at the same time must not change the axes."""
    rng = np.random.default_rng(8)
    time, event = rng.integers(1, 6, 60).astype(float), rng.integers(0, 2, 60)
    design = pd.DataFrame({"arm": rng.integers(0, 2, 60).astype(float), "b": rng.normal(size=60)})
    design["arm:b"] = design["arm"] * design["b"]
    shuffled = rng.permutation(60)
    first = pwe_data(time, event, design, 3).rotation
    second = pwe_data(time[shuffled], event[shuffled], design.iloc[shuffled].reset_index(drop=True), 3).rotation
    np.testing.assert_allclose(np.abs(first.T @ second), np.eye(3), atol=1e-9)  # same axes, up to sign


def test_fixed_cuts_replace_the_event_quantiles():
    data = pwe_data(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, 4, cuts=np.array([2.5, 6.0]))
    assert data.cuts.tolist() == [2.5, 6.0]
    # events at 1, 2 | 3, 4, 5, 6 | 7, 8, 9 (a time on a cut belongs to the interval it closes)
    assert data.interval_events.tolist() == [2.0, 4.0, 3.0]
    assert data.width.tolist() == [2.5, 3.5, 0.0]


@pytest.mark.parametrize("cuts", [[3.0, 2.0], [0.0, 2.0], [1.0, np.inf], [[1.0]]])
def test_bad_fixed_cuts_are_refused(cuts):
    with pytest.raises(InputError, match="fixed cut points"):
        pwe_data(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, 4, cuts=np.array(cuts))
