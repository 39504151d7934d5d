"""The methods section describes the mixture-cure model, with its priors from the run's config, when it was fitted."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from markupsafe import escape

from tests.reports.conftest import section
from tests.reports.sections.test_summary import cure_folder
from tmesurv.models.pwe.cure.plateau import plateau_rule_text
from tmesurv.reports import html
from tmesurv.reports.sections import methods

Z_95 = 1.959963984540054  # standard normal 97.5% quantile

pytestmark = pytest.mark.usefixtures("undrawn_figures")  # the section is text


def methods_of(folder: Path, bayes: dict) -> str:
    """The rendered methods section, whitespace collapsed, with ``bayes`` merged into run.json's bayes config."""
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    record["runs"]["bayes"]["config"]["bayes"] |= bayes
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return " ".join(section(html.write_report(folder).read_text(encoding="utf-8"), "methods").split())


def paragraphs(bayes: dict, bayesian: bool = True) -> dict[str, str]:
    """The methods paragraphs, by title, of a run whose config has the ``bayes`` section."""
    return dict(methods.methods({"bayes": bayes}, bayesian=bayesian).paragraphs)


def test_a_compared_cure_model_is_described_with_the_priors_of_the_config(tmp_path: Path, writers: SimpleNamespace):
    priors = {"random_walk_sd": 0.5, "coef_sd": 4.0, "cure_intercept_mean": -1.0, "cure_intercept_sd": 1.0}
    priors |= {"cure_coef_sd": 0.8}
    page = methods_of(cure_folder(tmp_path, writers), {"model": "ph", "compare": ["ph", "cure"], "priors": priors})
    cure = page.split("<strong>Mixture-cure model.</strong>")[1].split("</p>")[0]
    mixture = "S(t | x) = \u03c0(x) + (1 \u2212 \u03c0(x)) S_u(t | x)"
    assert f"The mixture-cure model (compared by PSIS-LOO): {mixture}" in cure
    low, high = (1 / (1 + math.exp(-(-1.0 + side * Z_95 * 1.0))) for side in (-1, 1))  # expit(mean -/+ 1.96 sd)
    prior = "Normal(-1, 1) on the logit of the cure fraction at the design&#39;s mean (a 95% prior interval of"
    assert f"{prior} {low:.2f} to {high:.2f} for the cure fraction)" in cure  # 0.05 to 0.72
    odds = math.exp(Z_95 * 0.8)  # 4.80
    odds_prior = "Normal(0, 0.8) on each log odds ratio of cure per standard deviation of its column"
    assert f"{odds_prior} (odds ratios between 1/{odds:.3g} and {odds:.3g} with 95% prior probability)" in cure
    assert "arm, biomarker and arm \u00d7 biomarker in an interaction model" in cure
    assert "constant within 8 intervals cut at quantiles of the event times" in cure
    assert "a Gaussian random walk whose step sd has a gamma prior with mean 0.5" in cure
    assert "Normal(0, 4) on each log hazard ratio among the uncured" in cure
    assert str(escape(plateau_rule_text())) in cure  # as the template escapes it


def test_the_cure_model_is_described_only_when_fitted():
    as_model = paragraphs({"model": "cure"})
    assert as_model["Mixture-cure model"].startswith("The mixture-cure model (the model of the tables (bayes.model))")
    assert "Normal(0, 1.5) on the logit of the cure fraction" in as_model["Mixture-cure model"]  # PwePriors defaults
    for bayes in ({"model": "ph", "compare": ["ph", "time_varying"]}, {}):
        assert "Mixture-cure model" not in paragraphs(bayes)
    assert "Mixture-cure model" not in paragraphs({"model": "cure"}, bayesian=False)


def test_the_comparison_names_bayes_model_and_every_compared_model():
    """bayes.model is fitted for every analysis, so ``compare: [cure]`` with model ph is a comparison of ph and cure."""
    sentence = "Every analysis was fitted with each of the models ph, cure, compared by PSIS-LOO (ArviZ)"
    for compare in (["cure"], ["ph", "cure"], ["cure", "ph"]):
        texts = paragraphs({"model": "ph", "compare": compare})
        assert sentence in texts["Bayesian models"], compare
    for bayes in ({"model": "ph", "compare": ["ph"]}, {"model": "cure", "compare": []}, {}):
        texts = paragraphs(bayes)
        assert "PSIS-LOO (ArviZ)" not in " ".join(texts.values()), bayes


def test_the_interaction_screen_is_described_with_its_prior_and_target_acceptance():
    bayes = {"screen": ["sig_*", "b_cell_ges"], "priors": {"expected_interactions": 3, "slab_scale": 1.5}}
    text = paragraphs(bayes)["Interaction screen"]
    assert text.startswith("Interaction screen of sig_*, b_cell_ges: one proportional-hazards")
    assert "a regularised horseshoe (Piironen & Vehtari 2017) in non-centred form" in text
    assert "local scales lambda_j ~ half-Student-t(3, 0, 1), global scale tau ~ half-Cauchy(0, tau0)" in text
    assert "tau0 = p0 / (D - p0) / sqrt(events) for p0 = 3 expected non-zero interactions" in text
    # c^2 ~ InvGamma(slab_df / 2, slab_df * slab_scale^2 / 2) = InvGamma(2, 4 * 2.25 / 2)
    assert "the slab c^2 ~ InvGamma(2, 4.5) (slab scale 1.5, 4 df)" in text
    assert "brms's horseshoe(df = 3, scale_global = tau0, df_global = 1, scale_slab = 1.5, df_slab = 4)" in text
    assert "samples at a target acceptance of 0.99 (bayes.screen_target_accept)" in text
    bayes |= {"priors": {"local_df": 1}, "screen_target_accept": 0.999}
    text = paragraphs(bayes)["Interaction screen"]
    assert "local scales lambda_j ~ half-Cauchy(0, 1)" in text
    assert "a target acceptance of 0.999" in text
    r2d2 = {"screen": ["sig_*"], "shrinkage": "r2d2", "priors": {"r2d2_mean": 0.4, "r2d2_precision": 3}}
    text = paragraphs(r2d2)["Interaction screen"]
    assert "R2 ~ Beta(1.2, 1.8), and phi ~ Dirichlet(0.5)" in text
    normal = {"screen": ["sig_*"], "shrinkage": "normal", "priors": {"coef_sd": 2}}
    text = paragraphs(normal)["Interaction screen"]
    assert "independent Normal(0, 2) priors (no multiplicity adjustment)" in text
    assert "Interaction screen" not in paragraphs({})
