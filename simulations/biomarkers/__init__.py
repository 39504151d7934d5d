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

Modules: :mod:`.spec` (the scenario settings), :mod:`.latent` (the latent values and their correlations),
:mod:`.marginals` (latent values to columns, and missingness), :mod:`.draw` (a cohort's or a batch's biomarkers). The
names callers use are all importable from here; those of the draw and the marginals load on first use.
"""

from typing import TYPE_CHECKING

from tmesurv.lazy_names import lazy_names
from tmesurv.simulations.biomarkers.latent import (
    CLUSTERS,
    COLUMNS,
    EXPRESSION_COLUMNS,
    LATENT_KEYS,
    NORMAL_ROWS,
    SIGNATURE_NAMES,
    SIGNATURES,
    latent_correlation_from_spearman,
    latent_correlation_matrix,
)
from tmesurv.simulations.biomarkers.spec import BiomarkerSpec

if TYPE_CHECKING:
    from tmesurv.simulations.biomarkers.draw import (
        BiomarkerBatch,
        BiomarkerDraw,
        biomarkers_from_draws,
        generate_biomarkers,
    )
    from tmesurv.simulations.biomarkers.marginals import UNIFORM_ROWS

# The draw's names load on first use: they import SciPy's special functions, which a power study reading its
# scenario's settings (BiomarkerSpec) does not need.
_LAZY = {
    "BiomarkerBatch": "tmesurv.simulations.biomarkers.draw",
    "BiomarkerDraw": "tmesurv.simulations.biomarkers.draw",
    "biomarkers_from_draws": "tmesurv.simulations.biomarkers.draw",
    "generate_biomarkers": "tmesurv.simulations.biomarkers.draw",
    "UNIFORM_ROWS": "tmesurv.simulations.biomarkers.marginals",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = [
    "CLUSTERS",
    "COLUMNS",
    "EXPRESSION_COLUMNS",
    "LATENT_KEYS",
    "NORMAL_ROWS",
    "SIGNATURES",
    "SIGNATURE_NAMES",
    "UNIFORM_ROWS",
    "BiomarkerBatch",
    "BiomarkerDraw",
    "BiomarkerSpec",
    "biomarkers_from_draws",
    "generate_biomarkers",
    "latent_correlation_from_spearman",
    "latent_correlation_matrix",
]
