"""Flat trial exports: one row per patient in CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.cohort import RawExport
from tmesurv.config import DataSpec
from tmesurv.errors import InputError

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_table(spec: DataSpec) -> RawExport:
    """Read a CSV or Parquet export (chosen by file extension) with ids and arms kept as text.

    Parameters
    ----------
    spec
        The ``data`` section of the config; ``spec.path`` is the file.

    Returns
    -------
    RawExport
        The frame, with row numbers as a user finds them: CSV line numbers (header is line 1), Parquet record
        numbers from 1.
    """
    path = Path(spec.path)
    text_columns = [spec.id] + ([spec.arm.column] if spec.arm is not None else [])
    frame, first_row = read_frame(path, "data file", "data.path", text_columns, "or data.adam for CDISC ADaM XPT files")
    return RawExport(frame=frame, default_file=path.name, default_rows=np.arange(len(frame)) + first_row)


def read_frame(
    path: Path, what: str, config_key: str, text_columns: list[str] | None = None, other_formats: str = ""
) -> tuple[pd.DataFrame, int]:
    """Read a CSV/TSV or Parquet file (chosen by extension), with errors that name the file and the config key.

    Parameters
    ----------
    path
        The file.
    what
        How errors name it, e.g. ``"data file"``, ``"expression file"``.
    config_key
        The config key that gives the path, for the missing-file advice.
    text_columns
        Columns kept as text (ids); None reads every CSV column as text.
    other_formats
        Advice appended to the unknown-extension error.

    Returns
    -------
    tuple[pandas.DataFrame, int]
        The rows, and the number a user sees for the first one: its CSV line (the header is line 1), or 1 for Parquet.

    Raises
    ------
    InputError
        If the file is missing, unreadable or of an unknown extension.
    """
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist: check {config_key} in the config")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        dtype = str if text_columns is None else dict.fromkeys(text_columns, str)
        try:
            return pd.read_csv(path, dtype=dtype, sep="\t" if suffix == ".tsv" else ","), 2
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
            raise InputError(f"{what} '{path}' could not be read as CSV: {error}") from None
    if suffix in PARQUET_SUFFIXES:
        return pd.read_parquet(path), 1
    advice = f", {other_formats}" if other_formats else ""
    raise InputError(f"{what} '{path}': unknown extension '{suffix}'. Use .csv, .tsv or .parquet{advice}.")
