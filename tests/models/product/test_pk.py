"""PK parameters against closed-form integrals of piecewise-linear profiles and hand-worked peaks."""

import numpy as np
import pytest
from scipy import integrate

from tmesurv.models.product.pk import AUC, PEAK, TIME_TO_PEAK, pk_parameters


def _one(days, levels, patient="p"):
    result = pk_parameters(np.full(len(days), patient), np.asarray(days, float), np.asarray(levels, float))
    return result.table.loc[patient], result


def test_auc_is_the_integral_of_a_piecewise_linear_profile():
    # (0,0)-(7,70)-(14,35)-(21,14)-(28,7): 245 + 367.5 + 171.5 + 73.5, each a trapezoid by hand
    row, _ = _one([0, 7, 14, 21, 28], [0, 70, 35, 14, 7])
    assert row[AUC] == pytest.approx(857.5, rel=1e-12, abs=0)


def test_a_segment_straddling_day_28_is_cut_at_its_interpolated_level():
    # the profile's segment 21 -> 35 has its kink-free level 7 at day 28; beyond 28 nothing counts, not even day 35
    row, _ = _one([0, 7, 14, 21, 35, 60], [0, 70, 35, 14, 0, 500])
    assert row[AUC] == pytest.approx(245 + 367.5 + 171.5 + (14 + 7) / 2 * 7, rel=1e-12, abs=0)
    assert (row[PEAK], row[TIME_TO_PEAK]) == (70, 7)  # the level of 500 on day 60 is outside the window


def test_random_piecewise_linear_profiles_match_quadrature():
    rng = np.random.default_rng(3)
    for _ in range(20):
        days = np.concatenate([[0.0], np.sort(rng.choice(np.arange(1, 45), size=8, replace=False))])
        if days.max() < 28:
            continue
        levels = np.concatenate([[0.0], rng.gamma(2.0, 20.0, size=8)])
        kinks = days[(days > 0) & (days < 28)]
        exact, _ = integrate.quad(lambda t, d=days, v=levels: np.interp(t, d, v), 0, 28, points=kinks, limit=200)
        row, _ = _one(days, levels)
        assert row[AUC] == pytest.approx(exact, rel=1e-12, abs=0)


def test_missing_day_0_is_level_0_and_said():
    row, result = _one([3, 7, 28], [30, 60, 60])
    assert row[AUC] == pytest.approx(3 * 30 / 2 + 4 * 90 / 2 + 21 * 60, rel=1e-12, abs=0)
    assert result.day0_assumed == ("p",)


def test_ties_give_the_first_day_at_the_peak():
    row, _ = _one([0, 7, 9, 14, 28], [0, 40, 40, 40, 1])
    assert (row[PEAK], row[TIME_TO_PEAK]) == (40, 7)


def test_a_series_ending_before_day_28_has_no_auc_and_is_listed():
    row, result = _one([0, 7, 14, 21], [0, 70, 35, 14])
    assert np.isnan(row[AUC])
    assert (row[PEAK], row[TIME_TO_PEAK]) == (70, 7)
    assert result.truncated == ("p",)


def test_patients_are_computed_together_in_any_row_order():
    ids = np.array(["b", "a", "b", "a", "b", "a"])
    days = np.array([28, 0, 0, 10, 10, 28], float)
    levels = np.array([0, 0, 0, 20, 10, 20], float)
    table = pk_parameters(ids, days, levels).table
    assert table.loc["a", AUC] == pytest.approx(100 + 360, rel=1e-12)  # 10 x 20 / 2 + 18 x 20
    assert table.loc["b", AUC] == pytest.approx(50 + 90, rel=1e-12)  # 10 x 10 / 2 + 18 x 10 / 2
    assert list(table.index) == ["a", "b"]
