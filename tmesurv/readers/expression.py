"""Gene-expression matrices (genes x samples) and how their samples map onto the export's patients.

A matrix comes from a CSV/TSV or Parquet file (first column the gene symbol, one column per sample), from NanoString
RCC files (normalised by :func:`tmesurv.readers.nanostring.normalised_rcc_matrix`), or from a GEO series. Values are
log2 normalised expression; a matrix of normalised counts (``scale: counts``) is turned into log2(count + 1), the
pseudo-count keeping zero counts finite. Every sample is matched to one patient: patients without a sample and samples
without a patient are counted as exclusions, never dropped silently.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.cohort import Exclusion, RawExport
from tmesurv.config import ExpressionScale, ExpressionSpec
from tmesurv.errors import InputError, describe_rows
from tmesurv.readers.tabular import read_frame

LOG2_MAX = 40.0
"""A log2 value above this (10^12 counts) means the matrix holds counts, not log2 expression."""
EXPRESSION = "expression"


def read_expression(spec: ExpressionSpec) -> tuple[pd.DataFrame, list[str]]:
    """Read the matrix ``spec`` names, as log2 expression (genes x samples), and notes on its samples.

    Parameters
    ----------
    spec
        ``data.expression`` with absolute paths.

    Returns
    -------
    tuple[pandas.DataFrame, list[str]]
        The matrix (index ``gene``) and notes (RCC samples flagged by QC).
    """
    if spec.rcc is not None:
        return rcc_matrix(spec.rcc)
    path = Path(spec.path)
    return to_log2(read_matrix(path), spec.scale, path.name), []


def read_matrix(path: Path) -> pd.DataFrame:
    """A genes x samples matrix from CSV/TSV or Parquet: first column the gene, then one numeric column per sample.

    Raises
    ------
    InputError
        If the file is missing or unreadable, a gene repeats, or a value is not a number.
    """
    raw, first_row = read_frame(path, "expression file", "data.expression.path")
    genes = raw.iloc[:, 0].astype(str).str.strip()
    repeated = genes.duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = describe_rows(list(np.flatnonzero(repeated) + first_row))
        raise InputError(
            f"expression file '{path.name}', column '{raw.columns[0]}', {rows}: gene {genes[repeated].iloc[0]} "
            "appears more than once. Keep one row per gene (average or drop repeated probes first)."
        )
    values = raw.iloc[:, 1:].set_axis(pd.Index(genes, name="gene"))
    values.columns = values.columns.astype(str).str.strip()
    return numeric_matrix(values, path.name, first_row)


def numeric_matrix(values: pd.DataFrame, file: str, first_row: int) -> pd.DataFrame:
    """The matrix as floats (missing stays NaN); an error names the file, sample column and row of a text value."""
    numeric = values.apply(pd.to_numeric, errors="coerce").astype(float)
    text = values.notna().to_numpy() & numeric.isna().to_numpy()
    if text.any():
        row, column = np.argwhere(text)[0]
        raise InputError(
            f"expression file '{file}', column '{values.columns[column]}', row {row + first_row}: "
            f"'{values.iloc[row, column]}' is not a number. Leave missing values empty (or NA)."
        )
    return numeric


def to_log2(matrix: pd.DataFrame, scale: ExpressionScale, file: str) -> pd.DataFrame:
    """log2 expression: unchanged for ``log2``, log2(x + 1) for ``counts``.

    Raises
    ------
    InputError
        If counts are negative, or values said to be log2 are too large to be log2.
    """
    values = matrix.to_numpy(dtype=float)
    if scale == "counts":
        if (values < 0).any():
            raise InputError(f"expression file '{file}': negative counts; counts are >= 0 (or set scale: log2).")
        return pd.DataFrame(np.log2(values + 1.0), index=matrix.index, columns=matrix.columns)
    if np.nanmax(values, initial=-np.inf) > LOG2_MAX:
        raise InputError(
            f"expression file '{file}': values up to {np.nanmax(values):.4g} are counts, not log2 expression; "
            "set scale: counts in the config (tmesurv then takes log2(count + 1))."
        )
    return matrix


def rcc_matrix(pattern: str) -> tuple[pd.DataFrame, list[str]]:
    """log2 normalised expression from NanoString RCC files: a folder (its ``*.RCC``) or a glob.

    Returns
    -------
    tuple[pandas.DataFrame, list[str]]
        Genes x samples (the RCC sample ids), and a note naming the samples the lane QC flags.
    """
    from tmesurv.readers.nanostring import normalised_rcc_matrix  # written separately; imported when used

    folder = Path(pattern)
    found = [*folder.glob("*.RCC"), *folder.glob("*.rcc")] if folder.is_dir() else map(Path, glob.glob(pattern))
    paths = sorted(set(found))
    if not paths:
        raise InputError(f"no RCC files match data.expression.rcc '{pattern}': give a folder of .RCC files or a glob")
    matrix, qc = normalised_rcc_matrix(paths)
    flagged = qc.loc[qc["any_flag"].astype(bool), "sample_id"].astype(str).tolist()
    notes = [f"RCC lane QC flags samples {', '.join(flagged)} (kept; see their QC metrics)"] if flagged else []
    return matrix.rename_axis(index="gene", columns=None), notes


def sample_patients(
    samples: str | Mapping[str, str] | None, export: RawExport, ids: pd.Index, matrix: pd.DataFrame
) -> pd.Series:
    """Which patient each sample belongs to (index sample id, values patient id).

    Parameters
    ----------
    samples
        ``data.expression.samples``: an export column holding each patient's sample id, a mapping sample id ->
        patient id, or None (the sample ids are the patient ids).
    export
        The raw export.
    ids
        The export's patient ids, in row order.
    matrix
        The expression matrix (its columns are sample ids).

    Raises
    ------
    InputError
        If the sample column is missing, or two patients name the same sample.
    """
    if samples is None:
        return pd.Series(matrix.columns, index=matrix.columns)
    if not isinstance(samples, str):
        return pd.Series(dict(samples), dtype=object)
    if samples not in export.frame.columns:
        raise InputError(
            f"file '{export.default_file}' has no column '{samples}' (named by data.expression.samples); "
            "name the export column that holds each patient's sample id."
        )
    return _sample_column(export, samples, ids)


def _sample_column(export: RawExport, column: str, ids: pd.Index) -> pd.Series:
    raw = export.frame[column]
    present = raw.notna().to_numpy()
    sample = raw.astype(str).str.strip()
    repeated = present & sample.where(present).duplicated(keep=False).to_numpy()
    if repeated.any():
        raise InputError(
            f"{export.locate(column, repeated)}: two patients name the same expression sample "
            f"({sample[repeated].iloc[0]}). A sample belongs to one patient."
        )
    return pd.Series(ids[present], index=sample[present].to_numpy())


def align_samples(
    matrix: pd.DataFrame, sample_patient: pd.Series, ids: pd.Index, source: str
) -> tuple[pd.DataFrame, list[Exclusion]]:
    """The matrix with one column per patient who has a sample, labelled by patient id, in export order.

    Parameters
    ----------
    matrix
        Genes x samples.
    sample_patient
        Sample id -> patient id (:func:`sample_patients`).
    ids
        The export's patient ids, in row order.
    source
        The matrix's file, for messages.

    Returns
    -------
    tuple[pandas.DataFrame, list[Exclusion]]
        The aligned matrix, and the patients without a sample and the samples without a patient.

    Raises
    ------
    InputError
        If a patient has two samples.
    """
    patient = sample_patient.reindex(matrix.columns)
    used = patient.notna() & patient.isin(ids)
    repeated = patient[used][patient[used].duplicated(keep=False)]
    if not repeated.empty:
        raise InputError(
            f"expression '{source}': patient {repeated.iloc[0]} has several samples "
            f"({', '.join(repeated.index[repeated == repeated.iloc[0]])}). Keep one sample per patient "
            "(or map only one with data.expression.samples)."
        )
    aligned = matrix.loc[:, used.to_numpy()].set_axis(pd.Index(patient[used], name="id"), axis=1)
    aligned = aligned[[patient for patient in ids if patient in aligned.columns]]
    return aligned, _sample_exclusions(ids, aligned.columns, list(matrix.columns[~used.to_numpy()]))


def _sample_exclusions(ids: pd.Index, with_sample: pd.Index, unmatched: list[str]) -> list[Exclusion]:
    exclusions = []
    without = tuple(patient for patient in ids if patient not in set(with_sample))
    if without:
        exclusions.append(Exclusion(EXPRESSION, "no expression sample", without))
    if unmatched:
        reason = "sample matches no patient of the export (not used)"
        exclusions.append(Exclusion(EXPRESSION, reason, tuple(map(str, unmatched)), "samples"))
    return exclusions
