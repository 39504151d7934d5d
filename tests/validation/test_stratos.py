"""The STRATOS tutorial case against R: Rotterdam development, GBSG external validation, at 5 years (60 months).

McLernon et al. 2023 (Ann Intern Med 176:105): both cohorts administratively censored at 60 months, so the horizon is
the last follow-up time. The model (size class, winsorised nodes and its spline term, grade 3) is fitted by tmesurv on
the development cohort and scored on the external one; every number is compared with R (survival, riskRegression,
rms) as written by ``tests/reference/stratos_gbsg.R`` (regenerate with ``Rscript tests/reference/stratos_gbsg.R``
from the repository root).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tmesurv.api.validate import parse_horizon
from tmesurv.cli import app
from tmesurv.cohort import Cohort
from tmesurv.errors import InputError
from tmesurv.models.prediction.cox import CoxModel, fit_validation_model
from tmesurv.models.prediction.settings import ValidationModelPlan, ValidationModelSpec
from tmesurv.models.prediction.storage import MODEL_FILE, read_validation_model
from tmesurv.validation.decision_curve import DECISION_COLUMNS, net_benefit
from tmesurv.validation.external import ValidationResults, ValidationSettings, validate_external

REFERENCE = Path(__file__).parents[1] / "reference"
TERMS = ["size_20_50", "size_gt50", "nodes2", "nodes3", "grade3"]
HORIZON = 60.0
TOL = 1e-6


def _cohort(name: str) -> Cohort:
    frame = pd.read_csv(REFERENCE / f"stratos_{name}.csv")
    return Cohort.from_frame(frame, arm=None, single_arm="control", endpoint="rfs", covariates=TERMS)


def _fit(baseline: str) -> CoxModel:
    spec = ValidationModelSpec(terms=TERMS, baseline=baseline)
    model, exclusions, problem = fit_validation_model(_cohort("development"), ValidationModelPlan(spec, "rfs", ()))
    assert problem == ""
    assert exclusions == []
    return model


@pytest.fixture(scope="module")
def r_metrics() -> dict[str, float]:
    table = pd.read_csv(REFERENCE / "stratos_metrics.csv")
    return dict(zip(table["metric"], table["value"].astype(float), strict=True))


@pytest.fixture(scope="module")
def r_external() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "stratos_external.csv")


@pytest.fixture(scope="module", params=["efron", "breslow"])
def scored(request) -> tuple[str, CoxModel, ValidationResults]:
    model = _fit(request.param)
    settings = ValidationSettings(horizons=(HORIZON,), n_boot=0)
    return request.param, model, validate_external([model], _cohort("external"), "rfs", settings)


def _estimate(results: ValidationResults, metric: str, horizon: float | None = HORIZON) -> float:
    table = results.table
    rows = table[(table["metric"] == metric) & (table["model"] == "cox") & (table["group"] == "all")]
    rows = rows[rows["horizon"].isna()] if horizon is None else rows[rows["horizon"] == horizon]
    assert len(rows) == 1, f"{metric} at {horizon}: {len(rows)} rows"
    return float(rows["estimate"].iloc[0])


def test_data_are_censored_at_the_horizon_without_an_event_on_it(r_metrics, r_external):
    assert r_external["time"].max() == HORIZON
    assert r_metrics["events_at_horizon"] == 0  # Score() just below 60 is then Score() at 60 with 1 / G(60-)


def test_coefficients_equal_r_coxph():
    reference = pd.read_csv(REFERENCE / "stratos_coef.csv").set_index("term")["coef"]
    np.testing.assert_allclose(_fit("efron").coef, reference.loc[TERMS].to_numpy(), rtol=0, atol=1e-8)


def test_predictions_equal_r(scored, r_external):
    baseline, _, results = scored
    predictions = results.predictions.set_index("id").loc[r_external["id"].astype(str)]  # ids are text
    assert (predictions["horizon"] == HORIZON).all()
    # R's coxph does not centre 0/1 columns, tmesurv centres every column at its development mean: a constant apart
    shift = predictions["linear_predictor"].to_numpy() - r_external["lp"].to_numpy()
    np.testing.assert_allclose(shift, shift[0], rtol=0, atol=1e-8)  # coefficients agree to ~1e-9
    expected = r_external["risk_efron" if baseline == "efron" else "risk_breslow"]  # predictRisk / survfit ctype 1
    np.testing.assert_allclose(predictions["risk"], expected, rtol=0, atol=1e-8)
    assert predictions[["risk_control", "risk_treated", "benefit"]].isna().all().all()  # no benefit model


def test_equal_patients_tie_as_in_r(scored, r_metrics):
    _, _, results = scored
    assert results.predictions["linear_predictor"].nunique() == r_metrics["distinct_lp"]


@pytest.mark.parametrize(
    ("metric", "horizon"),
    [("harrell_c", None), ("uno_c", HORIZON), ("calibration_slope", None), ("calibration_slope", HORIZON)],
)
def test_linear_predictor_metrics_equal_r(scored, r_metrics, metric, horizon):
    """Harrell's and Uno's C (ties included) and the calibration slope do not depend on the baseline."""
    _, _, results = scored
    assert _estimate(results, metric, horizon) == pytest.approx(r_metrics[metric], abs=TOL)


@pytest.mark.parametrize("metric", ["time_auc", "brier", "brier_null", "ipa", "oe_ratio", "ici", "e50", "e90", "emax"])
def test_risk_metrics_at_the_administrative_censoring_time_equal_r(scored, r_metrics, metric):
    """With the Efron baseline the risks are R's ``predictRisk``: every metric equals R to 1e-6.

    With the Breslow baseline (``baseline: breslow``), the documented difference: O/E equals R's O/E of the Breslow
    risks; the others differ from R's by less than the risks do (``max |efron - breslow|`` on these data, 1e-4).
    """
    baseline, _, results = scored
    value = _estimate(results, metric)
    if baseline == "efron":
        assert value == pytest.approx(r_metrics[metric], abs=TOL)
    elif metric == "oe_ratio":
        assert value == pytest.approx(r_metrics["oe_ratio_breslow"], abs=TOL)
    else:
        assert value == pytest.approx(r_metrics[metric], abs=2e-4)


def test_smoothed_calibration_of_each_patient_equals_r(r_external):
    from tmesurv.validation.calibration import calibration_curve

    curve = calibration_curve(r_external["time"], r_external["event"], r_external["risk_efron"], HORIZON)
    np.testing.assert_allclose(curve.patient_observed[0], r_external["cal"], rtol=0, atol=1e-8)


def test_net_benefit_equals_the_direct_r_computation(scored, r_external):
    baseline, _, results = scored
    reference = pd.read_csv(REFERENCE / "stratos_net_benefit.csv")
    curve = results.decision_curve
    assert curve.columns.tolist() == ["model", *DECISION_COLUMNS]
    assert (curve["decision"] == "risk").all()  # one arm: no decision by predicted benefit
    np.testing.assert_allclose(curve["threshold"], reference["threshold"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve["treat_all"], reference["treat_all"], rtol=0, atol=1e-12)
    assert (curve["treat_none"] == 0).all()
    if baseline == "efron":
        middle = (reference["threshold"] >= 0.1 - 1e-9) & (reference["threshold"] <= 0.5 + 1e-9)
        np.testing.assert_allclose(curve["net_benefit"][middle], reference["net_benefit"][middle], rtol=0, atol=1e-10)
        np.testing.assert_allclose(curve["net_benefit"], reference["net_benefit"], rtol=0, atol=1e-10, equal_nan=True)


def test_net_benefit_from_r_risks_equals_r(r_external):
    """The decision curve of R's own predicted risks equals the tutorial's computation at every threshold."""
    reference = pd.read_csv(REFERENCE / "stratos_net_benefit.csv")
    curve = net_benefit(r_external["time"], r_external["event"], r_external["risk_efron"], HORIZON)
    np.testing.assert_allclose(curve["net_benefit"], reference["net_benefit"], rtol=0, atol=1e-12, equal_nan=True)


def test_breslow_baseline_is_below_efron_where_events_tie():
    breslow, efron = _fit("breslow"), _fit("efron")
    assert breslow.info.spec.baseline == "breslow"
    assert efron.info.spec.baseline == "efron"
    np.testing.assert_array_equal(breslow.baseline_time, efron.baseline_time)
    assert (breslow.baseline_hazard <= efron.baseline_hazard).all()
    assert (breslow.baseline_hazard < efron.baseline_hazard).any()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    """``tmesurv cox`` on the single Rotterdam cohort: it develops and saves the prognostic model."""
    folder = tmp_path_factory.mktemp("stratos_model")
    config = folder / "rotterdam.yaml"
    config.write_text(
        _config_text("development") + f"  landmarks: [60]\nvalidation_model:\n  terms: [{', '.join(TERMS)}]\n"
    )
    result = CliRunner().invoke(app, ["cox", str(config), "--out", str(folder / "out")])
    assert result.exit_code == 0, result.output
    assert "single-arm cohort (control arm)" in result.output
    return folder / "out"


def _config_text(name: str) -> str:
    """A one-arm config of ``stratos_<name>.csv`` (times in months) with the model's terms as covariates."""
    return (
        f"data:\n  path: {REFERENCE / f'stratos_{name}.csv'}\n  id: id\n  single_arm: control\n"
        f"  endpoints:\n    rfs: {{time: time, event: event}}\n  covariates: [{', '.join(TERMS)}]\n"
        "analysis:\n  endpoint: rfs\n"
    )


def test_the_saved_model_is_the_r_model(saved_model):
    model = read_validation_model(saved_model / MODEL_FILE)
    reference = pd.read_csv(REFERENCE / "stratos_coef.csv").set_index("term")["coef"]
    np.testing.assert_allclose(model.coef, reference.loc[TERMS].to_numpy(), rtol=0, atol=1e-8)
    assert model.info.spec.baseline == "efron"
    assert model.info.horizons == (HORIZON,)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """The external cohort's config (one arm, times in months)."""
    path = tmp_path_factory.mktemp("stratos_config") / "gbsg.yaml"
    path.write_text(_config_text("external"))
    return path


def _validate(model: Path, config: Path, out: Path, *arguments: str):
    return CliRunner().invoke(app, ["validate", str(model), str(config), "--out", str(out), *arguments])


def test_horizon_in_years_equals_months_through_the_cli(saved_model, config, tmp_path, r_metrics):
    """``--horizon 5y`` and ``--horizon 60`` give the same files; development to validation by the CLI equals R."""
    folders = {}
    for horizon in ("5y", "60"):
        folders[horizon] = tmp_path / f"out_{horizon}"
        result = _validate(saved_model, config, folders[horizon], "--horizon", horizon, "--bootstrap", "0")
        assert result.exit_code == 0, result.output
    for name in ("validation.csv", "decision_curve.csv", "predictions.csv", "calibration_curves.csv"):
        assert (folders["5y"] / name).read_bytes() == (folders["60"] / name).read_bytes(), name
    table = pd.read_csv(folders["5y"] / "validation.csv")
    for metric in ("harrell_c", "uno_c", "calibration_slope", "time_auc", "brier", "ipa", "oe_ratio", "ici", "emax"):
        rows = table[(table["metric"] == metric) & (table["model"] == "cox")]
        rows = rows[rows["horizon"].isna()] if metric in ("harrell_c", "calibration_slope") else rows
        assert rows["estimate"].iloc[0] == pytest.approx(r_metrics[metric], abs=TOL), metric


@pytest.mark.parametrize(
    ("horizon", "message"),
    [("61", "horizon 61 months is beyond the external follow-up (last follow-up time 60 months)"),
     ("5q", "--horizon '5q': give a number of months (60) or a number with a unit")],
)  # fmt: skip
def test_bad_horizons_are_refused(saved_model, config, tmp_path, horizon, message):
    result = _validate(saved_model, config, tmp_path / "out", "--horizon", horizon, "--bootstrap", "0")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "out" / "validation.csv").exists()


def test_horizon_units():
    assert [parse_horizon(h) for h in ("60", 60, "60m", "5y", "5Y", "260w")] == [60.0] * 5 + [260 * 7 / (365.25 / 12)]
    assert parse_horizon("1826d") == 1826 / (365.25 / 12)
    for bad in ("5x", "five years", "", "inf"):
        with pytest.raises(InputError, match="give a number of months"):
            parse_horizon(bad)
