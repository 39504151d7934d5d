"""Read a result folder: which result files are there, checked against the columns the report needs.

Each file is optional. A file of ``tmesurv cox`` or ``tmesurv bayes`` that is present but malformed (missing
columns, text in a numeric column, a duplicated key, a run.json that is not JSON) is an
:class:`~tmesurv.errors.InputError` naming file, column and rows. The files of ``tmesurv validate`` and
``tmesurv power`` are read leniently: without the columns their section needs, the section is left out and the
report says why (:attr:`Results.notes`). Figures are the PNG files of ``figures/`` and of the folder itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    optional_numbers: tuple[str, ...] = ()
    optional_text: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the report needs, in contract order."""
        return self.text + self.numbers + self.flags

    @property
    def all_text(self) -> tuple[str, ...]:
        """Required and optional text columns."""
        return self.text + self.optional_text

    @property
    def all_numbers(self) -> tuple[str, ...]:
        """Required and optional number columns."""
        return self.numbers + self.optional_numbers


COHORT = ResultFile("cohort.csv", ("arm",), ("patients", "events", "median_follow_up"), unique=("arm",))
EXCLUSIONS = ResultFile("exclusions.csv", ("analysis", "reason", "ids"), ("count",), optional_text=("unit",))
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
    optional_numbers=("n_treated", "events_treated", "n_control", "events_control"),
)
BAYES = ResultFile(
    "bayes.csv",
    TERM_KEYS,
    ("mean", "sd", "hr_mean", "hr_lower", "hr_upper", "prob_hr_below_1", "r_hat", "ess_bulk"),
    flags=("converged",),
    unique=TERM_KEYS,
    optional_numbers=("ess_tail", "bfmi_min", "divergences"),
)
INTERACTIONS = ResultFile(
    "interactions.csv",
    ("endpoint", "grouping", "scale"),
    ("wald_p", "lrt_p"),
    unique=("endpoint", "grouping", "scale"),
    optional_numbers=("n", "events", "df", "wald_chisq", "lrt_chisq"),
    optional_text=("rule",),
)
BAYES_CURVES = ResultFile("bayes_curves.csv", ("endpoint", "arm", "subgroup"), ("time", "survival", "lower", "upper"))
BAYES_SURVIVAL = ResultFile(
    "bayes_survival.csv", ("endpoint", "subgroup", "arm", "statistic"), ("time", "estimate", "lower", "upper")
)
BAYES_HR_CURVE = ResultFile(
    "bayes_hr_curve.csv",
    ("endpoint", "biomarker"),
    ("value", "hr", "lower", "upper"),
    flags=("converged",),
    unique=("endpoint", "biomarker", "value"),
    optional_numbers=("prob_hr_below_1", "divergences"),
)
BAYES_SCREEN = ResultFile(
    "bayes_screen.csv",
    ("endpoint", "biomarker"),
    ("mean", "sd", "hr_mean", "hr_lower", "hr_upper", "prob_hr_below_1", "r_hat", "ess_bulk", "divergences"),
    flags=("converged",),
    unique=("endpoint", "biomarker"),
    optional_numbers=("n", "events", "biomarker_sd", "kappa", "ess_tail", "bfmi_min", "max_treedepth"),
    optional_text=("shrinkage",),
)
BAYES_TIME_VARYING = ResultFile(
    "bayes_time_varying.csv",
    ("endpoint", "analysis", "subgroup"),
    ("interval", "start", "end", "events", "mean", "hr_mean", "hr_lower", "hr_upper", "prob_hr_below_1", "r_hat"),
    flags=("converged",),
    unique=("endpoint", "analysis", "subgroup", "interval"),
    optional_numbers=("sd", "ess_bulk", "ess_tail", "divergences"),
)
BAYES_PRIOR_PREDICTIVE = ResultFile(
    "bayes_prior_predictive.csv",
    ("endpoint", "statistic", "arm"),
    ("estimate", "lower", "upper"),
    optional_numbers=("time", "observed", "prob_below_observed"),
)
BIOMARKERS = ResultFile(
    "biomarkers.csv",
    ("biomarker",),
    ("q1", "q3", "iqr"),
    flags=("two_level",),
    unique=("biomarker",),
    optional_numbers=("n", "median"),
)
VALIDATION = ResultFile(
    "validation.csv",
    ("metric",),
    ("estimate",),
    optional_numbers=("horizon", "lower", "upper", "n", "events"),
    optional_text=("model", "group", "note"),
)
POWER_SETTINGS = ("design", "n", "interaction_hr", "prognostic_hr", "prevalence", "follow_up", "dropout_per_year")
POWER = ResultFile(
    "power.csv",
    ("method",),
    ("power",),
    optional_numbers=(
        "n",
        "interaction_hr",
        "prognostic_hr",
        "prevalence",
        "follow_up",
        "dropout_per_year",
        "power_mcse",
        "mean_events",
        "analytic_power",
        "failed_share",
        "flagged_share",
    ),
    optional_text=("design",),
)
PRODUCT_ASSOCIATIONS = ResultFile(
    "product_associations.csv",
    ("attribute", "outcome"),
    (
        "n",
        "events",
        "median_with",
        "median_without",
        "wilcoxon_p",
        "wilcoxon_q",
        "iqr",
        "or_per_iqr",
        "or_per_iqr_lower",
        "or_per_iqr_upper",
        "logistic_p",
        "logistic_q",
    ),
    unique=("attribute", "outcome"),
    optional_numbers=("wilcoxon_w", "coef", "se", "odds_ratio", "or_lower", "or_upper"),
    optional_text=("wilcoxon_method", "note"),
)
PRODUCT_SUBGROUPS = ResultFile(
    "product_subgroups.csv",
    ("endpoint", "attribute", "biomarker", "group", "statistic", "rule"),
    ("n", "events", "time", "estimate", "lower", "upper", "df", "p"),
    unique=("endpoint", "attribute", "biomarker", "group", "statistic", "time"),
)
FIGURE_FOLDER = "figures"


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` says about how the results were made."""

    version: str
    config_hash: str
    seed: int | None
    config: dict
    config_json: str
    commands: tuple[str, ...]


@dataclass(frozen=True)
class Results:
    """The contents of a result folder; None for each file that is absent.

    Flag columns (``bayes.converged``) hold 1.0 (true), 0.0 (false) or NaN (blank); optional columns absent from
    a file are there as blanks. ``figures`` maps a PNG's file name (without suffix) to its path; ``notes`` say which
    present files the report could not use, and why.
    """

    name: str
    run: RunInfo | None
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
    biomarkers: pd.DataFrame | None = None
    validation: pd.DataFrame | None = None
    power: pd.DataFrame | None = None
    product_associations: pd.DataFrame | None = None
    product_subgroups: pd.DataFrame | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


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
    notes: list[str] = []
    return Results(
        name=result_dir.resolve().name,
        run=read_run(result_dir / "run.json"),
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
        biomarkers=read_result_csv(result_dir, BIOMARKERS),
        validation=read_lenient_csv(result_dir, VALIDATION, notes),
        power=read_lenient_csv(result_dir, POWER, notes),
        product_associations=read_result_csv(result_dir, PRODUCT_ASSOCIATIONS),
        product_subgroups=read_result_csv(result_dir, PRODUCT_SUBGROUPS),
        figures=find_figures(result_dir),
        notes=tuple(notes),
    )


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
    frame = frame.dropna(subset=list(spec.numbers)).reset_index(drop=True)
    if frame.empty:
        notes.append(f"{spec.name} is left out: it has no rows with a value in {', '.join(spec.numbers)}.")
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
    missing = [column for column in spec.columns if column not in frame.columns]
    if missing:
        raise InputError(
            f"file '{path}' has no column(s) {', '.join(missing)}; its columns are: "
            f"{', '.join(map(str, frame.columns))}. Rerun the analysis that writes it, or remove the file."
        )
    for column in spec.optional_numbers + spec.optional_text:
        if column not in frame.columns:
            frame[column] = np.nan
    for column in spec.all_numbers:
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
        config=run.get("config") if isinstance(run.get("config"), dict) else {},
        config_json=json.dumps(run.get("config", {}), indent=2, sort_keys=True, ensure_ascii=False),
        commands=tuple(_command_text(command) for command in commands),
    )


def _read_csv(path: Path, spec: ResultFile) -> pd.DataFrame:
    na_values = {column: list(NUMBER_NA) for column in spec.all_numbers} | {
        column: [""] for column in spec.all_text + spec.flags
    }
    try:
        return pd.read_csv(
            path,
            dtype={column: str for column in spec.all_text + spec.flags},
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
