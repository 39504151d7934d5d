"""A multiplicity-aware screen of many predictive biomarkers in one Bayesian PWE model.

One model holds the arm, every biomarker's main effect (``Normal(0, priors.coef_sd)``) and every arm x biomarker
interaction, the interactions under a joint shrinkage prior (``bayes.shrinkage``: regularised horseshoe or R2D2, see
:mod:`tmesurv.models.pwe.shrinkage`; ``normal`` gives independent normals, no multiplicity adjustment). Because the
interactions share their global scale, a screen of 46 biomarkers shrinks the nulls together instead of testing each
at its own 5% level.

Biomarkers are standardised (mean 0, sd 1, ``ddof=0``) over the complete cases first, so every interaction is the
change of the treatment log hazard ratio **per sd of the biomarker**; ``biomarker_sd`` converts it to the original
unit. Patients with any missing biomarker are left out (complete cases: the shrinkage is joint, so every patient
needs every biomarker) and counted in ``excluded``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd

from tmesurv.errors import InputError
from tmesurv.models.designs import ARM, interaction_term
from tmesurv.models.pwe.diagnostics import (
    CONVERGENCE_COLUMNS,
    ESTIMATE_COLUMNS,
    count_divergences,
    diagnostics,
    log_hr_summary,
)
from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.settings import PwePriors, PweSettings, SamplerSettings, Shrinkage
from tmesurv.models.pwe.shrinkage import SHRUNK_DIM, ShrinkagePrior, check_expected_interactions, global_scale

SCREEN_COLUMNS = [
    "biomarker", "term", "n", "events", "biomarker_mean", "biomarker_sd", *ESTIMATE_COLUMNS, "kappa",
    *CONVERGENCE_COLUMNS, "divergences",
]  # fmt: skip


@dataclass
class InteractionScreen:
    """The screen's per-biomarker table, the fit, its sampler diagnostics, and notes to show with the table."""

    table: pd.DataFrame
    idata: az.InferenceData
    diagnostics: dict[str, float | int | bool]
    notes: list[str] = field(default_factory=list)


def fit_interaction_screen(
    time: np.ndarray,
    event: np.ndarray,
    arm: np.ndarray,
    biomarkers: pd.DataFrame,
    settings: PweSettings,
    sampler: SamplerSettings,
    shrinkage: Shrinkage,
) -> InteractionScreen:
    """Fit arm, all biomarkers and all arm x biomarker interactions in one PWE model with a shrinkage prior.

    Parameters
    ----------
    time, event
        Follow-up times (months) and event indicators (1 = event), one per row of ``biomarkers``.
    arm
        1 = treated, 0 = control.
    biomarkers
        One numeric column per biomarker; missing values allowed (those patients are left out and counted).
    settings
        Intervals and priors (``expected_interactions``, ``slab_scale``, ``slab_df``, ``local_df`` for the horseshoe;
        ``r2d2_*`` for R2D2; ``coef_sd`` for the arm and main effects).
    sampler
        Sampler settings. A horseshoe needs ``target_accept`` 0.99 (``bayes.screen_target_accept``; see
        :mod:`tmesurv.models.pwe.shrinkage` for where it diverges); divergences are counted and reported, never
        hidden.
    shrinkage
        The prior of the interactions: ``horseshoe``, ``r2d2``, or ``normal`` (independent ``Normal(0, coef_sd)``).

    Returns
    -------
    InteractionScreen
        ``table``: one row per biomarker (columns ``SCREEN_COLUMNS``): the interaction log HR per sd of the biomarker
        (``mean``, ``sd``), the ratio of treatment HRs per sd (``hr_mean``, 95% ``hr_lower``/``hr_upper``),
        ``prob_hr_below_1``, the posterior mean shrinkage factor ``kappa`` (NaN with ``normal``), per-term R-hat and
        ESS, and the whole fit's ``divergences`` and ``converged``. ``diagnostics``: ``n``, ``events``, ``excluded``,
        ``divergences``, ``max_treedepth`` (transitions that hit the tree-depth limit), ``r_hat_max``, ``ess_min``,
        ``bfmi_min``, ``converged`` (every coefficient converged: see
        :func:`~tmesurv.models.pwe.diagnostics.summarize_pwe`) and ``global_scale`` (tau0; NaN unless horseshoe).
        ``notes`` says when the fit did not converge and how many patients were excluded.

    Raises
    ------
    InputError
        If the lengths differ, the arm is not 0/1, a biomarker is not numeric or constant among the complete cases, or
        ``expected_interactions`` is not below the number of biomarkers.
    """
    names = _validated_biomarkers(biomarkers, arm, time)
    complete = biomarkers.notna().all(axis=1).to_numpy()
    values = biomarkers.loc[complete].to_numpy(dtype=float)
    centre, scale = values.mean(axis=0), values.std(axis=0)
    constant = [name for name, sd in zip(names, scale, strict=True) if sd == 0]
    if constant:
        raise InputError(f"biomarkers {', '.join(constant)} are constant among the complete cases: drop them")
    treated = np.asarray(arm, dtype=float)[complete]
    design = _screen_design(treated, (values - centre) / scale, names)
    prior = _prior(shrinkage, settings.priors, len(names))
    time, event = np.asarray(time, dtype=float)[complete], np.asarray(event, dtype=float)[complete]
    idata = fit_pwe(time, event, design, settings, sampler, coefficient_prior=prior)
    facts = {"n": int(complete.sum()), "events": int(event.sum()), "excluded": int((~complete).sum())}
    found = _diagnostics(idata) | facts | {"global_scale": _tau0(shrinkage, settings.priors, len(names), event.sum())}
    table = _table(idata, names, centre, scale, facts, found["divergences"])
    return InteractionScreen(table, idata, found, _notes(found))


def _validated_biomarkers(biomarkers: pd.DataFrame, arm: np.ndarray, time: np.ndarray) -> list[str]:
    names = [str(name) for name in biomarkers.columns]
    if not len(np.asarray(arm)) == len(np.asarray(time)) == len(biomarkers):
        raise InputError(f"time ({len(time)}), arm ({len(arm)}) and biomarkers ({len(biomarkers)} rows) must align")
    if not np.isin(np.asarray(arm, dtype=float), [0, 1]).all():
        raise InputError("arm must be 0 (control) or 1 (treated) for every patient")
    if not names or len(set(names)) != len(names) or ARM in names:
        raise InputError(f"biomarkers need at least one column, distinct names and none called '{ARM}'")
    non_numeric = [name for name in names if not pd.api.types.is_numeric_dtype(biomarkers[name])]
    if non_numeric:
        raise InputError(f"biomarkers {', '.join(non_numeric)} are not numeric: encode them as numbers first")
    return names


def _screen_design(treated: np.ndarray, standardised: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Columns ``arm``, the standardised biomarkers, then ``arm:<biomarker>`` (the shrunk terms, in the same order)."""
    main = pd.DataFrame(standardised, columns=names)
    interactions = pd.DataFrame(standardised * treated[:, None], columns=[interaction_term(name) for name in names])
    return pd.concat([pd.DataFrame({ARM: treated}), main, interactions], axis=1)


def _prior(shrinkage: Shrinkage, priors: PwePriors, size: int) -> ShrinkagePrior | None:
    if shrinkage == "normal":
        return None
    if shrinkage == "horseshoe":
        check_expected_interactions(priors.expected_interactions, size)  # fail before compiling
    return ShrinkagePrior(shrinkage, tuple(range(1 + size, 1 + 2 * size)), 1 + 2 * size)


def _tau0(shrinkage: Shrinkage, priors: PwePriors, size: int, events: float) -> float:
    if shrinkage != "horseshoe":
        return float("nan")
    return float(global_scale(priors.expected_interactions, size, events))


def _diagnostics(idata: az.InferenceData) -> dict[str, float | int | bool]:
    """Whole-fit sampler diagnostics over all coefficients."""
    columns = diagnostics(idata, "coef")
    stats = idata.sample_stats
    depth_flag = next((name for name in ("maxdepth_reached", "reached_max_treedepth") if name in stats), None)
    return {
        "divergences": count_divergences(idata),
        "max_treedepth": int(stats[depth_flag].sum()) if depth_flag else 0,
        "r_hat_max": float(np.nanmax(columns["r_hat"])),
        "ess_min": float(min(columns["ess_bulk"].min(), columns["ess_tail"].min())),
        "bfmi_min": float(columns["bfmi_min"][0]),
        "converged": bool(np.all(columns["converged"])),
    }


def _table(
    idata: az.InferenceData,
    names: list[str],
    centre: np.ndarray,
    scale: np.ndarray,
    facts: dict[str, int],
    divergences: int,
) -> pd.DataFrame:
    terms = [interaction_term(name) for name in names]
    coef = idata.posterior["coef"].sel(term=terms)
    converge = diagnostics(idata, "coef")
    position = [list(idata.posterior["coef"]["term"].to_numpy()).index(term) for term in terms]
    kappa = np.full(len(names), np.nan)
    if "kappa" in idata.posterior:
        kappa = idata.posterior["kappa"].mean(("chain", "draw")).transpose(SHRUNK_DIM).to_numpy()
    table = pd.DataFrame(
        {
            "biomarker": names,
            "term": terms,
            "n": facts["n"],
            "events": facts["events"],
            "biomarker_mean": centre,
            "biomarker_sd": scale,
        }
        | log_hr_summary(coef, "term")
        | {"kappa": kappa}
        | {key: np.asarray(value)[position] for key, value in converge.items()}
        | {"divergences": divergences},
        columns=SCREEN_COLUMNS,
    )
    table.attrs.update(facts | {"divergences": divergences})
    return table


def _notes(found: dict[str, float | int | bool]) -> list[str]:
    notes = []
    if found["excluded"]:
        notes.append(f"{found['excluded']} patients with a missing biomarker were left out (complete cases)")
    if not found["converged"]:
        notes.append(
            f"interaction screen NOT CONVERGED: {found['divergences']} divergences, {found['max_treedepth']} "
            f"transitions at the maximum tree depth, R-hat max {found['r_hat_max']:.3f}, ESS min "
            f"{found['ess_min']:.0f}, BFMI min {found['bfmi_min']:.2f}; before reading these numbers raise "
            "bayes.screen_target_accept (e.g. 0.995) against divergences, draws and tune against low ESS or high "
            "R-hat; a horseshoe with local_df 1 (half-Cauchy) that still diverges needs local_df 3"
        )
    return notes
