"""Resampling counts, percentile intervals and the row format; the coverage of the intervals on a known case."""

import math

import numpy as np
import pytest

from tmesurv.validation.bootstrap import (
    VALIDATION_COLUMNS,
    counts_to_indices,
    metric_row,
    percentile_interval,
    resample_counts,
    with_estimate,
)
from tmesurv.validation.calibration import observed_risk


def test_same_seed_same_counts_and_rows_sum_to_n():
    first, again, other = resample_counts(50, 20, 7), resample_counts(50, 20, 7), resample_counts(50, 20, 8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.shape == (20, 50)
    assert (first.sum(axis=1) == 50).all()


def test_strata_keep_their_sizes():
    strata = np.array([0] * 30 + [1] * 20)
    counts = resample_counts(50, 100, 1, strata)
    assert (counts[:, :30].sum(axis=1) == 30).all()
    assert (counts[:, 30:].sum(axis=1) == 20).all()


def test_counts_to_indices_round_trip():
    counts = resample_counts(40, 5, 2)
    indices = counts_to_indices(counts)
    assert indices.shape == (5, 40)
    np.testing.assert_array_equal(np.stack([np.bincount(row, minlength=40) for row in indices]), counts)
    with pytest.raises(ValueError, match="same total"):
        counts_to_indices(np.array([[1, 1], [2, 1]]))


def test_with_estimate_puts_the_estimate_first():
    weights = with_estimate(3, np.array([[0, 1, 2]]))
    np.testing.assert_array_equal(weights, [[1, 1, 1], [0, 1, 2]])
    assert with_estimate(3, None).shape == (1, 3)


def test_percentile_interval_leaves_out_undefined_replicates():
    lower, upper, undefined = percentile_interval(np.r_[np.arange(101.0), np.nan], alpha=0.1)
    assert (lower, upper, undefined) == (5.0, 95.0, 1)
    assert math.isnan(percentile_interval(np.array([np.nan]))[0])


def test_metric_row_format():
    row = metric_row("harrell_c", np.r_[0.7, np.linspace(0.6, 0.8, 41), np.nan], n=10, events=4)
    assert list(row) == VALIDATION_COLUMNS
    assert row["estimate"] == 0.7
    assert row["lower"] == pytest.approx(0.605)
    assert row["upper"] == pytest.approx(0.795)
    assert row["note"] == "1 of 42 bootstrap replicates undefined"
    assert math.isnan(metric_row("x", 1.0, n=1, events=0)["lower"])


def test_percentile_interval_of_the_km_risk_covers_at_the_nominal_rate():
    """Exponential event times (rate 1) with uniform censoring: the true risk by 0.7 is 1 - exp(-0.7). 200 cohorts of
    150, 300 replicates each (one vectorised call per cohort): the 95% intervals should cover about 95% of the time
    (binomial sd 1.5%)."""
    rng = np.random.default_rng(20240601)
    truth, covered, n_cohorts = 1 - math.exp(-0.7), 0, 200
    for _ in range(n_cohorts):
        event_time, censor_time = rng.exponential(1.0, 150), rng.uniform(0, 3, 150)
        time, event = np.minimum(event_time, censor_time), (event_time <= censor_time).astype(float)
        replicates = observed_risk(time, event, 0.7, resample_counts(150, 300, rng))
        lower, upper, _ = percentile_interval(replicates)
        covered += lower <= truth <= upper
    assert 0.90 <= covered / n_cohorts <= 0.99
