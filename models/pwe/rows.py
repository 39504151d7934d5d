"""The ``bayes.csv`` rows of one fitted analysis, in the terms of its model.

A proportional-hazards or time-varying fit gives one row per design term (log hazard ratio); a mixture-cure fit
(:mod:`tmesurv.models.pwe.cure`) one row per part and term, ``cure:<term>`` (log odds ratio of cure) and
``latency:<term>`` (log HR among the uncured). An interaction model adds ``treatment_at`` rows: the treatment effect at
the biomarker's quartiles and chosen values (for a cure fit in both parts). A fit that was not made (too few events)
has one empty row per term of the model it would have been. Every row names its model (column ``model``: ``ph``,
``time_varying``, ``cure``), so the rows of all compared models share one table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.pwe.cure.summary import PARTS as CURE_PARTS
from tmesurv.models.pwe.cure.summary import cure_term, summarize_cure
from tmesurv.models.pwe.diagnostics import (
    BFMI_MIN,
    CONVERGENCE_COLUMNS,
    SUMMARY_COLUMNS,
    log_hr_summary,
    summarize_pwe,
)
from tmesurv.models.pwe.notes import rerun_text
from tmesurv.models.pwe.registry import CURE
from tmesurv.models.pwe.remedy import Remedied, remedy_advice
from tmesurv.models.pwe.storage import PweFit

TEXT_COLUMNS = ("endpoint", "analysis", "subgroup", "term", "model", "note")
SAMPLER_COLUMNS = ["target_accept", "reruns"]  # how the reported run was sampled (see models.pwe.remedy)
BAYES_COLUMNS = [  # as the registry's bayes.csv: the key (endpoint, analysis, subgroup, term, model), then estimates
    "endpoint", "analysis", "subgroup", SUMMARY_COLUMNS[0], "model", *SUMMARY_COLUMNS[1:], "divergences",
    *SAMPLER_COLUMNS, "note",
]  # fmt: skip
FIT_DIAGNOSTICS = [*CONVERGENCE_COLUMNS, "divergences", *SAMPLER_COLUMNS, "note"]  # a treatment_at row repeats them


def summary_rows(fit: PweFit, remedied: Remedied, notes: list[str]) -> pd.DataFrame:
    """The fit's terms with convergence and how it was sampled; a note in ``notes`` if it is not converged.

    A cure fit's terms are those of :func:`~tmesurv.models.pwe.cure.summary.summarize_cure`, any other fit's those of
    :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe`.

    A compared fit's (``fit.main`` False) non-convergence is noted too, naming its model.
    """
    note = f"re-run: {rerun_text(remedied)}" if remedied.reruns else ""
    summary = summarize_cure(fit.idata) if fit.model == CURE else summarize_pwe(fit.idata)
    keys = {"endpoint": fit.endpoint, "analysis": fit.analysis, "subgroup": fit.subgroup, "model": fit.model}
    sampled = {"target_accept": remedied.target_accept, "reruns": remedied.reruns, "note": note}
    rows = summary.assign(**keys, divergences=summary.attrs["divergences"], **sampled)
    if not rows["converged"].all():
        notes.append(_not_converged_note(fit, rows, remedied))
    return rows[BAYES_COLUMNS]


def _not_converged_note(fit: PweFit, rows: pd.DataFrame, remedied: Remedied) -> str:
    divergences = int(rows["divergences"].iloc[0])
    low_bfmi = bool((rows["bfmi_min"] < BFMI_MIN).any())
    compared = "" if fit.main else f" ({fit.model}, fitted for the comparison by LOO)"
    return (
        f"{fit.endpoint} {fit.analysis} {fit.subgroup}{compared}: NOT CONVERGED "
        f"(R-hat max {rows['r_hat'].max():.3f}, "
        f"ESS min {rows[['ess_bulk', 'ess_tail']].min().min():.0f}, {divergences} divergences at "
        f"target_accept {remedied.target_accept:g}, BFMI min {rows['bfmi_min'].min():.2f}); "
        f"{remedy_advice(divergences, remedied.target_accept, low_bfmi)} before reading these numbers"
    )


def not_estimable_rows(
    endpoint: str, analysis: str, subgroup: str, design: pd.DataFrame, problem: str, model: str
) -> pd.DataFrame:
    """One row per term of ``model`` with no estimate (NaN), ``converged`` empty and the reason in ``note``."""
    terms = list(design.columns)
    if model == CURE:
        terms = [cure_term(part, term) for part, _ in CURE_PARTS for term in terms]
    numbers = {column: np.full(len(terms), np.nan) for column in BAYES_COLUMNS if column not in TEXT_COLUMNS}
    labels = {"endpoint": endpoint, "analysis": analysis, "subgroup": subgroup, "term": terms, "model": model}
    rows = pd.DataFrame(labels | numbers | {"note": f"not estimable: {problem}"})
    rows["converged"] = pd.Series([None] * len(terms), dtype=object)
    return rows[BAYES_COLUMNS]


def treatment_at_rows(fit: PweFit, values: np.ndarray, chosen: Sequence[float], summary: pd.DataFrame) -> pd.DataFrame:
    """The treatment effect of an interaction fit at the biomarker's quartiles and chosen values (``BAYES_COLUMNS``).

    Per value ``v``, the effect ``b_arm + b_arm:x v`` of each set of the model's coefficients: term ``arm`` (``coef``,
    log HR) of a proportional-hazards or time-varying fit; ``cure:arm`` (``cure_coef``, log odds ratio of cure) then
    ``latency:arm`` (``coef``, log HR among the uncured) of a cure fit. Analysis ``treatment_at``, subgroup
    ``<biomarker>=<value>`` (:func:`quartile_labels`); the estimate columns are
    :func:`~tmesurv.models.pwe.diagnostics.log_hr_summary`'s of the effect draws, the convergence columns those of
    the term's interaction row of ``summary`` (the less precise of its two coefficients).
    """
    biomarker = fit.subgroup
    labels = quartile_labels(biomarker, values, chosen)
    at = xr.DataArray([value for _, value in labels.values()], dims="at")
    diagnostics = summary.set_index("term")
    frames = []
    for part, variable in CURE_PARTS if fit.model == CURE else ((None, "coef"),):
        coef = fit.idata.posterior[variable]
        # values first: each value's draws lie contiguous, so numpy sums them pairwise as it sums one value's draws
        effect = at * coef.sel(term=interaction_term(biomarker), drop=True) + coef.sel(term=ARM, drop=True)
        fitted = diagnostics.loc[_part_term(part, interaction_term(biomarker)), FIT_DIAGNOSTICS]
        estimates = {"subgroup": list(labels), "term": _part_term(part, ARM)} | log_hr_summary(effect, "at")
        frames.append(pd.DataFrame(estimates).assign(**fitted))
    rows = pd.concat(frames).sort_index(kind="stable")  # per value, the model's terms in order
    rows = rows.assign(endpoint=fit.endpoint, analysis="treatment_at", model=fit.model)
    return rows.reset_index(drop=True)[BAYES_COLUMNS]


def _part_term(part: str | None, term: str) -> str:
    """A term's name in ``bayes.csv``: as it is, or in a part of a cure model (``cure:<term>``, ``latency:<term>``)."""
    return term if part is None else cure_term(part, term)


def quartile_labels(biomarker: str, values: np.ndarray, chosen: Sequence[float]) -> dict[str, tuple[str, float]]:
    """Labels ``<biomarker>=<value>`` of the biomarker's quartiles and of ``chosen`` values.

    The quartiles are the low, middle and high values (0 and 1 of a two-level biomarker), labelled to 4 significant
    digits, chosen values to 6; a chosen value that names a quartile's label again is given once.
    """
    labelled = {f"{biomarker}={value:.4g}": value for value in np.unique(np.quantile(values, [0.25, 0.5, 0.75]))}
    for value in chosen:
        labelled.setdefault(f"{biomarker}={value:.6g}", float(value))
    return {label: (biomarker, float(value)) for label, value in labelled.items()}
