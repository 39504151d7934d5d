"""Signature clustering against R's cor(method = "spearman"), hclust(dist(.), "average") and cutree.

Reference files are made by ``Rscript tests/reference/clustering.R`` (run from the repository root, base R only);
the tests need no R.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.errors import InputError
from tmesurv.models.screens.clustering import cluster_index, cluster_signatures, signature_correlation

REFERENCE = Path(__file__).parents[2] / "reference"


@pytest.fixture(scope="module")
def signatures():
    trial = pd.read_csv(REFERENCE / "zuma7_trial.csv", index_col="subject_id")
    return trial.filter(regex="^sig_")


def partition(labels: pd.Series) -> set[frozenset[str]]:
    return {frozenset(group.index) for _, group in labels.groupby(labels)}


def test_correlation_equals_r(signatures):
    reference = pd.read_csv(REFERENCE / "clustering_correlation.csv", index_col="feature")
    ours = signature_correlation(signatures)
    assert list(ours.index) == list(reference.index) == list(ours.columns) == list(reference.columns)
    np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy(), rtol=0, atol=1e-12)


def test_merge_heights_equal_r(signatures):
    reference = pd.read_csv(REFERENCE / "clustering_heights.csv")["height"].to_numpy()
    clusters = cluster_signatures(signatures, k=2)
    np.testing.assert_allclose(np.sort(clusters.heights), reference, rtol=0, atol=1e-10)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_membership_is_r_cutree_partition(signatures, k):
    reference = pd.read_csv(REFERENCE / "clustering_membership.csv", index_col="feature")[f"k{k}"]
    clusters = cluster_signatures(signatures, k=k)
    ours = clusters.membership.set_index("feature")["cluster"]
    assert partition(ours) == partition(reference)
    assert list(clusters.membership.columns) == ["feature", "cluster"]
    assert clusters.membership["feature"].tolist() == clusters.order
    assert clusters.membership["cluster"].drop_duplicates().tolist() == list(range(1, k + 1))


def test_patients_used_are_those_with_expression(signatures):
    clusters = cluster_signatures(signatures, k=3)
    has_expression = signatures.notna().all(axis=1)
    assert clusters.n == has_expression.sum() == 254
    assert clusters.excluded == signatures.index[~has_expression].tolist()


def test_index_equals_r_rms(signatures):
    reference = pd.read_csv(REFERENCE / "clustering_rms_k4.csv", index_col="subject_id")
    r_members = pd.read_csv(REFERENCE / "clustering_membership.csv", index_col="feature")["k4"]
    clusters = cluster_signatures(signatures, k=4)
    for cluster in range(1, 5):
        members = clusters.members(cluster)
        (r_label,) = r_members[members].unique()
        ours = cluster_index(signatures, members)
        np.testing.assert_allclose(ours, reference[f"cluster_{r_label}"], rtol=0, atol=1e-12)
        assert ours.isna().sum() == 105


def test_index_by_hand():
    scores = pd.DataFrame({"a": [1.0, 3.0, np.nan], "b": [2.0, -4.0, 1.0], "c": [9.0, 9.0, 9.0]})
    expected = [np.sqrt((1 + 4) / 2), np.sqrt((9 + 16) / 2), np.nan]
    np.testing.assert_allclose(cluster_index(scores, ["a", "b"]), expected, rtol=0, atol=1e-15)
    centred = cluster_index(scores, ["a", "b"], centre=pd.Series({"a": 1.0, "b": -1.0}))
    np.testing.assert_allclose(centred, [np.sqrt((0 + 9) / 2), np.sqrt((4 + 9) / 2), np.nan], rtol=0, atol=1e-15)
    np.testing.assert_allclose(cluster_index(scores, ["b"], centre=1.0), [1.0, 5.0, 0.0], rtol=0, atol=1e-15)


def test_constant_signature_is_named(signatures):
    scores = signatures.assign(sig_flat=np.where(signatures["sig_b_cells"].notna(), 7.0, np.nan))
    with pytest.raises(InputError, match="sig_flat are constant"):
        cluster_signatures(scores, k=3)


def test_too_few_complete_patients():
    scores = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [1.0, np.nan, 3.0, 2.0]})
    with pytest.raises(InputError, match="only 2 of 4 patients have every signature"):
        signature_correlation(scores)


def test_bad_k_and_members(signatures):
    with pytest.raises(InputError, match="k must be between 1 and the number of signatures"):
        cluster_signatures(signatures, k=47)
    with pytest.raises(InputError, match="sig_unknown are not columns"):
        cluster_index(signatures, ["sig_b_cells", "sig_unknown"])
