"""The cure section: the plotted cure fractions, the interaction on the cure scale next to Cox, LOO, warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.reports.conftest import ARM_NAMES
from tmesurv.models.pwe.cure.tables import CURE_COLUMNS
from tmesurv.reports.sections import cure as section

FOLLOW_UP = {
    "n": 100,
    "events": 60,
    "last_event": 20.0,
    "max_follow_up": 40.0,
    "median_follow_up": 25.0,
    "at_risk_after_last_event": 30,
    "km_at_last_event": 0.3,
    "maller_zhou_p": 0.001,
}


def fit_rows(analysis: str, subgroup: str, control: tuple, treated: tuple, supported=(1.0, 1.0)) -> list[dict]:
    """Control, treated and difference rows of one fit: (mean, lower, upper) per arm."""
    rows = []
    difference = tuple(t - c for t, c in zip(treated, control, strict=True))
    for arm, (mean, lower, upper), flag in (
        ("control", control, supported[0]),
        ("treated", treated, supported[1]),
        ("difference", difference, min(supported)),
    ):
        rows.append(
            {
                "endpoint": "efs",
                "analysis": analysis,
                "subgroup": subgroup,
                "arm": arm,
                "mean": mean,
                "sd": 0.05,
                "lower": lower,
                "upper": upper,
                "prob_above_zero": 0.97 if arm == "difference" else np.nan,
                "r_hat": 1.0,
                "ess_bulk": 900.0,
                "ess_tail": 800.0,
                "converged": 1.0,
            }
            | FOLLOW_UP
            | {"plateau_supported": flag}
        )
    return rows


@pytest.fixture
def cure() -> pd.DataFrame:
    rows = (
        fit_rows("treatment", "all", (0.15, 0.10, 0.21), (0.40, 0.33, 0.47))
        + fit_rows("interaction", "b_cell_ges=-0.5", (0.14, 0.08, 0.20), (0.25, 0.18, 0.33))
        + fit_rows("interaction", "b_cell_ges=0.1", (0.15, 0.09, 0.21), (0.40, 0.33, 0.47))
        + fit_rows("interaction", "b_cell_ges=0.7", (0.16, 0.10, 0.22), (0.55, 0.46, 0.63))
        + fit_rows("subgroup", "b_cell_ges=high", (0.2, 0.1, 0.3), (0.6, 0.5, 0.7), supported=(1.0, 0.0))
    )
    return pd.DataFrame(rows)[["endpoint", "analysis", "subgroup", *CURE_COLUMNS[3:]]]


def test_the_figure_plots_each_arms_mean_and_credible_interval_per_fit(cure):
    figure = section.cure_fraction_figure(cure, "efs", ARM_NAMES)
    (ax,) = figure.get_axes()
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels == [
        "All patients",
        *(f"b_cell_ges={v} (interaction model)" for v in ("-0.5", "0.1", "0.7")),
        "b_cell_ges=high",
    ]
    positions = dict(zip(labels, ax.get_yticks(), strict=True))
    bars = [container for container in ax.containers]  # one error bar per arm: control, treated
    for container, arm in zip(bars, ("control", "treated"), strict=True):
        segments = container.lines[2][0].get_segments()
        rows = cure[cure["arm"] == arm]
        np.testing.assert_allclose([segment[0][0] for segment in segments], rows["lower"])
        np.testing.assert_allclose([segment[1][0] for segment in segments], rows["upper"])
        offset = -0.15 if arm == "control" else 0.15
        np.testing.assert_allclose([segment[0][1] for segment in segments], np.array(list(positions.values())) + offset)
    lines = ax.get_lines()  # per arm: filled markers, hollow markers, the legend's empty line
    filled_treated, hollow_treated = lines[3], lines[4]
    np.testing.assert_allclose(filled_treated.get_xdata(), [0.40, 0.25, 0.40, 0.55])
    np.testing.assert_allclose(hollow_treated.get_xdata(), [0.6])  # its plateau is not supported
    assert hollow_treated.get_markerfacecolor() == "white"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["SOC", "axi-cel"]


def test_the_interaction_on_the_cure_scale_sits_next_to_the_cox_interaction_on_the_same_scale(cure):
    biomarkers = pd.DataFrame(
        {
            "biomarker": ["b_cell_ges"],
            "n": [100],
            "two_level": [0.0],
            "q1": [-0.5],
            "median": [0.1],
            "q3": [0.7],
            "iqr": [1.2],
        }
    )
    keys = {"endpoint": "efs", "analysis": "interaction", "subgroup": "b_cell_ges"}
    bayes = pd.DataFrame([keys | {"term": "cure:arm:b_cell_ges", "mean": 0.5, "hr_lower": 1.2, "hr_upper": 2.5}])
    cox = pd.DataFrame([keys | {"term": "arm:b_cell_ges", "hr": 0.7, "hr_lower": 0.5, "hr_upper": 0.98, "p": 0.04}])
    table = section.cure_interaction_table(cure, bayes, cox, biomarkers)
    [row] = table.rows
    assert row.cells[2] == "0.11 (0.10\u20130.13)"  # treated - control at q1: 0.25 - 0.14, limits 0.18 - 0.08 ...
    assert row.cells[3] == "0.39 (0.36\u20130.41)"  # at q3: 0.55 - 0.16
    assert row.cells[4] == f"{np.exp(0.5 * 1.2):.2f} ({1.2**1.2:.2f}\u2013{2.5**1.2:.2f})"  # per IQR
    assert row.cells[5] == "per IQR (-0.5\u20130.7)"
    assert row.cells[6] == f"{0.7**1.2:.2f} ({0.5**1.2:.2f}\u2013{0.98**1.2:.2f})"
    assert row.cells[7] == "0.04"
    without_cure_model = section.cure_interaction_table(cure, None, cox, biomarkers)
    assert without_cure_model.rows[0].cells[4] == ""  # bayes.model is not cure: no odds ratio in bayes.csv


def test_loo_names_a_model_only_when_it_is_clearly_better():
    rows = []
    for subgroup, (second_diff, second_se) in {"all": (10.0, 3.0), "b=low": (3.0, 1.0)}.items():
        for rank, (model, diff, dse) in enumerate((("cure", 0.0, 0.0), ("ph", second_diff, second_se))):
            rows.append(
                {
                    "endpoint": "efs",
                    "analysis": "treatment" if subgroup == "all" else "subgroup",
                    "subgroup": subgroup,
                    "model": model,
                    "elpd_loo": -500.0 - diff,
                    "se": 20.0,
                    "p_loo": 8.0,
                    "elpd_diff": diff,
                    "dse": dse,
                    "n_pareto_k_high": 1,
                    "rank": rank,
                }
            )
    rows.append(
        {
            "endpoint": "efs",
            "analysis": "hr_curve",
            "subgroup": "b",
            "model": "ph",
            "elpd_loo": -1.0,
            "se": 1.0,
            "p_loo": 1.0,
            "elpd_diff": 0.0,
            "dse": 0.0,
            "n_pareto_k_high": 0,
            "rank": 0,
        }
    )
    table = section.loo_table(pd.DataFrame(rows))
    assert [row.cells[4] for row in table.rows] == ["cure", "no clear winner"]  # 10 >= 4 and 2 x 3; 3 < 4
    assert table.rows[0].cells[2] == "cure -500.0 (20.0); ph -510.0 (20.0)"
    assert len(table.rows) == 2  # a single-model fit is not a comparison


def test_a_plateau_the_follow_up_does_not_support_is_warned_and_flagged(cure):
    [warning] = section.plateau_warnings(cure, ARM_NAMES)
    assert warning == (
        "efs: the follow-up does not support a cure plateau, so the cure fraction is an extrapolation, in 1 fits "
        "(flagged below, with their follow-up): b_cell_ges=high: axi-cel."
    )
    interaction = (cure["analysis"] == "interaction") & (cure["arm"] != "treated")
    [both] = section.plateau_warnings(cure.assign(plateau_supported=np.where(interaction, 0.0, 1.0)), ARM_NAMES)
    assert both.endswith("in 1 fits (flagged below, with their follow-up): b_cell_ges (interaction model): SOC.")
    table = section.cure_fraction_table(cure, ARM_NAMES)
    assert [row.flagged for row in table.rows] == [False, False, False, False, True]
    assert table.rows[-1].cells[9] == "not supported: axi-cel"
    assert table.rows[0].cells[2:6] == (
        "0.15 (0.10\u20130.21)",
        "0.40 (0.33\u20130.47)",
        "0.25 (0.23\u20130.26)",
        "0.97",
    )
