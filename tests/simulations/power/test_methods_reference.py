"""The power-study methods' answers against R's coxph on the same cohorts (not only their shape).

``tests/reference/power_methods_data.csv`` holds eight cohorts of 200 from the power-study generator (ZUMA-7 baselines,
continuous biomarker, prognostic HR 0.6, interaction HR 0.5); ``tests/reference/power_methods.R`` fitted them with
``coxph`` (Efron ties) into ``power_methods_r.csv``. Regenerate both with ``make_power_methods_data.py`` then
``Rscript tests/reference/power_methods.R``. The Cox fits are the same mathematics, so the tolerance is 1e-6.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.simulations.power.cohorts import CohortModel, ValidationBatch
from tmesurv.simulations.power.methods import (
    CoxInteraction,
    CoxInteractionStratified,
    MedianSplit,
    median_split,
    two_sided_p,
    within_arm_fit,
)

REFERENCE = Path(__file__).parents[2] / "reference"
ALPHA = 0.05
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def batch() -> ValidationBatch:
    """The cohorts as one batch. The methods need only the arm sizes and the biomarker kind of the cohort model."""
    data = pd.read_csv(REFERENCE / "power_methods_data.csv").sort_values("replicate", kind="stable")
    replicates = data["replicate"].unique()
    shape = (replicates.size, len(data) // replicates.size)
    column = {name: data[name].to_numpy().reshape(shape) for name in ("time", "event", "arm", "positive", "marker")}
    treated = column["arm"] == 1
    model = CohortModel(
        n=shape[1],
        treated=int(treated[0].sum()),
        accrual_months=math.nan,
        follow_up=math.nan,
        dropout_per_year=math.nan,
        prevalence=0.3,
        continuous=True,
        prognostic_log_hr=math.log(0.6),
        interaction_log_hr=math.log(0.5),
        treated_hazard=None,
        control_hazard=None,
    )
    assert (treated.sum(axis=1) == model.treated).all()
    return ValidationBatch(
        replicates=replicates,
        time=column["time"],
        event=column["event"] == 1,
        treated=treated,
        positive=column["positive"] == 1,
        marker=column["marker"],
        sampler_seeds=np.zeros(shape[0], dtype=np.uint32),
        model=model,
    )


def r_values(method: str, term: str) -> np.ndarray:
    table = pd.read_csv(REFERENCE / "power_methods_r.csv")
    rows = table[(table["method"] == method) & (table["term"] == term)].sort_values("replicate")
    return rows["value"].to_numpy()


@pytest.mark.parametrize(
    ("method", "r_name"),
    [(CoxInteraction(), "cox_interaction"), (CoxInteractionStratified(), "cox_interaction_stratified")],
)
def test_cox_interactions_equal_r(batch, method, r_name):
    result = method.analyse(batch, ALPHA)
    assert not result.failed.any()
    np.testing.assert_allclose(result.estimate, r_values(r_name, "coef"), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(result.se, r_values(r_name, "se"), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(two_sided_p(result.estimate, result.se), r_values(r_name, "p"), rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(result.reject, r_values(r_name, "p") < ALPHA)
    z = 1.959963984540054
    np.testing.assert_allclose(result.lower, r_values(r_name, "coef") - z * r_values(r_name, "se"), atol=TOLERANCE)


def test_stratified_interaction_is_not_the_unstratified_one(batch):
    """The two models differ (a baseline per arm under the cure plateau): the check above is not vacuous."""
    plain, stratified = r_values("cox_interaction", "coef"), r_values("cox_interaction_stratified", "coef")
    assert np.abs(plain - stratified).max() > 0.05


def test_median_split_equals_r_and_the_paper_rule(batch):
    result = MedianSplit().analyse(batch, ALPHA)
    np.testing.assert_allclose(result.estimate, r_values("median_split", "coef"), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(result.se, r_values("median_split", "se"), rtol=0, atol=TOLERANCE)
    high = median_split(batch.marker)
    direct = np.array([marker > np.median(marker) for marker in batch.marker])  # per cohort, strictly above
    np.testing.assert_array_equal(high, direct)
    assert (high.sum(axis=1) == batch.model.n // 2).all()  # continuous values: half are above the median
    p_treated, p_control = (
        two_sided_p(fit.coef[:, 0], fit.se[:, 0]) for fit in (within_arm_fit(batch, high, arm) for arm in (True, False))
    )
    np.testing.assert_allclose(p_treated, r_values("median_split", "p_treated"), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(p_control, r_values("median_split", "p_control"), rtol=0, atol=TOLERANCE)
    rule = (r_values("median_split", "p_treated") < ALPHA) & (r_values("median_split", "p_control") >= ALPHA)
    np.testing.assert_array_equal(rule, r_values("median_split", "reject") == 1)
    np.testing.assert_array_equal(result.reject, rule)
    assert 0 < rule.sum() < rule.size  # the cohorts exercise both outcomes of the rule
    confirmed_in_both_arms = (r_values("median_split", "p_treated") < ALPHA) & ~rule
    assert not result.reject[confirmed_in_both_arms].any()
