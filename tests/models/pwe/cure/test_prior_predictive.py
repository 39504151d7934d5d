"""Prior predictive check of the cure model: the plateau the priors expect, against closed forms and the data."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.models.pwe.cure.conftest import zuma7_cohort
from tmesurv.models.pwe.cure.plateau import follow_up_facts
from tmesurv.models.pwe.cure.prior_predictive import cure_prior_predictive
from tmesurv.models.pwe.settings import PwePriors, PweSettings


def test_prior_cure_fraction_of_the_arm_alone_is_the_logistic_normal_of_the_priors():
    """Design ``arm`` only: the control arm's logit is ``c0 - m g / s`` with ``c0 ~ N(mu, sd0)``, ``g ~ N(0, sd)``
    (per sd ``s`` of the arm, mean ``m``), so its prior median is ``expit(mu)`` and its quantiles the normal's."""
    time, event, design = zuma7_cohort(4)
    priors = PwePriors(cure_intercept_mean=-0.5, cure_intercept_sd=1.0, cure_coef_sd=0.8)
    table = cure_prior_predictive(time, event, design, PweSettings(priors=priors), draws=4000, seed=1)
    rows = table[table["statistic"] == "cure_fraction"].set_index("arm")
    mean, sd = design["arm"].mean(), design["arm"].std(ddof=0)
    logit_sd = np.hypot(1.0, 0.8 * mean / sd)  # c0 - (m / s) g
    expected = 1 / (1 + np.exp(-stats.norm.ppf([0.025, 0.5, 0.975], -0.5, logit_sd)))
    observed = rows.loc["control", ["lower", "estimate", "upper"]].to_numpy(float)
    np.testing.assert_allclose(observed, expected, atol=0.02)  # 4,000 draws: quantile error about 0.01
    treated = design["arm"].to_numpy() == 1
    plateau = follow_up_facts(time[treated], event[treated])["km_at_last_event"]
    assert rows.loc["treated", "observed"] == pytest.approx(plateau)


def test_rows_have_the_prior_predictive_columns_and_landmarks():
    time, event, design = zuma7_cohort(4)
    table = cure_prior_predictive(time, event, design, PweSettings(), draws=200, landmarks=(6.0, 24.0), seed=2)
    assert list(table["statistic"]) == ["cure_fraction", "survival", "survival"] * 2
    survival = table[table["statistic"] == "survival"]
    assert ((survival["lower"] >= 0) & (survival["upper"] <= 1)).all()
    assert isinstance(table, pd.DataFrame)
