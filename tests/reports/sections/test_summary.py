"""The summary section: the model the data prefer by PSIS-LOO leads, with its treatment effect in its own terms."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.reports.conftest import section, table_rows
from tests.reports.sections.test_cure import fit_rows
from tmesurv.models.pwe.cure.tables import CURE_COLUMNS
from tmesurv.reports import html
from tmesurv.reports.results import of_bayes_model, read_results
from tmesurv.reports.sections.cure import cure_section
from tmesurv.reports.sections.summary import Inputs, ph_effect, tables_model

MINUS, DASH = "\u2212", "\u2013"

pytestmark = pytest.mark.usefixtures("undrawn_figures")  # the summary is text


def render(folder: Path, model: str | None = None) -> str:
    """The report's summary section, whitespace collapsed; ``model`` becomes bayes.model in run.json's config."""
    run = folder / "run.json"
    if model is not None:
        record = json.loads(run.read_text(encoding="utf-8"))
        record["runs"]["bayes"]["config"]["bayes"]["model"] = model
        run.write_text(json.dumps(record), encoding="utf-8")
    page = section(html.write_report(folder).read_text(encoding="utf-8"), "summary")
    return " ".join(page.split())  # whitespace as the browser shows it


def loo_rows(analysis: str, subgroup: str, models: list[tuple[str, float, float]]) -> list[dict]:
    """``bayes_loo.csv`` rows of one analysis: (model, elpd_diff, dse), best first."""
    return [
        {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "model": model, "elpd_loo": -400.0 - diff}
        | {"se": 20.0, "p_loo": 8.0, "elpd_diff": diff, "dse": dse, "n_pareto_k_high": 0, "rank": rank}
        for rank, (model, diff, dse) in enumerate(models)
    ]


def cure_table() -> pd.DataFrame:
    """bayes_cure.csv: all patients (both plateaus supported), an interaction model, a subgroup without a plateau."""
    rows = (
        fit_rows("treatment", "all", (0.15, 0.10, 0.21), (0.40, 0.33, 0.47))
        + fit_rows("interaction", "b_cell_ges=-0.6", (0.14, 0.08, 0.20), (0.25, 0.18, 0.33))
        + fit_rows("interaction", "b_cell_ges=1.4", (0.16, 0.10, 0.22), (0.55, 0.46, 0.63))
        + fit_rows("subgroup", "b_cell_ges=high", (0.2, 0.1, 0.3), (0.6, 0.5, 0.7), supported=(1.0, 0.0))
    )
    return pd.DataFrame(rows)[CURE_COLUMNS]


def cure_terms() -> list[dict]:
    """``bayes.csv`` rows of the cure model (compared or bayes.model): odds ratios of cure, HR among the uncured."""
    keys = {"endpoint": "efs", "model": "cure", "sd": 0.2, "hr_mean": 1.0, "prob_hr_below_1": 0.1, "r_hat": 1.0}
    keys |= {"ess_bulk": 900, "ess_tail": 800, "bfmi_min": 0.9, "converged": True, "divergences": 0}
    terms = [
        ("treatment", "all", "cure:arm", np.log(3.2), 2.1, 4.9),
        ("treatment", "all", "latency:arm", np.log(0.8), 0.6, 1.1),
        ("interaction", "b_cell_ges", "cure:arm:b_cell_ges", np.log(1.5), 1.1, 2.0),
    ]
    return [
        keys | {"analysis": a, "subgroup": s, "term": t, "mean": m, "hr_lower": lo, "hr_upper": hi}
        for a, s, t, m, lo, hi in terms
    ]


def cure_folder(folder: Path, writers: SimpleNamespace) -> Path:
    """cox, bayes and KM results with cure compared: cure clearly preferred for all patients and the interaction.

    bayes.csv holds the ph model's rows (bayes.model in run.json unless a test sets it) and the cure model's terms.
    """
    for writer in (writers.cohort, writers.km, writers.cox, writers.cox_tests, writers.bayes, writers.biomarkers):
        writer(folder)
    cure_table().to_csv(folder / "bayes_cure.csv", index=False)
    loo = loo_rows("treatment", "all", [("cure", 0.0, 0.0), ("ph", 12.0, 4.0)])
    loo += loo_rows("interaction", "b_cell_ges", [("cure", 0.0, 0.0), ("ph", 9.0, 3.0)])
    loo += loo_rows("subgroup", "b_cell_ges=high", [("cure", 0.0, 0.0), ("ph", 3.0, 2.0)])  # not clear: 3 < 4
    writers.csv(folder, "bayes_loo.csv", loo)
    ph = pd.read_csv(folder / "bayes.csv").to_dict("records")
    writers.csv(folder, "bayes.csv", ph + cure_terms())
    writers.run(folder)
    return folder


def test_the_summary_leads_with_the_preferred_cure_model_and_its_cure_difference(tmp_path, writers):
    summary = render(cure_folder(tmp_path, writers), model="ph")
    verdict = "All patients, by PSIS-LOO: the data prefer cure (cure over ph by 12.0 (SE 4.0))."
    assert f"<h3>efs</h3> <p><strong>{verdict}</strong>" in summary
    lead = summary.split("<li>")[1]
    assert "cure (preferred by PSIS-LOO)" in lead
    # bayes_cure.csv, all patients: control 0.15 (0.10-0.21), treated 0.40 (0.33-0.47), difference 0.25
    assert f"cure fraction SOC 0.15 (0.10{DASH}0.21), axi-cel 0.40 (0.33{DASH}0.47)" in lead
    assert f"difference axi-cel {MINUS} SOC 0.25 (0.23{DASH}0.26), P(&gt; 0) 0.97" in lead
    assert "extrapolation" not in lead  # both plateaus supported
    # cure is only compared (bayes.model: ph): its odds ratios of cure come from its rows of bayes.csv
    assert f"odds ratio of cure (treated vs control) 3.20 (2.10{DASH}4.90)" in lead
    assert f"secondary: HR among the uncured 0.80 (0.60{DASH}1.10)" in lead
    # the tables' model (ph) follows, with the PH test beside its HR (ph_test.csv: P 0.004 for arm, all patients)
    assert "ph (bayes.model: the model of the tables):" in summary
    assert f"treatment HR 0.68 (0.48{DASH}0.96), P(HR&lt;1) &gt;0.99; PH test P 0.004 \u2021" in summary
    assert (
        "The tables of this report come from bayes.model: ph, which the data do not prefer: they clearly prefer cure "
        "in 2 of 3 compared analyses; rerun with bayes.model: cure" in summary
    )


def test_interaction_and_subgroup_rows_state_the_preference_and_a_plateau_the_follow_up_does_not_support(
    tmp_path, writers
):
    summary = render(cure_folder(tmp_path, writers), model="ph")
    interaction = next(row for row in summary.split("<tr") if ">b_cell_ges</td>" in row)
    assert ">the data prefer cure (cure over ph by 9.0 (SE 3.0))<" in interaction
    assert f"at b_cell_ges=-0.6: 0.11 (0.10{DASH}0.13)" in interaction  # 0.25 - 0.14
    assert f"at b_cell_ges=1.4: 0.39 (0.36{DASH}0.41)" in interaction  # 0.55 - 0.16
    subgroup = next(row for row in summary.split("<tr") if ">b_cell_ges=high</td>" in row)
    assert 'class="flagged"' in subgroup
    assert ">no clear preference (best: cure over ph by 3.0 (SE 2.0))<" in subgroup
    assert "an extrapolation for axi-cel: the follow-up does not support a cure plateau" in subgroup


def test_with_the_cure_model_as_bayes_model_the_odds_ratios_of_cure_and_the_uncured_hr_are_given(tmp_path, writers):
    summary = render(cure_folder(tmp_path, writers), model="cure")
    lead = summary.split("<li>")[1]
    assert "cure (preferred by PSIS-LOO; bayes.model: the model of the tables)" in lead
    assert f"odds ratio of cure (treated vs control) 3.20 (2.10{DASH}4.90)" in lead
    assert f"secondary: HR among the uncured 0.80 (0.60{DASH}1.10)" in lead
    assert "The tables of this report come from" not in summary  # the data prefer the tables' model
    interaction = next(row for row in summary.split("<tr") if ">b_cell_ges</td>" in row)
    iqr = 2.0  # biomarkers.csv: b_cell_ges quartiles -0.6 and 1.4
    odds = f"{1.5**iqr:.2f} ({1.1**iqr:.2f}{DASH}{2.0**iqr:.2f})"
    assert f"odds ratio of cure of the interaction (arm x b_cell_ges, per IQR (-0.6{DASH}1.4)) {odds}" in interaction


def test_time_varying_preferred_gives_the_hr_per_period(result_folder):
    summary = render(result_folder)  # bayes_loo.csv: time_varying over ph by 9.5 (SE 3.1); bayes.model: ph
    assert "All patients, by PSIS-LOO: the data prefer time_varying (time_varying over ph by 9.5 (SE 3.1))." in summary
    lead = summary.split("<li>")[1]
    assert lead.startswith("<strong>time_varying (preferred by PSIS-LOO):</strong> treatment HR by period")
    # bayes_time_varying.csv, all patients: HR 0.3, 0.5, 0.8 with CrI (0.6 HR, 1.5 HR)
    assert (
        f"0.0{DASH}3.0: 0.30 (0.18{DASH}0.45); 3.0{DASH}9.0: 0.50 (0.30{DASH}0.75); after 9.0: 0.80 "
        f"(0.48{DASH}1.20)" in lead
    )
    assert "rerun with bayes.model: time_varying" in summary


def test_kaplan_meier_median_not_reached_is_nr_and_a_landmark_after_follow_up_is_not_guessed(tmp_path, writers):
    folder = cure_folder(tmp_path, writers)
    km = pd.read_csv(folder / "km.csv")
    treated_median = (km["arm"] == "treated") & (km["statistic"] == "median") & (km["subgroup"] == "all")
    km.loc[treated_median, ["estimate", "lower", "upper"]] = [np.nan, 12.1, np.nan]
    extra = km[(km["arm"] == "treated") & (km["statistic"] == "survival") & (km["subgroup"] == "all")].copy()
    km = pd.concat([km, extra.assign(time=36.0, estimate=np.nan, lower=np.nan, upper=np.nan)], ignore_index=True)
    km.to_csv(folder / "km.csv", index=False)
    summary = render(folder)
    assert f"median (months) SOC 9.6 (7.2{DASH}12.4), axi-cel NR (12.1{DASH}NR)" in summary
    assert f"survival at 12 months axi-cel 0.61 (0.51{DASH}0.70)" in summary
    assert "survival at 36 months axi-cel beyond follow-up" in summary


def test_a_single_model_shows_bayes_model_alone_and_no_bayesian_results_no_summary(tmp_path, writers):
    single = tmp_path / "single"
    single.mkdir()
    for writer in (writers.cohort, writers.km, writers.cox, writers.cox_tests, writers.bayes, writers.run):
        writer(single)
    summary = render(single)
    assert "All patients, by PSIS-LOO: no comparison (bayes.model: ph alone)." in summary
    assert f"ph (bayes.model: the model of the tables):</strong> treatment HR 0.68 (0.48{DASH}0.96)" in summary
    assert "<details>" not in summary
    assert "rerun with" not in summary
    cox_only = tmp_path / "cox"
    cox_only.mkdir()
    for writer in (writers.cohort, writers.km, writers.cox, writers.run):
        writer(cox_only)
    assert '<section id="summary"' not in html.write_report(cox_only).read_text(encoding="utf-8")


def test_hazard_and_interaction_sections_carry_the_misfit_banner_of_their_fits(tmp_path, writers):
    folder = tmp_path / "misfit"
    folder.mkdir()
    for writer in (writers.cohort, writers.km, writers.cox, writers.cox_tests, writers.bayes, writers.biomarkers):
        writer(folder)
    writers.bayes_options(folder)  # bayes_fit_check.csv: efs subgroup b_cell_ges=high misfits (treated arm)
    checks = pd.read_csv(folder / "bayes_fit_check.csv")
    interaction = checks[checks["subgroup"] == "all"].assign(analysis="interaction", subgroup="b_cell_ges")
    pd.concat([checks, interaction.assign(misfit=[True, False])]).to_csv(folder / "bayes_fit_check.csv", index=False)
    writers.run(folder)
    page = " ".join(html.write_report(folder).read_text(encoding="utf-8").split())
    hazards, interactions = section(page, "hazard-ratios"), section(page, "interactions")
    banner = "The posterior survival does not fit Kaplan&ndash;Meier for 2 fits:</strong> "
    assert banner + "efs subgroup b_cell_ges=high; efs interaction b_cell_ges." in hazards
    assert "for 1 fit:</strong> efs interaction b_cell_ges." in interactions
    pointer = "see the time-varying (bayes.model: time_varying) and cure (bayes.model: cure) models"
    assert pointer in hazards
    assert pointer in interactions
    without = tmp_path / "fits"
    without.mkdir()
    for writer in (writers.cohort, writers.cox, writers.bayes, writers.biomarkers, writers.run):
        writer(without)
    page = html.write_report(without).read_text(encoding="utf-8")
    assert "does not fit Kaplan" not in page
    assert pointer not in page


def test_the_banner_reads_the_fit_check_of_bayes_model_alone(result_folder):
    results = read_results(result_folder)
    checks = results.bayes_fit_check.drop(columns="model")
    both = pd.concat([checks.assign(model="ph"), checks.assign(model="cure", misfit=0.0)], ignore_index=True)
    ph = replace(results, bayes_fit_check=both)
    assert tables_model(ph) == "ph"
    assert of_bayes_model(both, ph).equals(both[both["model"] == "ph"].reset_index(drop=True))
    run = results.run.model_copy(deep=True)
    run.runs["bayes"].config["bayes"]["model"] = "cure"
    cure = replace(results, bayes_fit_check=both, run=run)
    assert tables_model(cure) == "cure"
    chosen = of_bayes_model(both, cure)
    assert (chosen["model"] == "cure").all()
    assert len(chosen) == len(checks)


def test_a_fit_that_was_not_estimable_says_so_instead_of_an_empty_estimate(result_folder):
    results = read_results(result_folder)
    bayes = results.bayes.astype({"note": object})
    overall = (bayes["analysis"] == "treatment") & (bayes["subgroup"] == "all")
    bayes.loc[overall, ["mean", "hr_lower", "hr_upper", "prob_hr_below_1", "converged"]] = np.nan
    bayes.loc[overall, "note"] = "not estimable: 0 events in the control arm"
    shown = ph_effect(("efs", "treatment", "all"), Inputs(replace(results, bayes=bayes), {}, "ph"))
    assert shown.text == "treatment HR: not estimable: 0 events in the control arm"
    assert shown.flagged


def test_a_cure_model_only_compared_shows_its_odds_ratio_of_cure_next_to_the_cox_interaction(tmp_path, writers):
    folder = cure_folder(tmp_path, writers)  # bayes.model: ph; bayes.csv also holds the compared cure model's terms
    cure = section(" ".join(html.write_report(folder).read_text(encoding="utf-8").split()), "cure")
    interaction = next(row for row in table_rows(cure) if ">b_cell_ges</td>" in row)
    iqr = 2.0  # biomarkers.csv: b_cell_ges quartiles -0.6 and 1.4; bayes.csv cure:arm:b_cell_ges OR 1.5 (1.1-2.0)
    assert f">{1.5**iqr:.2f} ({1.1**iqr:.2f}{DASH}{2.0**iqr:.2f})<" in interaction
    cox = pd.read_csv(folder / "cox.csv").query("analysis == 'interaction' and term == 'arm:b_cell_ges'").iloc[0]
    hazard = f">{cox['hr'] ** iqr:.2f} ({cox['hr_lower'] ** iqr:.2f}{DASH}{cox['hr_upper'] ** iqr:.2f})<"
    assert hazard in interaction  # the Cox interaction on the same per-IQR scale, in the same row
    results = read_results(folder)
    without = replace(results, bayes=of_bayes_model(results.bayes, results))  # the ph rows alone
    assert cure_section(without, {}).interactions.rows[0].cells[4] == ""  # no cure rows in bayes.csv: no odds ratio
