"""Brier score, null model, IPA and integrated Brier against riskRegression::Score and scikit-survival."""

import numpy as np
import pytest
from sksurv.metrics import brier_score as sksurv_brier
from sksurv.metrics import integrated_brier_score
from sksurv.util import Surv

from tmesurv.validation.brier import brier_score, integrated_brier, ipa, null_brier_score

TOL = 1e-10


def outcome(external):
    return external["time"].to_numpy(), external["event"].to_numpy()


@pytest.mark.parametrize("horizon", [3, 5])
def test_brier_null_and_ipa_equal_riskregression_score(external, reference, horizon):
    time, event = outcome(external)
    risk = external[f"risk_{horizon}"]
    assert brier_score(time, event, risk, horizon) == pytest.approx(reference("brier", horizon), abs=TOL)
    assert null_brier_score(time, event, horizon) == pytest.approx(reference("brier_null", horizon), abs=TOL)
    assert ipa(time, event, risk, horizon) == pytest.approx(reference("ipa", horizon), abs=TOL)


def test_integrated_brier_step_rule_equals_riskregression_ibs(external, grid_risk, reference):
    time, event = outcome(external)
    times, risk = grid_risk
    assert integrated_brier(time, event, risk, times) == pytest.approx(reference("integrated_brier", 6), abs=TOL)


def test_brier_at_own_time_equals_sksurv(external, grid_risk):
    """scikit-survival weights events by 1 / G(T_i) and integrates by the trapezoid rule over [t_1, t_K]."""
    time, event = outcome(external)
    y = Surv.from_arrays(event == 1, time)
    times, risk = grid_risk
    expected = sksurv_brier(y, y, 1 - risk, times)[1]
    for k, t in enumerate(times):
        assert brier_score(time, event, risk[:, k], t, limit="at") == pytest.approx(expected[k], abs=TOL)
    ours = integrated_brier(time, event, risk, times, rule="trapezoid", limit="at")
    assert ours == pytest.approx(integrated_brier_score(y, y, 1 - risk, times), abs=TOL)


def test_hand_worked_brier_without_censoring():
    """No censoring before the horizon: the mean squared error of the predicted risk against the 0/1 outcome."""
    time = np.array([1.0, 2.0, 4.0, 6.0])
    event = np.array([1, 1, 0, 1])
    risk = np.array([0.9, 0.2, 0.3, 0.5])
    expected = ((1 - 0.9) ** 2 + (1 - 0.2) ** 2 + 0.3**2 + 0.5**2) / 4
    assert brier_score(time, event, risk, 3.0) == pytest.approx(expected)
    assert null_brier_score(time, event, 3.0) == pytest.approx(0.25)  # KM risk 1/2 for everyone


def test_weights_equal_resampled_data(external, resampled):
    time, event = outcome(external)
    risk = external["risk_5"].to_numpy()
    rows, counts = resampled
    model, null = brier_score(time, event, risk, 5, counts), null_brier_score(time, event, 5, counts)
    for b, row in enumerate(rows):
        assert model[b] == pytest.approx(brier_score(time[row], event[row], risk[row], 5), abs=TOL)
        assert null[b] == pytest.approx(null_brier_score(time[row], event[row], 5), abs=TOL)


def test_horizon_beyond_follow_up_gives_nan(external, grid_risk):
    time, event = outcome(external)
    late = time.max() + 1
    assert np.isnan(brier_score(time, event, external["risk_5"], late))
    assert np.isnan(ipa(time, event, external["risk_5"], late))
    times, risk = grid_risk
    assert np.isnan(integrated_brier(time, event, risk, np.r_[times[:-1], late]))


def test_grid_is_checked(external, grid_risk):
    time, event = outcome(external)
    times, risk = grid_risk
    with pytest.raises(ValueError, match="increasing grid times"):
        integrated_brier(time, event, risk, times[::-1])
