"""A small synthetic result folder with every file the report reads, and a biomarker named like an HTML script."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tmesurv.reports.results import read_results

XSS = "<script>alert(1)</script>"
BIOMARKERS = ("b_cell_ges", XSS)
ARMS = {"treated": 0.04, "control": 0.08}  # monthly hazard of the synthetic curves
ARM_NAMES = {"treated": "axi-cel", "control": "SOC"}
LEVEL_FACTOR = {"low": 1.3, "high": 0.75}
KM_COLUMNS = ["endpoint", "arm", "subgroup", "statistic", "time", "estimate", "lower", "upper", "n", "events"]
KM_COLUMNS.append("ci_method")


def section(page: str, name: str) -> str:
    """The HTML inside the report's ``<section id="name">``."""
    return page.split(f'<section id="{name}"')[1].split("</section>")[0]


def table_rows(text: str) -> list[str]:
    """Every ``<tr>`` of ``text``, in order."""
    return re.findall(r"<tr[^>]*>.*?</tr>", text, flags=re.DOTALL)


def row_with(text: str, *cells: str) -> str:
    """The first table row of ``text`` that has a cell reading exactly each of ``cells``."""
    return next(row for row in table_rows(text) if all(f">{cell}</td>" in row for cell in cells))


def subgroups() -> list[str]:
    """Every subgroup of the synthetic results: two levels per biomarker."""
    return [f"{biomarker}={level}" for biomarker in BIOMARKERS for level in LEVEL_FACTOR]


def write_csv(folder: Path, name: str, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(folder / name, index=False)


def write_cohort(folder: Path) -> None:
    write_csv(
        folder,
        "cohort.csv",
        [
            {"arm": "control", "patients": 100, "events": 70, "median_follow_up": 14.2},
            {"arm": "treated", "patients": 100, "events": 48, "median_follow_up": 15.1},
        ],
    )
    write_csv(
        folder,
        "exclusions.csv",
        [{"analysis": f"biomarker {XSS}", "reason": f"missing {XSS}", "count": 3, "ids": "P1;P2;P3"}],
    )


def km_rows(subgroup: str, hazard: float) -> list[dict]:
    rows = []
    for arm, arm_hazard in ARMS.items():
        at_risk = 50
        for month in range(0, 25, 2):
            survival = float(np.exp(-arm_hazard * hazard * month))
            rows.append(
                {"endpoint": "efs", "arm": arm, "subgroup": subgroup, "time": float(month), "survival": survival}
                | {"lower": survival * 0.9, "upper": min(1.0, survival * 1.1), "at_risk": at_risk}
            )
            at_risk -= 2
    return rows


def write_km(folder: Path) -> None:
    rows = km_rows("all", 1.0)
    for subgroup in subgroups():
        rows += km_rows(subgroup, LEVEL_FACTOR[subgroup.rpartition("=")[2]])
    write_csv(folder, "km_curves.csv", rows)
    summary = pd.DataFrame(
        [
            ["efs", "treated", "all", "median", np.nan, 16.9, 12.1, np.nan, 100, 48, "log-log"],
            ["efs", "control", "all", "median", np.nan, 9.6, 7.2, 12.4, 100, 70, "log-log"],
            ["efs", "treated", "all", "survival", 12.0, 0.61, 0.51, 0.70, 100, 48, "log-log"],
            ["efs", "treated", "b_cell_ges=high", "survival", 12.0, 0.71, 0.51, 0.80, 50, 20, "log-log"],
        ],
        columns=KM_COLUMNS,
    )
    summary.to_csv(folder / "km.csv", index=False)
    curves = [{k: v for k, v in row.items() if k != "at_risk"} | {"model": "ph"} for row in rows]
    write_csv(folder, "bayes_curves.csv", curves)
    survival = [
        {"endpoint": "efs", "subgroup": subgroup, "model": "ph", "arm": arm, "statistic": statistic, "time": time}
        | {"estimate": estimate, "lower": estimate * 0.8, "upper": estimate * 1.2}
        for subgroup in ("all", "b_cell_ges=high")
        for arm, estimate in (("treated", 0.5), ("control", 0.2), ("difference", 0.3))
        for statistic, time in (("median", np.nan), ("survival", 12.0), ("rmst", 24.0))
    ]
    write_csv(folder, "bayes_survival.csv", survival)


def cox_row(analysis: str, subgroup: str, term: str, hr: float, p: float = 0.03) -> dict:
    counts = {"n": 100, "events": 60, "n_treated": 50, "events_treated": 25, "n_control": 50, "events_control": 35}
    return (
        {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "term": term}
        | counts
        | {"coef": np.log(hr), "se": 0.2, "hr": hr, "hr_lower": hr * 0.7, "hr_upper": hr * 1.4, "p": p}
    )


def write_cox(folder: Path) -> None:
    rows = [cox_row("treatment", "all", "arm", 0.67, 0.0262), cox_row("treatment_stratified", "all", "arm", 0.66)]
    for biomarker in BIOMARKERS:
        rows += [
            cox_row("interaction", biomarker, "arm", 0.6),
            cox_row("interaction", biomarker, biomarker, 1.1),
            cox_row("interaction", biomarker, f"arm:{biomarker}", 0.549, 0.0000123),
        ]
    rows += [cox_row("subgroup", s, "arm", 0.4 if s.endswith("high") else 0.9, 0.2) for s in subgroups()]
    write_csv(folder, "cox.csv", rows)
    write_csv(
        folder,
        "interactions.csv",
        [
            {"endpoint": "efs", "grouping": biomarker, "scale": scale, "n": 100, "events": 60, "df": 1}
            | {"wald_chisq": 4.0, "wald_p": 0.04, "lrt_chisq": 4.1, "lrt_p": 0.012, "rule": "high above median"}
            for biomarker in BIOMARKERS
            for scale in ("continuous", "groups")
        ],
    )


PH_REJECTED = {("treatment", "all", "arm"): 0.004, ("subgroup", "b_cell_ges=high", "arm"): 0.03}  # P < 0.05


def write_subgroups_and_tests(folder: Path) -> None:
    """subgroups.csv, logrank.csv, ph_test.csv and ph_residuals.csv of tmesurv cox."""
    cuts = {"b_cell_ges": ("\u2264 0.1", "> 0.1", "high above median (0.1)"), XSS: ("= 0", "= 1", "two levels")}
    write_csv(
        folder,
        "subgroups.csv",
        [
            {"grouping": name, "kind": "biomarker", "level": level, "subgroup": f"{name}={level}"}
            | {"description": f"{name} {cuts[name][index]}", "n": 50, "rule": cuts[name][2]}
            for name in BIOMARKERS
            for index, level in enumerate(("low", "high"))
        ],
    )
    tests = [("arm", "all", 0.0262)] + [("arm", s, 0.2 if s.endswith("high") else 0.5) for s in subgroups()]
    tests += [(b, arm, 0.04) for b in BIOMARKERS for arm in ARMS]
    write_csv(
        folder,
        "logrank.csv",
        [
            {"endpoint": "efs", "comparison": comparison, "subgroup": subgroup, "n": 100, "events": 60}
            | {"chisq": 4.95, "df": 1, "p": p}
            for comparison, subgroup, p in tests
        ],
    )
    models = [("treatment", "all", ["arm"])] + [("interaction", b, ["arm", b, f"arm:{b}"]) for b in BIOMARKERS]
    models += [("subgroup", s, ["arm"]) for s in subgroups()]
    write_csv(
        folder,
        "ph_test.csv",
        [
            {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "model": " + ".join(terms), "term": term}
            | {"transform": "km", "chisq": 1.2, "df": 1, "p": PH_REJECTED.get((analysis, subgroup, term), 0.5)}
            for analysis, subgroup, terms in models
            for term in [*terms, "GLOBAL"]
        ],
    )
    rng = np.random.default_rng(5)
    time = np.sort(rng.uniform(0.1, 24.0, 60))
    residuals = [
        {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "term": term, "transform": "km"}
        | {"time": t, "transformed_time": k / 60, "residual": float(rng.normal(-0.4, 1.5))}
        for analysis, subgroup, terms in models[: 1 + len(BIOMARKERS)]
        for term in terms
        for k, t in enumerate(time)
    ]
    write_csv(folder, "ph_residuals.csv", residuals)


def bayes_row(analysis: str, subgroup: str, term: str, hr: float, converged: bool = True) -> dict:
    return {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "term": term, "model": "ph"} | {
        "mean": np.log(hr),
        "sd": 0.17,
        "hr_mean": hr,
        "hr_lower": hr * 0.7,
        "hr_upper": hr * 1.4,
        "prob_hr_below_1": 0.998 if hr < 1 else 0.3,
        "r_hat": 1.001 if converged else 1.087,
        "ess_bulk": 2450 if converged else 95,
        "ess_tail": 2000 if converged else 80,
        "bfmi_min": 0.9,
        "converged": converged,
        "divergences": 0,
    }


def write_bayes(folder: Path) -> None:
    rows = [bayes_row("treatment", "all", "arm", 0.684)]
    for biomarker in BIOMARKERS:
        converged = biomarker != XSS  # the odd biomarker's interaction model did not converge
        rows += [
            bayes_row("interaction", biomarker, "arm", 0.62, converged),
            bayes_row("interaction", biomarker, biomarker, 1.1, converged),
            bayes_row("interaction", biomarker, f"arm:{biomarker}", 0.612, converged),
        ]
        rows += [
            bayes_row("treatment_at", f"{biomarker}={value:.4g}", "arm", hr, converged)
            for value, hr in ((-0.6, 0.8), (0.0, 0.55), (0.5, 0.35))
        ]
    rows += [bayes_row("subgroup", s, "arm", 0.42 if s.endswith("high") else 0.88) for s in subgroups()]
    write_csv(folder, "bayes.csv", rows)


BIOMARKER_IQR = 2.0  # b_cell_ges: quartiles -0.6 and 1.4; the other biomarker is two-level


def write_biomarkers(folder: Path) -> None:
    write_csv(
        folder,
        "biomarkers.csv",
        [
            {"biomarker": "b_cell_ges", "n": 95, "two_level": False, "q1": -0.6, "median": 0.1, "q3": 1.4}
            | {"iqr": BIOMARKER_IQR},
            {"biomarker": XSS, "n": 97, "two_level": True, "q1": 0.0, "median": 0.0, "q3": 1.0, "iqr": 1.0},
        ],
    )


def write_bayes_options(folder: Path) -> None:
    """The optional Bayesian outputs: spline curve, interaction screen, time-varying effect, prior check."""
    values = np.linspace(-1.0, 1.5, 20)
    hr = np.exp(-0.2 - 0.4 * values)
    curve = {"endpoint": "efs", "biomarker": "b_cell_ges", "value": values, "hr": hr, "lower": hr * 0.7}
    write_csv(
        folder,
        "bayes_hr_curve.csv",
        pd.DataFrame(curve | {"upper": hr * 1.4})
        .assign(prob_hr_below_1=0.9, converged=True, divergences=0)
        .to_dict("records"),
    )
    screen = [
        {"endpoint": "efs", "shrinkage": "horseshoe", "biomarker": name, "term": f"arm:{name}", "n": 90}
        | {"events": 60, "biomarker_mean": 0.0, "biomarker_sd": 1.5, "mean": np.log(hr), "sd": 0.1}
        | {"hr_mean": hr, "hr_lower": hr * 0.8, "hr_upper": hr * 1.25, "prob_hr_below_1": 0.7, "kappa": 0.9}
        | {"r_hat": 1.02, "ess_bulk": 300, "ess_tail": 250, "bfmi_min": 0.8, "converged": False, "divergences": 2}
        | {"max_treedepth": 0}
        for name, hr in (("b_cell_ges", 0.6), (XSS, 1.05), ("sig_ifng", 0.97))
    ]
    write_csv(folder, "bayes_screen.csv", screen)
    intervals = [(0, 0.0, 3.0, 0.3), (1, 3.0, 9.0, 0.5), (2, 9.0, np.inf, 0.8)]
    time_varying = [
        {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "interval": k, "start": start, "end": end}
        | {"events": 20, "mean": np.log(hr), "sd": 0.2, "hr_mean": hr, "hr_lower": hr * 0.6, "hr_upper": hr * 1.5}
        | {"prob_hr_below_1": 0.9, "r_hat": 1.001, "ess_bulk": 900, "ess_tail": 800, "bfmi_min": 0.9}
        | {"converged": True, "divergences": 0}
        for analysis, subgroup in (("treatment", "all"), ("subgroup", "b_cell_ges=high"))
        for k, start, end, hr in intervals
    ]
    write_csv(folder, "bayes_time_varying.csv", time_varying)
    prior = [
        {"endpoint": "efs", "statistic": "survival", "arm": arm, "time": time, "estimate": 0.5, "lower": 0.02}
        | {"upper": 0.98, "observed": observed, "prob_below_observed": 0.4}
        for arm, time, observed in (("control", 12.0, 0.38), ("treated", 12.0, 0.62), ("control", 24.0, 0.15))
    ]
    prior.append(
        {"endpoint": "efs", "statistic": "events", "arm": "all", "time": np.nan, "estimate": 150, "lower": 20}
        | {"upper": 198, "observed": 118, "prob_below_observed": 0.3}
    )
    write_csv(folder, "bayes_prior_predictive.csv", prior)
    write_model_check(folder)


def write_model_check(folder: Path) -> None:
    """The fit check (the subgroup b_cell_ges=high misfits in its treated arm) and PSIS-LOO of the treatment model."""
    checks = [
        {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "model": "ph", "arm": arm, "n": 50}
        | {"events": 30}
        | {
            "follow_up": 24.0,
            "max_abs_difference": difference,
            "largest_at": 3.0,
            "mean_abs_difference": difference / 3,
        }
        | {"share_in_band": share, "misfit": share < 0.65}
        for analysis, subgroup in (("treatment", "all"), ("subgroup", "b_cell_ges=high"))
        for arm in ARMS
        for difference, share in [(0.12, 0.5) if (subgroup, arm) == ("b_cell_ges=high", "treated") else (0.03, 0.95)]
    ]
    write_csv(folder, "bayes_fit_check.csv", checks)
    loo = [
        {"endpoint": "efs", "analysis": "treatment", "subgroup": "all", "model": model, "elpd_loo": elpd, "se": 20.0}
        | {"p_loo": p_loo, "elpd_diff": diff, "dse": dse, "n_pareto_k_high": 0, "rank": rank}
        for model, elpd, p_loo, diff, dse, rank in (
            ("time_varying", -400.0, 9.0, 0.0, 0.0, 0),
            ("ph", -409.5, 7.0, 9.5, 3.1, 1),
        )
    ]
    write_csv(folder, "bayes_loo.csv", loo)


def write_run(folder: Path) -> None:
    config = {
        "data": {
            "arm": {"column": "arm", "treated": "axi-cel", "control": "SOC"},
            "time_unit": "months",
            "biomarkers": list(BIOMARKERS),
            "strata": ["first_line_response"],
        },
        "analysis": {
            "endpoint": "efs",
            "cutpoint": "median",
            "cutpoints": {"spd_mm2": 3721},
            "combined_subgroups": [{"cd19_hscore": "low", "sii": "high"}],
            "landmarks": [12.0, 24.0],
            "km_ci": "log-log",
        },
        "bayes": {
            "sampler": "nutpie",
            "intervals": 8,
            "draws": 300,
            "tune": 300,
            "chains": 2,
            "seed": 3,
            "priors": {"coef_sd": 10.0, "baseline_sd": 10.0, "random_walk_sd": 1.0, "random_walk_sd_fixed": False},
        },
    }
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    files = [name for name in files if name != "run.json"]  # every file present: call it after the others
    runs = {
        "cox": {"config": config, "config_hash": "abc123def456", "files": files},
        "bayes": {"config": config, "config_hash": "abc123def456", "seed": 20240611},
    }
    run = {"tmesurv_version": "0.1.0", "study_hash": "5tudy", "runs": runs}
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")


def write_png(path: Path, title: str) -> None:
    figure = Figure(figsize=(3.0, 2.0))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title(title, parse_math=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=40)


def write_other_runs(folder: Path) -> None:
    """Results of tmesurv validate and tmesurv power, and the figures of every command."""
    write_csv(
        folder,
        "validation.csv",
        [
            {"model": "cox", "metric": "harrell_c", "group": "", "horizon": np.nan, "estimate": 0.68}
            | {"lower": 0.62, "upper": 0.74, "n": 120, "events": 80, "note": ""},
            {"model": "cox", "metric": "brier", "group": XSS, "horizon": 12.0, "estimate": 0.19}
            | {"lower": 0.15, "upper": 0.22, "n": 120, "events": 80, "note": "IPCW"},
            {"model": "cox", "metric": "emax", "group": "all", "horizon": 12.0, "estimate": 0.0753}
            | {"lower": 0.041, "upper": 0.112, "n": 120, "events": 80, "note": ""},
        ],
    )
    write_csv(
        folder,
        "power.csv",
        [
            {"design": "randomized", "n": n, "interaction_hr": 0.5, "method": method, "power": power}
            | {"power_mcse": 0.01, "mean_events": n * 0.6, "analytic_power": power + 0.02}
            for n in (200, 400)
            for method, power in (("cox_interaction", 0.5 + n / 1000), ("median_split", 0.3 + n / 1000))
        ],
    )
    for stem in ("volcano_cox_efs_treated", "pca", "calibration_cox_12", "decision_curve_cox_12", "benefit_cox_12"):
        write_png(folder / "figures" / f"{stem}.png", stem)
    write_png(folder / "power_curve.png", "power")


def write_all(folder: Path) -> Path:
    """Every result file of cox, bayes (with every option), validate and power into ``folder``."""
    writers = (write_cohort, write_km, write_cox, write_subgroups_and_tests, write_bayes, write_biomarkers)
    writers += (write_bayes_options,)
    for writer in (*writers, write_other_runs, write_run):
        writer(folder)
    return folder


@pytest.fixture
def result_folder(tmp_path: Path) -> Path:
    """A result folder of cox, bayes, validate and power with every file the report reads."""
    return write_all(tmp_path)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a full synthetic result folder, written once per test module."""
    from tmesurv.reports.html import write_report

    return write_report(write_all(tmp_path_factory.mktemp("results")))


@pytest.fixture
def writers() -> SimpleNamespace:
    """The writers of the synthetic result files, to build a folder with only some of them."""
    return SimpleNamespace(
        cohort=write_cohort,
        km=write_km,
        cox=write_cox,
        cox_tests=write_subgroups_and_tests,
        bayes=write_bayes,
        biomarkers=write_biomarkers,
        bayes_options=write_bayes_options,
        run=write_run,
        other_runs=write_other_runs,
        csv=write_csv,
    )


# Fixtures of the figure and table tests (their data builders are in tests/reports/builders.py).
@pytest.fixture(scope="module")
def km_curves() -> pd.DataFrame:
    from tests.reports import builders  # the builders import this module

    parts = []
    for arm, hazard in (("treated", 0.03), ("control", 0.08)):
        parts.append(builders.step_curve(arm, "all", hazard))
        parts += [
            builders.step_curve(arm, f"b_cell_ges={level}", hazard * m) for level, m in (("low", 1.4), ("high", 0.7))
        ]
        parts += [builders.step_curve(arm, f"diagtime=Q{q}", hazard * (0.6 + 0.2 * q)) for q in range(1, 5)]
        parts.append(builders.step_curve(arm, "not (cd19_hscore=low & sii=high)", hazard))
        parts.append(builders.step_curve(arm, "cd19_hscore=low & sii=high", hazard * 2))
        parts.append(builders.step_curve(arm, f"{builders.MATH}={XSS}", hazard))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def cox() -> pd.DataFrame:
    from tests.reports import builders

    rows = [builders.cox_row("treatment", "all", 0.5), builders.cox_row("interaction", "", 1.2, term="arm:b_cell_ges")]
    rows += [builders.cox_row("subgroup", f"b_cell_ges={level}", hr) for level, hr in (("low", 0.8), ("high", 0.35))]
    quartiles = ((1, 0.5), (2, np.nan), (3, 0.7), (4, 0.4))
    rows += [builders.cox_row("subgroup", f"diagtime=Q{q}", hr) for q, hr in quartiles]
    rows += [
        builders.cox_row("subgroup", "cd19_hscore=low & sii=high", 1.1),
        builders.cox_row("subgroup", f"{builders.MATH}={XSS}", 0.6),
    ]
    rows.append(builders.cox_row("subgroup", "not (cd19_hscore=low & sii=high)", 0.45))
    table = pd.DataFrame(rows, columns=builders.COX_COLUMNS)
    table.loc[table["subgroup"] == "diagtime=Q1", ["hr_lower", "hr_upper"]] = [0.0, np.inf]  # monotone likelihood
    return table


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory):
    return read_results(write_all(tmp_path_factory.mktemp("results")))
