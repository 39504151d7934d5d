from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.reports.builders import MATH, bayes_frame, bayes_rows, interactions, texts
from tests.reports.conftest import ARM_NAMES, XSS
from tmesurv.config import load_config
from tmesurv.models.cox.analyses import cox_analyses
from tmesurv.models.cox.subgroups import analysis_groupings, subgroup_table
from tmesurv.readers import read_cohort
from tmesurv.reports import format
from tmesurv.reports.sections import forest, forest_plot, ph

REFERENCE = Path(__file__).parents[2] / "reference"


def test_forest_rows_columns_and_not_estimable(cox: pd.DataFrame) -> None:
    figure = forest_plot.forest_figure(cox, "efs", interactions({"b_cell_ges": 0.012, "diagtime": 0.0004}), ARM_NAMES)
    drawn = texts(figure)
    for expected in ("All patients", "b_cell_ges", "   high", "HR (95% CI)", "axi-cel\nevents/N", "SOC\nevents/N"):
        assert expected in drawn
    assert "25/50" in drawn
    assert "35/50" in drawn
    assert "0.35 (0.21\u20130.56)" in drawn
    assert drawn.count(format.NOT_ESTIMABLE) == 1  # diagtime=Q2
    assert "0.50 (0\u2013\u221e)" in drawn  # the monotone-likelihood interval, drawn as arrows
    assert "0.012" in drawn  # b_cell_ges: the subgroups' LRT
    assert "0.012 | 0.500" in drawn  # and its continuous Wald | LRT
    assert "<0.001" in drawn
    assert "P interaction, continuous\n(Wald | LRT)" in drawn
    assert "P interaction,\nsubgroups (LRT)" in drawn
    assert f"   {XSS}" in drawn
    assert MATH in drawn
    plot = figure.get_axes()[3]
    assert plot.get_xscale() == "log"
    assert plot.get_xlabel() == "Hazard ratio (log scale)"


def test_forest_groups_combined_subgroups_under_one_header(cox: pd.DataFrame) -> None:
    drawn = texts(forest_plot.forest_figure(cox, "efs"))
    header = drawn.index("cd19_hscore=low & sii=high")
    assert drawn[header + 1 : header + 3] == ["   in subgroup", "   not in subgroup"]
    assert "P interaction" not in drawn


def test_forest_without_rows_names_the_endpoint(cox: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="endpoint 'os'"):
        forest_plot.forest_figure(cox, "os")


def test_forest_with_bayes_draws_a_dodged_pair_on_one_axis(cox: pd.DataFrame) -> None:
    figure = forest_plot.forest_figure(cox, "efs", arm_names=ARM_NAMES, bayes=bayes_rows(cox))
    drawn = texts(figure)
    assert "Cox HR\n(95% CI)" in drawn
    assert "Bayesian HR\n(95% CrI)" in drawn
    assert "0.37 (0.21\u20130.56) \u2020" in drawn  # b_cell_ges=high: exp(mean) = 0.35 x 1.05, not converged
    assert "0.35 (0.21\u20130.56)" in drawn  # its Cox estimate
    assert forest_plot.COX_LABEL in drawn
    assert forest_plot.BAYES_LABEL in drawn
    assert forest_plot.UNCONVERGED_LABEL in drawn
    plot = figure.get_axes()[3]
    # overall row: Cox above, Bayes below
    heights = {round(line.get_ydata()[0], 2) for line in plot.get_lines() if len(line.get_ydata()) == 1}
    assert {-forest_plot.DODGE, forest_plot.DODGE} <= {round(h, 2) for h in heights}
    hollow = [line for line in plot.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1
    assert hollow[0].get_xdata()[0] == pytest.approx(0.35 * 1.05)  # exp(posterior mean log HR), not hr_mean
    assert plot.get_xlabel() == "Hazard ratio (log scale)"


def test_forest_with_bayes_only(cox: pd.DataFrame) -> None:
    drawn = texts(forest_plot.forest_figure(None, "efs", bayes=bayes_rows(cox)))
    assert "Bayesian HR\n(95% CrI)" in drawn
    assert "HR (95% CI)" not in drawn
    assert "Cox HR\n(95% CI)" not in drawn


def test_badge_marks_only_rows_whose_fit_failed() -> None:
    bayes = bayes_frame().assign(converged=[0.0, np.nan, 1.0, 1.0])  # a blank flag: not recorded, not failed
    table = forest.forest_table(None, bayes, "efs")
    badges = [(row.cells[-1], row.flagged) for row in table.rows if not row.header]
    assert badges == [(format.NOT_CONVERGED, True), ("", False)]


@pytest.fixture(scope="module")
def veteran_tables() -> dict[str, pd.DataFrame]:
    """tmesurv cox's tables of R's veteran data (equal to R's coxph, anova and cox.zph: tests/models/cox)."""
    config, _ = load_config(REFERENCE / "veteran.yaml")
    cohort = read_cohort(config.data)
    groupings = analysis_groupings(cohort, config.analysis)
    results = cox_analyses(cohort, "os", config.analysis)
    tables = {"cox": results.table, "interactions": results.interactions, "ph_test": results.ph_test}
    return tables | {"subgroups": subgroup_table(groupings)}


def test_forest_shows_the_continuous_interaction_p_of_r_anova(veteran_tables: dict[str, pd.DataFrame]) -> None:
    figure = forest_plot.forest_figure(veteran_tables["cox"], "os", veteran_tables["interactions"])
    drawn = texts(figure)
    reference = pd.read_csv(REFERENCE / "veteran_interactions.csv").set_index(["grouping", "scale"])
    karno = reference.loc[("karno", "continuous")]  # R: Wald on arm:karno, LRT by anova of the nested coxph fits
    assert f"{karno['wald_p']:.3f} | {karno['lrt_p']:.3f}" in drawn
    assert f"{reference.loc[('karno', 'groups'), 'lrt_p']:.3f} (median split)" in drawn
    assert f"{reference.loc[('age', 'groups'), 'lrt_p']:.3f} (cut-point split)" in drawn
    assert f"{reference.loc[('diagtime', 'groups'), 'lrt_p']:.3f} (quartiles)" in drawn
    assert f"{reference.loc[('prior', 'groups'), 'lrt_p']:.3f}" in drawn  # two-level: no continuous test, no label
    header = drawn.index("prior")
    assert drawn[header + 1] == "   low"  # no subgroups.csv: the level, not its meaning
    assert forest_plot.INTERACTION_NOTE in drawn[-1]
    table = forest.forest_table(veteran_tables["cox"], None, "os", veteran_tables["interactions"])
    karno_row = next(row.cells for row in table.rows if row.cells[0] == "karno")
    assert karno_row[-3:] == (
        format.format_p(karno["wald_p"]),
        format.format_p(karno["lrt_p"]),
        f"{format.format_p(reference.loc[('karno', 'groups'), 'lrt_p'])} (median split)",
    )
    assert [column.label for column in table.columns][-3:] == ["Continuous, Wald", "Continuous, LRT", "Subgroups, LRT"]


def test_subgroup_labels_carry_their_cut_points(veteran_tables: dict[str, pd.DataFrame]) -> None:
    tables = veteran_tables
    figure = forest_plot.forest_figure(tables["cox"], "os", tables["interactions"], subgroups=tables["subgroups"])
    drawn = texts(figure)
    median = float(np.median(read_cohort(load_config(REFERENCE / "veteran.yaml")[0].data).patients["karno"]))
    assert f"   karno \u2264 {median:.4g}" in drawn
    assert f"   karno > {median:.4g}" in drawn
    assert "   age > 60" in drawn  # the fixed cut-point of veteran.yaml
    assert "   prior = 10" in drawn  # a two-level biomarker's value
    table = forest.forest_table(tables["cox"], None, "os", tables["interactions"], subgroups=tables["subgroups"])
    assert "age > 60" in [row.cells[0] for row in table.rows]


def test_rows_whose_ph_test_rejects_are_marked(veteran_tables: dict[str, pd.DataFrame]) -> None:
    zph = pd.read_csv(REFERENCE / "cox_zph_r.csv")  # R's cox.zph
    zph = zph[zph["dataset"] == "veteran"].drop(columns="dataset")
    tables = veteran_tables
    figure = forest_plot.forest_figure(tables["cox"], "os", ph_test=zph)
    rows = forest_plot._forest_rows(tables["cox"], None, "os", {}, {}, ph.ph_p_values(zph))
    marked = {row.label.strip() for row in rows if row.hr_text.endswith(ph.PH_MARK)}
    arm = zph[(zph["analysis"] == "subgroup") & (zph["term"] == "arm") & (zph["transform"] == "km")]
    assert marked == {subgroup.partition("=")[2] for subgroup in arm.loc[arm["p"] < 0.05, "subgroup"]} == {"Q3"}
    assert ph.PH_POINTER in texts(figure)[-1]
    table = forest.forest_table(tables["cox"], None, "os", ph_test=zph)
    q3 = next(row.cells for row in table.rows if row.cells[0] == "Q3")
    p_q3 = arm.loc[arm["subgroup"] == "diagtime=Q3", "p"].iloc[0]
    assert q3[3].endswith(f" {ph.PH_MARK}")
    assert q3[5] == f"{format.format_p(p_q3)} {ph.PH_MARK}"
    overall = table.rows[0].cells
    assert ph.PH_MARK not in overall[3]  # treatment P = 0.060
    assert ph.PH_POINTER in table.caption
    unmarked = forest_plot.forest_figure(tables["cox"], "os")
    assert not any(ph.PH_MARK in text for text in texts(unmarked))
