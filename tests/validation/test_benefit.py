"""Benefit by quantile group (R survfit per arm), c-for-benefit (R: the same matching and Hmisc::rcorr.cens, and a
hand-worked example) and the replication of the treatment-by-marker interaction (R coxph)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tmesurv.validation.benefit import benefit_by_group, interaction_replication
from tmesurv.validation.benefit_matching import c_for_benefit

REFERENCE = Path(__file__).parents[1] / "reference"
TOL = 1e-10


def arms(external, horizon):
    return (
        external["time"].to_numpy(),
        external["event"].to_numpy(),
        external["treated"].to_numpy(),
        external[f"risk_control_{horizon}"].to_numpy(),
        external[f"risk_treated_{horizon}"].to_numpy(),
    )


@pytest.mark.parametrize("horizon", [3, 5])
def test_benefit_by_group_equals_r_survfit_per_arm(external, horizon):
    ours = benefit_by_group(*arms(external, horizon), horizon)
    expected = pd.read_csv(REFERENCE / "validation_benefit_groups.csv").query("horizon == @horizon")
    assert ours["group"].tolist() == expected["group"].tolist()
    assert ours["n"].tolist() == expected["n"].tolist()
    assert ours["events"].tolist() == expected["events"].tolist()
    np.testing.assert_allclose(ours["predicted"], expected["predicted"], atol=TOL, rtol=0)
    np.testing.assert_allclose(ours["observed"], expected["observed"], atol=TOL, rtol=0)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(ours["upper"] - ours["observed"], z * expected["se"].to_numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(ours["observed"] - ours["lower"], z * expected["se"].to_numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize("horizon", [3, 5])
def test_c_for_benefit_equals_r_rcorr_cens_on_matched_pairs(external, reference, horizon):
    assert c_for_benefit(*arms(external, horizon), horizon) == pytest.approx(
        reference("c_for_benefit", horizon), abs=TOL
    )


def test_hand_worked_c_for_benefit():
    """Horizon 5. Controls (benefit, time, event): c1 (.10, 2, 1), c2 (.30, 4.5, 1), c3 (.20, 3, 0: censored before
    5, left out), c4 (.40, 8, 0), c5 (.05, 6, 1: event after 5, outcome 0). Treated: t1 (.15, 1, 1), t2 (.35, 7, 0),
    t3 (.25, 9, 1: outcome 0).
    Ranked controls c5 c1 c2 c4 (m = 4), treated t1 t3 t2 (m = 3): the treated k-th matches control
    floor((k + 1/2) 4/3) = 0, 2, 3: pairs (t1, c5), (t3, c2), (t2, c4), c1 unmatched.
    Pair predicted benefit .10, .275, .375; observed y_control - y_treated = -1, 1, 0.
    Pairs of pairs with different observed benefit: (1st, 2nd) and (1st, 3rd) concordant, (2nd, 3rd) discordant."""
    benefit = np.array([0.10, 0.30, 0.20, 0.40, 0.05, 0.15, 0.35, 0.25])
    time = np.array([2, 4.5, 3, 8, 6, 1, 7, 9])
    event = np.array([1, 1, 0, 0, 1, 1, 0, 1])
    treated = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    risk_treated = np.full(8, 0.5)
    assert c_for_benefit(time, event, treated, risk_treated + benefit, risk_treated, 5.0) == pytest.approx(2 / 3)


def test_c_for_benefit_weights_equal_resampled_data(external):
    time, event, treated, control, treated_risk = arms(external, 5)
    rng = np.random.default_rng(3)
    rows = rng.integers(0, time.size, (3, time.size))
    counts = np.stack([np.bincount(row, minlength=time.size) for row in rows])
    weighted = c_for_benefit(time, event, treated, control, treated_risk, 5, counts)
    for b, row in enumerate(rows):
        plain = c_for_benefit(time[row], event[row], treated[row], control[row], treated_risk[row], 5)
        assert weighted[b] == pytest.approx(plain, abs=TOL)


def test_interaction_replication_equals_r_coxph(external, reference):
    rows = interaction_replication(
        external["time"],
        external["event"],
        external["treated"],
        np.log1p(external["pgr"]),
        reference("interaction_coef_model"),
        reference("interaction_se_model"),
    )
    by_metric = {row["metric"]: row for row in rows}
    coef, se = reference("interaction_coef_external"), reference("interaction_se_external")
    z = stats.norm.ppf(0.975)
    external_row = by_metric["interaction_hr_external"]
    assert np.log(external_row["estimate"]) == pytest.approx(coef, abs=1e-6)
    assert np.log(external_row["upper"]) - np.log(external_row["lower"]) == pytest.approx(2 * z * se, abs=1e-6)
    ratio = by_metric["interaction_hr_ratio"]
    assert np.log(ratio["estimate"]) == pytest.approx(coef - reference("interaction_coef_model"), abs=1e-6)
    spread = 2 * z * np.hypot(se, reference("interaction_se_model"))
    assert np.log(ratio["upper"]) - np.log(ratio["lower"]) == pytest.approx(spread, abs=1e-6)


def test_horizon_beyond_follow_up_gives_nan_and_a_note(external):
    late = external["time"].max() + 1
    assert np.isnan(c_for_benefit(*arms(external, 5), late))
    groups = benefit_by_group(*arms(external, 5), late)
    assert groups["observed"].isna().all()
    assert groups["note"].str.contains("not followed beyond").all()


def test_arms_are_checked(external):
    time, event, treated, control, treated_risk = arms(external, 5)
    with pytest.raises(ValueError, match="1 \\(treatment\\) or 0"):
        c_for_benefit(time, event, treated * 2, control, treated_risk, 5)
    with pytest.raises(ValueError, match="both arms"):
        benefit_by_group(time, event, np.zeros_like(treated), control, treated_risk, 5)
