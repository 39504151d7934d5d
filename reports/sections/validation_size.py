"""Validation-size section: how large an external validation cohort must be (``validation_size.csv``, ``_n.csv``).

A table of the chosen n per calibration setting, a table of the precision per cohort size and metric (mean CI width,
P(width meets the target), SD across cohorts, P(CI excludes the perfect value)), and the figure of mean CI width
against n per metric with the targets drawn (dashed) and the chosen n marked (dotted), drawn from the CSV by
:func:`tmesurv.simulations.validation_size.summary.width_figure` (the figure ``tmesurv power`` writes).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from tmesurv.reports.format import Column, Row, Table, format_number, format_text
from tmesurv.reports.graphics import FigureImage, png_data_uri
from tmesurv.reports.results import Results

MAX_ROWS = 200


@dataclass(frozen=True)
class ValidationSizeSection:
    """The chosen n, the precision table and the CI-width figure."""

    choice: Table
    table: Table
    figure: FigureImage


def choice_table(choices: pd.DataFrame) -> Table:
    """The smallest n meeting every target, per (true calibration slope, true O/E)."""
    rows = [
        Row((f"{r.calibration_slope:g}", f"{r.oe:g}", "none in the grid" if pd.isna(r.chosen_n) else f"{r.chosen_n:g}"))
        for r in choices.itertuples()
    ]
    first = choices.iloc[0]
    caption = (
        f"Smallest validation cohort of the grid meeting every target ({first['targets']}) in at least "
        f"{first['target_probability']:.0%} of simulated cohorts."
    )
    if "population" in choices and pd.notna(first["population"]):
        caption += f" Target population: {first['population']}."
    columns = (Column("True calibration slope", True), Column("True O/E", True), Column("Chosen n", True))
    return Table(columns, tuple(rows), caption=caption)


def precision_table(table: pd.DataFrame) -> Table:
    """Per setting and metric: mean estimate, SD, mean CI width, P(width meets target), P(CI excludes perfect)."""
    rows = []
    for r in table.head(MAX_ROWS).itertuples():
        rows.append(
            Row(
                (
                    f"{r.n:g}", f"{r.calibration_slope:g}", f"{r.oe:g}", format_text(r.metric),
                    format_number(r.mean_estimate, 3), format_number(r.sd_estimate, 3),
                    format_number(r.mean_ci_width, 3), format_number(r.target_width, 3),
                    format_number(r.p_target, 3), format_number(r.p_detect, 3),
                    format_number(r.mean_events_at_horizon, 1),
                )
            )
        )  # fmt: skip
    labels = ("n", "Slope", "O/E", "Metric", "Mean", "SD", "Mean CI width", "Target width", "P(width <= target)")
    columns = tuple(Column(label, label != "Metric") for label in (*labels, "P(CI excludes perfect)", "Events"))
    caption = (
        "Precision of each metric over simulated validation cohorts (tmesurv power, kind validation_size); events "
        "by the horizon. 'Perfect' is slope 1, O/E 1, C 0.5, IPA 0: at a true slope of 1 its share is the type I "
        "error, at 0.8 what a cohort of that size detects."
    )
    if len(table) > MAX_ROWS:
        caption += f" First {MAX_ROWS} of {len(table)} rows; all are in validation_size.csv."
    return Table(columns, tuple(rows), caption=caption)


def validation_size_figure(table: pd.DataFrame, choices: pd.DataFrame) -> Figure:
    """Mean CI width against n per metric, targets dashed, chosen n dotted."""
    from tmesurv.simulations.validation_size.summary import width_figure

    return width_figure(table, choices, "Mean 95% CI width against validation cohort size")


def validation_size_section(results: Results) -> ValidationSizeSection | None:
    """The section; None without ``validation_size.csv`` and ``validation_size_n.csv``."""
    if results.validation_size is None or results.validation_size_n is None:
        return None
    figure = validation_size_figure(results.validation_size, results.validation_size_n)
    alt = "Mean CI width against validation cohort size per metric, targets dashed, chosen n dotted"
    return ValidationSizeSection(
        choice_table(results.validation_size_n),
        precision_table(results.validation_size),
        FigureImage(png_data_uri(figure), alt),
    )
