"""Clusters of gene-expression signatures and their per-patient indices, as in the ZUMA-7 biomarker paper.

The signatures are correlated by Spearman's rank correlation over the patients with every signature scored
(expression is missing per patient as a block, so the complete cases of the signature block are the patients
with expression). Each signature is then described by its row of the correlation matrix, its correlations with
all signatures, and the rows are clustered by average linkage (UPGMA) on Euclidean distance: R's
``hclust(dist(cor(x, method = "spearman")), method = "average")``. The tree is cut into ``k`` clusters and each
cluster's index is the root mean square of its member signatures per patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.stats import rankdata

from tmesurv.errors import InputError

MIN_PATIENTS = 3
MEMBERSHIP_COLUMNS = ["feature", "cluster"]


@dataclass(frozen=True)
class SignatureClusters:
    """Signatures cut into ``k`` clusters.

    Attributes
    ----------
    correlation
        Spearman correlation matrix of the signatures (features x features).
    linkage
        SciPy linkage matrix of the correlation rows (average linkage, Euclidean distance).
    order
        Signature names in the dendrogram's leaf order (SciPy's; R's ``hclust`` may draw the tree differently).
    membership
        Columns ``feature, cluster``, one row per signature in leaf order; clusters are numbered 1..k by first
        appearance in the leaf order (R's ``cutree`` numbers them by first appearance in column order instead).
    k
        Number of clusters.
    n
        Number of patients the correlations use (those with every signature scored).
    excluded
        Row labels of the patients left out because a signature is missing.
    """

    correlation: pd.DataFrame
    linkage: np.ndarray
    order: list[str]
    membership: pd.DataFrame
    k: int
    n: int
    excluded: list[object]

    @property
    def heights(self) -> np.ndarray:
        """Merge heights, in merge order (non-decreasing for average linkage)."""
        return self.linkage[:, 2]

    def members(self, cluster: int) -> list[str]:
        """Signatures of one cluster (1..k), in leaf order."""
        return self.membership.loc[self.membership["cluster"] == cluster, "feature"].tolist()


def complete_signatures(scores: pd.DataFrame) -> pd.DataFrame:
    """The patients (rows) with every signature (column) scored, after checking the block is usable.

    Parameters
    ----------
    scores
        One row per patient, one numeric column per signature.

    Returns
    -------
    pandas.DataFrame
        The rows of ``scores`` without missing values, as floats.

    Raises
    ------
    InputError
        If a column is not numeric, there are fewer than two signatures or ``MIN_PATIENTS`` complete patients,
        or a signature is constant over the complete patients (its correlations are undefined).
    """
    text = [str(column) for column in scores.columns if not pd.api.types.is_numeric_dtype(scores[column])]
    if text:
        raise InputError(f"signature columns {', '.join(text)} are not numeric; pass only the signature scores.")
    if scores.shape[1] < 2:
        raise InputError(f"clustering needs at least 2 signature columns, got {scores.shape[1]}.")
    complete = scores.dropna().astype(float)
    if len(complete) < MIN_PATIENTS:
        raise InputError(
            f"only {len(complete)} of {len(scores)} patients have every signature scored; correlating signatures "
            f"needs at least {MIN_PATIENTS}. Check that the signature columns hold the expression scores."
        )
    flat = np.ptp(complete.to_numpy(), axis=0) == 0
    constant = [str(column) for column in complete.columns[flat]]
    if constant:
        raise InputError(
            f"signatures {', '.join(constant)} are constant over the {len(complete)} patients with expression, so "
            "their correlations are undefined; drop them before clustering."
        )
    return complete


def signature_correlation(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation matrix of the signatures over the patients with every signature scored.

    Patients with any signature missing are left out (complete cases of the signature block, not pairwise-complete
    correlations: expression is missing per patient as a block). Ties get average ranks, as in R's
    ``cor(x, method = "spearman")``. :func:`complete_signatures` gives the patients used.

    Parameters
    ----------
    scores
        One row per patient, one numeric column per signature.

    Returns
    -------
    pandas.DataFrame
        Symmetric, unit-diagonal matrix indexed and labelled by the signature names.
    """
    complete = complete_signatures(scores)
    return _spearman(complete)


def _spearman(complete: pd.DataFrame) -> pd.DataFrame:
    ranks = rankdata(complete.to_numpy(), axis=0)
    matrix = np.corrcoef(ranks, rowvar=False)
    matrix = (matrix + matrix.T) / 2
    np.fill_diagonal(matrix, 1.0)
    return pd.DataFrame(matrix, index=complete.columns, columns=complete.columns)


def cluster_signatures(scores: pd.DataFrame, k: int) -> SignatureClusters:
    """Cluster signatures by average linkage on their Spearman correlation profiles and cut into ``k`` clusters.

    Parameters
    ----------
    scores
        One row per patient, one numeric column per signature; patients missing any signature are left out.
    k
        Number of clusters, 1 to the number of signatures.

    Returns
    -------
    SignatureClusters
        The correlation matrix, linkage, leaf order and membership.

    Raises
    ------
    InputError
        For unusable scores (see :func:`complete_signatures`), a ``k`` out of range, or tied merge heights that
        make ``k`` clusters ambiguous.
    """
    complete = complete_signatures(scores)
    if not 1 <= k <= complete.shape[1]:
        raise InputError(f"k must be between 1 and the number of signatures ({complete.shape[1]}), got {k}.")
    correlation = _spearman(complete)
    linkage = hierarchy.linkage(correlation.to_numpy(), method="average", metric="euclidean")
    order = correlation.index[hierarchy.leaves_list(linkage)].tolist()
    labels = pd.Series(hierarchy.fcluster(linkage, k, criterion="maxclust"), index=correlation.index)
    if labels.nunique() != k:
        raise InputError(
            f"tied merge heights leave {labels.nunique()} clusters where {k} were asked for; choose another k."
        )
    excluded = scores.index.difference(complete.index, sort=False).tolist()
    return SignatureClusters(correlation, linkage, order, _membership(labels, order), k, len(complete), excluded)


def _membership(labels: pd.Series, order: list[str]) -> pd.DataFrame:
    """Tidy membership in leaf order, clusters renumbered 1..k by first appearance."""
    in_order = labels[order]
    renumber = {label: number for number, label in enumerate(in_order.unique(), start=1)}
    return pd.DataFrame({"feature": order, "cluster": in_order.map(renumber).to_numpy()}, columns=MEMBERSHIP_COLUMNS)


def cluster_index(scores: pd.DataFrame, members: list[str], centre: float | pd.Series = 0.0) -> pd.Series:
    """Per-patient root mean square of a cluster's member signatures: sqrt(mean_j (x_j - c_j)^2).

    The index depends on where the scores are centred: on raw log2 scores (``centre=0``, as in the paper) it is
    dominated by the overall expression level; on scores centred per signature it measures distance from the
    centre in either direction.

    Parameters
    ----------
    scores
        One row per patient, holding at least the ``members`` columns.
    members
        The signatures of the cluster.
    centre
        Value subtracted from the scores first: one number for all signatures, or a Series indexed by signature
        (for example the cohort's means).

    Returns
    -------
    pandas.Series
        Indexed like ``scores``; NaN for patients missing any member.

    Raises
    ------
    InputError
        If ``members`` is empty, or a member is not a column of ``scores`` or has no centre.
    """
    if not members:
        raise InputError("a cluster index needs at least one member signature.")
    absent = [member for member in members if member not in scores.columns]
    if absent:
        raise InputError(f"member signatures {', '.join(absent)} are not columns of the scores.")
    if isinstance(centre, pd.Series):
        uncentred = [member for member in members if member not in centre.index]
        if uncentred:
            raise InputError(f"no centre given for member signatures {', '.join(uncentred)}.")
        centre = centre[members].to_numpy(dtype=float)[:, None]
    values = scores[members].to_numpy(dtype=float).T
    return pd.Series(cluster_index_values(values, centre), index=scores.index)


def cluster_index_values(members: np.ndarray, centre: float | np.ndarray = 0.0) -> np.ndarray:
    """The numerical core of :func:`cluster_index`: root mean square over the first axis (the members).

    The squares are added member after member, so a patient's index does not depend on the other patients or on the
    array's shape (the simulations rely on this to make a cohort the same alone or in a batch).

    Parameters
    ----------
    members
        Member signatures on the first axis, patients (and any further axes) after it.
    centre
        Subtracted first: a number, or an array broadcasting against ``members`` (one value per member).

    Returns
    -------
    numpy.ndarray
        ``members.shape[1:]``; NaN where a member is missing.
    """
    deviation = np.subtract(members, centre)
    total = np.square(deviation[0])
    for member in deviation[1:]:
        total += np.square(member)
    return np.sqrt(total / len(deviation))
