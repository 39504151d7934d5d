"""Harrell's C, Uno's C and the time-dependent AUC against R (survival::concordance, riskRegression::Score) and
scikit-survival, on the rotterdam model scored on gbsg (see conftest.py for how the reference is made)."""

import numpy as np
import pytest
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc
from sksurv.util import Surv

from tmesurv.validation.discrimination import harrell_c, time_auc, uno_c

TOL = 1e-10  # same arithmetic as the references: agreement to rounding


def outcome(external):
    return external["time"].to_numpy(), external["event"].to_numpy()


def test_harrell_c_equals_r_concordance_and_sksurv(external, reference):
    time, event = outcome(external)
    ours = harrell_c(time, event, external["lp"])
    assert ours == pytest.approx(reference("harrell_c"), abs=TOL)
    assert ours == pytest.approx(concordance_index_censored(event == 1, time, external["lp"])[0], abs=TOL)


@pytest.mark.parametrize("tau", [None, 5])
def test_uno_c_equals_r_concordance_n_over_g2(external, reference, tau):
    time, event = outcome(external)
    assert uno_c(time, event, external["lp"], tau) == pytest.approx(reference("uno_c", tau), abs=TOL)


@pytest.mark.parametrize("tau", [None, 4.5])  # a tau that is not an event time: sksurv keeps events < tau, R <= tau
def test_uno_c_at_own_time_equals_sksurv(external, tau):
    time, event = outcome(external)
    y = Surv.from_arrays(event == 1, time)
    expected = concordance_index_ipcw(y, y, external["lp"].to_numpy(), tau=tau)[0]
    assert uno_c(time, event, external["lp"], tau, limit="at") == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("horizon", [3, 5])
def test_time_auc_equals_riskregression_score(external, reference, horizon):
    time, event = outcome(external)
    ours = time_auc(time, event, external[f"risk_{horizon}"], horizon)
    assert ours == pytest.approx(reference("time_auc", horizon), abs=TOL)


def test_time_auc_at_own_time_equals_sksurv_cumulative_dynamic_auc(external):
    time, event = outcome(external)
    y = Surv.from_arrays(event == 1, time)
    for horizon in (3, 5):
        risk = external[f"risk_{horizon}"].to_numpy()
        expected = cumulative_dynamic_auc(y, y, risk, [horizon])[0][0]
        assert time_auc(time, event, risk, horizon, limit="at") == pytest.approx(expected, abs=TOL)


def test_hand_worked_harrell_c_with_ties():
    """Patients a-f. Comparable pairs (the earlier time is an event): a with b-f (5), c with d-f (3), d-f and e-f
    (a censoring at an event's time counts as later); d-e, two events at the same time, are not comparable: 10 pairs.
    Concordant (earlier event, higher risk): a with all 5, c-e; c-d tied risks (1/2); c-f, d-f, e-f discordant."""
    time = np.array([1, 2, 3, 5, 5, 5])
    event = np.array([1, 0, 1, 1, 1, 0])
    risk = np.array([4, 0, 2, 2, 1, 3])
    assert harrell_c(time, event, risk) == pytest.approx(6.5 / 10)


def test_heavily_tied_times_and_risks_equal_sksurv():
    """Integer times and five risk levels: most pairs tie in time, risk or both (the sweep's hardest case)."""
    rng = np.random.default_rng(3)
    time, event, risk = rng.integers(1, 8, 400).astype(float), rng.integers(0, 2, 400), rng.integers(0, 5, 400)
    event[time == 7] = 1  # censoring survival stays above zero (scikit-survival's IPCW needs it)
    y = Surv.from_arrays(event == 1, time)
    assert harrell_c(time, event, risk) == pytest.approx(concordance_index_censored(event == 1, time, risk)[0], abs=TOL)
    expected_uno = concordance_index_ipcw(y, y, risk.astype(float), tau=5.5)[0]
    assert uno_c(time, event, risk, 5.5, limit="at") == pytest.approx(expected_uno, abs=TOL)
    expected_auc = cumulative_dynamic_auc(y, y, risk.astype(float), [4.0])[0][0]
    assert time_auc(time, event, risk, 4.0, limit="at") == pytest.approx(expected_auc, abs=TOL)


def test_weights_equal_resampled_data(external, resampled):
    """Bootstrap counts as case weights give the estimator on the resampled data, replicate by replicate."""
    time, event = outcome(external)
    lp, risk = external["lp"].to_numpy(), external["risk_3"].to_numpy()
    rows, counts = resampled
    weighted = {
        "harrell": harrell_c(time, event, lp, counts),
        "uno": uno_c(time, event, lp, 5, counts),
        "auc": time_auc(time, event, risk, 3, counts),
    }
    for b, row in enumerate(rows):
        assert weighted["harrell"][b] == pytest.approx(harrell_c(time[row], event[row], lp[row]), abs=TOL)
        assert weighted["uno"][b] == pytest.approx(uno_c(time[row], event[row], lp[row], 5), abs=TOL)
        assert weighted["auc"][b] == pytest.approx(time_auc(time[row], event[row], risk[row], 3), abs=TOL)


def test_horizon_beyond_follow_up_gives_nan_not_an_error(external):
    time, event = outcome(external)
    assert np.isnan(time_auc(time, event, external["risk_5"], time.max() + 1))
    assert np.isnan(time_auc(time, event, external["risk_5"], 0.0))  # no case yet


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="one entry per patient"):
        harrell_c(np.ones(3), np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="event must be 0"):
        harrell_c(np.ones(3), np.array([0, 1, 2]), np.ones(3))
    with pytest.raises(ValueError, match="predictions must be finite"):
        harrell_c(np.ones(3), np.ones(3), np.array([1, np.nan, 2]))
    with pytest.raises(ValueError, match="weights must be non-negative"):
        harrell_c(np.ones(3), np.ones(3), np.ones(3), np.ones((2, 4)))
