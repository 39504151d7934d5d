"""The ZUMA-7-like trial simulator: determinism, replicate independence, round trip and effect recovery."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.config import load_config
from tmesurv.readers import read_cohort
from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial, simulate_trials


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


def test_a_replicate_is_the_same_alone_or_in_a_batch(zuma7):
    batch = list(simulate_trials(zuma7, seed=9, replicates=range(4)))
    alone = simulate_trial(zuma7, seed=9, replicate=2)
    pd.testing.assert_frame_equal(batch[2].to_frame(), alone.to_frame())
    assert not batch[1].to_frame().equals(batch[2].to_frame())


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
