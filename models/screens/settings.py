"""Settings of the association screens (the analysis config's ``screens`` section)."""

from __future__ import annotations

from pydantic import Field

from tmesurv.schema import StrictModel


class LevelSpec(StrictModel):
    """One level of a categorical response column, compared against the others."""

    column: str
    level: str


class ScreenSpec(StrictModel):
    """Association screens over ``data.features``, each with raw P and Benjamini-Hochberg q, per arm."""

    endpoints: list[str] = Field(default_factory=list, description="Cox screen per feature for these endpoints")
    response: LevelSpec | None = Field(
        None,
        description="Wilcoxon rank-sum of this level (e.g. ongoing response) against the others, and "
        "Kruskal-Wallis across all levels of the column",
    )
    complete_response: LevelSpec | None = Field(None, description="logistic regression per feature for this level")
    correlations: list[str] = Field(default_factory=list, description="Spearman correlation of every pair")
    clusters: int | None = Field(4, ge=2, description="signature clusters (UPGMA on Spearman correlations); null: none")
    cluster_features: list[str] = Field(
        default_factory=list, description="features to cluster: names or patterns among data.features (default all)"
    )
    pca_q_max: float = Field(
        0.05, gt=0, le=1, description="PCA of the features with q below this in a Cox or response screen"
    )
