"""Read a result folder: which result files are there, checked against the columns the report needs.

Each file is optional. A file that is present but malformed (missing columns, text in a numeric column, a
duplicated key, a run.json that is not JSON) is an :class:`~tmesurv.errors.InputError` naming file, column and
rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.errors import InputError, describe_rows

TERM_KEYS = ("endpoint", "analysis", "subgroup", "term")
NUMBER_NA = ("", "NA", "N/A", "NaN", "nan", "null", "None")
FLAG_VALUES = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0, "yes": 1.0, "no": 0.0}
FIRST_DATA_LINE = 2  # CSV line of the first data row, after the header


@dataclass(frozen=True)
class ResultFile:
    """The contract of one result CSV: its name, its columns by kind, and the columns that identify a row."""

    name: str
    text: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the report needs, in contract order."""
        return self.text + self.numbers + self.flags


COHORT = ResultFile("cohort.csv", ("arm",), ("patients", "events", "median_follow_up"), unique=("arm",))
EXCLUSIONS = ResultFile("exclusions.csv", ("analysis", "reason", "ids"), ("count",))
KM_CURVES = ResultFile(
    "km_curves.csv", ("endpoint", "arm", "subgroup"), ("time", "survival", "lower", "upper", "at_risk")
)
KM = ResultFile(
    "km.csv",
    ("endpoint", "arm", "subgroup", "statistic", "ci_method"),
    ("time", "estimate", "lower", "upper", "n", "events"),
)
COX = ResultFile(
    "cox.csv",
    TERM_KEYS,
    ("n", "events", "coef", "se", "hr", "hr_lower", "hr_upper", "p"),
    unique=TERM_KEYS,
)
BAYES = ResultFile(
    "bayes.csv",
    TERM_KEYS,
    ("mean", "sd", "hr_mean", "hr_lower", "hr_upper", "prob_hr_below_1", "r_hat", "ess_bulk"),
    flags=("converged",),
    unique=TERM_KEYS,
)


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` says about how the results were made."""

    version: str
    config_hash: str
    seed: int | None
    config_json: str
    commands: tuple[str, ...]


@dataclass(frozen=True)
class Results:
    """The contents of a result folder; None for each file that is absent.

    Flag columns (``bayes.converged``) hold 1.0 (true), 0.0 (false) or NaN (blank).
    """

    name: str
    run: RunInfo | None
    cohort: pd.DataFrame | None
    exclusions: pd.DataFrame | None
    km_curves: pd.DataFrame | None
    km: pd.DataFrame | None
    cox: pd.DataFrame | None
    bayes: pd.DataFrame | None


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
    return Results(
        name=result_dir.resolve().name,
        run=read_run(result_dir / "run.json"),
        cohort=read_result_csv(result_dir, COHORT),
        exclusions=read_result_csv(result_dir, EXCLUSIONS),
        km_curves=read_result_csv(result_dir, KM_CURVES),
        km=read_result_csv(result_dir, KM),
        cox=read_result_csv(result_dir, COX),
        bayes=read_result_csv(result_dir, BAYES),
    )


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
    missing = [column for column in spec.columns if column not in frame.columns]
    if missing:
        raise InputError(
            f"file '{path}' has no column(s) {', '.join(missing)}; its columns are: "
            f"{', '.join(map(str, frame.columns))}. Rerun the analysis that writes it, or remove the file."
        )
    for column in spec.numbers:
        frame[column] = _numbers(frame[column], path, column)
    for column in spec.flags:
        frame[column] = _flags(frame[column], path, column)
    _require_unique(frame, spec, path)
    return frame


def read_run(path: Path) -> RunInfo | None:
    """Read ``run.json``; None if absent. Missing fields are shown as blanks."""
    if not path.is_file():
        return None
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"file '{path}' is not valid JSON ({error}); rerun the analysis to rewrite it.") from error
    if not isinstance(run, dict):
        raise InputError(f"file '{path}' should hold a JSON object; rerun the analysis to rewrite it.")
    commands = run.get("commands") or []
    return RunInfo(
        version=str(run.get("tmesurv_version", "")),
        config_hash=str(run.get("config_hash", "")),
        seed=run.get("seed"),
        config_json=json.dumps(run.get("config", {}), indent=2, sort_keys=True, ensure_ascii=False),
        commands=tuple(_command_text(command) for command in commands),
    )


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
    if not spec.unique:
        return
    duplicated = frame.duplicated(list(spec.unique), keep=False).to_numpy()
    if duplicated.any():
        raise InputError(
            f"file '{path}', {describe_rows(_csv_rows(duplicated))}: the same {', '.join(spec.unique)} appears "
            "more than once; each may appear once."
        )


def _command_text(command: object) -> str:
    if isinstance(command, list | tuple):
        return " ".join(map(str, command))
    return str(command)
