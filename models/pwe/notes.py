"""The notes of the Bayesian analyses: what a reader must know before reading their numbers.

Which model the data prefer by PSIS-LOO, fits whose posterior survival misfits Kaplan-Meier, statistics beyond
follow-up, and fits re-run after divergent transitions. Used by :mod:`tmesurv.models.pwe.analyses`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tmesurv.models.pwe.compare import clearly_better
from tmesurv.models.pwe.diagnostics import count_divergences
from tmesurv.models.pwe.remedy import Remedied
from tmesurv.models.pwe.survival import DIFFERENCE


def loo_notes(loo: pd.DataFrame, models: Sequence[str]) -> list[str]:
    """Which model LOO prefers over the analyses that compare models, and the fits whose LOO is unreliable.

    Parameters
    ----------
    loo
        ``bayes_loo.csv``.
    models
        The compared models, ``bayes.model`` (the tables' model) first.

    Returns
    -------
    list[str]
        Per endpoint with a comparison: how many analyses clearly prefer each model (see
        :func:`~tmesurv.models.pwe.compare.clearly_better`) and how many show no clear difference, and that the tables
        come from ``models[0]``; per endpoint with fits whose Pareto k exceeds ArviZ's threshold, those fits.
    """
    notes = []
    for endpoint, rows in loo.groupby("endpoint", sort=False):
        analyses = rows.groupby(["analysis", "subgroup"], sort=False)
        compared = [group for _, group in analyses if len(group) > 1]
        if compared:
            verdicts = [loo_verdict(group) for group in compared]
            counts = ", ".join(f"{model} {verdicts.count(model)}" for model in models)
            notes.append(
                f"{endpoint} LOO: of {len(compared)} analyses fitted with {', '.join(models)}, the data clearly prefer "
                f"{counts} (elpd difference at least 4 and 2 SE); no clear preference {verdicts.count(None)}. The "
                f"tables come from bayes.model = {models[0]} (bayes_loo.csv)"
            )
        unreliable = rows[rows["n_pareto_k_high"] > 0]
        if len(unreliable):
            listed = "; ".join(
                f"{row.analysis} {row.subgroup} ({row.model}): {row.n_pareto_k_high}" for row in unreliable.itertuples()
            )
            notes.append(
                f"{endpoint} LOO: patients with Pareto k above min(1 - 1/log10(draws), 0.7), for whom the LOO "
                f"estimate is unreliable: {listed}"
            )
    return notes


def loo_verdict(rows: pd.DataFrame) -> str | None:
    """The model one analysis clearly prefers by LOO, or None."""
    ranked = rows.sort_values("rank")
    runner_up = ranked.iloc[1]
    return ranked.iloc[0]["model"] if clearly_better(runner_up["elpd_diff"], runner_up["dse"]) else None


def misfit_notes(checks: pd.DataFrame) -> list[str]:
    """A note per fit whose posterior survival misfits Kaplan-Meier in an arm (rule of ``fit_check``)."""
    notes = []
    flagged = checks[checks["misfit"].astype(bool)]
    for (endpoint, analysis, subgroup), rows in flagged.groupby(["endpoint", "analysis", "subgroup"], sort=False):
        arms = "; ".join(
            f"{row.arm}: up to {row.max_abs_difference:.3f} from Kaplan-Meier (at {row.largest_at:.3g} months), "
            f"inside the 95% band at {row.share_in_band:.0%} of its event times"
            for row in rows.itertuples()
        )
        notes.append(
            f"{endpoint} {analysis} {subgroup}: the posterior survival does not fit Kaplan-Meier ({arms}); the "
            "model's assumptions (proportional hazards, no cure) may not hold: see bayes_fit_check.csv, and consider "
            "bayes.model: time_varying (or compare the models with bayes.compare)"
        )
    return notes


def beyond_follow_up_notes(statistics: pd.DataFrame, fit: str) -> list[str]:
    """A note per arm whose landmark survival or RMST was not estimated: its time lies beyond the arm's follow-up."""
    notes = []
    beyond = statistics[(statistics["statistic"] != "median") & ~statistics["reached"].astype(bool)]
    for arm, rows in beyond[beyond["arm"] != DIFFERENCE].groupby("arm", sort=False):
        what = ", ".join(f"{row.statistic} at {row.time:g}" for row in rows.itertuples())
        notes.append(
            f"{fit}: {what} months not estimated in the {arm} arm: beyond its last follow-up time "
            f"({rows['follow_up'].iloc[0]:.4g} months)"
        )
    return notes


def rerun_text(remedied: Remedied) -> str:
    """E.g. ``12 divergences at the first run, 0 at target_accept 0.95``."""
    last = count_divergences(getattr(remedied.result, "idata", remedied.result))
    return (
        f"{remedied.first_divergences} divergences at the first run, {last} at target_accept {remedied.target_accept:g}"
    )
