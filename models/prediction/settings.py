"""Settings of the model saved for external validation (the analysis config's ``validation_model`` section)."""

from __future__ import annotations

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

    @model_validator(mode="after")
    def _interaction_needs_both_arms(self) -> ValidationModelSpec:
        if self.interaction is not None and self.arm != "all":
            raise ValueError("a model with an arm interaction is fitted on both arms: set arm: all")
        if self.interaction is not None and self.interaction not in self.terms:
            raise ValueError(f"interaction '{self.interaction}' must also be one of terms ({', '.join(self.terms)})")
        return self
