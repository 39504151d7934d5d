"""Principal component analysis of biomarker features, matching R's ``prcomp``.

The features are centred and, with ``scale=True``, divided by their sample standard deviation (n - 1), as
``prcomp(x, scale. = TRUE)`` does, so the loadings, scores and component standard deviations equal R's up to the
sign of each component. Signs are fixed here: the largest-magnitude loading of each component is positive.
Patients missing any feature are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from tmesurv.errors import InputError

LOADING_COLUMNS = ["feature", "component", "loading"]
SCORE_COLUMNS = ["id", "component", "score"]
EXPLAINED_COLUMNS = ["component", "variance", "proportion", "cumulative"]


@dataclass(frozen=True)
class FeaturePCA:
    """A fitted PCA in tidy tables.

    Attributes
    ----------
    loadings
        Columns ``feature, component, loading``: the unit-length component directions (R's ``rotation``).
    scores
        Columns ``id, component, score``: the patients' coordinates (R's ``x``); ``id`` is the features' index.
    explained
        Columns ``component, variance, proportion, cumulative``: the variance of each component's scores (R's
        ``sdev`` squared) and its share of the total variance of the (standardised) features.
    centre, scale
        Per-feature mean and sample standard deviation subtracted and divided by; ``scale`` is None without scaling.
    n
        Number of patients used (those with every feature present).
    excluded
        Row labels of the patients left out because a feature is missing.
    """

    loadings: pd.DataFrame
    scores: pd.DataFrame
    explained: pd.DataFrame
    centre: pd.Series
    scale: pd.Series | None
    n: int
    excluded: list[object]


def feature_pca(features: pd.DataFrame, n_components: int | None = None, scale: bool = True) -> FeaturePCA:
    """PCA of the features over the patients with all of them present.

    Parameters
    ----------
    features
        One row per patient (the index becomes ``id``), one numeric column per feature.
    n_components
        Number of components to keep; None keeps min(patients, features), as ``prcomp`` does.
    scale
        Divide each centred feature by its sample standard deviation (R's ``scale. = TRUE``).

    Returns
    -------
    FeaturePCA
        Loadings, scores and explained variance; components are named ``PC1``, ``PC2``, ...

    Raises
    ------
    InputError
        If a feature is not numeric, fewer than two patients are complete, a feature is constant (with
        ``scale=True``), or ``n_components`` is out of range.
    """
    complete = _complete_features(features, scale)
    centre = complete.mean()
    spread = complete.std(ddof=1) if scale else None
    standardised = (complete - centre) / spread if scale else complete - centre
    limit = min(complete.shape)
    if n_components is not None and not 1 <= n_components <= limit:
        raise InputError(f"n_components must be between 1 and {limit} (patients or features), got {n_components}.")
    pca = PCA(n_components=n_components, svd_solver="full").fit(standardised.to_numpy())
    signs = _signs(pca.components_)
    rotation = pca.components_.T * signs
    coordinates = standardised.to_numpy() @ rotation
    names = [f"PC{number}" for number in range(1, rotation.shape[1] + 1)]
    excluded = features.index.difference(complete.index, sort=False).tolist()
    return FeaturePCA(
        loadings=_long(rotation, complete.columns, names, "feature", "loading"),
        scores=_long(coordinates, complete.index, names, "id", "score"),
        explained=_explained(pca, names),
        centre=centre,
        scale=spread,
        n=len(complete),
        excluded=excluded,
    )


def _complete_features(features: pd.DataFrame, scale: bool) -> pd.DataFrame:
    """Complete cases as floats, after checking the features can be analysed."""
    text = [str(column) for column in features.columns if not pd.api.types.is_numeric_dtype(features[column])]
    if text:
        raise InputError(f"features {', '.join(text)} are not numeric; encode them as numbers or leave them out.")
    complete = features.dropna().astype(float)
    if len(complete) < 2:
        raise InputError(
            f"only {len(complete)} of {len(features)} patients have every feature present; PCA needs at least 2. "
            "Leave out the features that are missing most often."
        )
    flat = np.ptp(complete.to_numpy(), axis=0) == 0
    if scale and flat.any():
        constant = ", ".join(str(column) for column in complete.columns[flat])
        raise InputError(
            f"features {constant} are constant over the {len(complete)} complete patients and cannot be scaled "
            "to unit variance; drop them."
        )
    return complete


def _signs(components: np.ndarray) -> np.ndarray:
    """+1 or -1 per component (row) so that its largest-magnitude entry is positive."""
    largest = components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)]
    return np.where(largest < 0, -1.0, 1.0)


def _long(values: np.ndarray, rows: pd.Index, names: list[str], row_name: str, value_name: str) -> pd.DataFrame:
    """A rows x components array as a tidy table, row-major (all components of the first row first)."""
    return pd.DataFrame(
        {
            row_name: np.repeat(rows.to_numpy(), len(names)),
            "component": np.tile(names, len(rows)),
            value_name: values.ravel(),
        }
    )


def _explained(pca: PCA, names: list[str]) -> pd.DataFrame:
    proportion = pca.explained_variance_ratio_
    return pd.DataFrame(
        {
            "component": names,
            "variance": pca.explained_variance_,
            "proportion": proportion,
            "cumulative": np.cumsum(proportion),
        },
        columns=EXPLAINED_COLUMNS,
    )
