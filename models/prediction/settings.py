"""Settings of the model saved for external validation: the config's section, and what a fit takes from the config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, model_validator

from tmesurv.schema import StrictModel


class ValidationModelSpec(StrictModel):
    """The model that ``tmesurv cox`` (and ``tmesurv bayes``) fit and save for external validation."""

    terms: Annotated[list[str], Field(min_length=1)] = Field(description="biomarkers and covariates (numeric)")
    interaction: str | None = Field(
        None, description="a term whose effect differs by arm: adds arm and arm x term (a treatment-benefit model)"
    )
    arm: Literal["all", "treated", "control"] = Field("all", description="the patients the model is fitted on")
    baseline: Literal["efron", "breslow"] = Field(
        "efron",
        description="baseline cumulative hazard of predicted risks: efron (default; R's survfit.coxph and "
        "riskRegression::predictRisk for an Efron fit) or breslow (lifelines, Python's usual)",
    )

    @model_validator(mode="after")
    def _interaction_needs_both_arms(self) -> ValidationModelSpec:
        if self.interaction is not None and self.arm != "all":
            raise ValueError("a model with an arm interaction is fitted on both arms: set arm: all")
        if self.interaction is not None and self.interaction not in self.terms:
            raise ValueError(f"interaction '{self.interaction}' must also be one of terms ({', '.join(self.terms)})")
        return self


@dataclass(frozen=True)
class ValidationModelPlan:
    """What fitting the validation model takes besides the cohort.

    Attributes
    ----------
    spec
        The model: the config's ``validation_model`` section.
    endpoint
        The endpoint it predicts.
    horizons
        Default prediction horizons (months): the development config's ``analysis.landmarks``.
    config
        The development config as plain data, saved with the fit.
    gene_sets
        Each term derived from a gene set in development (``data.derive.signatures``) and the set's genes; the fit
        keeps those the development expression panel has.
    """

    spec: ValidationModelSpec
    endpoint: str
    horizons: tuple[float, ...]
    config: Mapping = field(default_factory=dict)
    gene_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
