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
    if not path.is_file():
        raise InputError(f"data file '{path}' does not exist: check data.path in the config")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        text_columns = {spec.id: str} | ({spec.arm.column: str} if spec.arm is not None else {})
        separator = "\t" if suffix == ".tsv" else ","
        try:
            frame = pd.read_csv(path, dtype=text_columns, sep=separator, keep_default_na=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
            raise InputError(f"data file '{path}' could not be read as CSV: {error}") from None
        first_row = 2
    elif suffix in PARQUET_SUFFIXES:
        frame = pd.read_parquet(path)
        first_row = 1
    else:
        raise InputError(
            f"data file '{path}': unknown extension '{suffix}'. Use .csv, .tsv or .parquet, "
            "or data.adam for CDISC ADaM XPT files."
        )
    return RawExport(frame=frame, default_file=path.name, default_rows=np.arange(len(frame)) + first_row)
