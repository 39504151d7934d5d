"""CAR T level time series (``data.pk``): read, check, and join the derived PK columns to the cohort."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.arms import TREATED
from tmesurv.cohort import Cohort, Exclusion
from tmesurv.config import PkSpec
from tmesurv.errors import InputError, describe_rows
from tmesurv.models.product.pk import PK_COLUMNS, pk_parameters
from tmesurv.readers.tabular import read_frame

PK_ANALYSIS = "pk"


def join_pk(cohort: Cohort, spec: PkSpec, id_column: str) -> Cohort:
    """Add peak, time to peak and AUC(0-28) of the treated patients to ``cohort`` (control patients: missing).

    Parameters
    ----------
    cohort
        The validated cohort.
    spec
        The ``data.pk`` section, with an absolute path.
    id_column
        The export's id column (``data.id``), the default of ``spec.id``.

    Returns
    -------
    Cohort
        With :data:`~tmesurv.models.product.pk.PK_COLUMNS` among ``product``; samples and patients a rule left out are
        in ``data_exclusions``, and patients given level 0 at day 0 in ``notes``.

    Raises
    ------
    InputError
        For a missing file or column, an id not in the export, a missing, negative or text day, a negative or text
        level, or two samples of one patient on the same day; naming the file, the column and the rows.
    """
    samples, file = read_pk_samples(spec, id_column)
    unknown = ~samples["id"].isin(cohort.patients.index).to_numpy()
    problem = f"patients not in '{cohort.source}'. Check that both files use the same patient ids"
    _require(unknown, file, spec.id or id_column, samples["row"].to_numpy(), problem)
    clashing = [column for column in PK_COLUMNS if column in cohort.patients.columns]
    if clashing:
        raise InputError(f"the export already has a column '{clashing[0]}', which data.pk derives: rename it")
    exclusions = _missing_levels(samples)
    measured = samples[samples["level"].notna()]
    control = cohort.patients.index[cohort.patients["arm"] != TREATED]
    in_control = measured["id"].isin(control).to_numpy()
    if in_control.any():
        ids = tuple(pd.unique(measured.loc[in_control, "id"]))
        exclusions.append(Exclusion(PK_ANALYSIS, "CAR T levels of control patients are not used", ids))
    parameters = pk_parameters(*_arrays(measured[~in_control]))
    if parameters.truncated:
        reason = "last CAR T sample before day 28: no AUC(0-28)"
        exclusions.append(Exclusion(PK_ANALYSIS, reason, parameters.truncated))
    patients = cohort.patients.join(parameters.table, how="left")
    notes = cohort.notes
    if parameters.day0_assumed:
        notes += (f"{file}: {len(parameters.day0_assumed)} patients without a day-0 CAR T sample: level 0 assumed",)
    return replace(
        cohort,
        patients=patients,
        product=(*cohort.product, *PK_COLUMNS),
        data_exclusions=(*cohort.data_exclusions, *exclusions),
        notes=notes,
    )


def read_pk_samples(spec: PkSpec, id_column: str) -> tuple[pd.DataFrame, str]:
    """The samples as columns ``id, day, level, row`` (level NaN where empty; ``row`` in the file), checked."""
    frame, first_row = read_frame(Path(spec.path), "CAR T level file", "data.pk.path", [spec.id or id_column])
    file = Path(spec.path).name
    columns = {"id": spec.id or id_column, "day": spec.day, "level": spec.level}
    missing = [column for column in columns.values() if column not in frame.columns]
    if missing:
        raise InputError(
            f"file '{file}' has no column '{missing[0]}' (named by data.pk); its columns are: "
            f"{', '.join(map(str, frame.columns))}. Fix data.pk in the config or the file."
        )
    rows = np.arange(len(frame)) + first_row
    samples = pd.DataFrame({"id": frame[columns["id"]].astype("string").str.strip()})
    _require(samples["id"].isna().to_numpy(), file, columns["id"], rows, "patient id is missing. Give every sample one")
    samples["day"] = _numbers(frame[columns["day"]], file, columns["day"], rows, allow_missing=False)
    samples["level"] = _numbers(frame[columns["level"]], file, columns["level"], rows, allow_missing=True)
    repeated = samples.duplicated(["id", "day"], keep=False).to_numpy()
    _require(repeated, file, columns["day"], rows, "two samples of one patient on the same day. Keep one per day")
    return samples.astype({"id": str}).assign(row=rows), file


def _numbers(raw: pd.Series, file: str, column: str, rows: np.ndarray, allow_missing: bool) -> np.ndarray:
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    empty = raw.isna().to_numpy()
    what = "level" if allow_missing else "day"
    _require(~empty & np.isnan(values), file, column, rows, f"{what} is not a number. Give numbers only")
    if not allow_missing:
        _require(empty, file, column, rows, "day is missing. Give every sample its day since infusion")
    advice = "days count from the infusion (day 0): drop pre-infusion samples" if what == "day" else "check the units"
    _require(values < 0, file, column, rows, f"negative {what}; {advice}")
    return values


def _require(bad: np.ndarray, file: str, column: str, rows: np.ndarray, problem: str) -> None:
    if bad.any():
        raise InputError(f"file '{file}', column '{column}', {describe_rows(list(rows[bad]))}: {problem}.")


def _missing_levels(samples: pd.DataFrame) -> list[Exclusion]:
    empty = samples["level"].isna()
    if not empty.any():
        return []
    ids = tuple(pd.unique(samples.loc[empty, "id"]))
    return [Exclusion(PK_ANALYSIS, f"{int(empty.sum())} CAR T samples without a level left out", ids)]


def _arrays(samples: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return samples["id"].to_numpy(), samples["day"].to_numpy(), samples["level"].to_numpy(dtype=float)
