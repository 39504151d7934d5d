"""External validation section: the metrics of ``tmesurv validate`` (``validation.csv``) and its figures.

The metrics include ICI/E50/E90/Emax; the predicted treatment benefit has a table of its own: per model and horizon
the c-for-benefit, the E-for-benefit (Eavg, E50, E90, as written) and the matching of treated with control patients
that both rest on (:mod:`tmesurv.validation.benefit_matching`). The figures are the calibration plots (bootstrap band,
predicted-risk histogram under each), the decision curves, predicted benefit and survival.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tmesurv.reports.format import Column, Row, Table, format_count, format_interval, format_text
from tmesurv.reports.gallery import Gallery, figure_section
from tmesurv.reports.results import Results
from tmesurv.validation.benefit_matching import E_SUMMARIES, matching_in_note

VALIDATION_PREFIXES = ("calibration", "decision_curve", "benefit", "survival_")  # figures shown in the section
VALIDATION_GALLERY = "Calibration, decision curves, predicted benefit and survival"
C_FOR_BENEFIT = "c_for_benefit"
BENEFIT_METRICS = (C_FOR_BENEFIT, *E_SUMMARIES)  # c-, then E-for-benefit: Eavg, E50, E90
NOT_RECORDED = "not recorded"


def validation_table(validation: pd.DataFrame) -> Table:
    """Every validation metric with its interval, horizon and counts.

    Parameters
    ----------
    validation
        ``validation.csv``: ``metric`` and ``estimate``; optionally ``model, group, horizon, lower, upper, n,
        events, note``.

    Returns
    -------
    Table
        One row per metric, in file order; the model column only when the file names models.
    """
    has_model = validation["model"].notna().any()
    rows = []
    for record in validation.to_dict("records"):
        cells = (
            format_interval(record["estimate"], record["lower"], record["upper"], digits=3),
            "" if pd.isna(record["horizon"]) else f"{float(record['horizon']):g}",
            format_count(record["n"]),
            format_count(record["events"]),
            format_text(record["note"]),
        )
        keys = (format_text(record["metric"]), format_text(record["group"]))
        rows.append(Row(((format_text(record["model"]),) if has_model else ()) + keys + cells))
    columns = (
        *((Column("Model"),) if has_model else ()),
        Column("Metric"),
        Column("Group"),
        Column("Estimate (95% CI)", numeric=True),
        Column("Horizon (months)", numeric=True),
        Column("N", numeric=True),
        Column("Events", numeric=True),
        Column("Note"),
    )
    caption = "Validation of the fitted model on the external cohort, as written by tmesurv validate."
    return Table(columns, tuple(rows), caption=caption)


def benefit_table(validation: pd.DataFrame) -> Table | None:
    """Per model and horizon the c-for-benefit, the E-for-benefit (Eavg, E50, E90) and the matching they rest on.

    Parameters
    ----------
    validation
        ``validation.csv``: its ``c_for_benefit``, ``e_for_benefit``, ``e50_for_benefit`` and ``e90_for_benefit``
        rows; their note names the matching (written by :func:`~tmesurv.validation.benefit_matching.matching_note`).

    Returns
    -------
    Table or None
        One row per (model, horizon), in file order; None without c- or E-for-benefit rows. A metric the file does
        not hold (results of an earlier version) is blank, a matching no note names is "not recorded".
    """
    rows = validation[validation["metric"].isin(BENEFIT_METRICS)]
    if rows.empty:
        return None
    table_rows = []
    keys = [rows["model"].fillna(""), rows["horizon"].fillna(-1.0)]
    for (model, _), group in rows.groupby(keys, sort=False):
        by_metric = {record["metric"]: record for record in group.to_dict("records")}
        estimates = tuple(_estimate(by_metric.get(metric)) for metric in BENEFIT_METRICS)
        first = group.iloc[0]
        matching = next(filter(None, map(matching_in_note, group["note"])), NOT_RECORDED)
        horizon = "" if pd.isna(first["horizon"]) else f"{float(first['horizon']):g}"
        counts = (format_count(first["n"]), format_count(first["events"]))
        table_rows.append(Row((format_text(model), horizon, *estimates, matching, *counts)))
    columns = (
        Column("Model"),
        Column("Horizon (months)", numeric=True),
        Column("c-for-benefit (95% CI)", numeric=True),
        Column("E-for-benefit, Eavg (95% CI)", numeric=True),
        Column("E50 (95% CI)", numeric=True),
        Column("E90 (95% CI)", numeric=True),
        Column("Matching"),
        Column("N", numeric=True),
        Column("Events", numeric=True),
    )
    caption = (
        "Predicted treatment benefit at each horizon, from pairs of a treated and a control patient matched on "
        "predicted benefit (the matching named in the table: rank matching is deterministic; van Klaveren's random "
        "matching is averaged over seeded matchings). c-for-benefit: how often, of two pairs with different observed "
        "benefit, the pair with the larger observed benefit has the larger predicted benefit (0.5: no "
        "discrimination). E-for-benefit: the mean (Eavg), median (E50) and 90th percentile (E90) of the absolute "
        "difference between the pairs' predicted benefit and their observed benefit smoothed on it (loess); 0 is "
        "perfect calibration of benefit. Metrics as written by tmesurv validate (validation.csv); the benefit "
        "figures below show the c-for-benefit."
    )
    return Table(columns, tuple(table_rows), caption=caption)


def _estimate(record: dict | None) -> str:
    return "" if record is None else format_interval(record["estimate"], record["lower"], record["upper"], digits=3)


@dataclass(frozen=True)
class ValidationSection:
    """The metrics, the predicted-benefit table (c- and E-for-benefit with their matching), and the figures."""

    table: Table | None
    benefit: Table | None
    galleries: tuple[Gallery, ...]


def validation_section(results: Results) -> ValidationSection | None:
    """The section: its tables and figures; None without them."""
    shown = figure_section(results, validation_table, results.validation, VALIDATION_PREFIXES, VALIDATION_GALLERY)
    if shown is None:
        return None
    benefit = None if results.validation is None else benefit_table(results.validation)
    return ValidationSection(shown.table, benefit, shown.galleries)
