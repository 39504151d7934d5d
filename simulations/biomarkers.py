"""ZUMA-7-like baseline biomarkers: one Gaussian-copula draw per cohort, then marginal transforms.

Every biomarker has a standard-normal latent value. The latent values are one multivariate normal draw with a
block structure: four correlated cluster factors (BPI, SII, cluster 3, cluster 4), IO360-like signatures loading
on their cluster's factor, and the clinical markers chained to them (CD19 gene on the B cell signature, CD19
H-score on the CD19 gene, LDH on SPD, the categories on BPI). Marginal transforms turn latent values into the
export's columns, and missingness (completely at random, optionally with arm-specific shares) blanks them out.

The defaults follow the ZUMA-7 biomarker analysis (Locke, Filosto et al., Nat Med 2024); see
``zuma7_published.yaml``, sections ``biomarker_cohort`` and ``biomarker_results``.

Randomness: :data:`NORMAL_ROWS` standard normals and :data:`UNIFORM_ROWS` uniforms per patient.
:func:`generate_biomarkers` draws them for one cohort (``standard_normal`` then ``random``);
:func:`biomarkers_from_draws` takes them pre-drawn for many cohorts at once and transforms them element by element
(no matrix products), so a cohort's values do not depend on what else is in the batch. The gene noise is always
drawn, so a cohort is the same with or without the gene matrix.

Cluster indices are the root mean square of the member signatures (raw log2 scores, as in the paper) minus
``expression.index_reference`` (default 0). Do not set it to the signature centre: centred scores make the index
blind to sign (it tracks ``|factor|``, not the factor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy.special import expit, ndtr, ndtri

from tmesurv.models.screens.clustering import cluster_index_values
from tmesurv.schema import StrictModel
from tmesurv.signatures import B_CELL_GENES

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Correlation = Annotated[float, Field(gt=-1.0, lt=1.0)]
Positive = Annotated[float, Field(gt=0.0)]

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
_OTHER_B_CELL_GENES = tuple(gene for gene in B_CELL_GENES if gene != "CD19")
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
_GENE_ROWS = tuple(f"gene_{gene}" for gene in _OTHER_B_CELL_GENES)
_ROWS = LATENT_KEYS + _GENE_ROWS
_ROW = {name: row for row, name in enumerate(_ROWS)}
_SIGNATURE_ROWS = slice(_ROW[SIGNATURE_NAMES[0]], _ROW[SIGNATURE_NAMES[-1]] + 1)
_GENE_ROW_SLICE = slice(_ROW[_GENE_ROWS[0]], _ROW[_GENE_ROWS[-1]] + 1)
# Rows of each cluster's member signatures among SIGNATURE_NAMES (grouped by cluster).
_CLUSTER_ROWS = tuple(
    slice(SIGNATURE_NAMES.index(SIGNATURES[cluster][0]), SIGNATURE_NAMES.index(SIGNATURES[cluster][-1]) + 1)
    for cluster in CLUSTERS
)
_PRESENCE_KEYS = ("expression", "cell_of_origin", "hgbl", "biopsy_timing", "biopsy_line", "spd", "ldh", "cd19_hscore")
NORMAL_ROWS = len(_ROWS)
"""Standard normals per patient a cohort's biomarkers take (one latent row each, plus the B cell gene noise)."""
UNIFORM_ROWS = len(_PRESENCE_KEYS)
"""Uniforms per patient a cohort's biomarkers take (one per measurement, for missingness)."""
CD19_NEGATIVE_BELOW = 5.0
HSCORE_MAX = 300.0
_GENE_INDEX = pd.Index(B_CELL_GENES, name="gene")


class ClusterCorrelations(StrictModel):
    """Correlations between the four latent cluster factors (order BPI, SII, cluster 3, cluster 4)."""

    bpi_sii: Correlation = -0.3
    bpi_cluster3: Correlation = -0.2
    bpi_cluster4: Correlation = -0.25
    sii_cluster3: Correlation = 0.3
    sii_cluster4: Correlation = 0.2
    cluster3_cluster4: Correlation = 0.5

    @model_validator(mode="after")
    def _positive_definite(self) -> ClusterCorrelations:
        smallest = float(np.linalg.eigvalsh(self.matrix()).min())
        if smallest <= 1e-10:
            fields = ", ".join(type(self).model_fields)
            raise ValueError(
                f"between_clusters: the correlations ({fields}) do not form a positive definite matrix "
                f"(smallest eigenvalue {smallest:.3g})"
            )
        return self

    def matrix(self) -> np.ndarray:
        """The 4 x 4 correlation matrix of the cluster factors."""
        a, b, c, d, e, f = self.as_tuple()
        return np.array([[1.0, a, b, c], [a, 1.0, d, e], [b, d, 1.0, f], [c, e, f, 1.0]])

    def as_tuple(self) -> tuple[float, ...]:
        """The six correlations, in field order."""
        return tuple(getattr(self, name) for name in type(self).model_fields)


class ExpressionSpec(StrictModel):
    """IO360-like signature scores (log2 scale) and which patients have expression data."""

    available: Share = Field(
        256 / 359, description="share with expression (treated arm; both arms if available_control is None)"
    )
    available_control: Share | None = Field(None, description="share in the control arm; None = same as treated")
    within_cluster: float = Field(0.65, gt=0.0, lt=1.0, description="correlation of two signatures of one cluster")
    between_clusters: ClusterCorrelations = ClusterCorrelations()
    centre: float = Field(7.0, description="log2 centre of every signature score")
    spread: Positive = Field(1.0, description="log2 sd of every signature score")
    index_reference: float = Field(0.0, description="value subtracted from signatures before the root mean square")


class BCellGeneSpec(StrictModel):
    """The B cell signature genes other than CD19 (CD19 is the ``cd19_gene`` column)."""

    loading: float = Field(0.8, gt=0.0, lt=1.0, description="correlation of each gene with the B cell latent")
    spread: Positive = Field(1.0, description="log2 sd of each gene")
    centres: dict[str, float] = Field(
        default_factory=lambda: {
            "BLK": 7.5,
            "MS4A1": 10.0,
            "TNFRSF17": 6.0,
            "FCRL2": 6.5,
            "FAM30A": 5.5,
            "PNOC": 5.0,
            "SPIB": 8.0,
            "TCL1A": 7.0,
        },
        description="log2 centre of each gene",
    )

    @model_validator(mode="after")
    def _known_genes(self) -> BCellGeneSpec:
        if set(self.centres) != set(_OTHER_B_CELL_GENES):
            raise ValueError(f"centres: give exactly the genes {', '.join(_OTHER_B_CELL_GENES)}")
        return self


class Cd19Spec(StrictModel):
    """CD19 gene expression (log2) and CD19 immunohistochemistry H-score (0-300)."""

    gene_centre: float = 8.0
    gene_spread: Positive = 1.2
    gene_b_cell_correlation: Correlation = 0.6
    hscore_gene_correlation: Correlation = 0.5
    negative_share: float = Field(0.08, ge=0.0, lt=1.0, description="share with H-score < 5")
    hscore_positive_median: float = Field(200.0, gt=CD19_NEGATIVE_BELOW, lt=HSCORE_MAX)
    hscore_logit_sd: Positive = Field(1.0, description="sd of the logit of the positive H-scores")
    hscore_available: Share = 0.75
    hscore_available_control: Share | None = None


class SpdSpec(StrictModel):
    """Tumour burden: sum of the product of diameters (mm^2), lognormal."""

    median_mm2: Positive = 3721.0
    log_sd: Positive = 1.0
    measured: Share = 158 / 180
    measured_control: Share | None = None


class LdhSpec(StrictModel):
    """Lactate dehydrogenase (U/L), lognormal; the median follows from the ULN and the elevated share."""

    upper_limit_of_normal: Positive = 390.0
    elevated_share: float = Field(0.45, gt=0.0, lt=1.0)
    log_sd: Positive = 0.45
    measured: Share = 170 / 180
    measured_control: Share | None = None


class CategorySpec(StrictModel):
    """What every category shares: known among patients with expression, correlation with the BPI factor."""

    known: Share = 1.0
    bpi_correlation: Correlation = 0.0


class CellOfOriginSpec(CategorySpec):
    """Cell of origin, GCB or non-GCB; a higher latent value means non-GCB."""

    known: Share = 243 / 256
    gcb_share: Share = 191 / 243
    bpi_correlation: Correlation = 0.15


class HgblSpec(CategorySpec):
    """High-grade B-cell lymphoma (double/triple hit), yes or no."""

    yes_share: Share = 46 / 256
    bpi_correlation: Correlation = 0.1


class BiopsyTimingSpec(CategorySpec):
    """When the biopsy was taken: at initial diagnosis or after first-line therapy."""

    known: Share = 239 / 256
    initial_diagnosis_share: Share = 90 / 239


class BiopsyLineSpec(CategorySpec):
    """Line of therapy of the biopsy: first, second or third (the rest)."""

    known: Share = 253 / 256
    first_share: Share = 86 / 253
    second_share: Share = 142 / 253

    @model_validator(mode="after")
    def _shares_fit(self) -> BiopsyLineSpec:
        if self.first_share + self.second_share > 1.0 + 1e-12:
            raise ValueError("first_share + second_share must not exceed 1 (third line takes the rest)")
        return self


class BiomarkerSpec(StrictModel):
    """The ``biomarkers:`` section of a scenario: every knob of the biomarker block, ZUMA-7-like defaults."""

    genes: bool = Field(False, description="also return the gene-level matrix of the B cell signature")
    expression: ExpressionSpec = ExpressionSpec()
    b_cell_genes: BCellGeneSpec = BCellGeneSpec()
    cd19: Cd19Spec = Cd19Spec()
    spd: SpdSpec = SpdSpec()
    ldh: LdhSpec = LdhSpec()
    spd_ldh_spearman: Correlation = 0.42
    cell_of_origin: CellOfOriginSpec = CellOfOriginSpec()
    hgbl: HgblSpec = HgblSpec()
    biopsy_timing: BiopsyTimingSpec = BiopsyTimingSpec()
    biopsy_line: BiopsyLineSpec = BiopsyLineSpec()

    @property
    def gene_centres(self) -> dict[str, float]:
        """log2 centre of each B cell signature gene, in the order of :data:`B_CELL_GENES`."""
        centres = {**self.b_cell_genes.centres, "CD19": self.cd19.gene_centre}
        return {gene: centres[gene] for gene in B_CELL_GENES}


@dataclass(frozen=True)
class BiomarkerDraw:
    """One cohort's biomarkers.

    Attributes
    ----------
    columns
        Export columns (:data:`COLUMNS`), one value per patient; NaN (numeric) or None (text) where not measured.
    latent
        Standard-normal latent value per patient for every key of :data:`LATENT_KEYS`; never missing.
    genes
        Gene-level log2 matrix (genes x patients) when ``spec.genes``; NaN columns for patients without expression.
    """

    columns: dict[str, np.ndarray]
    latent: dict[str, np.ndarray]
    genes: pd.DataFrame | None


@dataclass(frozen=True)
class BiomarkerBatch:
    """The biomarkers of many cohorts at once, as ``(cohorts, patients)`` arrays.

    Attributes
    ----------
    numeric
        Numeric export columns; NaN where not measured.
    coded
        Category columns as ``(codes, levels)``: ``levels[codes]`` are the labels, the last level is None (missing).
    latent
        ``(len(LATENT_KEYS), cohorts, patients)`` standard-normal latent values, rows in :data:`LATENT_KEYS` order.
    genes
        ``(len(B_CELL_GENES), cohorts, patients)`` log2 expression (NaN without expression), when ``spec.genes``.
    """

    numeric: dict[str, np.ndarray]
    coded: dict[str, tuple[np.ndarray, np.ndarray]]
    latent: np.ndarray
    genes: np.ndarray | None

    def cohort(self, index: int) -> BiomarkerDraw:
        """Cohort ``index`` of the batch (columns are views of the batch's arrays; labels are new arrays)."""
        columns = {
            name: self.numeric[name][index] if name in self.numeric else _labels(*self.coded[name], index)
            for name in COLUMNS
        }
        latent = dict(zip(LATENT_KEYS, self.latent[:, index], strict=True))
        genes = None if self.genes is None else pd.DataFrame(self.genes[:, index], index=_GENE_INDEX)
        return BiomarkerDraw(columns=columns, latent=latent, genes=genes)


def _labels(codes: np.ndarray, levels: np.ndarray, index: int) -> np.ndarray:
    return levels[codes[index]]


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


def generate_biomarkers(rng: np.random.Generator, treated: np.ndarray, spec: BiomarkerSpec) -> BiomarkerDraw:
    """Draw one cohort's biomarkers.

    Parameters
    ----------
    rng
        The only source of randomness: one ``standard_normal`` and one ``random`` call.
    treated
        0/1 per patient (1 = treated arm); selects arm-specific availability shares.
    spec
        The biomarker settings.

    Returns
    -------
    BiomarkerDraw
        Export columns, latent values and (when ``spec.genes``) the gene matrix.

    Raises
    ------
    ValueError
        If ``treated`` is not a one-dimensional array of 0 and 1.
    """
    arm = _check_treated(treated)
    normals = rng.standard_normal((NORMAL_ROWS, 1, arm.size))
    uniforms = rng.random((UNIFORM_ROWS, 1, arm.size))
    return biomarkers_from_draws(normals, uniforms, arm[None, :], spec).cohort(0)


def biomarkers_from_draws(
    normals: np.ndarray, uniforms: np.ndarray, treated: np.ndarray, spec: BiomarkerSpec
) -> BiomarkerBatch:
    """Turn pre-drawn variates into the biomarkers of many cohorts (element by element, so batch-size free).

    Parameters
    ----------
    normals
        ``(NORMAL_ROWS, cohorts, patients)`` standard normals; overwritten.
    uniforms
        ``(UNIFORM_ROWS, cohorts, patients)`` uniforms on [0, 1).
    treated
        ``(cohorts, patients)`` booleans, True in the treated arm.
    spec
        The biomarker settings.

    Returns
    -------
    BiomarkerBatch
        Every column, the latent values and (when ``spec.genes``) the gene values.
    """
    values = _latent_values(normals, spec)
    present = _presence(uniforms, treated, spec)
    latent = dict(zip(LATENT_KEYS, values, strict=False))
    numeric = {
        **_expression_columns(values, present["expression"], spec),
        **_cd19_columns(latent, present, spec),
        **_burden_columns(latent, present, spec),
    }
    genes = _gene_values(_centred_genes(values, spec), present["expression"], spec) if spec.genes else None
    return BiomarkerBatch(
        numeric=numeric, coded=_category_columns(latent, present, spec), latent=values[: len(LATENT_KEYS)], genes=genes
    )


def _check_treated(treated: np.ndarray) -> np.ndarray:
    arm = np.asarray(treated)
    if arm.ndim != 1 or not ((arm == 0) | (arm == 1)).all():
        raise ValueError("treated must be a one-dimensional array of 0 (control) and 1 (treated)")
    return arm == 1


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
    return parents + [(row, "b_cell_ges", r_gene) for row in _GENE_ROWS]


@lru_cache(maxsize=64)
def _loadings(key: tuple[float, ...]) -> np.ndarray:
    """Lower-triangular A with latent = A @ iid normals; row i of A has unit norm (a correlation factor)."""
    loadings = np.zeros((len(_ROWS), len(_ROWS)))
    loadings[: len(CLUSTERS), : len(CLUSTERS)] = _cluster_factor(key)
    for name, parent, correlation in _parents(key):
        row = _ROW[name]
        loadings[row] = correlation * loadings[_ROW[parent]]
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
        row = _ROW[name]
        if runs and runs[-1][0].stop == row and runs[-1][1:] == (_ROW[parent], correlation):
            runs[-1] = (slice(runs[-1][0].start, row + 1), _ROW[parent], correlation)
        else:
            runs.append((slice(row, row + 1), _ROW[parent], correlation))
    return tuple(runs)


def _latent_values(noise: np.ndarray, spec: BiomarkerSpec) -> np.ndarray:
    """Latent values ``A @ noise`` (rows :data:`_ROWS`) of every cohort, in place of ``noise``.

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


def _presence(uniforms: np.ndarray, treated: np.ndarray, spec: BiomarkerSpec) -> dict[str, np.ndarray]:
    """Which patients have each measurement (missing completely at random); categories need expression too."""
    shares = np.array(_presence_shares(spec))[:, :, None, None]
    present = uniforms < np.where(treated, shares[:, 0], shares[:, 1])
    present[1:5] &= present[0]
    return dict(zip(_PRESENCE_KEYS, present, strict=True))


def _presence_shares(spec: BiomarkerSpec) -> list[tuple[float, float]]:
    """(treated, control) share with each measurement of :data:`_PRESENCE_KEYS` (categories: among expression)."""
    categories = (spec.cell_of_origin, spec.hgbl, spec.biopsy_timing, spec.biopsy_line)
    by_arm = [
        (spec.expression.available, spec.expression.available_control),
        *((category.known, None) for category in categories),
        (spec.spd.measured, spec.spd.measured_control),
        (spec.ldh.measured, spec.ldh.measured_control),
        (spec.cd19.hscore_available, spec.cd19.hscore_available_control),
    ]
    return [(treated, treated if control is None else control) for treated, control in by_arm]


def _centred_genes(values: np.ndarray, spec: BiomarkerSpec) -> np.ndarray:
    """Centred log2 expression of the B cell genes (order of :data:`B_CELL_GENES`), never missing."""
    others = spec.b_cell_genes.spread * values[_GENE_ROW_SLICE]
    cd19 = spec.cd19.gene_spread * values[_ROW["cd19_gene"]]
    position = B_CELL_GENES.index("CD19")
    return np.concatenate([others[:position], cd19[None], others[position:]])


def _missing(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Float copy of ``values`` with NaN where not present."""
    return np.where(present, values, np.nan)


def _expression_columns(values: np.ndarray, present: np.ndarray, spec: BiomarkerSpec) -> dict[str, np.ndarray]:
    """Signature scores, cluster indices (root mean square of members), B cell GES and CD19 gene."""
    expression, cd19 = spec.expression, spec.cd19
    blank = np.where(present, 0.0, np.nan)  # added to a column, blanks the patients without expression
    scores = values[_SIGNATURE_ROWS] * expression.spread
    scores += expression.centre + blank
    columns = dict(zip(SIGNATURE_NAMES, scores, strict=True))
    for cluster, members in zip(CLUSTERS, _CLUSTER_ROWS, strict=True):
        columns[cluster] = cluster_index_values(scores[members], expression.index_reference)  # NaN where absent
    cd19_gene = cd19.gene_spread * values[_ROW["cd19_gene"]]
    other_genes = _row_sum(values[_GENE_ROW_SLICE])
    other_genes *= spec.b_cell_genes.spread
    columns["b_cell_ges"] = (other_genes + cd19_gene) / len(B_CELL_GENES) + blank  # mean of the centred genes
    columns["cd19_gene"] = cd19.gene_centre + cd19_gene + blank
    return columns


def _row_sum(block: np.ndarray) -> np.ndarray:
    """Sum over the first axis, row after row (the same sum for a patient whatever the batch size)."""
    total = block[0].copy()
    for row in block[1:]:
        total += row
    return total


def _cd19_columns(latent: dict[str, np.ndarray], present: dict[str, np.ndarray], spec: BiomarkerSpec) -> dict:
    """CD19 H-score (point mass below 5, logit-normal above) and the CD19-negative flag."""
    cd19 = spec.cd19
    quantile = ndtr(latent["cd19_hscore"])
    negative = quantile < cd19.negative_share
    scale = cd19.negative_share if cd19.negative_share > 0 else 1.0
    below = np.floor(CD19_NEGATIVE_BELOW * (quantile / scale) ** 2)
    upper = quantile - cd19.negative_share
    positive_quantile = np.clip(upper / (1.0 - cd19.negative_share), 1e-12, 1 - 1e-12)
    span = HSCORE_MAX - CD19_NEGATIVE_BELOW
    centre = _logit((cd19.hscore_positive_median - CD19_NEGATIVE_BELOW) / span)
    above = np.round(CD19_NEGATIVE_BELOW + span * expit(centre + cd19.hscore_logit_sd * ndtri(positive_quantile)))
    hscore = _missing(np.where(negative, below, above), present["cd19_hscore"])
    return {"cd19_hscore": hscore, "cd19_negative": _missing(negative.astype(float), present["cd19_hscore"])}


def _burden_columns(latent: dict[str, np.ndarray], present: dict[str, np.ndarray], spec: BiomarkerSpec) -> dict:
    """SPD and LDH (lognormal) and the LDH-elevated flag."""
    spd = spec.spd.median_mm2 * np.exp(spec.spd.log_sd * latent["spd"])
    ldh_spec = spec.ldh
    log_median = math.log(ldh_spec.upper_limit_of_normal) - ldh_spec.log_sd * ndtri(1.0 - ldh_spec.elevated_share)
    ldh = np.exp(log_median + ldh_spec.log_sd * latent["ldh"])
    elevated = (ldh > ldh_spec.upper_limit_of_normal).astype(float)
    return {
        "spd_mm2": _missing(spd, present["spd"]),
        "ldh_ul": _missing(ldh, present["ldh"]),
        "ldh_elevated": _missing(elevated, present["ldh"]),
    }


def _logit(p: float) -> float:
    """The log odds of a probability."""
    return math.log(p / (1.0 - p))


@lru_cache(maxsize=64)
def _category_levels(cuts: tuple[float, ...], labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Latent thresholds of cumulative shares ``cuts``, and the labels as an object array ending in None."""
    thresholds = ndtri(np.asarray(cuts))
    levels = np.array([*labels, None], dtype=object)
    for array in (thresholds, levels):
        array.setflags(write=False)
    return thresholds, levels


def _category(
    latent: np.ndarray, cuts: tuple[float, ...], labels: tuple[str, ...], present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of labels by thresholds of a latent normal (``cuts``: cumulative shares), and the levels (None last)."""
    thresholds, levels = _category_levels(cuts, labels)
    codes = np.searchsorted(thresholds, latent).astype(np.int8)
    codes[~present] = len(labels)
    return codes, levels


def _category_columns(latent: dict[str, np.ndarray], present: dict[str, np.ndarray], spec: BiomarkerSpec) -> dict:
    """Cell of origin, HGBL, biopsy timing and biopsy line, as (codes, levels)."""
    line = spec.biopsy_line
    return {
        "cell_of_origin": _category(
            latent["non_gcb"], (spec.cell_of_origin.gcb_share,), ("GCB", "non-GCB"), present["cell_of_origin"]
        ),
        "hgbl": _category(latent["hgbl"], (1.0 - spec.hgbl.yes_share,), ("no", "yes"), present["hgbl"]),
        "biopsy_timing": _category(
            latent["biopsy_timing"],
            (spec.biopsy_timing.initial_diagnosis_share,),
            ("initial_diagnosis", "after_first_line"),
            present["biopsy_timing"],
        ),
        "biopsy_line": _category(
            latent["biopsy_line"],
            (line.first_share, min(line.first_share + line.second_share, 1.0)),
            ("first", "second", "third"),
            present["biopsy_line"],
        ),
    }


def _gene_values(centred_genes: np.ndarray, present: np.ndarray, spec: BiomarkerSpec) -> np.ndarray:
    """Gene-level log2 values (genes, cohorts, patients), NaN for patients without expression."""
    centres = np.array(list(spec.gene_centres.values()))[:, None, None]
    return np.where(present, centres + centred_genes, np.nan)
