"""How result objects show themselves in a console and a notebook: a few summary lines, or an HTML table."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import pandas as pd

NOTES_SHOWN = 5


def effect_line(label: str, row: object) -> str:
    """``  label: HR 0.41 (95% CI 0.32-0.53), P 1.2e-12`` from a row with ``hr, hr_lower, hr_upper, p``."""
    return f"  {label}: HR {row.hr:.3g} (95% CI {row.hr_lower:.3g}-{row.hr_upper:.3g}), P {row.p:.3g}"


def posterior_line(label: str, row: object) -> str:
    """``  label: HR 0.41 (95% CrI 0.32-0.53), P(HR < 1) 0.99`` and a flag when the fit did not converge.

    A row without an estimate (a fit that was not estimable) gives ``  label: <its note>``.
    """
    if pd.isna(row.hr_mean):
        return f"  {label}: {getattr(row, 'note', '') or 'not estimated'}"
    flag = "" if bool(row.converged) else "  NOT CONVERGED"
    return (
        f"  {label}: HR {row.hr_mean:.3g} (95% CrI {row.hr_lower:.3g}-{row.hr_upper:.3g}), "
        f"P(HR < 1) {row.prob_hr_below_1:.3f}{flag}"
    )


def result_lines(tables: Mapping[str, pd.DataFrame], notes: Sequence[str]) -> list[str]:
    """The tables a result holds (rows each) and its first notes."""
    listed = ", ".join(f"{name} ({len(table)})" for name, table in tables.items())
    lines = [f"  tables: {listed}"]
    lines += [f"  note: {note}" for note in notes[:NOTES_SHOWN]]
    if len(notes) > NOTES_SHOWN:
        lines.append(f"  ... and {len(notes) - NOTES_SHOWN} more notes (.notes)")
    return lines


def html_table(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """Some columns of a table as an escaped HTML table, numbers to 3 significant digits."""
    shown = frame[list(columns)]
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.3g}"
    return str(value)
