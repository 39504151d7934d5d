"""The analysis configuration (YAML), validated with pydantic.

``data`` (:mod:`tmesurv.config.data`) says where the export is and which columns play which role; the analysis
sections and the whole config (:mod:`tmesurv.config.analysis`) reuse the settings each model family defines; and
:mod:`tmesurv.config.loading` reads a file. Unknown keys are errors, and every error names the key path and the file.
"""

from tmesurv.config.analysis import AnalysisConfig, AnalysisSpec, BayesSpec
from tmesurv.config.data import (
    DAYS_PER_MONTH,
    IN_MEMORY,
    MONTHS_PER_UNIT,
    AdamSpec,
    ArmSpec,
    DataSpec,
    DeriveSpec,
    EndpointSpec,
    ExpressionScale,
    ExpressionSpec,
    GeoSpec,
    HScoreSpec,
    PkSpec,
    PlatformColumns,
    VisitSpec,
    arm_names,
)
from tmesurv.config.loading import load_config, parse_config
from tmesurv.models.cox.settings import Cutpoint, GroupLevel, SubgroupPlan, combined_subgroup_name
from tmesurv.models.prediction.settings import ValidationModelSpec
from tmesurv.models.product.settings import OutcomeSpec, ProductAnalysisSpec, ProductSubgroupSpec
from tmesurv.models.pwe.settings import PwePriors, PweSettings, SamplerSettings
from tmesurv.models.screens.settings import LevelSpec, ScreenSpec

__all__ = [
    "DAYS_PER_MONTH",
    "IN_MEMORY",
    "MONTHS_PER_UNIT",
    "AdamSpec",
    "AnalysisConfig",
    "AnalysisSpec",
    "ArmSpec",
    "BayesSpec",
    "Cutpoint",
    "DataSpec",
    "DeriveSpec",
    "EndpointSpec",
    "ExpressionScale",
    "ExpressionSpec",
    "GeoSpec",
    "GroupLevel",
    "HScoreSpec",
    "LevelSpec",
    "OutcomeSpec",
    "PkSpec",
    "PlatformColumns",
    "ProductAnalysisSpec",
    "ProductSubgroupSpec",
    "PwePriors",
    "PweSettings",
    "SamplerSettings",
    "ScreenSpec",
    "SubgroupPlan",
    "ValidationModelSpec",
    "VisitSpec",
    "arm_names",
    "combined_subgroup_name",
    "load_config",
    "parse_config",
]
