"""From latent values to a cohort's biomarker columns: marginal transforms, and which patients have each measurement.

Signature scores and cluster indices (log2), the B cell GES and CD19 gene, the CD19 H-score (a point mass below
:data:`~tmesurv.simulations.biomarkers.spec.CD19_NEGATIVE_BELOW`, logit-normal above), SPD and LDH (lognormal), the
categories (thresholds of a latent normal) and the gene matrix; all element by element, so a patient's values do not
depend on the batch. Missingness is completely at random, optionally with arm-specific shares, one uniform per
measurement (:data:`PRESENCE_KEYS`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import expit, ndtr, ndtri

from tmesurv.signatures import B_CELL_GENES
from tmesurv.simulations.biomarkers.latent import (
    CLUSTER_MEMBER_SLICES,
    CLUSTERS,
    GENE_ROW_SLICE,
    ROW,
    SIGNATURE_NAMES,
    SIGNATURE_ROW_SLICE,
)
from tmesurv.simulations.biomarkers.spec import CD19_NEGATIVE_BELOW, HSCORE_MAX, BiomarkerSpec

PRESENCE_KEYS = ("expression", "cell_of_origin", "hgbl", "biopsy_timing", "biopsy_line", "spd", "ldh", "cd19_hscore")
UNIFORM_ROWS = len(PRESENCE_KEYS)
"""Uniforms per patient a cohort's biomarkers take (one per measurement, for missingness)."""


def presence(uniforms: np.ndarray, treated: np.ndarray, spec: BiomarkerSpec) -> dict[str, np.ndarray]:
    """Which patients have each measurement (missing completely at random); categories need expression too."""
    shares = np.array(_presence_shares(spec))[:, :, None, None]
    present = uniforms < np.where(treated, shares[:, 0], shares[:, 1])
    present[1:5] &= present[0]
    return dict(zip(PRESENCE_KEYS, present, strict=True))


def _presence_shares(spec: BiomarkerSpec) -> list[tuple[float, float]]:
    """(treated, control) share with each measurement of :data:`PRESENCE_KEYS` (categories: among expression)."""
    categories = (spec.cell_of_origin, spec.hgbl, spec.biopsy_timing, spec.biopsy_line)
    by_arm = [
        (spec.expression.available, spec.expression.available_control),
        *((category.known, None) for category in categories),
        (spec.spd.measured, spec.spd.measured_control),
        (spec.ldh.measured, spec.ldh.measured_control),
        (spec.cd19.hscore_available, spec.cd19.hscore_available_control),
    ]
    return [(treated, treated if control is None else control) for treated, control in by_arm]


def centred_genes(values: np.ndarray, spec: BiomarkerSpec) -> np.ndarray:
    """Centred log2 expression of the B cell genes (order of :data:`B_CELL_GENES`), never missing."""
    others = spec.b_cell_genes.spread * values[GENE_ROW_SLICE]
    cd19 = spec.cd19.gene_spread * values[ROW["cd19_gene"]]
    position = B_CELL_GENES.index("CD19")
    return np.concatenate([others[:position], cd19[None], others[position:]])


def _missing(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Float copy of ``values`` with NaN where not present."""
    return np.where(present, values, np.nan)


def expression_columns(values: np.ndarray, present: np.ndarray, spec: BiomarkerSpec) -> dict[str, np.ndarray]:
    """Signature scores, cluster indices (root mean square of members), B cell GES and CD19 gene."""
    from tmesurv.models.screens.clustering import cluster_index_values  # scipy.stats: only for expression columns

    expression, cd19 = spec.expression, spec.cd19
    blank = np.where(present, 0.0, np.nan)  # added to a column, blanks the patients without expression
    scores = values[SIGNATURE_ROW_SLICE] * expression.spread
    scores += expression.centre + blank
    columns = dict(zip(SIGNATURE_NAMES, scores, strict=True))
    for cluster, members in zip(CLUSTERS, CLUSTER_MEMBER_SLICES, strict=True):
        columns[cluster] = cluster_index_values(scores[members], expression.index_reference)  # NaN where absent
    cd19_gene = cd19.gene_spread * values[ROW["cd19_gene"]]
    other_genes = _row_sum(values[GENE_ROW_SLICE])
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


def cd19_columns(latent: dict[str, np.ndarray], present: dict[str, np.ndarray], spec: BiomarkerSpec) -> dict:
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


def burden_columns(latent: dict[str, np.ndarray], present: dict[str, np.ndarray], spec: BiomarkerSpec) -> dict:
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


def category_columns(latent: dict[str, np.ndarray], present: dict[str, np.ndarray], spec: BiomarkerSpec) -> dict:
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


def gene_values(centred_genes: np.ndarray, present: np.ndarray, spec: BiomarkerSpec) -> np.ndarray:
    """Gene-level log2 values (genes, cohorts, patients), NaN for patients without expression."""
    centres = np.array(list(spec.gene_centres.values()))[:, None, None]
    return np.where(present, centres + centred_genes, np.nan)
