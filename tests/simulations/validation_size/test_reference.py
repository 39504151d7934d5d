"""A target population resampled from a reference cohort: the smoothed bootstrap keeps the case mix; bad files named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.errors import InputError
from tmesurv.simulations.power.run import run_power_study
from tmesurv.simulations.power.study import load_power_study
from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial
from tmesurv.simulations.validation_size.model import build_population, load_model
from tmesurv.simulations.validation_size.reference import bandwidth, smoothed_bootstrap

from .conftest import write_study

TERMS = ["b_cell_ges", "sii", "ldh_elevated"]


def test_bandwidth_is_silvermans_rule_as_r_bw_nrd0():
    values = np.random.default_rng(1).lognormal(size=250)
    sd = values.std(ddof=1)
    iqr = np.subtract(*np.quantile(values, [0.75, 0.25]))  # R's IQR(): quantile type 7, numpy's default
    assert bandwidth(values) == pytest.approx(0.9 * min(sd, iqr / 1.34) * 250 ** (-0.2), rel=1e-14)


def test_smoothed_bootstrap_keeps_the_mean_and_variance_and_makes_new_values():
    """E[resample] = the cohort's mean and Var[resample] = its variance (divisor m) exactly, by construction; checked
    on 400,000 draws within 4 Monte Carlo standard errors."""
    rng = np.random.default_rng(2)
    values = rng.gamma(2.0, size=300)
    size = 400_000
    rows, noise = rng.integers(0, values.size, size), rng.standard_normal(size)
    resampled = smoothed_bootstrap(values, rows, noise)
    mean, variance = values.mean(), values.var()
    assert abs(resampled.mean() - mean) < 4 * np.sqrt(variance / size)
    fourth = np.mean((resampled - resampled.mean()) ** 4)
    assert abs(resampled.var() - variance) < 4 * np.sqrt((fourth - variance**2) / size)
    assert np.isin(resampled, values).mean() < 1e-3  # new patients, not copies
    unsmoothed = values[rows]
    assert np.corrcoef(resampled, unsmoothed)[0, 1] > 0.95  # ... near the drawn ones


@pytest.mark.parametrize("column", [np.array([0.0, 1.0, 1.0, 0.0, 1.0]), np.array([1.0, 2.0, 3.0, 2.0, 4.0])])
def test_discrete_terms_are_resampled_as_they_are(column):
    rng = np.random.default_rng(3)
    rows = rng.integers(0, column.size, 1000)
    np.testing.assert_array_equal(smoothed_bootstrap(column, rows, rng.standard_normal(1000)), column[rows])


def reference_cohort(folder, missing: int = 0, **replace) -> pd.DataFrame:
    """A simulated ZUMA-7-like trial's terms and arm as a reference cohort CSV in ``folder``."""
    frame = simulate_trial(load_scenario("zuma7"), 11).to_frame()[[*TERMS, "arm"]].copy()
    frame.loc[: missing - 1, "sii"] = np.nan
    for column, value in replace.items():
        frame[column] = frame[column].astype(object)
        frame.loc[4, column] = value
    frame.to_csv(folder / "reference.csv", index=False)
    return frame


def population_study(tmp_path, **population):
    source = {"file": "reference.csv", "arm": "arm", "treated": "axi-cel", "size": 5000} | population
    return load_power_study(write_study(tmp_path, population=source, grid={"n": [300]}, replicates=20))


def test_reference_population_keeps_arms_and_case_mix_and_counts_exclusions(tmp_path):
    frame = reference_cohort(tmp_path, missing=7)
    study = population_study(tmp_path)
    population = build_population(study, load_model(study))
    assert len(population) == 5000
    complete = frame.dropna()
    assert population.treated.mean() == pytest.approx((complete["arm"] == "axi-cel").mean(), abs=0.03)
    for term in ("b_cell_ges", "sii"):
        reference = complete[term].to_numpy()
        assert population.terms[term].mean() == pytest.approx(reference.mean(), abs=4 * reference.std() / 70)
        assert population.terms[term].std() == pytest.approx(reference.std(), rel=0.06)
    assert set(np.unique(population.terms["ldh_elevated"])) <= {0.0, 1.0}
    excluded = len(frame) - len(complete)  # the 7 emptied here and the trial's own missing values
    assert excluded > 7
    expected = f"reference cohort reference.csv: {len(complete)} of {len(frame)} patients; {excluded} excluded ("
    assert population.description.startswith(expected)
    named = [term for term in TERMS if f"missing {term}" in population.description]
    assert named == [term for term in TERMS if frame[term].isna().any()]


def test_a_study_on_a_reference_cohort_runs_and_its_hash_follows_the_file(tmp_path):
    reference_cohort(tmp_path)
    study = population_study(tmp_path)
    result = run_power_study(study, tmp_path / "out", workers=1, figure=False)
    assert result.dataset.attrs["population"].startswith("reference cohort reference.csv")
    assert np.isfinite(result.dataset["mean_estimate"].sel(metric="harrell_c")).all()
    reference_cohort(tmp_path, missing=1)
    assert load_power_study(study.path).digest != study.digest
    unchanged = load_power_study(write_study(tmp_path / "plain", grid={"n": [300]}, replicates=20))
    assert "population_file_sha256" not in unchanged.content()


@pytest.mark.parametrize(
    ("replace", "population", "named"),
    [
        ({"sii": "high"}, {}, "reference.csv: column 'sii', data row 5 (line 6 of the file): value 'high' is not"),
        ({}, {"arm": "group"}, "reference.csv: column(s) group not found"),
        ({"arm": "Placebo"}, {}, "reference.csv: column 'arm' must hold the treated value 'axi-cel' and one control"),
        ({}, {"treated": 1}, "column 'arm' must hold the treated value '1'"),
    ],
)
def test_a_bad_reference_cohort_is_named_exit_2_before_any_computation(tmp_path, replace, population, named):
    reference_cohort(tmp_path, **replace)
    study = population_study(tmp_path, **population)
    result = CliRunner().invoke(app, ["power", str(study.path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split())
    assert not list((tmp_path / "out").rglob("*.npz"))


def test_arm_without_treated_is_refused(tmp_path):
    reference_cohort(tmp_path)
    with pytest.raises(InputError, match="give both 'arm'"):
        population_study(tmp_path, treated=None)
