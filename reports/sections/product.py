"""CAR T product section: attribute x outcome associations and attribute x biomarker subgroups.

CAR T product section: attribute x outcome associations (``product_associations.csv``) and attribute x biomarker
subgroups with their Kaplan-Meier figures (``product_subgroups.csv``, ``figures/km_product_*``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmesurv.arms import TREATED
from tmesurv.models.product.analyses import LEVELS, REFERENCE
from tmesurv.reports.format import (
    NOT_REACHED,
    Column,
    Row,
    Table,
    format_count,
    format_interval,
    format_number,
    format_p,
    format_text,
    statistic_label,
)
from tmesurv.reports.graphics import FigureImage, png_file_uri, safe_name, save_figure
from tmesurv.reports.km_plot import km_subgroup_figure
from tmesurv.reports.results import Results
from tmesurv.reports.sections.km import _km_ci

PRODUCT_ALL = "all"  # the group of product_subgroups.csv's log-rank row: every patient of the pair


PRODUCT_ASSOCIATIONS_CAPTION = (
    "Treated arm only: per attribute and outcome, the patients with both known. Median of the attribute in the "
    "patients with and without the outcome, and the Wilcoxon rank-sum test between them with R's rule (wilcox.test: "
    "exact when both groups have fewer than 50 patients and there are no ties, otherwise the normal approximation "
    "with continuity and tie corrections). Univariable logistic regression of the outcome on the attribute: odds "
    "ratio (OR) per interquartile range (IQR, 25th to 75th percentile of the patients in the fit) with its 95% Wald "
    "confidence interval and Wald P. q: Benjamini-Hochberg false discovery rate over the whole table, separately for "
    "the Wilcoxon and the logistic P values."
)


def product_associations_table(associations: pd.DataFrame) -> Table:
    """The treated arm's CAR T product attributes against each binary outcome: Wilcoxon and logistic regression.

    Parameters
    ----------
    associations
        ``product_associations.csv``: ``attribute, outcome, n, events, median_with, median_without, wilcoxon_p,
        wilcoxon_q, iqr, or_per_iqr, or_per_iqr_lower, or_per_iqr_upper, logistic_p, logistic_q, note``
        (``events``: patients with the outcome).

    Returns
    -------
    Table
        One row per attribute x outcome, in file order; a Note column when a fit left a note.
    """
    has_notes = bool(associations["note"].fillna("").astype(str).str.strip().any())
    rows = tuple(_association_row(record, has_notes) for record in associations.to_dict("records"))
    columns = (
        Column("Attribute"),
        Column("Outcome"),
        Column("N", numeric=True),
        Column("With outcome", numeric=True),
        Column("With outcome", numeric=True),
        Column("Without outcome", numeric=True),
        Column("Wilcoxon P", numeric=True),
        Column("Wilcoxon q", numeric=True),
        Column("IQR", numeric=True),
        Column("OR per IQR (95% CI)", numeric=True),
        Column("Logistic P", numeric=True),
        Column("Logistic q", numeric=True),
    ) + ((Column("Note"),) if has_notes else ())
    groups = (("", 2), ("Patients", 2), ("Median of the attribute", 2), ("Wilcoxon rank-sum", 2))
    groups += (("Logistic regression", 4),) + ((("", 1),) if has_notes else ())
    return Table(columns, rows, groups=groups, caption=PRODUCT_ASSOCIATIONS_CAPTION)


def product_subgroup_table(rows: pd.DataFrame, ci_method: str | None = None) -> Table:
    """One attribute x biomarker pair of the treated arm: Kaplan-Meier, Cox and log-rank per group.

    Parameters
    ----------
    rows
        The rows of ``product_subgroups.csv`` of one (endpoint, attribute, biomarker): per group the ``median``
        and landmark ``survival`` rows and ``hr_vs_low/low``; the ``logrank`` row of group ``all``.
    ci_method
        The Kaplan-Meier confidence interval scale (``analysis.km_ci``), stated in the caption when given.

    Returns
    -------
    Table
        The row of all patients of the pair (with the log-rank P), then one row per group in file order.
    """
    landmarks = sorted(set(rows.loc[rows["statistic"] == "survival", "time"].dropna()))
    groups = [str(group) for group in pd.unique(rows["group"].dropna()) if group != PRODUCT_ALL]
    table_rows = [_product_all_row(rows, len(landmarks))]
    table_rows += [_product_group_row(rows[rows["group"] == group], group, landmarks) for group in groups]
    columns = (
        Column("Group"),
        Column("N", numeric=True),
        Column("Events", numeric=True),
        Column("Median, months (95% CI)", numeric=True),
        *(Column(f"{statistic_label('survival', time)} (95% CI)", numeric=True) for time in landmarks),
        Column(f"HR vs {REFERENCE} (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("Log-rank P", numeric=True),
    )
    return Table(columns, tuple(table_rows), caption=_product_subgroup_caption(rows, ci_method))


def _association_row(record: dict, has_notes: bool) -> Row:
    cells = (
        format_text(record["attribute"]),
        format_text(record["outcome"]),
        format_count(record["n"]),
        format_count(record["events"]),
        format_number(record["median_with"], 2),
        format_number(record["median_without"], 2),
        format_p(record["wilcoxon_p"]),
        format_p(record["wilcoxon_q"]),
        format_number(record["iqr"], 2),
        format_interval(record["or_per_iqr"], record["or_per_iqr_lower"], record["or_per_iqr_upper"], digits=2),
        format_p(record["logistic_p"]),
        format_p(record["logistic_q"]),
    )
    return Row(cells + ((format_text(record["note"]),) if has_notes else ()))


def _product_statistic(rows: pd.DataFrame, statistic: str, time: float | None = None) -> dict | None:
    """The row of ``statistic`` (at landmark ``time``), or None when the file has none."""
    chosen = rows[rows["statistic"] == statistic]
    if time is not None:
        chosen = chosen[chosen["time"] == time]
    return None if chosen.empty else chosen.iloc[0].to_dict()


def _product_all_row(rows: pd.DataFrame, n_landmarks: int) -> Row:
    logrank = _product_statistic(rows[rows["group"] == PRODUCT_ALL], "logrank")
    if logrank is None:
        return Row(("All", "", "", "", *([""] * n_landmarks), "", "", ""))
    counts = (format_count(logrank["n"]), format_count(logrank["events"]))
    return Row(("All", *counts, "", *([""] * n_landmarks), "", "", format_p(logrank["p"])))


def _product_group_row(rows: pd.DataFrame, group: str, landmarks: list[float]) -> Row:
    median = _product_statistic(rows, "median")
    survival = [_product_statistic(rows, "survival", time) for time in landmarks]
    hr = _product_statistic(rows, f"hr_vs_{REFERENCE}")
    first = rows.iloc[0]
    cells = (
        group,
        format_count(first["n"]),
        format_count(first["events"]),
        _product_estimate(median, digits=1, missing=NOT_REACHED),
        *(_product_estimate(record, digits=2) for record in survival),
        "reference" if group == REFERENCE else _product_estimate(hr, digits=2, missing="NE"),
        "" if hr is None else format_p(hr["p"]),
        "",
    )
    return Row(cells)


def _product_estimate(record: dict | None, digits: int, missing: str = "") -> str:
    if record is None:
        return ""
    return format_interval(record["estimate"], record["lower"], record["upper"], digits=digits, missing=missing)


def _product_subgroup_caption(rows: pd.DataFrame, ci_method: str | None) -> str:
    first = rows.iloc[0]
    attribute, biomarker, rule = (format_text(first[column]) for column in ("attribute", "biomarker", "rule"))
    scale = f" (Greenwood, {ci_method} scale)" if ci_method else ""
    caption = (
        f"Treated arm, patients with both {attribute} and {biomarker} known, in groups named by the level of "
        f"{attribute}, then of {biomarker}: {rule}. Kaplan-Meier median in months ({NOT_REACHED}: "
        f"not reached) and landmark survival with pointwise 95% confidence intervals{scale}. Cox hazard ratio (Efron "
        f"ties) of each group against {REFERENCE} with its 95% Wald confidence interval and Wald P (NE: not "
        "estimable)."
    )
    logrank = _product_statistic(rows[rows["group"] == PRODUCT_ALL], "logrank")
    if logrank is not None:
        caption += (
            f" Log-rank test across the groups: chi-square {format_number(logrank['estimate'], 2)} on "
            f"{format_count(logrank['df'])} df."
        )
    return caption


FIGURE_PREFIX = "km_product_"


def figure_stem(name: str) -> str:
    """The file stem of the figure of grouping ``name`` (``attribute/biomarker``): ``km_product_<safe name>``.

    A name with characters beyond letters, digits, ``_`` and the ``/`` between the two columns gets 8 hex digits of
    its SHA-1 appended, so that columns such as ``CCR7+CD45RA-`` and ``CCR7-CD45RA+`` keep figures of their own.
    """
    stem = FIGURE_PREFIX + safe_name(name)
    if re.fullmatch(r"[A-Za-z0-9_]+/[A-Za-z0-9_]+", name):
        return stem
    return f"{stem}_{hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]}"


def write_product_figures(
    out_dir: Path, curves: Mapping[str, pd.DataFrame], endpoint: str, arm_name: str = TREATED
) -> list[Path]:
    """Draw ``figures/km_product_<attribute>_<biomarker>`` (PNG and SVG) for every product subgroup pair.

    Parameters
    ----------
    out_dir
        The result folder.
    curves
        Grouping name (``attribute/biomarker``) -> step curves with ``endpoint, arm, subgroup, time, survival,
        lower, upper, at_risk`` (:attr:`tmesurv.models.product.analyses.ProductResults.curves`).
    endpoint
        The endpoint drawn.
    arm_name
        Display name of the treated arm (data.arm.treated).

    Returns
    -------
    list[pathlib.Path]
        The files written.
    """
    written: list[Path] = []
    levels = [f"{a}/{b}" for a in LEVELS for b in LEVELS]
    for name, rows in curves.items():
        figure = km_subgroup_figure(rows, endpoint, name, {TREATED: arm_name}, levels=levels)
        written += save_figure(figure, out_dir / "figures" / figure_stem(name))
    return written


@dataclass(frozen=True)
class ProductPair:
    """One product attribute x biomarker pair: heading, subgroup table and Kaplan-Meier figure (None if absent)."""

    heading: str
    table: Table
    image: FigureImage | None


@dataclass(frozen=True)
class ProductSection:
    """The CAR T product and PK analyses of the treated arm; either part may be absent."""

    associations: Table | None
    pairs: tuple[ProductPair, ...]


def product_section(results: Results) -> ProductSection | None:
    """The CAR T product and PK analyses of ``tmesurv cox``: ``product_associations.csv``, ``product_subgroups.csv``.

    Each attribute x biomarker pair of the subgroups gets its table and its Kaplan-Meier figure from
    ``figures/km_product_*.png`` (figures of pairs not in the table, e.g. of an earlier run, are not shown).
    """
    associations, subgroups = results.product_associations, results.product_subgroups
    if associations is None and subgroups is None:
        return None
    return ProductSection(
        associations=None if associations is None else product_associations_table(associations),
        pairs=() if subgroups is None else _product_pairs(results, subgroups),
    )


def _product_pairs(results: Results, subgroups: pd.DataFrame) -> tuple[ProductPair, ...]:
    pairs = []
    ci_method = _km_ci(results.run)
    keys = ["endpoint", "attribute", "biomarker"]
    for (endpoint, attribute, biomarker), rows in subgroups.groupby(keys, sort=False, dropna=False):
        path = results.figures.get(figure_stem(f"{attribute}/{biomarker}"))
        source = None if path is None else png_file_uri(path)
        alt = (
            f"Kaplan-Meier curves of {endpoint} in the treated arm by {attribute} and {biomarker} group (low/low, "
            "low/high, high/low, high/high; line style per group, no confidence bands), numbers at risk below."
        )
        image = None if source is None else FigureImage(source, alt)
        heading = f"{endpoint} by {attribute} and {biomarker} group"
        pairs.append(ProductPair(heading, product_subgroup_table(rows, ci_method), image))
    return tuple(pairs)
