"""The power harness's standard normal distribution function and quantile against SciPy's ndtr and ndtri."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import special

from tmesurv.simulations.power.methods import two_sided_p
from tmesurv.simulations.power.normal import normal_cdf, normal_quantile


def test_distribution_function_equals_scipy_ndtr_into_the_far_tails():
    x = np.linspace(-37.0, 8.0, 20_001)
    central = np.abs(x) < 10
    np.testing.assert_allclose(normal_cdf(x)[central], special.ndtr(x[central]), rtol=1e-13, atol=0)
    np.testing.assert_allclose(normal_cdf(x), special.ndtr(x), rtol=1e-12, atol=0)


def test_distribution_function_keeps_shape_nan_and_infinities():
    values = np.array([[np.nan, -np.inf], [np.inf, 0.0]])
    result = normal_cdf(values)
    assert result.shape == (2, 2)
    assert result.dtype == float
    assert np.isnan(result[0, 0])
    assert result[0, 1] == 0.0
    assert result[1].tolist() == [1.0, 0.5]


def test_quantile_equals_scipy_ndtri():
    probabilities = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 2_001), [1e-300, 1e-20, 0.8, 0.975, 0.995]])
    quantiles = np.array([normal_quantile(p) for p in probabilities])
    np.testing.assert_allclose(quantiles, special.ndtri(probabilities), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("probability", [0.0, 1.0, -0.1, float("nan")])
def test_quantile_refuses_probabilities_outside_the_open_unit_interval(probability):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        normal_quantile(probability)


def test_two_sided_p_is_twice_the_normal_tail_of_the_wald_statistic():
    rng = np.random.default_rng(3)
    coef, se = rng.normal(0, 2, 500), rng.uniform(0.05, 1, 500)
    coef[[0, 1]] = np.nan, 0.0
    p = two_sided_p(coef, se)
    assert np.isnan(p[0])
    assert p[1] == 1.0
    np.testing.assert_allclose(p[1:], 2 * special.ndtr(-np.abs(coef[1:] / se[1:])), rtol=1e-12, atol=0)


def test_a_binary_biomarker_study_does_not_import_scipy_special(tmp_path):
    """The point of the module: a small study's run (here one chunk of one setting) without SciPy's special."""
    script = (
        "import sys\n"
        "from tmesurv.simulations.power.chunks import run_chunk\n"
        "from tmesurv.simulations.power.study import load_power_study\n"
        f"study = load_power_study({str(tmp_path / 'study.yaml')!r})\n"
        "run_chunk(study, 0, 0)\n"
        "print('scipy.special' in sys.modules)\n"
    )
    (tmp_path / "study.yaml").write_text(
        "name: binary\nscenario: zuma7\nseed: 1\nreplicates: 20\nchunk_size: 20\n"
        "grid: {n: [100], interaction_hr: [0.6]}\n"
        "methods: [cox_interaction, cox_interaction_stratified, median_split]\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
