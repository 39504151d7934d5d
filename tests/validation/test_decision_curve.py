"""Decision curves: net benefit by predicted benefit against a direct R computation; edge cases by hand.

The net benefit by predicted risk is checked on the STRATOS case in ``test_stratos.py``. The benefit reference is
written by ``tests/reference/benefit_decision_curve.R`` (regenerate with ``Rscript
tests/reference/benefit_decision_curve.R`` from the repository root).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.validation.decision_curve import DECISION_COLUMNS, benefit_net_benefit, net_benefit

REFERENCE = Path(__file__).parents[1] / "reference"


@pytest.mark.parametrize("horizon", [3, 5])
def test_net_benefit_by_predicted_benefit_equals_r(horizon):
    external = pd.read_csv(REFERENCE / "validation_external.csv")
    reference = pd.read_csv(REFERENCE / "validation_benefit_net_benefit.csv")
    reference = reference[reference["horizon"] == horizon]
    benefit = external[f"risk_control_{horizon}"] - external[f"risk_treated_{horizon}"]
    curve = benefit_net_benefit(external["time"], external["event"], external["treated"], benefit, horizon)
    assert curve.columns.tolist() == DECISION_COLUMNS
    assert (curve["decision"] == "benefit").all()
    np.testing.assert_allclose(curve["threshold"], reference["threshold"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve["net_benefit"], reference["net_benefit"], rtol=0, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(curve["treat_all"], reference["treat_all"], rtol=0, atol=1e-12)
    assert (curve["net_benefit"].iloc[-1], curve["treat_none"].iloc[0]) == (0.0, 0.0)  # nobody above 0.99: treat none


def test_net_benefit_by_hand():
    """Four patients; by 1.2 one event (at 1) among the two above 0.5 and among all four."""
    time, event = np.array([1.0, 1.5, 3.0, 3.0]), np.array([1, 0, 0, 1])
    risk = np.array([0.9, 0.6, 0.2, 0.1])
    curve = net_benefit(time, event, risk, 1.2, thresholds=np.array([0.5, 0.95]))
    # above 0.5: patients 1 and 2, Kaplan-Meier risk by 1.2 = 1/2; share 1/2
    assert curve["net_benefit"].iloc[0] == pytest.approx(0.5 * (0.5 - 0.5 * 1.0))
    assert curve["net_benefit"].iloc[1] == 0.0  # nobody above 0.95
    everyone = 1 / 4  # Kaplan-Meier risk by 1.2: one event among 4 at risk
    assert curve["treat_all"].iloc[0] == pytest.approx(everyone - (1 - everyone) * 1.0)
    above_not_followed = net_benefit(time, event, risk, 2.0, thresholds=np.array([0.5]))
    assert np.isnan(above_not_followed["net_benefit"].iloc[0])  # patients 1 and 2 are not followed to 2
