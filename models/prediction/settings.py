"""Settings of the model saved for external validation: the config's section, and what a fit takes from the config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, model_validator

from tmesurv.models.prediction.transforms import parse_term
from tmesurv.schema import StrictModel


class ValidationModelSpec(StrictModel):
    """The model that ``tmesurv cox`` (and ``tmesurv bayes``) fit and save for external validation."""

    terms: Annotated[list[str], Field(min_length=1)] = Field(
        description=(
            "model terms: a numeric column, or log(x), clip(x, lo, hi) (winsorised), rcs(x, k) (restricted cubic "
            "spline, k = 3..7 knots at Harrell's default quantiles of development, as rms::rcs), factor(x) or "
            "factor(x, ref = level) (dummies; reference: the first level unless ref); log and clip nest, e.g. "
            "rcs(log(x), 4). Knots and levels are fitted on development and saved with the model"
        )
    )
    interaction: str | list[str] | None = Field(
        None,
        description=(
            "a term, or a list of terms, whose effect differs by arm: adds arm and arm x each of its design columns "
            "(a treatment-benefit, effect-modelling model)"
        ),
    )
    arm_effect: bool = Field(
        False,
        description=(
            "add arm as a main effect without interaction (a risk-modelling benefit model, PATH statement): the "
            "predicted benefit is the difference of the predicted risks under each arm; implied by interaction"
        ),
    )
    arm: Literal["all", "treated", "control"] = Field("all", description="the patients the model is fitted on")
    baseline: Literal["efron", "breslow"] = Field(
        "efron",
        description="baseline cumulative hazard of predicted risks: efron (default; R's survfit.coxph and "
        "riskRegression::predictRisk for an Efron fit) or breslow (lifelines, Python's usual)",
    )

    @property
    def interactions(self) -> tuple[str, ...]:
        """The interaction terms, in their canonical spelling (none: empty)."""
        given = [self.interaction] if isinstance(self.interaction, str) else list(self.interaction or [])
        return tuple(parse_term(text).text for text in given)

    @property
    def uses_arm(self) -> bool:
        """Whether the model has an arm term (then it predicts benefit: the risk under each arm)."""
        return self.arm_effect or bool(self.interactions)

    @property
    def sources(self) -> list[str]:
        """The cohort columns the terms read, each once."""
        return list(dict.fromkeys(parse_term(text).source for text in self.terms))

    @model_validator(mode="after")
    def _terms_readable(self) -> ValidationModelSpec:
        parsed = [parse_term(text).text for text in self.terms]  # raises ValueError: pydantic reports it
        repeated = sorted({text for text in parsed if parsed.count(text) > 1})
        if repeated:
            raise ValueError(f"terms lists {', '.join(repeated)} more than once")
        if self.uses_arm and self.arm != "all":
            raise ValueError("a model with an arm effect or interaction is fitted on both arms: set arm: all")
        for interaction in self.interactions:
            if interaction not in parsed:
                raise ValueError(f"interaction '{interaction}' must also be one of terms ({', '.join(parsed)})")
        if len(set(self.interactions)) < len(self.interactions):
            raise ValueError("interaction lists a term more than once")
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
