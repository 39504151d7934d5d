"""How patients are split into subgroups: biomarker cut-points, combined biomarker subgroups, covariate levels.

Every frequentist analysis by subgroup (Kaplan-Meier, log-rank, Cox) starts from a :class:`Grouping`, so a cut-point
means the same thing everywhere. Rules:

* ``median`` and a fixed number split a continuous biomarker in two: *high* is strictly above the threshold;
* ``quartiles`` splits it in four at its 25th, 50th and 75th percentiles (R's default ``quantile``, type 7):
  ``Q1`` is at or below the 25th percentile, ..., ``Q4`` above the 75th;
* a two-level biomarker (coded 0/1 by the reader) is *low* (0) and *high* (1) whatever the cut-point says;
* a combined subgroup (for example CD19 H-score low and stromal index high) holds the patients in every named
  biomarker group, against all other patients with values for those biomarkers;
* a covariate groups patients by its levels (sorted).

The first level is the reference of the Cox contrasts. Patients without the values a grouping needs are left out of
its analyses and counted by :meth:`tmesurv.cohort.Cohort.analysis_exclusions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort
from tmesurv.models.cox.settings import Cutpoint, SubgroupPlan, combined_subgroup_name

QUARTILE_LEVELS = ("Q1", "Q2", "Q3", "Q4")


@dataclass(frozen=True)
class Grouping:
    """Patients split into ordered levels.

    Attributes
    ----------
    name
        What splits them: a biomarker, a covariate, or a combination such as ``cd19_hscore=low & sii=high``.
    kind
        ``"biomarker"``, ``"combined"`` or ``"covariate"``.
    cohort
        The patients with the values the grouping needs.
    labels
        Per patient of ``cohort``, its level.
    levels
        The levels in order; the first is the reference.
    rule
        How the levels were formed, in words with the thresholds used (for tables and the methods text).
    """

    name: str
    kind: str
    cohort: Cohort
    labels: np.ndarray
    levels: tuple[str, ...]
    rule: str

    def subgroup(self, level: str) -> str:
        """The label of one level as written in result tables (``name=level``)."""
        if self.kind == "combined":
            return self.name if level == "yes" else f"not ({self.name})"
        return f"{self.name}={level}"

    def indicators(self) -> dict[str, np.ndarray]:
        """0/1 columns for every level but the reference, named as in :meth:`subgroup`."""
        return {self.subgroup(level): (self.labels == level).astype(float) for level in self.levels[1:]}


def biomarker_levels(values: np.ndarray, cutpoint: Cutpoint, two_level: bool) -> tuple[np.ndarray, tuple, str]:
    """Split biomarker values into levels.

    Parameters
    ----------
    values
        Biomarker values without missing values.
    cutpoint
        ``"median"``, ``"quartiles"`` or a number.
    two_level
        The biomarker is coded 0/1 already: levels ``low`` (0) and ``high`` (1).

    Returns
    -------
    tuple[numpy.ndarray, tuple, str]
        Level per value, the levels in order, and the rule in words.
    """
    if two_level:
        return np.where(values == 1, "high", "low"), ("low", "high"), "two levels"
    if cutpoint == "quartiles":
        quartiles = np.quantile(values, [0.25, 0.5, 0.75])
        index = np.searchsorted(quartiles, values, side="left")
        thresholds = "/".join(f"{q:.4g}" for q in quartiles)
        return np.asarray(QUARTILE_LEVELS)[index], QUARTILE_LEVELS, f"quartiles ({thresholds})"
    threshold = float(np.median(values)) if cutpoint == "median" else float(cutpoint)
    rule = f"median ({threshold:.4g})" if cutpoint == "median" else f"fixed cut-point ({threshold:.4g})"
    return np.where(values > threshold, "high", "low"), ("low", "high"), f"high above {rule}"


def biomarker_grouping(cohort: Cohort, biomarker: str, cutpoint: Cutpoint) -> Grouping:
    """The patients with a value of ``biomarker``, split by ``cutpoint`` (see :func:`biomarker_levels`)."""
    complete, _ = cohort.complete_cases([biomarker], analysis=f"biomarker {biomarker}")
    values = complete.patients[biomarker].to_numpy(dtype=float)
    labels, levels, rule = biomarker_levels(values, cutpoint, biomarker in complete.biomarker_levels)
    return Grouping(biomarker, "biomarker", complete, labels, levels, rule)


def combined_grouping(cohort: Cohort, conditions: dict[str, str], plan: SubgroupPlan) -> Grouping:
    """Patients in every named biomarker group (level ``yes``) against the others (``no``).

    Parameters
    ----------
    cohort
        The validated cohort.
    conditions
        Biomarker -> level, for example ``{"cd19_hscore": "low", "sii": "high"}``.
    plan
        The subgroup plan (such as the config's analysis section), for each biomarker's cut-point.
    """
    name = combined_subgroup_name(conditions)
    complete, _ = cohort.complete_cases(list(conditions), analysis=f"subgroup {name}")
    member = np.ones(complete.n, dtype=bool)
    rules = []
    for biomarker, level in conditions.items():
        values = complete.patients[biomarker].to_numpy(dtype=float)
        labels, _, rule = biomarker_levels(values, plan.cutpoint_of(biomarker), biomarker in complete.biomarker_levels)
        member &= labels == level
        rules.append(f"{biomarker} {level}: {rule}")
    return Grouping(name, "combined", complete, np.where(member, "yes", "no"), ("no", "yes"), "; ".join(rules))


def covariate_grouping(cohort: Cohort, covariate: str) -> Grouping:
    """The patients with a value of ``covariate``, grouped by its levels (sorted; the first is the reference)."""
    complete, _ = cohort.complete_cases([covariate], analysis=f"covariate {covariate}")
    labels = complete.patients[covariate].astype(str).str.strip().to_numpy(dtype=object)
    levels = tuple(sorted(set(labels)))
    return Grouping(covariate, "covariate", complete, labels, levels, f"levels of {covariate}")


def analysis_groupings(cohort: Cohort, plan: SubgroupPlan) -> list[Grouping]:
    """Every grouping the plan asks for: each biomarker, each combined subgroup, each subgroup covariate."""
    groupings = [biomarker_grouping(cohort, b, plan.cutpoint_of(b)) for b in cohort.biomarkers]
    groupings += [combined_grouping(cohort, conditions, plan) for conditions in plan.combined_subgroups]
    groupings += [covariate_grouping(cohort, covariate) for covariate in plan.subgroup_covariates]
    return groupings


BIOMARKER_COLUMNS = ["biomarker", "n", "two_level", "q1", "median", "q3", "iqr"]


def biomarker_table(cohort: Cohort) -> pd.DataFrame:
    """Per biomarker the patients with a value, whether it is two-level, and its quartiles (R's type 7).

    Two-level biomarkers are those of ``cohort.biomarker_levels`` (coded 0/1 when read). The report states continuous
    interaction hazard ratios per interquartile range (``iqr = q3 - q1``) with these.

    Returns
    -------
    pandas.DataFrame
        Columns ``BIOMARKER_COLUMNS``, one row per biomarker of the cohort.
    """
    rows = []
    for biomarker in cohort.biomarkers:
        values = cohort.patients[biomarker].dropna().to_numpy(dtype=float)
        q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75]) if values.size else (np.nan,) * 3
        rows.append([biomarker, values.size, biomarker in cohort.biomarker_levels, q1, median, q3, q3 - q1])
    return pd.DataFrame(rows, columns=BIOMARKER_COLUMNS)
