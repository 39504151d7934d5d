"""The first end-to-end slice through the CLI: check, cox, bayes and report on one simulated cohort.

A study-size check (the ZUMA-7-like trial of 359 patients with its screens and 2 x 1,000 draws per Bayesian fit, about
a minute and a half): marked slow, run by ``.ci/run``'s second pytest call.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.models.cox.analyses import COX_COLUMNS
from tmesurv.models.pwe.analyses import BAYES_COLUMNS
from tmesurv.models.pwe.diagnostics import summarize_pwe
from tmesurv.models.pwe.storage import load_posteriors
from tmesurv.simulations.scenario import analysis_config, load_scenario
from tmesurv.simulations.trial import simulate_trial

FAST_BAYES = {"intervals": 16, "draws": 1000, "tune": 500, "chains": 2, "seed": 11}  # fine cuts: PWE ~ Cox
BIOMARKERS = ["b_cell_ges", "ldh_elevated"]  # Bayesian fits: scales on which a per-unit log HR is well conditioned
LEVELS = ("low", "high")
pytestmark = pytest.mark.slow


def _export():
    return simulate_trial(load_scenario("zuma7"), seed=5).to_frame()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Run check, cox, bayes and report once; return the result folder."""
    folder = tmp_path_factory.mktemp("study")
    _export().to_csv(folder / "cohort.csv", index=False)
    config = analysis_config(load_scenario("zuma7"), "cohort.csv", seed=5)
    config["bayes"] = FAST_BAYES | {"biomarkers": BIOMARKERS}
    config["validation_model"] = {"terms": BIOMARKERS, "interaction": "b_cell_ges"}
    (folder / "analysis.yaml").write_text(yaml.safe_dump(config))
    out = folder / "out"
    runner = CliRunner()
    for command in ("check", "cox", "bayes"):
        arguments = [command, str(folder / "analysis.yaml")] + ([] if command == "check" else ["--out", str(out)])
        result = runner.invoke(app, arguments)
        assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    return out


@pytest.mark.sampling
def test_cox_table_has_every_analysis(results: Path):
    cox = pd.read_csv(results / "cox.csv")
    assert list(cox.columns) == COX_COLUMNS
    assert set(cox["analysis"]) == {"treatment", "treatment_stratified", "interaction", "within_arm", "subgroup"}
    interaction = cox[(cox["analysis"] == "interaction") & (cox["subgroup"] == "b_cell_ges")]
    assert list(interaction["term"]) == ["arm", "b_cell_ges", "arm:b_cell_ges"]
    assert set(cox.loc[cox["analysis"] == "subgroup", "subgroup"]) == {
        *(f"{b}={level}" for b in ["b_cell_ges", "cd19_hscore", "sii", "spd_mm2", "ldh_elevated"] for level in LEVELS),
        "cd19_hscore=low & sii=high",
        "not (cd19_hscore=low & sii=high)",
        *(f"biopsy_timing={level}" for level in _export()["biopsy_timing"].dropna().unique()),
    }
    missing = _export()["b_cell_ges"].isna().sum()
    assert (interaction["n"] == 359 - missing).all()
    logrank = pd.read_csv(results / "logrank.csv")
    groupings = ["b_cell_ges", "cd19_hscore", "sii", "spd_mm2", "ldh_elevated", "cd19_hscore=low & sii=high"]
    per_grouping = [comparison for g in groupings for comparison in ("arm", "arm", g, g)]
    assert logrank["comparison"].tolist()[: 1 + len(per_grouping)] == ["arm", *per_grouping]
    interactions = pd.read_csv(results / "interactions.csv")
    assert interactions[["grouping", "scale"]].to_numpy().tolist()[:3] == [
        ["b_cell_ges", "continuous"],
        ["b_cell_ges", "groups"],
        ["cd19_hscore", "continuous"],
    ]
    spd = cox[(cox["analysis"] == "subgroup") & (cox["subgroup"] == "spd_mm2=high")]
    assert spd["n"].item() == (_export()["spd_mm2"] > 3721).sum()
    assert (results / "figures" / "forest_efs.png").stat().st_size > 10_000
    assert len(pd.read_csv(results / "screen_cox.csv")) == 2 * 2 * 48  # efs and dor, two arms, 48 features
    assert logrank.loc[0, "p"] < 0.001  # the ZUMA-7-like treatment effect is large
    exclusions = pd.read_csv(results / "exclusions.csv")
    assert exclusions.loc[0, "count"] == missing
    assert exclusions.loc[0, "reason"] == "missing b_cell_ges"


@pytest.mark.sampling
def test_bayes_agrees_with_cox_and_reloads(results: Path):
    bayes = pd.read_csv(results / "bayes.csv")
    assert list(bayes.columns) == BAYES_COLUMNS
    cox = pd.read_csv(results / "cox.csv")
    keys = ["endpoint", "analysis", "subgroup", "term"]
    paired = bayes.merge(cox, on=keys, suffixes=("_bayes", "_cox"))
    subgroups = paired["analysis"] == "subgroup"
    assert (~subgroups).sum() == 7  # treatment, and arm, biomarker, arm x biomarker for each of the two
    assert subgroups.sum() == 8  # b_cell_ges, ldh_elevated, the combined subgroup and biopsy timing: two levels each
    assert len(bayes) == len(paired) + 5  # treatment effect at the quartiles: three values of b_cell_ges, 0/1 of LDH
    assert (paired["r_hat"] < 1.01).all()
    np.testing.assert_allclose(paired.loc[~subgroups, "mean"], paired.loc[~subgroups, "coef"], atol=0.05)
    # small subgroups: the learned random-walk scale smooths the baseline; within a third of a Cox standard error
    distance = (paired["mean"] - paired["coef"]).abs() / paired["se"]
    assert (distance[subgroups] < 1 / 3).all(), paired.loc[subgroups, ["subgroup", "mean", "coef", "se"]]
    # Posterior survival per arm: a proportional-hazards model, so on this non-PH scenario (a cure fraction in the
    # treated arm) it is not the KM curve; check its structure, and that it is on the right side of the KM.
    survival = pd.read_csv(results / "bayes_survival.csv").query("subgroup == 'all'")
    assert set(survival["arm"]) == {"treated", "control", "difference"}
    assert (survival["lower"] <= survival["estimate"]).all()
    assert (survival["estimate"] <= survival["upper"]).all()
    landmarks = survival[survival["statistic"] == "survival"].pivot_table(
        index="time", columns="arm", values="estimate"
    )
    assert (landmarks["treated"] > landmarks["control"]).all()
    assert landmarks["control"].is_monotonic_decreasing
    config, fits = load_posteriors(results / "posterior.nc")
    rmst = survival[survival["statistic"] == "rmst"].set_index("arm")
    expected = closed_form_rmst(fits[0].idata, rmst["time"].iloc[0])  # from the saved (float32) draws
    np.testing.assert_allclose(rmst.loc[["treated", "control", "difference"], "estimate"], expected, rtol=2e-5)
    assert config["bayes"]["seed"] == FAST_BAYES["seed"]
    assert [(fit.analysis, fit.subgroup) for fit in fits][:3] == [
        ("treatment", "all"),
        ("interaction", "b_cell_ges"),
        ("interaction", "ldh_elevated"),
    ]
    reloaded = summarize_pwe(fits[1].idata)
    saved = bayes[bayes["subgroup"] == "b_cell_ges"].reset_index(drop=True)
    largest_draw = np.abs(fits[1].idata.posterior["coef"]).max("term").max().item()
    np.testing.assert_allclose(reloaded["mean"], saved["mean"], rtol=0, atol=2.0**-24 * largest_draw)  # float32 draws
    complete_cases = 359 - _export()["b_cell_ges"].isna().sum()
    assert fits[1].idata.loo["loo_i"].sizes["patient"] == complete_cases  # pointwise LOO, no draws x patients
    assert "log_likelihood" not in fits[1].idata.groups()


@pytest.mark.sampling
def test_report_shows_both_answers_and_the_run(results: Path):
    html = (results / "report.html").read_text()
    assert "arm:b_cell_ges" in html
    assert "data:image/png;base64," in html
    run = json.loads((results / "run.json").read_text())
    assert list(run["runs"]) == ["cox", "bayes"]
    assert run["runs"]["bayes"]["seed"] == FAST_BAYES["seed"]
    assert run["runs"]["cox"]["config_hash"] in html


@pytest.mark.sampling
def test_saved_models_validate_on_another_trial(results: Path, tmp_path: Path):
    """The Cox and Bayesian validation models of the development trial, scored on a second simulated trial."""
    external = simulate_trial(load_scenario("zuma7"), seed=6).to_frame()
    external.to_csv(tmp_path / "external.csv", index=False)
    config = analysis_config(load_scenario("zuma7"), "external.csv", seed=6)
    (tmp_path / "external.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "validation"
    arguments = ["validate", str(results), str(tmp_path / "external.yaml"), "--out", str(out), "--bootstrap", "50"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "validation.csv")
    assert {"cox", "bayes"} <= set(table["model"])  # and "all" for the model-free case-mix rows
    predictions = pd.read_csv(out / "predictions.csv")
    outcomes = external.set_index("subject_id")[["efs_time", "efs_event"]]
    for model in ("cox", "bayes"):
        scored = predictions[predictions["model"] == model].drop_duplicates("id").set_index("id")
        time, event = outcomes.loc[scored.index, "efs_time"], outcomes.loc[scored.index, "efs_event"]
        expected = pairwise_harrell_c(time.to_numpy(), event.to_numpy(), scored["linear_predictor"].to_numpy())
        harrell = table[(table["metric"] == "harrell_c") & (table["model"] == model)]["estimate"]
        np.testing.assert_allclose(harrell, expected, rtol=0, atol=1e-12)


def pairwise_harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C over every pair, as R's ``survival::concordance`` counts them: a pair is comparable when the shorter
    time is an event (an event and a censoring at the same time: the event first; two events at one time: not
    comparable); the higher risk failing first is concordant, tied risks count one half."""
    shorter = (time[:, None] < time[None, :]) | ((time[:, None] == time[None, :]) & (event[None, :] == 0))
    comparable = shorter & (event[:, None] == 1)
    concordant = (risk[:, None] > risk[None, :]) & comparable
    tied = (risk[:, None] == risk[None, :]) & comparable
    return (concordant.sum() + tied.sum() / 2) / comparable.sum()


def closed_form_rmst(idata, horizon: float) -> list[float]:
    """Posterior medians of RMST up to ``horizon`` (treated, control, difference) of a PH treatment fit, from its draws:
    the integral of ``exp(-H(t))`` over each baseline interval in closed form, ``S(a) (1 - exp(-r (b - a))) / r``."""
    posterior = idata.posterior
    log_baseline = posterior["log_baseline"].to_numpy().reshape(-1, posterior.sizes["interval"]).astype(float)
    arm = posterior["coef"].sel(term="arm").to_numpy().ravel().astype(float)
    edges = np.concatenate([[0.0], idata.constant_data["cuts"].to_numpy(), [np.inf]])
    areas = {}
    for name, log_ratio in (("treated", arm), ("control", 0.0 * arm)):
        area, cumulative = np.zeros(arm.size), np.zeros(arm.size)
        for k in range(edges.size - 1):
            start, end = edges[k], min(edges[k + 1], horizon)
            if end <= start:
                break
            rate = np.exp(log_baseline[:, k] + log_ratio)
            area += np.exp(-cumulative) * -np.expm1(-rate * (end - start)) / rate
            cumulative += rate * (end - start)
        areas[name] = area
    return [float(np.median(v)) for v in (areas["treated"], areas["control"], areas["treated"] - areas["control"])]
