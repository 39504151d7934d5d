"""Forest section: the forest plot's rows as a table.

From ``cox.csv``, ``bayes.csv``, ``interactions.csv``, ``subgroups.csv`` (the subgroups' cut-points) and
``ph_test.csv`` (the proportional-hazards test of each Cox estimate).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tmesurv.arms import CONTROL, TREATED
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
    subgroup_descriptions,
)
from tmesurv.reports.graphics import FigureImage
from tmesurv.reports.sections.forest_plot import TERM, InteractionTests, interaction_tests, treatment_rows
from tmesurv.reports.sections.ph import PH_ALPHA, PH_MARK, PH_POINTER, ph_p_values


def forest_table(
    cox: pd.DataFrame | None,
    bayes: pd.DataFrame | None,
    endpoint: str,
    interactions: pd.DataFrame | None = None,
    arm_names: dict[str, str] | None = None,
    subgroups: pd.DataFrame | None = None,
    ph_test: pd.DataFrame | None = None,
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
        ``interactions.csv``, optional: on each grouping's header row the continuous biomarker's Wald and
        likelihood-ratio P and the subgroups' likelihood-ratio P (labelled with the split).
    arm_names
        Display name per arm value.
    subgroups
        ``subgroups.csv``, optional: each level is named by its meaning (``spd_mm2 > 3721``).
    ph_test
        ``ph_test.csv``, optional: the proportional-hazards P of each Cox estimate, marked when it rejects.

    Returns
    -------
    Table
        The overall row, then per grouping a header row and a row per level; unconverged Bayesian fits flagged.
    """
    names = {TREATED: TREATED, CONTROL: CONTROL} | dict(arm_names or {})
    cox_rows, bayes_rows = treatment_rows(cox, endpoint), treatment_rows(bayes, endpoint)
    tests, labels = interaction_tests(interactions, endpoint), subgroup_descriptions(subgroups)
    ph = ph_p_values(ph_test)
    keys = list(dict.fromkeys([*cox_rows, *bayes_rows]))
    overall = ("treatment", "all")

    def row(label: str, key: tuple[str, str]) -> Row:
        return _forest_table_row(label, cox_rows.get(key), bayes_rows.get(key), ph.get((endpoint, *key, TERM)))

    rows = [row(OVERALL, overall)] if overall in keys else []
    split = {key: split_subgroup(key[1], tests) for key in keys if key != overall}
    for grouping in dict.fromkeys(name for name, _ in split.values()):
        test = tests.get(grouping, InteractionTests())
        continuous = (format_p(test.continuous_wald), format_p(test.continuous_lrt))
        groups = format_p(test.groups_lrt) + (f" ({test.split})" if test.split else "")
        rows.append(Row((grouping, *[""] * 8, *continuous, groups), header=True))
        rows += [row(labels.get(key[1], level), key) for key, (name, level) in split.items() if name == grouping]
    has_cox, has_bayes, has_p = cox is not None, bayes is not None, bool(tests)
    has_ph, has_continuous = has_cox and ph_test is not None, any(t.continuous_text for t in tests.values())
    keep = (True, *(has_cox,) * 4, has_ph, *(has_bayes,) * 3, *(has_continuous,) * 2, has_p)
    columns = tuple(column for column, kept in zip(_columns(names), keep, strict=True) if kept)
    rows = [Row(tuple(c for c, kept in zip(r.cells, keep, strict=True) if kept), r.flagged, r.header) for r in rows]
    groups = ((("", 3), ("Cox", 2 + has_ph)) if has_cox else (("", 1),)) + (
        (("Bayesian (posterior)", 3),) if has_bayes else ()
    )
    groups += (("P interaction", 1 + 2 * has_continuous),) if has_p else ()
    return Table(columns, tuple(rows), groups=groups, caption=_caption(names, has_cox, has_bayes, has_p, has_ph))


def _columns(names: dict[str, str]) -> tuple[Column, ...]:
    """Every column the table can have, in order (those without data are dropped)."""
    return (
        Column("Subgroup"),
        Column(f"{names[TREATED]} events/N", numeric=True),
        Column(f"{names[CONTROL]} events/N", numeric=True),
        Column("HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("PH test P (cox.zph)", numeric=True),
        Column("HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("Diagnostics", badge=True),
        Column("Continuous, Wald", numeric=True),
        Column("Continuous, LRT", numeric=True),
        Column("Subgroups, LRT", numeric=True),
    )


def _caption(names: dict[str, str], has_cox: bool, has_bayes: bool, has_p: bool, has_ph: bool) -> str:
    caption = f"Hazard ratio of {names[TREATED]} vs {names[CONTROL]} within each subgroup."
    if has_cox:
        caption += " Cox: 95% Wald confidence interval and Wald P."
    if has_ph:
        caption += (
            f" PH test P: the treatment term's proportional-hazards test (R's cox.zph, km transform). {PH_POINTER}"
        )
    if has_bayes:
        caption += (
            " Bayesian: exp(posterior mean log hazard ratio) with the 95% equal-tailed credible interval, and the "
            "posterior probability that the hazard ratio is below 1."
        )
    if has_p:
        caption += (
            " P interaction, continuous: Wald and likelihood-ratio (LRT) tests of the arm x biomarker term of "
            "arm + biomarker + arm:biomarker, the biomarker on its own scale. Subgroups: likelihood-ratio test of "
            "arm x the subgroups shown, labelled with how they were formed (median split, cut-point split, quartiles)."
        )
    return caption


def _forest_table_row(label: str, cox: pd.Series | None, bayes: pd.Series | None, ph_p: float | None) -> Row:
    cox_cells = ("", "", "", "", "")
    if cox is not None:
        rejected = ph_p is not None and ph_p < PH_ALPHA
        hr = format_interval(cox["hr"], cox["hr_lower"], cox["hr_upper"], digits=2, missing="NE")
        cox_cells = (
            _events(cox.get("events_treated"), cox.get("n_treated")),
            _events(cox.get("events_control"), cox.get("n_control")),
            hr + (f" {PH_MARK}" if rejected and hr else ""),
            format_p(cox["p"]),
            format_p(ph_p) + (f" {PH_MARK}" if rejected else ""),
        )
    bayes_cells, flagged = ("", "", ""), False
    if bayes is not None:
        flagged = failed_diagnostics(bayes["converged"])
        bayes_cells = (
            format_posterior_hr(bayes["mean"], bayes["hr_lower"], bayes["hr_upper"]),
            format_probability(bayes["prob_hr_below_1"]),
            diagnostics_badge(bayes["converged"]),
        )
    return Row((label, *cox_cells, *bayes_cells, "", "", ""), flagged=flagged)


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
