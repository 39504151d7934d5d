"""The Bayesian analyses of a cohort: chosen treatment-effect values, the optional outputs and their files."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest

from tests.conftest import small_config, small_export
from tmesurv.api.bayes import fit_pwe
from tmesurv.cohort import Cohort
from tmesurv.errors import InputError
from tmesurv.models.pwe.analyses import (
    BAYES_PRIOR_PREDICTIVE_COLUMNS,
    BAYES_SCREEN_COLUMNS,
    BAYES_TIME_VARYING_COLUMNS,
    HR_CURVE_COLUMNS,
    _check_hr_curves,
    pwe_analyses,
    screen_columns,
)
from tmesurv.models.pwe.notes import beyond_follow_up_notes
from tmesurv.models.pwe.rows import treatment_at_rows
from tmesurv.models.pwe.settings import PweAnalysisSettings
from tmesurv.models.pwe.storage import PweFit
from tmesurv.reports.html import write_report


def point_mass_fit(arm: float, interaction: float, biomarker: str = "b") -> PweFit:
    """An interaction model whose posterior is one point, repeated over 2 chains x 3 draws."""
    coef = np.broadcast_to([arm, 0.2, interaction], (2, 3, 3)).copy()
    idata = az.from_dict(
        posterior={"coef": coef}, coords={"term": ["arm", biomarker, f"arm:{biomarker}"]}, dims={"coef": ["term"]}
    )
    return PweFit("efs", "interaction", biomarker, idata)


def interaction_summary(biomarker: str = "b") -> pd.DataFrame:
    diagnostics = {"r_hat": 1.0, "ess_bulk": 900.0, "ess_tail": 800.0, "bfmi_min": 0.9, "converged": True}
    sampled = {"divergences": 0, "target_accept": 0.95, "reruns": 1, "note": "re-run"}
    return pd.DataFrame([{"term": f"arm:{biomarker}"} | diagnostics | sampled])


def test_treatment_at_quartiles_and_chosen_values_from_a_point_mass():
    values = np.array([0.0, 1.0, 2.0, 3.0, 4.0])  # quartiles 1, 2, 3 (type 7)
    rows = treatment_at_rows(point_mass_fit(-0.5, 0.1), values, [2.0, 10.0], interaction_summary())
    assert rows["subgroup"].tolist() == ["b=1", "b=2", "b=3", "b=10"]  # 2.0 is a quartile: given once
    np.testing.assert_allclose(rows["mean"], [-0.4, -0.3, -0.2, 0.5])  # -0.5 + 0.1 x
    np.testing.assert_allclose(rows["hr_mean"], np.exp([-0.4, -0.3, -0.2, 0.5]))
    np.testing.assert_allclose(rows["hr_lower"], rows["hr_upper"])
    assert rows["prob_hr_below_1"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert (rows["analysis"] == "treatment_at").all()
    assert rows[["target_accept", "reruns", "note"]].drop_duplicates().to_numpy().tolist() == [[0.95, 1, "re-run"]]


def test_chosen_values_keep_six_significant_digits():
    rows = treatment_at_rows(point_mass_fit(0.0, 1e-6), np.arange(10.0), [3721.5, 1234567.0], interaction_summary())
    assert rows["subgroup"].tolist()[-2:] == ["b=3721.5", "b=1.23457e+06"]
    np.testing.assert_allclose(rows["mean"].iloc[-2:], [3.7215e-3, 1.234567])


@pytest.fixture
def study(write_study):
    """The small export with two screened features and a 0/1 biomarker."""
    export = small_export(n_per_arm=40, seed=5)
    rng = np.random.default_rng(2)
    export = export.assign(sig_a=rng.normal(size=80), sig_b=rng.normal(size=80), ldh_elevated=rng.integers(0, 2, 80))
    config = small_config()
    config["data"] |= {"features": ["sig_*"], "biomarkers": ["b_cell_ges", "cd19_hscore", "ldh_elevated"]}
    return Cohort.from_config(write_study(export, config))


def test_screen_columns_expand_patterns_and_name_a_miss(study):
    assert screen_columns(study, ["cd19_hscore", "sig_*", "sig_a"]) == ["cd19_hscore", "sig_a", "sig_b"]
    with pytest.raises(InputError, match=r"bayes.screen: 'cd8_\*' matches no biomarker or feature"):
        screen_columns(study, ["cd8_*"])


def test_a_two_level_biomarker_has_no_spline_curve(study):
    settings = study.config.bayes.model_copy(update={"hr_curves": ["ldh_elevated"]})
    with pytest.raises(InputError, match=r"bayes.hr_curves: 'ldh_elevated' has 2 distinct values"):
        _check_hr_curves(study, settings)


def test_a_horseshoe_expecting_as_many_interactions_as_screened_biomarkers_fails_before_any_fit(study):
    bayes = study.config.bayes.model_copy(update={"screen": ["b_cell_ges", "cd19_hscore"], "shrinkage": "horseshoe"})
    bayes = bayes.model_copy(update={"priors": bayes.priors.model_copy(update={"expected_interactions": 2.0})})
    fits, analysis = [], study.config.analysis
    with pytest.raises(InputError, match=r"bayes.priors.expected_interactions \(2.0\) must be .* below .* \(2\)"):
        pwe_analyses(study, analysis.endpoint, analysis, analysis.landmarks, bayes, progress=fits.append)
    assert fits == []


def bayes_config(**bayes) -> dict:
    """The small study's config with a time-varying Bayes section of 200 draws and the given keys."""
    config = small_config()
    config["analysis"]["landmarks"] = [6, 12]
    config["bayes"] = {"draws": 200, "tune": 200, "chains": 2, "intervals": 3, "seed": 4, "model": "time_varying"}
    config["bayes"] |= bayes
    return config


@pytest.mark.sampling
def test_bayes_writes_every_requested_output_and_the_report_shows_it(write_study, tmp_path: Path):
    export = small_export(n_per_arm=60, seed=9)
    config = bayes_config(
        biomarkers=["b_cell_ges"], hr_curves=["b_cell_ges"], prior_predictive=True, treatment_at={"b_cell_ges": [0.0]}
    )
    study = Cohort.from_config(write_study(export, config))
    out = tmp_path / "out"
    fit_pwe(study).write(out)
    bayes = pd.read_csv(out / "bayes.csv")
    interaction_arm = bayes.query("analysis == 'interaction' and term == 'arm'")
    at_zero = bayes.query("analysis == 'treatment_at' and subgroup == 'b_cell_ges=0'")
    np.testing.assert_allclose(at_zero["mean"], interaction_arm["mean"], rtol=1e-12)  # b_arm + b_int * 0
    curve = pd.read_csv(out / "bayes_hr_curve.csv")
    assert curve.columns.tolist() == HR_CURVE_COLUMNS
    assert len(curve) == 50
    assert ((curve["lower"] <= curve["hr"]) & (curve["hr"] <= curve["upper"])).all()
    time_varying = pd.read_csv(out / "bayes_time_varying.csv")
    assert time_varying.columns.tolist() == BAYES_TIME_VARYING_COLUMNS
    overall = time_varying.query("analysis == 'treatment'")
    assert overall["events"].sum() == export["efs_event"].sum()  # every event in one interval
    assert set(time_varying["subgroup"]) == {"all", "b_cell_ges=low", "b_cell_ges=high"}
    prior = pd.read_csv(out / "bayes_prior_predictive.csv")
    assert prior.columns.tolist() == BAYES_PRIOR_PREDICTIVE_COLUMNS
    assert len(prior) == 2 * 2 + 1  # two arms x two landmarks, and the events
    assert prior.query("statistic == 'events'")["observed"].item() == export["efs_event"].sum()
    biomarkers = pd.read_csv(out / "biomarkers.csv").set_index("biomarker")
    np.testing.assert_allclose(
        biomarkers.loc["b_cell_ges", "iqr"], export["b_cell_ges"].quantile([0.25, 0.75]).diff().iloc[1]
    )
    page = write_report(out).read_text(encoding="utf-8")
    for section in ("time-varying", "prior-predictive", "interactions"):
        assert f'id="{section}"' in page
    assert "the spline treatment-HR curve" in page


@pytest.mark.slow  # the horseshoe model compiles through PyMC and numba (about 15 s); the section: tests/reports
@pytest.mark.sampling
def test_bayes_writes_the_interaction_screen_and_the_report_shows_it(write_study, tmp_path: Path):
    config = bayes_config(model="ph", screen=["b_cell_ges", "cd19_hscore"], priors={"expected_interactions": 1.0})
    study = Cohort.from_config(write_study(small_export(n_per_arm=60, seed=9), config))
    out = tmp_path / "out"
    fit_pwe(study).write(out)
    screen = pd.read_csv(out / "bayes_screen.csv")
    assert screen.columns.tolist() == BAYES_SCREEN_COLUMNS
    assert screen["biomarker"].tolist() == ["b_cell_ges", "cd19_hscore"]
    assert ((screen["hr_lower"] <= screen["hr_mean"]) & (screen["hr_mean"] <= screen["hr_upper"])).all()
    assert (screen["target_accept"] == PweAnalysisSettings().screen_target_accept).all()  # not bayes.target_accept
    assert 'id="interaction-screen"' in write_report(out).read_text(encoding="utf-8")


def test_landmarks_beyond_an_arms_follow_up_get_a_note_naming_them():
    rows = [
        ("control", "median", np.nan, False, 12.0),
        ("control", "survival", 6.0, True, 12.0),
        ("control", "survival", 24.0, False, 12.0),
        ("control", "rmst", 24.0, False, 12.0),
        ("treated", "survival", 24.0, True, 30.0),
        ("difference", "survival", 24.0, False, 12.0),
    ]
    statistics = pd.DataFrame(rows, columns=["arm", "statistic", "time", "reached", "follow_up"])
    note = (
        "survival at 24, rmst at 24 months not estimated in the control arm: beyond its last follow-up time (12 months)"
    )
    assert beyond_follow_up_notes({"ph": statistics}, "efs subgroup sii=high", "ph") == [
        f"efs subgroup sii=high: {note}"
    ]
    # the models of one analysis share its patients: a note they share is given once, naming them
    by_model = {"ph": statistics, "time_varying": statistics, "cure": statistics}
    assert beyond_follow_up_notes(by_model, "efs subgroup sii=high", "ph") == [
        f"efs subgroup sii=high (ph, time_varying, cure): {note}"
    ]
    estimated = statistics.assign(reached=True)
    assert beyond_follow_up_notes({"ph": estimated, "cure": statistics}, "efs subgroup sii=high", "ph") == [
        f"efs subgroup sii=high (cure): {note}"
    ]


@pytest.mark.sampling
def test_subgroups_without_events_in_an_arm_are_not_estimable_and_the_rest_stands(write_study):
    # Issue #22: n = 5 with 1 event gave HR 0.051, P(HR < 1) 0.99, converged; a zero-event subgroup killed the run.
    export = small_export(n_per_arm=20, seed=3)
    site = np.array(["main"] * 30 + ["tiny"] * 5 + ["none"] * 5)
    export = export.assign(site=site)
    export.loc[site == "tiny", ["arm", "efs_event"]] = [
        ["axi-cel", 1],
        ["axi-cel", 0],
        ["SOC", 0],
        ["SOC", 0],
        ["SOC", 0],
    ]
    export.loc[site == "none", "efs_event"] = 0
    config = small_config()
    config["data"]["covariates"] = ["site"]
    config["analysis"]["subgroup_covariates"] = ["site"]
    config["bayes"] = {"draws": 200, "tune": 200, "chains": 2, "seed": 4, "biomarkers": []}
    result = fit_pwe(Cohort.from_config(write_study(export, config)))
    bayes = result.table.set_index("subgroup")
    for subgroup, reason in [
        ("site=tiny", "0 events in the control arm (bayes.min_events: 1)"),
        ("site=none", "no events"),
    ]:
        row = bayes.loc[subgroup]
        assert row["note"] == f"not estimable: {reason}"
        assert row[["mean", "hr_mean", "hr_lower", "hr_upper", "prob_hr_below_1", "r_hat"]].isna().all()
        assert row["converged"] is None
        assert f"efs subgroup {subgroup}: not estimable, {reason}; not fitted" in result.notes
    assert bayes.loc["all", "hr_mean"] > 0
    assert bayes.loc["site=main", "hr_mean"] > 0
    fitted = {fit.subgroup for fit in result.fits}
    assert fitted == {"all", "site=main"}
    assert set(result.survival["subgroup"]) == set(result.fit_check["subgroup"]) == fitted
    assert set(result.curves["subgroup"]) == fitted
