"""A target population resampled from a reference cohort (``population: {file: ...}`` in a validation-size study).

Riley et al. (2022) draw the validation cohorts from the population the model will be used in. When that population
is known through a cohort (a registry extract, the intended centre's patients), its covariates are resampled by a
smoothed bootstrap (Silverman 1986, section 6.4.1): a patient is drawn at random and each continuous term gets Gaussian
noise of bandwidth ``h = 0.9 min(SD, IQR/1.34) m^(-1/5)`` (``m`` patients; R's ``bw.nrd0``), shrunk so that the
resampled values keep the cohort's mean and variance: ``mean + (x + h e - mean) / sqrt(1 + h^2 / var)`` (``var`` with
divisor ``m``: the variance an ordinary bootstrap reproduces). The smoothing gives new patients rather than copies; the
shrinkage keeps the case mix (the spread of the linear predictor, on which the precision of C and of the slope
depends) that of the cohort. Terms with at most ``DISCRETE_LEVELS`` integer values (binary flags, grades) are resampled
as they are: noise would create values no patient can have.

Patients with a missing term are excluded and counted (the results' ``population`` attribute says how many, per term);
a non-numeric value is an error naming the file, column and row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.errors import InputError

DISCRETE_LEVELS = 10
"""Integer-valued terms with at most this many distinct values are resampled without smoothing."""


@dataclass(frozen=True)
class ReferenceCohort:
    """The reference cohort's complete patients: their terms, their arm (None: not given) and the exclusions."""

    terms: dict[str, np.ndarray]
    treated: np.ndarray | None
    patients: int
    excluded: dict[str, int]

    def describe(self, path: Path, size: int) -> str:
        """One sentence for the study's notes: the file, the patients used and excluded, the resampled size."""
        used = self.patients - sum(self.excluded.values())
        missing = ", ".join(f"{count} missing {term}" for term, count in self.excluded.items() if count)
        excluded = f"; {sum(self.excluded.values())} excluded ({missing})" if missing else ""
        return (
            f"reference cohort {path.name}: {used} of {self.patients} patients{excluded}; resampled by a smoothed "
            f"bootstrap (mean and variance kept) to {size} patients"
        )


def read_reference_cohort(
    path: Path, terms: list[str], arm: str | None = None, treated: str | int | None = None
) -> ReferenceCohort:
    """The complete patients of a reference cohort CSV (see the module docstring).

    Parameters
    ----------
    path
        The CSV, one row per patient.
    terms
        The model's terms: numeric columns.
    arm, treated
        The arm column and its treated value (both or neither).

    Raises
    ------
    InputError
        If the file cannot be read, lacks a column, has a non-numeric term value (the row is named) or an arm value
        that is not ``treated`` nor the one other value, or has no complete patient.
    """
    frame = _read(path)
    missing = [column for column in [*terms, *([arm] if arm else [])] if column not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: column(s) {', '.join(missing)} not found; the reference cohort needs the model's terms"
            f"{' and its arm column' if arm else ''} (found: {', '.join(map(str, frame.columns))})"
        )
    values = {term: _numeric(frame[term], path, term) for term in terms}
    complete = np.logical_and.reduce([np.isfinite(column) for column in values.values()])
    excluded, seen = {}, np.ones(len(frame), dtype=bool)
    for term, column in values.items():  # each excluded patient counted once, under the first missing term
        excluded[term] = int((seen & ~np.isfinite(column)).sum())
        seen &= np.isfinite(column)
    if not complete.any():
        raise InputError(f"{path}: no patient has every term ({', '.join(terms)}); the population would be empty")
    arms = None if arm is None else _treated(frame[arm], path, arm, None if treated is None else str(treated))
    return ReferenceCohort(
        terms={term: column[complete] for term, column in values.items()},
        treated=None if arms is None else arms[complete],
        patients=len(frame),
        excluded=excluded,
    )


def smoothed_bootstrap(values: np.ndarray, rows: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """``values`` resampled at ``rows`` with standard-normal ``noise`` (same shape; see the module docstring).

    Discrete terms (at most ``DISCRETE_LEVELS`` integer values) and constant ones are returned unsmoothed.
    """
    drawn = values[rows]
    distinct = np.unique(values)
    variance = values.var()  # of the cohort as a distribution (ddof 0): the resample's expected variance
    if variance == 0 or (distinct.size <= DISCRETE_LEVELS and np.all(distinct == np.round(distinct))):
        return drawn
    h = bandwidth(values)
    mean = values.mean()
    return mean + (drawn + h * noise - mean) / np.sqrt(1 + h**2 / variance)


def bandwidth(values: np.ndarray) -> float:
    """Silverman's rule of thumb, R's ``bw.nrd0``: ``0.9 min(SD, IQR / 1.34) m^(-1/5)`` (the SD when the IQR is 0)."""
    sd = values.std(ddof=1)
    q1, q3 = np.quantile(values, [0.25, 0.75])
    spread = min(sd, (q3 - q1) / 1.34) if q3 > q1 else sd
    return 0.9 * spread * values.size ** (-0.2)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: reference cohort file not found; give 'population.file' relative to the study")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable CSV ({error}); export the reference cohort as CSV") from None


def _numeric(column: pd.Series, path: Path, name: str) -> np.ndarray:
    converted = pd.to_numeric(column, errors="coerce")
    wrong = converted.isna() & column.notna()
    if wrong.any():
        row = int(np.flatnonzero(wrong.to_numpy())[0])
        raise InputError(
            f"{path}: column '{name}', data row {row + 1} (line {row + 2} of the file): value {column.iloc[row]!r} "
            f"is not a number ({int(wrong.sum())} such row(s)); a model term must be numeric"
        )
    return converted.to_numpy(dtype=float)


def _treated(column: pd.Series, path: Path, name: str, treated: str | None) -> np.ndarray:
    labels = column.astype(str)
    levels = sorted(labels[column.notna()].unique())
    if treated is None or treated not in levels or len(levels) > 2 or column.isna().any():
        raise InputError(
            f"{path}: column '{name}' must hold the treated value {treated!r} and one control value on every row "
            f"(found: {', '.join(levels)}{'; missing values' if column.isna().any() else ''}); set 'population.treated'"
        )
    return (labels == treated).to_numpy()
