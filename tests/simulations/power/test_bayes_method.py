"""The Bayesian interaction method of a power study: its decision rule on known posteriors, and sampled fits at an
effect where it must confirm and at the null, where it must not (a handful of replicates, in process)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import yaml
from scipy import stats

from tmesurv.simulations.power.chunks import run_chunk
from tmesurv.simulations.power.cohorts import simulate_validation_cohorts
from tmesurv.simulations.power.methods import BayesInteraction
from tmesurv.simulations.power.study import load_power_study

THRESHOLD = 0.975


def bayes_study(folder, interaction_hr: float, replicates: int = 3, n: int = 300):
    path = folder / f"study_{interaction_hr}.yaml"
    raw = {
        "name": "bayes_smoke",
        "scenario": "zuma7",
        "seed": 3,
        "replicates": replicates,
        "chunk_size": replicates,
        "grid": {"n": [n], "interaction_hr": [interaction_hr]},
        "methods": ["bayes_interaction", "cox_interaction"],
        "bayes": {"intervals": 6, "draws": 500, "tune": 500, "chains": 2, "threshold": THRESHOLD},
    }
    path.write_text(yaml.safe_dump(raw))
    return load_power_study(path)


def posterior_with(below: int, total: int = 2000) -> az.InferenceData:
    """Interaction draws (2 chains) of which exactly ``below`` are negative, in a seeded random order."""
    values = np.random.default_rng(below).permutation(np.arange(total) - below + 0.5) / total
    coef = np.stack([values, np.zeros(total)], axis=-1).reshape(2, total // 2, 2)
    return az.from_dict(posterior={"coef": coef}, coords={"term": ["arm_positive", "arm"]}, dims={"coef": ["term"]})


def test_decision_rule_on_known_posteriors(tmp_path, monkeypatch):
    """P(interaction HR < 1) = share of negative draws; confirmed only when it exceeds the threshold (strictly)."""
    study = bayes_study(tmp_path, 0.5, replicates=5, n=60)
    batch = simulate_validation_cohorts(study.cohort_model(study.settings()[0]), 3, 0, range(5))
    below = dict(zip(batch.sampler_seeds.tolist(), [1990, 1951, 1950, 1000, 10], strict=True))

    def fake_fit(time, event, design, model, sampler, log_likelihood):
        assert list(design.columns) == ["arm", "positive", "arm_positive"]
        return posterior_with(below[sampler.seed])

    monkeypatch.setattr("tmesurv.models.pwe.fit.fit_pwe", fake_fit)
    result = BayesInteraction(study.spec.bayes).analyse(batch, 0.05)
    # P = 0.995, 0.9755, 0.975 (not above), 0.5, 0.005
    np.testing.assert_array_equal(result.reject, [True, True, False, False, False])
    assert not result.failed.any()
    expected_means = [(np.arange(2000) - k + 0.5).mean() / 2000 for k in below.values()]
    np.testing.assert_allclose(result.estimate, expected_means, atol=1e-12)
    assert (result.upper[result.reject] < 0).all()


@pytest.mark.sampling
@pytest.mark.parametrize(("interaction_hr", "must_confirm"), [(0.25, True), (1.0, False)])
def test_confirms_a_strong_interaction_and_not_the_null(tmp_path, interaction_hr, must_confirm):
    """At HR_int 0.25 every replicate's Cox one-sided P is below 0.001, so the rule must confirm each; at the null
    every one is above 0.1, so it must confirm none. The PWE estimate agrees with Cox (vague priors)."""
    study = bayes_study(tmp_path, interaction_hr, n=400)
    arrays = run_chunk(study, 0, 0)
    bayes, cox, cox_se = (arrays[f"{m}.{f}"] for m, f in [("bayes_interaction", "estimate"), ("cox_interaction",
                          "estimate"), ("cox_interaction", "se")])  # fmt: skip
    one_sided = stats.norm.cdf(cox / cox_se)  # Cox P of an interaction HR below 1
    assert (one_sided < 0.001).all() if must_confirm else (one_sided > 0.1).all()
    assert not arrays["bayes_interaction.failed"].any()
    assert np.abs(bayes - cox).max() < 0.1
    np.testing.assert_array_equal(arrays["bayes_interaction.reject"], np.full(3, must_confirm))


@pytest.mark.sampling
def test_bayes_interaction_is_reproducible_and_agrees_with_cox(tmp_path):
    study = bayes_study(tmp_path, 0.5, replicates=2)
    first, again = run_chunk(study, 0, 0), run_chunk(study, 0, 0)
    for key, values in first.items():
        assert np.array_equal(values, again[key], equal_nan=values.dtype.kind == "f"), key
    bayes, cox = first["bayes_interaction.estimate"], first["cox_interaction.estimate"]
    assert np.allclose(first["bayes_interaction.se"], first["cox_interaction.se"], rtol=0.25)
    assert (first["bayes_interaction.lower"] < bayes).all()
    assert (bayes < first["bayes_interaction.upper"]).all()
    assert np.abs(bayes - cox).max() < 0.1
