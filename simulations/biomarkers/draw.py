"""Drawing a cohort's biomarkers (:func:`generate_biomarkers`), or many cohorts' from pre-drawn variates at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmesurv.signatures import B_CELL_GENES
from tmesurv.simulations.biomarkers.latent import COLUMNS, LATENT_KEYS, NORMAL_ROWS, latent_values
from tmesurv.simulations.biomarkers.marginals import (
    UNIFORM_ROWS,
    burden_columns,
    category_columns,
    cd19_columns,
    centred_genes,
    expression_columns,
    gene_values,
    presence,
)
from tmesurv.simulations.biomarkers.spec import BiomarkerSpec

GENE_INDEX = pd.Index(B_CELL_GENES, name="gene")


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
        genes = None if self.genes is None else pd.DataFrame(self.genes[:, index], index=GENE_INDEX)
        return BiomarkerDraw(columns=columns, latent=latent, genes=genes)


def _labels(codes: np.ndarray, levels: np.ndarray, index: int) -> np.ndarray:
    return levels[codes[index]]


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
    values = latent_values(normals, spec)
    present = presence(uniforms, treated, spec)
    latent = dict(zip(LATENT_KEYS, values, strict=False))
    numeric = {
        **expression_columns(values, present["expression"], spec),
        **cd19_columns(latent, present, spec),
        **burden_columns(latent, present, spec),
    }
    genes = gene_values(centred_genes(values, spec), present["expression"], spec) if spec.genes else None
    return BiomarkerBatch(
        numeric=numeric, coded=category_columns(latent, present, spec), latent=values[: len(LATENT_KEYS)], genes=genes
    )


def _check_treated(treated: np.ndarray) -> np.ndarray:
    arm = np.asarray(treated)
    if arm.ndim != 1 or not ((arm == 0) | (arm == 1)).all():
        raise ValueError("treated must be a one-dimensional array of 0 (control) and 1 (treated)")
    return arm == 1
