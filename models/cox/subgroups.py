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

from collections.abc import Mapping
from dataclasses import dataclass, field

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
    descriptions
        Per level, what it means as readers write it: ``spd_mm2 > 3721``, ``diagtime in (31, 45]``,
        ``ldh_elevated = yes``, ``celltype = large`` (the level itself when there is nothing more to say).
    """

    name: str
    kind: str
    cohort: Cohort
    labels: np.ndarray
    levels: tuple[str, ...]
    rule: str
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def description(self, level: str) -> str:
        """What one level means (see ``descriptions``)."""
        return self.descriptions.get(level, self.subgroup(level))

    def subgroup(self, level: str) -> str:
        """The label of one level as written in result tables (``name=level``)."""
        if self.kind == "combined":
            return self.name if level == "yes" else f"not ({self.name})"
        return f"{self.name}={level}"

    def indicators(self) -> dict[str, np.ndarray]:
        """0/1 columns for every level but the reference, named as in :meth:`subgroup`."""
        return {self.subgroup(level): (self.labels == level).astype(float) for level in self.levels[1:]}


@dataclass(frozen=True)
class Split:
    """Biomarker values split into levels: the level of each value, the levels in order, the rule, the thresholds."""

    labels: np.ndarray
    levels: tuple[str, ...]
    rule: str
    thresholds: tuple[float, ...] = ()

    def describe(self, name: str, level_names: tuple[str, str] | None = None) -> dict[str, str]:
        """Each level in words: ``name > t`` / ``name <= t``, a quartile's interval, or a two-level value's name."""
        if level_names is not None:
            return {level: f"{name} = {value}" for level, value in zip(self.levels, level_names, strict=True)}
        cuts = [f"{threshold:.4g}" for threshold in self.thresholds]
        if len(cuts) == 1:
            return {"low": f"{name} \u2264 {cuts[0]}", "high": f"{name} > {cuts[0]}"}
        bounds = ["-inf", *cuts, "inf"]
        texts = {self.levels[0]: f"{name} \u2264 {cuts[0]}", self.levels[-1]: f"{name} > {cuts[-1]}"}
        middle = {level: f"{name} in ({bounds[i]}, {bounds[i + 1]}]" for i, level in enumerate(self.levels)}
        return {level: texts.get(level, middle[level]) for level in self.levels}


def biomarker_levels(values: np.ndarray, cutpoint: Cutpoint, two_level: bool) -> Split:
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
    Split
        Level per value, the levels in order, the rule in words and the thresholds.
    """
    if two_level:
        return Split(np.where(values == 1, "high", "low"), ("low", "high"), "two levels")
    if cutpoint == "quartiles":
        quartiles = np.quantile(values, [0.25, 0.5, 0.75])
        index = np.searchsorted(quartiles, values, side="left")
        thresholds = "/".join(f"{q:.4g}" for q in quartiles)
        return Split(np.asarray(QUARTILE_LEVELS)[index], QUARTILE_LEVELS, f"quartiles ({thresholds})", tuple(quartiles))
    threshold = float(np.median(values)) if cutpoint == "median" else float(cutpoint)
    rule = f"median ({threshold:.4g})" if cutpoint == "median" else f"fixed cut-point ({threshold:.4g})"
    return Split(np.where(values > threshold, "high", "low"), ("low", "high"), f"high above {rule}", (threshold,))


def biomarker_grouping(cohort: Cohort, biomarker: str, cutpoint: Cutpoint) -> Grouping:
    """The patients with a value of ``biomarker``, split by ``cutpoint`` (see :func:`biomarker_levels`)."""
    complete, _ = cohort.complete_cases([biomarker], analysis=f"biomarker {biomarker}")
    values = complete.patients[biomarker].to_numpy(dtype=float)
    split = biomarker_levels(values, cutpoint, biomarker in complete.biomarker_levels)
    descriptions = split.describe(biomarker, complete.biomarker_levels.get(biomarker))
    return Grouping(biomarker, "biomarker", complete, split.labels, split.levels, split.rule, descriptions)


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
    rules, parts = [], []
    for biomarker, level in conditions.items():
        values = complete.patients[biomarker].to_numpy(dtype=float)
        split = biomarker_levels(values, plan.cutpoint_of(biomarker), biomarker in complete.biomarker_levels)
        member &= split.labels == level
        rules.append(f"{biomarker} {level}: {split.rule}")
        parts.append(split.describe(biomarker, complete.biomarker_levels.get(biomarker))[level])
    described = " & ".join(parts)
    descriptions = {"yes": described, "no": f"not ({described})"}
    labels = np.where(member, "yes", "no")
    return Grouping(name, "combined", complete, labels, ("no", "yes"), "; ".join(rules), descriptions)


def covariate_grouping(cohort: Cohort, covariate: str) -> Grouping:
    """The patients with a value of ``covariate``, grouped by its levels (sorted; the first is the reference)."""
    complete, _ = cohort.complete_cases([covariate], analysis=f"covariate {covariate}")
    labels = complete.patients[covariate].astype(str).str.strip().to_numpy(dtype=object)
    levels = tuple(sorted(set(labels)))
    descriptions = {level: f"{covariate} = {level}" for level in levels}
    return Grouping(covariate, "covariate", complete, labels, levels, f"levels of {covariate}", descriptions)


def analysis_groupings(cohort: Cohort, plan: SubgroupPlan) -> list[Grouping]:
    """Every grouping the plan asks for: each biomarker, each combined subgroup, each subgroup covariate."""
    groupings = [biomarker_grouping(cohort, b, plan.cutpoint_of(b)) for b in cohort.biomarkers]
    groupings += [combined_grouping(cohort, conditions, plan) for conditions in plan.combined_subgroups]
    groupings += [covariate_grouping(cohort, covariate) for covariate in plan.subgroup_covariates]
    return groupings


def subgroup_table(groupings: list[Grouping]) -> pd.DataFrame:
    """Every subgroup of every grouping with what it means: the rows of ``subgroups.csv``.

    Returns
    -------
    pandas.DataFrame
        ``grouping, kind, level, subgroup`` (the label of result tables), ``description`` (e.g. ``spd_mm2 > 3721``),
        ``n`` (patients) and ``rule``.
    """
    rows = [
        [g.name, g.kind, level, g.subgroup(level), g.description(level), int((g.labels == level).sum()), g.rule]
        for g in groupings
        for level in g.levels
    ]
    return pd.DataFrame(rows, columns=["grouping", "kind", "level", "subgroup", "description", "n", "rule"])


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
