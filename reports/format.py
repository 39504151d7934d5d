"""Text formatting of report tables: numbers, P values, intervals, hazard ratios, arm labels; the table types."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tmesurv.outputs.files import COX
from tmesurv.outputs.run_record import RunRecord

P_FLOOR = 0.001


NOT_REACHED = "NR"


NOT_CONVERGED = "not converged"


CONVERGED = "converged"


NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Column:
    """A table column: header text, right-aligned if numeric, shown as a warning badge if ``badge``."""

    label: str
    numeric: bool = False
    badge: bool = False


@dataclass(frozen=True)
class Row:
    """One table row of formatted cells; ``flagged`` rows are highlighted, ``header`` rows head a group of rows."""

    cells: tuple[str, ...]
    flagged: bool = False
    header: bool = False


@dataclass(frozen=True)
class Table:
    """A table for the template: columns, rows, optional grouped header ``(label, span)`` and caption."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    groups: tuple[tuple[str, int], ...] = ()
    caption: str = ""
    empty_text: str = "No rows."


@dataclass(frozen=True)
class TermScale:
    """How a biomarker's hazard ratios are stated: per ``factor`` units (its IQR, or 1), named by ``label``."""

    factor: float
    label: str


PER_UNIT = TermScale(1.0, "per unit")


def term_scales(biomarkers: pd.DataFrame | None) -> dict[str, TermScale]:
    """Per biomarker of ``biomarkers.csv``: per IQR ``(q1-q3)`` when continuous, ``1 vs 0`` when two-level.

    A biomarker not in the file (or with an IQR of 0) is stated per unit: :data:`PER_UNIT`.
    """
    if biomarkers is None:
        return {}
    scales = {}
    for row in biomarkers.to_dict("records"):
        if row["two_level"] == 1:
            scales[str(row["biomarker"])] = TermScale(1.0, "1 vs 0")
        elif row["iqr"] > 0:
            scales[str(row["biomarker"])] = TermScale(
                float(row["iqr"]), f"per IQR ({row['q1']:.4g}\u2013{row['q3']:.4g})"
            )
    return scales


def scale_of(row: dict | pd.Series, scales: dict[str, TermScale]) -> TermScale | None:
    """The scale of a biomarker term (``<biomarker>`` or ``arm:<biomarker>`` of an interaction model), else None."""
    if row["analysis"] != "interaction":
        return None
    biomarker = str(row["subgroup"])
    if str(row["term"]) not in (biomarker, f"arm:{biomarker}"):
        return None
    return scales.get(biomarker, PER_UNIT)


def scaled_interval(estimate: object, lower: object, upper: object, factor: float) -> str:
    """A hazard ratio and its bounds raised to ``factor``: ``exp(factor * log HR)``, exact for every bound."""
    return format_interval(*(float(value) ** factor for value in (estimate, lower, upper)), digits=2)


def format_posterior_hr(mean_log_hr: object, hr_lower: object, hr_upper: object, factor: float = 1.0) -> str:
    """The Bayesian hazard ratio cell: exp(posterior mean log HR) with its 95% credible interval.

    Parameters
    ----------
    mean_log_hr
        The posterior mean of the log hazard ratio (the point is
        :func:`~tmesurv.reports.forest.hr_at_posterior_mean`).
    hr_lower, hr_upper
        The 95% equal-tailed credible interval of the hazard ratio.
    factor
        The point and both bounds are raised to this power (see :func:`scaled_interval`); 1 leaves them as they are.

    Returns
    -------
    str
        ``"0.61 (0.43-0.86)"`` (en dash), ``""`` when the mean is missing.
    """
    return scaled_interval(float(hr_at_posterior_mean(mean_log_hr)), hr_lower, hr_upper, factor)


def format_mean_sd(mean: object, sd: object, digits: int = 3) -> str:
    """Format a posterior ``"mean (SD)"`` to ``digits`` decimals; a missing part is blank."""
    return f"{format_number(mean, digits)} ({format_number(sd, digits)})"


def failed_diagnostics(converged: object) -> bool:
    """Whether a row's ``converged`` flag says its fit failed the diagnostics: 0 (false); 1 or blank do not."""
    return bool(converged == 0)


def diagnostics_badge(converged: object) -> str:
    """The Diagnostics cell of a Bayesian row: :data:`NOT_CONVERGED` when its fit failed, else blank."""
    return NOT_CONVERGED if failed_diagnostics(converged) else ""


def fit_status(converged: pd.Series) -> str:
    """The convergence status of one Bayesian fit from the ``converged`` flags of its rows.

    Parameters
    ----------
    converged
        The flags: 1.0 (true), 0.0 (false) or NaN (not recorded).

    Returns
    -------
    str
        :data:`NOT_CONVERGED` when any flag is false, :data:`CONVERGED` when every flag is true, else
        :data:`NOT_RECORDED`. Only :data:`CONVERGED` means the fit may be read as converged.
    """
    if (converged == 0).any():
        return NOT_CONVERGED
    return CONVERGED if (converged == 1).all() else NOT_RECORDED


def arm_label(arm: object, arm_names: Mapping[str, str] | None, role: bool = True) -> str:
    """An arm as shown: its name in the data (from :func:`arm_names`), else the arm value.

    With ``role`` (tables), the role follows a name that differs from it: ``axi-cel (treated)``; without it (figure
    legends and titles), the name alone: ``axi-cel``.
    """
    name = (arm_names or {}).get(str(arm))
    if not name or name == str(arm):
        return str(arm)
    return f"{name} ({arm})" if role else name


def format_text(value: object) -> str:
    """Format ``value`` as text, or ``""`` if missing."""
    return "" if pd.isna(value) else str(value)


def format_number(value: object, digits: int) -> str:
    """Format ``value`` to ``digits`` decimals, or ``""`` if missing."""
    return "" if pd.isna(value) else f"{float(value):.{digits}f}"


def format_count(value: object) -> str:
    """Format a whole number with thousands separators, or ``""`` if missing."""
    return "" if pd.isna(value) else f"{round(float(value)):,}"


def format_interval(estimate: object, lower: object, upper: object, digits: int, missing: str = "") -> str:
    """Format ``"estimate (lower-upper)"`` with an en dash; missing parts shown as ``missing``.

    Returns ``""`` when the estimate is missing and ``missing`` is empty, and the bare estimate when both
    bounds are missing.
    """
    point = format_number(estimate, digits) or missing
    if not point:
        return ""
    if pd.isna(lower) and pd.isna(upper):
        return point
    low, high = (format_number(bound, digits) or missing for bound in (lower, upper))
    return f"{point} ({low}\u2013{high})"


def format_p(p: object) -> str:
    """Format a P value to 3 significant digits, ``<0.001`` below that, ``""`` if missing."""
    if pd.isna(p):
        return ""
    return f"<{P_FLOOR:g}" if float(p) < P_FLOOR else f"{float(p):.3g}"


def format_probability(probability: object) -> str:
    """Format a posterior probability to 2 decimals, ``<0.01``/``>0.99`` at the extremes, ``""`` if missing."""
    if pd.isna(probability):
        return ""
    value = float(probability)
    if value < 0.005:
        return "<0.01"
    return ">0.99" if value > 0.995 else f"{value:.2f}"


def statistic_label(statistic: str, time: object) -> str:
    """A survival statistic's row label: ``Median (months)``, ``Survival at 12 months``, ``RMST to 24 months``."""
    if statistic == "median":
        return "Median (months)"
    if statistic == "survival" and not pd.isna(time):
        return f"Survival at {float(time):g} months"
    if statistic == "rmst" and not pd.isna(time):
        return f"RMST to {float(time):g} months (months)"
    return str(statistic)


def _prefixed(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    keys = frame[list(COX.keys)].fillna("").astype(str)
    values = frame.drop(columns=list(COX.keys)).add_prefix(f"{prefix}_")
    return pd.concat([keys, values], axis=1).assign(**{f"{prefix}_present": 1.0})


def join_on_terms(frames: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Outer-join result frames on the keys of cox.csv, keeping first-seen key order.

    Parameters
    ----------
    frames
        Prefix -> frame (None to skip). Non-key columns come out as ``{prefix}_{column}``, plus a
        ``{prefix}_present`` column that is NaN where the frame has no row for the key.

    Returns
    -------
    pandas.DataFrame
        One row per distinct key; blank keys are empty strings.
    """
    keyed = [_prefixed(frame, prefix) for prefix, frame in frames.items() if frame is not None]
    joined = pd.concat([frame[list(COX.keys)] for frame in keyed], ignore_index=True).drop_duplicates()
    for frame in keyed:
        joined = joined.merge(frame, on=list(COX.keys), how="left")
    return joined


def arm_names(run: RunRecord | None) -> dict[str, str]:
    """Display names of the arms (``treated``/``control`` -> the data's labels, from ``data.arm``); may be empty."""
    return {} if run is None else run.arm_names


NOT_ESTIMABLE = "not estimable"


OVERALL = "All patients"


def hr_at_posterior_mean(mean_log_hr: npt.ArrayLike) -> np.ndarray:
    """The Bayesian point estimate of a hazard ratio: exp(posterior mean log HR), as Cox's is exp(beta).

    The one definition the report uses in every table and figure; the 95% credible interval is the equal-tailed
    one of the HR (``hr_lower``, ``hr_upper``), whose bounds are those of the log HR, exponentiated.

    Parameters
    ----------
    mean_log_hr
        The posterior mean of the log hazard ratio: the ``mean`` column of ``bayes.csv``, ``bayes_screen.csv`` or
        ``bayes_time_varying.csv`` (not ``hr_mean``, the posterior mean of the HR itself, which is never smaller).

    Returns
    -------
    numpy.ndarray
        The hazard ratios, shaped like ``mean_log_hr`` (0-dimensional for a number).
    """
    return np.exp(np.asarray(mean_log_hr, dtype=float))


def split_subgroup(subgroup: str, groupings: Collection[str] = ()) -> tuple[str, str]:
    """The grouping a result-table subgroup belongs to, and its level label.

    Parameters
    ----------
    subgroup
        ``b_cell_ges=high``, ``cd19_hscore=low & sii=high``, ``not (cd19_hscore=low & sii=high)``, ...
    groupings
        Known grouping names (from ``interactions.csv``); they settle a combined subgroup of one condition.

    Returns
    -------
    tuple[str, str]
        For example ``("b_cell_ges", "high")`` or ``("cd19_hscore=low & sii=high", "in subgroup")``.
    """
    if subgroup.startswith("not (") and subgroup.endswith(")"):
        return subgroup[5:-1], NOT_IN_SUBGROUP
    if subgroup in groupings or is_combined_subgroup(subgroup):
        return subgroup, IN_SUBGROUP
    name, found, level = subgroup.partition("=")
    return (name, level) if found else (subgroup, subgroup)


IN_SUBGROUP, NOT_IN_SUBGROUP = "in subgroup", "not in subgroup"  # levels of a combined subgroup


def subgroup_level(subgroup: str, grouping: str) -> str | None:
    """The level label of a result-table subgroup within ``grouping``, or None if it is not one of its levels.

    ``b_cell_ges=high`` is level ``high`` of ``b_cell_ges``; the combined subgroup ``cd19_hscore=low & sii=high``
    and its complement ``not (cd19_hscore=low & sii=high)`` are levels :data:`IN_SUBGROUP` and
    :data:`NOT_IN_SUBGROUP` of the grouping ``cd19_hscore=low & sii=high``.
    """
    if subgroup == grouping:
        return IN_SUBGROUP
    if subgroup == f"not ({grouping})":
        return NOT_IN_SUBGROUP
    prefix = f"{grouping}="
    if subgroup.startswith(prefix) and not is_combined_subgroup(subgroup):
        return subgroup[len(prefix) :]
    return None


def is_combined_subgroup(subgroup: str) -> bool:
    """Whether a subgroup label names a combination of conditions (``a=x & b=y``) or its complement."""
    inner = subgroup[5:-1] if subgroup.startswith("not (") and subgroup.endswith(")") else subgroup
    parts = inner.split(" & ")
    return len(parts) > 1 and all("=" in part for part in parts)


def in_order(found: Sequence[str], order: Sequence[str] | None) -> list[str]:
    """The distinct values of ``found``: those in ``order`` first, in that order, then the others as they appear."""
    present = list(dict.fromkeys(found))
    given = [value for value in order or () if value in present]
    return given + [value for value in present if value not in given]
