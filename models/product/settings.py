"""Settings of the CAR T product and PK analyses (the analysis config's ``product`` section)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tmesurv.schema import StrictModel


class OutcomeSpec(StrictModel):
    """A binary outcome: a level set of a categorical column, or a 0/1 column (without ``levels``)."""

    column: str
    levels: list[str] | None = Field(
        None, description="values of a data.responses column that count as 1 (e.g. [CR, PR]); none: a 0/1 column"
    )


class ProductSubgroupSpec(StrictModel):
    """A product attribute split at its median (treated arm) crossed with a biomarker at its analysis cut-point."""

    attribute: str
    biomarker: str


class ProductAnalysisSpec(StrictModel):
    """CAR T product and PK analyses of the treated arm (``tmesurv cox``: product_associations, product_subgroups)."""

    attributes: Annotated[list[str], Field(min_length=1)] = Field(
        description="columns of data.product (or derived from data.pk) associated with each outcome"
    )
    outcomes: dict[str, str | OutcomeSpec] = Field(
        default_factory=dict,
        description="outcome name -> a 0/1 column of data.product, or {column, levels} of a data.responses column",
    )
    subgroups: list[ProductSubgroupSpec] = Field(
        default_factory=list, description="attribute high/low x biomarker high/low: Kaplan-Meier, log-rank and Cox"
    )

    def outcome_specs(self) -> dict[str, OutcomeSpec]:
        """Every outcome as an :class:`OutcomeSpec` (a bare column name is a 0/1 column)."""
        return {
            name: OutcomeSpec(column=spec) if isinstance(spec, str) else spec for name, spec in self.outcomes.items()
        }
