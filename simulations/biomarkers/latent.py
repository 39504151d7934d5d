"""The latent layer of the simulated biomarkers: which values exist, and their Gaussian-copula correlation structure.

Every biomarker has a standard-normal latent value (:data:`LATENT_KEYS`), and the B cell genes other than CD19 one
each; :data:`ROWS` lists them all, in the order of the normals a cohort draws. The values are one multivariate normal
draw with a block structure (four correlated cluster factors, signatures loading on their cluster's factor, the
clinical markers chained to them), computed as ``A @ noise`` with a lower-triangular ``A`` built row by row.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from tmesurv.simulations.biomarkers.spec import OTHER_B_CELL_GENES, BiomarkerSpec, ClusterCorrelations

CLUSTERS = ("bpi", "sii", "cluster3_index", "cluster4_index")
SIGNATURES: dict[str, tuple[str, ...]] = {
    "bpi": (
        "sig_b_cells",
        "sig_proliferation",
        "sig_apm_loss",
        "sig_glycolytic_activity",
        "sig_mmr_loss",
        "sig_jakstat_loss",
        "sig_mages",
        "sig_dna_damage_repair",
        "sig_msi_predictor",
        "sig_wnt_signaling",
        "sig_pi3k_akt",
    ),
    "sii": (
        "sig_stroma",
        "sig_myeloid",
        "sig_endothelial_cells",
        "sig_nos2",
        "sig_tgf_beta",
        "sig_b7_h3",
        "sig_arg1",
        "sig_hypoxia",
        "sig_mast_cells",
        "sig_neutrophils",
        "sig_myeloid_inflammation",
        "sig_il10",
    ),
    "cluster3_index": (
        "sig_nk_cells",
        "sig_nk_cd56dim_cells",
        "sig_macrophages",
        "sig_dc",
        "sig_mhc2",
        "sig_apm",
        "sig_pd_l1",
        "sig_pd_l2",
        "sig_inflammatory_chemokines",
        "sig_cd45",
    ),
    "cluster4_index": (
        "sig_t_cells",
        "sig_cd8_t_cells",
        "sig_cytotoxic_cells",
        "sig_cytotoxicity",
        "sig_exhausted_cd8",
        "sig_th1_cells",
        "sig_treg",
        "sig_tigit",
        "sig_pd1",
        "sig_ctla4",
        "sig_ido1",
        "sig_ifn_gamma",
        "sig_tis",
    ),
}
SIGNATURE_NAMES = tuple(name for members in SIGNATURES.values() for name in members)
CLINICAL_LATENTS = (
    "b_cell_ges",
    "cd19_gene",
    "cd19_hscore",
    "spd",
    "ldh",
    "non_gcb",
    "hgbl",
    "biopsy_timing",
    "biopsy_line",
)
LATENT_KEYS = CLUSTERS + SIGNATURE_NAMES + CLINICAL_LATENTS
EXPRESSION_COLUMNS = (*SIGNATURE_NAMES, "b_cell_ges", *CLUSTERS, "cd19_gene")
COLUMNS = (
    *SIGNATURE_NAMES,
    "b_cell_ges",
    *CLUSTERS,
    "cd19_gene",
    "cd19_hscore",
    "cd19_negative",
    "spd_mm2",
    "ldh_ul",
    "ldh_elevated",
    "cell_of_origin",
    "hgbl",
    "biopsy_timing",
    "biopsy_line",
)
GENE_ROW_NAMES = tuple(f"gene_{gene}" for gene in OTHER_B_CELL_GENES)
ROWS = LATENT_KEYS + GENE_ROW_NAMES
ROW = {name: row for row, name in enumerate(ROWS)}
SIGNATURE_ROW_SLICE = slice(ROW[SIGNATURE_NAMES[0]], ROW[SIGNATURE_NAMES[-1]] + 1)
GENE_ROW_SLICE = slice(ROW[GENE_ROW_NAMES[0]], ROW[GENE_ROW_NAMES[-1]] + 1)
# Rows of each cluster's member signatures among SIGNATURE_NAMES (grouped by cluster).
CLUSTER_MEMBER_SLICES = tuple(
    slice(SIGNATURE_NAMES.index(SIGNATURES[cluster][0]), SIGNATURE_NAMES.index(SIGNATURES[cluster][-1]) + 1)
    for cluster in CLUSTERS
)
NORMAL_ROWS = len(ROWS)
"""Standard normals per patient a cohort's biomarkers take (one latent row each, plus the B cell gene noise)."""


def latent_correlation_from_spearman(spearman: float) -> float:
    """Pearson correlation of a bivariate normal whose Spearman correlation is ``spearman``.

    Parameters
    ----------
    spearman
        Target Spearman correlation, in (-1, 1).

    Returns
    -------
    float
        ``2 sin(pi * spearman / 6)`` (inverse of ``rho_s = (6 / pi) arcsin(r / 2)``).
    """
    return 2.0 * math.sin(math.pi * spearman / 6.0)


def latent_correlation_matrix(spec: BiomarkerSpec) -> pd.DataFrame:
    """Correlation matrix of the latent values implied by ``spec``.

    Parameters
    ----------
    spec
        The biomarker settings.

    Returns
    -------
    pandas.DataFrame
        Correlations between the latent keys (:data:`LATENT_KEYS`), rows and columns in that order.
    """
    loadings = _loadings(_spec_key(spec))[: len(LATENT_KEYS)]
    return pd.DataFrame(loadings @ loadings.T, index=list(LATENT_KEYS), columns=list(LATENT_KEYS))


def _spec_key(spec: BiomarkerSpec) -> tuple[float, ...]:
    """Every setting the latent correlation structure depends on, hashable for the cache."""
    return (
        *spec.expression.between_clusters.as_tuple(),
        spec.expression.within_cluster,
        spec.cd19.gene_b_cell_correlation,
        spec.cd19.hscore_gene_correlation,
        spec.spd_ldh_spearman,
        spec.cell_of_origin.bpi_correlation,
        spec.hgbl.bpi_correlation,
        spec.biopsy_timing.bpi_correlation,
        spec.biopsy_line.bpi_correlation,
        spec.b_cell_genes.loading,
    )


@lru_cache(maxsize=64)
def _cluster_factor(key: tuple[float, ...]) -> np.ndarray:
    """Cholesky factor of the cluster factors' correlation matrix (read-only, cached)."""
    names = ClusterCorrelations.model_fields
    factor = np.linalg.cholesky(ClusterCorrelations(**dict(zip(names, key[:6], strict=True))).matrix())
    factor.setflags(write=False)
    return factor


def _parents(key: tuple[float, ...]) -> list[tuple[str, str, float]]:
    """(row, parent row, correlation) of every row below the cluster factors, parents first; SPD is its own root."""
    within, r_cd19, r_hscore, spearman, r_coo, r_hgbl, r_timing, r_line, r_gene = key[6:]
    parents = [(name, cluster, math.sqrt(within)) for cluster in CLUSTERS for name in SIGNATURES[cluster]]
    parents += [
        ("b_cell_ges", "bpi", math.sqrt(within)),
        ("cd19_gene", "b_cell_ges", r_cd19),
        ("cd19_hscore", "cd19_gene", r_hscore),
        ("spd", "spd", 0.0),
        ("ldh", "spd", latent_correlation_from_spearman(spearman)),
        ("non_gcb", "bpi", r_coo),
        ("hgbl", "bpi", r_hgbl),
        ("biopsy_timing", "bpi", r_timing),
        ("biopsy_line", "bpi", r_line),
    ]
    return parents + [(row, "b_cell_ges", r_gene) for row in GENE_ROW_NAMES]


@lru_cache(maxsize=64)
def _loadings(key: tuple[float, ...]) -> np.ndarray:
    """Lower-triangular A with latent = A @ iid normals; row i of A has unit norm (a correlation factor)."""
    loadings = np.zeros((len(ROWS), len(ROWS)))
    loadings[: len(CLUSTERS), : len(CLUSTERS)] = _cluster_factor(key)
    for name, parent, correlation in _parents(key):
        row = ROW[name]
        loadings[row] = correlation * loadings[ROW[parent]]
        loadings[row, row] = math.sqrt(1.0 - correlation**2)
    loadings.setflags(write=False)
    return loadings


@lru_cache(maxsize=64)
def _runs(key: tuple[float, ...]) -> tuple[tuple[slice, int, float], ...]:
    """:func:`_parents` as runs of consecutive rows with the same parent and correlation: (rows, parent, r).

    Parents come before their children, so a run's parent is final when the run is computed.
    """
    runs: list[tuple[slice, int, float]] = []
    for name, parent, correlation in _parents(key):
        row = ROW[name]
        if runs and runs[-1][0].stop == row and runs[-1][1:] == (ROW[parent], correlation):
            runs[-1] = (slice(runs[-1][0].start, row + 1), ROW[parent], correlation)
        else:
            runs.append((slice(row, row + 1), ROW[parent], correlation))
    return tuple(runs)


def latent_values(noise: np.ndarray, spec: BiomarkerSpec) -> np.ndarray:
    """Latent values ``A @ noise`` (rows :data:`ROWS`) of every cohort, in place of ``noise``.

    Element by element in a fixed order (no BLAS), so a patient's values do not depend on the batch size.
    """
    key = _spec_key(spec)
    factor = _cluster_factor(key)
    for row in reversed(range(len(CLUSTERS))):  # row i reads the noise of rows 0..i, so go downwards
        value = factor[row, 0] * noise[0]
        for column in range(1, row + 1):
            value += factor[row, column] * noise[column]
        noise[row] = value
    for rows, parent, correlation in _runs(key):
        if correlation:  # uncorrelated rows (SPD, categories set to 0) are their own noise
            block = noise[rows]
            block *= math.sqrt(1.0 - correlation**2)
            block += correlation * noise[parent]
    return noise
