"""The association screens of a config, run on a cohort: the published analysis set beyond the Cox models.

Per arm: a Cox screen of every feature for each screened endpoint (EFS; duration of response among responders), the
response level against the others (Wilcoxon rank-sum) and across all levels (Kruskal-Wallis), and logistic regression
for complete response. Over all patients: Spearman correlations between analytes, signature clustering with cluster
indices, and a PCA of the outcome-associated features (q below ``screens.pca_q_max`` in any Cox or response screen).
Every table is tidy and ready to write as CSV; BH q values are computed within each screen (one arm, one endpoint).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from tmesurv.arms import CONTROL, TREATED
from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import InputError
from tmesurv.models.screens.association import (
    cox_screen,
    kruskal_screen,
    logistic_screen,
    rank_sum_screen,
    spearman_pairs,
)
from tmesurv.models.screens.clustering import SignatureClusters, cluster_index, cluster_signatures
from tmesurv.models.screens.pca import FeaturePCA, feature_pca
from tmesurv.models.screens.settings import LevelSpec, ScreenSpec

ARMS = (TREATED, CONTROL)


@dataclass
class ScreenResults:
    """Tables by output name (``screen_cox`` -> ``screen_cox.csv``), the fitted clusters and PCA, and notes."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    clusters: SignatureClusters | None = None
    pca: FeaturePCA | None = None
    notes: list[str] = field(default_factory=list)
    exclusions: list[Exclusion] = field(default_factory=list)


def screen_analyses(cohort: Cohort, spec: ScreenSpec) -> ScreenResults:
    """Run every screen the ``screens`` section asks for.

    Parameters
    ----------
    cohort
        The validated cohort, with ``features`` and the response columns the spec names.
    spec
        The ``screens`` section of the config.

    Returns
    -------
    ScreenResults
        Tables ``screen_cox``, ``screen_response``, ``screen_response_groups``, ``screen_complete_response``,
        ``correlations``, ``clusters``, ``cluster_correlation``, ``cluster_linkage``, ``cluster_indices``,
        ``pca_loadings``, ``pca_scores``, ``pca_explained`` -- each present when the spec asks for it.
    """
    results = ScreenResults()
    if spec.endpoints:
        results.tables["screen_cox"] = _cox_screens(cohort, spec.endpoints, results)
    if spec.response is not None:
        responders, excluded = _with_response(cohort, spec.response)
        results.exclusions += excluded
        results.tables["screen_response"] = _per_arm(responders, lambda c: _rank_sum(c, spec.response))
        column = spec.response.column
        results.tables["screen_response_groups"] = _per_arm(
            responders, lambda c: kruskal_screen(_features(c), c.patients[column].to_numpy())
        )
    if spec.complete_response is not None:
        assessed, excluded = _with_response(cohort, spec.complete_response)
        results.exclusions += excluded
        results.tables["screen_complete_response"] = _per_arm(assessed, lambda c: _logistic(c, spec.complete_response))
    if spec.correlations:
        _require_columns(cohort, spec.correlations, "screens.correlations")
        results.tables["correlations"] = spearman_pairs(cohort.patients, spec.correlations)
    if spec.clusters is not None:
        _add_clusters(cohort, _matching(cohort.features, spec.cluster_features), spec.clusters, results)
    _add_pca(cohort, spec.pca_q_max, results)
    return results


def _features(cohort: Cohort) -> pd.DataFrame:
    return cohort.patients[list(cohort.features)]


def _per_arm(cohort: Cohort, screen: Callable[[Cohort], pd.DataFrame]) -> pd.DataFrame:
    """One screen per arm, stacked with an ``arm`` column first."""
    tables = [screen(cohort.arm_subset(arm)).assign(arm=arm) for arm in ARMS]
    table = pd.concat(tables, ignore_index=True)
    return table[["arm", *[column for column in table.columns if column != "arm"]]]


def _cox_screens(cohort: Cohort, endpoints: list[str], results: ScreenResults) -> pd.DataFrame:
    tables = []
    for endpoint in endpoints:
        patients, excluded = cohort.with_endpoint(endpoint)
        results.exclusions += excluded
        table = _per_arm(patients, lambda c, e=endpoint: cox_screen(_features(c), c.time(e), c.event(e)))
        tables.append(table.assign(endpoint=endpoint))
    table = pd.concat(tables, ignore_index=True)
    return table[["endpoint", *[column for column in table.columns if column != "endpoint"]]]


def _with_response(cohort: Cohort, level: LevelSpec) -> tuple[Cohort, list[Exclusion]]:
    return cohort.complete_cases([level.column], analysis=f"screen {level.column}")


def _rank_sum(cohort: Cohort, level: LevelSpec) -> pd.DataFrame:
    in_level = cohort.patients[level.column].to_numpy() == level.level
    return rank_sum_screen(_features(cohort), in_level).assign(level=level.level)


def _logistic(cohort: Cohort, level: LevelSpec) -> pd.DataFrame:
    outcome = (cohort.patients[level.column].to_numpy() == level.level).astype(float)
    return logistic_screen(_features(cohort), outcome).assign(level=level.level)


def _require_columns(cohort: Cohort, columns: list[str], key: str) -> None:
    known = [*cohort.biomarkers, *cohort.features]
    unknown = [column for column in columns if column not in known]
    if unknown:
        raise InputError(
            f"{key}: '{unknown[0]}' is neither a biomarker nor a screened feature of '{cohort.source}'; "
            "add it to data.biomarkers or data.features"
        )


def _matching(features: tuple[str, ...], patterns: list[str]) -> list[str]:
    """The features matching any of ``patterns`` (names or shell patterns), in cohort order; all if none given."""
    if not patterns:
        return list(features)
    matched = [f for f in features if any(fnmatch.fnmatchcase(f, pattern) for pattern in patterns)]
    if not matched:
        raise InputError(f"screens.cluster_features ({', '.join(patterns)}) matches none of data.features")
    return matched


def _add_clusters(cohort: Cohort, features: list[str], k: int, results: ScreenResults) -> None:
    scores = cohort.patients[features]
    clusters = cluster_signatures(scores, k)
    results.clusters = clusters
    if clusters.excluded:
        ids = tuple(str(patient) for patient in clusters.excluded)
        results.exclusions.append(Exclusion("signature clustering", "a screened feature is missing", ids))
    results.tables["clusters"] = clusters.membership
    results.tables["cluster_correlation"] = clusters.correlation.rename_axis("feature").reset_index()
    linkage = pd.DataFrame(clusters.linkage, columns=["left", "right", "height", "size"])
    results.tables["cluster_linkage"] = linkage.astype({"left": int, "right": int, "size": int})
    indices = {f"cluster{c}": cluster_index(scores, clusters.members(c)) for c in range(1, k + 1)}
    long = pd.DataFrame(indices).rename_axis("id").reset_index().melt("id", var_name="cluster", value_name="index")
    results.tables["cluster_indices"] = long


def _add_pca(cohort: Cohort, q_max: float, results: ScreenResults) -> None:
    """PCA of the features with q < ``q_max`` in a Cox or response screen, when there are at least two."""
    screens = [results.tables.get(name) for name in ("screen_cox", "screen_response")]
    selected = set()
    for table in (t for t in screens if t is not None):
        selected |= set(table.loc[table["q"] < q_max, "feature"])
    if len(selected) < 2:
        results.notes.append(f"PCA not run: {len(selected)} feature(s) with q < {q_max:g} in the screens")
        return
    features = [feature for feature in cohort.features if feature in selected]
    results.pca = feature_pca(_features(cohort)[features])
    results.tables |= {
        "pca_loadings": results.pca.loadings,
        "pca_scores": results.pca.scores,
        "pca_explained": results.pca.explained,
    }
