"""Shared fixtures of the validation-model tests: a synthetic development study and its Cox fit."""

from pathlib import Path

import pandas as pd
import pytest

from tmesurv.cohort import Cohort
from tmesurv.models.prediction.cox import fit_validation_model


def study(synthetic, folder: Path, validation_model: dict, n: int = 200, seed: int = 1):
    export = synthetic.trial(n, seed)
    return Cohort.from_config(synthetic.write(folder, f"cohort{seed}", export, None, validation_model))


@pytest.fixture(scope="module")
def development(synthetic, tmp_path_factory):
    loaded = study(synthetic, tmp_path_factory.mktemp("development"), synthetic.interaction_model)
    model, exclusions, problem = fit_validation_model(loaded, loaded.config.validation_model_plan())
    assert problem == ""
    assert exclusions == []
    return loaded, model


def terms_of(cohort, terms):
    return cohort.patients[list(terms)].apply(pd.to_numeric, errors="coerce").astype(float)
