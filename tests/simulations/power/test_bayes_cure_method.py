"""The Bayesian cure-fraction interaction method of a power study: a handful of replicates, and its estimand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from tmesurv.simulations.power.chunks import run_chunk
from tmesurv.simulations.power.methods import cure_logit_interaction
from tmesurv.simulations.power.study import load_power_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = tmp_path_factory.mktemp("bayes_cure") / "study.yaml"
    raw = {
        "name": "bayes_cure_smoke",
        "scenario": "zuma7",
        "seed": 3,
        "replicates": 2,
        "chunk_size": 2,
        "grid": {"n": [400], "interaction_hr": [0.3]},
        "methods": ["bayes_cure_interaction"],
        "bayes": {"intervals": 6, "draws": 200, "tune": 200, "chains": 2, "threshold": 0.95},
    }
    path.write_text(yaml.safe_dump(raw))
    return load_power_study(path)


def test_estimand_is_the_cure_logit_interaction_of_the_cohort_model(study):
    model = study.cohort_model(study.settings()[0])
    treated, control = model.treated_hazard.cure_fraction, model.control_hazard.cure_fraction  # 0.39, 0.14
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    prognostic = math.exp(model.prognostic_log_hr)
    expected = logit(treated ** (prognostic * 0.3)) - logit(treated) - logit(control**prognostic) + logit(control)
    assert cure_logit_interaction(model) == pytest.approx(expected, rel=1e-12)
    assert expected > 0  # a lower hazard in positive treated patients: more of them cured


@pytest.mark.sampling
def test_cure_interaction_is_estimated_reproducibly_and_confirmed_by_the_upper_tail(study):
    first, second = run_chunk(study, 0, 0), run_chunk(study, 0, 0)
    estimate = first["bayes_cure_interaction.estimate"]
    np.testing.assert_array_equal(estimate, second["bayes_cure_interaction.estimate"])
    assert not first["bayes_cure_interaction.failed"].any()
    assert (first["bayes_cure_interaction.lower"] < estimate).all()
    assert (estimate < first["bayes_cure_interaction.upper"]).all()
    confirmed = first["bayes_cure_interaction.reject"]
    # confirmed: P(OR > 1) > 0.95, so a 95% interval above 0 (P > 0.975) is confirmed, one below 0 never
    assert (confirmed >= (first["bayes_cure_interaction.lower"] > 0)).all()
    assert not (confirmed & (first["bayes_cure_interaction.upper"] < 0)).any()
