"""``tmesurv validate`` end to end: develop on one simulated trial with ``tmesurv cox``, validate on another trial
(biomarker on another scale, some values missing) and on a single-arm registry; every metric equals a direct call of
its function on predictions computed by hand from ``validation_model.json``; bad input exits 2 and writes nothing."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.cohort import Cohort
from tmesurv.models.prediction.storage import load_validation_fits
from tmesurv.validation.benefit import benefit_by_group, interaction_replication
from tmesurv.validation.benefit_matching import c_for_benefit
from tmesurv.validation.bootstrap import resample_counts, with_estimate
from tmesurv.validation.brier import brier_score, integrated_brier, ipa
from tmesurv.validation.calibration import calibration_curve, calibration_in_the_large, calibration_slope, oe_ratio
from tmesurv.validation.case_mix import membership_auc, standardized_differences
from tmesurv.validation.decision_curve import benefit_net_benefit, net_benefit
from tmesurv.validation.discrimination import harrell_c, time_auc, uno_c
from tmesurv.validation.external import RESULT_COLUMNS, ValidationSettings, validate_external

HORIZONS = (6.0, 12.0)
OUTPUTS = {
    "validation.csv",
    "benefit.csv",
    "case_mix.csv",
    "harmonisation.csv",
    "calibration_curves.csv",
    "survival_curves.csv",
    "decision_curve.csv",
    "predictions.csv",
    "exclusions.csv",
    "validation_settings.json",
    "run.json",
    "figures",
}


def invoke(*arguments) -> object:
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


@pytest.fixture(scope="module")
def studies(synthetic, tmp_path_factory) -> SimpleNamespace:
    """A development trial fitted by ``tmesurv cox``, an external trial and a single-arm registry."""
    folder = tmp_path_factory.mktemp("validate")
    development = synthetic.write(folder, "development", synthetic.trial(300, 1), None, synthetic.interaction_model)
    external = synthetic.trial(240, 2, shift=3.0, scale=2.0)
    external.loc[[3, 7], "b_cell_ges"] = np.nan
    registry = synthetic.trial(120, 3, single_arm="treated")
    result = invoke("cox", development, "--out", folder / "model")
    assert result.exit_code == 0, result.output
    return SimpleNamespace(
        folder=folder,
        model=folder / "model",
        external=synthetic.write(folder, "external", external),
        registry=synthetic.write(folder, "registry", registry, "treated"),
    )


@pytest.fixture(scope="module")
def two_arm(studies) -> tuple[Path, object]:
    out = studies.folder / "two_arm"
    options = ("--harmonise", "zscore", "--bootstrap", "40", "--seed", "3")
    return out, invoke("validate", studies.model, studies.external, "--out", out, *options)


def row(table: pd.DataFrame, metric: str, horizon: float | None = None, group: str = "all") -> pd.Series:
    chosen = table[(table["metric"] == metric) & (table["group"] == group)]
    chosen = chosen[chosen["horizon"].isna()] if horizon is None else chosen[chosen["horizon"] == horizon]
    assert len(chosen) == 1, (metric, horizon, group, len(chosen))
    return chosen.iloc[0]


@pytest.fixture(scope="module")
def by_hand(studies) -> SimpleNamespace:
    """The external patients and the Cox model's predictions, computed from the JSON file with numpy alone."""
    model = json.loads((studies.model / "validation_model.json").read_text())
    patients = Cohort.from_config(studies.external).patients.dropna(subset=["b_cell_ges"])
    terms = {}
    for term in ("b_cell_ges", "ldh", "age"):
        values, development = patients[term].to_numpy(dtype=float), model["development"]["terms"][term]
        if term != "ldh":  # zscore; the two-level ldh is kept
            values = development["mean"] + development["sd"] * (values - values.mean()) / values.std(ddof=1)
        terms[term] = values
    treated = (patients["arm"] == "treated").to_numpy(dtype=float)
    coef, centre = np.array(model["coef"]), np.array(model["design_mean"])
    times, hazard = np.array(model["baseline"]["time"]), np.array(model["baseline"]["cumulative_hazard"])

    def lp(arm):
        design = np.column_stack([arm, terms["b_cell_ges"], terms["ldh"], terms["age"], arm * terms["b_cell_ges"]])
        return (design - centre) @ coef

    def risk(arm, t):
        h0 = np.concatenate([[0.0], hazard])[np.searchsorted(times, t, side="right")]
        return 1 - np.exp(-h0 * np.exp(lp(arm)))

    return SimpleNamespace(
        time=patients["efs.time"].to_numpy(),
        event=patients["efs.event"].to_numpy(dtype=float),
        treated=treated,
        terms=pd.DataFrame(terms),
        lp=lp(treated),
        risk=lambda t: risk(treated, t),
        risk_control=lambda t: risk(np.zeros_like(treated), t),
        risk_treated=lambda t: risk(np.ones_like(treated), t),
        model=model,
    )


def test_cox_saves_the_validation_model(studies):
    model = json.loads((studies.model / "validation_model.json").read_text())
    assert model["design_terms"] == ["arm", "b_cell_ges", "ldh", "age", "arm:b_cell_ges"]
    assert model["horizons"] == list(HORIZONS)
    assert model["development"]["n"] == 300


def test_two_arm_validation_writes_every_output(two_arm):
    out, result = two_arm
    assert result.exit_code == 0, result.output
    assert {path.name for path in out.iterdir()} == OUTPUTS
    figures = {path.name for path in (out / "figures").iterdir()}
    expected = {
        f"{kind}_cox_{h:g}.{fmt}"
        for kind in ("calibration", "decision_curve", "decision_curve_benefit", "benefit")
        for h in HORIZONS
        for fmt in ("png", "svg")
    }
    assert figures == expected | {"survival_cox.png", "survival_cox.svg"}
    table = pd.read_csv(out / "validation.csv")
    assert table.columns.tolist() == RESULT_COLUMNS
    assert set(table["model"]) == {"cox", "all"}
    assert f"wrote {out / 'validation.csv'}" in result.output
    assert "harmonised b_cell_ges: zscore" in result.output
    run = json.loads((out / "run.json").read_text())
    assert list(run["runs"]) == ["validate"]
    assert run["runs"]["validate"]["seed"] == 3
    assert sorted(run["runs"]["validate"]["files"]) == sorted(
        str(path.relative_to(out)) for path in out.rglob("*") if path.is_file() and path.name != "run.json"
    )
    settings = json.loads((out / "validation_settings.json").read_text())
    assert settings["harmonise"] == {"b_cell_ges": "zscore", "ldh": "none", "age": "zscore"}
    assert (settings["bootstrap"], settings["horizons"]) == (40, list(HORIZONS))
    assert set(settings["model_files"]) == {"validation_model.json"}


def test_metrics_equal_direct_calls(two_arm, by_hand):
    out, result = two_arm
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "validation.csv", keep_default_na=False, na_values=[""])
    cox, p = table[table["model"] == "cox"], by_hand
    t, d = p.time, p.event
    expected = {
        ("harrell_c", None): harrell_c(t, d, p.lp),
        ("uno_c", 12.0): uno_c(t, d, p.lp, 12.0),
        ("calibration_slope", None): calibration_slope(t, d, p.lp),
    }
    for h in HORIZONS:
        risk, arms = p.risk(h), (t, d, p.treated, p.risk_control(h), p.risk_treated(h), h)
        expected |= {
            ("time_auc", h): time_auc(t, d, risk, h),
            ("brier", h): brier_score(t, d, risk, h),
            ("ipa", h): ipa(t, d, risk, h),
            ("oe_ratio", h): oe_ratio(t, d, risk, h),
            ("calibration_in_the_large", h): calibration_in_the_large(t, d, risk, h),
            ("calibration_slope", h): calibration_slope(t, d, p.lp, censor_at=h),
            ("ici", h): float(calibration_curve(t, d, risk, h).ici[0]),
            ("c_for_benefit", h): c_for_benefit(*arms),
        }
        groups = benefit_by_group(*arms).set_index("group")
        for group in ("Q1", "Q4", "all"):
            assert row(cox, "observed_benefit", h, group)["estimate"] == pytest.approx(groups.loc[group, "observed"])
            assert row(cox, "predicted_benefit", h, group)["estimate"] == pytest.approx(groups.loc[group, "predicted"])
    grid = np.linspace(0, 12, 41)
    expected[("integrated_brier", 12.0)] = integrated_brier(t, d, np.column_stack([p.risk(g) for g in grid]), grid)
    for (metric, horizon), value in expected.items():
        assert row(cox, metric, horizon)["estimate"] == pytest.approx(value, rel=1e-9, abs=1e-12), (metric, horizon)
    coef, covariance = p.model["coef"][-1], np.array(p.model["covariance"])[-1, -1]
    replication = interaction_replication(t, d, p.treated, p.terms["b_cell_ges"], coef, np.sqrt(covariance))
    for expected_row in replication:
        assert row(cox, expected_row["metric"], group="b_cell_ges")["estimate"] == pytest.approx(
            expected_row["estimate"], rel=1e-9
        )
    development = pd.DataFrame(p.model["development"]["values"])
    assert row(table, "membership_auc")["estimate"] == pytest.approx(membership_auc(development, p.terms), rel=1e-9)
    smd = standardized_differences(development, p.terms).set_index("covariate")["smd"]
    assert row(table, "smd", group="age")["estimate"] == pytest.approx(smd["age"], rel=1e-9)
    # intervals: percentile bootstrap, the estimate inside
    c_index = row(cox, "harrell_c")
    assert c_index["lower"] < c_index["estimate"] < c_index["upper"]


def test_predictions_decision_curve_and_band_equal_direct_calls(two_arm, by_hand):
    out, result = two_arm
    assert result.exit_code == 0, result.output
    p, t, d = by_hand, by_hand.time, by_hand.event
    predictions = pd.read_csv(out / "predictions.csv")
    decision = pd.read_csv(out / "decision_curve.csv")
    curves = pd.read_csv(out / "calibration_curves.csv")
    counts = resample_counts(t.size, 40, 3, p.treated)  # --bootstrap 40 --seed 3, within arm
    for h in HORIZONS:
        at = predictions[(predictions["model"] == "cox") & (predictions["horizon"] == h)]
        np.testing.assert_allclose(at["linear_predictor"], p.lp, rtol=1e-12)
        np.testing.assert_allclose(at["risk"], p.risk(h), rtol=1e-12)
        np.testing.assert_allclose(at["benefit"], p.risk_control(h) - p.risk_treated(h), rtol=1e-9, atol=1e-15)
        at = decision[decision["horizon"] == h].set_index("decision")
        np.testing.assert_allclose(at.loc["risk", "net_benefit"], net_benefit(t, d, p.risk(h), h)["net_benefit"])
        by_benefit = benefit_net_benefit(t, d, p.treated, p.risk_control(h) - p.risk_treated(h), h)
        np.testing.assert_allclose(at.loc["benefit", "net_benefit"], by_benefit["net_benefit"], rtol=1e-9)
        np.testing.assert_allclose(at.loc["benefit", "treat_all"], by_benefit["treat_all"], rtol=1e-9)
        curve = calibration_curve(t, d, p.risk(h), h, weights=with_estimate(t.size, counts))
        band = np.nanquantile(curve.observed[1:], [0.025, 0.975], axis=0)
        drawn = curves[(curves["horizon"] == h) & (curves["kind"] == "curve")]
        np.testing.assert_allclose(drawn["observed"], curve.observed[0], rtol=1e-9)
        np.testing.assert_allclose(drawn[["lower", "upper"]].to_numpy().T, band, rtol=1e-9)
        assert (drawn["lower"] <= drawn["observed"]).mean() > 0.9  # the curve mostly inside its band


def test_same_seed_same_numbers(studies):
    fits = load_validation_fits(studies.model)
    cohort = Cohort.from_config(studies.external)

    def table(seed: int) -> pd.DataFrame:
        return validate_external(fits, cohort, "efs", ValidationSettings(n_boot=20, seed=seed)).table

    pd.testing.assert_frame_equal(table(5), table(5))
    assert not table(5)["lower"].equals(table(6)["lower"])


def test_zscore_gives_the_development_mean_and_sd(two_arm, by_hand):
    out, _ = two_arm
    table = pd.read_csv(out / "harmonisation.csv", keep_default_na=False).set_index("term")
    for term in ("b_cell_ges", "age"):
        development = by_hand.model["development"]["terms"][term]
        assert table.loc[term, "method"] == "zscore"
        assert table.loc[term, "development_mean"] == pytest.approx(development["mean"], rel=1e-14)
        assert table.loc[term, "external_mean_after"] == pytest.approx(development["mean"], abs=1e-9)
        assert table.loc[term, "external_sd_after"] == pytest.approx(development["sd"], rel=1e-12)
    assert table.loc["b_cell_ges", "external_sd_before"] == pytest.approx(2.0, rel=0.15)  # simulated on scale 2
    assert (table.loc["ldh", "method"], table.loc["ldh", "note"]) == ("none", "two-level term (0/1): kept as coded")


def test_missing_terms_are_excluded_and_counted(two_arm):
    out, _ = two_arm
    exclusions = pd.read_csv(out / "exclusions.csv")
    assert exclusions[["analysis", "reason", "count"]].to_dict("records") == [
        {"analysis": "validation", "reason": "missing b_cell_ges", "count": 2}
    ]
    assert exclusions["ids"].iloc[0] == "P2-0003;P2-0007"
    assert pd.read_csv(out / "validation.csv")["n"].iloc[0] == 238


def test_benefit_table(two_arm):
    out, _ = two_arm
    benefit = pd.read_csv(out / "benefit.csv", keep_default_na=False, na_values=[""])
    assert benefit[["model", "horizon"]].drop_duplicates().to_numpy().tolist() == [["cox", 6.0], ["cox", 12.0]]
    assert benefit["group"].tolist() == ["Q1", "Q2", "Q3", "Q4", "all"] * 2
    assert benefit["n"].iloc[:4].sum() == 238


def test_single_arm_registry(studies):
    out = studies.folder / "registry_out"
    result = invoke("validate", studies.model, studies.registry, "--out", out, "--bootstrap", "20")
    assert result.exit_code == 0, result.output
    assert "one arm in the external cohort: no benefit metrics and no replication of the interaction" in result.output
    assert not (out / "benefit.csv").exists()
    table = pd.read_csv(out / "validation.csv")
    assert not table["metric"].str.contains("benefit|interaction").any()
    assert row(table, "harrell_c")["n"] == 120
    assert np.isfinite(row(table, "brier", 12.0)["estimate"])


def test_horizon_beyond_follow_up_is_refused_with_the_follow_up(studies):
    out = studies.folder / "beyond"
    arguments = ("--horizon", "6", "--horizon", "100", "--bootstrap", "0")
    result = invoke("validate", studies.model, studies.registry, "--out", out, *arguments)
    assert result.exit_code == 2, result.output
    assert "horizon 100 months is beyond the external follow-up (last follow-up time " in result.output
    assert not (out / "validation.csv").exists()


@pytest.fixture
def no_age(studies, synthetic, tmp_path: Path) -> Path:
    config = synthetic.config(str(studies.folder / "external.csv"))
    config["data"]["covariates"] = []
    (tmp_path / "no_age.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "no_age.yaml"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing_model", r"model folder '.*nowhere' does not exist"),
        ("missing_term", r"file 'external.csv' has no column 'age' for the model term 'age': add it"),
        ("bad_method", r"--harmonise 'rank': unknown method 'rank'"),
        ("bad_horizon", r"horizons must be positive times in months"),
        ("out_is_model", r"is the model folder: write the validation into a folder of its own"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(studies, no_age, tmp_path: Path, case: str, message: str):
    out = tmp_path / "out"
    model, config, options = studies.model, studies.external, ["--out", out]
    if case == "missing_model":
        model = studies.folder / "nowhere"
    elif case == "missing_term":
        config = no_age
    elif case == "bad_method":
        options += ["--harmonise", "rank"]
    elif case == "bad_horizon":
        options += ["--horizon", "0"]
    else:
        options = ["--out", studies.model]
    before = sorted(path.name for path in studies.model.iterdir())
    result = invoke("validate", model, config, *options)
    assert result.exit_code == 2, result.output
    assert "tmesurv: error:" in result.output
    assert "Traceback" not in result.output
    assert re.search(message, result.output), result.output
    assert not out.exists()
    assert sorted(path.name for path in studies.model.iterdir()) == before
