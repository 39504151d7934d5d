"""Biomarkers derived from the data before validation: gene-set scores, single genes, cluster indices, H-scores.

This is the "Cohort -> biomarkers (scores, indices)" step of the design for exports that hold the ingredients rather
than the scores (a GEO series, an expression matrix, IHC percentages). Each derivation adds a column to the raw export,
so the derived values go through the same validator as any other column.

- A gene-set score is the mean over the set's genes of log2 expression, each gene centred at its mean over the
  patients of the export that have expression (after the visit is chosen; before any analysis exclusion). A patient
  missing any of the set's genes gets no score. Genes absent from the panel are left out with a note.
- A cluster index is the root mean square of its member signatures
(:func:`tmesurv.models.screens.clustering.cluster_index`). - An H-score is the sum over intensity 1..3 of intensity x
  percent of tumor cells stained at it (0-300); below 5 is CD19-negative in the ZUMA-7 analysis.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from tmesurv.cohort import RawExport
from tmesurv.config import DeriveSpec, HScoreSpec
from tmesurv.errors import InputError

B_CELL_GENES = ("BLK", "CD19", "MS4A1", "TNFRSF17", "FCRL2", "FAM30A", "PNOC", "SPIB", "TCL1A")
"""The B cell gene-expression signature of the ZUMA-7 biomarker analysis (Locke, Filosto et al., Nat Med 2024)."""
SHIPPED_GENE_SETS = {"zuma7_b_cell": B_CELL_GENES}
HSCORE_NEGATIVE_BELOW = 5.0
HSCORE_MAX = 300.0


def gene_set_score(expression: pd.DataFrame, genes: list[str] | tuple[str, ...]) -> tuple[pd.Series, list[str]]:
    """Centred mean log2 expression of a gene set per patient.

    Parameters
    ----------
    expression
        log2 expression, genes (index) x patients (columns); NaN where a patient has no value.
    genes
        The set's gene symbols.

    Returns
    -------
    tuple[pandas.Series, list[str]]
        The score per patient (NaN for a patient missing any present gene) and the set's genes absent from the panel.

    Raises
    ------
    InputError
        If none of the set's genes is in the panel.
    """
    present = [gene for gene in genes if gene in expression.index]
    absent = [gene for gene in genes if gene not in expression.index]
    if not present:
        raise InputError(
            f"none of the gene set's genes ({', '.join(genes)}) is in the expression panel; check the gene symbols "
            "(the matrix's first column, or the platform's gene column)."
        )
    values = expression.loc[present].to_numpy(dtype=float)
    centred = values - np.nanmean(values, axis=1, keepdims=True)
    return pd.Series(centred.mean(axis=0), index=expression.columns), absent


def hscore(percent_1: np.ndarray, percent_2: np.ndarray, percent_3: np.ndarray) -> np.ndarray:
    """IHC H-score: 1 x % cells at 1+ plus 2 x % at 2+ plus 3 x % at 3+ (0-300; NaN if any percentage is)."""
    return 1.0 * percent_1 + 2.0 * percent_2 + 3.0 * percent_3


def gene_sets(spec: DeriveSpec) -> dict[str, tuple[str, ...]]:
    """Each derived signature's genes, shipped set names resolved.

    Raises
    ------
    InputError
        If a set is named by an unknown shipped name.
    """
    resolved = {}
    for column, genes in spec.signatures.items():
        if isinstance(genes, str):
            if genes not in SHIPPED_GENE_SETS:
                known = ", ".join(SHIPPED_GENE_SETS)
                raise InputError(f"data.derive.signatures.{column}: '{genes}' is not a shipped gene set ({known}).")
            genes = SHIPPED_GENE_SETS[genes]
        resolved[column] = tuple(genes)
    return resolved


def derive_columns(
    export: RawExport, ids: pd.Index, expression: pd.DataFrame | None, spec: DeriveSpec
) -> tuple[RawExport, list[str]]:
    """Add the derived columns of ``spec`` to the export: genes and signatures, then H-scores, then indices.

    Parameters
    ----------
    export
        The raw export.
    ids
        The patient id of each export row (stripped text), in row order.
    expression
        log2 expression, genes x patients (columns are ids; patients without a sample absent), or None.
    spec
        ``data.derive``.

    Returns
    -------
    tuple[RawExport, list[str]]
        The export with the new columns, and notes (gene-set genes missing from the panel).

    Raises
    ------
    InputError
        If a derived column already exists, expression is needed but absent, a gene is not in the panel, or an
        H-score percentage or index member is unusable.
    """
    columns, notes = _expression_columns(ids, expression, spec)
    frame = export.frame.assign(**columns)
    derived = dict.fromkeys(columns, "expression")
    for name, hscore_spec in spec.hscores.items():
        frame = frame.assign(**_hscore_columns(replace(export, frame=frame), name, hscore_spec))
        derived |= dict.fromkeys([name, hscore_spec.negative] if hscore_spec.negative else [name], "hscores")
    for name, members in spec.indices.items():
        frame[name] = _index(replace(export, frame=frame), name, members, spec.index_centre)
        derived[name] = "indices"
    _require_new(export, derived)
    files = {name: f"{export.default_file} (derived by data.derive.{kind})" for name, kind in derived.items()}
    return replace(export, frame=frame, column_files={**export.column_files, **files}), notes


def _require_new(export: RawExport, derived: dict[str, str]) -> None:
    clash = [name for name in derived if name in export.frame.columns]
    if clash:
        raise InputError(
            f"file '{export.default_file}' already has a column '{clash[0]}', which data.derive.{derived[clash[0]]} "
            "would compute; rename the derived column in the config."
        )


def _expression_columns(
    ids: pd.Index, expression: pd.DataFrame | None, spec: DeriveSpec
) -> tuple[dict[str, np.ndarray], list[str]]:
    if not (spec.signatures or spec.genes):
        return {}, []
    if expression is None:
        raise InputError(
            "data.derive.signatures and data.derive.genes need gene expression: add data.expression (a matrix or "
            "RCC files) or read a GEO series with data.geo."
        )
    aligned = expression.reindex(columns=ids)
    columns, notes = {}, []
    for column, genes in gene_sets(spec).items():
        score, absent = gene_set_score(aligned, genes)
        columns[column] = score.to_numpy()
        if absent:
            notes.append(f"gene set '{column}': {', '.join(absent)} not in the expression panel; scored without them")
    for column, gene in spec.genes.items():
        if gene not in aligned.index:
            raise InputError(f"data.derive.genes.{column}: gene '{gene}' is not in the expression panel.")
        columns[column] = aligned.loc[gene].to_numpy(dtype=float)
    return columns, notes


def _percentages(export: RawExport, column: str) -> np.ndarray:
    if column not in export.frame.columns:
        raise InputError(f"file '{export.default_file}' has no column '{column}' (named by data.derive.hscores).")
    raw = export.frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = (raw.notna().to_numpy() & np.isnan(values)) | (values < 0) | (values > 100)
    if bad.any():
        raise InputError(
            f"{export.locate(column, bad)}: a percentage of stained cells must be a number from 0 to 100. "
            "Leave unknown values empty."
        )
    return values


def _hscore_columns(export: RawExport, name: str, spec: HScoreSpec) -> dict[str, np.ndarray]:
    percents = [_percentages(export, column) for column in spec.percent]
    over = np.sum(percents, axis=0) > 100 + 1e-9
    if over.any():
        raise InputError(
            f"{export.locate(spec.percent[0], over)}: the percentages at 1+, 2+ and 3+ ({', '.join(spec.percent)}) "
            "add up to more than 100. Check the columns are shares of the same tumor cells."
        )
    score = hscore(*percents)
    columns = {name: score}
    if spec.negative is not None:
        columns[spec.negative] = np.where(np.isnan(score), np.nan, (score < HSCORE_NEGATIVE_BELOW).astype(float))
    return columns


def _index(export: RawExport, name: str, members: list[str], centre: float) -> np.ndarray:
    absent = [member for member in members if member not in export.frame.columns]
    if absent:
        raise InputError(
            f"data.derive.indices.{name}: member '{absent[0]}' is not a column of '{export.default_file}' nor a "
            "derived signature; check the signature column names (GEO: signature_prefix + snake_case name)."
        )
    scores = export.frame[members].apply(pd.to_numeric, errors="coerce")
    text = export.frame[members].notna().to_numpy() & scores.isna().to_numpy()
    if text.any():
        column = members[int(np.flatnonzero(text.any(axis=0))[0])]
        raise InputError(f"{export.locate(column, text[:, members.index(column)])}: a signature must be numeric.")
    from tmesurv.models.screens.clustering import cluster_index  # scipy.stats: loaded only when a cluster is scored

    return cluster_index(scores, members, centre=centre).to_numpy()
