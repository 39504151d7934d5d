"""CAR T product and PK analyses of the treated arm: associations with outcomes, attribute x biomarker subgroups.

* ``product_associations``: per attribute x outcome, the Wilcoxon rank-sum test of the attribute between patients
  with and without the outcome (:func:`~tmesurv.models.screens.association.rank_sum_screen`: R's exact/normal rule) and
  the univariable logistic regression (:func:`~tmesurv.models.screens.association.logistic_screen`), with the odds ratio
  per unit of the attribute and per interquartile range (IQR, R's type 7 quartiles of the patients in the fit; the same
  fit rescaled, so the same P). BH q values are taken over the whole table, separately for the Wilcoxon and the
  logistic P values.
* ``product_subgroups``: per (attribute, biomarker), the treated patients with both values in four groups: attribute
  high/low (strictly above the median of the treated patients with a value) x biomarker high/low at its cut-point of
  the analysis section (the same groups as in cox.csv: a median cut is the median over both arms). Per group the
  Kaplan-Meier median and landmark survival; the log-rank test across the groups; the Cox hazard ratio of each
  group against the reference group ``low/low``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tmesurv.arms import TREATED
from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import InputError, describe_rows
from tmesurv.models.cox.analyses import level_contrasts
from tmesurv.models.cox.km import fit_km, km_summary, logrank
from tmesurv.models.cox.settings import CiMethod, Cutpoint, SubgroupPlan
from tmesurv.models.cox.subgroups import Grouping, biomarker_grouping, biomarker_levels
from tmesurv.models.product.settings import OutcomeSpec, ProductAnalysisSpec
from tmesurv.models.screens.association import bh_qvalues, logistic_screen, rank_sum_screen, wald_ratio

ASSOCIATION_COLUMNS = [
    "attribute",
    "outcome",
    "n",
    "events",
    "median_with",
    "median_without",
    "wilcoxon_w",
    "wilcoxon_method",
    "wilcoxon_p",
    "wilcoxon_q",
    "coef",
    "se",
    "odds_ratio",
    "or_lower",
    "or_upper",
    "iqr",
    "or_per_iqr",
    "or_per_iqr_lower",
    "or_per_iqr_upper",
    "logistic_p",
    "logistic_q",
    "note",
]
SUBGROUP_COLUMNS = [
    "endpoint",
    "attribute",
    "biomarker",
    "group",
    "n",
    "events",
    "statistic",
    "time",
    "estimate",
    "lower",
    "upper",
    "df",
    "p",
    "rule",
]
WILCOXON_NAMES = {
    "median_group": "median_with",
    "median_rest": "median_without",
    "statistic": "wilcoxon_w",
    "method": "wilcoxon_method",
    "p": "wilcoxon_p",
}
LEVELS = ("low", "high")
REFERENCE = "low/low"


@dataclass
class ProductResults:
    """Tables by output name, the Kaplan-Meier step curves per grouping name, exclusions and notes."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    exclusions: list[Exclusion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def product_analyses(
    cohort: Cohort,
    spec: ProductAnalysisSpec,
    endpoint: str,
    plan: SubgroupPlan,
    landmarks: Sequence[float],
    km_ci: CiMethod = "log-log",
) -> ProductResults:
    """Run the ``product`` section's analyses on the treated arm.

    Parameters
    ----------
    cohort
        The validated cohort, with the product columns the section names.
    spec
        The config's ``product`` section: attributes, outcomes and attribute x biomarker subgroups.
    endpoint
        The endpoint of the subgroup analyses.
    plan
        The subgroup plan (such as the config's analysis section), for each biomarker's cut-point.
    landmarks
        Times (months) of the Kaplan-Meier landmark survival.
    km_ci
        The Kaplan-Meier interval scale.

    Returns
    -------
    ProductResults
        ``product_associations`` (columns :data:`ASSOCIATION_COLUMNS`) when the section has outcomes,
        ``product_subgroups`` (:data:`SUBGROUP_COLUMNS`) when it has subgroups.
    """
    results = ProductResults()
    treated = cohort.arm_subset(TREATED)
    for attribute in spec.attributes:
        results.exclusions += treated.complete_cases([attribute], f"product attribute {attribute}")[1]
    if spec.outcomes:
        rows = [_associations(treated, spec.attributes, name, o, results) for name, o in spec.outcome_specs().items()]
        table = pd.concat(rows, ignore_index=True)
        table["wilcoxon_q"], table["logistic_q"] = bh_qvalues(table["wilcoxon_p"]), bh_qvalues(table["logistic_p"])
        results.tables["product_associations"] = table[ASSOCIATION_COLUMNS]
    if spec.subgroups:
        subgroups = _SubgroupAnalysis(endpoint, plan, tuple(landmarks), km_ci)
        tables = [_subgroup_rows(cohort, subgroups, s.attribute, s.biomarker, results) for s in spec.subgroups]
        results.tables["product_subgroups"] = pd.concat(tables, ignore_index=True)[SUBGROUP_COLUMNS]
    return results


def _associations(
    treated: Cohort, attributes: list[str], name: str, outcome: OutcomeSpec, results: ProductResults
) -> pd.DataFrame:
    """Wilcoxon and logistic rows of every attribute for one outcome (patients with the outcome known)."""
    assessed, excluded = treated.complete_cases([outcome.column], analysis=f"product outcome {name}")
    results.exclusions += excluded
    y = _binary_outcome(assessed, outcome)
    values = assessed.patients[attributes]
    logistic = logistic_screen(values, y).set_index("feature").rename(columns={"p": "logistic_p"})
    ranks = rank_sum_screen(values, y == 1).set_index("feature").rename(columns=WILCOXON_NAMES)
    table = logistic.join(ranks[list(WILCOXON_NAMES.values())]).rename_axis("attribute").reset_index()
    table["outcome"] = name
    table["iqr"] = [_iqr(values[a].to_numpy(dtype=float)) for a in attributes]
    names = ("or_per_iqr", "or_per_iqr_lower", "or_per_iqr_upper")
    per_iqr = wald_ratio(table["coef"] * table["iqr"], table["se"] * table["iqr"], 0.05, names)
    return table.assign(**{name: per_iqr[name] for name in names})


def _binary_outcome(cohort: Cohort, outcome: OutcomeSpec) -> np.ndarray:
    """1/0 per patient: a value among ``levels``, or the 0/1 column itself (anything else is an InputError)."""
    values = cohort.patients[outcome.column]
    if outcome.levels is not None:
        return values.astype(str).isin(outcome.levels).to_numpy(dtype=float)
    numbers = values.to_numpy(dtype=float)
    bad = ~np.isin(numbers, (0.0, 1.0))
    if bad.any():
        raise InputError(
            f"file '{cohort.source}', column '{outcome.column}', {describe_rows(list(cohort.patients.index[bad]))} "
            f"(ids): a product outcome without levels must be 0 or 1, found {numbers[bad][0]:g}. Recode the column, "
            "or give product.outcomes levels of a data.responses column."
        )
    return numbers


def _iqr(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(np.subtract(*np.quantile(known, [0.75, 0.25]))) if known.size else np.nan


@dataclass(frozen=True)
class _SubgroupAnalysis:
    """What the attribute x biomarker subgroup analyses take besides the product section."""

    endpoint: str
    plan: SubgroupPlan
    landmarks: tuple[float, ...]
    km_ci: CiMethod


def _subgroup_rows(
    cohort: Cohort, analysis: _SubgroupAnalysis, attribute: str, biomarker: str, results: ProductResults
) -> pd.DataFrame:
    """Kaplan-Meier, log-rank and Cox rows of the four attribute x biomarker groups of the treated arm."""
    grouping = _product_grouping(cohort, attribute, biomarker, analysis.plan.cutpoint_of(biomarker), results)
    endpoint, members = analysis.endpoint, grouping.cohort
    context = {"endpoint": endpoint, "attribute": attribute, "biomarker": biomarker, "rule": grouping.rule}
    rows, curves = [], []
    for level in grouping.levels:
        patients = members.subset(grouping.labels == level)
        counts = {"group": level, "n": patients.n, "events": int(patients.event(endpoint).sum())}
        if patients.n:
            curve = fit_km(patients.time(endpoint), patients.event(endpoint), analysis.km_ci)
            rows += [context | counts | row for row in km_summary(curve, analysis.landmarks)]
            curves.append(curve.assign(endpoint=endpoint, arm=TREATED, subgroup=grouping.subgroup(level)))
    chisq, df, p = logrank(members.time(endpoint), members.event(endpoint), grouping.labels)
    total = {"group": "all", "n": members.n, "events": int(members.event(endpoint).sum())}
    rows.append(context | total | {"statistic": "logrank", "estimate": chisq, "df": df, "p": p})
    rows += _hazard_ratio_rows(grouping, endpoint, context, results.notes)
    if curves:
        results.curves[grouping.name] = pd.concat(curves, ignore_index=True)
    return pd.DataFrame(rows, columns=SUBGROUP_COLUMNS)


def _hazard_ratio_rows(grouping: Grouping, endpoint: str, context: dict, notes: list[str]) -> list[dict]:
    fitted = level_contrasts(grouping, endpoint, "product_subgroup", notes)
    rows = []
    for level, fit in zip(grouping.levels[1:], fitted.itertuples(), strict=True):
        patients = grouping.labels == level
        counts = {"group": level, "n": int(patients.sum())}
        counts["events"] = int(grouping.cohort.event(endpoint)[patients].sum())
        estimate = {"estimate": fit.hr, "lower": fit.hr_lower, "upper": fit.hr_upper, "p": fit.p}
        rows.append(context | counts | {"statistic": f"hr_vs_{REFERENCE}"} | estimate)
    return rows


def _product_grouping(
    cohort: Cohort, attribute: str, biomarker: str, cutpoint: Cutpoint, results: ProductResults
) -> Grouping:
    """Treated patients with both values, labelled ``<attribute level>/<biomarker level>``; ``low/low`` first."""
    markers = biomarker_grouping(cohort, biomarker, cutpoint)
    marker_level = pd.Series(markers.labels, index=markers.cohort.patients.index)
    treated = cohort.arm_subset(TREATED)
    valued, _ = treated.complete_cases([attribute], analysis=f"product attribute {attribute}")
    values = valued.patients[attribute].to_numpy(dtype=float)
    attribute_split = biomarker_levels(values, "median", two_level=False)
    attribute_level = pd.Series(attribute_split.labels, index=valued.patients.index)
    name = f"{attribute}/{biomarker}"
    both, excluded = treated.complete_cases([attribute, biomarker], analysis=f"product subgroup {name}")
    results.exclusions += excluded
    index = both.patients.index
    labels = (attribute_level[index] + "/" + marker_level[index]).to_numpy(dtype=object)
    levels = tuple(f"{a}/{b}" for a in LEVELS for b in LEVELS)
    rule = f"{attribute}: {attribute_split.rule} of the treated arm; {biomarker}: {markers.rule}"
    return Grouping(name, "product", both, labels, levels, rule)
