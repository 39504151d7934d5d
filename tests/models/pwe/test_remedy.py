"""Re-running a divergent fit at higher target acceptances, and the advice when a fit still fails."""

from tmesurv.models.pwe.remedy import remedy_advice, sample_with_remedy
from tmesurv.models.pwe.settings import SamplerSettings


def runs_with(divergences_by_target: dict[float, int]):
    """A fake fit whose divergences depend on the target acceptance; it records the settings of every run."""
    calls = []

    def run(sampler: SamplerSettings) -> dict:
        calls.append(sampler)
        return {"divergences": divergences_by_target[sampler.target_accept]}

    return run, calls


def test_divergent_fit_is_rerun_until_a_run_has_none():
    run, calls = runs_with({0.9: 12, 0.95: 3, 0.99: 0})
    remedied = sample_with_remedy(run, lambda result: result["divergences"], SamplerSettings(seed=4), [0.95, 0.99])
    assert [call.target_accept for call in calls] == [0.9, 0.95, 0.99]
    assert {call.seed for call in calls} == {4}  # only the target acceptance changes
    assert (remedied.target_accept, remedied.reruns, remedied.first_divergences) == (0.99, 2, 12)
    assert remedied.result == {"divergences": 0}


def test_no_rerun_without_divergences_or_higher_targets():
    run, calls = runs_with({0.9: 0})
    remedied = sample_with_remedy(run, lambda result: result["divergences"], SamplerSettings(), [0.95, 0.99])
    assert (len(calls), remedied.reruns, remedied.target_accept) == (1, 0, 0.9)
    run, calls = runs_with({0.96: 5, 0.99: 5})
    remedied = sample_with_remedy(
        run, lambda result: result["divergences"], SamplerSettings(target_accept=0.96), [0.95, 0.99]
    )
    assert [call.target_accept for call in calls] == [0.96, 0.99]  # 0.95 is not higher: skipped
    assert (remedied.reruns, remedied.result["divergences"]) == (1, 5)
    run, calls = runs_with({0.9: 5})
    assert sample_with_remedy(run, lambda result: result["divergences"], SamplerSettings(), []).reruns == 0


def test_advice_names_the_remedy_for_what_failed():
    assert "raise bayes.target_accept" in remedy_advice(3, 0.9)
    at_highest = remedy_advice(3, 0.99)
    assert "more draws do not help" in at_highest
    assert "reparametrise" in at_highest
    assert "bayes.tune" in remedy_advice(0, 0.99, low_bfmi=True)
    assert "bayes.draws" in remedy_advice(0, 0.9)
