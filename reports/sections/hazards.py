"""Hazard-ratio section: the forest plots and the Cox and Bayesian hazard ratios side by side.

Hazard-ratio section: the forest plots per endpoint and the Cox and Bayesian hazard ratios of every model side by
side (``cox.csv``, ``bayes.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tmesurv.outputs.files import COX
from tmesurv.reports.format import (
    Column,
    Row,
    Table,
    TermScale,
    diagnostics_badge,
    failed_diagnostics,
    format_count,
    format_number,
    format_p,
    format_posterior_hr,
    format_probability,
    join_on_terms,
    scale_of,
    scaled_interval,
    term_scales,
)
from tmesurv.reports.gallery import endpoints_of
from tmesurv.reports.graphics import FigureImage, png_data_uri
from tmesurv.reports.results import Results, of_bayes_model
from tmesurv.reports.sections.forest import Forest, _forest_alt, forest_table
from tmesurv.reports.sections.forest_plot import forest_figure, treatment_rows
from tmesurv.reports.sections.interactions import TREATMENT_AT
from tmesurv.reports.sections.model_check import MisfitBanner, misfit_banner
from tmesurv.reports.sections.ph import PH_MARK, PH_POINTER, ph_p_values, ph_rejected
from tmesurv.reports.sections.summary import misfit_pointer

ALL_PATIENTS_LABEL = "All"  # how a row of every patient (an empty subgroup) is shown


@dataclass(frozen=True)
class Comparison:
    """The Cox/Bayesian side-by-side table and how many Bayesian terms failed their diagnostics."""

    heading: str
    table: Table
    n_bayes: int
    n_unconverged: int


def comparison(
    cox: pd.DataFrame | None,
    bayes: pd.DataFrame | None,
    biomarkers: pd.DataFrame | None = None,
    ph_test: pd.DataFrame | None = None,
) -> Comparison:
    """Join Cox and Bayesian estimates on (endpoint, analysis, subgroup, term) into one table.

    Parameters
    ----------
    cox
        ``cox.csv``, or None if absent: ``endpoint, analysis, subgroup, term, n, events, coef, se, hr,
        hr_lower, hr_upper, p``.
    bayes
        ``bayes.csv``'s rows of one model (the section gives bayes.model's), or None if absent: ``endpoint,
        analysis, subgroup, term, mean, sd, hr_mean, hr_lower, hr_upper, prob_hr_below_1, r_hat, ess_bulk,
        converged`` (``converged`` as 1.0/0.0, NaN if unknown).
    biomarkers
        ``biomarkers.csv``, optional: the biomarker terms of interaction models are stated per interquartile range
        (see :func:`term_scales`) instead of per unit.
    ph_test
        ``ph_test.csv``, optional: a Cox hazard ratio whose proportional-hazards test rejects is marked.

    Returns
    -------
    Comparison
        One row per term found in either file (Cox order first, then Bayesian-only terms); a term missing from
        one file has blanks there. Bayesian fits with ``converged`` false are flagged.
    """
    if cox is None and bayes is None:
        raise ValueError("comparison needs cox.csv or bayes.csv results")
    joined = join_on_terms({"cox": cox, "bayes": bayes})
    scales, ph = term_scales(biomarkers), ph_p_values(ph_test)
    rows = tuple(
        _comparison_row(record, cox is not None, bayes is not None, scale_of(record, scales), ph)
        for record in joined.to_dict("records")
    )
    caption = _comparison_caption(cox is not None, bayes is not None)
    if any(PH_MARK in cell for row in rows for cell in row.cells):
        caption += " " + PH_POINTER
    table = Table(
        _comparison_columns(cox is not None, bayes is not None),
        rows,
        groups=_comparison_groups(cox is not None, bayes is not None),
        caption=caption,
    )
    n_bayes = 0 if bayes is None else len(bayes)
    return Comparison(_comparison_heading(cox, bayes), table, n_bayes, sum(row.flagged for row in rows))


def _comparison_row(
    record: dict, has_cox: bool, has_bayes: bool, scale: TermScale | None, ph: dict[tuple[str, ...], float]
) -> Row:
    term = record["term"] if scale is None else f"{record['term']} {scale.label}"
    keys = (record["endpoint"], record["analysis"], record["subgroup"] or ALL_PATIENTS_LABEL, term)
    factor = 1.0 if scale is None else scale.factor
    rejected = ph_rejected(ph, tuple(str(record[key]) for key in COX.keys))
    cox_cells = _cox_cells(record, factor, rejected) if has_cox else ()
    cells = keys + cox_cells + (_bayes_cells(record, factor) if has_bayes else ())
    return Row(cells, flagged=has_bayes and failed_diagnostics(record["bayes_converged"]))


def _cox_cells(record: dict, factor: float, ph_rejected: bool = False) -> tuple[str, ...]:
    if pd.isna(record["cox_present"]):
        return ("", "", "")
    events, n = format_count(record["cox_events"]), format_count(record["cox_n"])
    mark = f" {PH_MARK}" if ph_rejected else ""
    return (
        scaled_interval(record["cox_hr"], record["cox_hr_lower"], record["cox_hr_upper"], factor) + mark,
        format_p(record["cox_p"]),
        f"{events}/{n}" if events and n else "",
    )


def _bayes_cells(record: dict, factor: float) -> tuple[str, ...]:
    if pd.isna(record["bayes_present"]):
        return ("", "", "", "", "")
    return (
        format_posterior_hr(record["bayes_mean"], record["bayes_hr_lower"], record["bayes_hr_upper"], factor),
        format_probability(record["bayes_prob_hr_below_1"]),
        format_number(record["bayes_r_hat"], 3),
        format_count(record["bayes_ess_bulk"]),
        diagnostics_badge(record["bayes_converged"]),
    )


def _comparison_columns(has_cox: bool, has_bayes: bool) -> tuple[Column, ...]:
    keys = (Column("Endpoint"), Column("Analysis"), Column("Subgroup"), Column("Term"))
    cox = (
        Column("HR (95% CI)", numeric=True),
        Column("Wald P", numeric=True),
        Column("Events/N", numeric=True),
    )
    bayes = (
        Column("HR at posterior mean log HR (95% CrI)", numeric=True),
        Column("P(HR<1)", numeric=True),
        Column("R-hat", numeric=True),
        Column("ESS (bulk)", numeric=True),
        Column("Diagnostics", badge=True),
    )
    return keys + (cox if has_cox else ()) + (bayes if has_bayes else ())


def _comparison_groups(has_cox: bool, has_bayes: bool) -> tuple[tuple[str, int], ...]:
    groups = [("", len(COX.keys))]
    if has_cox:
        groups.append(("Cox proportional hazards", 3))
    if has_bayes:
        groups.append(("Bayesian piecewise-exponential", 5))
    return tuple(groups)


def _comparison_caption(has_cox: bool, has_bayes: bool) -> str:
    parts = []
    if has_cox:
        parts.append("Cox: hazard ratio with 95% Wald confidence interval and Wald P value.")
    if has_bayes:
        parts.append(
            "Bayesian: exp(posterior mean log hazard ratio) with the 95% equal-tailed credible interval (CrI), "
            "posterior probability that the hazard ratio is below 1, R-hat and bulk effective sample size (ESS)."
        )
    parts.append(
        "A continuous biomarker's terms in its interaction model (<biomarker> and arm:<biomarker>) are stated per "
        "interquartile range (IQR, 25th to 75th percentile, given after the term): the hazard ratio per unit raised "
        "to the power IQR, which transforms the estimate and both interval bounds exactly; a two-level biomarker's "
        "terms compare 1 with 0."
    )
    return " ".join(parts)


def _comparison_heading(cox: pd.DataFrame | None, bayes: pd.DataFrame | None) -> str:
    if cox is not None and bayes is not None:
        return "Cox and Bayesian side by side"
    return "Cox proportional-hazards model" if cox is not None else "Bayesian piecewise-exponential model"


@dataclass(frozen=True)
class HazardSection:
    """Forest plots with their tables, every model term side by side, and the fits that misfit Kaplan-Meier."""

    forests: tuple[Forest, ...]
    comparison: Comparison | None
    misfit: MisfitBanner | None = None
    misfit_pointer: str = ""


def hazard_section(results: Results, names: dict[str, str]) -> HazardSection | None:
    """Per endpoint the forest plot (Cox and Bayesian on one axis) and its table; every term side by side.

    The misfit banner names the fits of ``bayes.model`` whose posterior survival misses Kaplan-Meier
    (``bayes_fit_check.csv``), with a pointer to the models that do not assume what the misfit questions.
    """
    cox, bayes = results.cox, of_bayes_model(results.bayes, results)  # bayes.csv: the terms of bayes.model
    if cox is None and bayes is None:
        return None
    terms = None if bayes is None else bayes[bayes["analysis"] != TREATMENT_AT]
    forests = []
    for endpoint in endpoints_of(*(frame for frame in (cox, bayes) if frame is not None)):
        if not treatment_rows(cox, endpoint) and not treatment_rows(bayes, endpoint):
            continue
        extra = {"subgroups": results.subgroups, "ph_test": results.ph_test}
        figure = forest_figure(cox, endpoint, results.interactions, names, bayes=bayes, **extra)
        alt = _forest_alt(endpoint, cox is not None, bayes is not None)
        table = forest_table(cox, bayes, endpoint, results.interactions, names, **extra)
        forests.append(Forest(str(endpoint), FigureImage(png_data_uri(figure), alt), table))
    misfit = misfit_banner(of_bayes_model(results.bayes_fit_check, results))
    table = comparison(cox, terms, results.biomarkers, results.ph_test)
    return HazardSection(tuple(forests), table, misfit, misfit_pointer(results) if misfit else "")
