"""The product section and data.pk of the config: names are checked against the data roles."""

import pytest

from tmesurv import InputError
from tmesurv.config import parse_config

PRODUCT = {
    "attributes": ["car_t_peak", "ccr7_cd45ra_fraction"],
    "outcomes": {"orr": {"column": "best_response", "levels": ["CR", "PR"]}, "crs": "grade3_crs"},
    "subgroups": [{"attribute": "ccr7_cd45ra_fraction", "biomarker": "b_cell_ges"}],
}


def _raw(config: dict, product: dict = PRODUCT) -> dict:
    config["data"] |= {
        "product": ["ccr7_cd45ra_fraction", "grade3_crs"],
        "responses": ["best_response"],
        "pk": {"path": "levels.csv", "id": "subject", "day": "day", "level": "cells"},
    }
    return config | {"product": product}


def test_a_bare_outcome_is_a_0_1_column_and_pk_columns_are_attributes(config: dict):
    parsed = parse_config(_raw(config), source="a.yaml")
    outcomes = parsed.product.outcome_specs()
    assert (outcomes["crs"].column, outcomes["crs"].levels) == ("grade3_crs", None)
    assert outcomes["orr"].levels == ["CR", "PR"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"attributes": ["car_t_pk"]}, r"product.attributes: 'car_t_pk' is not listed in data.product or derived"),
        ({"outcomes": {"orr": "best_response"}}, r"product.outcomes.orr.column: 'best_response' is not listed in data"),
        ({"outcomes": {"crs": {"column": "grade3_crs", "levels": ["1"]}}}, r"'grade3_crs' is not listed in data.resp"),
        ({"subgroups": [{"attribute": "car_t_peak", "biomarker": "cd19"}]}, r"product.subgroups.0.biomarker: 'cd19'"),
    ],
)
def test_unknown_names_are_errors(config: dict, change: dict, message: str):
    with pytest.raises(InputError, match=message):
        parse_config(_raw(config, PRODUCT | change), source="a.yaml")


def test_pk_columns_need_data_pk(config: dict):
    raw = _raw(config)
    del raw["data"]["pk"]
    with pytest.raises(InputError, match=r"'car_t_peak' is not listed in data.product or derived from data.pk"):
        parse_config(raw, source="a.yaml")


def test_a_quartile_biomarker_cannot_split_product_subgroups(config: dict):
    raw = _raw(config)
    raw["analysis"]["cutpoints"] = {"b_cell_ges": "quartiles"}
    with pytest.raises(InputError, match=r"product.subgroups.0: 'b_cell_ges' is cut at quartiles"):
        parse_config(raw, source="a.yaml")
