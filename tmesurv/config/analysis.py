"""The analysis sections of a config and the whole config, with the checks that span sections.

The sections that a model family takes are defined with the model (:mod:`tmesurv.models.cox.settings`,
:mod:`tmesurv.models.pwe.settings`, ...) and reused here, so every setting is defined once.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated

from pydantic import Field, model_validator

from tmesurv.config.data import DataSpec
from tmesurv.models.cox.settings import CiMethod, SubgroupPlan
from tmesurv.models.prediction.settings import ValidationModelPlan, ValidationModelSpec
from tmesurv.models.product.pk import PK_COLUMNS
from tmesurv.models.product.settings import ProductAnalysisSpec
from tmesurv.models.pwe.settings import PweAnalysisSettings
from tmesurv.models.screens.settings import ScreenSpec
from tmesurv.schema import StrictModel


class AnalysisSpec(SubgroupPlan):
    """What to analyse: the endpoint, how biomarkers are split into subgroups, and which subgroups to compare."""

    endpoint: str
    landmarks: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [12.0, 24.0],
        description="times (months after randomisation, positive) of the landmark survival; the last is the RMST "
        "horizon",
    )
    km_ci: CiMethod = Field("log-log", description="Kaplan-Meier interval scale (R: conf.type)")


class BayesSpec(PweAnalysisSettings):
    """The ``bayes`` section: the PWE model, its sampler and what to fit.

    Its keys are defined with the model (:class:`~tmesurv.models.pwe.settings.PweAnalysisSettings`);
    ``model_settings()`` and ``sampler_settings()`` give the settings a fit takes.
    """


class AnalysisConfig(StrictModel):
    """A whole analysis configuration file."""

    data: DataSpec
    analysis: AnalysisSpec
    screens: ScreenSpec | None = None
    validation_model: ValidationModelSpec | None = None
    product: ProductAnalysisSpec | None = None
    bayes: BayesSpec = BayesSpec()

    def validation_model_plan(self) -> ValidationModelPlan | None:
        """What fitting ``validation_model`` takes from this config; None without that section."""
        from tmesurv.signatures import gene_sets  # it reads config sections, so it is imported when needed

        spec = self.validation_model
        if spec is None:
            return None
        derived = gene_sets(self.data.derive)
        sets = {term: derived[term] for term in spec.terms if term in derived}
        dumped = self.model_dump(mode="json")
        return ValidationModelPlan(spec, self.analysis.endpoint, tuple(self.analysis.landmarks), dumped, sets)

    @model_validator(mode="after")
    def _endpoint_known(self) -> AnalysisConfig:
        if self.analysis.endpoint not in self.data.endpoints:
            known = ", ".join(self.data.endpoints)
            raise ValueError(f"analysis.endpoint '{self.analysis.endpoint}' is not among data.endpoints ({known})")
        if not self.data.endpoints[self.analysis.endpoint].required:
            raise ValueError(
                f"analysis.endpoint '{self.analysis.endpoint}' has required: false; the main endpoint must be known "
                "for every patient (screen a partial endpoint with screens.endpoints)"
            )
        return self

    @model_validator(mode="after")
    def _bayes_biomarkers_known(self) -> AnalysisConfig:
        bayes, biomarkers = self.bayes, self.data.biomarkers
        if bayes.biomarkers is not None:
            _require_listed(bayes.biomarkers, biomarkers, "bayes.biomarkers", "data.biomarkers")
        fitted = biomarkers if bayes.biomarkers is None else bayes.biomarkers
        _require_listed(bayes.treatment_at, fitted, "bayes.treatment_at", "bayes.biomarkers or data.biomarkers")
        _require_listed(bayes.hr_curves, biomarkers, "bayes.hr_curves", "data.biomarkers")
        known = [*biomarkers, *self.data.features]
        unknown = [name for name in bayes.screen if not _is_listed_or_pattern(name, known)]
        _require_listed(unknown, known, "bayes.screen", "data.biomarkers or data.features")
        return self

    @model_validator(mode="after")
    def _validation_model_known(self) -> AnalysisConfig:
        model = self.validation_model
        if model is not None:
            known = [*self.data.biomarkers, *self.data.covariates]
            _require_listed(model.terms, known, "validation_model.terms", "data.biomarkers or data.covariates")
        return self

    @model_validator(mode="after")
    def _screens_known(self) -> AnalysisConfig:
        screens, data = self.screens, self.data
        if screens is None:
            return self
        if not data.features:
            raise ValueError("screens: data.features lists no columns to screen; add names or patterns such as 'sig_*'")
        _require_listed(screens.endpoints, list(data.endpoints), "screens.endpoints", "data.endpoints")
        for key, level in (("response", screens.response), ("complete_response", screens.complete_response)):
            if level is not None:
                _require_listed([level.column], data.responses, f"screens.{key}.column", "data.responses")
        return self

    @model_validator(mode="after")
    def _subgroups_known(self) -> AnalysisConfig:
        analysis, biomarkers = self.analysis, self.data.biomarkers
        _require_listed(analysis.cutpoints, biomarkers, "analysis.cutpoints", "data.biomarkers")
        for number, conditions in enumerate(analysis.combined_subgroups):
            key = f"analysis.combined_subgroups.{number}"
            _require_listed(conditions, biomarkers, key, "data.biomarkers")
            quartered = [b for b in conditions if analysis.cutpoint_of(b) == "quartiles"]
            if quartered:
                raise ValueError(
                    f"{key}: '{quartered[0]}' is cut at quartiles, which has no high/low; give it a "
                    "median or fixed cut-point in analysis.cutpoints"
                )
        _require_listed(
            analysis.subgroup_covariates, self.data.covariates, "analysis.subgroup_covariates", "data.covariates"
        )
        return self

    @model_validator(mode="after")
    def _product_known(self) -> AnalysisConfig:
        product, data = self.product, self.data
        if product is None:
            return self
        columns = [*data.product, *(PK_COLUMNS if data.pk is not None else ())]
        _require_listed(product.attributes, columns, "product.attributes", "data.product or derived from data.pk")
        for name, outcome in product.outcome_specs().items():
            known, where = (data.responses, "data.responses") if outcome.levels else (columns, "data.product")
            _require_listed([outcome.column], known, f"product.outcomes.{name}.column", where)
        for number, subgroup in enumerate(product.subgroups):
            key = f"product.subgroups.{number}"
            _require_listed([subgroup.attribute], columns, f"{key}.attribute", "data.product or derived from data.pk")
            _require_listed([subgroup.biomarker], data.biomarkers, f"{key}.biomarker", "data.biomarkers")
            if self.analysis.cutpoint_of(subgroup.biomarker) == "quartiles":
                raise ValueError(f"{key}: '{subgroup.biomarker}' is cut at quartiles; give it a median or fixed cut")
        return self


def _require_listed(names: object, known: list[str], key: str, where: str) -> None:
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"{key}: '{unknown[0]}' is not listed in {where} ({', '.join(known) or 'empty'}); add it there"
        )


def _is_listed_or_pattern(name: str, known: list[str]) -> bool:
    """Whether ``name`` is a pattern, is in ``known``, or matches a pattern of ``known`` (such as 'sig_*')."""
    return any(character in name for character in "*?[") or any(fnmatch.fnmatchcase(name, k) for k in known)
