from pathlib import Path

import pytest
import yaml

from tmesurv import InputError
from tmesurv.config import load_config, parse_config


def test_valid_config_resolves_data_path_next_to_config(tmp_path: Path, config: dict):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(config))
    config, resolved = load_config(path)
    assert config.data.path == tmp_path.resolve() / "cohort.csv"
    assert resolved == path.resolve()
    assert config.analysis.cutpoint == "median"


def test_unknown_key_is_named_with_a_suggestion(config: dict):
    raw = config
    raw["data"]["biomarker"] = raw["data"].pop("biomarkers")
    with pytest.raises(InputError, match=r"unknown key 'data\.biomarker' \(did you mean 'biomarkers'\?\)"):
        parse_config(raw, source="a.yaml")


def test_missing_key_is_named(config: dict):
    raw = config
    del raw["data"]["id"], raw["data"]["arm"]["treated"]
    with pytest.raises(InputError, match=r"(?s)a\.yaml.*missing key 'data\.arm\.treated'"):
        parse_config(raw, source="a.yaml")


def test_arm_or_single_arm(config: dict):
    raw = config
    del raw["data"]["arm"]
    with pytest.raises(InputError, match=r"give exactly one of 'arm' .* and 'single_arm'"):
        parse_config(raw, source="a.yaml")
    raw["data"]["single_arm"] = "treated"
    assert parse_config(raw, source="a.yaml").data.single_arm == "treated"


def test_numeric_cutpoint_and_unknown_endpoint(config: dict):
    raw = config
    raw["analysis"]["cutpoint"] = 3721
    assert parse_config(raw, source="a.yaml").analysis.cutpoint == 3721
    raw["analysis"]["endpoint"] = "os"
    with pytest.raises(InputError, match=r"analysis\.endpoint 'os' is not among data\.endpoints"):
        parse_config(raw, source="a.yaml")


def test_adam_endpoints_need_paramcd(config: dict):
    raw = config
    raw["data"].pop("path")
    raw["data"]["adam"] = {"adsl": "adsl.xpt", "adtte": "adtte.xpt"}
    with pytest.raises(InputError, match="ADaM data need 'paramcd'"):
        parse_config(raw, source="a.yaml")


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_config_that_is_not_yaml(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(path)


def test_shipped_example_config_is_valid():
    example = Path(__file__).parents[2] / "configs" / "analysis_example.yaml"
    config, _ = load_config(example)
    assert config.data.biomarkers == ["b_cell_ges", "cd19_hscore"]
    assert config.bayes.priors.coef_sd == 10


def _with_screens(config: dict) -> dict:
    config["data"] |= {"features": ["sig_*"], "responses": ["response_group"], "covariates": ["biopsy_timing"]}
    config["screens"] = {"endpoints": ["efs"], "response": {"column": "response_group", "level": "ongoing"}}
    return config


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda c: c["analysis"].update(cutpoints={"ldh": 500}), r"analysis.cutpoints: 'ldh' is not listed in data"),
        (
            lambda c: c["analysis"].update(
                cutpoints={"b_cell_ges": "quartiles"}, combined_subgroups=[{"b_cell_ges": "high", "cd19_hscore": "low"}]
            ),
            r"combined_subgroups.0: 'b_cell_ges' is cut at quartiles",
        ),
        (lambda c: c["analysis"].update(combined_subgroups=[{"b_cell_ges": "mid", "cd19_hscore": "low"}]), r"high"),
        (lambda c: c["analysis"].update(subgroup_covariates=["line"]), r"'line' is not listed in data.covariates"),
        (lambda c: c["screens"].update(endpoints=["dor"]), r"screens.endpoints: 'dor' is not listed in data.endpoints"),
        (
            lambda c: c["screens"].update(complete_response={"column": "best_response", "level": "CR"}),
            r"screens.complete_response.column: 'best_response' is not listed in data.responses",
        ),
        (lambda c: c["data"].update(features=[]), r"screens: data.features lists no columns"),
        (
            lambda c: c["data"]["endpoints"]["efs"].update(required=False),
            r"analysis.endpoint 'efs' has required: false",
        ),
    ],
)
def test_subgroup_and_screen_settings_must_name_known_columns(config: dict, change, pattern):
    raw = _with_screens(config)
    change(raw)
    with pytest.raises(InputError, match=pattern):
        parse_config(raw, source="a.yaml")


def test_subgroup_and_screen_settings_parse(config: dict):
    raw = _with_screens(config)
    raw["analysis"] |= {
        "cutpoints": {"cd19_hscore": 150, "b_cell_ges": "quartiles"},
        "subgroup_covariates": ["biopsy_timing"],
    }
    parsed = parse_config(raw, source="a.yaml")
    assert parsed.analysis.cutpoint_of("cd19_hscore") == 150
    assert parsed.analysis.cutpoint_of("b_cell_ges") == "quartiles"
    assert parsed.screens.clusters == 4


def test_validation_model_terms_must_be_known(config: dict):
    raw = config
    raw["validation_model"] = {"terms": ["b_cell_ges", "ldh"], "interaction": "b_cell_ges"}
    with pytest.raises(InputError, match=r"validation_model.terms: 'ldh' is not listed"):
        parse_config(raw, source="a.yaml")
    raw["validation_model"] = {"terms": ["b_cell_ges"], "interaction": "b_cell_ges", "arm": "treated"}
    with pytest.raises(InputError, match=r"fitted on both arms"):
        parse_config(raw, source="a.yaml")


@pytest.mark.parametrize("landmarks", [[-12.0, 12.0], [0, 24]])
def test_landmarks_must_be_positive_times(config: dict, landmarks: list[float]):
    config["analysis"]["landmarks"] = landmarks
    with pytest.raises(InputError, match=r"'analysis\.landmarks\.0': Input should be greater than 0"):
        parse_config(config, source="a.yaml")
