"""Read a result folder: which result files are there, checked against the columns the report needs.

Each file is optional. A file of ``tmesurv cox`` or ``tmesurv bayes`` that is present but malformed (missing
columns, text in a numeric column, a duplicated key, a run.json that is not JSON) is an
:class:`~tmesurv.errors.InputError` naming file, column and rows. The files of ``tmesurv validate`` and
``tmesurv power`` are read leniently: without the columns their section needs, the section is left out and the
report says why (:attr:`Results.notes`). Figures are the PNG files of ``figures/`` and of the folder itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.errors import InputError, describe_rows
from tmesurv.outputs.files import (
    BAYES,
    BAYES_CURE,
    BAYES_CURVES,
    BAYES_FIT_CHECK,
    BAYES_HR_CURVE,
    BAYES_LOO,
    BAYES_PRIOR_PREDICTIVE,
    BAYES_SCREEN,
    BAYES_SURVIVAL,
    BAYES_TIME_VARYING,
    BIOMARKERS,
    COHORT,
    COX,
    EXCLUSIONS,
    INTERACTIONS,
    KM,
    KM_CURVES,
    LOGRANK,
    PH_RESIDUALS,
    PH_TEST,
    POWER,
    PRODUCT_ASSOCIATIONS,
    PRODUCT_SUBGROUPS,
    REGISTRY,
    SUBGROUPS,
    VALIDATION,
    VALIDATION_SIZE,
    VALIDATION_SIZE_N,
    ResultFile,
)
from tmesurv.outputs.run_record import RUN_RECORD, RunRecord, read_run_record

NUMBER_NA = ("", "NA", "N/A", "NaN", "nan", "null", "None")
FLAG_VALUES = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0, "yes": 1.0, "no": 0.0}
MAX_FILES_SHOWN = 5
FIRST_DATA_LINE = 2  # CSV line of the first data row, after the header


FIGURE_FOLDER = "figures"


@dataclass(frozen=True)
class Results:
    """The contents of a result folder; None for each file that is absent.

    Flag columns (``bayes.converged``) hold 1.0 (true), 0.0 (false) or NaN (blank); optional columns absent from
    a file are there as blanks. ``figures`` maps a PNG's file name (without suffix) to its path; ``notes`` say which
    present files the report could not use, and why.
    """

    name: str
    run: RunRecord | None
    cohort: pd.DataFrame | None
    exclusions: pd.DataFrame | None
    km_curves: pd.DataFrame | None
    km: pd.DataFrame | None
    cox: pd.DataFrame | None
    bayes: pd.DataFrame | None
    interactions: pd.DataFrame | None = None
    bayes_curves: pd.DataFrame | None = None
    bayes_survival: pd.DataFrame | None = None
    bayes_hr_curve: pd.DataFrame | None = None
    bayes_screen: pd.DataFrame | None = None
    bayes_time_varying: pd.DataFrame | None = None
    bayes_prior_predictive: pd.DataFrame | None = None
    bayes_cure: pd.DataFrame | None = None
    bayes_loo: pd.DataFrame | None = None
    biomarkers: pd.DataFrame | None = None
    validation: pd.DataFrame | None = None
    power: pd.DataFrame | None = None
    validation_size: pd.DataFrame | None = None
    validation_size_n: pd.DataFrame | None = None
    product_associations: pd.DataFrame | None = None
    product_subgroups: pd.DataFrame | None = None
    subgroups: pd.DataFrame | None = None
    logrank: pd.DataFrame | None = None
    ph_test: pd.DataFrame | None = None
    ph_residuals: pd.DataFrame | None = None
    bayes_fit_check: pd.DataFrame | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def bayes_model_name(results: Results) -> str | None:
    """``bayes.model`` of the run: run.json's bayes config, else the model of the first row of the files below.

    ``bayes.csv``, ``bayes_curves.csv``, ``bayes_survival.csv`` and ``bayes_fit_check.csv`` hold rows of every
    compared model (column ``model``), those of ``bayes.model`` first. None without a Bayesian run.
    """
    config = (results.run.config_of("bayes") if results.run is not None else None) or {}
    model = (config.get("bayes") or {}).get("model")
    if model is not None:
        return str(model)
    for table in (results.bayes, results.bayes_fit_check, results.bayes_curves, results.bayes_survival):
        if table is not None and len(table):
            return str(table["model"].iloc[0])
    return None


def of_model(table: pd.DataFrame | None, model: str) -> pd.DataFrame | None:
    """The rows of ``model`` of a table that holds every compared model's (``bayes.csv``, ``bayes_curves.csv``, ...).

    None when the table is absent or has no row of ``model`` (the model was not fitted).
    """
    if table is None:
        return None
    rows = table[table["model"] == model].reset_index(drop=True)
    return None if rows.empty else rows


def of_bayes_model(table: pd.DataFrame | None, results: Results) -> pd.DataFrame | None:
    """The rows of ``bayes.model`` (:func:`bayes_model_name`) of a table that holds every compared model's.

    For the sections that show bayes.model's results from ``bayes.csv``, ``bayes_curves``, ``bayes_survival`` or
    ``bayes_fit_check``; an empty table stays an empty table.
    """
    if table is None:
        return None
    rows = of_model(table, str(bayes_model_name(results)))
    return table.iloc[:0].reset_index(drop=True) if rows is None else rows


def read_results(result_dir: Path) -> Results:
    """Read every result file present in ``result_dir``.

    Parameters
    ----------
    result_dir
        A folder written by a tmesurv run.

    Returns
    -------
    Results
        The frames (None where absent) and the run information.

    Raises
    ------
    InputError
        If the folder does not exist, or a present file is malformed.
    """
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise InputError(f"result folder '{result_dir}' does not exist; give the output folder of a tmesurv run.")
    run = read_run_record(result_dir / RUN_RECORD)
    if run is not None:
        _require_listed(result_dir, run)
    notes: list[str] = []
    return Results(
        name=result_dir.resolve().name,
        run=run,
        cohort=read_result_csv(result_dir, COHORT),
        exclusions=read_result_csv(result_dir, EXCLUSIONS),
        km_curves=read_result_csv(result_dir, KM_CURVES),
        km=read_result_csv(result_dir, KM),
        cox=read_result_csv(result_dir, COX),
        bayes=read_result_csv(result_dir, BAYES),
        interactions=read_result_csv(result_dir, INTERACTIONS),
        bayes_curves=read_result_csv(result_dir, BAYES_CURVES),
        bayes_survival=read_result_csv(result_dir, BAYES_SURVIVAL),
        bayes_hr_curve=read_result_csv(result_dir, BAYES_HR_CURVE),
        bayes_screen=read_result_csv(result_dir, BAYES_SCREEN),
        bayes_time_varying=read_result_csv(result_dir, BAYES_TIME_VARYING),
        bayes_prior_predictive=read_result_csv(result_dir, BAYES_PRIOR_PREDICTIVE),
        bayes_cure=read_result_csv(result_dir, BAYES_CURE),
        bayes_loo=read_result_csv(result_dir, BAYES_LOO),
        biomarkers=read_result_csv(result_dir, BIOMARKERS),
        validation=read_lenient_csv(result_dir, VALIDATION, notes),
        power=read_lenient_csv(result_dir, POWER, notes),
        validation_size=read_lenient_csv(result_dir, VALIDATION_SIZE, notes),
        validation_size_n=read_lenient_csv(result_dir, VALIDATION_SIZE_N, notes),
        product_associations=read_result_csv(result_dir, PRODUCT_ASSOCIATIONS),
        product_subgroups=read_result_csv(result_dir, PRODUCT_SUBGROUPS),
        subgroups=read_result_csv(result_dir, SUBGROUPS),
        logrank=read_result_csv(result_dir, LOGRANK),
        ph_test=read_result_csv(result_dir, PH_TEST),
        ph_residuals=read_result_csv(result_dir, PH_RESIDUALS),
        bayes_fit_check=read_result_csv(result_dir, BAYES_FIT_CHECK),
        figures=find_figures(result_dir),
        notes=tuple(notes),
    )


def _require_listed(result_dir: Path, run: RunRecord) -> None:
    """Refuse a result file or figure that ``run.json`` does not list: it is not a result of the runs it records."""
    listed = run.listed
    shown = [entry.name for entry in REGISTRY.values() if (result_dir / entry.name).is_file()]
    shown += [str(path.relative_to(result_dir)) for path in find_figures(result_dir).values()]
    strays = sorted(name for name in shown if name not in listed)
    if strays:
        raise InputError(
            f"result folder '{result_dir}' holds {describe_files(strays)} that run.json does not list: they were not "
            "written by the runs it records (an interrupted run, another study, or a file copied in). Remove them, or "
            "rerun the analysis into a new folder."
        )


def describe_files(names: list[str]) -> str:
    """``file 'a.csv'`` or ``files 'a.csv', 'b.png' and 3 more``."""
    shown = ", ".join(f"'{name}'" for name in names[:MAX_FILES_SHOWN])
    more = f" and {len(names) - MAX_FILES_SHOWN} more" if len(names) > MAX_FILES_SHOWN else ""
    return f"{'file' if len(names) == 1 else 'files'} {shown}{more}"


def read_lenient_csv(result_dir: Path, spec: ResultFile, notes: list[str]) -> pd.DataFrame | None:
    """Read a result CSV of another command; None, with a note, when it cannot be used.

    Parameters
    ----------
    result_dir
        The result folder.
    spec
        The columns its report section needs (required) and can show (optional).
    notes
        Gets one line per file that is present but left out: missing columns, no rows, or not readable.

    Returns
    -------
    pandas.DataFrame or None
        As :func:`read_result_csv`, without the rows whose required numbers are blank or not numbers.
    """
    try:
        frame = read_result_csv(result_dir, spec)
    except InputError as error:
        notes.append(f"{spec.name} is left out: {error}")
        return None
    if frame is None:
        return None
    needed = [column for column in spec.numbers if column in spec.required]
    frame = frame.dropna(subset=needed).reset_index(drop=True)
    if frame.empty:
        notes.append(f"{spec.name} is left out: it has no rows with a value in {', '.join(needed)}.")
        return None
    return frame


def find_figures(result_dir: Path) -> dict[str, Path]:
    """The PNG figures of a result folder: ``figures/*.png`` and ``*.png`` beside the tables, by file stem.

    A stem found in both places is taken from ``figures/``.
    """
    found = {path.stem: path for path in sorted(Path(result_dir).glob("*.png"))}
    return found | {path.stem: path for path in sorted((Path(result_dir) / FIGURE_FOLDER).glob("*.png"))}


def read_result_csv(result_dir: Path, spec: ResultFile) -> pd.DataFrame | None:
    """Read one result CSV and check it against ``spec``; None if the file is absent.

    Parameters
    ----------
    result_dir
        The result folder.
    spec
        The file's contract.

    Returns
    -------
    pandas.DataFrame or None
        Text columns as strings (NaN where blank), number columns as floats, flag columns as 1.0/0.0/NaN.
    """
    path = result_dir / spec.name
    if not path.is_file():
        return None
    frame = _read_csv(path, spec)
    missing = [column for column in spec.required if column not in frame.columns]
    if missing:
        raise InputError(
            f"file '{path}' has no column(s) {', '.join(missing)}; its columns are: "
            f"{', '.join(map(str, frame.columns))}. Rerun the analysis that writes it, or remove the file."
        )
    for column in spec.optional:
        if column not in frame.columns:
            frame[column] = pd.Series(np.nan, index=frame.index, dtype=object if column in spec.flags else float)
    for column in spec.numbers:
        frame[column] = _numbers(frame[column], path, column)
    for column in spec.flags:
        frame[column] = _flags(frame[column], path, column)
    _require_unique(frame, spec, path)
    return frame


def _read_csv(path: Path, spec: ResultFile) -> pd.DataFrame:
    na_values = {column: list(NUMBER_NA) for column in spec.numbers} | {
        column: [""] for column in spec.text + spec.flags
    }
    try:
        return pd.read_csv(
            path,
            dtype={column: str for column in spec.text + spec.flags},
            keep_default_na=False,
            na_values=na_values,
        )
    except pd.errors.EmptyDataError as error:
        raise InputError(f"file '{path}' is empty; rerun the analysis that writes it, or remove it.") from error


def _csv_rows(mask: np.ndarray) -> list[int]:
    return [int(index) + FIRST_DATA_LINE for index in np.flatnonzero(mask)]


def _numbers(values: pd.Series, path: Path, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna().to_numpy() & values.notna().to_numpy()
    if bad.any():
        raise InputError(
            f"file '{path}', column '{column}', {describe_rows(_csv_rows(bad))}: expected numbers; "
            "fix or blank those values."
        )
    return numbers.astype(float)


def _flags(values: pd.Series, path: Path, column: str) -> pd.Series:
    flags = values.str.strip().str.lower().map(FLAG_VALUES)
    bad = flags.isna().to_numpy() & values.notna().to_numpy()
    if bad.any():
        raise InputError(f"file '{path}', column '{column}', {describe_rows(_csv_rows(bad))}: expected true or false.")
    return flags.astype(float)


def _require_unique(frame: pd.DataFrame, spec: ResultFile, path: Path) -> None:
    if not spec.keys:
        return
    duplicated = frame.duplicated(list(spec.keys), keep=False).to_numpy()
    if duplicated.any():
        raise InputError(
            f"file '{path}', {describe_rows(_csv_rows(duplicated))}: the same {', '.join(spec.keys)} appears "
            "more than once; each may appear once."
        )
