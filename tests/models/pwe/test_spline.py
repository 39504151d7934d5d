"""Treatment-HR curve over a continuous biomarker (spline interaction)."""

import arviz as az
import numpy as np
import pytest
from sklearn.preprocessing import SplineTransformer

from tmesurv.errors import InputError
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings
from tmesurv.models.pwe.spline import CURVE_COLUMNS, curve_table, fit_hr_curve, spline_design


def basis_of(values, knots=4):
    return SplineTransformer(n_knots=knots, degree=3, knots="quantile", extrapolation="linear", include_bias=False).fit(
        values[:, None]
    )


def test_spline_design_columns():
    values = np.linspace(-2, 2, 40)
    arm = (np.arange(40) % 2).astype(float)
    design = spline_design(basis_of(values), arm, values, "cd19")
    splines = [f"cd19_s{j}" for j in range(1, 6)]  # 4 knots + degree 3 - 1 - the dropped constant
    assert list(design.columns) == ["arm", *splines, *(f"arm:{name}" for name in splines)]
    np.testing.assert_allclose(design[[f"arm:{name}" for name in splines]], design[splines].to_numpy() * arm[:, None])


def test_curve_from_a_point_mass_posterior():
    values = np.linspace(-2, 2, 40)
    basis = basis_of(values)
    terms = ["arm", *(f"cd19_s{j}" for j in range(1, 6)), *(f"arm:cd19_s{j}" for j in range(1, 6))]
    coef = np.zeros(len(terms))
    coef[0], coef[6:] = -0.4, [0.1, -0.2, 0.3, 0.0, 0.5]
    idata = az.from_dict(
        posterior={"coef": np.broadcast_to(coef, (2, 10, len(terms)))},
        coords={"term": terms},
        dims={"coef": ["term"]},
    )
    grid = np.array([-1.5, 0.0, 0.7])
    table = curve_table(idata, basis, grid, "cd19")
    expected = np.exp(-0.4 + basis.transform(grid[:, None]) @ coef[6:])
    assert list(table.columns) == CURVE_COLUMNS
    np.testing.assert_allclose(table["hr"], expected, rtol=1e-12)
    np.testing.assert_allclose(table["lower"], expected, rtol=1e-12)
    np.testing.assert_allclose(table["upper"], expected, rtol=1e-12)
    np.testing.assert_array_equal(table["prob_hr_below_1"], (expected < 1).astype(float))


def test_too_few_distinct_values_is_an_input_error():
    values = np.tile([0.0, 1.0, 2.0], 10)
    with pytest.raises(InputError, match="too few for a spline"):
        fit_hr_curve(np.ones(30), np.ones(30), np.arange(30) % 2, values, PweSettings(), SamplerSettings(), knots=4)


TRUE_ARM, TRUE_SLOPE = -0.5, -0.4  # treatment log HR = -0.5 - 0.4 x


def simulate(seed: int, n: int = 800) -> tuple[np.ndarray, ...]:
    """Exponential hazard 0.05 / month; a skewed biomarker (log-normal) with a main effect and a linear interaction."""
    rng = np.random.default_rng(seed)
    arm = (np.arange(n) % 2).astype(float)
    x = rng.lognormal(0.0, 0.5, n)
    eta = 0.3 * x + arm * (TRUE_ARM + TRUE_SLOPE * x)
    event_time = rng.exponential(size=n) / (0.05 * np.exp(eta))
    censor = rng.uniform(12, 48, n)
    x[:7] = np.nan  # seven patients without the biomarker
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), arm, x


@pytest.mark.slow
@pytest.mark.sampling
def test_band_covers_a_linear_interaction():
    time, event, arm, x = simulate(17)
    sampler = SamplerSettings(draws=500, tune=500, chains=2, seed=5)
    curve = fit_hr_curve(time, event, arm, x, PweSettings(intervals=4), sampler, knots=4, biomarker="marker")
    table = curve.table
    print(table.iloc[::7].to_string(), table.attrs)
    assert table.attrs["excluded"] == 7
    assert curve.excluded == 7
    assert table.attrs["n"] == 793
    central = table[table["value"].between(*np.nanquantile(x, [0.05, 0.95]))]
    assert len(central) >= 40
    truth = np.exp(TRUE_ARM + TRUE_SLOPE * central["value"])
    assert ((central["lower"] <= truth) & (truth <= central["upper"])).all()
    # informative: the band is narrower than a factor of 3 in the middle, and the HR falls with the biomarker
    middle = central.iloc[len(central) // 2]
    assert middle["upper"] / middle["lower"] < 3
    assert central["hr"].iloc[-1] < central["hr"].iloc[0]
