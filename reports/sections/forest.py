"""Forest section: the forest plot's rows as a table (``cox.csv``, ``bayes.csv``, ``interactions.csv``)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tmesurv.cohort import CONTROL, TREATED
from tmesurv.reports.format import (
    OVERALL,
    Column,
    Row,
    Table,
    diagnostics_badge,
    failed_diagnostics,
    format_count,
    format_interval,
    format_p,
    format_posterior_hr,
    format_probability,
    split_subgroup,
)
from tmesurv.reports.graphics import FigureImage
from tmesurv.reports.sections.forest_plot import interaction_p, treatment_rows


def forest_table(
    cox: pd.DataFrame | None,
    bayes: pd.DataFrame | None,
    endpoint: str,
    interactions: pd.DataFrame | None = None,
    arm_names: dict[str, str] | None = None,
) -> Table:
    """The forest plot as a table: per subgroup the events of each arm, the Cox and the Bayesian hazard ratio.

    Parameters
    ----------
    cox, bayes
        ``cox.csv`` and ``bayes.csv`` (either may be None): the rows of term ``arm`` of analysis ``treatment``
        (subgroup ``all``) and ``subgroup``.
    endpoint
        The endpoint.
    interactions
        ``interactions.csv``, optional: the likelihood-ratio P of each grouping's levels on its header row.
    arm_names
        Display name per arm value.

    Returns
    -------
    Table
        The overall row, then per grouping a header row and a row per level; unconverged Bayesian fits flagged.
    """
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    cox_rows, bayes_rows = treatment_rows(cox, endpoint), treatment_rows(bayes, endpoint)
    p_values = interaction_p(interactions, endpoint)
    keys = list(dict.fromkeys([*cox_rows, *bayes_rows]))
    overall = ("treatment", "all")
    rows = [_forest_table_row(OVERALL, cox_rows.get(overall), bayes_rows.get(overall))] if overall in keys else []
    split = {key: split_subgroup(key[1], p_values) for key in keys if key != overall}
    for grouping in dict.fromkeys(name for name, _ in split.values()):
        p_text = format_p(p_values.get(grouping))
        rows.append(Row((grouping, "", "", "", "", "", "", "", p_text), header=True))
        rows += [
            _forest_table_row(level, cox_rows.get(key), bayes_rows.get(key))
            for key, (name, level) in split.items()
            if name == grouping
        ]
    columns = (
        Column("Subgroup"),
        Column(f"{names[TREATED]} events/N", numeric=True),
        Column(f"{names[CONTROL]} events/N", numeric=True),
        Column("HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("Diagnostics", badge=True),
        Column("P interaction (LRT)", numeric=True),
    )
    has_cox, has_bayes, has_p = cox is not None, bayes is not None, bool(p_values)
    keep = (True, has_cox, has_cox, has_cox, has_cox, has_bayes, has_bayes, has_bayes, has_p)
    columns = tuple(column for column, kept in zip(columns, keep, strict=True) if kept)
    rows = [Row(tuple(c for c, kept in zip(r.cells, keep, strict=True) if kept), r.flagged, r.header) for r in rows]
    groups = ((("", 3), ("Cox", 2)) if has_cox else (("", 1),)) + ((("Bayesian (posterior)", 3),) if has_bayes else ())
    groups += (("", 1),) if has_p else ()
    caption = f"Hazard ratio of {names[TREATED]} vs {names[CONTROL]} within each subgroup."
    if has_cox:
        caption += " Cox: 95% Wald confidence interval and Wald P."
    if has_bayes:
        caption += (
            " Bayesian: exp(posterior mean log hazard ratio) with the 95% equal-tailed credible interval, and the "
            "posterior probability that the hazard ratio is below 1."
        )
    if has_p:
        caption += " P interaction: likelihood-ratio test of the treatment-by-grouping interaction (its levels)."
    return Table(columns, tuple(rows), groups=groups, caption=caption)


def _forest_table_row(label: str, cox: pd.Series | None, bayes: pd.Series | None) -> Row:
    cox_cells = ("", "", "", "")
    if cox is not None:
        cox_cells = (
            _events(cox.get("events_treated"), cox.get("n_treated")),
            _events(cox.get("events_control"), cox.get("n_control")),
            format_interval(cox["hr"], cox["hr_lower"], cox["hr_upper"], digits=2, missing="NE"),
            format_p(cox["p"]),
        )
    bayes_cells, flagged = ("", "", ""), False
    if bayes is not None:
        flagged = failed_diagnostics(bayes["converged"])
        bayes_cells = (
            format_posterior_hr(bayes["mean"], bayes["hr_lower"], bayes["hr_upper"]),
            format_probability(bayes["prob_hr_below_1"]),
            diagnostics_badge(bayes["converged"]),
        )
    return Row((label, *cox_cells[:2], *cox_cells[2:], *bayes_cells, ""), flagged=flagged)


def _events(events: object, n: object) -> str:
    events_text, n_text = format_count(events), format_count(n)
    return f"{events_text}/{n_text}" if events_text and n_text else ""


@dataclass(frozen=True)
class Forest:
    """One endpoint's forest plot and its table."""

    endpoint: str
    image: FigureImage
    table: Table


def _forest_alt(endpoint: str, has_cox: bool, has_bayes: bool) -> str:
    estimates = " and ".join(
        text
        for text, present in (
            ("Cox hazard ratios with 95% confidence intervals", has_cox),
            ("Bayesian hazard ratios at the posterior mean log hazard ratio with 95% credible intervals", has_bayes),
        )
        if present
    )
    return f"Forest plot of {endpoint}: {estimates}, overall and within each subgroup, on one log axis."
