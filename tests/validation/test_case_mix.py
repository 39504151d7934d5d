"""Standardised differences (R, by the pooled-SD formula) and the membership model's AUC (R glm and a closed form)."""

import numpy as np
import pandas as pd
import pytest

from tmesurv.validation.case_mix import case_mix_rows, membership_auc, standardized_differences

COVARIATES = ["age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon"]


def cohorts(development, external):
    return development[COVARIATES], external.rename(columns={"treated": "hormon"})[COVARIATES]


def test_standardized_differences_equal_r(development, external, reference):
    table = standardized_differences(*cohorts(development, external))
    for covariate, smd in zip(table["covariate"], table["smd"], strict=True):
        assert smd == pytest.approx(reference(f"smd:{covariate}"), abs=1e-10), covariate
    assert {"size=<=20", "size=20-50", "size=>50"} <= set(table["covariate"])


def test_standardized_difference_by_hand():
    development = pd.DataFrame({"x": [1.0, 2.0, 3.0]})  # mean 2, variance 1
    external = pd.DataFrame({"x": [4.0, 6.0, 8.0]})  # mean 6, variance 4
    assert standardized_differences(development, external)["smd"].iloc[0] == pytest.approx(4 / np.sqrt(2.5))


def test_membership_auc_equals_r_glm(development, external, reference):
    assert membership_auc(*cohorts(development, external)) == pytest.approx(reference("membership_auc"), abs=1e-6)


def test_membership_auc_closed_form_one_binary_covariate():
    """One binary covariate: the fitted probabilities are the two cells' shares of external patients, so the AUC is
    a(1 - b) + (ab + (1 - a)(1 - b)) / 2 with a, b the covariate's prevalence in the external and development
    cohorts (a > b)."""
    a, b = 0.6, 0.3
    development = pd.DataFrame({"x": [1] * 30 + [0] * 70})
    external = pd.DataFrame({"x": [1] * 120 + [0] * 80})
    expected = a * (1 - b) + (a * b + (1 - a) * (1 - b)) / 2
    assert membership_auc(development, external) == pytest.approx(expected, abs=1e-9)


def test_case_mix_rows(development, external):
    rows = case_mix_rows(*cohorts(development, external))
    assert rows[-1]["metric"] == "membership_auc"
    assert {row["group"] for row in rows if row["metric"] == "smd"} >= {"age", "size=>50"}


def test_mismatched_or_missing_covariates_are_refused():
    with pytest.raises(ValueError, match="same covariates"):
        standardized_differences(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"y": [1.0]}))
    with pytest.raises(ValueError, match="missing values"):
        membership_auc(pd.DataFrame({"x": [1.0, np.nan]}), pd.DataFrame({"x": [1.0, 2.0]}))
