"""Settings of the simulated biomarkers: the ``biomarkers:`` section of a scenario, ZUMA-7-like defaults."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from tmesurv.schema import StrictModel
from tmesurv.signatures import B_CELL_GENES

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Correlation = Annotated[float, Field(gt=-1.0, lt=1.0)]
Positive = Annotated[float, Field(gt=0.0)]

OTHER_B_CELL_GENES = tuple(gene for gene in B_CELL_GENES if gene != "CD19")
CD19_NEGATIVE_BELOW = 5.0
HSCORE_MAX = 300.0


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
        if set(self.centres) != set(OTHER_B_CELL_GENES):
            raise ValueError(f"centres: give exactly the genes {', '.join(OTHER_B_CELL_GENES)}")
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
