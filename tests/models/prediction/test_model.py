"""The validation model: Cox fit and Breslow baseline (against lifelines), saving and loading, predictions, and
derived quantities of a Bayesian fit from a fake point-mass posterior."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.config import ValidationModelSpec
from tmesurv.errors import InputError
from tmesurv.models.cox.analyses import fit_cox, fitted_cox
from tmesurv.models.cox.km import median_follow_up
from tmesurv.models.prediction.model import (
    MODEL_FILE,
    QUANTILE_PROBABILITIES,
    Development,
    ModelInfo,
    PosteriorModel,
    breslow_baseline,
    fit_validation_model,
    load_validation_fits,
    model_patients,
    read_validation_model,
    save_validation_model,
    validation_design,
    write_validation_model,
)
from tmesurv.models.pwe.data import pwe_log_likelihood
from tmesurv.workflow import load_study


def study(synthetic, folder: Path, validation_model: dict, n: int = 200, seed: int = 1):
    return load_study(synthetic.write(folder, f"cohort{seed}", synthetic.trial(n, seed), None, validation_model))


@pytest.fixture(scope="module")
def development(synthetic, tmp_path_factory):
    loaded = study(synthetic, tmp_path_factory.mktemp("development"), synthetic.interaction_model)
    model, exclusions, problem = fit_validation_model(loaded.cohort, loaded.config)
    assert problem == ""
    assert exclusions == []
    return loaded, model


def terms_of(cohort, terms):
    return cohort.patients[list(terms)].apply(pd.to_numeric, errors="coerce").astype(float)


def test_design_is_arm_terms_and_interaction():
    values = pd.DataFrame({"x": [1.0, 2.0], "z": [0.0, 1.0]})
    spec = ValidationModelSpec(terms=["x", "z"], interaction="x")
    design = validation_design(values, np.array([1, 0]), spec)
    assert design.columns.tolist() == ["arm", "x", "z", "arm:x"]
    np.testing.assert_array_equal(design["arm:x"], [1.0, 0.0])
    assert validation_design(values, np.array([1, 0]), ValidationModelSpec(terms=["z"])).columns.tolist() == ["z"]


def test_cox_fit_equals_fit_cox_and_lifelines_baseline(development):
    loaded, model = development
    cohort = loaded.cohort
    design = validation_design(terms_of(cohort, model.info.spec.terms), cohort.treated, model.info.spec)
    reference = fit_cox(cohort.time("efs"), cohort.event("efs"), design)
    np.testing.assert_allclose(model.coef, reference["coef"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diag(model.covariance)), reference["se"], rtol=1e-12)
    log_hr, se = model.interaction_effect()
    assert log_hr == pytest.approx(reference.loc["arm:b_cell_ges", "coef"], abs=1e-12)
    assert se == pytest.approx(reference.loc["arm:b_cell_ges", "se"], rel=1e-12)
    lifelines = fitted_cox(cohort.time("efs"), cohort.event("efs"), design).baseline_cumulative_hazard_.iloc[:, 0]
    np.testing.assert_allclose(model.baseline_hazard, lifelines.loc[model.baseline_time], rtol=1e-10)


def test_risk_is_one_minus_baseline_survival_to_the_power_exp_lp(development):
    loaded, model = development
    cohort = loaded.cohort
    values = terms_of(cohort, model.info.spec.terms)
    event_time = float(model.baseline_time[100])  # at an event time lifelines' interpolation is exact
    fitter = fitted_cox(
        cohort.time("efs"),
        cohort.event("efs"),
        validation_design(values, cohort.treated, model.info.spec),
    )
    design = validation_design(values, cohort.treated, model.info.spec)
    expected = 1 - fitter.predict_survival_function(design, times=[event_time]).to_numpy()[0]
    np.testing.assert_allclose(model.risk(values, cohort.treated, [event_time])[:, 0], expected, rtol=1e-9)
    lp = model.linear_predictor(values, cohort.treated)
    s0 = np.exp(-model.cumulative_baseline([12.0])[0])
    np.testing.assert_allclose(model.risk(values, cohort.treated, [12.0])[:, 0], 1 - s0 ** np.exp(lp), rtol=1e-12)


def test_breslow_baseline_by_hand():
    time, event, lp = np.array([1.0, 2.0, 2.0, 3.0, 4.0]), np.array([1, 1, 0, 1, 0]), np.log([1.0, 2.0, 1.0, 3.0, 1.0])
    times, hazard = breslow_baseline(time, event, lp)
    np.testing.assert_array_equal(times, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(hazard, np.cumsum([1 / 8, 1 / 7, 1 / 4]), rtol=1e-15)


def test_development_summary(development):
    loaded, model = development
    cohort, dev = loaded.cohort, model.info.development
    ges = cohort.patients["b_cell_ges"].to_numpy()
    assert (dev.n, dev.events) == (cohort.n, int(cohort.event("efs").sum()))
    assert dev.follow_up_max == cohort.time("efs").max()
    assert dev.follow_up_median == median_follow_up(cohort.time("efs"), cohort.event("efs"))
    assert dev.first_event == cohort.time("efs")[cohort.event("efs") == 1].min()
    assert dev.terms["b_cell_ges"].mean == pytest.approx(ges.mean(), abs=1e-14)
    assert dev.terms["b_cell_ges"].sd == pytest.approx(ges.std(ddof=1), rel=1e-14)
    np.testing.assert_allclose(dev.terms["b_cell_ges"].quantiles, np.quantile(ges, QUANTILE_PROBABILITIES))
    assert dev.terms["ldh"].binary
    assert not dev.terms["age"].binary
    assert model.info.horizons == (6.0, 12.0)


def test_saved_model_reads_back_exactly(development, tmp_path: Path):
    loaded, model = development
    write_validation_model(model, tmp_path / MODEL_FILE)
    (read,) = load_validation_fits(tmp_path)
    for name in ("coef", "covariance", "centre", "baseline_time", "baseline_hazard"):
        np.testing.assert_array_equal(getattr(read, name), getattr(model, name))
    assert read.info.spec == model.info.spec
    assert read.info.config == json.loads(json.dumps(loaded.config_data()))
    pd.testing.assert_frame_equal(read.info.development.values, model.info.development.values)
    values = terms_of(loaded.cohort, model.info.spec.terms)
    np.testing.assert_array_equal(
        read.risk(values, loaded.cohort.treated, [6, 12]), model.risk(values, loaded.cohort.treated, [6, 12])
    )


def test_within_arm_model_fits_one_arm_and_counts_the_other(synthetic, tmp_path: Path):
    loaded = study(synthetic, tmp_path, {"terms": ["b_cell_ges", "age"], "arm": "treated"})
    notes: list[str] = []
    exclusions = save_validation_model(loaded.cohort, loaded.config, tmp_path, notes)
    assert notes == []
    assert [(e.reason, e.count) for e in exclusions] == [
        ("not in the treated arm the model is fitted on", int((loaded.cohort.treated == 0).sum()))
    ]
    (model,) = load_validation_fits(tmp_path)
    assert model.info.design_terms == ["b_cell_ges", "age"]
    assert model.info.development.n == int(loaded.cohort.treated.sum())
    assert model.interaction_effect() is None


def test_unfittable_model_gets_a_note_and_no_file(synthetic, tmp_path: Path):
    loaded = study(synthetic, tmp_path, {"terms": ["b_cell_ges"], "arm": "treated"})
    constant = loaded.cohort.patients.assign(b_cell_ges=1.0)
    cohort = replace(loaded.cohort, patients=constant)
    notes: list[str] = []
    save_validation_model(cohort, loaded.config, tmp_path, notes)
    assert notes == [
        "validation model not fitted ('b_cell_ges' takes one value only); nothing saved for tmesurv validate"
    ]
    assert not (tmp_path / MODEL_FILE).exists()


def test_non_numeric_term_is_an_input_error(synthetic, tmp_path: Path):
    export = synthetic.trial(60, 4)
    export["age"] = export["age"].astype(str)
    export.loc[[2, 5], "age"] = "unknown"
    loaded = load_study(synthetic.write(tmp_path, "c", export, None, synthetic.interaction_model))
    with pytest.raises(InputError, match=r"column 'age', patients P4-0002, P4-0005: the model term must be numeric"):
        model_patients(loaded.cohort, loaded.config.validation_model, "validation_model")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot be read as JSON"),
        ('{"format": "other"}', "is not a tmesurv validation model"),
        ('{"format": "tmesurv-validation-model", "format_version": 99}', "format version 99"),
        ('{"format": "tmesurv-validation-model", "format_version": 1}', "not a complete validation model"),
    ],
)
def test_unreadable_model_file(tmp_path: Path, content: str, message: str):
    (tmp_path / MODEL_FILE).write_text(content)
    with pytest.raises(InputError, match=message):
        read_validation_model(tmp_path / MODEL_FILE)


def test_missing_model_folder_and_files(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        load_validation_fits(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"has neither validation_model.json nor validation_model_posterior.nc"):
        load_validation_fits(tmp_path)


@pytest.fixture
def point_mass(development) -> PosteriorModel:
    """A posterior whose 50 draws all equal the Cox coefficients, with a two-interval baseline."""
    _, model = development
    info = ModelInfo(model.info.spec, "efs", (6.0, 12.0), model.info.development, {}, "test")
    coef = np.tile(model.coef, (50, 1))
    return PosteriorModel(info, coef, np.tile(np.log([0.05, 0.08]), (50, 1)), np.array([5.0]))


def test_point_mass_posterior_predictions_by_hand(point_mass, development):
    loaded, _ = development
    values, treated = terms_of(loaded.cohort, point_mass.info.spec.terms).iloc[:30], loaded.cohort.treated[:30]
    eta = validation_design(values, treated, point_mass.info.spec).to_numpy() @ point_mass.coef[0]
    np.testing.assert_allclose(point_mass.linear_predictor(values, treated), eta, rtol=1e-12)
    hazard_at = {3.0: 0.05 * 3, 8.0: 0.05 * 5 + 0.08 * 3}
    expected = np.stack([1 - np.exp(-np.exp(eta) * h) for h in hazard_at.values()], axis=1)
    np.testing.assert_allclose(point_mass.risk(values, treated, list(hazard_at)), expected, rtol=1e-12)
    time, event = np.linspace(1, 10, 30), np.tile([1, 0, 1], 10)
    own = pwe_log_likelihood(time, event, eta, np.log([0.05, 0.08]), np.array([5.0]))
    np.testing.assert_allclose(point_mass.log_predictive_density(values, treated, time, event), own, rtol=1e-12)
    assert point_mass.interaction_effect() == (pytest.approx(point_mass.coef[0, -1], abs=1e-15), 0.0)


def test_simulated_event_times_invert_the_cumulative_hazard(point_mass, development):
    loaded, _ = development
    values, treated = terms_of(loaded.cohort, point_mass.info.spec.terms), loaded.cohort.treated
    times = point_mass.draw_event_times(values, treated, 20, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    rng.choice(50, size=20, replace=False)
    exponential = rng.exponential(size=times.shape)
    eta = point_mass.eta(values, treated)[:20]
    cumulative = -pwe_log_likelihood(times[0], np.zeros(times.shape[1]), eta[0], np.log([0.05, 0.08]), np.array([5.0]))
    np.testing.assert_allclose(cumulative, exponential[0], rtol=1e-10)
    assert (times > 0).all()


def test_development_of_single_event_summary():
    dev = Development.of(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 0]), pd.DataFrame({"x": [0.0, 1.0, 2.0]}))
    assert (dev.n, dev.events, dev.first_event, dev.follow_up_max) == (3, 1, 2.0, 3.0)
    assert Development.from_json(json.loads(json.dumps(dev.to_json()))).terms["x"].mean == 1.0
