"""External validation section: the metrics of ``tmesurv validate`` (``validation.csv``) and its figures."""

from __future__ import annotations

import pandas as pd

from tmesurv.reports.format import Column, Row, Table, format_count, format_interval, format_text
from tmesurv.reports.gallery import FigureSection, figure_section
from tmesurv.reports.results import Results

VALIDATION_PREFIXES = ("calibration", "benefit", "survival_")  # figures of the result folder shown in the section
VALIDATION_GALLERY = "Calibration, predicted benefit and survival"



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


def validation_section(results: Results) -> FigureSection | None:
    """The section: its table and figures; None without them."""
    return figure_section(results, validation_table, results.validation, VALIDATION_PREFIXES, VALIDATION_GALLERY)
