"""The HTML report: self-contained, escaped, sections by file, atomic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tmesurv import outputs
from tmesurv.errors import InputError
from tmesurv.reports import figures, html

XSS = "<script>alert(1)</script>"

COX_HEADER = "endpoint,analysis,subgroup,term,n,events,coef,se,hr,hr_lower,hr_upper,p"
BAYES_HEADER = (
    "endpoint,analysis,subgroup,term,mean,sd,hr_mean,hr_lower,hr_upper,prob_hr_below_1,r_hat,ess_bulk,converged"
)


def write(folder: Path, name: str, *lines: str) -> None:
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_cox(folder: Path) -> None:
    write(
        folder,
        "cox.csv",
        COX_HEADER,
        "pfs,overall,,treatment,200,120,-0.4,0.18,0.670,0.471,0.953,0.0262",
        "pfs,interaction,,treatment:PD-L1,200,120,-0.6,0.25,0.549,0.336,0.896,0.0000123",
        f'pfs,subgroup,"{XSS}",treatment,80,50,-0.1,0.3,0.905,0.503,1.628,0.74',
    )


def write_bayes(folder: Path) -> None:
    write(
        folder,
        "bayes.csv",
        BAYES_HEADER,
        "pfs,overall,,treatment,-0.39,0.17,0.684,0.49,0.95,0.998,1.001,2450,True",
        "pfs,interaction,,treatment:PD-L1,-0.55,0.3,0.612,0.33,1.12,0.93,1.087,95,False",
        "pfs,interaction,,treatment:TMB,-0.2,0.2,0.83,0.55,1.21,0.83,1.002,1900,true",
    )


def write_km(folder: Path) -> None:
    lines = ["endpoint,arm,subgroup,time,survival,lower,upper,at_risk"]
    for arm, hazard in (("treated", 0.04), ("control", 0.07)):
        survival, at_risk = 1.0, 100
        for month in range(25):
            lines.append(
                f"pfs,{arm},all,{month},{survival:.4f},{survival * 0.9:.4f},{min(1, survival * 1.1):.4f},{at_risk}"
            )
            survival *= 1 - hazard
            at_risk -= 3
    write(folder, "km_curves.csv", *lines)
    write(
        folder,
        "km.csv",
        "endpoint,arm,subgroup,statistic,time,estimate,lower,upper,n,events,ci_method",
        "pfs,treated,all,median,,16.9,12.1,,100,48,log-log",
        "pfs,control,all,median,,9.6,7.2,12.4,100,70,log-log",
        "pfs,treated,all,survival,12,0.61,0.51,0.70,100,48,log-log",
        "pfs,treated,PD-L1=high,survival,12,0.71,0.51,0.80,50,20,log-log",
    )


def write_cohort(folder: Path) -> None:
    write(
        folder,
        "cohort.csv",
        "arm,patients,events,median_follow_up",
        "control,100,70,14.2",
        "treated,100,48,15.1",
    )
    write(
        folder,
        "exclusions.csv",
        "analysis,reason,count,ids",
        f"biomarker,missing {XSS},3,P1;P2;P3",
    )


def write_run(folder: Path) -> None:
    run = {
        "tmesurv_version": "0.1.0",
        "config_hash": "abc123def456",
        "config": {"data": {"biomarkers": [XSS]}},
        "seed": 20240611,
        "commands": ["tmesurv run config.yaml"],
    }
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")


@pytest.fixture
def full_results(tmp_path: Path) -> Path:
    for writer in (write_cox, write_bayes, write_km, write_cohort, write_run):
        writer(tmp_path)
    return tmp_path


def report_text(folder: Path) -> str:
    return html.write_report(folder).read_text(encoding="utf-8")


def comparison_row(page: str, term: str, subgroup: str = "All") -> str:
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, flags=re.DOTALL)
    return next(row for row in rows if f"<td>{term}</td>" in row and f"<td>{subgroup}</td>" in row)


def test_report_is_one_self_contained_file(full_results: Path) -> None:
    path = html.write_report(full_results)
    page = path.read_text(encoding="utf-8")
    assert path == full_results / "report.html"
    assert "http://" not in page
    assert "https://" not in page
    assert "<link" not in page
    assert "<script" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 1  # one Kaplan-Meier figure, for the one endpoint
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="Kaplan-Meier curves of pfs', page)


def test_side_by_side_row_has_cox_and_bayes_hazard_ratios(full_results: Path) -> None:
    row = comparison_row(report_text(full_results), "treatment")
    assert "0.67 (0.47\u20130.95)" in row  # Cox HR (95% CI)
    assert "0.68 (0.49\u20130.95)" in row  # posterior mean HR (95% CrI)
    assert "0.0262" in row
    assert "120/200" in row
    assert "&gt;0.99" in row
    assert "not converged" not in row


def test_unconverged_term_is_flagged_with_badge_and_banner(full_results: Path) -> None:
    page = report_text(full_results)
    row = comparison_row(page, "treatment:PD-L1")
    assert 'class="flagged"' in row
    assert 'class="badge"' in row
    assert "not converged" in row
    assert "&lt;0.001" in row
    assert "1 of 3 Bayesian" in page
    assert page.count('class="badge"') == 1


def test_term_in_one_file_only_shows_with_blanks(full_results: Path) -> None:
    page = report_text(full_results)
    bayes_only = comparison_row(page, "treatment:TMB")
    assert "0.83 (0.55\u20131.21)" in bayes_only
    assert '<td class="num"></td>' in bayes_only  # no Cox estimate
    cox_only = comparison_row(page, "treatment", subgroup="&lt;script&gt;alert(1)&lt;/script&gt;")
    assert "0.91 (0.50\u20131.63)" in cox_only
    assert "0.74" in cox_only
    assert cox_only.count('<td class="num"></td>') == 4  # no Bayesian HR, P(HR<1), R-hat, ESS
    assert "badge" not in cox_only


def test_user_strings_are_escaped(full_results: Path) -> None:
    page = report_text(full_results)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page


def test_only_cox_results_give_cox_table_only(tmp_path: Path) -> None:
    write_cox(tmp_path)
    page = report_text(tmp_path)
    assert "HR (95% CI)" in page
    assert "Posterior mean HR" not in page
    assert "R-hat" not in page
    assert 'id="kaplan-meier"' not in page
    assert 'id="cohort"' not in page
    assert "<img" not in page
    assert "No run.json" in page


def test_only_bayes_results_give_bayes_table_only(tmp_path: Path) -> None:
    write_bayes(tmp_path)
    page = report_text(tmp_path)
    assert "Posterior mean HR" in page
    assert "Wald P" not in page
    assert 'class="banner"' in page


def test_empty_folder_gives_a_report_saying_so(tmp_path: Path) -> None:
    page = report_text(tmp_path)
    assert "No result files were found" in page


def test_cohort_section_lists_arms_and_exclusions(full_results: Path) -> None:
    page = report_text(full_results)
    cohort = page.split('<section id="cohort">')[1].split("</section>")[0]
    assert cohort.index("<td>treated</td>") < cohort.index("<td>control</td>")
    assert "<td>Total</td>" in cohort
    assert '<td class="num">200</td>' in cohort
    assert "missing &lt;script&gt;" in cohort
    assert "P1;P2" not in cohort


def test_km_table_states_ci_method_and_not_reached(full_results: Path) -> None:
    page = report_text(full_results)
    assert "Confidence interval method: log-log" in page
    assert "16.9 (12.1\u2013NR)" in page
    assert "Survival at 12 months" in page


def test_reproducibility_footer(full_results: Path) -> None:
    page = report_text(full_results)
    footer = page.split("<footer>")[1]
    assert "abc123def456" in footer
    assert "20240611" in footer
    assert "0.1.0" in footer


def test_failure_while_rendering_leaves_no_report(full_results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> figures.FigureImage:
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures, "km_figure", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        html.write_report(full_results)
    assert not (full_results / "report.html").exists()
    assert not [path.name for path in full_results.iterdir() if path.name.startswith(".")]  # no temporary file


def test_failure_while_writing_keeps_old_report_and_removes_temp(
    full_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (full_results / "report.html").write_text("old", encoding="utf-8")

    def broken_replace(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(outputs.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        html.write_report(full_results)
    assert (full_results / "report.html").read_text(encoding="utf-8") == "old"
    assert not [path.name for path in full_results.iterdir() if path.name.startswith(".")]


def test_malformed_file_is_an_input_error(tmp_path: Path) -> None:
    write(tmp_path, "cox.csv", "endpoint,term,hr", "pfs,treatment,0.7")
    with pytest.raises(InputError, match=r"cox\.csv.*no column"):
        html.write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_numbers_at_risk_read_off_step_data() -> None:
    curve = pd.DataFrame({"time": [0.0, 2.0, 5.0, 7.5], "at_risk": [10, 8, 5, 2]})
    times = figures.at_risk_times(7.5)
    assert list(times) == [0.0, 3.0, 6.0]
    assert list(figures.numbers_at_risk(curve, times)) == [10, 5, 2]
    assert list(figures.numbers_at_risk(curve, [8.0])) == [0]


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
    image = figures.km_figure(curves, "PFS $x^{")  # unbalanced mathtext must be drawn literally
    assert image.src.startswith("data:image/png;base64,")
    assert "PFS $x^{" in image.alt
