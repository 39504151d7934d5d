"""A simple seeded two-arm trial with one predictive and one prognostic biomarker, for the demo and tests.

The calibrated ZUMA-7-like scenario lives in its own module; this generator is the minimal truth-known cohort:
a cured fraction per arm (the plateau of a CAR T arm), exponential event times for the others with a treatment
effect that depends on a continuous biomarker, uniform accrual and administrative censoring at a data cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TREATED_LABEL, CONTROL_LABEL = "axi-cel", "SOC"


@dataclass(frozen=True)
class TwoArmTruth:
    """The true model behind :func:`simulate_two_arm`.

    Log hazard ratios are per unit of each column and act on the patients who are not cured.
    """

    n_treated: int = 180
    n_control: int = 179
    control_median: float = 2.0
    log_hr_treatment: float = -0.9
    log_hr_b_cell: float = 0.0
    log_hr_treatment_by_b_cell: float = -0.4
    log_hr_ldh_high: float = 0.35
    accrual_months: float = 20.3
    min_follow_up: float = 14.0
    fraction_without_expression: float = 0.29
    cure_fraction_treated: float = 0.3
    cure_fraction_control: float = 0.1


def simulate_two_arm(seed: int, truth: TwoArmTruth = TwoArmTruth()) -> pd.DataFrame:
    """Simulate one trial export (one row per patient, the columns a CSV export would have).

    Parameters
    ----------
    seed
        Seed of the random generator; the same seed gives the same cohort.
    truth
        The generating model.

    Returns
    -------
    pandas.DataFrame
        Columns ``subject_id, arm, efs_time, efs_event, b_cell_ges, ldh_high``; ``b_cell_ges`` (a standardised
        expression score) is missing for patients without expression data; times in months.
    """
    rng = np.random.default_rng(seed)
    n = truth.n_treated + truth.n_control
    treated = rng.permutation(np.r_[np.ones(truth.n_treated), np.zeros(truth.n_control)])
    b_cell = rng.standard_normal(n)
    ldh_high = (rng.random(n) < 0.45).astype(float)
    log_hazard = (
        np.log(np.log(2) / truth.control_median)
        + truth.log_hr_treatment * treated
        + truth.log_hr_b_cell * b_cell
        + truth.log_hr_treatment_by_b_cell * treated * b_cell
        + truth.log_hr_ldh_high * ldh_high
    )
    cure_fraction = np.where(treated == 1, truth.cure_fraction_treated, truth.cure_fraction_control)
    cured = rng.random(n) < cure_fraction
    event_time = np.where(cured, np.inf, rng.exponential(1 / np.exp(log_hazard)))
    entry = rng.uniform(0, truth.accrual_months, n)
    follow_up = truth.accrual_months + truth.min_follow_up - entry
    observed = np.minimum(event_time, follow_up)
    b_cell[rng.random(n) < truth.fraction_without_expression] = np.nan
    return pd.DataFrame(
        {
            "subject_id": [f"Z7-{i:04d}" for i in range(1, n + 1)],
            "arm": np.where(treated == 1, TREATED_LABEL, CONTROL_LABEL),
            "efs_time": np.maximum(np.round(observed, 4), 1e-4),  # a day-level export never has time 0
            "efs_event": (event_time <= follow_up).astype(int),
            "b_cell_ges": np.round(b_cell, 4),
            "ldh_high": ldh_high.astype(int),
        }
    )


def two_arm_config(data_file: str) -> dict:
    """The analysis config (as YAML-ready data) that reads an export written from :func:`simulate_two_arm`."""
    return {
        "data": {
            "path": data_file,
            "id": "subject_id",
            "arm": {"column": "arm", "treated": TREATED_LABEL, "control": CONTROL_LABEL},
            "time_unit": "months",
            "endpoints": {"efs": {"time": "efs_time", "event": "efs_event"}},
            "biomarkers": ["b_cell_ges", "ldh_high"],
        },
        "analysis": {"endpoint": "efs", "cutpoint": "median", "landmarks": [12, 24]},
    }
