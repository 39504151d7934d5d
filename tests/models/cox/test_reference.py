"""Cox analyses and Kaplan-Meier estimates against R's survival package on the veteran data.

Reference files are made by ``Rscript tests/reference/veteran_cox.R`` (run from the repository root); the tests
need no R.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.config import load_config
from tmesurv.models.cox.analyses import cox_analyses
from tmesurv.models.cox.km import km_by_arm, logrank_table
from tmesurv.models.cox.subgroups import analysis_groupings
from tmesurv.readers import read_cohort

REFERENCE = Path(__file__).parents[2] / "reference"
KEYS = ["endpoint", "analysis", "subgroup", "term"]


@pytest.fixture(scope="module")
def veteran():
    config, _ = load_config(REFERENCE / "veteran.yaml")
    return config, read_cohort(config.data)


COUNTS = ["n", "events", "n_treated", "events_treated", "n_control", "events_control"]


def test_cox_rows_equal_r_coxph(veteran):
    """Treatment (plain, stratified), interaction, within-arm and subgroup fits for median, fixed, quartile,
    two-level, combined and covariate groupings."""
    config, cohort = veteran
    ours = cox_analyses(cohort, config.analysis.endpoint, config.analysis).table
    reference = pd.read_csv(REFERENCE / "veteran_cox.csv")
    assert sorted(map(tuple, ours[KEYS].to_numpy())) == sorted(map(tuple, reference[KEYS].to_numpy()))
    merged = ours.merge(reference, on=KEYS, suffixes=("", "_r"))
    for column in COUNTS:
        np.testing.assert_array_equal(merged[column], merged[f"{column}_r"])
    np.testing.assert_allclose(merged["coef"], merged["coef_r"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(merged["se"], merged["se_r"], rtol=0, atol=1e-6)
    for column in ["hr", "hr_lower", "hr_upper", "p"]:
        np.testing.assert_allclose(merged[column], merged[f"{column}_r"], rtol=1e-5)


@pytest.mark.parametrize(
    ("ci_method", "reference_file"), [("log-log", "veteran_km.csv"), ("log", "veteran_km_log.csv")]
)
def test_km_medians_and_landmarks_equal_r_survfit(veteran, ci_method, reference_file):
    config, cohort = veteran
    groupings = analysis_groupings(cohort, config.analysis)
    ours, curves = km_by_arm(cohort, "os", config.analysis.landmarks, ci_method, groupings)
    reference = pd.read_csv(REFERENCE / reference_file)
    pd.testing.assert_frame_equal(
        ours.drop(columns=["estimate", "lower", "upper"]),
        reference.drop(columns=["estimate", "lower", "upper"]),
        check_dtype=False,
    )
    for column in ["estimate", "lower", "upper"]:
        np.testing.assert_allclose(ours[column], reference[column], rtol=1e-10, atol=1e-12, equal_nan=True)
    assert set(curves["arm"]) == {"treated", "control"}
    assert set(curves["subgroup"]) == set(ours["subgroup"])
    assert (curves.groupby(["arm", "subgroup"])["survival"].diff().dropna() <= 0).all()


def test_logrank_equals_r_survdiff(veteran):
    config, cohort = veteran
    ours = logrank_table(cohort, "os", analysis_groupings(cohort, config.analysis))
    reference = pd.read_csv(REFERENCE / "veteran_logrank.csv")
    pd.testing.assert_frame_equal(
        ours.drop(columns=["chisq", "p"]), reference.drop(columns=["chisq", "p"]), check_dtype=False
    )
    np.testing.assert_allclose(ours["chisq"], reference["chisq"], rtol=1e-8)
    np.testing.assert_allclose(ours["p"], reference["p"], rtol=1e-7)


def test_interaction_wald_and_likelihood_ratio_equal_r(veteran):
    config, cohort = veteran
    ours = cox_analyses(cohort, config.analysis.endpoint, config.analysis).interactions
    reference = pd.read_csv(REFERENCE / "veteran_interactions.csv")
    keys = ["endpoint", "grouping", "scale"]
    pd.testing.assert_frame_equal(
        ours[[*keys, "n", "events", "df"]], reference[[*keys, "n", "events", "df"]], check_dtype=False
    )
    for column in ["wald_chisq", "lrt_chisq"]:
        np.testing.assert_allclose(ours[column], reference[column], rtol=1e-6)
    for column in ["wald_p", "lrt_p"]:
        np.testing.assert_allclose(ours[column], reference[column], rtol=1e-5)
    assert ours.loc[ours["grouping"] == "diagtime", "df"].tolist() == [1, 3]
