"""The ``bayes`` options that reach the extensions: chosen values, spline curves, the screen, the prior check."""

from __future__ import annotations

import pytest

from tmesurv.config import parse_config
from tmesurv.errors import InputError


def _with_features(config: dict) -> dict:
    config["data"]["features"] = ["sig_*", "cd19_gene"]
    return config


@pytest.mark.parametrize(
    ("bayes", "pattern"),
    [
        ({"treatment_at": {"ldh": [1.0]}}, r"bayes.treatment_at: 'ldh' is not listed in bayes.biomarkers or data"),
        (
            {"biomarkers": ["b_cell_ges"], "treatment_at": {"cd19_hscore": [150]}},
            r"bayes.treatment_at: 'cd19_hscore' is not listed",  # its interaction model is not fitted
        ),
        ({"hr_curves": ["spd"]}, r"bayes.hr_curves: 'spd' is not listed in data.biomarkers"),
        ({"screen": ["b_cell_ges", "cd8"]}, r"bayes.screen: 'cd8' is not listed in data.biomarkers or data.features"),
        ({"treatment_at": {"b_cell_ges": ["high"]}}, r"bayes.treatment_at.b_cell_ges.0"),
        ({"prior_predictive": "sometimes"}, r"bayes.prior_predictive"),
        ({"divergence_reruns": [0.99, 0.95]}, r"'bayes.divergence_reruns': .* give increasing target acceptances"),
        ({"divergence_reruns": [0.95, 1.0]}, r"bayes.divergence_reruns.1"),
        ({"min_events": 0}, r"bayes.min_events"),
    ],
)
def test_bayes_options_must_name_known_biomarkers(config: dict, bayes: dict, pattern: str):
    raw = _with_features(config) | {"bayes": bayes}
    with pytest.raises(InputError, match=pattern):
        parse_config(raw, source="a.yaml")


def test_bayes_options_parse(config: dict):
    raw = _with_features(config) | {
        "bayes": {
            "treatment_at": {"cd19_hscore": [100, 200.5]},
            "hr_curves": ["b_cell_ges"],
            "screen": ["b_cell_ges", "sig_ifng", "sig_*", "cd19_gene"],  # a name matching a pattern of features too
            "prior_predictive": True,
            "shrinkage": "r2d2",
        }
    }
    bayes = parse_config(raw, source="a.yaml").bayes
    assert bayes.treatment_at == {"cd19_hscore": [100.0, 200.5]}
    assert bayes.hr_curves == ["b_cell_ges"]
    assert bayes.screen == ["b_cell_ges", "sig_ifng", "sig_*", "cd19_gene"]
    assert bayes.prior_predictive


def test_bayes_options_default_to_nothing_extra(config: dict):
    bayes = parse_config(config, source="a.yaml").bayes
    assert (bayes.treatment_at, bayes.hr_curves, bayes.screen, bayes.prior_predictive) == ({}, [], [], False)
