"""Cox proportional-hazards analyses of a treatment-by-biomarker question, in the published style.

Fits follow R's ``coxph`` (Efron ties, its Newton-Raphson iteration, Wald tests) and equal it to 1e-6
(:mod:`tmesurv.models.cox.fitting`). The analyses per endpoint: the treatment effect (and, when the
cohort has strata, the treatment effect stratified by them, as the primary analysis of a stratified trial is); per
biomarker the interaction model (arm, biomarker, arm x biomarker) on the biomarker's own scale; and per grouping (a
biomarker's cut-point, a combined biomarker subgroup, a covariate's levels; see :mod:`tmesurv.models.cox.subgroups`)
the groups compared within each arm (``within_arm``) and the treatment effect within each group (``subgroup``, the rows
of a forest plot).

Interactions are tested by Wald and by likelihood ratio (:func:`interaction_tests`): the biomarker as a continuous
term, and every grouping's levels (``levels - 1`` degrees of freedom). Every model's proportional-hazards assumption is
tested as R's ``cox.zph`` does (:mod:`tmesurv.models.cox.ph_test`), at the coefficients reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from tmesurv.arms import CONTROL, TREATED
from tmesurv.cohort import Cohort
from tmesurv.models.cox.fitting import inestimable, try_fit_cox, wald_table
from tmesurv.models.cox.ph_test import PH_RESIDUAL_COLUMNS, PH_TEST_COLUMNS, FittedCox, ph_tables
from tmesurv.models.cox.settings import SubgroupPlan
from tmesurv.models.cox.subgroups import Grouping, analysis_groupings
from tmesurv.models.designs import interaction_design, treatment_design

COX_COLUMNS = [
    "endpoint",
    "analysis",
    "subgroup",
    "term",
    "n",
    "events",
    "n_treated",
    "events_treated",
    "n_control",
    "events_control",
    "coef",
    "se",
    "hr",
    "hr_lower",
    "hr_upper",
    "p",
]


INTERACTION_COLUMNS = [
    "endpoint",
    "grouping",
    "scale",
    "n",
    "events",
    "df",
    "wald_chisq",
    "wald_p",
    "lrt_chisq",
    "lrt_p",
    "rule",
]


@dataclass
class CoxResults:
    """The rows of ``cox.csv``, ``interactions.csv``, ``ph_test.csv`` and ``ph_residuals.csv``, and the fits.

    ``notes`` are the fits that need a caveat; ``fits`` the fitted models, in the order of their rows.
    """

    table: pd.DataFrame
    interactions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=INTERACTION_COLUMNS))
    notes: list[str] = field(default_factory=list)
    ph_test: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PH_TEST_COLUMNS))
    ph_residuals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PH_RESIDUAL_COLUMNS))
    fits: list[FittedCox] = field(default_factory=list)


def cox_analyses(
    cohort: Cohort, endpoint: str, plan: SubgroupPlan, ph_transforms: tuple[str, ...] = ("km",)
) -> CoxResults:
    """Run the treatment, interaction, within-arm and subgroup analyses, the interaction and the PH tests.

    Parameters
    ----------
    cohort
        The validated cohort.
    endpoint
        The endpoint analysed.
    plan
        The subgroups: cut-points, combined subgroups, subgroup covariates (such as the config's analysis section).
    ph_transforms
        Time transforms of the proportional-hazards tests (``km``, ``rank``, ``identity``; see
        :func:`tmesurv.models.cox.ph_test.ph_tables`).

    Returns
    -------
    CoxResults
        Rows with columns ``COX_COLUMNS``, ``INTERACTION_COLUMNS``, ``PH_TEST_COLUMNS`` (every model of the Cox rows,
        per term and ``GLOBAL``; NaN for a model not estimated) and ``PH_RESIDUAL_COLUMNS``. Each analysis uses the
        patients with the values it needs; who is left out is listed by
        :meth:`tmesurv.cohort.Cohort.analysis_exclusions`.
    """
    results = CoxResults(table=pd.DataFrame(columns=COX_COLUMNS))
    rows = [_fit_rows(cohort, endpoint, "treatment", "all", treatment_design(cohort), results)]
    if cohort.strata:
        stratified, _ = cohort.complete_cases(list(cohort.strata), analysis="treatment_stratified")
        design = treatment_design(stratified)
        strata = stratified.patients[list(stratified.strata)]
        rows.append(_fit_rows(stratified, endpoint, "treatment_stratified", "all", design, results, strata))
    groupings = analysis_groupings(cohort, plan)
    for grouping in groupings:
        rows += _grouping_rows(grouping, endpoint, results)
    results.table = pd.concat([r for r in rows if not r.empty], ignore_index=True)[COX_COLUMNS]
    results.interactions = interaction_tests(groupings, endpoint, results.notes)
    results.ph_test, results.ph_residuals = ph_tables(results.fits, ph_transforms, results.notes)
    return results


def _grouping_rows(grouping: Grouping, endpoint: str, results: CoxResults) -> list[pd.DataFrame]:
    cohort = grouping.cohort
    rows = []
    if grouping.kind == "biomarker":
        design = interaction_design(cohort, grouping.name)
        rows.append(_fit_rows(cohort, endpoint, "interaction", grouping.name, design, results))
    for arm in (TREATED, CONTROL):
        in_arm = cohort.patients["arm"].to_numpy() == arm
        within = pd.DataFrame(grouping.indicators()).loc[in_arm]
        rows.append(_fit_rows(cohort.subset(in_arm), endpoint, "within_arm", arm, within, results))
    for level in grouping.levels:
        subset = cohort.subset(grouping.labels == level)
        design = treatment_design(subset)
        rows.append(_fit_rows(subset, endpoint, "subgroup", grouping.subgroup(level), design, results))
    return rows


def level_contrasts(grouping: Grouping, endpoint: str, analysis: str, notes: list[str]) -> pd.DataFrame:
    """Cox model of a grouping's levels against its first (reference) level, within the grouping's patients.

    Returns
    -------
    pandas.DataFrame
        Rows with columns ``COX_COLUMNS``, one per level but the reference (term ``<name>=<level>``); NaN estimates
        and a note appended to ``notes`` when the model cannot be estimated (e.g. an empty level).
    """
    results = CoxResults(table=pd.DataFrame(columns=COX_COLUMNS))
    design = pd.DataFrame(grouping.indicators())
    rows = _fit_rows(grouping.cohort, endpoint, analysis, grouping.name, design, results)
    notes += results.notes
    return rows[COX_COLUMNS]


def interaction_tests(groupings: list[Grouping], endpoint: str, notes: list[str]) -> pd.DataFrame:
    """Treatment-by-grouping interaction tests, by Wald and by likelihood ratio.

    For a continuous biomarker, the model ``arm + x + arm:x`` against ``arm + x`` (scale ``continuous``, 1 df); for
    every grouping, ``arm + levels + arm:levels`` against ``arm + levels`` (scale ``groups``, ``levels - 1`` df).

    Parameters
    ----------
    groupings
        From :func:`tmesurv.models.cox.subgroups.analysis_groupings`.
    endpoint
        Endpoint name.
    notes
        Where to append a note for a test that cannot be computed.

    Returns
    -------
    pandas.DataFrame
        Columns ``INTERACTION_COLUMNS``.
    """
    rows = []
    for grouping in groupings:
        cohort = grouping.cohort
        treated = cohort.treated.astype(float)
        if grouping.kind == "biomarker" and grouping.name not in cohort.biomarker_levels:
            values = cohort.patients[grouping.name].to_numpy(dtype=float)
            main = pd.DataFrame({"arm": treated, grouping.name: values})
            rows.append(_interaction_row(cohort, endpoint, grouping, "continuous", main, notes))
        levels = pd.DataFrame(grouping.indicators())
        main = pd.concat([pd.DataFrame({"arm": treated}), levels], axis=1)
        rows.append(_interaction_row(cohort, endpoint, grouping, "groups", main, notes))
    return pd.DataFrame(rows, columns=INTERACTION_COLUMNS)


def _interaction_row(
    cohort: Cohort, endpoint: str, grouping: Grouping, scale: str, main: pd.DataFrame, notes: list[str]
) -> dict:
    """Wald and likelihood-ratio test of the arm x (every non-arm column of ``main``) terms."""
    products = main.drop(columns="arm").mul(main["arm"], axis=0).add_prefix("arm:")
    full = pd.concat([main, products], axis=1)
    time, event = cohort.time(endpoint), cohort.event(endpoint)
    row = {"endpoint": endpoint, "grouping": grouping.name, "scale": scale, "n": cohort.n}
    row |= {"events": int(event.sum()), "df": products.shape[1], "rule": grouping.rule}
    problem = inestimable(full, event)  # the reduced model's columns are among the full model's
    if problem is None:
        reduced_fit, problem = try_fit_cox(time, event, main)
    if problem is None:
        full_fit, problem = try_fit_cox(time, event, full)
    if problem is not None:
        notes.append(f"{endpoint} interaction {grouping.name} ({scale}): not tested, {problem}")
        return row | dict.fromkeys(["wald_chisq", "wald_p", "lrt_chisq", "lrt_p"], np.nan)
    coef = full_fit.coef[products.columns].to_numpy()
    covariance = full_fit.covariance.loc[products.columns, products.columns].to_numpy()
    wald = float(coef @ np.linalg.solve(covariance, coef))
    lrt = 2 * (full_fit.loglik - reduced_fit.loglik)
    df = products.shape[1]
    return row | {
        "wald_chisq": wald,
        "wald_p": stats.chi2.sf(wald, df),
        "lrt_chisq": lrt,
        "lrt_p": stats.chi2.sf(lrt, df),
    }


def _fit_rows(
    cohort: Cohort,
    endpoint: str,
    analysis: str,
    subgroup: str,
    design: pd.DataFrame,
    results: CoxResults,
    strata: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fit one model and label its rows; a model that cannot be estimated gives NaN rows and a note."""
    time, event = cohort.time(endpoint), cohort.event(endpoint)
    label = {"endpoint": endpoint, "analysis": analysis, "subgroup": subgroup, **_counts(cohort, endpoint)}
    fit, problem = try_fit_cox(time, event, design, strata)
    if problem is None:
        fitted = wald_table(fit)
    else:
        results.notes.append(f"{endpoint} {analysis} {subgroup}: not estimated, {problem}")
        fitted = pd.DataFrame(np.nan, index=pd.Index(design.columns, name="term"), columns=COX_COLUMNS[10:])
    coef = None if problem is not None else fitted["coef"].to_numpy()
    results.fits.append(FittedCox(endpoint, analysis, subgroup, time, event, design, strata, coef))
    return fitted.reset_index().assign(**label)


def _counts(cohort: Cohort, endpoint: str) -> dict[str, int]:
    """Patients and events, overall and per arm."""
    event, treated = cohort.event(endpoint), cohort.treated == 1
    return {
        "n": cohort.n,
        "events": int(event.sum()),
        "n_treated": int(treated.sum()),
        "events_treated": int(event[treated].sum()),
        "n_control": int((~treated).sum()),
        "events_control": int(event[~treated].sum()),
    }
