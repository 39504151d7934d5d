"""The cohort's description (cohort.csv, biomarkers.csv) belongs to the study: one file, written once, listed once.

``tmesurv cox`` and ``tmesurv bayes`` both compute it (the reports of both state interaction HRs per IQR); whichever
writes into a folder first writes it, the other keeps it, and the report reads it whoever wrote it.
"""

import json
from pathlib import Path

import pytest
import yaml

import tmesurv as ts
from tests.conftest import small_config, small_export
from tmesurv.reports.format import format_posterior_hr, scaled_interval
from tmesurv.reports.html import write_report
from tmesurv.reports.results import read_results
from tmesurv.reports.sections.hazards import comparison

STUDY_FILES = ["biomarkers.csv", "cohort.csv"]


@pytest.fixture(scope="module")
def fits(tmp_path_factory) -> tuple[ts.CoxResult, ts.PweResult]:
    """Cox and small Bayesian fits of one study (two continuous biomarkers); sampled once for every order."""
    folder = tmp_path_factory.mktemp("study")
    small_export().to_csv(folder / "cohort.csv", index=False)
    (folder / "analysis.yaml").write_text(yaml.safe_dump(small_config("cohort.csv")))
    cohort = ts.Cohort.from_config(folder / "analysis.yaml")
    return ts.fit_cox(cohort), ts.fit_pwe(cohort, draws=100, tune=100, chains=2, seed=5)


def inodes(folder: Path) -> dict[str, int]:
    return {name: (folder / name).stat().st_ino for name in STUDY_FILES}


@pytest.mark.usefixtures("undrawn_figures")  # files and tables, not the figures
@pytest.mark.parametrize("order", [("cox", "bayes"), ("bayes", "cox")])
def test_cox_and_bayes_in_one_folder_write_the_cohort_description_once_and_report_from_it(fits, tmp_path: Path, order):
    cox, pwe = fits
    results = {"cox": cox, "bayes": pwe}
    first, second = (results[command] for command in order)
    first.write(tmp_path)
    assert all((tmp_path / name).read_text() == first.tables[Path(name).stem].to_csv(index=False)
               for name in STUDY_FILES)  # fmt: skip
    written = inodes(tmp_path)
    second.write(tmp_path)
    assert inodes(tmp_path) == written  # not replaced by the second command
    for name in STUDY_FILES:  # the API still returns the table, equal to the folder's file
        assert second.tables[Path(name).stem].to_csv(index=False) == (tmp_path / name).read_text(), name
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["study_files"] == STUDY_FILES
    listings = [*record["study_files"], *(name for run in record["runs"].values() for name in run["files"])]
    assert sorted(listings) == sorted(set(listings))  # every file listed once
    assert list(record["runs"]) == list(order)
    assert not any(name in run["files"] for run in record["runs"].values() for name in STUDY_FILES)
    assert_report_states_interactions_per_iqr(tmp_path, cox, pwe)


def assert_report_states_interactions_per_iqr(tmp_path: Path, cox: ts.CoxResult, pwe: ts.PweResult) -> None:
    """The report's Cox and Bayesian interaction HRs are per IQR of the folder's biomarkers.csv, whoever wrote it."""
    results = read_results(tmp_path)
    table = comparison(results.cox, results.bayes, results.biomarkers)
    quartiles = cox.tables["biomarkers"].set_index("biomarker")
    page = write_report(tmp_path).read_text(encoding="utf-8")
    for biomarker in ("b_cell_ges", "cd19_hscore"):
        q1, q3, iqr = quartiles.loc[biomarker, ["q1", "q3", "iqr"]]
        term = f"arm:{biomarker}"
        label = f"{term} per IQR ({q1:.4g}\u2013{q3:.4g})"
        (cells,) = [row.cells for row in table.table.rows if row.cells[1] == "interaction" and row.cells[3] == label]
        (cox_row,) = cox.table.query("analysis == 'interaction' and term == @term").itertuples()
        (bayes_row,) = pwe.model_table().query("analysis == 'interaction' and term == @term").itertuples()
        assert cells[4] == scaled_interval(cox_row.hr, cox_row.hr_lower, cox_row.hr_upper, iqr)  # Cox HR per IQR
        assert cells[7] == format_posterior_hr(bayes_row.mean, bayes_row.hr_lower, bayes_row.hr_upper, iqr)
        assert label in page
