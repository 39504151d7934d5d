"""Score the saved fits of a validation model on an external cohort: ``tmesurv validate`` from cohort to results.

Steps (:func:`validate_external`): re-derive the terms harmonised by ``rederive`` from the external genes
(:mod:`tmesurv.validation.rederive`), keep the external patients the model applies to (its arm, every term known;
each patient left out is counted), harmonise their terms onto the development distribution
(:mod:`tmesurv.validation.harmonise`), predict with every fit (Cox, Bayesian; see
:mod:`tmesurv.models.prediction`), and score the predictions (:func:`tmesurv.validation.score.validation_table`
with one set of bootstrap resamples, drawn within arm for a two-arm cohort). On top of that table come the
interaction's replication (an interaction model on a two-arm cohort), the log predictive density (a Bayesian fit)
and the case-mix comparison. :func:`tmesurv.validation.output.write_validation` writes the tables and
figures; the tables behind the figures come from :mod:`tmesurv.validation.curves`.

A single-arm external cohort (a real-world registry) gets every metric that does not compare arms. Horizons default
to the development config's landmarks. A horizon up to the last external follow-up time is scored (one equal to it,
an administrative censoring time, too: the Kaplan-Meier estimate is defined there); a chosen horizon beyond it is
refused, a default one beyond it left out with a note; one beyond the development follow-up is scored with a caveat
in the note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import InputError
from tmesurv.models.prediction.posterior import PosteriorModel
from tmesurv.models.prediction.storage import ValidationFit
from tmesurv.models.prediction.terms import model_patients
from tmesurv.validation.benefit import benefit_by_group, interaction_replication
from tmesurv.validation.benefit_matching import MATCHINGS, BenefitMatching
from tmesurv.validation.bootstrap import VALIDATION_COLUMNS, metric_row, resample_counts, with_estimate
from tmesurv.validation.case_mix import case_mix_rows, standardized_differences
from tmesurv.validation.curves import calibration_table, external_km, survival_table
from tmesurv.validation.decision_curve import decision_curve_table
from tmesurv.validation.harmonise import harmonise, parse_methods
from tmesurv.validation.ipcw import horizon_note
from tmesurv.validation.predictions import predictions_table
from tmesurv.validation.rederive import rederive_terms
from tmesurv.validation.score import ExternalPredictions, validation_table

RESULT_COLUMNS = ["model", *VALIDATION_COLUMNS]
ALL_MODELS = "all"  # the ``model`` of rows about the cohorts (case-mix), not about a fit
ANALYSIS = "validation"
GRID_POINTS = 41  # times from 0 to the last estimable horizon for the integrated Brier score


@dataclass(frozen=True)
class ValidationSettings:
    """Options of ``tmesurv validate``.

    Attributes
    ----------
    horizons
        Prediction horizons in months; empty: the development config's landmarks.
    harmonise
        ``--harmonise`` values: ``METHOD`` for every term or ``TERM=METHOD`` (see
        :func:`tmesurv.validation.harmonise.parse_methods`).
    n_boot
        Bootstrap replicates of the intervals (0: estimates only).
    seed
        Seed of the bootstrap and of the posterior predictive simulation.
    n_groups
        Quantile groups of predicted benefit.
    alpha
        One minus the confidence level.
    predictive_draws
        Posterior draws simulated for the posterior predictive Kaplan-Meier band.
    benefit_matching, matching_repeats
        How the c- and E-for-benefit pair treated with control patients (``rank`` or ``random``) and how many
        random matchings are averaged (:mod:`tmesurv.validation.benefit_matching`; seeded by ``seed``).
    """

    horizons: tuple[float, ...] = ()
    harmonise: tuple[str, ...] = ()
    n_boot: int = 1000
    seed: int = 1
    n_groups: int = 4
    alpha: float = 0.05
    predictive_draws: int = 200
    benefit_matching: str = "rank"
    matching_repeats: int = 50

    @property
    def matching(self) -> BenefitMatching:
        """The matching of the benefit metrics (raises ValueError for an unknown method)."""
        return BenefitMatching(self.benefit_matching, self.matching_repeats, self.seed)


@dataclass(frozen=True)
class ExternalPatients:
    """The external patients the model scores, their outcome and their (harmonised) terms."""

    time: np.ndarray
    event: np.ndarray
    treated: np.ndarray
    terms: pd.DataFrame

    @property
    def two_arms(self) -> bool:
        """Whether both arms are present (the benefit metrics need them)."""
        return np.unique(self.treated).size == 2

    @property
    def strata(self) -> np.ndarray | None:
        """The arm, to resample within, for a two-arm cohort."""
        return self.treated if self.two_arms else None


@dataclass
class ValidationResults:
    """Everything ``tmesurv validate`` writes, as tables (the figures are drawn from them).

    Attributes
    ----------
    table
        ``validation.csv``: columns ``RESULT_COLUMNS``.
    benefit
        ``benefit.csv``: observed and predicted benefit by group, per model and horizon (None for one arm).
    case_mix
        ``case_mix.csv``: standardised differences of the terms (external as scored against development).
    harmonisation
        ``harmonisation.csv``: what was done to each term.
    calibration
        ``calibration_curves.csv``: the smoothed calibration curves (``kind`` ``curve``) and the Kaplan-Meier
        observed risk by quantile group of predicted risk (``kind`` ``group``).
    survival
        ``survival_curves.csv``: the external Kaplan-Meier curve, each model's mean predicted survival and, for a
        Bayesian fit, the posterior predictive band.
    decision_curve
        ``decision_curve.csv``: net benefit by risk threshold, per model and horizon
        (:mod:`tmesurv.validation.decision_curve`).
    predictions
        ``predictions.csv``: each patient's linear predictor and risks, per model and horizon
        (:mod:`tmesurv.validation.predictions`).
    exclusions
        External patients left out, and why.
    notes
        Messages for the console.
    horizons
        The horizons scored.
    """

    table: pd.DataFrame
    benefit: pd.DataFrame | None
    case_mix: pd.DataFrame
    harmonisation: pd.DataFrame
    calibration: pd.DataFrame
    survival: pd.DataFrame
    decision_curve: pd.DataFrame
    predictions: pd.DataFrame
    exclusions: list[Exclusion]
    notes: list[str] = field(default_factory=list)
    horizons: tuple[float, ...] = ()

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The result tables by registry stem (:mod:`tmesurv.outputs.files`); ``benefit`` only for benefit models."""
        tables = {
            "validation": self.table,
            "benefit": self.benefit,
            "case_mix": self.case_mix,
            "harmonisation": self.harmonisation,
            "calibration_curves": self.calibration,
            "survival_curves": self.survival,
            "decision_curve": self.decision_curve,
            "predictions": self.predictions,
        }
        return {stem: table for stem, table in tables.items() if table is not None}


def validate_external(
    fits: Sequence[ValidationFit], cohort: Cohort, endpoint: str, settings: ValidationSettings
) -> ValidationResults:
    """Score every fit of one validation model on an external cohort.

    Parameters
    ----------
    fits
        The fits (:func:`tmesurv.models.prediction.storage.load_validation_fits`); the first one's development
        distribution is the harmonisation target and the case-mix reference.
    cohort
        The external cohort (two arms, or one: ``data.single_arm``).
    endpoint
        The external config's ``analysis.endpoint``; the model's own endpoint is used when the cohort has it.
    settings
        Horizons, harmonisation, bootstrap.

    Returns
    -------
    ValidationResults
        The tables.

    Raises
    ------
    InputError
        If the cohort lacks a term, has no patient or no event the model applies to, or a horizon is not positive
        or (Cox) not after the first development event; or a term cannot be re-derived
        (:func:`tmesurv.validation.rederive.rederive_terms`).
    """
    reference = fits[0].info
    notes: list[str] = []
    endpoint = _endpoint(reference.endpoint, cohort, endpoint, notes)
    if settings.benefit_matching not in MATCHINGS:
        raise InputError(f"--benefit-matching '{settings.benefit_matching}': use one of {', '.join(MATCHINGS)}")
    methods = parse_methods(settings.harmonise, reference.terms.inputs)
    rederived = rederive_terms(cohort, reference.gene_sets, methods)
    patients, exclusions = _model_cohort(rederived.cohort, fits[0], endpoint)
    exclusions = rederived.exclusions + exclusions
    index = patients.patients.index
    values, harmonisation = harmonise(
        patients.patients[reference.terms.inputs],
        reference.development.terms,
        methods,
        measured=rederived.measured.reindex(index),
        notes=rederived.notes,
    )
    external = ExternalPatients(patients.time(endpoint), patients.event(endpoint), patients.treated, values)
    horizons = _horizons(settings.horizons or reference.horizons, fits)
    horizons = _within_follow_up(horizons, external.time, chosen=bool(settings.horizons), notes=notes)
    notes += _cohort_notes(external, fits[0], horizons)
    scores = [_score_fit(fit, external, horizons, settings) for fit in fits]
    case_mix = case_mix_rows(reference.development.values, values)
    table = pd.concat([*(s.table for s in scores), _with_model(pd.DataFrame(case_mix), ALL_MODELS)], ignore_index=True)
    benefit = [s.benefit for s in scores if s.benefit is not None]
    return ValidationResults(
        table=table[RESULT_COLUMNS],
        benefit=pd.concat(benefit, ignore_index=True) if benefit else None,
        case_mix=standardized_differences(reference.development.values, values),
        harmonisation=harmonisation,
        calibration=pd.concat([s.calibration for s in scores], ignore_index=True),
        survival=pd.concat([external_km(external), *(s.survival for s in scores)], ignore_index=True),
        decision_curve=pd.concat([s.decision_curve for s in scores], ignore_index=True),
        predictions=pd.concat([s.predictions for s in scores], ignore_index=True),
        exclusions=exclusions,
        notes=notes,
        horizons=horizons,
    )


def external_predictions(
    fit: ValidationFit, external: ExternalPatients, horizons: Sequence[float]
) -> ExternalPredictions:
    """A fit's predictions for the external patients, in the form :func:`validation_table` scores.

    Parameters
    ----------
    fit
        A Cox or Bayesian fit of the validation model.
    external
        The external patients.
    horizons
        Prediction horizons.

    Returns
    -------
    ExternalPredictions
        Linear predictor and risks by each horizon; with two arms, ``treated``, and for a model with an interaction
        the risks under each arm; the integrated-Brier grid from 0 to the last horizon before the end of external
        follow-up (none when no horizon is before it).
    """
    values, treated = external.terms, external.treated

    def by_horizon(arm: np.ndarray) -> dict[float, np.ndarray]:
        risk = fit.risk(values, arm, horizons)
        return {h: risk[:, k] for k, h in enumerate(horizons)}

    benefit = fit.info.spec.uses_arm and external.two_arms
    estimable = [h for h in horizons if h <= external.time.max()]
    grid = np.linspace(0.0, max(estimable), GRID_POINTS) if estimable else None
    return ExternalPredictions(
        time=external.time,
        event=external.event,
        lp=fit.linear_predictor(values, treated),
        risk=by_horizon(treated),
        treated=external.strata,
        risk_control=by_horizon(np.zeros_like(treated)) if benefit else None,
        risk_treated=by_horizon(np.ones_like(treated)) if benefit else None,
        grid=grid,
        risk_grid=None if grid is None else fit.risk(values, treated, grid),
    )


@dataclass(frozen=True)
class _FitScores:
    table: pd.DataFrame
    benefit: pd.DataFrame | None
    calibration: pd.DataFrame
    survival: pd.DataFrame
    decision_curve: pd.DataFrame
    predictions: pd.DataFrame


def _score_fit(
    fit: ValidationFit, external: ExternalPatients, horizons: tuple[float, ...], settings: ValidationSettings
) -> _FitScores:
    """Every metric of one fit, and the tables behind its figures."""
    predictions = external_predictions(fit, external, horizons)
    table = validation_table(
        predictions,
        n_boot=settings.n_boot,
        seed=settings.seed,
        alpha=settings.alpha,
        development_follow_up=fit.info.development.follow_up_max,
        n_groups=settings.n_groups,
        matching=settings.matching,
    )
    extra = _interaction_rows(fit, external, settings.alpha)
    if isinstance(fit, PosteriorModel):
        extra += _predictive_density_rows(fit, external, settings)
    if extra:
        table = pd.concat([table, pd.DataFrame(extra, columns=VALIDATION_COLUMNS)], ignore_index=True)
    n = external.time.size
    counts = resample_counts(n, settings.n_boot, settings.seed, external.strata) if settings.n_boot > 0 else None
    return _FitScores(
        table=_with_model(table, fit.kind),
        benefit=_benefit_table(fit, predictions, settings),
        calibration=_with_model(calibration_table(predictions, counts, settings.alpha), fit.kind),
        survival=survival_table(fit, external, settings),
        decision_curve=_with_model(decision_curve_table(predictions), fit.kind),
        predictions=_with_model(predictions_table(predictions, external.terms.index), fit.kind),
    )


def _interaction_rows(fit: ValidationFit, external: ExternalPatients, alpha: float) -> list[dict]:
    """The interaction's replication, for an interaction model on a two-arm cohort."""
    if not external.two_arms:
        return []
    rows = []
    for term, effect in fit.interaction_effects().items():
        (marker,) = fit.info.terms.term(term).design(external.terms).values()
        replicated = interaction_replication(
            external.time, external.event, external.treated, marker, *effect, alpha=alpha
        )
        rows += [row | {"group": term} for row in replicated]
    return rows


def _predictive_density_rows(
    fit: PosteriorModel, external: ExternalPatients, settings: ValidationSettings
) -> list[dict]:
    """Log predictive density (sum and mean per patient), bootstrapped with the resamples of the other metrics."""
    pointwise = fit.log_predictive_density(external.terms, external.treated, external.time, external.event)
    n = pointwise.size
    counts = resample_counts(n, settings.n_boot, settings.seed, external.strata) if settings.n_boot > 0 else None
    total = with_estimate(n, counts) @ pointwise
    common = {"n": n, "events": int(external.event.sum()), "alpha": settings.alpha}
    note = "sum over patients of log mean over draws of p(outcome); event-time densities per month"
    return [
        metric_row("log_predictive_density", total, **common, note=note),
        metric_row("log_predictive_density_mean", total / n, **common, note="per patient"),
    ]


def _benefit_table(
    fit: ValidationFit, predictions: ExternalPredictions, settings: ValidationSettings
) -> pd.DataFrame | None:
    """Observed and predicted benefit by quantile group, per horizon (None without risks under each arm)."""
    p = predictions
    if p.risk_control is None or p.risk_treated is None or p.treated is None:
        return None
    tables = [
        benefit_by_group(
            p.time, p.event, p.treated, p.risk_control[h], p.risk_treated[h], h, settings.n_groups, settings.alpha
        ).assign(horizon=h)
        for h in p.risk
    ]
    table = pd.concat(tables, ignore_index=True)
    return _with_model(table[["horizon", *table.columns[:-1]]], fit.kind)


def _endpoint(model_endpoint: str, cohort: Cohort, config_endpoint: str, notes: list[str]) -> str:
    """The model's endpoint when the external cohort has it, else the external config's (with a note)."""
    if model_endpoint in cohort.endpoints:
        return model_endpoint
    notes.append(
        f"the model predicts {model_endpoint}, which the external cohort does not have: scored against its "
        f"analysis.endpoint {config_endpoint}"
    )
    return config_endpoint


def _model_cohort(cohort: Cohort, fit: ValidationFit, endpoint: str) -> tuple[Cohort, list[Exclusion]]:
    """The external patients the model applies to, with the endpoint; an error when none (or no event) is left."""
    spec = fit.info.spec
    with_endpoint, exclusions = cohort.with_endpoint(endpoint)
    patients, left_out, _ = model_patients(with_endpoint, spec, ANALYSIS, fit.info.terms)
    if patients.n == 0:
        reason = f"in the {spec.arm} arm" if spec.arm != "all" else f"with all of {', '.join(spec.sources)} known"
        raise InputError(
            f"file '{cohort.source}': no patient {reason}, which the model needs (it was fitted on arm: {spec.arm})"
        )
    if patients.event(endpoint).sum() == 0:
        raise InputError(
            f"file '{cohort.source}', endpoint '{endpoint}': no events among the {patients.n} patients scored, so "
            "nothing can be validated; check the event coding (1 = event) or the data cutoff"
        )
    return patients, exclusions + left_out


def _horizons(horizons: Sequence[float], fits: Sequence[ValidationFit]) -> tuple[float, ...]:
    """Sorted distinct horizons, each positive and (for a Cox fit) after the first development event."""
    horizons = tuple(sorted({float(h) for h in horizons}))
    if not horizons or min(horizons) <= 0:
        raise InputError(f"horizons must be positive times in months; got {list(horizons) or 'none'} (use --horizon)")
    cox_first_events = [fit.info.development.first_event for fit in fits if fit.kind == "cox"]
    first = min(cox_first_events, default=0.0)
    if horizons[0] <= first:
        raise InputError(
            f"horizon {horizons[0]:g} is not after the first development event ({first:g} months): the Cox model "
            "predicts no risk by then; choose a later --horizon"
        )
    return horizons


def _within_follow_up(
    horizons: tuple[float, ...], time: np.ndarray, *, chosen: bool, notes: list[str]
) -> tuple[float, ...]:
    """The horizons up to the last external follow-up time (where the Kaplan-Meier curve is defined).

    A chosen horizon beyond it is an error that gives the follow-up; a default one (a development landmark) is left
    out with a note, unless none is left.
    """
    last = float(np.max(time))
    beyond = [h for h in horizons if h > last]
    if beyond and (chosen or len(beyond) == len(horizons)):
        raise InputError(
            f"horizon {beyond[0]:g} months is beyond the external follow-up (last follow-up time {last:g} months): "
            f"nothing can be assessed there; choose a --horizon of at most {last:g} months"
        )
    if beyond:
        notes.append(
            f"development landmark(s) {', '.join(f'{h:g}' for h in beyond)} months are beyond the external follow-up "
            f"(last follow-up time {last:g} months): not scored"
        )
    return tuple(h for h in horizons if h <= last)


def _cohort_notes(external: ExternalPatients, fit: ValidationFit, horizons: tuple[float, ...]) -> list[str]:
    """Console notes on horizons that cannot be scored (or only with a caveat) and on a single-arm cohort."""
    follow_up = fit.info.development.follow_up_max
    notes = [note for h in horizons if (note := horizon_note(external.time, h, follow_up, external.event))]
    if fit.info.spec.uses_arm and not external.two_arms:
        notes.append("one arm in the external cohort: no benefit metrics and no replication of the interaction")
    return notes


def _with_model(table: pd.DataFrame, model: str) -> pd.DataFrame:
    return table.assign(model=model)[["model", *(c for c in table.columns if c != "model")]]
