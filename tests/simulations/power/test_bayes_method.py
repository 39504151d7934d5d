"""The Bayesian interaction method of a power study: a handful of replicates, in process (nutpie compiles once)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from tmesurv.simulations.power.chunks import run_chunk
from tmesurv.simulations.power.study import load_power_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = tmp_path_factory.mktemp("bayes") / "study.yaml"
    raw = {
        "name": "bayes_smoke",
        "scenario": "zuma7",
        "seed": 3,
        "replicates": 4,
        "chunk_size": 4,
        "grid": {"n": [300], "interaction_hr": [0.5]},
        "methods": ["bayes_interaction", "cox_interaction"],
        "bayes": {"intervals": 6, "draws": 500, "tune": 500, "chains": 2, "threshold": 0.975},
    }
    path.write_text(yaml.safe_dump(raw))
    return load_power_study(path)


@pytest.mark.sampling
def test_bayes_interaction_is_reproducible_and_agrees_with_cox(study):
    first, again = run_chunk(study, 0, 0), run_chunk(study, 0, 0)
    for key, values in first.items():
        assert np.array_equal(values, again[key], equal_nan=values.dtype.kind == "f"), key
    bayes, cox = first["bayes_interaction.estimate"], first["cox_interaction.estimate"]
    assert not first["bayes_interaction.failed"].any()
    assert np.abs(bayes - cox).max() < 0.1  # vague priors, 6 intervals: the PWE interaction is the Cox one
    assert np.allclose(first["bayes_interaction.se"], first["cox_interaction.se"], rtol=0.25)
    assert (first["bayes_interaction.lower"] < bayes).all()
    assert (bayes < first["bayes_interaction.upper"]).all()
    confirmed = first["bayes_interaction.reject"]
    assert confirmed.dtype == bool
    assert (confirmed <= (first["bayes_interaction.upper"] < 0)).all()  # P(HR < 1) > 0.975: the 97.5% quantile < 0
