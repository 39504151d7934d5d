"""PCA of biomarker features against R's prcomp(x, scale. = TRUE), up to the sign of each component.

Reference files are made by ``Rscript tests/reference/clustering.R`` (run from the repository root, base R only);
the tests need no R. R's signs are put in this module's convention (largest-magnitude loading positive) first.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.errors import InputError
from tmesurv.models.screens.pca import feature_pca

REFERENCE = Path(__file__).parents[2] / "reference"
FEATURES = [
    "sig_b_cells",
    "sig_proliferation",
    "sig_stroma",
    "sig_tgf_beta",
    "sig_t_cells",
    "sig_myeloid",
    "cd19_hscore",
    "ldh_ul",
    "spd_mm2",
]


@pytest.fixture(scope="module")
def features():
    trial = pd.read_csv(REFERENCE / "zuma7_trial.csv", index_col="subject_id")
    return trial[FEATURES]


@pytest.fixture(scope="module")
def fitted(features):
    return feature_pca(features)


@pytest.fixture(scope="module")
def r_signs():
    rotation = pd.read_csv(REFERENCE / "pca_rotation.csv", index_col="feature").to_numpy()
    largest = rotation[np.argmax(np.abs(rotation), axis=0), np.arange(rotation.shape[1])]
    return np.sign(largest)


def wide(table: pd.DataFrame, rows: str, values: str) -> pd.DataFrame:
    return table.pivot_table(index=rows, columns="component", values=values, aggfunc="first")


def test_sdev_equals_r(fitted):
    reference = pd.read_csv(REFERENCE / "pca_sdev.csv")
    assert fitted.explained["component"].tolist() == reference["component"].tolist()
    np.testing.assert_allclose(np.sqrt(fitted.explained["variance"]), reference["sdev"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(fitted.explained["proportion"].sum(), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fitted.explained["cumulative"].iloc[-1], 1.0, rtol=0, atol=1e-12)


def test_loadings_equal_r(fitted, r_signs):
    reference = pd.read_csv(REFERENCE / "pca_rotation.csv", index_col="feature")
    ours = wide(fitted.loadings, "feature", "loading").loc[reference.index, reference.columns]
    np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy() * r_signs, rtol=0, atol=1e-8)


def test_scores_equal_r(fitted, r_signs):
    reference = pd.read_csv(REFERENCE / "pca_scores.csv", index_col="subject_id")
    ours = wide(fitted.scores, "id", "score").loc[reference.index, reference.columns]
    np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy() * r_signs, rtol=0, atol=1e-8)


def test_tidy_tables_and_complete_cases(features, fitted):
    assert list(fitted.loadings.columns) == ["feature", "component", "loading"]
    assert list(fitted.scores.columns) == ["id", "component", "score"]
    assert list(fitted.explained.columns) == ["component", "variance", "proportion", "cumulative"]
    complete = features.notna().all(axis=1)
    assert fitted.n == complete.sum() == 145
    assert fitted.excluded == features.index[~complete].tolist()
    assert len(fitted.scores) == 145 * 9


def test_fewer_components_keep_the_leading_ones(features, fitted):
    two = feature_pca(features, n_components=2)
    assert two.explained["component"].tolist() == ["PC1", "PC2"]
    pd.testing.assert_frame_equal(two.explained, fitted.explained.iloc[:2], rtol=0, atol=1e-10)
    leading = fitted.loadings[fitted.loadings["component"].isin(["PC1", "PC2"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(two.loadings, leading, rtol=0, atol=1e-10)


def test_unscaled_pca_uses_covariance():
    rng = np.random.default_rng(1)
    features = pd.DataFrame(rng.standard_normal((30, 3)) * [1.0, 2.0, 3.0], columns=["a", "b", "c"])
    fitted = feature_pca(features, scale=False)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(features.to_numpy(), rowvar=False)))[::-1]
    np.testing.assert_allclose(fitted.explained["variance"], eigenvalues, rtol=1e-12)
    assert fitted.scale is None


def test_constant_feature_is_named(features):
    with pytest.raises(InputError, match="features flat are constant"):
        feature_pca(features.assign(flat=1.0))


def test_too_few_complete_patients():
    features = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan, 2.0, 1.0]})
    with pytest.raises(InputError, match="only 1 of 3 patients have every feature"):
        feature_pca(features)
    with pytest.raises(InputError, match="n_components must be between 1 and 2"):
        feature_pca(pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": [3.0, 1.0, 2.0]}), n_components=3)
