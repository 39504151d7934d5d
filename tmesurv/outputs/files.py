"""The registry of result files: every table tmesurv writes, with its columns, their kinds and its row key.

Writers put a table into a result folder with :func:`write_result`, which checks its columns against the entry and
writes them in the registered order; readers (the report) check a file against the same entry. A column is text unless
the entry lists it among ``numbers`` or ``flags`` (true/false). ``keys`` identify a row: no two rows share them.
``optional`` columns may be absent from a file a reader is given (a file of an older run, or one the report reads
leniently); a writer always writes every column. ``open_ended`` tables have data-dependent columns after the
registered ones (one per response level, one per feature). ``study`` files describe the study's cohort, not one
command's results: the first command of a folder writes them and ``run.json`` lists them as the study's
(:mod:`tmesurv.outputs.run_folder`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tmesurv.outputs.atomic import write_table


@dataclass(frozen=True)
class ResultFile:
    """One result file: its name, its columns in file order, their kinds, and the columns that identify a row."""

    name: str
    columns: tuple[str, ...]
    keys: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    open_ended: bool = False
    study: bool = False

    def __post_init__(self) -> None:
        unknown = [c for c in (*self.keys, *self.numbers, *self.flags, *self.optional) if c not in self.columns]
        if unknown:
            raise ValueError(f"{self.name}: {', '.join(unknown)} not among its columns")

    @property
    def stem(self) -> str:
        """The file name without ``.csv`` (the name of the table in result objects)."""
        return Path(self.name).stem

    @property
    def text(self) -> tuple[str, ...]:
        """The text columns: neither numbers nor flags."""
        return tuple(c for c in self.columns if c not in self.numbers and c not in self.flags)

    @property
    def required(self) -> tuple[str, ...]:
        """The columns a reader requires."""
        return tuple(c for c in self.columns if c not in self.optional)

    def empty(self) -> pd.DataFrame:
        """A table with this file's columns and no rows."""
        return pd.DataFrame(columns=list(self.columns))

    def ordered(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with the registered columns first, in order (then, if open-ended, its other columns).

        Raises
        ------
        ValueError
            If a registered column is missing, or a closed table has columns the registry does not know (a writer's
            bug, not bad user input).
        """
        missing = [c for c in self.columns if c not in table.columns]
        extra = [c for c in table.columns if c not in self.columns]
        if missing or (extra and not self.open_ended):
            raise ValueError(f"{self.name}: missing columns {missing}, unregistered columns {extra}")
        return table[[*self.columns, *extra]]


def write_result(folder: Path, spec: ResultFile, table: pd.DataFrame) -> Path:
    """Write ``table`` as ``folder/<spec.name>`` atomically, its columns checked and ordered by the registry."""
    return write_table(Path(folder) / spec.name, spec.ordered(table))


def _file(name: str, columns: str, keys: str = "", numbers: str = "", flags: str = "", optional: str = "", **kw):
    """Compact entries: column lists as space-separated names."""
    return ResultFile(
        name, tuple(columns.split()), tuple(keys.split()), tuple(numbers.split()), tuple(flags.split()),
        tuple(optional.split()), **kw,
    )  # fmt: skip


TERM_KEYS = "endpoint analysis subgroup term"
HR_SUMMARY = "mean sd hr_mean hr_lower hr_upper prob_hr_below_1"
DIAGNOSTICS = "r_hat ess_bulk ess_tail bfmi_min"

# the study's cohort description (study=True): tmesurv cox or tmesurv bayes, whichever runs first in a folder
COHORT = _file(
    "cohort.csv", "arm patients events median_follow_up", "arm", "patients events median_follow_up", study=True
)
BIOMARKERS = _file(
    "biomarkers.csv", "biomarker n two_level q1 median q3 iqr", "biomarker", "n q1 median q3 iqr", "two_level",
    optional="n median", study=True,
)  # fmt: skip

# tmesurv cox
EXCLUSIONS = _file("exclusions.csv", "analysis reason count unit ids", numbers="count", optional="unit")
KM = _file(
    "km.csv", "endpoint arm subgroup statistic time estimate lower upper n events ci_method",
    numbers="time estimate lower upper n events",
)  # fmt: skip
KM_CURVES = _file(
    "km_curves.csv", "endpoint arm subgroup time survival lower upper at_risk",
    numbers="time survival lower upper at_risk",
)  # fmt: skip
SUBGROUPS = _file("subgroups.csv", "grouping kind level subgroup description n rule", "grouping level", "n")
LOGRANK = _file(
    "logrank.csv", "endpoint comparison subgroup n events chisq df p", "endpoint comparison subgroup",
    "n events chisq df p",
)  # fmt: skip
COX = _file(
    "cox.csv",
    f"{TERM_KEYS} n events n_treated events_treated n_control events_control coef se hr hr_lower hr_upper p",
    TERM_KEYS,
    "n events n_treated events_treated n_control events_control coef se hr hr_lower hr_upper p",
    optional="n_treated events_treated n_control events_control",
)
INTERACTIONS = _file(
    "interactions.csv", "endpoint grouping scale n events df wald_chisq wald_p lrt_chisq lrt_p rule",
    "endpoint grouping scale", "n events df wald_chisq wald_p lrt_chisq lrt_p",
    optional="n events df wald_chisq lrt_chisq rule",
)  # fmt: skip
PH_TEST = _file(
    "ph_test.csv", "endpoint analysis subgroup model term transform chisq df p",
    "endpoint analysis subgroup model term transform", "chisq df p",
)  # fmt: skip
PH_RESIDUALS = _file(
    "ph_residuals.csv", "endpoint analysis subgroup term transform time transformed_time residual",
    numbers="time transformed_time residual",
)  # fmt: skip
SCREEN_COX = _file(
    "screen_cox.csv", "endpoint arm feature n events coef se hr hr_lower hr_upper p q note", "endpoint arm feature",
    "n events coef se hr hr_lower hr_upper p q",
)  # fmt: skip
SCREEN_RESPONSE = _file(
    "screen_response.csv",
    "arm feature n_group n_rest statistic median_group median_rest median_difference log2_fold_change p q method level",
    "arm feature", "n_group n_rest statistic median_group median_rest median_difference log2_fold_change p q",
)  # fmt: skip
SCREEN_RESPONSE_GROUPS = _file(
    "screen_response_groups.csv", "arm feature n groups statistic df p q", "arm feature", "n groups statistic df p q",
    open_ended=True,  # then median_<level> per response level
)  # fmt: skip
SCREEN_COMPLETE_RESPONSE = _file(
    "screen_complete_response.csv", "arm feature n events coef se odds_ratio or_lower or_upper p q note level",
    "arm feature", "n events coef se odds_ratio or_lower or_upper p q",
)  # fmt: skip
CORRELATIONS = _file("correlations.csv", "x y n rho statistic p q method", "x y", "n rho statistic p q")
CLUSTERS = _file("clusters.csv", "feature cluster", "feature", "cluster")
CLUSTER_CORRELATION = _file("cluster_correlation.csv", "feature", "feature", open_ended=True)  # one column per feature
CLUSTER_LINKAGE = _file("cluster_linkage.csv", "left right height size", numbers="left right height size")
CLUSTER_INDICES = _file("cluster_indices.csv", "id cluster index", "id cluster", "index")
PCA_LOADINGS = _file("pca_loadings.csv", "feature component loading", "feature component", "loading")
PCA_SCORES = _file("pca_scores.csv", "id component score", "id component", "score")
PCA_EXPLAINED = _file(
    "pca_explained.csv", "component variance proportion cumulative", "component", "variance proportion cumulative"
)
PRODUCT_ASSOCIATIONS = _file(
    "product_associations.csv",
    "attribute outcome n events median_with median_without wilcoxon_w wilcoxon_method wilcoxon_p wilcoxon_q coef se "
    "odds_ratio or_lower or_upper iqr or_per_iqr or_per_iqr_lower or_per_iqr_upper logistic_p logistic_q note",
    "attribute outcome",
    "n events median_with median_without wilcoxon_w wilcoxon_p wilcoxon_q coef se odds_ratio or_lower or_upper iqr "
    "or_per_iqr or_per_iqr_lower or_per_iqr_upper logistic_p logistic_q",
    optional="wilcoxon_w wilcoxon_method coef se odds_ratio or_lower or_upper note",
)
PRODUCT_SUBGROUPS = _file(
    "product_subgroups.csv",
    "endpoint attribute biomarker group n events statistic time estimate lower upper df p rule",
    "endpoint attribute biomarker group statistic time",
    "n events time estimate lower upper df p",
)

# tmesurv bayes
SAMPLER = "target_accept reruns"  # how the reported run was sampled (divergence re-runs)
# bayes, bayes_curves, bayes_survival, bayes_fit_check: rows of every compared model (model: bayes.model's first)
BAYES = _file(
    "bayes.csv", f"{TERM_KEYS} model {HR_SUMMARY} {DIAGNOSTICS} converged divergences {SAMPLER} note",
    f"{TERM_KEYS} model", f"{HR_SUMMARY} {DIAGNOSTICS} divergences {SAMPLER}", "converged",
    optional=f"ess_tail bfmi_min divergences {SAMPLER} note",
)  # fmt: skip
BAYES_CURVES = _file(
    "bayes_curves.csv", "endpoint arm subgroup model time survival lower upper", "endpoint arm subgroup model time",
    "time survival lower upper",
)  # fmt: skip
BAYES_SURVIVAL = _file(
    "bayes_survival.csv",
    "endpoint subgroup model arm statistic time estimate lower upper reached prob_beyond_follow_up follow_up",
    "endpoint subgroup model arm statistic time",
    "time estimate lower upper prob_beyond_follow_up follow_up", flags="reached",
    optional="reached prob_beyond_follow_up follow_up",
)  # fmt: skip
BAYES_HR_CURVE = _file(
    "bayes_hr_curve.csv", f"endpoint biomarker value hr lower upper prob_hr_below_1 converged divergences {SAMPLER}",
    "endpoint biomarker value", f"value hr lower upper prob_hr_below_1 divergences {SAMPLER}", "converged",
    optional=f"prob_hr_below_1 divergences {SAMPLER}",
)  # fmt: skip
BAYES_SCREEN = _file(
    "bayes_screen.csv",
    f"endpoint shrinkage biomarker term n events biomarker_mean biomarker_sd {HR_SUMMARY} kappa {DIAGNOSTICS} "
    f"converged divergences max_treedepth {SAMPLER}",
    "endpoint biomarker",
    f"n events biomarker_mean biomarker_sd {HR_SUMMARY} kappa {DIAGNOSTICS} divergences max_treedepth {SAMPLER}",
    "converged",
    optional=f"shrinkage term n events biomarker_mean biomarker_sd kappa ess_tail bfmi_min max_treedepth {SAMPLER}",
)
BAYES_TIME_VARYING = _file(
    "bayes_time_varying.csv",
    f"endpoint analysis subgroup interval start end events {HR_SUMMARY} {DIAGNOSTICS} converged divergences",
    "endpoint analysis subgroup interval",
    f"interval start end events {HR_SUMMARY} {DIAGNOSTICS} divergences",
    "converged",
    optional="sd ess_bulk ess_tail bfmi_min divergences",
)
BAYES_FIT_CHECK = _file(
    "bayes_fit_check.csv",
    "endpoint analysis subgroup model arm n events follow_up max_abs_difference largest_at mean_abs_difference "
    "share_in_band misfit",
    "endpoint analysis subgroup model arm",
    "n events follow_up max_abs_difference largest_at mean_abs_difference share_in_band",
    "misfit",
)
BAYES_LOO = _file(
    "bayes_loo.csv", "endpoint analysis subgroup model elpd_loo se p_loo elpd_diff dse n_pareto_k_high rank",
    "endpoint analysis subgroup model", "elpd_loo se p_loo elpd_diff dse n_pareto_k_high rank",
)  # fmt: skip
BAYES_PRIOR_PREDICTIVE = _file(
    "bayes_prior_predictive.csv", "endpoint statistic arm time estimate lower upper observed prob_below_observed",
    numbers="time estimate lower upper observed prob_below_observed", optional="time observed prob_below_observed",
)  # fmt: skip
BAYES_CURE = _file(
    "bayes_cure.csv",
    "endpoint analysis subgroup arm mean sd lower upper prob_above_zero r_hat ess_bulk ess_tail converged n events "
    "last_event max_follow_up median_follow_up at_risk_after_last_event km_at_last_event maller_zhou_p "
    "plateau_supported",
    "endpoint analysis subgroup arm",
    "mean sd lower upper prob_above_zero r_hat ess_bulk ess_tail n events last_event max_follow_up median_follow_up "
    "at_risk_after_last_event km_at_last_event maller_zhou_p",
    "converged plateau_supported",
)

# tmesurv validate
VALIDATION = _file(
    "validation.csv", "model metric group horizon estimate lower upper n events note",
    numbers="horizon estimate lower upper n events", optional="model group horizon lower upper n events note",
)  # fmt: skip
BENEFIT = _file(
    "benefit.csv",
    "model horizon group benefit_from benefit_to n events n_treated n_control predicted observed lower upper note",
    "model horizon group",
    "horizon benefit_from benefit_to n events n_treated n_control predicted observed lower upper",
)
CASE_MIX = _file(
    "case_mix.csv", "covariate mean_development mean_external pooled_sd smd", "covariate",
    "mean_development mean_external pooled_sd smd",
)  # fmt: skip
HARMONISATION = _file(
    "harmonisation.csv",
    "term method development_mean development_sd external_mean_before external_sd_before external_mean_after "
    "external_sd_after note",
    "term",
    "development_mean development_sd external_mean_before external_sd_before external_mean_after external_sd_after",
)
CALIBRATION_CURVES = _file(
    "calibration_curves.csv", "model horizon kind group predicted observed lower upper n",
    numbers="horizon group predicted observed lower upper n",
)  # fmt: skip
SURVIVAL_CURVES = _file(
    "survival_curves.csv", "time survival lower upper model curve", numbers="time survival lower upper"
)
DECISION_CURVE = _file(
    "decision_curve.csv", "model decision horizon threshold net_benefit treat_all treat_none",
    "model decision horizon threshold", "horizon threshold net_benefit treat_all treat_none",
)  # fmt: skip
PREDICTIONS = _file(
    "predictions.csv", "model id horizon linear_predictor risk risk_control risk_treated benefit", "model id horizon",
    "horizon linear_predictor risk risk_control risk_treated benefit",
)  # fmt: skip

# tmesurv power, tmesurv simulate calibrate
POWER_SETTINGS = ("design", "n", "interaction_hr", "prognostic_hr", "prevalence", "follow_up", "dropout_per_year")
POWER = _file(
    "power.csv",
    f"{' '.join(POWER_SETTINGS)} method estimand power power_mcse bias bias_mcse rmse rmse_mcse coverage "
    "coverage_mcse failed_share error_share flagged_share truth mean_events mean_events_mcse analytic_power",
    numbers="n interaction_hr prognostic_hr prevalence follow_up dropout_per_year power power_mcse bias bias_mcse rmse "
    "rmse_mcse coverage coverage_mcse failed_share error_share flagged_share truth mean_events mean_events_mcse "
    "analytic_power",
    optional=f"{' '.join(POWER_SETTINGS)} estimand power_mcse bias bias_mcse rmse rmse_mcse coverage coverage_mcse "
    "failed_share error_share flagged_share truth mean_events mean_events_mcse analytic_power",
)
POWER_ERRORS = _file(
    "power_errors.csv",
    f"{' '.join(POWER_SETTINGS)} method message replicates first_replicate",
    keys=f"{' '.join(POWER_SETTINGS)} method message",
    numbers="n interaction_hr prognostic_hr prevalence follow_up dropout_per_year replicates first_replicate",
)
VALIDATION_SIZE_METRICS = (
    "mean_estimate sd_estimate sd_estimate_mcse mean_ci_width target_width p_target p_target_mcse p_detect "
    "p_detect_mcse failed_share"
)
VALIDATION_SIZE = _file(
    "validation_size.csv",
    f"n calibration_slope oe metric {VALIDATION_SIZE_METRICS} mean_events mean_events_at_horizon",
    "n calibration_slope oe metric",
    f"n calibration_slope oe {VALIDATION_SIZE_METRICS} mean_events mean_events_at_horizon",
    optional=VALIDATION_SIZE_METRICS,  # blank where a metric has no interval, no target or no estimate
)  # tmesurv power with a validation-size study: precision per cohort size and metric
VALIDATION_SIZE_N = _file(
    "validation_size_n.csv", "calibration_slope oe chosen_n target_probability targets population",
    "calibration_slope oe",
    "calibration_slope oe chosen_n target_probability", optional="chosen_n",  # blank: no n of the grid meets them
)  # fmt: skip
CALIBRATION = _file(
    "calibration.csv", "target published simulated_mean mc_se tolerance ok source", "target",
    "published simulated_mean mc_se tolerance", "ok",
)  # fmt: skip


REGISTRY: dict[str, ResultFile] = {
    entry.stem: entry for entry in list(globals().values()) if isinstance(entry, ResultFile)
}
"""Every result file by stem (``cox``, ``bayes``, ...)."""

STUDY_FILES = frozenset(entry.name for entry in REGISTRY.values() if entry.study)
"""The names of the files that describe the study (its cohort): written once per folder, owned by the study."""


def write_results(folder: Path, tables: dict[str, pd.DataFrame]) -> list[Path]:
    """Write tables by stem (keys of :data:`REGISTRY`), each checked and ordered by its entry; return the paths."""
    return [write_result(folder, REGISTRY[stem], table) for stem, table in tables.items()]
