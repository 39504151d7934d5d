"""The ``bayes.csv`` rows of one fitted analysis, in the terms of its model.

A proportional-hazards or time-varying fit gives one row per design term (log hazard ratio); a mixture-cure fit
(:mod:`tmesurv.models.pwe.cure`) one row per part and term, ``cure:<term>`` (log odds ratio of cure) and
``latency:<term>`` (log HR among the uncured). An interaction model adds ``treatment_at`` rows: the treatment effect at
the biomarker's quartiles and chosen values (for a cure fit in both parts). A fit that was not made (too few events)
has one empty row per term of the model it would have been.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tmesurv.models.pwe.cure.summary import CURE as CURE_PART
from tmesurv.models.pwe.cure.summary import LATENCY, cure_term
from tmesurv.models.pwe.cure.tables import cure_summary_rows, cure_treatment_at
from tmesurv.models.pwe.diagnostics import BFMI_MIN, CI_PROB, SUMMARY_COLUMNS, probability_below_zero, summarize_pwe
from tmesurv.models.pwe.notes import rerun_text
from tmesurv.models.pwe.registry import CURE
from tmesurv.models.pwe.remedy import Remedied, remedy_advice
from tmesurv.models.pwe.storage import PweFit

TEXT_COLUMNS = ("endpoint", "analysis", "subgroup", "term", "note")
SAMPLER_COLUMNS = ["target_accept", "reruns"]  # how the reported run was sampled (see models.pwe.remedy)
BAYES_COLUMNS = ["endpoint", "analysis", "subgroup", *SUMMARY_COLUMNS, "divergences", *SAMPLER_COLUMNS, "note"]


def summary_rows(fit: PweFit, remedied: Remedied, notes: list[str]) -> pd.DataFrame:
    """The fit's terms with convergence and how it was sampled; a note in ``notes`` if it is not converged.

    A compared fit's (``fit.main`` False) non-convergence is noted too, naming its model.
    """
    note = f"re-run: {rerun_text(remedied)}" if remedied.reruns else ""
    if fit.model == CURE:
        rows = cure_summary_rows(fit, remedied.target_accept, remedied.reruns, note)
    else:
        summary = summarize_pwe(fit.idata)
        keys = {"endpoint": fit.endpoint, "analysis": fit.analysis, "subgroup": fit.subgroup}
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
        terms = [cure_term(part, term) for part in (CURE_PART, LATENCY) for term in terms]
    numbers = {column: np.full(len(terms), np.nan) for column in BAYES_COLUMNS if column not in TEXT_COLUMNS}
    labels = {"endpoint": endpoint, "analysis": analysis, "subgroup": subgroup, "term": terms}
    rows = pd.DataFrame(labels | numbers | {"note": f"not estimable: {problem}"})
    rows["converged"] = pd.Series([None] * len(terms), dtype=object)
    return rows[BAYES_COLUMNS]


def treatment_at_rows(fit: PweFit, values: np.ndarray, chosen: Sequence[float], summary: pd.DataFrame) -> pd.DataFrame:
    """The treatment effect of an interaction fit at the biomarker's quartiles and chosen values (``BAYES_COLUMNS``).

    A cure fit gives ``cure:arm`` and ``latency:arm`` per value
    (:func:`~tmesurv.models.pwe.cure.tables.cure_treatment_at`), any other fit ``arm`` (:func:`treatment_at`).
    """
    if fit.model == CURE:
        return cure_treatment_at(fit, values, chosen, summary)[BAYES_COLUMNS]
    return treatment_at(fit, values, chosen, summary)[BAYES_COLUMNS]


def treatment_at(fit: PweFit, values: np.ndarray, chosen: Sequence[float], summary: pd.DataFrame) -> pd.DataFrame:
    """Treatment log HR ``b_arm + b_arm:x * x`` at the biomarker's quartiles and at ``chosen`` values, one row each.

    Analysis ``treatment_at``, subgroup ``<biomarker>=<value>`` (quartiles to 4 significant digits, chosen values to
    6; a chosen value that names a quartile's row again is given once). The convergence columns are those of the
    interaction model's ``arm:x`` term (the least precise of the two).
    """
    biomarker = fit.subgroup
    posterior = fit.idata.posterior["coef"]
    arm, interaction = posterior.sel(term="arm"), posterior.sel(term=f"arm:{biomarker}")
    labelled = {f"{biomarker}={value:.4g}": value for value in np.unique(np.quantile(values, [0.25, 0.5, 0.75]))}
    for value in chosen:
        labelled.setdefault(f"{biomarker}={value:.6g}", value)
    diagnostics = summary.set_index("term").loc[f"arm:{biomarker}"]
    rows = []
    for label, value in labelled.items():
        draws = (arm + interaction * value).to_numpy().reshape(-1)
        rows.append(_draw_summary(draws) | {"subgroup": label})
    frame = pd.DataFrame(rows).assign(endpoint=fit.endpoint, analysis="treatment_at", term="arm")
    for column in ["r_hat", "ess_bulk", "ess_tail", "bfmi_min", "converged", "divergences", *SAMPLER_COLUMNS, "note"]:
        frame[column] = diagnostics[column]
    return frame


def _draw_summary(draws: np.ndarray) -> dict:
    """Mean, sd and HR summaries of log-HR draws, as in :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe`."""
    hr = np.exp(draws)
    tail = (1 - CI_PROB) / 2
    return {
        "mean": draws.mean(),
        "sd": draws.std(ddof=1),
        "hr_mean": hr.mean(),
        "hr_lower": np.quantile(hr, tail),
        "hr_upper": np.quantile(hr, 1 - tail),
        "prob_hr_below_1": float(probability_below_zero(draws)),
    }
