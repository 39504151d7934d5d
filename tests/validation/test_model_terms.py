"""A validation model with transformed terms and several interactions, rotterdam -> gbsg, against R.

``Rscript tests/reference/model_terms.R`` (from the repository root) fits, in R, ``coxph(Surv(time, event) ~ hormon +
rcs(age, 4) + size + log(nodes) + pmin(pmax(pgr, 0), 1000) + rcs(log(pmin(pmax(er, 1), 2000)), 3) + hormon:pgr' +
hormon:log(nodes))`` on node-positive rotterdam (knots from rotterdam) and predicts its linear predictor on gbsg; here
tmesurv fits the same model from the config's terms, saves it, and ``tmesurv validate`` applies the saved
transformations to gbsg. gbsg has grade 1, which rotterdam (node-positive) has not: a factor(grade) model refuses it.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tmesurv.api.validate import validate
from tmesurv.cli import app
from tmesurv.cohort import Cohort
from tmesurv.models.prediction.cox import fit_validation_model
from tmesurv.models.prediction.storage import MODEL_FILE, load_validation_fits, write_validation_model
from tmesurv.models.prediction.terms import model_patients
from tmesurv.validation.benefit_matching import BenefitMatching, c_for_benefit, e_for_benefit

REFERENCE = Path(__file__).parents[1] / "reference"
TERMS = [
    "rcs(age, 4)",
    'factor(size, ref="<=20")',
    "log(nodes)",
    "clip(pgr, 0, 1000)",
    "rcs(log(clip(er, 1, 2000)), 3)",
]
INTERACTIONS = ["clip(pgr, 0, 1000)", "log(nodes)"]


def config(folder: Path, name: str, csv: str, model: dict | None = None) -> Path:
    data = {
        "data": {
            "path": str(REFERENCE / csv),
            "id": "id",
            "arm": {"column": "arm", "treated": "hormon", "control": "none"},
            "time_unit": "years",
            "endpoints": {"rfs": {"time": "time", "event": "event"}},
            "covariates": ["age", "size", "grade", "nodes", "pgr", "er"],
        },
        "analysis": {"endpoint": "rfs", "landmarks": [36, 60]},
    }
    if model is not None:
        data["validation_model"] = model
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def saved_model(folder: Path, model: dict) -> Path:
    """Fit the validation model of ``model`` on rotterdam and save it as ``tmesurv cox`` does."""
    cohort = Cohort.from_config(config(folder, "development", "model_terms_development.csv", model))
    fit, exclusions, problem = fit_validation_model(cohort, cohort.config.validation_model_plan())
    assert (problem, exclusions) == ("", [])
    (folder / "model").mkdir()
    write_validation_model(fit, folder / "model" / MODEL_FILE)
    return folder / "model"


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("model_terms")
    model = saved_model(folder, {"terms": TERMS, "interaction": INTERACTIONS})
    return SimpleNamespace(folder=folder, model=model, external=config(folder, "external", "model_terms_external.csv"))


def test_coefficients_and_knots_equal_r(study):
    (fit,) = load_validation_fits(study.model)
    r = pd.read_csv(REFERENCE / "model_terms_coef.csv")
    assert fit.info.design_terms == [
        "arm",
        "rcs(age, 4)",
        "rcs(age, 4)'",
        "rcs(age, 4)''",
        "size=20-50",
        "size=>50",
        "log(nodes)",
        "clip(pgr, 0, 1000)",
        "rcs(log(clip(er, 1, 2000)), 3)",
        "rcs(log(clip(er, 1, 2000)), 3)'",
        "arm:clip(pgr, 0, 1000)",
        "arm:log(nodes)",
    ]
    np.testing.assert_allclose(fit.coef, r["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.covariance)), r["se"], rtol=1e-6)
    development = pd.read_csv(REFERENCE / "model_terms_development.csv")
    age = fit.info.terms.term("rcs(age, 4)")
    expected = np.quantile(development["age"], [0.05, 0.35, 0.65, 0.95])  # > 100 values, no common end value
    np.testing.assert_allclose(age.knots, expected, rtol=1e-14)
    assert fit.info.terms.term("factor(size, ref = '<=20')").levels == ("<=20", "20-50", ">50")
    assert set(fit.interaction_effects()) == set(INTERACTIONS)


def test_saved_transformations_give_r_linear_predictor_on_gbsg(study):
    (fit,) = load_validation_fits(study.model)
    cohort = Cohort.from_config(study.external)
    patients, exclusions, _ = model_patients(cohort, fit.info.spec, "validation", fit.info.terms)
    assert exclusions == []
    lp = fit.linear_predictor(patients.patients[fit.info.terms.inputs], patients.treated)
    r = pd.read_csv(REFERENCE / "model_terms_external.csv").set_index("id").loc[patients.patients.index, "lp"]
    np.testing.assert_allclose(lp, r.to_numpy(), rtol=0, atol=1e-6)


def test_validate_scores_it_and_replicates_each_interaction(study):
    out = study.folder / "out"
    options = ["--out", str(out), "--bootstrap", "0", "--horizon", "36", "--benefit-matching", "random"]
    result = CliRunner().invoke(app, ["validate", str(study.model), str(study.external), *options, "--seed", "4"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "validation.csv", keep_default_na=False, na_values=[""])
    replicated = table[table["metric"] == "interaction_hr_model"].set_index("group")["estimate"]
    (fit,) = load_validation_fits(study.model)
    expected = {term: np.exp(log_hr) for term, (log_hr, _) in fit.interaction_effects().items()}
    assert replicated.to_dict() == pytest.approx(expected, rel=1e-12)
    harmonised = pd.read_csv(out / "harmonisation.csv")["term"].tolist()
    assert harmonised == ["age", "size=20-50", "size=>50", "nodes", "pgr", "er"]
    # the benefit metrics: van Klaveren's matching, 50 matchings seeded by --seed, on the model's risks under each arm
    patients, _, _ = model_patients(Cohort.from_config(study.external), fit.info.spec, "validation", fit.info.terms)
    inputs, n = patients.patients[fit.info.terms.inputs], patients.n
    risk_control, risk_treated = (fit.risk(inputs, np.full(n, arm), [36.0])[:, 0] for arm in (0, 1))
    arms = (patients.time("rfs"), patients.event("rfs"), patients.treated, risk_control, risk_treated, 36.0)
    matching = BenefitMatching("random", 50, 4)
    by_metric = table[table["model"] == "cox"].set_index("metric")["estimate"]
    assert by_metric["c_for_benefit"] == pytest.approx(c_for_benefit(*arms, matching=matching), rel=1e-12)
    for metric, value in e_for_benefit(*arms, matching=matching).items():
        assert by_metric[metric] == pytest.approx(value, rel=1e-12), metric
    assert (
        "random matching (van Klaveren), mean of 50 matchings, seed 4"
        in table.set_index("metric").loc["c_for_benefit", "note"]
    )


def test_a_risk_modelling_model_predicts_benefit_from_its_arm_effect(tmp_path):
    """PATH risk modelling: arm as a main effect only; the benefit is the difference of the risks under each arm."""
    model = saved_model(tmp_path, {"terms": ["rcs(age, 3)", "log(nodes)"], "arm_effect": True})
    (fit,) = load_validation_fits(model)
    assert fit.info.design_terms == ["arm", "rcs(age, 3)", "rcs(age, 3)'", "log(nodes)"]
    assert fit.interaction_effects() == {}
    external = config(tmp_path, "external", "model_terms_external.csv")
    result = validate(model, Cohort.from_config(external), horizons=[36.0], bootstrap=0)
    table = result.metrics
    assert {"c_for_benefit", "e_for_benefit", "predicted_benefit"} <= set(table["metric"])
    assert not table["metric"].str.startswith("interaction_hr").any()
    patients, _, _ = model_patients(Cohort.from_config(external), fit.info.spec, "validation", fit.info.terms)
    inputs, n = patients.patients[fit.info.terms.inputs], patients.n
    risk_control, risk_treated = (fit.risk(inputs, np.full(n, arm), [36.0])[:, 0] for arm in (0, 1))
    # proportional hazards with one arm coefficient: S_treated = S_control ** exp(coef_arm) for every patient
    np.testing.assert_allclose(1 - risk_treated, (1 - risk_control) ** np.exp(fit.coef[0]), rtol=1e-12)
    overall = table[(table["metric"] == "predicted_benefit") & (table["group"] == "all")]["estimate"]
    assert overall.item() == pytest.approx(np.mean(risk_control - risk_treated), rel=1e-12)


def test_unknown_matching_exits_2(study, tmp_path):
    options = ["--out", str(tmp_path / "out"), "--benefit-matching", "nearest"]
    result = CliRunner().invoke(app, ["validate", str(study.model), str(study.external), *options])
    assert result.exit_code == 2, result.output
    assert "--benefit-matching 'nearest': use one of rank, random" in result.output


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("new_level", r"column 'grade', patients G\S+, .*: level '1' of term 'factor\(grade\)' was not seen in"),
        ("missing_column", r"file '\S*model_terms_external_no_er.csv' has no column 'er' for the model term "),
    ],
)
def test_bad_external_cohort_exits_2_naming_the_problem(tmp_path, case, message):
    if case == "new_level":
        model = saved_model(tmp_path, {"terms": ["factor(grade)", "rcs(age, 3)"]})
        external = config(tmp_path, "external", "model_terms_external.csv")
    else:
        model = saved_model(tmp_path, {"terms": ["log(nodes)", "rcs(log(clip(er, 1, 2000)), 3)"]})
        frame = pd.read_csv(REFERENCE / "model_terms_external.csv").drop(columns="er")
        frame.to_csv(tmp_path / "model_terms_external_no_er.csv", index=False)
        external = config(tmp_path, "external", "model_terms_external.csv")
        text = yaml.safe_load(external.read_text())
        text["data"]["path"] = str(tmp_path / "model_terms_external_no_er.csv")
        text["data"]["covariates"].remove("er")
        external.write_text(yaml.safe_dump(text))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["validate", str(model), str(external), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert __import__("re").search(message, " ".join(result.output.split())), result.output
    assert not out.exists()
