"""CDISC ADaM exports: subject-level ADSL plus time-to-event ADTTE, as SAS transport (XPT) files.

Each endpoint is one PARAMCD of ADTTE. ``AVAL`` is the time in ``data.time_unit``; ``CNSR = 0`` is an event and any
positive ``CNSR`` a censoring (ADaM codes censoring reasons as 1, 2, ...), so event = 1 - CNSR for the usual 0/1 coding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from tmesurv.cohort import RawExport
from tmesurv.config import DataSpec
from tmesurv.errors import InputError, describe_rows

ADTTE_COLUMNS = ("PARAMCD", "AVAL", "CNSR")


def read_adam(spec: DataSpec) -> RawExport:
    """Read ADSL and ADTTE and assemble one row per ADSL subject with a time and event per endpoint.

    Parameters
    ----------
    spec
        The ``data`` section of the config; ``spec.adam`` names the two files, ``spec.id`` the subject id
        (``USUBJID`` by default) and each endpoint its ``paramcd``.

    Returns
    -------
    RawExport
        ADSL columns plus ``<endpoint>.time`` and ``<endpoint>.event``; endpoint values point back at ADTTE rows.
    """
    adsl_path, adtte_path = Path(spec.adam.adsl), Path(spec.adam.adtte)
    adsl, adtte = _read_xpt(adsl_path), _read_xpt(adtte_path)
    for column in (spec.id, *ADTTE_COLUMNS):
        if column not in adtte.columns:
            raise InputError(
                f"ADTTE file '{adtte_path.name}' has no column '{column}'; its columns are: "
                f"{', '.join(adtte.columns)}. An ADTTE needs {spec.id}, PARAMCD, AVAL and CNSR."
            )
    if spec.id not in adsl.columns:
        raise InputError(f"ADSL file '{adsl_path.name}' has no subject id column '{spec.id}': set data.id.")
    frame = adsl.copy()
    column_rows = {}
    subject_ids = adsl[spec.id].astype(str).str.strip()
    for name, endpoint in spec.endpoints.items():
        records = _endpoint_records(adtte, spec.id, endpoint.paramcd, adtte_path.name)
        _require_same_subjects(subject_ids, records.index, endpoint.paramcd, adsl_path.name, adtte_path.name)
        aligned = records.reindex(subject_ids)
        frame[f"{name}.time"] = aligned["AVAL"].to_numpy()
        frame[f"{name}.event"] = aligned["event"].to_numpy()
        column_rows[f"{name}.time"] = column_rows[f"{name}.event"] = aligned["row"].to_numpy()
    endpoint_files = {column: f"{adtte_path.name} (AVAL/CNSR)" for column in column_rows}
    return RawExport(
        frame=frame,
        default_file=adsl_path.name,
        default_rows=np.arange(len(frame)) + 1,
        column_files=endpoint_files,
        column_rows=column_rows,
    )


def _read_xpt(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"ADaM file '{path}' does not exist: check data.adam in the config")
    try:
        frame, _ = pyreadstat.read_xport(str(path))
    except pyreadstat.ReadstatError as error:
        raise InputError(f"ADaM file '{path}' could not be read as SAS transport (XPT): {error}") from None
    return frame


def _require_same_subjects(adsl_ids: pd.Series, adtte_ids: pd.Index, paramcd: str, adsl: str, adtte: str) -> None:
    """Every ADSL subject has one record of the parameter, and the parameter has no subject ADSL lacks."""
    absent = ~adsl_ids.isin(adtte_ids).to_numpy()
    if absent.any():
        raise InputError(
            f"ADSL file '{adsl}', {describe_rows(list(np.flatnonzero(absent) + 1))} (subjects "
            f"{', '.join(adsl_ids[absent][:5])}): no PARAMCD '{paramcd}' record in '{adtte}'. Add the records, "
            "or remove these subjects from ADSL if they are not in the analysis population."
        )
    unknown = ~adtte_ids.isin(adsl_ids)
    if unknown.any():
        raise InputError(
            f"ADTTE file '{adtte}', PARAMCD '{paramcd}': subjects {', '.join(adtte_ids[unknown][:5])} are not in "
            f"ADSL '{adsl}'. ADSL defines the population: add them to ADSL or drop their ADTTE records."
        )


def _endpoint_records(adtte: pd.DataFrame, id_column: str, paramcd: str, file: str) -> pd.DataFrame:
    """One record per subject for ``paramcd``: AVAL, event (from CNSR) and the ADTTE row number."""
    rows = adtte.assign(row=np.arange(len(adtte)) + 1)
    rows = rows[rows["PARAMCD"].astype(str).str.strip() == paramcd]
    if rows.empty:
        found = ", ".join(sorted(adtte["PARAMCD"].astype(str).str.strip().unique()))
        raise InputError(f"ADTTE file '{file}' has no rows with PARAMCD '{paramcd}'; it has: {found}.")
    subject = rows[id_column].astype(str).str.strip()
    repeated = subject.duplicated(keep=False).to_numpy()
    if repeated.any():
        raise InputError(
            f"ADTTE file '{file}', column {id_column}, PARAMCD '{paramcd}', "
            f"{describe_rows(list(rows['row'][repeated]))}: a subject has more than one record for this "
            "parameter. Keep one record per subject and PARAMCD."
        )
    censoring = pd.to_numeric(rows["CNSR"], errors="coerce")
    negative = (censoring < 0).to_numpy()
    if negative.any():
        raise InputError(
            f"ADTTE file '{file}', column CNSR, {describe_rows(list(rows['row'][negative]))}: CNSR must be 0 "
            "(event) or a positive censoring code."
        )
    event = np.where(censoring.isna(), np.nan, (censoring == 0).astype(float))
    return pd.DataFrame(
        {"AVAL": rows["AVAL"].to_numpy(), "event": event, "row": rows["row"].to_numpy()},
        index=pd.Index(subject, name=id_column),
    )
