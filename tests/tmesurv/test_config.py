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
    del raw["data"]["arm"]
    with pytest.raises(InputError, match=r"(?s)a\.yaml.*missing key 'data\.arm'"):
        parse_config(raw, source="a.yaml")


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
