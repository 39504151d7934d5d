"""Validation-size study files: refused input names the key, outputs registered, resume, chosen n."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.errors import InputError
from tmesurv.outputs.files import VALIDATION_SIZE, VALIDATION_SIZE_N
from tmesurv.simulations.power.run import run_power_study
from tmesurv.simulations.power.study import load_power_study
from tmesurv.simulations.validation_size.study import ValidationSizeStudy
from tmesurv.simulations.validation_size.summary import chosen_n

from .conftest import write_study


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"metrics": ["harrell_c", "calibration_slop"]}, "'calibration_slop' is not a metric; did you mean"),
        ({"targets": {"harrell_c": 1.5}}, "'harrell_c' = 1.5 is outside (0, 1]"),
        ({"targets": {"calibration_slope": 0}}, "'calibration_slope' = 0 is outside (0, 10]"),
        ({"targets": {"oe": 0.2}}, "targets: 'oe' is not a metric; known: harrell_c"),
        ({"targets": {"ipa": 0.1}}, "targets: 'ipa' is not in metrics"),
        ({"metrics": ["ipa"], "targets": {"ipa": 0.1}}, "'ipa' has no analytic CI: set bootstrap"),
        ({"model": {"file": "m.json", "terms": ["sii"]}}, "give either 'file'"),
        ({"grid": {"n": [10]}}, "grid.n.0"),
    ],
)
def test_bad_study_refused_naming_it_exit_2(tmp_path, fields, named):
    study = write_study(tmp_path, **fields)
    with pytest.raises(InputError, match="study file") as raised:
        load_power_study(study)
    assert named in str(raised.value)
    result = CliRunner().invoke(app, ["power", str(study), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert named in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_unknown_model_term_named(tmp_path):
    study = load_power_study(write_study(tmp_path, model={"terms": ["b_cell_gs"]}))
    from tmesurv.simulations.validation_size.model import load_model

    with pytest.raises(InputError, match="term\\(s\\) b_cell_gs are not numeric columns of scenario 'zuma7'"):
        load_model(study)


def test_kind_dispatch_and_hash(tmp_path):
    study = load_power_study(write_study(tmp_path))
    assert isinstance(study, ValidationSizeStudy)
    assert [(s.n, s.calibration_slope, s.oe) for s in study.settings()] == [
        (150, 1.0, 1.0), (150, 0.8, 1.0), (600, 1.0, 1.0), (600, 0.8, 1.0)
    ]  # fmt: skip
    same = load_power_study(write_study(tmp_path / "b"))
    other = load_power_study(write_study(tmp_path / "c", horizon=6.0))
    assert same.digest == study.digest
    assert other.digest != study.digest


def test_run_writes_registered_files_and_resumes(tmp_path):
    path = write_study(tmp_path)
    out = tmp_path / "out"
    first = run_power_study(path, out, workers=1, figure=False)
    assert (first.computed, first.reused) == (8, 0)
    table = pd.read_csv(out / VALIDATION_SIZE.name)
    assert list(table.columns) == list(VALIDATION_SIZE.columns)
    assert len(table) == 4 * 3
    choices = pd.read_csv(out / VALIDATION_SIZE_N.name)
    assert list(choices.columns) == list(VALIDATION_SIZE_N.columns)
    again = run_power_study(path, out, workers=1, figure=False)
    assert (again.computed, again.reused) == (0, 8)
    xr.testing.assert_identical(first.dataset, again.dataset)
    # the table is the Dataset: spot-check one value against the saved netCDF
    saved = xr.load_dataset(out / "validation_size.nc", engine="h5netcdf")
    row = table[(table["n"] == 600) & (table["calibration_slope"] == 0.8) & (table["metric"] == "oe_ratio")]
    value = saved["mean_ci_width"].sel(n=600, calibration_slope=0.8, oe=1.0, metric="oe_ratio")
    assert row["mean_ci_width"].item() == pytest.approx(float(value), rel=1e-12)


def test_chosen_n_is_the_smallest_n_meeting_every_target():
    n, metrics = [100, 200, 400, 800], ["harrell_c", "calibration_slope", "uno_c"]
    p_target = np.array([[0.9, 0.1, np.nan], [0.95, 0.7, np.nan], [1.0, 0.85, np.nan], [1.0, 0.99, np.nan]])
    target = np.array([[0.1, 0.3, np.nan]] * 4)
    dims = ("n", "calibration_slope", "oe", "metric")
    dataset = xr.Dataset(
        {
            "p_target": (dims, p_target[:, None, None, :]),
            "target_width": (dims, target[:, None, None, :]),
            "mean_events": (dims[:3], np.zeros((4, 1, 1))),
        },
        coords={"n": n, "calibration_slope": [1.0], "oe": [1.0], "metric": metrics},
    )
    assert float(chosen_n(dataset, 0.8).item()) == 400
    assert float(chosen_n(dataset, 0.99).item()) == 800
    assert math.isnan(float(chosen_n(dataset, 0.995).item()))


@pytest.mark.slow
def test_dask_gives_the_same_results_as_in_process(tmp_path):
    from tmesurv.simulations.power.execution import local_cluster

    path = write_study(tmp_path, replicates=20, chunk_size=10, metrics=["harrell_c", "calibration_slope", "oe_ratio"])
    local = run_power_study(path, tmp_path / "one", workers=1, figure=False)
    with local_cluster(2) as cluster:
        remote = run_power_study(path, tmp_path / "two", scheduler=cluster.scheduler_address, figure=False)
    assert remote.computed == 8
    xr.testing.assert_identical(local.dataset, remote.dataset)


def test_metric_summary_by_hand():
    from tmesurv.simulations.validation_size.summary import metric_summary

    estimate = np.array([0.9, 1.1, np.nan, 0.7, 1.3])
    lower = np.array([0.8, 1.02, np.nan, 0.55, 1.0])
    upper = np.array([1.0, 1.2, np.nan, 0.95, 1.6])  # widths 0.2, 0.18, -, 0.4, 0.6; excludes 1: 2nd, 4th
    out = metric_summary(estimate, lower, upper, target=0.3, null=1.0)
    assert out["mean_estimate"] == pytest.approx(1.0)
    assert out["sd_estimate"] == pytest.approx(math.sqrt(0.2 / 3))
    assert out["sd_estimate_mcse"] == pytest.approx(math.sqrt(0.2 / 3) / math.sqrt(6))
    assert out["mean_ci_width"] == pytest.approx(1.38 / 4)
    assert out["p_target"] == pytest.approx(2 / 5)  # the failed replicate does not meet the target
    assert out["p_target_mcse"] == pytest.approx(math.sqrt(0.4 * 0.6 / 5))
    assert out["p_detect"] == pytest.approx(2 / 5)
    assert out["failed_share"] == pytest.approx(1 / 5)
    no_interval = metric_summary(estimate, np.full(5, np.nan), np.full(5, np.nan), target=np.nan, null=1.0)
    assert math.isnan(no_interval["p_detect"])
    assert math.isnan(no_interval["p_target"])
