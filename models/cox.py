"""Cox proportional-hazards analyses of a treatment-by-biomarker question, in the published style.

Fits use lifelines' ``CoxPHFitter`` (Efron ties, Wald tests), converged tightly enough to agree with R's
``coxph`` to 1e-6. The analyses per endpoint: the treatment effect (and, when the config names strata, the
treatment effect stratified by them, as the primary analysis of a stratified trial is); per biomarker the interaction
model
(arm, biomarker, arm x biomarker); the biomarker's high-vs-low effect within each arm; and the treatment effect
within biomarker-high and biomarker-low patients.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from scipy import stats

from tmesurv.cohort import CONTROL, TREATED, Cohort
from tmesurv.config import AnalysisSpec
from tmesurv.models.designs import interaction_design, treatment_design

COX_COLUMNS = [
    "endpoint",
    "analysis",
    "subgroup",
    "term",
    "n",
    "events",
    "coef",
    "se",
    "hr",
    "hr_lower",
    "hr_upper",
    "p",
]
FIT_OPTIONS = {"precision": 1e-14, "r_precision": 1e-15, "max_steps": 200}
_TIME, _EVENT = "__time__", "__event__"


@dataclass
class CoxResults:
    """The rows of ``cox.csv`` and the fits that need a caveat."""

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def fit_cox(
    time: np.ndarray,
    event: np.ndarray,
    design: pd.DataFrame,
    alpha: float = 0.05,
    strata: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Fit a Cox model with Efron ties and return Wald statistics per term.

    Parameters
    ----------
    time, event
        Follow-up times and event indicators (1 = event).
    design
        One numeric column per term; column names become term names.
    strata
        Columns whose combinations get their own baseline hazard (R's ``strata()``); None for one baseline.
    alpha
        One minus the confidence level of the hazard-ratio interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by term, columns ``coef, se, hr, hr_lower, hr_upper, p``.

    Raises
    ------
    ConvergenceWarning
        Re-raised by lifelines when the likelihood is monotone (a term separates events); callers decide.
    """
    frame = design.reset_index(drop=True).assign(**{_TIME: time, _EVENT: event})
    strata_columns = None
    if strata is not None:
        strata_columns = [f"__stratum_{i}__" for i in range(strata.shape[1])]
        frame[strata_columns] = strata.to_numpy()
    fitter = CoxPHFitter().fit(
        frame, duration_col=_TIME, event_col=_EVENT, strata=strata_columns, fit_options=FIT_OPTIONS
    )
    coef = fitter.params_.to_numpy()
    se = fitter.standard_errors_.to_numpy()
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame(
        {
            "coef": coef,
            "se": se,
            "hr": np.exp(coef),
            "hr_lower": np.exp(coef - z * se),
            "hr_upper": np.exp(coef + z * se),
            "p": 2 * stats.norm.sf(np.abs(coef / se)),
        },
        index=pd.Index(design.columns, name="term"),
    )


def high_group(values: np.ndarray, cutpoint: str | float, two_level: bool) -> tuple[np.ndarray, float]:
    """Split biomarker values into high (True) and low.

    Parameters
    ----------
    values
        Biomarker values without missing values.
    cutpoint
        ``"median"`` or a number; high means strictly above it.
    two_level
        A two-level biomarker is already coded 0/1: high is 1, whatever ``cutpoint`` says.

    Returns
    -------
    tuple[numpy.ndarray, float]
        The high flags and the threshold used.
    """
    if two_level:
        return values == 1, 0.5
    threshold = float(np.median(values)) if cutpoint == "median" else float(cutpoint)
    return values > threshold, threshold


def biomarker_groups(cohort: Cohort, biomarker: str, cutpoint: str | float) -> tuple[Cohort, np.ndarray]:
    """The patients with a value of ``biomarker`` and which of them are high (see :func:`high_group`)."""
    complete, _ = cohort.complete_cases([biomarker], analysis=f"biomarker {biomarker}")
    values = complete.patients[biomarker].to_numpy(dtype=float)
    high, _ = high_group(values, cutpoint, biomarker in complete.biomarker_levels)
    return complete, high


def cox_analyses(cohort: Cohort, spec: AnalysisSpec) -> CoxResults:
    """Run the treatment, interaction, within-arm and subgroup analyses for the config's endpoint.

    Parameters
    ----------
    cohort
        The validated cohort.
    spec
        The ``analysis`` section of the config (endpoint, cut-point).

    Returns
    -------
    CoxResults
        Rows with columns ``COX_COLUMNS``. Each analysis uses the patients with the values it needs; who is left
        out is listed by :func:`tmesurv.cohort.Cohort.analysis_exclusions`.
    """
    results = CoxResults(table=pd.DataFrame(columns=COX_COLUMNS))
    rows = [_fit_rows(cohort, spec.endpoint, "treatment", "all", treatment_design(cohort), results)]
    if cohort.strata:
        stratified, _ = cohort.complete_cases(list(cohort.strata), analysis="treatment_stratified")
        design = treatment_design(stratified)
        strata = stratified.patients[list(stratified.strata)]
        rows.append(_fit_rows(stratified, spec.endpoint, "treatment_stratified", "all", design, results, strata))
    for biomarker in cohort.biomarkers:
        rows += _biomarker_rows(cohort, spec, biomarker, results)
    results.table = pd.concat([r for r in rows if not r.empty], ignore_index=True)[COX_COLUMNS]
    return results


def _biomarker_rows(cohort: Cohort, spec: AnalysisSpec, biomarker: str, results: CoxResults) -> list[pd.DataFrame]:
    endpoint = spec.endpoint
    cohort, high = biomarker_groups(cohort, biomarker, spec.cutpoint)
    rows = [_fit_rows(cohort, endpoint, "interaction", biomarker, interaction_design(cohort, biomarker), results)]
    for arm in (TREATED, CONTROL):
        in_arm = cohort.patients["arm"].to_numpy() == arm
        subset = cohort.subset(in_arm)
        within = pd.DataFrame({f"{biomarker}=high": high[in_arm].astype(float)})
        rows.append(_fit_rows(subset, endpoint, "within_arm", arm, within, results))
    for level, members in (("high", high), ("low", ~high)):
        subset = cohort.subset(members)
        rows.append(_fit_rows(subset, endpoint, "subgroup", f"{biomarker}={level}", treatment_design(subset), results))
    return rows


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
    label = {
        "endpoint": endpoint,
        "analysis": analysis,
        "subgroup": subgroup,
        "n": cohort.n,
        "events": int(event.sum()),
    }
    problem = _inestimable(design, event)
    if problem is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                fitted = fit_cox(time, event, design, strata=strata)
        except (ConvergenceWarning, ConvergenceError) as warning:
            problem = f"the fit did not converge (monotone likelihood?): {str(warning).splitlines()[0]}"
    if problem is not None:
        results.notes.append(f"{endpoint} {analysis} {subgroup}: not estimated, {problem}")
        fitted = pd.DataFrame(np.nan, index=pd.Index(design.columns, name="term"), columns=COX_COLUMNS[6:])
    return fitted.reset_index().assign(**label)


def _inestimable(design: pd.DataFrame, event: np.ndarray) -> str | None:
    if event.sum() == 0:
        return "no events"
    for column in design.columns:
        values = design[column].to_numpy()
        if np.ptp(values) == 0:
            return f"'{column}' takes one value only"
        if np.isin(values, (0.0, 1.0)).all() and min(event[values == 1].sum(), event[values == 0].sum()) == 0:
            return f"no events in one level of '{column}' (monotone likelihood)"
    return None
