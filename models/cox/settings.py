"""The subgroup plan: how biomarkers are cut into subgroups and which combined or covariate subgroups are compared.

The analysis config's ``analysis`` section (``AnalysisSpec``) is this plan plus the endpoint,
landmarks and Kaplan-Meier interval scale; :mod:`tmesurv.models.cox.subgroups` turns it into groupings of patients.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tmesurv.schema import StrictModel

Cutpoint = Literal["median", "quartiles"] | float
GroupLevel = Literal["high", "low"]
CiMethod = Literal["log-log", "log"]  # Kaplan-Meier interval scale (R: conf.type)


class SubgroupPlan(StrictModel):
    """How biomarkers are split into subgroups, and which subgroups to compare."""

    cutpoint: Cutpoint = Field("median", description="split of every continuous biomarker without its own cut-point")
    cutpoints: dict[str, Cutpoint] = Field(default_factory=dict, description="biomarker -> its own cut-point")
    combined_subgroups: list[Annotated[dict[str, GroupLevel], Field(min_length=2)]] = Field(
        default_factory=list,
        description="subgroups defined by two or more biomarkers, e.g. {cd19_hscore: low, sii: high}",
    )
    subgroup_covariates: list[str] = Field(
        default_factory=list, description="covariates whose levels each get a treatment effect (forest plot)"
    )

    def cutpoint_of(self, biomarker: str) -> Cutpoint:
        """The cut-point of one biomarker: its own, or the default."""
        return self.cutpoints.get(biomarker, self.cutpoint)


def combined_subgroup_name(conditions: dict[str, str]) -> str:
    """How a combined subgroup is named in results, e.g. ``cd19_hscore=low & sii=high``."""
    return " & ".join(f"{biomarker}={level}" for biomarker, level in conditions.items())
