"""Validating a Bayesian PWE fit of the validation model: saving and loading the posterior, the external log
predictive density and posterior-mean predictions against direct computation, the posterior predictive band, and
the checks that a posterior and a Cox model in one folder fit the same model. Small seeded fits."""

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.cohort import Cohort
from tmesurv.errors import InputError
from tmesurv.models.prediction.cox import fit_validation_model
from tmesurv.models.prediction.info import METADATA_ATTR
from tmesurv.models.prediction.posterior import fit_validation_posterior
from tmesurv.models.prediction.storage import (
    MODEL_FILE,
    POSTERIOR_FILE,
    load_validation_fits,
    save_validation_model,
    write_validation_model,
    write_validation_posterior,
)
from tmesurv.models.prediction.terms import validation_design
from tmesurv.models.pwe.data import pwe_log_likelihood
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings
from tmesurv.validation.brier import brier_score
from tmesurv.validation.discrimination import harrell_c

pytestmark = pytest.mark.sampling
SETTINGS = PweSettings(intervals=4)
SAMPLER = SamplerSettings(draws=200, tune=200, chains=2, seed=1)


@pytest.fixture(scope="module")
def fitted(synthetic, tmp_path_factory) -> SimpleNamespace:
    """A development trial with its Cox and Bayesian validation models saved in ``model/``."""
    folder = tmp_path_factory.mktemp("bayes")
    config = synthetic.write(folder, "development", synthetic.trial(300, 1), None, synthetic.interaction_model)
    study = Cohort.from_config(config)
    plan = study.config.validation_model_plan()
    save_validation_model(study, plan, folder / "model", [])
    idata = fit_validation_posterior(study, plan, SETTINGS, SAMPLER)
    write_validation_posterior(idata, folder / "model")
    external = synthetic.write(folder, "external", synthetic.trial(200, 2))
    registry = synthetic.write(folder, "registry", synthetic.trial(100, 3, single_arm="treated"), "treated")
    return SimpleNamespace(
        folder=folder, model=folder / "model", study=study, idata=idata, external=external, registry=registry
    )


def draws(idata, name: str, dim: str) -> np.ndarray:
    values = idata.posterior[name].transpose("chain", "draw", dim)
    return values.to_numpy().reshape(-1, values.sizes[dim])


def row(table: pd.DataFrame, metric: str, horizon: float | None = None, group: str = "all") -> pd.Series:
    chosen = table[(table["metric"] == metric) & (table["group"] == group)]
    chosen = chosen[chosen["horizon"].isna()] if horizon is None else chosen[chosen["horizon"] == horizon]
    assert len(chosen) == 1, (metric, horizon)
    return chosen.iloc[0]


def test_posterior_reads_back_with_its_metadata(fitted):
    cox, bayes = load_validation_fits(fitted.model)
    assert (cox.kind, bayes.kind) == ("cox", "bayes")
    assert bayes.info.spec == cox.info.spec
    assert bayes.info.design_terms == ["arm", "b_cell_ges", "ldh", "age", "arm:b_cell_ges"]
    np.testing.assert_array_equal(bayes.coef, draws(fitted.idata, "coef", "term"))
    np.testing.assert_array_equal(bayes.log_baseline, draws(fitted.idata, "log_baseline", "interval"))
    assert bayes.info.development.n == 300
    assert bayes.info.development.terms["age"].mean == pytest.approx(cox.info.development.terms["age"].mean)
    # the Bayesian fit with vague priors is close to the Cox fit
    np.testing.assert_allclose(bayes.coef.mean(axis=0), cox.coef, atol=0.1)


def test_validate_scores_the_posterior(fitted):
    out = fitted.folder / "out"
    result = CliRunner().invoke(
        app, ["validate", str(fitted.model), str(fitted.external), "--out", str(out), "--bootstrap", "20"]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "validation.csv", keep_default_na=False, na_values=[""])
    bayes = table[table["model"] == "bayes"]
    patients = Cohort.from_config(fitted.external).patients
    values = patients[["b_cell_ges", "ldh", "age"]].astype(float)
    treated = (patients["arm"] == "treated").to_numpy(dtype=int)
    time, event = patients["efs.time"].to_numpy(), patients["efs.event"].to_numpy(dtype=float)
    info = load_validation_fits(fitted.model)[1].info
    design = validation_design(values, treated, info.spec, info.terms).to_numpy()
    coef, log_baseline = draws(fitted.idata, "coef", "term"), draws(fitted.idata, "log_baseline", "interval")
    cuts = fitted.idata.constant_data["cuts"].to_numpy()
    eta = coef @ design.T
    pointwise = logsumexp(pwe_log_likelihood(time, event, eta, log_baseline, cuts), axis=0) - math.log(len(coef))
    lpd = row(bayes, "log_predictive_density")
    assert lpd["estimate"] == pytest.approx(pointwise.sum(), rel=1e-10)
    assert lpd["lower"] < lpd["estimate"] < lpd["upper"]
    assert row(bayes, "log_predictive_density_mean")["estimate"] == pytest.approx(pointwise.mean(), rel=1e-10)
    survival = np.exp(pwe_log_likelihood(np.full(time.size, 12.0), np.zeros(time.size), eta, log_baseline, cuts))
    risk = (1 - survival).mean(axis=0)
    assert row(bayes, "brier", 12.0)["estimate"] == pytest.approx(brier_score(time, event, risk, 12.0), rel=1e-10)
    assert row(bayes, "harrell_c")["estimate"] == pytest.approx(harrell_c(time, event, design @ coef.mean(0)))
    model_hr = row(bayes, "interaction_hr_model", group="b_cell_ges")["estimate"]
    assert model_hr == pytest.approx(math.exp(coef[:, -1].mean()), rel=1e-12)
    curves = pd.read_csv(out / "survival_curves.csv")
    band = curves[(curves["model"] == "bayes") & (curves["curve"] == "posterior_predictive")]
    assert len(band) == 61
    assert ((band["lower"] <= band["survival"]) & (band["survival"] <= band["upper"])).all()
    assert (out / "figures" / "survival_bayes.png").is_file()
    assert (out / "figures" / "benefit_bayes_12.png").is_file()
    settings = json.loads((out / "validation_settings.json").read_text())
    assert set(settings["model_files"]) == {MODEL_FILE, POSTERIOR_FILE}


def test_posterior_alone_on_a_registry(fitted, tmp_path: Path):
    shutil.copy(fitted.model / POSTERIOR_FILE, tmp_path / POSTERIOR_FILE)
    out = tmp_path / "out"
    arguments = ["validate", str(tmp_path), str(fitted.registry), "--out", str(out), "--bootstrap", "0"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "validation.csv")
    assert set(table["model"]) == {"bayes", "all"}
    assert "log_predictive_density" in set(table["metric"])


def test_posterior_without_metadata_uses_the_cox_model_next_to_it(fitted, tmp_path: Path):
    stripped = fitted.idata.copy()
    del stripped.posterior.attrs[METADATA_ATTR]
    write_validation_posterior(stripped, tmp_path)
    with pytest.raises(InputError, match=r"says nothing of the model it fits .* no validation_model.json next to it"):
        load_validation_fits(tmp_path)
    shutil.copy(fitted.model / MODEL_FILE, tmp_path / MODEL_FILE)
    cox, bayes = load_validation_fits(tmp_path)
    assert bayes.info.spec == cox.info.spec


def test_posterior_of_another_model_than_the_cox_is_refused(fitted, tmp_path: Path):
    config = fitted.study.config.model_copy(
        update={"validation_model": fitted.study.config.validation_model.model_copy(update={"interaction": None})}
    )
    other, _, _ = fit_validation_model(fitted.study, config.validation_model_plan())
    write_validation_model(other, tmp_path / MODEL_FILE)
    shutil.copy(fitted.model / POSTERIOR_FILE, tmp_path / POSTERIOR_FILE)
    with pytest.raises(InputError, match=r"is a fit of another model than validation_model.json next to it"):
        load_validation_fits(tmp_path)
