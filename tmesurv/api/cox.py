"""``fit_cox``: the published-style frequentist analysis set of a cohort, as one result object.

Kaplan-Meier per arm and subgroup, log-rank tests, Cox treatment (and stratified treatment), interaction, within-arm
and subgroup models, interaction tests, and on request the association screens, the CAR T product analyses and the
saved validation model. ``CoxResult.write(folder)`` writes what ``tmesurv cox`` writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tmesurv.api.display import effect_line, html_table, result_lines
from tmesurv.api.settings import analysis_config, run_plan
from tmesurv.cohort import Cohort, Exclusion, exclusion_table
from tmesurv.config import AnalysisConfig, Cutpoint, arm_names
from tmesurv.errors import InputError
from tmesurv.outputs.files import COX, INTERACTIONS, LOGRANK, write_results
from tmesurv.outputs.run_folder import staged


@dataclass(frozen=True)
class CoxResult:
    """What :func:`fit_cox` computed: tidy tables by result-file stem, the saved-model fit, exclusions and notes.

    Attributes
    ----------
    tables
        Result-file stem -> table (``cox``, ``interactions``, ``km``, ``km_curves``, ``logrank``, ``exclusions``, the
        screen and product tables when asked for, and the cohort's description ``cohort`` and ``biomarkers``, which
        :meth:`write` leaves as they are in a folder where an earlier command of the study wrote them); columns as in
        :mod:`tmesurv.outputs.files`.
    cohort, config
        The cohort analysed and the validated config the analysis followed.
    validation_model
        The fitted validation model (config ``validation_model``), or None.
    notes
        What the analysis noticed (fits that could not be estimated, reader notes).
    """

    tables: Mapping[str, pd.DataFrame]
    cohort: Cohort
    config: AnalysisConfig
    validation_model: Any = None
    notes: tuple[str, ...] = ()
    figures: Any = field(default=None, repr=False)  # what the figure set needs beyond the tables

    @property
    def table(self) -> pd.DataFrame:
        """``cox.csv``: every Cox model's terms (Efron ties, Wald 95% CI and P); no rows for a single-arm cohort."""
        return self.tables.get("cox", COX.empty())

    @property
    def interactions(self) -> pd.DataFrame:
        """``interactions.csv``: treatment-by-biomarker interaction tests, Wald and likelihood ratio."""
        return self.tables.get("interactions", INTERACTIONS.empty())

    @property
    def km(self) -> pd.DataFrame:
        """``km.csv``: Kaplan-Meier medians and landmark survival per arm and subgroup, with 95% CIs."""
        return self.tables["km"]

    @property
    def logrank(self) -> pd.DataFrame:
        """``logrank.csv``: log-rank tests of the arms, overall and within every subgroup."""
        return self.tables.get("logrank", LOGRANK.empty())

    def write(self, folder: Path | str, *, fresh: bool = False) -> Path:
        """Write the tables, figures, validation model and ``run.json`` into ``folder`` (as ``tmesurv cox`` does).

        The files are staged and moved into place together (see :mod:`tmesurv.outputs.run_folder`): a folder
        holding results of another config is refused unless ``fresh``, which replaces only tmesurv's own files.
        ``cohort.csv`` and ``biomarkers.csv`` describe the study: written only if the folder does not hold them yet.

        Returns
        -------
        pathlib.Path
            The folder; ``run.json`` lists the files written.
        """
        from tmesurv.models.prediction.storage import MODEL_FILE, write_validation_model
        from tmesurv.reports.figure_set import write_figure_set
        from tmesurv.reports.sections.product import write_product_figures

        plan = run_plan("cox", self.cohort, self.config, fresh)
        with staged(folder, plan) as run:
            write_results(run.path, dict(self.tables))
            if self.validation_model is not None:
                write_validation_model(self.validation_model, run.path / MODEL_FILE)
            write_figure_set(run.path, self.cohort, self.config, self.figures.tables)
            arm, endpoint = self.config.data.arm, self.config.analysis.endpoint
            treated = arm_names(arm).get("treated", "treated")
            write_product_figures(run.path, self.figures.product_curves, endpoint, treated)
        return Path(folder)

    def __repr__(self) -> str:
        return "\n".join(self._summary_lines())

    def _repr_html_(self) -> str:
        rows = self.table[self.table["analysis"].isin(["treatment", "treatment_stratified", "interaction"])]
        head = "<br>".join(self._summary_lines()[:2])
        columns = ["analysis", "subgroup", "term", "hr", "hr_lower", "hr_upper", "p"]
        return f"<p><b>{head}</b></p>" + html_table(rows, columns)

    def _summary_lines(self) -> list[str]:
        endpoint = self.config.analysis.endpoint
        treatment = self.table[self.table["analysis"].isin(["treatment", "treatment_stratified"])]
        lines = [f"CoxResult: {endpoint}, {self.cohort.n} patients from {self.cohort.source}"]
        labels = {"treatment": "treatment HR", "treatment_stratified": "treatment HR, stratified"}
        lines += [effect_line(labels[row.analysis], row) for row in treatment.itertuples()]
        interactions = self.interactions[self.interactions["scale"] == "continuous"]
        lines += [f"  interaction {row.grouping}: Wald P {row.wald_p:.3g}, LRT P {row.lrt_p:.3g}" for row in
                  interactions.itertuples()]  # fmt: skip
        return lines + result_lines(self.tables, self.notes)


def fit_cox(
    cohort: Cohort,
    *,
    endpoint: str | None = None,
    cutpoint: Cutpoint | None = None,
    cutpoints: Mapping[str, Cutpoint] | None = None,
    combined_subgroups: Sequence[Mapping[str, str]] | None = None,
    subgroup_covariates: Sequence[str] | None = None,
    landmarks: Sequence[float] | None = None,
    km_ci: str | None = None,
    screens: Mapping | None = None,
    product: Mapping | None = None,
    validation_model: Mapping | None = None,
) -> CoxResult:
    """Kaplan-Meier, log-rank and Cox analyses of a two-arm cohort, in the published style (equal to R's survival).

    Every keyword defaults to the cohort's config (for :meth:`Cohort.from_frame`: median cut-points, landmarks 12 and
    24 months); the keys mean what they mean in the config file's ``analysis`` section, and ``screens``, ``product``
    and ``validation_model`` are whole config sections.

    Parameters
    ----------
    cohort
        A two-arm cohort.
    endpoint, cutpoint, cutpoints, combined_subgroups, subgroup_covariates, landmarks, km_ci
        The ``analysis`` settings (see the README's config).
    screens, product, validation_model
        Optional analyses: association screens, CAR T product analyses, the model saved for ``validate``.

    Returns
    -------
    CoxResult
        The tables (``.table`` is ``cox.csv``), notes, and ``.write(folder)``.

    Raises
    ------
    InputError
        For a single-arm cohort, or an invalid setting (naming it).
    """
    from tmesurv.models.cox.analyses import cox_analyses
    from tmesurv.models.cox.km import cohort_table, km_by_arm, logrank_table
    from tmesurv.models.cox.subgroups import analysis_groupings, biomarker_table, subgroup_table
    from tmesurv.models.prediction.cox import fit_validation_model
    from tmesurv.models.product.analyses import ProductResults, product_analyses
    from tmesurv.models.screens.analyses import ScreenResults, screen_analyses
    from tmesurv.reports.figure_set import AnalysisTables

    analysis = {
        "endpoint": endpoint, "cutpoint": cutpoint, "cutpoints": cutpoints, "combined_subgroups": combined_subgroups,
        "subgroup_covariates": subgroup_covariates, "landmarks": landmarks, "km_ci": km_ci,
    }  # fmt: skip
    sections = {"screens": screens, "product": product, "validation_model": validation_model}
    config = analysis_config(cohort, "fit_cox", analysis=analysis, **sections)
    if config.data.single_arm is not None:
        return _prognostic_model(cohort, config)
    spec = config.analysis
    groupings = analysis_groupings(cohort, spec)
    km, km_curves = km_by_arm(cohort, spec.endpoint, spec.landmarks, spec.km_ci, groupings)
    results = cox_analyses(cohort, spec.endpoint, spec)
    screen = screen_analyses(cohort, config.screens) if config.screens else ScreenResults()
    exclusions: list[Exclusion] = cohort.analysis_exclusions(spec) + screen.exclusions
    model, notes = None, [*cohort.notes, *results.notes]
    if config.validation_model is not None:
        model, model_exclusions, problem = fit_validation_model(cohort, config.validation_model_plan())
        exclusions += model_exclusions
        notes += [problem] if model is None else []
    notes += screen.notes
    product_results = ProductResults()
    if config.product:
        product_results = product_analyses(cohort, config.product, spec.endpoint, spec, spec.landmarks, spec.km_ci)
    exclusions += product_results.exclusions
    tables = {
        "cohort": cohort_table(cohort, spec.endpoint),
        "biomarkers": biomarker_table(cohort),
        "subgroups": subgroup_table(groupings),
        "exclusions": exclusion_table(exclusions),
        "km": km,
        "km_curves": km_curves,
        "logrank": logrank_table(cohort, spec.endpoint, groupings),
        "cox": results.table,
        "interactions": results.interactions,
        "ph_test": results.ph_test,
        "ph_residuals": results.ph_residuals,
        **screen.tables,
        **product_results.tables,
    }
    figure_tables = {"cox": results.table, "interactions": results.interactions, "km_curves": km_curves}
    figure_tables |= {key: tables[key] for key in ("logrank", "subgroups", "ph_test")}
    linkage = None if screen.clusters is None else screen.clusters.linkage
    figures = _FigureInputs(
        AnalysisTables(figure_tables | screen.tables, tuple(g.name for g in groupings), linkage), product_results.curves
    )
    return CoxResult(tables, cohort, config, model, (*notes, *product_results.notes), figures)


@dataclass(frozen=True)
class _FigureInputs:
    """What the figure set draws from besides the written tables."""

    tables: Any
    product_curves: Mapping[str, pd.DataFrame]


def _prognostic_model(cohort: Cohort, config: AnalysisConfig) -> CoxResult:
    """A single-arm cohort: Kaplan-Meier, and the prognostic model of ``validation_model`` developed on it.

    The between-arm analyses (treatment, interaction and subgroup Cox models, log-rank tests) need two arms: they are
    skipped, with a note.
    """
    from tmesurv.models.cox.km import cohort_table, km_by_arm
    from tmesurv.models.cox.subgroups import biomarker_table
    from tmesurv.models.prediction.cox import fit_validation_model
    from tmesurv.reports.figure_set import AnalysisTables

    arm, model_spec = config.data.single_arm, config.validation_model
    if model_spec is None:
        raise InputError(
            f"'{cohort.source}' is a single-arm cohort (data.single_arm: {arm}): there are no arms to compare. Add a "
            "validation_model section (terms) to develop a prognostic model on it, or use it as the external cohort "
            "of validate"
        )
    if model_spec.uses_arm:
        raise InputError(
            f"validation_model has an arm term (interaction or arm_effect), which needs two arms, and "
            f"'{cohort.source}' is a single-arm cohort ({arm}): remove them to develop a prognostic model"
        )
    spec = config.analysis
    km, km_curves = km_by_arm(cohort, spec.endpoint, spec.landmarks, spec.km_ci)
    model, model_exclusions, problem = fit_validation_model(cohort, config.validation_model_plan())
    skipped = (
        f"single-arm cohort ({arm} arm): the between-arm analyses (Cox treatment, interaction and subgroup models, "
        "log-rank tests) are skipped; the prognostic model of validation_model is developed on it"
    )
    notes = [*cohort.notes, skipped, *([problem] if model is None else [])]
    tables = {
        "cohort": cohort_table(cohort, spec.endpoint),
        "biomarkers": biomarker_table(cohort),
        "exclusions": exclusion_table(cohort.analysis_exclusions(spec) + model_exclusions),
        "km": km,
        "km_curves": km_curves,
    }
    figures = _FigureInputs(AnalysisTables({"km_curves": km_curves}, ()), {})
    return CoxResult(tables, cohort, config, model, tuple(notes), figures)
