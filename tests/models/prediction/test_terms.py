"""The validation model's terms: the design matrix and the patients a model applies to."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.cohort import Cohort
from tmesurv.config import ValidationModelSpec
from tmesurv.errors import InputError
from tmesurv.models.prediction.terms import model_patients, validation_design
from tmesurv.models.prediction.transforms import ModelTerms


def test_design_is_arm_terms_and_interaction():
    values = pd.DataFrame({"x": [1.0, 2.0], "z": [0.0, 1.0]})
    spec = ValidationModelSpec(terms=["x", "z"], interaction="x")
    design = validation_design(values, np.array([1, 0]), spec, ModelTerms.parse(spec.terms))
    assert design.columns.tolist() == ["arm", "x", "z", "arm:x"]
    np.testing.assert_array_equal(design["arm:x"], [1.0, 0.0])
    alone = ValidationModelSpec(terms=["z"])
    assert validation_design(values, np.array([1, 0]), alone, ModelTerms.parse(["z"])).columns.tolist() == ["z"]


def test_non_numeric_term_is_an_input_error(synthetic, tmp_path: Path):
    export = synthetic.trial(60, 4)
    export["age"] = export["age"].astype(str)
    export.loc[[2, 5], "age"] = "unknown"
    loaded = Cohort.from_config(synthetic.write(tmp_path, "c", export, None, synthetic.interaction_model))
    with pytest.raises(InputError, match=r"column 'age', patients P4-0002, P4-0005: the model term must be numeric"):
        model_patients(loaded, loaded.config.validation_model, "validation_model")
