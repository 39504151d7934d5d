"""Calibration of the ZUMA-7-like scenario against the published figures, and the statistics behind it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from typer.testing import CliRunner

from tmesurv import InputError
from tmesurv.cli import app
from tmesurv.simulations.calibration import CALIBRATION_COLUMNS, STATISTICS, calibrate
from tmesurv.simulations.scenario import CalibrationTarget, load_scenario
from tmesurv.simulations.trial import simulate_trial


@pytest.fixture(scope="module")
def zuma7():
    return load_scenario("zuma7")


@pytest.mark.slow
def test_zuma7_reproduces_every_published_target_over_200_replicates(zuma7):
    table = calibrate(zuma7, replicates=200, seed=1)
    assert list(table.columns) == CALIBRATION_COLUMNS
    assert len(table) == len(zuma7.targets) >= 30
    failed = table.loc[~table["ok"], ["target", "published", "simulated_mean", "tolerance"]]
    assert failed.empty, failed.to_string()
    assert (table["mc_se"] < table["tolerance"] / 2).all()  # 200 replicates resolve every tolerance


def test_statistics_match_independent_computations(zuma7):
    export = simulate_trial(zuma7, seed=3).to_frame()
    treated = export[export["arm"] == "axi-cel"]
    lifelines_median = KaplanMeierFitter().fit(treated["efs_time"], treated["efs_event"]).median_survival_time_
    assert STATISTICS["efs_median_treated"](export, zuma7) == pytest.approx(lifelines_median, rel=1e-12)
    assert STATISTICS["orr_treated"](export, zuma7) == treated["best_response"].isin(["CR", "PR"]).mean()
    spearman = export[["spd_mm2", "ldh_ul"]].dropna().corr(method="spearman").iloc[0, 1]
    assert STATISTICS["spd_ldh_spearman"](export, zuma7) == pytest.approx(spearman, rel=1e-12)
    assert STATISTICS["expression_available"](export, zuma7) == export["b_cell_ges"].notna().sum()
    control = export[(export["arm"] == "SOC") & export["spd_mm2"].notna()]
    split = pd.DataFrame({"t": control["efs_time"], "e": control["efs_event"], "x": (control["spd_mm2"] > 3721) * 1.0})
    options = {"precision": 1e-14, "r_precision": 1e-15}
    lifelines_log_hr = CoxPHFitter().fit(split, "t", "e", fit_options=options).params_["x"]
    assert STATISTICS["spd_high_hr_control"](export, zuma7) == pytest.approx(lifelines_log_hr, abs=1e-6)
    peak = treated["peak_car_t"].to_numpy()
    assert STATISTICS["peak_car_t_q3"](export, zuma7) == pytest.approx(np.quantile(peak, 0.75))


def test_relative_tolerance_and_unknown_targets(zuma7):
    targets = [
        CalibrationTarget(target="peak_car_t_median", published=1000.0, tolerance=0.15, relative=True),
        CalibrationTarget(target="orr_treated", published=0.8, tolerance=0.2),
    ]
    table = calibrate(zuma7.model_copy(update={"targets": targets}), replicates=3, seed=2)
    assert table["tolerance"].tolist() == [150.0, 0.2]
    assert table["ok"].tolist() == [False, True]
    unknown = zuma7.model_copy(update={"targets": [CalibrationTarget(target="os_hr", published=0.7, tolerance=0.1)]})
    with pytest.raises(InputError, match=r"unknown calibration target.*os_hr"):
        calibrate(unknown, replicates=2, seed=1)


def test_calibrate_command_writes_the_table(tmp_path: Path):
    result = CliRunner().invoke(app, ["simulate", "calibrate", "zuma7", "--replicates", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "calibration.csv")
    assert list(table.columns) == CALIBRATION_COLUMNS
    assert "targets within tolerance" in result.output
