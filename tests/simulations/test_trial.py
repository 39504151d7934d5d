"""The ZUMA-7-like trial simulator: determinism, batches vs single cohorts, round trip and effect recovery."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.config import load_config
from tmesurv.readers import read_cohort
from tmesurv.simulations.calibration import LOG_SCALE_TARGETS, STATISTICS, calibrate
from tmesurv.simulations.scenario import CalibrationTarget, load_scenario
from tmesurv.simulations.trial import CHUNK, SimulatedTrial, simulate_trial, simulate_trials

# One of each kind of statistic (KM, shares, Spearman, a log-scale HR, counts, quantiles, rates); efs_hr is left out
# as its stratified Cox fit is slow and adds nothing the within-arm HR does not check.
BATCH_CHECKED_TARGETS = (
    "efs_median_treated",
    "orr_control",
    "spd_ldh_spearman",
    "ldh_elevated_hr_control",
    "expression_available",
    "peak_car_t_q3",
    "grade3_ne_ccr7_negative_above_median",
)


@pytest.fixture(scope="module")
def zuma7():
    return load_scenario("zuma7")


def test_same_seed_same_bytes(tmp_path: Path):
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(app, ["simulate", "zuma7", "--seed", "4", "--out", str(tmp_path / f"{name}.csv")])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    runner.invoke(app, ["simulate", "zuma7", "--seed", "5", "--out", str(tmp_path / "c.csv")])
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def _assert_same_trial(first: SimulatedTrial, second: SimulatedTrial) -> None:
    """Bit-for-bit equality of every column (dtype, values, NaN and None patterns), the latent values and genes."""
    assert list(first.columns) == list(second.columns)
    for name, values in first.columns.items():
        other = second.columns[name]
        assert values.dtype == other.dtype, name
        if values.dtype.kind == "f":
            np.testing.assert_array_equal(np.isnan(values), np.isnan(other), err_msg=name)
            assert np.array_equal(values, other, equal_nan=True), name
        else:
            assert values.tolist() == other.tolist(), name  # object columns: labels and None
    assert first.latent.keys() == second.latent.keys()
    for key, values in first.latent.items():
        assert np.array_equal(values, second.latent[key]), key
    if first.genes is None:
        assert second.genes is None
    else:
        pd.testing.assert_frame_equal(first.genes, second.genes, check_exact=True)


@pytest.fixture(scope="module")
def with_genes(zuma7):
    return zuma7.model_copy(update={"biomarkers": zuma7.biomarkers.model_copy(update={"genes": True})})


def test_a_replicate_is_the_same_alone_or_in_a_batch(with_genes):
    """Batches spanning several chunks, in any order and with repeats, hold exactly the cohorts made alone."""
    replicates = [CHUNK + 2, 3, 0, CHUNK - 1, CHUNK, 2 * CHUNK + 1, 3, 17]
    shuffled = simulate_trials(with_genes, seed=9, replicates=replicates)
    ordered = simulate_trials(with_genes, seed=9, replicates=range(2 * CHUNK + 2))
    np.testing.assert_array_equal(shuffled.replicates, replicates)
    for index, replicate in enumerate(replicates):
        alone = simulate_trial(with_genes, seed=9, replicate=replicate)
        _assert_same_trial(alone, shuffled.trial(index))
        _assert_same_trial(alone, ordered.trial(replicate))
    pd.testing.assert_frame_equal(shuffled.trial(1).to_frame(), simulate_trial(with_genes, 9, 3).to_frame())
    assert not shuffled.trial(0).to_frame().equals(shuffled.trial(1).to_frame())


def test_batches_are_deterministic_and_seeded(zuma7):
    first, second = (simulate_trials(zuma7, seed=4, replicates=range(5)) for _ in range(2))
    other_seed = simulate_trials(zuma7, seed=5, replicates=range(5))
    for name in first.names:
        np.testing.assert_array_equal(first.column(name), second.column(name))
    assert not np.array_equal(first.column("efs_time"), other_seed.column("efs_time"))
    assert len({row.tobytes() for row in first.column("efs_time")}) == 5  # replicates differ from each other


def test_batch_columns_are_replicate_by_patient_arrays(zuma7):
    batch = simulate_trials(zuma7, seed=3, replicates=range(4))
    trial = batch.trial(2)
    assert len(batch) == 4
    assert batch.names == tuple(trial.columns)
    assert all(batch.column(name).shape == (4, 359) for name in batch.names)
    pd.testing.assert_frame_equal(pd.DataFrame({name: batch.column(name)[2] for name in batch.names}), trial.to_frame())
    assert (batch.treated.sum(axis=1) == 180).all()
    np.testing.assert_array_equal(batch.column("arm") == "axi-cel", batch.treated)
    codes, levels = batch.codes("cell_of_origin")
    assert codes.shape == (4, 359)
    assert levels.tolist() == ["GCB", "non-GCB", None]
    np.testing.assert_array_equal(batch.latent["spd"][2], trial.latent["spd"])
    assert [t.columns["efs_time"].tolist() for t in batch] == batch.column("efs_time").tolist()


def test_batch_rejects_unknown_columns_and_bad_replicates(zuma7):
    batch = simulate_trials(zuma7, seed=3, replicates=[1])
    with pytest.raises(KeyError, match="'tmb' is not an export column; columns: subject_id, arm"):
        batch.column("tmb")
    with pytest.raises(KeyError, match=r"'efs_time' is a numeric column: use column\(\); text columns: subject_id"):
        batch.codes("efs_time")
    with pytest.raises(KeyError, match="'tmb' is not an export column; text columns: subject_id"):
        batch.codes("tmb")
    for replicates in ([], [-1], [[0, 1]], [0.5]):
        with pytest.raises(ValueError, match="non-empty sequence of non-negative integers"):
            simulate_trials(zuma7, seed=3, replicates=replicates)


def test_batch_gives_the_calibration_statistics_of_single_generation(zuma7):
    """Per-replicate calibration statistics, and the calibrate table built on the batch path, match one at a time."""
    targets = [CalibrationTarget(target=name, published=1.0, tolerance=1.0) for name in BATCH_CHECKED_TARGETS]
    scenario = zuma7.model_copy(update={"targets": targets})
    batch = simulate_trials(scenario, seed=6, replicates=range(4))
    single = np.array(
        [[STATISTICS[t.target](simulate_trial(scenario, 6, r).to_frame(), scenario) for t in targets] for r in range(4)]
    )
    batched = np.array([[STATISTICS[t.target](trial.to_frame(), scenario) for t in targets] for trial in batch])
    np.testing.assert_array_equal(batched, single)
    means = np.nanmean(single, axis=0)
    on_log_scale = np.array([t.target in LOG_SCALE_TARGETS for t in targets])  # HRs: exp of the mean log HR
    table = calibrate(scenario, replicates=4, seed=6)
    np.testing.assert_array_equal(table["simulated_mean"], np.where(on_log_scale, np.exp(means), means))


def test_export_round_trips_through_the_reader(tmp_path: Path, zuma7):
    result = CliRunner().invoke(app, ["simulate", "zuma7", "--seed", "2", "--out", str(tmp_path / "trial.csv")])
    assert result.exit_code == 0, result.output
    config, _ = load_config(tmp_path / "trial.yaml")
    cohort = read_cohort(config.data)
    export = simulate_trial(zuma7, seed=2).to_frame()
    assert cohort.n == len(export) == 359
    assert (cohort.patients["arm"] == "treated").sum() == 180
    np.testing.assert_array_equal(cohort.time("efs"), export["efs_time"])
    np.testing.assert_array_equal(cohort.event("efs"), export["efs_event"])
    np.testing.assert_allclose(cohort.patients["b_cell_ges"], export["b_cell_ges"], equal_nan=True)
    assert list(cohort.strata) == ["first_line_response", "second_line_aaipi"]


def test_effects_are_recovered_by_cox_on_a_large_cohort(zuma7):
    """Within each arm, Cox on the latent biomarkers and strata recovers the scenario's log HRs (3 SE)."""
    large = zuma7.model_copy(update={"arms": zuma7.arms.model_copy(update={"treated": 10_000, "control": 10_000})})
    trial = simulate_trial(large, seed=21)
    export = trial.to_frame()
    for arm, label in (("treated", "axi-cel"), ("control", "SOC")):
        rows = (export["arm"] == label).to_numpy()
        data = pd.DataFrame({name: trial.latent[name][rows] for name in large.efs.effects})
        truth = {name: getattr(effect, arm) for name, effect in large.efs.effects.items()}
        for stratum, spec in large.strata.items():
            for level, log_hr in spec.log_hr.items():
                data[f"{stratum}={level}"] = (export.loc[rows, stratum] == level).to_numpy(dtype=float)
                truth[f"{stratum}={level}"] = log_hr
        data["time"], data["event"] = export.loc[rows, "efs_time"].to_numpy(), export.loc[rows, "efs_event"].to_numpy()
        fitted = CoxPHFitter().fit(data, "time", "event")
        z = (fitted.params_ - pd.Series(truth)) / fitted.standard_errors_
        assert (z.abs() < 3).all(), (arm, z.round(2).to_dict())
