"""Cure-fit summaries from constructed posteriors (closed forms), and the follow-up facts of the plateau."""

import numpy as np
import pytest

from tests.models.pwe.cure.conftest import TERMS, constructed_fit
from tmesurv.models.pwe.cure.plateau import follow_up_facts
from tmesurv.models.pwe.cure.summary import cure_fraction_table, summarize_cure
from tmesurv.models.pwe.rows import quartile_labels


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_terms_are_named_by_part_with_the_odds_ratio_of_cure_and_the_uncured_hazard_ratio():
    idata = constructed_fit(-0.5, [0.7, 0.1, 0.4], [-0.3, 0.2, -0.1], jitter=0.2)
    summary = summarize_cure(idata).set_index("term")
    assert list(summary.index) == [f"cure:{term}" for term in TERMS] + [f"latency:{term}" for term in TERMS]
    cure_draws = idata.posterior["cure_coef"].sel(term="arm:b_cell_ges").to_numpy().ravel()
    row = summary.loc["cure:arm:b_cell_ges"]
    assert row["mean"] == pytest.approx(cure_draws.mean(), abs=1e-12)
    assert row["hr_mean"] == pytest.approx(np.exp(cure_draws).mean(), abs=1e-12)  # the odds ratio of cure
    assert row["hr_upper"] == pytest.approx(np.quantile(np.exp(cure_draws), 0.975), abs=1e-12)
    latency_draws = idata.posterior["coef"].sel(term="arm").to_numpy().ravel()
    assert summary.loc["latency:arm", "prob_hr_below_1"] == pytest.approx((latency_draws < 0).mean(), abs=1e-12)


def test_cure_fractions_at_biomarker_values_are_the_logistic_closed_form():
    intercept, gamma = -0.5, np.array([0.7, 0.1, 0.4])
    idata = constructed_fit(intercept, gamma, [-0.3, 0.2, -0.1])
    at = {"b_cell_ges=2": ("b_cell_ges", 2.0)}
    table = cure_fraction_table(idata, at).set_index("arm")
    control, treated = expit(intercept + 0.1 * 2.0), expit(intercept + 0.7 + 0.1 * 2.0 + 0.4 * 2.0)
    assert table.loc["control", "mean"] == pytest.approx(control, abs=1e-12)
    assert table.loc["treated", "mean"] == pytest.approx(treated, abs=1e-12)
    assert table.loc["difference", "mean"] == pytest.approx(treated - control, abs=1e-12)
    assert table.loc["difference", "prob_above_zero"] == 1.0
    assert np.isnan(table.loc["control", "prob_above_zero"])


def test_model_of_the_arm_alone_sets_other_terms_at_their_mean():
    idata = constructed_fit(-0.5, [0.7, 0.1, 0.4], [0.0, 0.0, 0.0])
    table = cure_fraction_table(idata, {"all": None}).set_index("arm")
    means = idata.constant_data["design_mean"].to_numpy()
    assert table.loc["treated", "mean"] == pytest.approx(expit(-0.5 + 0.7 + 0.1 * means[1] + 0.4 * means[2]))


def test_quartile_labels_give_the_two_levels_of_a_binary_biomarker_and_the_chosen_values():
    labels = quartile_labels("node4", np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]), [0.5])
    assert labels == {"node4=0": ("node4", 0.0), "node4=1": ("node4", 1.0), "node4=0.5": ("node4", 0.5)}


def test_follow_up_facts_by_hand():
    time = np.array([1.0, 2.0, 3.0, 5.0, 8.0, 9.0, 10.0, 12.0, 14.0, 20.0])
    event = np.array([1, 1, 0, 1, 1, 0, 0, 0, 0, 0], dtype=float)
    facts = follow_up_facts(time, event)
    assert facts["last_event"] == 8.0
    assert facts["max_follow_up"] == 20.0
    assert facts["at_risk_after_last_event"] == 5
    # Maller-Zhou window (2 * 8 - 20, 8] = (-4, 8]: all 4 events, p = (1 - 4/10)^10
    assert facts["maller_zhou_p"] == pytest.approx(0.6**10, rel=1e-12)
    # Kaplan-Meier at 8: (9/10)(8/9)(6/7)(5/6)
    assert facts["km_at_last_event"] == pytest.approx(0.9 * 8 / 9 * 6 / 7 * 5 / 6, rel=1e-12)
    assert facts["plateau_supported"] is False  # 5 patients beyond the last event: fewer than 10


def test_events_to_the_end_of_follow_up_do_not_support_a_plateau():
    time = np.arange(1.0, 41.0)
    event = np.ones(40)
    event[[5, 15, 25]] = 0.0  # events up to the last follow-up time
    facts = follow_up_facts(time, event)
    assert facts["at_risk_after_last_event"] == 0
    assert facts["maller_zhou_p"] == 1.0  # the window (2 * 40 - 40, 40] is empty: no evidence of sufficiency
    assert not facts["plateau_supported"]
