"""Power studies: the acceptance checks (type I error, power at the analytic events), the generator, the methods,
and the Dask execution (identical for any number of workers, resumable after a kill, refusing a changed study).

One 2-worker Dask cluster serves the tests (``cluster`` fixture, conftest.py); studies reach it through
``scheduler=``, as ``tmesurv power --scheduler`` does.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.simulations.power.conftest import assert_same_results, write_study
from tmesurv import InputError
from tmesurv.cli import app
from tmesurv.simulations.power.chunks import CHUNK_FOLDER, run_chunk
from tmesurv.simulations.power.cohorts import simulate_validation_cohorts
from tmesurv.simulations.power.methods import (
    CoxInteraction,
    MedianSplit,
    analytic_power,
    interaction_information,
    required_events,
)
from tmesurv.simulations.power.run import run_power_study
from tmesurv.simulations.power.study import DIMS, load_power_study
from tmesurv.simulations.power.summary import operating_characteristics

EXPONENTIAL_SCENARIO = {
    "name": "exponential",
    "description": "equal constant hazards in both arms, no cure: every patient has the event without censoring",
    "accrual": {"start": "2020-01-01", "end": "2021-01-01", "data_cutoff": "2022-01-01", "dropout_per_year": 0.0},
    "efs": {"treated": {"hazards": [0.05]}, "control": {"hazards": [0.05]}},
}


# --- acceptance -----------------------------------------------------------------------------------------------------


def test_cox_interaction_type_one_error(tmp_path, cluster):
    """2,000 null ZUMA-7-like cohorts of 359: the rejection rate is within 2 Monte Carlo SE of 0.05."""
    study = write_study(
        tmp_path,
        seed=2024,
        replicates=2000,
        chunk_size=250,
        grid={"n": [359], "interaction_hr": [1.0]},
        methods=["cox_interaction"],
    )
    power = run_power_study(study, tmp_path / "out", scheduler=cluster, figure=False).dataset["power"].item()
    mcse = math.sqrt(0.05 * 0.95 / 2000)
    assert abs(power - 0.05) <= 2 * mcse, power


@pytest.mark.parametrize("prevalence", [0.5, 0.3])
def test_power_at_analytic_events(tmp_path, cluster, prevalence):
    """At the events the formula gives for 80% power (HR_int 0.6), the simulated power is within 0.03 of 0.80.

    The scenario has equal constant hazards and no censoring (unlimited follow-up, no dropout), so every patient has
    the event, the events spread over the arm x biomarker cells as the patients do, and n = D.
    """
    (tmp_path / "exponential.yaml").write_text(yaml.safe_dump(EXPONENTIAL_SCENARIO))
    n = math.ceil(required_events(0.6, prevalence, allocation=0.5))
    grid = {"n": [n], "interaction_hr": [0.6], "prevalence": [prevalence], "follow_up": [math.inf]}
    study = write_study(
        tmp_path,
        scenario="exponential.yaml",
        seed=7,
        replicates=2000,
        chunk_size=250,
        allocation=0.5,
        grid=grid | {"dropout_per_year": [0.0]},
        methods=["cox_interaction"],
    )
    result = run_power_study(study, tmp_path / "out", scheduler=cluster, figure=False).dataset.squeeze()
    assert result["mean_events"].item() == n
    assert result["analytic_power"].item() == pytest.approx(0.80, abs=0.002)
    assert abs(result["power"].item() - 0.80) <= 0.03, result["power"].item()
    assert result["failed_share"].item() == 0


def test_required_events_formula():
    # (1.959964 + 0.841621)^2 / (log(0.5)^2 * 0.25 * 0.25) = 7.848861 / 0.030028 = 261.38
    assert required_events(0.5, 0.5) == pytest.approx(261.3826, abs=1e-3)
    assert interaction_information(0.3, 0.5) == pytest.approx(0.0525)
    assert analytic_power(required_events(0.7, 0.3, 0.6, alpha=0.01, power=0.9), 0.7, 0.3, 0.6, 0.01) == (
        pytest.approx(0.9, abs=1e-9)
    )
    assert analytic_power(100, 1.0, 0.5) == pytest.approx(0.05)


# --- generator and methods ------------------------------------------------------------------------------------------


def test_replicate_identical_alone_or_in_a_batch(tmp_path):
    study = load_power_study(write_study(tmp_path))
    model = study.cohort_model(study.settings()[1])
    batch = simulate_validation_cohorts(model, 5, 1, range(10))
    alone = simulate_validation_cohorts(model, 5, 1, [7])
    for name in ("time", "event", "treated", "positive", "marker", "sampler_seeds"):
        assert np.array_equal(getattr(batch, name)[7], getattr(alone, name)[0]), name
    assert (batch.treated.sum(axis=1) == model.treated).all()
    other_setting = simulate_validation_cohorts(model, 5, 2, [7])
    assert not np.array_equal(other_setting.time, alone.time)


def test_effects_and_truth_of_each_method(tmp_path):
    """Large cohorts recover the interaction; the single-arm median split estimates the treated arm's HR."""
    study = load_power_study(
        write_study(
            tmp_path,
            grid={"n": [4000], "interaction_hr": [0.5], "prognostic_hr": [0.7], "design": ["randomized", "single_arm"]},
        )
    )
    randomized, single = study.settings()
    batch = simulate_validation_cohorts(study.cohort_model(randomized), 1, 0, range(4))
    result = CoxInteraction().analyse(batch, 0.05)
    assert abs(result.estimate.mean() - math.log(0.5)) < 0.1
    single_model = study.cohort_model(single)
    assert single_model.single_arm
    assert MedianSplit().truth(single_model) == pytest.approx(math.log(0.35))
    single_batch = simulate_validation_cohorts(single_model, 1, 1, range(4))
    assert single_batch.treated.all()
    assert abs(MedianSplit().analyse(single_batch, 0.05).estimate.mean() - math.log(0.35)) < 0.1
    assert not CoxInteraction().applies_to("single_arm")


def test_monotone_fits_are_counted_as_failed_not_dropped(tmp_path):
    """Tiny cohorts with a rare biomarker: some fits separate the events; they fail, count, and never reject."""
    study = load_power_study(write_study(tmp_path, grid={"n": [16], "prevalence": [0.15]}))
    arrays = run_chunk(study, 0, 0)
    failed = arrays["cox_interaction.failed"]
    assert 0 < failed.sum() < failed.size
    assert not arrays["cox_interaction.reject"][failed].any()
    assert np.isnan(arrays["cox_interaction.estimate"][failed]).all()
    keys = ("estimate", "se", "lower", "upper", "reject", "failed", "flagged", "error")
    metrics = operating_characteristics({key: arrays[f"cox_interaction.{key}"] for key in keys}, 0.0)
    assert metrics["failed_share"] == failed.mean()
    assert metrics["power"] == arrays["cox_interaction.reject"].mean()


def test_operating_characteristics_by_hand():
    result = {
        "estimate": np.array([0.1, -0.1, 0.3, np.nan]),
        "se": np.ones(4),
        "lower": np.array([-0.2, -0.4, 0.05, np.nan]),
        "upper": np.array([0.4, 0.2, 0.55, np.nan]),
        "reject": np.array([False, False, True, False]),
        "failed": np.array([False, False, False, True]),
        "flagged": np.zeros(4, dtype=bool),
        "error": np.array(["", "", "", "PanicException: oops"]),
    }
    metrics = operating_characteristics(result, 0.0)
    assert metrics["power"] == 0.25
    assert metrics["power_mcse"] == pytest.approx(math.sqrt(0.25 * 0.75 / 4))
    assert metrics["bias"] == pytest.approx(0.1)
    assert metrics["bias_mcse"] == pytest.approx(np.std([0.1, -0.1, 0.3], ddof=1) / math.sqrt(3))
    assert metrics["rmse"] == pytest.approx(math.sqrt((0.01 + 0.01 + 0.09) / 3))
    assert metrics["coverage"] == pytest.approx(2 / 3)
    assert metrics["failed_share"] == 0.25
    assert metrics["error_share"] == 0.25


# --- the study on Dask: outputs, determinism, resume ----------------------------------------------------------------


def test_outputs_and_methods_that_do_not_apply(tmp_path, cluster):
    study = write_study(tmp_path, grid={"n": [120], "design": ["randomized", "single_arm"]})
    run = run_power_study(study, tmp_path / "out", scheduler=cluster)
    dataset = run.dataset
    assert dataset["power"].dims == (*DIMS, "method")
    assert dataset["mean_events"].dims == DIMS
    single = dataset.sel(design="single_arm")
    assert np.isnan(single.sel({"method": "cox_interaction"})["power"]).all()
    assert np.isfinite(single.sel({"method": "median_split"})["power"]).all()
    assert np.isnan(single["analytic_power"]).all()
    assert dataset["estimand"].dims == ("design", "method")
    table = pd.read_csv(tmp_path / "out" / "power.csv", keep_default_na=False)
    estimands = table.groupby(["design", "method"])["estimand"].unique().map(list).to_dict()
    assert estimands == {
        ("randomized", "cox_interaction"): ["interaction"],
        ("randomized", "cox_interaction_stratified"): ["interaction"],
        ("randomized", "median_split"): ["interaction"],
        ("single_arm", "cox_interaction"): [""],  # does not apply: power is NaN
        ("single_arm", "cox_interaction_stratified"): [""],
        ("single_arm", "median_split"): ["prognostic"],  # power to detect the treated arm's prognostic HR
    }
    for name in ("power.nc", "power.csv", "power_curve.png", "power_curve.svg", "study.json", "run.json"):
        assert (tmp_path / "out" / name).is_file(), name
    assert (run.computed, run.reused) == (8, 0)
    again = run_power_study(study, tmp_path / "out", scheduler=cluster, figure=False)
    assert (again.computed, again.reused) == (0, 8)


def test_killed_study_resumes_to_the_uninterrupted_result(tmp_path, cluster):
    """Kill a running ``tmesurv power`` (its whole process group) once chunks are saved; the rerun computes only the
    missing chunks and ends with the same bytes as an uninterrupted run."""
    study = write_study(tmp_path, replicates=800, chunk_size=50, grid={"n": [359], "interaction_hr": [0.6]})
    killed, chunks = tmp_path / "killed", tmp_path / "killed" / CHUNK_FOLDER
    command = [sys.executable, "-c", "from tmesurv.cli import main; main()", "power", str(study), "--out", str(killed)]
    with subprocess.Popen(
        [*command, "--scheduler", cluster], start_new_session=True, stdout=subprocess.DEVNULL
    ) as process:
        deadline = time.monotonic() + 60
        while len(list(chunks.glob("*.npz"))) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
    survivors = {path.name: path.stat().st_mtime_ns for path in chunks.glob("*.npz")}
    assert 2 <= len(survivors) < 16, f"killed too late or too early: {len(survivors)} chunks"
    resumed = run_power_study(study, killed, scheduler=cluster, figure=False)
    assert (resumed.reused, resumed.computed) == (len(survivors), 16 - len(survivors))
    assert {name: mtime for name, mtime in survivors.items()} == {
        name: (chunks / name).stat().st_mtime_ns for name in survivors
    }
    run_power_study(study, tmp_path / "whole", scheduler=cluster, figure=False)
    assert_same_results(killed, tmp_path / "whole")


def test_changed_study_is_refused_unless_fresh(tmp_path, cluster):
    study = write_study(tmp_path)
    run_power_study(study, tmp_path / "out", scheduler=cluster, figure=False)
    write_study(tmp_path, seed=12, grid={"n": [120, 200], "interaction_hr": [1.0, 0.5]})
    with pytest.raises(InputError, match=r"different study .*changed: study\.grid\.n, study\.seed\).*--fresh"):
        run_power_study(study, tmp_path / "out", scheduler=cluster, figure=False)
    result = CliRunner().invoke(app, ["power", str(study), "--out", str(tmp_path / "out"), "--scheduler", cluster])
    assert result.exit_code == 2
    assert "--fresh" in result.output
    result = CliRunner().invoke(
        app, ["power", str(study), "--out", str(tmp_path / "out"), "--scheduler", cluster, "--fresh"]
    )
    assert result.exit_code == 0, result.output
    assert "16 chunks computed, 0 reused" in result.output
    assert "] 16/16 chunks" in result.output  # the progress bar, on stderr
    assert len(list((tmp_path / "out" / CHUNK_FOLDER).glob("*.npz"))) == 16


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (
            lambda s: s["grid"].update(prevalance=[0.3]),
            r"unknown key 'grid\.prevalance' \(did you mean 'prevalence'\?\)",
        ),
        (lambda s: s.update(methods=["cox", "median_split"]), r"'methods\.0': Input should be 'cox_interaction'"),
        (lambda s: s["grid"].update(prevalence=[1.5]), r"'grid\.prevalence\.0': Input should be less than 1"),
        (lambda s: s["grid"].update(n=[120, 120]), r"'grid\.n': Value error, values must be distinct"),
        (lambda s: s.pop("seed"), r"missing key 'seed'"),
        (lambda s: s.update(scenario="nowhere"), r"'scenario': scenario file '.*nowhere\.yaml' does not exist"),
        (lambda s: s["grid"].update(n=[3]), r"'grid\.n\.0': Input should be greater than or equal to 4"),
    ],
)
def test_bad_study_file_names_the_key(tmp_path, edit, pattern):
    raw = yaml.safe_load(write_study(tmp_path).read_text())
    edit(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match=pattern):
        load_power_study(path)
    result = CliRunner().invoke(app, ["power", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "study file" in result.output


def test_arm_too_small_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"'grid\.n': n = 5 with allocation 0\.2 gives 1 treated"):
        load_power_study(write_study(tmp_path, allocation=0.2, grid={"n": [5]}))


def test_shipped_study_loads_by_name():
    study = load_power_study("zuma7_validation")
    assert study.spec.biomarker.kind == "continuous"
    assert len(study.settings()) == math.prod(len(values) for values in study.coords.values())
    zuma7_size = next(s for s in study.settings() if s.n == 359 and s.design == "randomized")
    assert study.cohort_model(zuma7_size).treated == 180
