"""The Bayesian piecewise-exponential analyses of a cohort (their posteriors are kept by :mod:`.storage`).

Per endpoint: the treatment model (``arm``), per biomarker the interaction model (``arm``, ``<biomarker>``,
``arm:<biomarker>``), and the treatment model within every subgroup -- the same terms and subgroups as the Cox
analyses, so the two answers can be put side by side (forest plot). On request (``bayes`` config): the treatment HR at
chosen biomarker values, a spline treatment-HR curve per continuous biomarker, one interaction screen under a
shrinkage prior, the per-interval treatment HR of a time-varying effect, and a prior predictive check.
The settings are :class:`~tmesurv.models.pwe.settings.PweAnalysisSettings` (the config's ``bayes`` section).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort
from tmesurv.errors import InputError, SamplingError
from tmesurv.models.cox.settings import SubgroupPlan
from tmesurv.models.cox.subgroups import analysis_groupings
from tmesurv.models.designs import ARM, interaction_design, treatment_design
from tmesurv.models.pwe import spline as pwe_spline
from tmesurv.models.pwe.compare import LOO_COLUMNS, add_loo, loo_table
from tmesurv.models.pwe.cure.prior_predictive import cure_prior_predictive
from tmesurv.models.pwe.cure.tables import CURE_COLUMNS, cure_table_rows, plateau_notes
from tmesurv.models.pwe.diagnostics import count_divergences
from tmesurv.models.pwe.estimable import too_few_events
from tmesurv.models.pwe.fit_check import FIT_CHECK_COLUMNS, fit_check
from tmesurv.models.pwe.notes import beyond_follow_up_notes, loo_notes, misfit_notes, rerun_text
from tmesurv.models.pwe.prior_predictive import PRIOR_PREDICTIVE_COLUMNS, prior_predictive, summarize_prior_predictive
from tmesurv.models.pwe.registry import CURE, PH, TIME_VARYING, bayes_model
from tmesurv.models.pwe.remedy import Remedied, remedy_advice, sample_with_remedy
from tmesurv.models.pwe.rows import BAYES_COLUMNS, SAMPLER_COLUMNS, not_estimable_rows, summary_rows, treatment_at_rows
from tmesurv.models.pwe.screen import SCREEN_COLUMNS, fit_interaction_screen
from tmesurv.models.pwe.settings import PweAnalysisSettings, SamplerSettings
from tmesurv.models.pwe.shrinkage import check_expected_interactions
from tmesurv.models.pwe.storage import PweFit
from tmesurv.models.pwe.survival import CURVE_COLUMNS, SURVIVAL_COLUMNS, posterior_survival, survival_statistics
from tmesurv.models.pwe.time_varying import TIME_VARYING_COLUMNS, summarize_time_varying

HR_CURVE_COLUMNS = ["endpoint", *pwe_spline.CURVE_COLUMNS, "converged", "divergences", *SAMPLER_COLUMNS]
BAYES_SCREEN_COLUMNS = ["endpoint", "shrinkage", *SCREEN_COLUMNS, "max_treedepth", *SAMPLER_COLUMNS]
BAYES_FIT_CHECK_COLUMNS = ["endpoint", "analysis", "subgroup", "model", *FIT_CHECK_COLUMNS]
BAYES_TIME_VARYING_COLUMNS = ["endpoint", "analysis", "subgroup", *TIME_VARYING_COLUMNS, "divergences"]
BAYES_PRIOR_PREDICTIVE_COLUMNS = ["endpoint", *PRIOR_PREDICTIVE_COLUMNS]
PRIOR_PREDICTIVE_DRAWS = 1000


@dataclass
class PweResults:
    """The rows of ``bayes.csv`` and the ``bayes_*.csv`` tables (``loo``: ``bayes_loo.csv``), the fits, and notes.

    ``table`` (``bayes.csv``) holds the terms of every compared model (column ``model``).

    The notes name fits that were not estimable, re-run, not converged or misfit (naming the model when it is not
    ``bayes.model``), statistics beyond follow-up, and which model LOO prefers.

    The optional tables are None unless the settings ask for them: ``hr_curve`` (``bayes.hr_curves``), ``screen``
    (``bayes.screen``), ``time_varying`` (a time-varying model in ``bayes.model`` or ``bayes.compare``) and
    ``prior_predictive`` (``bayes.prior_predictive``).
    """

    table: pd.DataFrame
    loo: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOO_COLUMNS))
    curves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CURVE_COLUMNS))
    survival: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SURVIVAL_COLUMNS))
    fit_check: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BAYES_FIT_CHECK_COLUMNS))
    fits: list[PweFit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hr_curve: pd.DataFrame | None = None
    screen: pd.DataFrame | None = None
    time_varying: pd.DataFrame | None = None
    cure: pd.DataFrame | None = None
    prior_predictive: pd.DataFrame | None = None

    def optional_tables(self) -> dict[str, pd.DataFrame]:
        """The optional tables that were computed, by file stem (``bayes_hr_curve``, ...)."""
        tables = {
            "bayes_hr_curve": self.hr_curve,
            "bayes_screen": self.screen,
            "bayes_time_varying": self.time_varying,
            "bayes_cure": self.cure,
            "bayes_prior_predictive": self.prior_predictive,
        }
        return {name: table for name, table in tables.items() if table is not None}


def pwe_analyses(
    cohort: Cohort,
    endpoint: str,
    plan: SubgroupPlan,
    landmarks: Sequence[float],
    settings: PweAnalysisSettings,
    progress: Callable[[str], object] = lambda message: None,
) -> PweResults:
    """Fit the treatment model, one interaction model per biomarker, and the treatment model in every subgroup.

    Parameters
    ----------
    cohort
        The validated cohort.
    endpoint
        The endpoint analysed.
    plan
        The subgroups (cut-points, combined subgroups, subgroup covariates), as in the Cox analyses.
    landmarks
        Times (months) of the landmark survival and of the prior predictive check.
    settings
        The model, sampler and priors, and what to fit (``biomarkers`` limits the interaction models and the
        biomarker subgroups).
    progress
        Called with a one-line message before each fit.

    Returns
    -------
    PweResults
        ``table`` has columns ``BAYES_COLUMNS`` -- the terms of every compared model's fits (column ``model``;
        those of ``bayes.model`` first, then the others in ``bayes.compare`` order; of a cure model ``cure:<term>``
        and ``latency:<term>``, see :mod:`~tmesurv.models.pwe.rows`), and per biomarker the treatment effect at its
        quartiles and at the values of ``bayes.treatment_at`` from each model's interaction fit (analysis
        ``treatment_at``). ``curves`` and ``survival`` hold the posterior survival per arm (overall and per
        subgroup; of a cure model the mixture, of a time-varying model with the effect of each interval) with 95%
        bands, and its medians, landmark survival and RMST difference; ``fit_check`` sets it against Kaplan-Meier:
        these three have rows of every compared model (column ``model``), those of ``bayes.model`` first. Compared
        fits also give their LOO, the notes on their convergence and, of a cure model, ``cure`` (``bayes_cure.csv``)
        and its plateau notes. A fit that fails the
        convergence rule of :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe` has ``converged`` False on its rows
        and a note. The optional tables (see :class:`PweResults`) have columns ``HR_CURVE_COLUMNS``,
        ``BAYES_SCREEN_COLUMNS``, ``BAYES_TIME_VARYING_COLUMNS``, ``CURE_COLUMNS`` and
        ``BAYES_PRIOR_PREDICTIVE_COLUMNS``.

    Raises
    ------
    InputError
        Before any fit, if a ``bayes.hr_curves`` biomarker has too few distinct values for its spline or a
        ``bayes.screen`` pattern matches no biomarker or feature, or the horseshoe's expected number of interactions is
        not below the number of screened biomarkers.
    """
    biomarkers = cohort.biomarkers if settings.biomarkers is None else tuple(settings.biomarkers)
    screened = screen_columns(cohort, settings.screen)
    if screened and settings.shrinkage == "horseshoe":
        check_expected_interactions(settings.priors.expected_interactions, len(screened))  # before any fit
    _check_hr_curves(cohort, settings)
    models = [("treatment", "all", cohort, treatment_design(cohort))]
    for biomarker in biomarkers:
        complete, _ = cohort.complete_cases([biomarker], analysis=f"biomarker {biomarker}")
        models.append(("interaction", biomarker, complete, interaction_design(complete, biomarker)))
    for grouping in analysis_groupings(cohort, plan):
        if grouping.kind == "biomarker" and grouping.name not in biomarkers:
            continue
        for level in grouping.levels:
            members = grouping.cohort.subset(grouping.labels == level)
            models.append(("subgroup", grouping.subgroup(level), members, treatment_design(members)))
    results = PweResults(table=pd.DataFrame(columns=BAYES_COLUMNS))
    tables, curves, survival, checks, reruns, cure = [], [], [], [], [], []
    compared, grid = settings.compared_models, _curve_times(cohort, endpoint)
    for number, (analysis, subgroup, patients, design) in enumerate(models, start=1):
        listed = f": {', '.join(compared)}" if len(compared) > 1 else ""
        progress(f"  fit {number}/{len(models)}: {analysis} {subgroup} (n = {patients.n}){listed}")
        label = f"{endpoint} {analysis} {subgroup}"
        problem = too_few_events(patients.event(endpoint), design, settings.min_events)
        if problem is not None:
            results.notes.append(f"{label}: not estimable, {problem}; not fitted")
            tables += [not_estimable_rows(endpoint, analysis, subgroup, design, problem, name) for name in compared]
            continue
        values = patients.patients[subgroup].to_numpy(dtype=float) if analysis == "interaction" else None
        chosen = settings.treatment_at.get(subgroup, [])
        fits = []
        for name in compared:
            main = name == settings.model
            remedied = _sample(
                label if main else f"{label} ({name})", _model_run(name, endpoint, patients, design, settings), settings
            )
            fit = PweFit(endpoint, analysis, subgroup, remedied.result, name, main)
            rows = summary_rows(fit, remedied, results.notes)  # a compared fit's non-convergence is noted too
            reruns += [f"{label} {name} ({rerun_text(remedied)})"] if remedied.reruns else []
            cure += [cure_table_rows(fit, values, chosen)] if name == CURE else []  # main or compared
            fits.append(fit)
            tables.append(rows)  # bayes.csv: every model's terms (column model)
            if analysis == "interaction":
                tables.append(treatment_at_rows(fit, values, chosen, rows))
        by_model = {}
        for fit in fits:  # every compared model against Kaplan-Meier, not only bayes.model
            check, arm_curves, statistics = _against_kaplan_meier(fit, grid, landmarks)
            checks.append(check)
            if statistics is not None:
                curves.append(arm_curves)
                survival.append(statistics)
                by_model[fit.model] = statistics
        results.notes += beyond_follow_up_notes(by_model, label, settings.model)
        results.fits += fits
    results.table = _by_model(tables, BAYES_COLUMNS, compared)
    results.curves = _by_model(curves, CURVE_COLUMNS, compared)
    results.survival = _by_model(survival, SURVIVAL_COLUMNS, compared)
    results.fit_check = _by_model(checks, BAYES_FIT_CHECK_COLUMNS, compared)
    results.notes += misfit_notes(results.fit_check, settings.model)
    if reruns:
        results.notes.append(
            "re-run at a higher target_accept after divergent transitions (bayes.divergence_reruns): "
            + ", ".join(reruns)
        )
    if TIME_VARYING in compared:
        results.time_varying = _time_varying_table(results.fits)
    if CURE in compared:
        results.cure = _concat(cure, CURE_COLUMNS)
        results.notes += plateau_notes(results.cure)
    _add_hr_curves(cohort, endpoint, settings, results, progress)
    if screened:
        _add_screen(cohort, endpoint, settings, screened, results, progress)
    results.loo = loo_table(results.fits)
    results.notes += loo_notes(results.loo, compared)
    if settings.prior_predictive:
        progress("  prior predictive check of the treatment model")
        results.prior_predictive = _prior_predictive_table(cohort, endpoint, landmarks, settings)
    return results


def screen_columns(cohort: Cohort, names: Sequence[str]) -> list[str]:
    """The biomarkers and features that ``bayes.screen`` names or matches (patterns such as ``sig_*``), in order.

    Raises
    ------
    InputError
        If a name or pattern matches no biomarker or feature of the cohort.
    """
    known = [*cohort.biomarkers, *(f for f in cohort.features if f not in cohort.biomarkers)]
    found: list[str] = []
    for name in names:
        matches = [column for column in known if fnmatch.fnmatchcase(column, name)]
        if not matches:
            raise InputError(
                f"bayes.screen: '{name}' matches no biomarker or feature of '{cohort.source}'; list it in "
                "data.biomarkers or data.features"
            )
        found += [match for match in matches if match not in found]
    return found


def _check_hr_curves(cohort: Cohort, settings: PweAnalysisSettings) -> None:
    """Fail before any fit if a ``bayes.hr_curves`` biomarker cannot carry a spline (e.g. a 0/1 biomarker)."""
    for biomarker in settings.hr_curves:
        values = cohort.patients[biomarker].dropna().to_numpy(dtype=float)
        pwe_spline.check_spline_values(values, settings.spline_knots, biomarker)


def _add_hr_curves(
    cohort: Cohort, endpoint: str, settings: PweAnalysisSettings, results: PweResults, progress: Callable
) -> None:
    curves = []
    model = settings.model_settings(PH)  # the spline HR curve is a proportional-hazards model
    for number, biomarker in enumerate(settings.hr_curves, start=1):
        progress(f"  treatment-HR curve {number}/{len(settings.hr_curves)}: {biomarker}")
        complete, _ = cohort.complete_cases([biomarker], analysis=f"biomarker {biomarker}")
        values = complete.patients[biomarker].to_numpy(dtype=float)
        time, event = complete.time(endpoint), complete.event(endpoint)
        label = f"{endpoint} treatment-HR curve {biomarker}"
        problem = too_few_events(event, pd.DataFrame({ARM: complete.treated}), settings.min_events)
        if problem is not None:
            results.notes.append(f"{label}: not estimable, {problem}; not fitted")
            continue

        def run(sampler, time=time, event=event, complete=complete, values=values, biomarker=biomarker):
            treated, knots = complete.treated, settings.spline_knots
            return pwe_spline.fit_hr_curve(time, event, treated, values, model, sampler, knots, biomarker)

        remedied = _sample(label, run, settings)
        curve, facts = remedied.result, remedied.result.table.attrs
        if not facts["converged"]:
            advice = remedy_advice(facts["divergences"], remedied.target_accept)
            results.notes.append(
                f"{label}: NOT CONVERGED ({facts['divergences']} divergences at target_accept "
                f"{remedied.target_accept:g}); {advice} before reading the curve"
            )
        sampled = {"target_accept": remedied.target_accept, "reruns": remedied.reruns}
        curves.append(
            curve.table.assign(
                endpoint=endpoint, converged=facts["converged"], divergences=facts["divergences"], **sampled
            )
        )
        add_loo(curve.idata, PH)
        results.fits.append(PweFit(endpoint, "hr_curve", biomarker, curve.idata))
    if curves:
        results.hr_curve = pd.concat(curves, ignore_index=True)[HR_CURVE_COLUMNS]


def _add_screen(
    cohort: Cohort,
    endpoint: str,
    settings: PweAnalysisSettings,
    columns: list[str],
    results: PweResults,
    progress: Callable,
) -> None:
    progress(f"  interaction screen of {len(columns)} biomarkers ({settings.shrinkage} prior)")
    time, event = cohort.time(endpoint), cohort.event(endpoint)
    biomarkers = cohort.patients[columns]
    model = settings.model_settings(PH)  # the shrinkage screen is a proportional-hazards model
    label = f"{endpoint} interaction screen"
    problem = too_few_events(event, pd.DataFrame({ARM: cohort.treated}), settings.min_events)
    if problem is not None:
        results.notes.append(f"{label}: not estimable, {problem}; not fitted")
        return

    def run(sampler: SamplerSettings):
        return fit_interaction_screen(time, event, cohort.treated, biomarkers, model, sampler, settings.shrinkage)

    first = settings.sampler_settings().model_copy(update={"target_accept": settings.screen_target_accept})
    remedied = _sample(label, run, settings, first)
    screen = remedied.result
    results.notes += [f"{label}: {note}" for note in screen.notes]
    if remedied.reruns:
        results.notes.append(f"{label}: re-run, {rerun_text(remedied)}")
    sampled = {"target_accept": remedied.target_accept, "reruns": remedied.reruns}
    results.screen = screen.table.assign(
        endpoint=endpoint, shrinkage=settings.shrinkage, max_treedepth=screen.diagnostics["max_treedepth"], **sampled
    )[BAYES_SCREEN_COLUMNS]
    add_loo(screen.idata, PH)
    results.fits.append(PweFit(endpoint, "screen", "all", screen.idata))


def _time_varying_table(fits: list[PweFit]) -> pd.DataFrame:
    """Per-interval treatment HR of the time-varying treatment and subgroup fits (``BAYES_TIME_VARYING_COLUMNS``)."""
    tables = []
    for fit in fits:
        if fit.model == TIME_VARYING and fit.analysis in ("treatment", "subgroup"):
            summary = summarize_time_varying(fit.idata)
            keys = {"endpoint": fit.endpoint, "analysis": fit.analysis, "subgroup": fit.subgroup}
            tables.append(summary.assign(**keys, divergences=summary.attrs["divergences"]))
    return _concat(tables, BAYES_TIME_VARYING_COLUMNS)


def _prior_predictive_table(
    cohort: Cohort, endpoint: str, landmarks: Sequence[float], settings: PweAnalysisSettings
) -> pd.DataFrame:
    time, event = cohort.time(endpoint), cohort.event(endpoint)
    design = treatment_design(cohort)
    model = settings.model_settings()
    if settings.model == CURE:
        check = cure_prior_predictive(time, event, design, model, PRIOR_PREDICTIVE_DRAWS, landmarks, seed=settings.seed)
        return check.assign(endpoint=endpoint)[BAYES_PRIOR_PREDICTIVE_COLUMNS]
    check = prior_predictive(time, event, design, model, PRIOR_PREDICTIVE_DRAWS, landmarks, seed=settings.seed)
    return summarize_prior_predictive(check).assign(endpoint=endpoint)[BAYES_PRIOR_PREDICTIVE_COLUMNS]


def _model_run(
    name: str, endpoint: str, patients: Cohort, design: pd.DataFrame, settings: PweAnalysisSettings
) -> Callable[[SamplerSettings], az.InferenceData]:
    """Fit the registered model ``name`` to ``patients`` with a given sampler, with its PSIS-LOO."""
    time, event = patients.time(endpoint), patients.event(endpoint)
    model = settings.model_settings(name)

    def run(sampler: SamplerSettings) -> az.InferenceData:
        idata = bayes_model(name).fit(time, event, design, model, sampler, log_likelihood=settings.store_log_likelihood)
        add_loo(idata, name)
        return idata

    return run


def _sample(label: str, run: Callable, settings: PweAnalysisSettings, first: SamplerSettings | None = None) -> Remedied:
    """Sample with the divergence remedy, first with ``first`` (default: the settings' sampler); refuse bad draws."""
    try:
        sampler = first or settings.sampler_settings()
        return sample_with_remedy(run, _divergences, sampler, settings.divergence_reruns)
    except SamplingError as error:
        raise SamplingError(f"{label}: {error}") from None


def _divergences(result: object) -> int:
    """Divergent transitions of a fit's InferenceData, or of a result that holds one (``.idata``)."""
    return count_divergences(getattr(result, "idata", result))


def _against_kaplan_meier(
    fit: PweFit, times: np.ndarray, landmarks: Sequence[float]
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """A fit's check against Kaplan-Meier, and (but of an interaction model) its posterior curves and statistics.

    Each table is keyed by the fit's endpoint, subgroup and model (the check also by its analysis); the curves and
    statistics are None for an interaction model, whose arms have no single survival curve.
    """
    keys = {"endpoint": fit.endpoint, "subgroup": fit.subgroup, "model": fit.model}
    check = fit_check(fit.idata).assign(analysis=fit.analysis, **keys)
    if fit.analysis == "interaction":
        return check, None, None
    curves = posterior_survival(fit.idata, times).assign(**keys)
    return check, curves, survival_statistics(fit.idata, landmarks).assign(**keys)


def _by_model(frames: list[pd.DataFrame], columns: list[str], models: Sequence[str]) -> pd.DataFrame:
    """The frames' rows in ``columns``, the rows of ``models[0]`` (``bayes.model``) first, then model by model."""
    table = _concat(frames, columns)
    order = table["model"].map({name: position for position, name in enumerate(models)})
    return table.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The frames' rows in ``columns`` (an empty table when no fit gave any)."""
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _curve_times(cohort: Cohort, endpoint: str, points: int = 121) -> np.ndarray:
    """A grid from 0 to the last follow-up time."""
    return np.linspace(0.0, float(cohort.time(endpoint).max()), points)
