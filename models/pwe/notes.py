"""The notes of the Bayesian analyses: what a reader must know before reading their numbers.

Which model the data prefer by PSIS-LOO, fits whose posterior survival misfits Kaplan-Meier, statistics beyond
follow-up, and fits re-run after divergent transitions. Used by :mod:`tmesurv.models.pwe.analyses`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from tmesurv.models.pwe.compare import clearly_better
from tmesurv.models.pwe.diagnostics import count_divergences
from tmesurv.models.pwe.registry import MODELS
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


def misfit_notes(checks: pd.DataFrame, main: str) -> list[str]:
    """A note per fit whose posterior survival misfits Kaplan-Meier in an arm (rule of ``fit_check``).

    Parameters
    ----------
    checks
        ``bayes_fit_check.csv``: rows of every compared model.
    main
        ``bayes.model``. Its misfit note says which compared models of the same analysis do fit Kaplan-Meier; a
        compared model's note names the model and says whether ``bayes.model``, whose tables the run reports, fits.
    """
    notes = []
    checks = checks.assign(misfit=checks["misfit"].astype(bool))
    for (endpoint, analysis, subgroup), fit in checks.groupby(["endpoint", "analysis", "subgroup"], sort=False):
        misfits = fit.groupby("model", sort=False)["misfit"].any().to_dict()
        for model, rows in fit[fit["misfit"]].groupby("model", sort=False):
            label = f"{endpoint} {analysis} {subgroup}"
            notes.append(_misfit_note(label, str(model), main, _misfit_arms(rows), misfits))
    return notes


def _misfit_arms(rows: pd.DataFrame) -> str:
    """How far the misfit arms of one fit are from Kaplan-Meier, in words."""
    return "; ".join(
        f"{row.arm}: Kaplan-Meier inside the 95% band at {row.share_in_band:.0%} of its event times, "
        f"{row.mean_abs_difference:.3f} from it on average (up to {row.max_abs_difference:.3f}, at "
        f"{row.largest_at:.3g} months)"
        for row in rows.itertuples()
    )


def _misfit_note(label: str, model: str, main: str, arms: str, misfits: Mapping[str, bool]) -> str:
    """The misfit note of ``model`` in one analysis, given which models of that analysis misfit (``misfits``)."""
    if model != main:
        standing = "misfits too (note above)" if misfits.get(main, False) else "fits Kaplan-Meier here"
        return (
            f"{label}, compared model {model} (not bayes.model): its posterior survival does not fit Kaplan-Meier "
            f"({arms}); bayes.model ({main}), whose tables these are, {standing}"
        )
    fitting = [name for name, misfit in misfits.items() if name != main and not misfit]
    untried = [name for name in MODELS if name not in misfits]
    if fitting:
        verb = "fit" if len(fitting) > 1 else "fits"
        advice = f"the compared {' and '.join(fitting)} {verb} Kaplan-Meier here (bayes_loo.csv compares them)"
    elif untried:
        advice = f"consider bayes.model: {' or '.join(untried)} (or compare the models with bayes.compare)"
    else:
        advice = "the compared models misfit too"
    return (
        f"{label}: the posterior survival of bayes.model ({main}) does not fit Kaplan-Meier ({arms}); the model's "
        f"assumptions may not hold: see bayes_fit_check.csv; {advice}"
    )


def beyond_follow_up_notes(statistics: Mapping[str, pd.DataFrame], fit: str, main: str) -> list[str]:
    """A note per arm whose landmark survival or RMST was not estimated: its time lies beyond the arm's follow-up.

    Parameters
    ----------
    statistics
        Per model of one analysis, its posterior survival statistics (``bayes_survival.csv``'s rows).
    fit
        The analysis, e.g. ``efs subgroup sii=high``.
    main
        ``bayes.model``. A note the models share (they share the patients, so their follow-up) is given once; it names
        the models unless it is of ``bayes.model`` alone.
    """
    models: dict[str, list[str]] = {}
    for model, rows in statistics.items():
        for note in _beyond_follow_up(rows):
            models.setdefault(note, []).append(model)
    return [f"{fit}{_unless_main(names, main)}: {note}" for note, names in models.items()]


def _unless_main(models: list[str], main: str) -> str:
    """`` (ph, cure)``: the models a note concerns, or nothing when it concerns ``bayes.model`` alone."""
    return "" if models == [main] else f" ({', '.join(models)})"


def _beyond_follow_up(statistics: pd.DataFrame) -> list[str]:
    beyond = statistics[(statistics["statistic"] != "median") & ~statistics["reached"].astype(bool)]
    notes = []
    for arm, rows in beyond[beyond["arm"] != DIFFERENCE].groupby("arm", sort=False):
        what = ", ".join(f"{row.statistic} at {row.time:g}" for row in rows.itertuples())
        notes.append(
            f"{what} months not estimated in the {arm} arm: beyond its last follow-up time "
            f"({rows['follow_up'].iloc[0]:.4g} months)"
        )
    return notes


def rerun_text(remedied: Remedied) -> str:
    """E.g. ``12 divergences at the first run, 0 at target_accept 0.95``."""
    last = count_divergences(getattr(remedied.result, "idata", remedied.result))
    return (
        f"{remedied.first_divergences} divergences at the first run, {last} at target_accept {remedied.target_accept:g}"
    )
