"""The config's sections are the models' settings: what each model takes out of a parsed config."""

import pytest

from tmesurv.config import parse_config
from tmesurv.errors import InputError
from tmesurv.models.pwe.settings import PwePriors, PweSettings, SamplerSettings
from tmesurv.signatures import SHIPPED_GENE_SETS


def test_bayes_section_gives_the_model_and_sampler_settings(config: dict):
    config["bayes"] = {"intervals": 5, "model": "time_varying", "draws": 300, "seed": 7, "target_accept": 0.95}
    config["bayes"] |= {"priors": {"coef_sd": 2.5}, "shrinkage": "r2d2", "sampler": "pymc", "compare": ["ph"]}
    bayes = parse_config(config, source="a.yaml").bayes
    assert bayes.model_settings() == PweSettings(intervals=5, time_varying=True, priors=PwePriors(coef_sd=2.5))
    assert bayes.model_settings("ph") == PweSettings(intervals=5, time_varying=False, priors=PwePriors(coef_sd=2.5))
    assert bayes.compared_models == ["time_varying", "ph"]  # bayes.model first: the tables come from it
    assert bayes.sampler_settings() == SamplerSettings(sampler="pymc", draws=300, seed=7, target_accept=0.95)
    assert type(bayes.model_settings()) is PweSettings  # the plain settings, not the config section


@pytest.mark.parametrize(
    ("bayes", "message"),
    [
        ({"time_varying": True}, r"bayes.time_varying is replaced by bayes.model: write 'model: time_varying'"),
        ({"time_varying": False}, r"write 'model: ph \(the default\)' instead of 'time_varying: false'"),
        (
            {"model": "weibull"},
            r"'bayes.model': Value error, unknown Bayesian model 'weibull'; the models are: ph, time_varying, cure",
        ),
        ({"compare": ["ph", "weibull"]}, r"'bayes.compare': .*unknown Bayesian model 'weibull'"),
        ({"compare": ["ph", "ph"]}, r"'bayes.compare': .*lists a model twice"),
    ],
)
def test_bayes_model_keys_say_what_to_write(config: dict, bayes: dict, message: str):
    config["bayes"] = bayes
    with pytest.raises(InputError, match=message):
        parse_config(config, source="a.yaml")


def test_validation_model_plan_carries_the_model_endpoint_horizons_config_and_gene_sets(config: dict):
    assert parse_config(config, source="a.yaml").validation_model_plan() is None
    config["analysis"]["landmarks"] = [6, 18]
    config["data"]["biomarkers"] = ["b_cell_ges", "cd19_hscore"]
    config["data"]["derive"] = {"signatures": {"b_cell_ges": "zuma7_b_cell", "other_ges": ["CD19", "MS4A1"]}}
    config["validation_model"] = {"terms": ["b_cell_ges", "cd19_hscore"], "interaction": "b_cell_ges"}
    parsed = parse_config(config, source="a.yaml")
    plan = parsed.validation_model_plan()
    assert plan.spec == parsed.validation_model
    assert (plan.endpoint, plan.horizons) == ("efs", (6.0, 18.0))
    assert plan.config == parsed.model_dump(mode="json")
    assert dict(plan.gene_sets) == {"b_cell_ges": tuple(SHIPPED_GENE_SETS["zuma7_b_cell"])}  # only model terms
