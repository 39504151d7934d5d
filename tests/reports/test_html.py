"""The HTML report: self-contained, escaped, a section per result file, atomic."""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.reports.conftest import row_with, section, table_rows
from tmesurv.errors import InputError
from tmesurv.outputs import atomic
from tmesurv.reports import graphics, html, km_marks, km_plot
from tmesurv.reports.sections import interactions as interaction_section
from tmesurv.reports.sections import km as km_section
from tmesurv.reports.sections import methods

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def report_text(folder: Path) -> str:
    return html.write_report(folder).read_text(encoding="utf-8")


def test_report_is_one_self_contained_file(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    assert full_report.name == "report.html"
    assert "http://" not in page
    assert "https://" not in page
    assert "<link" not in page
    assert "<script" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    # KM overall + 2 groupings, forest, Schoenfeld residuals, treatment effect, interaction screen, time-varying
    # effect, prior predictive check, model check (Kaplan-Meier under the posterior: all patients + 4 subgroups, 4
    # panels a figure: 2), volcano, PCA, calibration, decision curve, benefit, power curve
    assert len(sources) == 17
    assert all(source.startswith("data:image/png;base64,") for source in sources)


def test_sections_in_order(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    names = ["cohort", "summary", "kaplan-meier", "hazard-ratios", "proportional-hazards", "interactions"]
    names += ["interaction-screen"]
    names += ["time-varying"]
    names += ["screens", "prior-predictive", "diagnostics", "validation"]
    positions = [page.index(f'<section id="{name}"') for name in [*names, "power", "methods"]]
    assert positions == sorted(positions)
    assert page.index('id="unconverged-banner"') < positions[0]


def test_km_section_overlays_the_posterior_and_draws_every_grouping(full_report: Path) -> None:
    km = section(full_report.read_text(encoding="utf-8"), "kaplan-meier")
    alts = re.findall(r'<img src="[^"]+" alt="([^"]*)"', km)
    assert len(alts) == 3
    assert "Bayesian posterior median and 95% band overlaid" in alts[0]
    assert "(axi-cel, SOC)" in alts[0]
    assert "within each level of b_cell_ges" in alts[1]
    assert f"within each level of {ESCAPED}" in alts[2]
    assert "Posterior medians, landmark survival and restricted mean survival" in km
    assert "axi-cel (treated), 95% CrI" in km


def test_km_section_states_band_censoring_and_log_rank(full_report: Path) -> None:
    km = section(full_report.read_text(encoding="utf-8"), "kaplan-meier")
    alts = re.findall(r'<img src="[^"]+" alt="([^"]*)"', km)
    assert "pointwise 95% CI (log-log) bands and censoring times (+)" in alts[0]
    assert "Log-rank P = 0.0262 (treated vs control)" in alts[0]
    assert "the log-rank P of the arms in each panel" in alts[1]
    assert "<h3>Log-rank tests</h3>" in km
    overall = row_with(km, "axi-cel vs SOC", "All patients")
    assert ">0.0262</td>" in overall
    assert ">4.95 (1)</td>" in overall
    assert row_with(km, "axi-cel vs SOC", "b_cell_ges &gt; 0.1")  # the subgroup by its cut-point
    assert row_with(km, "levels of b_cell_ges", "axi-cel (treated) arm")


def test_forest_table_has_cox_and_bayes_side_by_side(full_report: Path) -> None:
    hazards = section(full_report.read_text(encoding="utf-8"), "hazard-ratios")
    overall = row_with(hazards, "All patients")
    assert "0.67 (0.47\u20130.94)" in overall  # Cox HR (95% CI)
    assert "0.68 (0.48\u20130.96)" in overall  # exp(posterior mean log HR) (95% CrI)
    assert "25/50" in overall
    assert "&gt;0.99" in overall
    header = row_with(hazards, ESCAPED)
    assert 'class="grouping"' in header
    assert "0.012" in header  # P interaction on the grouping's header row
    assert "Cox hazard ratios" in hazards
    assert "Bayesian hazard ratios at the posterior mean log hazard ratio" in hazards


def test_ph_rejections_are_marked_wherever_the_hr_is_shown(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    hazards = section(page, "hazard-ratios")
    assert "0.67 (0.47\u20130.94) \u2021" in row_with(hazards, "All patients")  # treatment: PH P = 0.004
    assert "0.4 (0.28\u20130.56) \u2021" not in hazards
    high = row_with(hazards, "b_cell_ges &gt; 0.1")  # PH P = 0.03: marked, with its P
    assert "0.40 (0.28\u20130.56) \u2021" in high
    assert ">0.03 \u2021</td>" in high
    low = row_with(hazards, "b_cell_ges \u2264 0.1")
    assert "\u2021" not in low
    assert "bayes.model: time_varying" in hazards
    assert "bayes.model: cure" in hazards
    every_term = row_with(hazards, "efs", "treatment", "all", "arm")
    assert "0.67 (0.47\u20130.94) \u2021" in every_term


def test_ph_section_tests_residuals_and_pointer(full_report: Path) -> None:
    ph = section(full_report.read_text(encoding="utf-8"), "proportional-hazards")
    assert "Proportional hazards rejected for 2 of" in ph
    assert 'href="#time-varying"' in ph
    rejected = row_with(ph, "treatment", "arm", "0.004")
    assert 'class="flagged"' in rejected
    assert "rejected" in rejected
    assert 'class="flagged"' not in row_with(ph, "interaction", "b_cell_ges", "arm:b_cell_ges")
    assert row_with(ph, "interaction", "b_cell_ges", "GLOBAL")
    alts = re.findall(r'<img src="[^"]+" alt="([^"]*)"', ph)
    assert len(alts) == 1
    assert "Scaled Schoenfeld residuals of efs" in alts[0]
    assert "Proportional-hazards tests of the within-arm and subgroup models" in ph


def test_unconverged_fit_is_flagged_everywhere(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    assert re.search(r"1 of 7 Bayesian\s+fits failed", page)  # the banner at the top counts fits
    diagnostics = section(page, "diagnostics")
    flagged = row_with(diagnostics, "interaction", ESCAPED)
    assert 'class="flagged"' in flagged
    assert "not converged" in flagged
    assert "1.087" in flagged
    assert 'class="flagged"' not in row_with(diagnostics, "interaction", "b_cell_ges")
    interactions = section(page, "interactions")
    assert 'class="badge"' in row_with(interactions, ESCAPED)
    assert re.search(r"3 of 11 Bayesian\s+terms failed", section(page, "hazard-ratios"))


def test_interaction_posteriors_and_treatment_effect_along_the_biomarker(full_report: Path) -> None:
    interactions = section(full_report.read_text(encoding="utf-8"), "interactions")
    row = row_with(interactions, "b_cell_ges")
    # per IQR = 2 (biomarkers.csv): every HR squared; synthetic hr 0.612 (bounds x0.7, x1.4), Cox 0.549
    assert "per IQR (-0.6\u20131.4)" in row
    assert "-0.982 (0.340)" in row  # 2 log(0.612), 2 x 0.17
    assert "0.37 (0.18\u20130.73)" in row  # 0.612^2 (0.4284^2-0.8568^2)
    assert "0.30 (0.15\u20130.59)" in row  # Cox: 0.549^2 (0.3843^2-0.7686^2)
    assert "&lt;0.001" in row  # Wald P
    assert "0.012" in row  # LRT P of the continuous interaction
    assert "Treatment hazard ratio of efs against the value of each biomarker" in interactions
    assert row_with(interactions, "b_cell_ges", "-0.6")
    assert "0.35 (0.24\u20130.49)" in row_with(interactions, "b_cell_ges", "0.5")


def test_user_strings_are_escaped(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    assert ESCAPED in page
    assert "<script>alert" not in page


def test_only_cox_results_give_no_bayesian_sections(tmp_path: Path, writers: SimpleNamespace) -> None:
    writers.cox(tmp_path)
    page = report_text(tmp_path)
    assert 'id="hazard-ratios"' in page
    assert "HR (95% CI)" in page
    assert "posterior mean" not in page
    assert "Mean HR (95% CrI)" not in page
    for absent in ("interactions", "diagnostics", "kaplan-meier", "cohort", "methods"):
        assert f'id="{absent}"' not in page
    assert len(re.findall("<img", page)) == 1  # the forest plot
    assert "No run.json" in page


def test_only_bayes_results_give_bayes_columns_only(tmp_path: Path, writers: SimpleNamespace) -> None:
    writers.bayes(tmp_path)
    page = report_text(tmp_path)
    assert "HR at posterior mean log HR" in page
    assert "Wald P" not in page
    assert 'id="unconverged-banner"' in page
    assert 'id="diagnostics"' in page


def test_empty_folder_gives_a_report_saying_so(tmp_path: Path) -> None:
    page = report_text(tmp_path)
    assert "No result files were found" in page
    assert "<nav" not in page


def test_cohort_section_lists_arms_and_exclusions(full_report: Path) -> None:
    cohort = section(full_report.read_text(encoding="utf-8"), "cohort")
    assert cohort.index("<td>axi-cel (treated)</td>") < cohort.index("<td>SOC (control)</td>")
    assert "<td>Total</td>" in cohort
    assert '<td class="num">200</td>' in cohort
    assert f"missing {ESCAPED}" in cohort
    assert "P1;P2" not in cohort


def test_km_table_states_ci_method_and_not_reached(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    assert "Confidence interval method: log-log" in page
    assert "16.9 (12.1\u2013NR)" in page
    assert "Survival at 12 months" in page


def test_methods_paragraph_from_the_config(full_report: Path) -> None:
    text = section(full_report.read_text(encoding="utf-8"), "methods")
    for expected in (
        "Endpoint: efs",
        "split at the median",
        "spd_mm2 at 3721",
        "cd19_hscore=low &amp; sii=high",
        "Efron method for ties",
        "Greenwood",
        "log-log scale",
        "Landmark survival at 12, 24 months",
        "likelihood-ratio (LRT)",
        "stratified by first_line_response",
        "constant within 8 intervals",
        "gamma prior with mean 1",
        "Normal(0, 10)",
        "nutpie (NUTS), 2 chains of 300 draws after 300 tuning steps, seed 3",
        "reported as exp(posterior mean log hazard ratio), the counterpart of the Cox exp(beta)",
        "installed when this report was written",
    ):
        assert expected in text, expected
    assert f"<dt>numpy</dt><dd>{metadata.version('numpy')}</dd>" in text
    assert f"<dt>pymc</dt><dd>{metadata.version('pymc')}</dd>" in text


def test_methods_state_the_convergence_rule_of_the_model() -> None:
    from tmesurv.models.pwe import diagnostics as pwe

    rule = methods.CONVERGENCE_RULE
    assert f"R-hat below {pwe.RHAT_MAX:g}" in rule
    assert f"at least {pwe.ESS_MIN}" in rule
    assert f"BFMI of at least {pwe.BFMI_MIN:g}" in rule


def test_reproducibility_footer(full_report: Path) -> None:
    footer = full_report.read_text(encoding="utf-8").split('<footer id="reproducibility">')[1]
    assert "abc123def456" in footer
    assert "20240611" in footer
    assert "<dt>Seed: Bayesian sampler (bayes.seed)</dt><dd>3</dd>" in footer
    assert "<dd>0.1.0</dd>" in footer
    assert "<code>bayes</code>" in footer


def test_validation_and_power_sections(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    validation = section(page, "validation")
    assert "0.680 (0.620\u20130.740)" in row_with(validation, "harrell_c")
    assert row_with(validation, "brier", ESCAPED)
    assert "0.075 (0.041\u20130.112)" in row_with(validation, "emax")
    assert validation.count("<img") == 3  # calibration, decision curve and benefit
    assert "decision_curve_cox_12.png" in validation
    power = section(page, "power")
    assert "Cohort size" in power  # varies
    assert "interaction hr 0.5" in power  # fixed: in the caption
    assert "0.700 (0.010)" in row_with(power, "200", "cox_interaction")
    assert power.count("<img") == 1


def test_validation_without_needed_columns_is_left_out_with_a_note(tmp_path: Path, writers: SimpleNamespace) -> None:
    writers.csv(tmp_path, "validation.csv", [{"metric": "harrell_c", "value": 0.7}])
    writers.csv(tmp_path, "power.csv", [{"method": "cox", "power": "high"}])
    page = report_text(tmp_path)
    assert 'id="validation"' not in page
    assert 'id="power"' not in page
    assert "validation.csv is left out" in page
    assert "no column(s) estimate" in page
    assert "power.csv is left out" in page


@pytest.mark.usefixtures("undrawn_figures")  # about the file, not the figures
def test_failure_while_rendering_leaves_no_report(result_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> graphics.FigureImage:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(km_section, "km_figure", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        html.write_report(result_folder)
    assert not (result_folder / "report.html").exists()
    assert not [path.name for path in result_folder.iterdir() if path.name.startswith(".")]  # no temporary file


@pytest.mark.usefixtures("undrawn_figures")  # about the file, not the figures
def test_failure_while_writing_keeps_old_report_and_removes_temp(
    result_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (result_folder / "report.html").write_text("old", encoding="utf-8")

    def broken_replace(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        html.write_report(result_folder)
    assert (result_folder / "report.html").read_text(encoding="utf-8") == "old"
    assert not [path.name for path in result_folder.iterdir() if path.name.startswith(".")]


def test_malformed_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "cox.csv").write_text("endpoint,term,hr\npfs,treatment,0.7\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"cox\.csv.*no column"):
        html.write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_numbers_at_risk_read_off_step_data() -> None:
    curve = pd.DataFrame({"time": [0.0, 2.0, 5.0, 7.5], "at_risk": [10, 8, 5, 2]})
    times = km_marks.at_risk_times(7.5)
    assert list(times) == [0.0, 3.0, 6.0]
    assert list(km_marks.numbers_at_risk(curve, times)) == [10, 5, 2]
    assert list(km_marks.numbers_at_risk(curve, [8.0])) == [0]


def test_km_figure_takes_odd_names_and_missing_bounds() -> None:
    curves = pd.DataFrame(
        {
            "arm": ["treated", "treated", "control", "control"],
            "time": [0.0, 5.0, 0.0, 4.0],
            "survival": [1.0, 0.8, 1.0, 0.7],
            "lower": [float("nan"), 0.6, float("nan"), 0.5],
            "upper": [float("nan"), 0.9, float("nan"), 0.85],
            "at_risk": [10, 8, 10, 7],
        }
    )
    image = km_plot.km_figure(curves, "PFS $x^{")  # unbalanced mathtext must be drawn literally
    assert image.src.startswith("data:image/png;base64,")
    assert "PFS $x^{" in image.alt


def test_interaction_lrt_of_a_two_level_biomarker_is_its_one_df_groups_test() -> None:
    bayes = pd.DataFrame(
        {
            "endpoint": ["efs"],
            "analysis": ["interaction"],
            "subgroup": ["ldh_elevated"],
            "term": ["arm:ldh_elevated"],
            "mean": [-0.29],
            "sd": [0.27],
            "hr_mean": [0.78],
            "hr_lower": [0.43],
            "hr_upper": [1.23],
            "prob_hr_below_1": [0.86],
            "converged": [1.0],
        }
    )
    interactions = pd.DataFrame(
        {"endpoint": ["efs"], "grouping": ["ldh_elevated"], "scale": ["groups"], "df": [1.0], "lrt_p": [0.311]}
    )
    table = interaction_section.interaction_table(bayes, None, interactions)
    assert [column.label for column in table.columns][-2:] == ["LRT P", "Diagnostics"]
    assert table.rows[0].cells[-2] == "0.311"
    assert "Wald P" not in [column.label for column in table.columns]  # no Cox results


def test_a_file_that_run_json_does_not_list_is_refused(result_folder: Path) -> None:
    (result_folder / "figures" / "km_efs_stale.png").write_bytes((result_folder / "power_curve.png").read_bytes())
    (result_folder / "screen_cox.csv").write_text("endpoint,arm,feature\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"holds files 'figures/km_efs_stale\.png', 'screen_cox\.csv' that run\.json"):
        html.write_report(result_folder)
    assert not (result_folder / "report.html").exists()


def test_power_folder_alone(result_folder: Path) -> None:
    """A folder of tmesurv power: its table and curve, a run.json whose config is a study, not an analysis."""
    folder = result_folder / "power_study"
    folder.mkdir()
    for name in ("power.csv", "power_curve.png"):
        (folder / name).write_bytes((result_folder / name).read_bytes())
    files = ["power.csv", "power_curve.png"]
    power = {"config": {"scenario": "zuma7"}, "config_hash": "f00d", "seed": 11, "files": files}
    run = {"tmesurv_version": "0.1.0", "study_hash": "f00d", "runs": {"power": power}}
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    page = report_text(folder)
    assert 'id="power"' in page
    assert page.count("<img") == 1
    methods_text = section(page, "methods")
    assert "Software." in methods_text
    assert "Bayesian models" not in methods_text
    assert "<dt>Seed: power (run.json)</dt><dd>11</dd>" in page


def test_two_level_biomarker_is_stated_one_versus_zero_and_unchanged(full_report: Path) -> None:
    row = row_with(section(full_report.read_text(encoding="utf-8"), "interactions"), ESCAPED)
    assert "1 vs 0" in row
    assert "0.61 (0.43\u20130.86)" in row  # exp(mean) = 0.612 with its bounds, per unit


def test_all_terms_table_states_continuous_terms_per_iqr(full_report: Path) -> None:
    hazards = section(full_report.read_text(encoding="utf-8"), "hazard-ratios")
    row = row_with(hazards, "interaction", "arm:b_cell_ges per IQR (-0.6\u20131.4)")
    assert "0.30 (0.15\u20130.59)" in row  # Cox 0.549^2
    assert "0.37 (0.18\u20130.73)" in row  # Bayesian exp(2 mean log HR)
    main = row_with(hazards, "interaction", "b_cell_ges per IQR (-0.6\u20131.4)")
    assert "1.21 (0.59\u20132.37)" in main  # 1.1^2 (0.77^2-1.54^2) for both
    assert row_with(hazards, "treatment", "arm")  # the treatment term has no scale


def test_without_biomarker_quartiles_interactions_are_per_unit(tmp_path: Path, writers: SimpleNamespace) -> None:
    writers.bayes(tmp_path)
    row = row_with(section(report_text(tmp_path), "interactions"), "b_cell_ges")
    assert "per unit" in row
    assert "0.61 (0.43\u20130.86)" in row


def test_optional_bayesian_sections_state_divergences(full_report: Path) -> None:
    page = full_report.read_text(encoding="utf-8")
    screen = section(page, "interaction-screen")
    rows = table_rows(screen)
    assert [cells for cells in rows if "sig_ifng" in cells]
    first = row_with(screen, "b_cell_ges")
    assert "0.60 (0.48\u20130.75)" in first  # exp(mean), bounds x0.8 and x1.25
    assert "not converged" in first
    assert ">2<" in first  # the whole fit's 2 divergences, on every row
    assert screen.index("b_cell_ges") < screen.index("sig_ifng")  # sorted by effect, most benefit first
    time_varying = section(page, "time-varying")
    assert "after 9.0" in time_varying
    assert "0.50 (0.30\u20130.75)" in row_with(time_varying, "3.0\u20139.0")
    prior = section(page, "prior-predictive")
    assert "Events in the follow-up" in prior
    assert "150 (20\u2013198)" in prior
    assert "Treatment hazard ratio of efs against the value of each biomarker: the spline" in page


def test_optional_sections_absent_when_not_computed(tmp_path: Path, writers: SimpleNamespace) -> None:
    writers.bayes(tmp_path)
    page = report_text(tmp_path)
    for absent in ("interaction-screen", "time-varying", "prior-predictive"):
        assert f'id="{absent}"' not in page


def test_validation_folder_shows_its_survival_figure(result_folder: Path) -> None:
    """A folder of tmesurv validate: metrics, calibration, benefit and the survival_<model> figure."""
    from tests.reports.conftest import write_png

    folder = result_folder / "validation_run"
    (folder / "figures").mkdir(parents=True)
    (folder / "validation.csv").write_bytes((result_folder / "validation.csv").read_bytes())
    for stem in ("calibration_cox_12", "benefit_cox_12", "survival_cox"):
        write_png(folder / "figures" / f"{stem}.png", stem)
    validation = section(report_text(folder), "validation")
    assert "harrell_c" in validation
    for stem in ("calibration_cox_12", "benefit_cox_12", "survival_cox"):
        assert f"{stem}.png" in validation
