"""The rows a cure fit adds to the Bayesian result tables, and its notes on unsupported plateaus.

* ``bayes.csv``: the ``cure:<term>`` and ``latency:<term>`` rows of
  :func:`~tmesurv.models.pwe.cure.summary.summarize_cure` and, for an interaction model, ``treatment_at`` rows at the
  biomarker's quartiles and chosen values with two terms: ``cure:arm`` (odds ratio of cure, treated vs control, at
  that value) and ``latency:arm`` (HR among the uncured);
* ``bayes_cure.csv``: cure fractions per arm and their difference (:func:`cure_table_rows`), for the treatment and
  subgroup fits (subgroup as the fit's) and at the interaction model's biomarker values (``<biomarker>=<value>``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.pwe.cure.plateau import plateau_rule_text
from tmesurv.models.pwe.cure.summary import (
    CURE,
    CURE_FRACTION_COLUMNS,
    LATENCY,
    cure_fraction_table,
    cure_term,
    quartile_labels,
    summarize_cure,
)
from tmesurv.models.pwe.diagnostics import CI_PROB
from tmesurv.models.pwe.storage import PweFit
from tmesurv.models.pwe.survival import DIFFERENCE

CURE_COLUMNS = ["endpoint", "analysis", "subgroup", *CURE_FRACTION_COLUMNS]
CONVERGENCE = [
    "r_hat",
    "ess_bulk",
    "ess_tail",
    "bfmi_min",
    "converged",
    "divergences",
    "target_accept",
    "reruns",
    "note",
]


def cure_summary_rows(fit: PweFit, target_accept: float, reruns: int = 0, note: str = "") -> pd.DataFrame:
    """``bayes.csv`` rows of a cure fit: both parts' terms, with the fit's keys, divergences and how it was sampled.

    ``target_accept`` and ``reruns`` describe the reported run (see :mod:`tmesurv.models.pwe.remedy`); ``note`` says
    what a re-run did.
    """
    summary = summarize_cure(fit.idata)
    keys = {"endpoint": fit.endpoint, "analysis": fit.analysis, "subgroup": fit.subgroup}
    sampled = {"target_accept": target_accept, "reruns": reruns, "note": note}
    return summary.assign(**keys, divergences=summary.attrs["divergences"], **sampled)


def cure_treatment_at(fit: PweFit, values: np.ndarray, chosen: Sequence[float], summary: pd.DataFrame) -> pd.DataFrame:
    """The treatment effect of an interaction model at the biomarker's quartiles and chosen values, in both parts.

    Per value ``v``: ``cure:arm`` is ``g_arm + g_arm:x v`` (log odds ratio of cure) and ``latency:arm`` is
    ``b_arm + b_arm:x v`` (log HR among the uncured); analysis ``treatment_at``, subgroup ``<biomarker>=<value>``. The
    convergence columns are those of the model's ``<part>:arm:<biomarker>`` row of ``summary``.
    """
    biomarker = fit.subgroup
    rows = []
    for label, (_, value) in quartile_labels(biomarker, values, chosen).items():
        for part, variable in ((CURE, "cure_coef"), (LATENCY, "coef")):
            draws = fit.idata.posterior[variable]
            effect = draws.sel(term=ARM) + draws.sel(term=interaction_term(biomarker)) * value
            diagnostics = summary.set_index("term").loc[cure_term(part, interaction_term(biomarker)), CONVERGENCE]
            row = {"subgroup": label, "term": cure_term(part, ARM)} | _ratio_summary(effect.to_numpy().ravel())
            rows.append(row | diagnostics.to_dict())
    return pd.DataFrame(rows).assign(endpoint=fit.endpoint, analysis="treatment_at")


def cure_table_rows(fit: PweFit, values: np.ndarray | None = None, chosen: Sequence[float] = ()) -> pd.DataFrame:
    """``bayes_cure.csv`` rows of a fit (columns ``CURE_COLUMNS``).

    A treatment or subgroup fit gives one set of rows with the fit's subgroup; an interaction fit (``values``, the
    biomarker's values among its patients) one set per quartile and chosen value, subgroup ``<biomarker>=<value>``.
    """
    if values is None:
        table = cure_fraction_table(fit.idata, {fit.subgroup: None})
    else:
        table = cure_fraction_table(fit.idata, quartile_labels(fit.subgroup, values, chosen))
    return table.assign(endpoint=fit.endpoint, analysis=fit.analysis)[CURE_COLUMNS]


def plateau_notes(table: pd.DataFrame) -> list[str]:
    """One note per fit and arm whose cure fraction rests on a plateau the follow-up does not support."""
    notes = []
    arms = table[(table["arm"] != DIFFERENCE) & ~table["plateau_supported"].astype(bool)]
    for (endpoint, analysis, subgroup), rows in arms.groupby(["endpoint", "analysis", "subgroup"], sort=False):
        facts = "; ".join(
            f"{row.arm}: last event at {row.last_event:.1f} months, {row.at_risk_after_last_event} patients followed "
            f"beyond it (to {row.max_follow_up:.1f}), Maller-Zhou p = {row.maller_zhou_p:.2g}"
            for row in rows.itertuples()
        )
        notes.append(
            f"{endpoint} {analysis} {subgroup}: the cure plateau is not supported by the follow-up ({facts}); "
            f"{plateau_rule_text()}"
        )
    return notes


def _ratio_summary(draws: np.ndarray) -> dict:
    """Mean, sd and ratio summaries of log-ratio draws (as the other ``bayes.csv`` rows)."""
    ratio = np.exp(draws)
    tail = (1 - CI_PROB) / 2
    return {
        "mean": draws.mean(),
        "sd": draws.std(ddof=1),
        "hr_mean": ratio.mean(),
        "hr_lower": np.quantile(ratio, tail),
        "hr_upper": np.quantile(ratio, 1 - tail),
        "prob_hr_below_1": (draws < 0).mean(),
    }
