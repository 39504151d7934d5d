"""Summary section: per analysis the model the data prefer by PSIS-LOO, and its treatment effect in its own terms.

It leads the report (after the cohort). Per endpoint, for all patients: which model the data prefer
(:func:`~tmesurv.models.pwe.compare.preference` on ``bayes_loo.csv``), the headline treatment effect of that model
first and of ``bayes.model`` (the model of the tables) after it, and the Kaplan-Meier numbers that need no model
(``km.csv``). A cure model's effect is the cure fraction per arm and their difference (``bayes_cure.csv``) and the
odds ratios of cure and the hazard ratio among the uncured (its rows of ``bayes.csv``, which holds the terms of every
fitted model); a proportional-hazards model's is its hazard ratio with the PH test beside it (``bayes.csv``,
``ph_test.csv``); a
time-varying model's the hazard ratio per period (``bayes_time_varying.csv``). The interaction and subgroup analyses
follow in one table, and one sentence says when the tables come from a model the data do not prefer. Without a
comparison (a single model) it shows ``bayes.model``'s effect alone. Nothing is extrapolated: a Kaplan-Meier median
not reached is NR, a landmark after the follow-up "beyond follow-up", and a cure fraction whose plateau the follow-up
does not support says it is an extrapolation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tmesurv.arms import CONTROL, TREATED
from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.models.pwe.compare import CLEAR_ELPD_DIFFERENCE, CLEAR_SE_MULTIPLE, clearly_better, preference
from tmesurv.models.pwe.registry import CURE, PH, TIME_VARYING
from tmesurv.models.pwe.survival import DIFFERENCE
from tmesurv.reports.format import (
    NOT_ESTIMABLE,
    NOT_REACHED,
    PER_UNIT,
    Column,
    Row,
    Table,
    TermScale,
    arm_label,
    failed_diagnostics,
    format_interval,
    format_p,
    format_posterior_hr,
    format_probability,
    format_text,
    scaled_interval,
    term_scales,
)
from tmesurv.reports.results import Results, bayes_model_name, of_model
from tmesurv.reports.sections.km import BEYOND_FOLLOW_UP
from tmesurv.reports.sections.ph import PH_MARK, ph_p_values, ph_rejected

FIT_KEYS = ["endpoint", "analysis", "subgroup"]
TREATMENT, INTERACTION = "treatment", "interaction"
ARMS = (CONTROL, TREATED)
TABLES_ROLE = "bayes.model: the model of the tables"
NOT_CONVERGED_TEXT = "not converged: do not interpret"
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Effect:
    """A model's headline treatment effect in one analysis: model, text, whether it needs a warning, its role."""

    model: str
    text: str
    flagged: bool = False
    role: str = ""


@dataclass(frozen=True)
class Lead:
    """All patients of one endpoint: the verdict of PSIS-LOO, the effects (preferred first), Kaplan-Meier."""

    endpoint: str
    verdict: str
    effects: tuple[Effect, ...]
    km: str | None


@dataclass(frozen=True)
class SummarySection:
    """The leads per endpoint, the pointer to the preferred model, the other analyses, and the rule of preference."""

    leads: tuple[Lead, ...]
    pointer: str | None
    analyses: Table | None
    rule: str


@dataclass(frozen=True)
class Inputs:
    """What the effects are read from: the result files, the arm names and the model of the tables."""

    results: Results
    names: Mapping[str, str]
    tables_model: str

    @property
    def scales(self) -> dict[str, TermScale]:
        """How each biomarker's interaction is stated (per IQR, 1 vs 0)."""
        return term_scales(self.results.biomarkers)


def tables_model(results: Results) -> str:
    """``bayes.model``: the model of bayes.csv and of the other Bayesian tables (ph without a Bayesian run)."""
    return bayes_model_name(results) or PH


def misfit_pointer(results: Results) -> str:
    """What a misfit of the tables' model points to: the models without proportional hazards, for a ph fit."""
    if tables_model(results) != PH:
        return "See the summary for the model the data prefer by PSIS-LOO."
    return (
        f"These are fits of the proportional-hazards model (bayes.model: {PH}): where it misses Kaplan-Meier, its "
        "hazard ratio averages an effect that changes over time or a cured fraction; see the time-varying "
        f"(bayes.model: {TIME_VARYING}) and cure (bayes.model: {CURE}) models, and the summary for the model the data "
        "prefer by PSIS-LOO."
    )


def ranked_models(rows: pd.DataFrame) -> tuple[str, bool]:
    """The best model of one analysis's ``bayes_loo.csv`` rows, and whether the data clearly prefer it."""
    ranked = rows.sort_values("rank")
    if len(ranked) < 2:
        return str(ranked.iloc[0]["model"]), False
    runner_up = ranked.iloc[1]
    return str(ranked.iloc[0]["model"]), clearly_better(float(runner_up["elpd_diff"]), float(runner_up["dse"]))


def verdict_text(rows: pd.DataFrame, tables: str) -> str:
    """In words, what PSIS-LOO says of one analysis (see :func:`~tmesurv.models.pwe.compare.preference`)."""
    said = preference(rows)
    if said is None:
        return f"no comparison (bayes.model: {tables} alone)"
    best, clear = ranked_models(rows)
    if clear:
        return f"the data prefer {best} ({said})"
    return f"no clear preference (best: {said.removeprefix('no clear preference: ')})"


def effect(model: str, key: Key, inputs: Inputs) -> Effect:
    """The headline effect of ``model`` in the analysis ``key``, from the files that hold it."""
    describe = EFFECTS.get(model)
    if describe is None:
        return Effect(model, f"no headline effect for model '{model}'; see its tables")
    return describe(key, inputs)


def cure_effect(key: Key, inputs: Inputs) -> Effect:
    """Cure fraction per arm and their difference (``bayes_cure.csv``); odds ratios of the cure rows of bayes.csv."""
    cure = inputs.results.bayes_cure
    rows = None if cure is None else _cure_rows(cure, key)
    if rows is None or rows.empty:
        return Effect(CURE, "no cure fractions in these results (bayes_cure.csv)")
    parts = _cure_fraction_parts(rows, key, inputs)
    bayes = of_model(inputs.results.bayes, CURE)  # the cure model's terms, whether bayes.model or compared
    terms = [f"{CURE}:arm", "latency:arm"] if key[1] != INTERACTION else [f"{CURE}:arm:{key[2]}"]
    labels = {
        f"{CURE}:arm": "odds ratio of cure (treated vs control)",
        "latency:arm": "secondary: HR among the uncured",
        f"{CURE}:arm:{key[2]}": f"odds ratio of cure of the interaction (arm x {key[2]}, {_scale(key, inputs).label})",
    }
    for term in terms:
        row = _term_row(bayes, key, term)
        if row is not None and not pd.isna(row["mean"]):
            parts.append(f"{labels[term]} {_ratio(row, inputs, key)}")
    unsupported = [arm_label(arm, inputs.names, role=False) for arm in ARMS if _unsupported(rows, arm)]
    text = "; ".join(parts)
    if unsupported:
        text += (
            f" (an extrapolation for {', '.join(unsupported)}: the follow-up does not support a cure plateau, "
            "see the cure section)"
        )
    failed = any(failed_diagnostics(value) for value in rows["converged"])
    return Effect(CURE, _converged(text, failed), bool(unsupported) or failed)


def ph_effect(key: Key, inputs: Inputs) -> Effect:
    """The hazard ratio, P(HR<1) and the PH test (``bayes.csv``, model ph); the Cox HR when ph was not fitted."""
    term = "arm" if key[1] != INTERACTION else f"arm:{key[2]}"
    tests = ph_p_values(inputs.results.ph_test)
    test = ""
    if (*key, term) in tests:
        mark = f" {PH_MARK} (proportional hazards rejected)" if ph_rejected(tests, (*key, term)) else ""
        test = f"; PH test P {format_p(tests[(*key, term)])}{mark}"
    scale = _scale(key, inputs)
    label = "treatment HR" if key[1] != INTERACTION else f"interaction HR (arm x {key[2]}, {scale.label})"
    row = _term_row(of_model(inputs.results.bayes, PH), key, term)
    if row is not None and pd.isna(row["mean"]):
        return Effect(PH, f"{label}: {format_text(row['note']) or NOT_ESTIMABLE}", True)  # the note says why
    if row is not None:
        text = f"{label} {_ratio(row, inputs, key)}, P(HR<1) {format_probability(row['prob_hr_below_1'])}{test}"
        failed = failed_diagnostics(row["converged"])
        return Effect(PH, _converged(text, failed), failed)
    cox = _term_row(inputs.results.cox, key, term)
    if cox is None:
        return Effect(PH, f"its hazard ratio is in bayes.csv when {PH} is bayes.model or in bayes.compare")
    interval = scaled_interval(cox["hr"], cox["hr_lower"], cox["hr_upper"], scale.factor)
    return Effect(
        PH,
        f"Cox {label} {interval}, Wald P {format_p(cox['p'])}{test} (bayes.csv has the Bayesian HR "
        f"when {PH} is bayes.model or in bayes.compare)",
    )


def time_varying_effect(key: Key, inputs: Inputs) -> Effect:
    """The treatment hazard ratio per period (``bayes_time_varying.csv``) of a treatment or subgroup fit."""
    periods = inputs.results.bayes_time_varying
    rows = None if periods is None else _fit_rows(periods, key)
    if rows is None or rows.empty:
        return Effect(
            TIME_VARYING,
            "no per-period hazard ratios for this analysis (bayes_time_varying.csv holds the "
            "treatment and subgroup fits)",
        )
    cells = []
    for row in rows.sort_values("interval").to_dict("records"):
        period = (
            f"after {row['start']:.1f}" if not np.isfinite(row["end"]) else f"{row['start']:.1f}\u2013{row['end']:.1f}"
        )
        cells.append(f"{period}: {format_posterior_hr(row['mean'], row['hr_lower'], row['hr_upper'])}")
    failed = any(failed_diagnostics(value) for value in rows["converged"])
    return Effect(TIME_VARYING, _converged("treatment HR by period (months) " + "; ".join(cells), failed), failed)


EFFECTS: dict[str, Callable[[Key, Inputs], Effect]] = {
    CURE: cure_effect,
    PH: ph_effect,
    TIME_VARYING: time_varying_effect,
}


def km_text(km: pd.DataFrame | None, endpoint: str, names: Mapping[str, str]) -> str | None:
    """Kaplan-Meier medians and landmark survival of all patients per arm; NR and "beyond follow-up", never guessed."""
    if km is None:
        return None
    rows = km[(km["endpoint"] == endpoint) & (km["subgroup"].fillna(ALL_PATIENTS) == ALL_PATIENTS)]
    parts = []
    medians = rows[rows["statistic"] == "median"]
    if not medians.empty:
        parts.append("median (months) " + _per_arm(medians, names, 1, NOT_REACHED))
    landmarks = rows[rows["statistic"] == "survival"]
    for time, at in landmarks.groupby("time", sort=True):
        parts.append(f"survival at {time:g} months " + _per_arm(at, names, 2, BEYOND_FOLLOW_UP))
    return "; ".join(parts) if parts else None


def _per_arm(rows: pd.DataFrame, names: Mapping[str, str], digits: int, missing: str) -> str:
    shown = []
    for arm in (*ARMS, *(a for a in pd.unique(rows["arm"]) if a not in ARMS)):
        for record in rows[rows["arm"] == arm].to_dict("records"):
            value = format_interval(record["estimate"], record["lower"], record["upper"], digits, missing=missing)
            shown.append(f"{arm_label(arm, names, role=False)} {value}")
    return ", ".join(shown)


def pointer_sentence(loo: pd.DataFrame | None, tables: str) -> str | None:
    """One sentence when the data clearly prefer another model than bayes.model in some analyses; else None."""
    if loo is None:
        return None
    preferred = []
    for _, rows in loo.groupby(FIT_KEYS, sort=False):
        best, clear = ranked_models(rows)
        if clear and best != tables and tables in set(rows["model"]):
            preferred.append(best)
    if not preferred:
        return None
    model, _ = Counter(preferred).most_common(1)[0]
    compared = sum(len(rows) > 1 for _, rows in loo.groupby(FIT_KEYS, sort=False))
    return (
        f"The tables of this report come from bayes.model: {tables}, which the data do not prefer: they clearly prefer "
        f"{model} in {preferred.count(model)} of {compared} compared analyses; rerun with bayes.model: {model} to have "
        "the tables, curves and checks from it."
    )


def lead(endpoint: str, inputs: Inputs) -> Lead:
    """The all-patients summary of ``endpoint``: verdict, effects of the best model then bayes.model's, KM."""
    key = (endpoint, TREATMENT, ALL_PATIENTS)
    loo = inputs.results.bayes_loo
    rows = None if loo is None else _fit_rows(loo, key)
    roles: dict[str, list[str]] = {}
    if rows is None or len(rows) < 2:
        verdict = f"no comparison (bayes.model: {inputs.tables_model} alone)"
    else:
        verdict = verdict_text(rows, inputs.tables_model)
        best, clear = ranked_models(rows)
        roles[best] = ["preferred by PSIS-LOO" if clear else "best by PSIS-LOO, not clearly"]
    roles.setdefault(inputs.tables_model, []).append(TABLES_ROLE)
    effects = tuple(replace(effect(model, key, inputs), role="; ".join(role)) for model, role in roles.items())
    return Lead(endpoint, verdict, effects, km_text(inputs.results.km, endpoint, inputs.names))


def analyses_table(inputs: Inputs) -> Table | None:
    """The interaction and subgroup analyses compared by PSIS-LOO: the verdict and the best model's effect."""
    loo = inputs.results.bayes_loo
    if loo is None:
        return None
    table_rows = []
    for key, rows in loo.groupby(FIT_KEYS, sort=False):
        if key[1] == TREATMENT or rows["model"].nunique() < 2:
            continue
        best, _ = ranked_models(rows)
        shown = effect(best, key, inputs)
        cells = (str(key[0]), str(key[1]), str(key[2]), verdict_text(rows, inputs.tables_model), shown.text)
        table_rows.append(Row(cells, flagged=shown.flagged))
    if not table_rows:
        return None
    columns = (
        Column("Endpoint"),
        Column("Analysis"),
        Column("Patients"),
        Column("PSIS-LOO"),
        Column("Effect of the best model by PSIS-LOO, in its own terms"),
    )
    caption = (
        "Per interaction and subgroup analysis, what PSIS-LOO says (the best model, the runner-up and their elpd "
        "difference with its standard error) and the best model's treatment effect: cure fractions and their "
        "difference (cure), the hazard ratio (ph), or the hazard ratio per period (time_varying). Flagged: not "
        "converged, or a cure fraction that rests on a plateau the follow-up does not support."
    )
    return Table(columns, tuple(table_rows), caption=caption)


def rule_text() -> str:
    """When the data are said to prefer a model, in words."""
    return (
        f"The data prefer a model when its PSIS-LOO expected log predictive density is ahead of the runner-up's by at "
        f"least {CLEAR_ELPD_DIFFERENCE:g} and by at least {CLEAR_SE_MULTIPLE:g} standard errors of the difference"
    )


def summary_section(results: Results, names: dict[str, str]) -> SummarySection | None:
    """The summary from ``bayes_loo.csv`` and the effect files; None without Bayesian results."""
    sources = [results.bayes_loo, results.bayes, results.bayes_cure, results.bayes_time_varying]
    if all(frame is None for frame in sources):
        return None
    inputs = Inputs(results, names, tables_model(results))
    endpoints = list(dict.fromkeys(value for frame in sources if frame is not None for value in frame["endpoint"]))
    leads = tuple(lead(str(endpoint), inputs) for endpoint in endpoints)
    return SummarySection(
        leads, pointer_sentence(results.bayes_loo, inputs.tables_model), analyses_table(inputs), rule_text()
    )


def _fit_rows(frame: pd.DataFrame, key: Key) -> pd.DataFrame:
    """The rows of one analysis (endpoint, analysis, subgroup)."""
    endpoint, analysis, subgroup = key
    return frame[(frame["endpoint"] == endpoint) & (frame["analysis"] == analysis) & (frame["subgroup"] == subgroup)]


def _cure_rows(cure: pd.DataFrame, key: Key) -> pd.DataFrame:
    """The ``bayes_cure.csv`` rows of one analysis; an interaction model's are at ``<biomarker>=<value>``."""
    endpoint, analysis, subgroup = key
    if analysis != INTERACTION:
        return _fit_rows(cure, key)
    rows = cure[(cure["endpoint"] == endpoint) & (cure["analysis"] == analysis)]
    return rows[rows["subgroup"].astype(str).str.rpartition("=")[0] == subgroup]


def _cure_fraction_parts(rows: pd.DataFrame, key: Key, inputs: Inputs) -> list[str]:
    """The cure fractions and their difference; of an interaction model the difference at each biomarker value."""
    control, treated = (arm_label(arm, inputs.names, role=False) for arm in ARMS)
    fits = [(subgroup, fit.set_index("arm")) for subgroup, fit in rows.groupby("subgroup", sort=False)]
    fits = [(subgroup, fit) for subgroup, fit in fits if all(arm in fit.index for arm in (*ARMS, DIFFERENCE))]
    if key[1] == INTERACTION:
        at = [f"at {subgroup}: {_difference(fit.loc[DIFFERENCE])}" for subgroup, fit in fits]
        return [f"cure fraction difference {treated} \u2212 {control} " + "; ".join(at)] if at else []
    parts = []
    for _, fit in fits:
        arms = ", ".join(f"{arm_label(arm, inputs.names, role=False)} {_fraction(fit.loc[arm])}" for arm in ARMS)
        parts.append(f"cure fraction {arms}; difference {treated} \u2212 {control} {_difference(fit.loc[DIFFERENCE])}")
    return parts


def _difference(row: pd.Series) -> str:
    return f"{_fraction(row)}, P(> 0) {format_probability(row['prob_above_zero'])}"


def _fraction(row: pd.Series) -> str:
    return format_interval(row["mean"], row["lower"], row["upper"], 2)


def _unsupported(rows: pd.DataFrame, arm: str) -> bool:
    return bool((rows.loc[rows["arm"] == arm, "plateau_supported"] == 0).any())


def _term_row(frame: pd.DataFrame | None, key: Key, term: str) -> pd.Series | None:
    if frame is None:
        return None
    endpoint, analysis, subgroup = key
    match = frame[
        (frame["endpoint"] == endpoint)
        & (frame["analysis"] == analysis)
        & (frame["subgroup"].fillna("") == subgroup)
        & (frame["term"] == term)
    ]
    return None if match.empty else match.iloc[0]


def _scale(key: Key, inputs: Inputs) -> TermScale:
    return inputs.scales.get(key[2], PER_UNIT) if key[1] == INTERACTION else TermScale(1.0, "")


def _ratio(row: pd.Series, inputs: Inputs, key: Key) -> str:
    """exp(posterior mean log ratio) with its 95% CrI, on the biomarker's scale for an interaction term."""
    return format_posterior_hr(row["mean"], row["hr_lower"], row["hr_upper"], _scale(key, inputs).factor)


def _converged(text: str, failed: bool) -> str:
    return f"{text} [{NOT_CONVERGED_TEXT}]" if failed else text
