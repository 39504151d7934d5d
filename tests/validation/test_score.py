"""The assembled validation table: its format, its estimates (equal to the R references), reproducible bootstrap
intervals, and horizons beyond follow-up handled with a note."""

import numpy as np
import pandas as pd
import pytest

from tmesurv.validation.bootstrap import VALIDATION_COLUMNS
from tmesurv.validation.score import ExternalPredictions, validation_table


def predictions(external, grid_risk=None, extra_horizon=None):
    horizons = [3, 5]

    def by_horizon(prefix):
        columns = {h: external[f"{prefix}_{h}"].to_numpy() for h in horizons}
        if extra_horizon is not None:  # any valid risks will do: the horizon cannot be scored anyway
            columns[extra_horizon] = columns[5]
        return columns

    grid, risk_grid = grid_risk if grid_risk is not None else (None, None)
    return ExternalPredictions(
        time=external["time"].to_numpy(),
        event=external["event"].to_numpy(),
        lp=external["lp"].to_numpy(),
        risk=by_horizon("risk"),
        treated=external["treated"].to_numpy(),
        risk_control=by_horizon("risk_control"),
        risk_treated=by_horizon("risk_treated"),
        grid=grid,
        risk_grid=risk_grid,
    )


@pytest.fixture(scope="module")
def table(external, grid_risk):
    return validation_table(predictions(external, grid_risk, extra_horizon=9), n_boot=40, seed=3, tau=5)


def row(table, metric, horizon=None, group="all"):
    chosen = table[(table["metric"] == metric) & (table["group"] == group)]
    chosen = chosen[chosen["horizon"].isna()] if horizon is None else chosen[chosen["horizon"] == horizon]
    assert len(chosen) == 1, (metric, horizon, group)
    return chosen.iloc[0]


def test_columns(table):
    assert table.columns.tolist() == VALIDATION_COLUMNS


@pytest.mark.parametrize(
    ("metric", "horizon", "reference_horizon"),
    [
        ("harrell_c", None, None),
        ("uno_c", 5, 5),
        ("calibration_slope", None, None),
        ("calibration_slope", 5, 5),
        ("time_auc", 3, 3),
        ("brier", 5, 5),
        ("ipa", 3, 3),
        ("oe_ratio", 5, 5),
        ("calibration_in_the_large", 3, 3),
        ("ici", 5, 5),
        ("e90", 3, 3),
        ("c_for_benefit", 5, 5),
        ("integrated_brier", 6, 6),
    ],
)
def test_estimates_equal_the_references(table, reference, metric, horizon, reference_horizon):
    assert row(table, metric, horizon)["estimate"] == pytest.approx(reference(metric, reference_horizon), abs=1e-7)


def test_intervals_bracket_the_estimates_and_are_reproducible(external, table):
    bootstrapped = table[table["metric"].isin(["harrell_c", "uno_c", "time_auc", "brier", "oe_ratio", "ici"])]
    finite = bootstrapped.dropna(subset=["estimate"])
    assert (finite["lower"] < finite["estimate"]).all()
    assert (finite["estimate"] < finite["upper"]).all()
    again = validation_table(predictions(external), n_boot=40, seed=3, tau=5)
    shared = table[table["horizon"].isin([3, 5]) | table["horizon"].isna()].reset_index(drop=True)
    pd.testing.assert_frame_equal(shared, again[again["metric"] != "integrated_brier"].reset_index(drop=True))


def test_benefit_rows_per_group(table):
    observed = table[(table["metric"] == "observed_benefit") & (table["horizon"] == 5)]
    assert observed["group"].tolist() == ["Q1", "Q2", "Q3", "Q4", "all"]
    assert observed["n"].iloc[:4].sum() == observed["n"].iloc[4]


def test_horizon_beyond_follow_up_is_nan_with_a_note(table):
    late = table[table["horizon"] == 9]
    assert len(late) > 0
    assert late.loc[late["metric"] != "predicted_benefit", "estimate"].isna().all()
    assert late["note"].str.contains("beyond the last external follow-up time").all()


def test_horizon_beyond_development_follow_up_is_scored_with_a_note(external):
    table = validation_table(predictions(external), n_boot=0, development_follow_up=4.0)
    at_5 = table[(table["horizon"] == 5) & (table["metric"] != "uno_c")]  # Uno's tau is 5 too: no caveat for it
    assert at_5["estimate"].notna().all()
    assert at_5["note"].str.contains("beyond the development follow-up").all()
    assert not table[table["horizon"] == 3]["note"].str.contains("development").any()
    assert np.isnan(row(table, "harrell_c")["lower"])  # no bootstrap: no interval
