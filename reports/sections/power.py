"""Power section: the operating characteristics of ``tmesurv power`` (``power.csv``) and the power curve."""

from __future__ import annotations

import pandas as pd

from tmesurv.outputs.files import POWER_SETTINGS
from tmesurv.reports.format import Column, Row, Table, format_number, format_text
from tmesurv.reports.gallery import FigureSection, figure_section
from tmesurv.reports.results import Results

SETTING_LABELS = {
    "design": "Design",
    "n": "Cohort size",
    "interaction_hr": "Interaction HR",
    "prognostic_hr": "Prognostic HR",
    "prevalence": "Prevalence",
    "follow_up": "Follow-up (months)",
    "dropout_per_year": "Dropout per year",
}

POWER_PREFIXES = ("power",)  # figures of the result folder shown in the section
POWER_GALLERY = "Power curves"


MAX_POWER_ROWS = 200


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


def power_section(results: Results) -> FigureSection | None:
    """The section: its table and figures; None without them."""
    return figure_section(results, power_table, results.power, POWER_PREFIXES, POWER_GALLERY)
