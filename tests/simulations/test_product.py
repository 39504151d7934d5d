from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tmesurv.simulations.product import ProductSpec, generate_product

PUBLISHED = {"peak_car_t": (8.2, 25.8, 57.9), "auc_0_28": (76.4, 236.2, 758.0), "time_to_peak_days": (8, 8, 9)}
COLUMNS = {"ccr7_cd45ra_fraction", "peak_car_t", "time_to_peak_days", "auc_0_28", "grade3_ne", "grade3_crs"}


def arms(rng: np.random.Generator, n: int, orr: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
    treated = (np.arange(n) % 2 == 0).astype(int)
    return treated, (rng.random(n) < np.where(treated == 1, orr, 0.5)).astype(int)


@pytest.fixture(scope="module")
def large() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(20240607)
    treated, responder = arms(rng, 50_000)
    return treated, responder, generate_product(rng, treated, responder, ProductSpec())


def test_same_seed_same_arrays() -> None:
    treated, responder = arms(np.random.default_rng(1), 359)
    a = generate_product(np.random.default_rng(7), treated, responder, ProductSpec())
    b = generate_product(np.random.default_rng(7), treated, responder, ProductSpec())
    assert a.keys() == b.keys() == COLUMNS
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_control_is_missing_and_treated_is_valid(large) -> None:
    treated, _, out = large
    for key, values in out.items():
        assert np.all(np.isnan(values[treated == 0])), key
        assert not np.any(np.isnan(values[treated == 1])), key
    fraction = out["ccr7_cd45ra_fraction"][treated == 1]
    assert np.all((fraction > 0) & (fraction < 1))
    assert np.all(out["peak_car_t"][treated == 1] > 0)
    assert set(np.unique(out["time_to_peak_days"][treated == 1])) <= set(ProductSpec().time_to_peak_days)
    for key in ("grade3_ne", "grade3_crs"):
        assert set(np.unique(out[key][treated == 1])) == {0.0, 1.0}


@pytest.mark.parametrize("column", sorted(PUBLISHED))
def test_quartiles_match_published(large, column: str) -> None:
    treated, _, out = large
    observed = np.percentile(out[column][treated == 1], [25, 50, 75], method="inverted_cdf")
    np.testing.assert_allclose(observed, PUBLISHED[column], rtol=0.10)


def test_expansion_higher_in_responders(large) -> None:
    treated, responder, out = large
    for key in ("peak_car_t", "auc_0_28"):
        values = out[key][treated == 1]
        assert np.median(values[responder[treated == 1] == 1]) > np.median(values[responder[treated == 1] == 0])


def test_peak_and_auc_strongly_correlated(large) -> None:
    treated, _, out = large
    logs = np.log([out["peak_car_t"][treated == 1], out["auc_0_28"][treated == 1]])
    assert np.corrcoef(logs)[0, 1] > 0.8


def test_neurologic_events_follow_ccr7_negative_product_and_peak(large) -> None:
    treated, _, out = large
    fraction, ne = out["ccr7_cd45ra_fraction"][treated == 1], out["grade3_ne"][treated == 1]
    ccr7_negative_high = fraction < np.median(fraction)  # CCR7-negative share above its median
    assert ne[ccr7_negative_high].mean() == pytest.approx(0.30, abs=0.03)
    assert ne[~ccr7_negative_high].mean() == pytest.approx(0.10, abs=0.03)
    peak = out["peak_car_t"][treated == 1]
    assert np.median(peak[ne == 1]) > np.median(peak[ne == 0])


def test_crs_rate(large) -> None:
    treated, _, out = large
    assert out["grade3_crs"][treated == 1].mean() == pytest.approx(0.06, abs=0.015)


def test_quartiles_hold_when_response_rate_changes() -> None:
    rng = np.random.default_rng(11)
    treated, responder = arms(rng, 50_000, orr=0.5)
    out = generate_product(rng, treated, responder, ProductSpec())
    observed = np.percentile(out["peak_car_t"][treated == 1], [25, 50, 75])
    np.testing.assert_allclose(observed, PUBLISHED["peak_car_t"], rtol=0.10)


def test_bad_probability_names_the_field() -> None:
    with pytest.raises(ValidationError, match="ccr7_cd45ra_median"):
        ProductSpec(ccr7_cd45ra_median=1.3)
    with pytest.raises(ValidationError, match="time_to_peak_probabilities"):
        ProductSpec(time_to_peak_probabilities=(1.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))


def test_unordered_quartiles_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"peak_car_t(.|\n)*ordered q1 < median < q3"):
        ProductSpec.model_validate({"peak_car_t": {"q1": 30.0, "median": 25.8, "q3": 57.9}})


def test_correlations_must_be_positive_definite() -> None:
    with pytest.raises(ValidationError, match="positive-definite"):
        ProductSpec(peak_auc_correlation=0.9, peak_ccr7_correlation=0.9, auc_ccr7_correlation=-0.9)


def test_time_to_peak_must_sum_to_one() -> None:
    with pytest.raises(ValidationError, match="sum to 1"):
        ProductSpec(time_to_peak_probabilities=(0.5, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0))
