"""Report tables of the results of ``tmesurv validate`` (``validation.csv``) and ``tmesurv power`` (``power.csv``).

Both files come from other commands and are read leniently (:func:`tmesurv.reports.results.read_lenient_csv`):
a column the table can show but the file lacks is simply not shown.
"""

from __future__ import annotations

import pandas as pd

from tmesurv.outputs.files import POWER_SETTINGS
from tmesurv.reports.tables import Column, Row, Table, format_count, format_interval, format_number, format_text

SETTING_LABELS = {
    "design": "Design",
    "n": "Cohort size",
    "interaction_hr": "Interaction HR",
    "prognostic_hr": "Prognostic HR",
    "prevalence": "Prevalence",
    "follow_up": "Follow-up (months)",
    "dropout_per_year": "Dropout per year",
}
MAX_POWER_ROWS = 200


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


def power_table(power: pd.DataFrame) -> Table:
    """Power of each method at each setting that varies, with its Monte Carlo standard error.

    Parameters
    ----------
    power
        ``power.csv``: ``method`` and ``power``; optionally the settings (``design, n, interaction_hr, ...``),
        ``power_mcse``, ``mean_events`` and ``analytic_power``.

    Returns
    -------
    Table
        A column per setting that takes more than one value (the fixed ones are in the caption), then the
        method, power (MCSE), mean events and the analytic power; at most :data:`MAX_POWER_ROWS` rows.
    """
    settings = [column for column in POWER_SETTINGS if power[column].notna().any()]
    varying = [column for column in settings if len(pd.unique(power[column].dropna())) > 1]
    fixed = [column for column in settings if column not in varying]
    rows = [_power_row(record, varying) for record in power.head(MAX_POWER_ROWS).to_dict("records")]
    columns = (
        *(Column(SETTING_LABELS[column], numeric=column != "design") for column in varying),
        Column("Method"),
        Column("Power (MCSE)", numeric=True),
        Column("Mean events", numeric=True),
        Column("Analytic power", numeric=True),
    )
    fixed_text = "; ".join(f"{SETTING_LABELS[c].lower()} {_setting(power[c].dropna().iloc[0])}" for c in fixed)
    caption = "Share of simulated cohorts that confirm the interaction, by method (tmesurv power)."
    if fixed_text:
        caption += f" Fixed in every setting: {fixed_text}."
    if len(power) > MAX_POWER_ROWS:
        caption += f" First {MAX_POWER_ROWS} of {len(power)} rows; all are in power.csv."
    return Table(columns, tuple(rows), caption=caption)


def _power_row(record: dict, varying: list[str]) -> Row:
    power = format_number(record["power"], 3)
    mcse = format_number(record["power_mcse"], 3)
    cells = (
        *(_setting(record[column]) for column in varying),
        format_text(record["method"]),
        f"{power} ({mcse})" if mcse else power,
        format_number(record["mean_events"], 1),
        format_number(record["analytic_power"], 3),
    )
    return Row(cells)


def _setting(value: object) -> str:
    if pd.isna(value):
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)
