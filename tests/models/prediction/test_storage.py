"""Saving and loading the validation model's fits, and what is refused."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.models.prediction.conftest import study, terms_of
from tmesurv.errors import InputError
from tmesurv.models.prediction.storage import (
    MODEL_FILE,
    load_validation_fits,
    read_validation_model,
    save_validation_model,
    write_validation_model,
)


def test_saved_model_reads_back_exactly(development, tmp_path: Path):
    loaded, model = development
    write_validation_model(model, tmp_path / MODEL_FILE)
    (read,) = load_validation_fits(tmp_path)
    for name in ("coef", "covariance", "centre", "baseline_time", "baseline_hazard"):
        np.testing.assert_array_equal(getattr(read, name), getattr(model, name))
    assert read.info.spec == model.info.spec
    assert read.info.config == json.loads(json.dumps(loaded.config.model_dump(mode="json")))
    pd.testing.assert_frame_equal(read.info.development.values, model.info.development.values)
    values = terms_of(loaded, model.info.spec.terms)
    np.testing.assert_array_equal(
        read.risk(values, loaded.treated, [6, 12]), model.risk(values, loaded.treated, [6, 12])
    )


def test_within_arm_model_fits_one_arm_and_counts_the_other(synthetic, tmp_path: Path):
    loaded = study(synthetic, tmp_path, {"terms": ["b_cell_ges", "age"], "arm": "treated"})
    notes: list[str] = []
    exclusions = save_validation_model(loaded, loaded.config.validation_model_plan(), tmp_path, notes)
    assert notes == []
    assert [(e.reason, e.count) for e in exclusions] == [
        ("not in the treated arm the model is fitted on", int((loaded.treated == 0).sum()))
    ]
    (model,) = load_validation_fits(tmp_path)
    assert model.info.design_terms == ["b_cell_ges", "age"]
    assert model.info.development.n == int(loaded.treated.sum())
    assert model.interaction_effects() == {}


def test_unfittable_model_gets_a_note_and_no_file(synthetic, tmp_path: Path):
    loaded = study(synthetic, tmp_path, {"terms": ["b_cell_ges"], "arm": "treated"})
    constant = loaded.patients.assign(b_cell_ges=1.0)
    cohort = replace(loaded, patients=constant)
    notes: list[str] = []
    save_validation_model(cohort, loaded.config.validation_model_plan(), tmp_path, notes)
    assert notes == [
        "validation model not fitted ('b_cell_ges' takes one value only); nothing saved for tmesurv validate"
    ]
    assert not (tmp_path / MODEL_FILE).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot be read as JSON"),
        ('{"format": "other"}', "is not a tmesurv validation model"),
        ('{"format": "tmesurv-validation-model", "format_version": 99}', "format version 99"),
        ('{"format": "tmesurv-validation-model", "format_version": 1}', "not a complete validation model"),
    ],
)
def test_unreadable_model_file(tmp_path: Path, content: str, message: str):
    (tmp_path / MODEL_FILE).write_text(content)
    with pytest.raises(InputError, match=message):
        read_validation_model(tmp_path / MODEL_FILE)


def test_missing_model_folder_and_files(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        load_validation_fits(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"has neither validation_model.json nor validation_model_posterior.nc"):
        load_validation_fits(tmp_path)
