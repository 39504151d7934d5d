"""Patients with follow-up time 0 are kept and counted, and the results equal R's (``tests/reference/time_zero.R``)."""

from pathlib import Path

import numpy as np
import pandas as pd

import tmesurv as ts

REFERENCE = Path(__file__).parents[2] / "reference"


def test_time_zero_patients_are_kept_counted_and_give_r_results():
    cohort = ts.Cohort.from_config(REFERENCE / "time_zero.yaml")
    assert cohort.n == 137
    assert any("4 patient(s) with time 0 in column 'time' are kept" in note for note in cohort.notes)
    result = ts.fit_cox(cohort)
    keys = ["analysis", "subgroup", "term"]
    cox = result.table.merge(pd.read_csv(REFERENCE / "time_zero_cox.csv"), on=keys, suffixes=("", "_r"))
    assert len(cox) == 4
    for column in ("coef", "se"):
        np.testing.assert_allclose(cox[column], cox[f"{column}_r"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(cox["p"], cox["p_r"], rtol=1e-5)
    km = result.km.query("subgroup == 'all'").merge(
        pd.read_csv(REFERENCE / "time_zero_km.csv"), on=["arm", "statistic", "time"], suffixes=("", "_r")
    )
    assert len(km) == 8
    for column in ("estimate", "lower", "upper"):
        np.testing.assert_allclose(km[column], km[f"{column}_r"], rtol=1e-10)
    arms = result.logrank.query("subgroup == 'all' and comparison == 'arm'")
    reference = pd.read_csv(REFERENCE / "time_zero_logrank.csv")
    np.testing.assert_allclose(arms["chisq"], reference["chisq"], rtol=1e-8)
