"""What to do when a fit fails its diagnostics: re-run divergent fits with smaller steps, and advise the right remedy.

A divergent transition means the sampler's step was too large for the posterior's curvature somewhere; more draws do
not cure it, a higher target acceptance (smaller steps) often does. :func:`sample_with_remedy` re-runs a fit with
divergences at each target acceptance of ``bayes.divergence_reruns`` in turn (default 0.95, then 0.99) until a run
has none, and reports the last run with the target acceptance it used and the number of re-runs.
:func:`remedy_advice` names what to change when a fit still fails: divergences at the highest target acceptance call
for a reparametrisation or a simpler model, low effective sample sizes or high R-hat for more draws, a low energy
BFMI for longer tuning or a reparametrisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tmesurv.models.pwe.settings import SamplerSettings

Result = TypeVar("Result")


@dataclass(frozen=True)
class Remedied(Generic[Result]):
    """The reported run of a fit and how it was obtained.

    Attributes
    ----------
    result
        The last run (the first when it had no divergences).
    target_accept
        The target acceptance of that run.
    reruns
        How many times the fit was re-run (0: the first run is reported).
    first_divergences
        Divergent transitions of the first run.
    """

    result: Result
    target_accept: float
    reruns: int
    first_divergences: int


def sample_with_remedy(
    run: Callable[[SamplerSettings], Result],
    divergences: Callable[[Result], int],
    sampler: SamplerSettings,
    targets: Sequence[float],
) -> Remedied[Result]:
    """Run a fit, and while it has divergences re-run it at each higher target acceptance of ``targets`` in turn.

    Parameters
    ----------
    run
        Fits the model with the given sampler settings.
    divergences
        The number of divergent transitions of a run.
    sampler
        The settings of the first run; a re-run changes only ``target_accept`` (same seed).
    targets
        Target acceptances to re-run at, in order; those not above the current one are skipped.

    Returns
    -------
    Remedied
        The last run, its target acceptance, the number of re-runs and the first run's divergences.
    """
    result, target, reruns = run(sampler), sampler.target_accept, 0
    first = divergences(result)
    for higher in targets:
        if divergences(result) == 0:
            break
        if higher <= target:
            continue
        target, reruns = higher, reruns + 1
        result = run(sampler.model_copy(update={"target_accept": higher}))
    return Remedied(result, target, reruns, first)


def remedy_advice(divergences: int, target_accept: float, low_bfmi: bool = False) -> str:
    """What to change when a fit fails the convergence rule, given what failed.

    Parameters
    ----------
    divergences
        Divergent transitions of the reported run.
    target_accept
        Its target acceptance.
    low_bfmi
        Whether a chain's energy BFMI is below the rule's minimum.

    Returns
    -------
    str
        Divergences below a target acceptance of 0.99: raise it; at 0.99 or above: reparametrise or simplify the model
        (more draws do not help); a low BFMI: longer tuning or a reparametrisation; otherwise (R-hat, ESS): more draws.
    """
    if divergences > 0 and target_accept < 0.99:
        return "raise bayes.target_accept (0.95-0.99) or list higher values in bayes.divergence_reruns"
    if divergences > 0:
        return (
            f"divergences remain at target_accept {target_accept:g}: more draws do not help; simplify or "
            "reparametrise the model (fewer bayes.intervals, a smaller priors.random_walk_sd or time_varying_sd)"
        )
    if low_bfmi:
        return "increase bayes.tune, or reparametrise the model (fewer bayes.intervals, narrower priors)"
    return "increase bayes.draws (and tune) until R-hat and the effective sample sizes pass"
