"""A model with one binary term predicts two risks: no smoothed calibration curve (NaN with a note), no crash."""

import numpy as np

from tmesurv.validation.calibration import calibration_curve
from tmesurv.validation.score import ExternalPredictions, validation_table


def two_risk_cohort(n: int = 200):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 2, n).astype(float)
    event_time, censoring = rng.exponential(10 * np.exp(-0.5 * x)), rng.uniform(5, 40, n)
    risk = 1 - np.exp(-6 / 10 * np.exp(0.5 * x))
    return np.minimum(event_time, censoring), (event_time <= censoring).astype(float), 0.5 * x, risk


def test_curve_is_nan_when_the_knots_coincide():
    time, event, _, risk = two_risk_cohort()
    curve = calibration_curve(time, event, risk, 6.0, weights=np.ones((3, time.size)))
    assert np.isnan(curve.ici).all()
    assert np.isnan(curve.observed).all()


def test_curve_rows_say_why_and_other_metrics_are_kept():
    time, event, lp, risk = two_risk_cohort()
    table = validation_table(ExternalPredictions(time, event, lp, {6.0: risk}), n_boot=10, seed=1)
    rows = table.set_index("metric")
    for metric in ("ici", "e50", "e90"):
        assert np.isnan(rows.loc[metric, "estimate"])
        assert rows.loc[metric, "note"].startswith("no smoothed calibration curve: too few distinct predicted risks")
    assert np.isfinite(rows.loc["brier", "estimate"])
    assert rows.loc["brier", "note"] == ""
