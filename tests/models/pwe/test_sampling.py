"""The one sampling path of every registered Bayesian model: an interrupt the sampler swallowed is raised again."""

import signal

import pytest

from tests.models.pwe.conftest import SMALL_DESIGN, SMALL_EVENT, SMALL_MODEL, SMALL_TIME
from tmesurv import interrupts
from tmesurv.models.pwe.registry import MODELS
from tmesurv.models.pwe.sampling import PARALLEL_CHAINS_MIN_WORK, nutpie_cores
from tmesurv.models.pwe.settings import SamplerSettings

TINY = SamplerSettings(draws=10, tune=10, chains=2, seed=1)


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("received", [signal.SIGINT, signal.SIGTERM])
def test_every_model_refuses_the_draws_of_an_interrupted_run(model, received, monkeypatch):
    """nutpie returns the draws it has when Ctrl-C comes; no model's fit may hand them on (issue #22 item 1)."""
    monkeypatch.setattr(interrupts, "_received", [received])  # as if the signal came while sampling
    expected = interrupts.Terminated if received == signal.SIGTERM else KeyboardInterrupt
    with pytest.raises(expected):
        MODELS[model].fit(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL, TINY)


def test_every_model_samples_once_nothing_was_interrupted(monkeypatch):
    monkeypatch.setattr(interrupts, "_received", [])
    for model in MODELS.values():
        idata = model.fit(SMALL_TIME, SMALL_EVENT, SMALL_DESIGN, SMALL_MODEL, TINY)
        assert idata.posterior.sizes["draw"] == TINY.draws
        assert list(idata.constant_data["term"].to_numpy()) == list(SMALL_DESIGN.columns)


def test_two_threads_only_when_they_pay():
    assert nutpie_cores(TINY) == 2  # a compiled graph runs without the GIL
    assert nutpie_cores(TINY, PARALLEL_CHAINS_MIN_WORK - 1) == 1  # a density Python calls, too little work per call
    assert nutpie_cores(TINY, PARALLEL_CHAINS_MIN_WORK) == 2
    assert nutpie_cores(SamplerSettings(chains=1), PARALLEL_CHAINS_MIN_WORK) == 1
