"""Cohort section: patients, events and follow-up per arm (``cohort.csv``), and every exclusion (``exclusions.csv``)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tmesurv.reports.format import Column, Row, Table, arm_label, format_count, format_number
from tmesurv.reports.graphics import ordered_arms
from tmesurv.reports.results import Results


def cohort_table(cohort: pd.DataFrame, arm_names: dict[str, str] | None = None) -> Table:
    """CONSORT-style counts per arm (patients, events, median follow-up) with a total row.

    Parameters
    ----------
    cohort
        ``cohort.csv``: ``arm, patients, events, median_follow_up``.
    arm_names
        Display name per arm value (see :func:`arm_label`).

    Returns
    -------
    Table
        One row per arm (treated, control, then any others), then the total.
    """
    order = {arm: index for index, arm in enumerate(ordered_arms(cohort["arm"]))}
    cohort = cohort.sort_values("arm", key=lambda arms: arms.map(order), kind="stable")
    rows = [
        Row((arm_label(arm, arm_names), format_count(patients), format_count(events), format_number(follow_up, 1)))
        for arm, patients, events, follow_up in cohort[["arm", "patients", "events", "median_follow_up"]].itertuples(
            index=False
        )
    ]
    total = (
        "Total",
        format_count(cohort["patients"].sum(min_count=1)),
        format_count(cohort["events"].sum(min_count=1)),
        "",
    )
    columns = (
        Column("Arm"),
        Column("Patients", numeric=True),
        Column("Events", numeric=True),
        Column("Median follow-up (months)", numeric=True),
    )
    return Table(columns, (*rows, Row(total)))


def exclusions_table(exclusions: pd.DataFrame) -> Table:
    """Every exclusion: the analysis it applies to, the reason and the number of patients.

    Parameters
    ----------
    exclusions
        ``exclusions.csv``: ``analysis, reason, count, ids``; the ids are not shown.

    Returns
    -------
    Table
        One row per exclusion, in file order.
    """
    units = exclusions["unit"] if "unit" in exclusions else pd.Series("patients", index=exclusions.index)
    rows = [
        Row((analysis, reason, f"{format_count(count)} {unit}"))
        for analysis, reason, count, unit in zip(
            exclusions["analysis"], exclusions["reason"], exclusions["count"], units.fillna("patients"), strict=True
        )
    ]
    columns = (Column("Analysis"), Column("Reason"), Column("Excluded", numeric=True))
    caption = "Identifiers of each exclusion (patients, or expression samples) are listed in exclusions.csv."
    return Table(columns, tuple(rows), caption=caption, empty_text="No patients were excluded.")


@dataclass(frozen=True)
class CohortSection:
    """Counts per arm and exclusions; either may be absent."""

    counts: Table | None
    exclusions: Table | None


def cohort_section(results: Results, names: dict[str, str] | None = None) -> CohortSection | None:
    """Counts per arm and every exclusion with its reason."""
    if results.cohort is None and results.exclusions is None:
        return None
    return CohortSection(
        counts=None if results.cohort is None else cohort_table(results.cohort, names),
        exclusions=None if results.exclusions is None else exclusions_table(results.exclusions),
    )
