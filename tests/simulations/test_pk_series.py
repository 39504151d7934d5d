"""Simulated CAR T series give back the simulated peak, time to peak and AUC(0-28) where a profile can."""

import numpy as np
import pytest

from tmesurv.api.simulate import simulate
from tmesurv.cohort import Cohort
from tmesurv.models.product.pk import AUC, PEAK, TIME_TO_PEAK, pk_parameters
from tmesurv.simulations.pk_series import pk_series, sample_days, trial_pk_series
from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial


def _derived(series):
    samples = series.samples
    return pk_parameters(samples["subject_id"], samples["day"], samples["car_t_cells_per_ul"]).table


def test_hand_profiles_reproduce_peak_time_to_peak_and_auc():
    days = sample_days((7, 8, 9))
    peak, tmax = np.array([10.0, 10.0, 10.0, 10.0, np.nan]), np.array([8.0, 8.0, 8.0, 8.0, np.nan])
    # straight rise and r = 0: 10 x 8 / 2 + 10 x 1 / 2 = 45; r = 1: 40 + 10 x 20 = 240; between: solved;
    # below 45 the rise turns convex, down to 10 x (9 - 7) / 2 = 10
    auc = np.array([45.0, 240.0, 100.0, 20.0, np.nan])
    series = pk_series(np.array(["a", "b", "c", "d", "control"]), peak, tmax, auc, days)
    table = _derived(series)
    assert list(table.index) == ["a", "b", "c", "d"]  # control patients have no samples
    assert table[AUC].to_numpy() == pytest.approx([45.0, 240.0, 100.0, 20.0], rel=1e-12)
    assert (table[PEAK] == 10.0).all()
    assert (table[TIME_TO_PEAK] == 8.0).all()
    assert not series.infeasible.any()


def test_out_of_reach_auc_gets_the_nearest_profile_and_is_flagged():
    days = sample_days((8,))
    series = pk_series(
        np.array(["low", "high"]), np.array([10.0, 10.0]), np.array([8.0, 8.0]), np.array([1, 1e4]), days
    )
    assert list(series.infeasible) == [True, True]
    assert _derived(series).loc[["low", "high"], AUC].to_numpy() == pytest.approx([10.0, 240.0], rel=1e-12)


def test_simulated_trial_series_match_the_export_where_feasible():
    scenario = load_scenario("zuma7")
    trial = simulate_trial(scenario, seed=11)
    series = trial_pk_series(trial.columns, scenario.product.time_to_peak_days)
    columns = trial.columns
    treated = ~np.isnan(columns["peak_car_t"])
    table = _derived(series).loc[columns["subject_id"][treated]]
    assert table[PEAK].to_numpy() == pytest.approx(columns["peak_car_t"][treated], rel=1e-12)
    assert (table[TIME_TO_PEAK].to_numpy() == columns["time_to_peak_days"][treated]).all()
    feasible = ~series.infeasible
    assert table[AUC].to_numpy()[feasible] == pytest.approx(columns["auc_0_28"][treated][feasible], rel=1e-10)
    assert 0.5 < feasible.mean() < 1.0  # peak and AUC are drawn without the profile constraint (module docstring)


def test_simulate_writes_the_series_and_the_config_reads_it(tmp_path):
    _, config = simulate("zuma7", tmp_path / "t.csv", seed=2)
    assert (tmp_path / "t_pk.csv").is_file()
    cohort = Cohort.from_config(config)
    patients = cohort.patients
    treated = patients["arm"] == "treated"
    assert patients.loc[treated, "car_t_peak"].to_numpy() == pytest.approx(patients.loc[treated, "peak_car_t"])
    assert patients.loc[~treated, ["car_t_peak", "car_t_auc_0_28"]].isna().all().all()
    assert {"car_t_auc_0_28", "grade3_ne"} <= set(cohort.product)
