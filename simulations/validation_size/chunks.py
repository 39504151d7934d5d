"""One chunk of a validation-size study: simulate its validation cohorts and score every metric on them.

The task a Dask worker (or the study's own process) runs, as :func:`tmesurv.simulations.power.chunks.run_chunk` is for
an interaction power study; the harness (chunk files, resume, Dask) is the power study's. The model and the target
population are built once per process and study (they depend on the study's seed only).
"""

from __future__ import annotations

import numpy as np

from tmesurv.models.prediction.cox import CoxModel
from tmesurv.simulations.power.chunks import STOPPING, ChunkError, describe_error
from tmesurv.simulations.validation_size.metrics import analytic_metric, loop_metric
from tmesurv.simulations.validation_size.model import Population, build_population, load_model, simulate_cohorts
from tmesurv.simulations.validation_size.study import ANALYTIC_METRICS, ValidationSizeStudy

BOOTSTRAP_KEY = 1
"""Spawn-key suffix of a replicate's bootstrap seed (its cohort's stream has none)."""
_PREPARED: dict[str, tuple[CoxModel, Population]] = {}


def prepared(study: ValidationSizeStudy) -> tuple[CoxModel, Population]:
    """The study's model and target population (built once per process)."""
    if study.digest not in _PREPARED:
        model = load_model(study)
        _PREPARED[study.digest] = (model, build_population(study, model))
    return _PREPARED[study.digest]


def run_validation_chunk(study: ValidationSizeStudy, setting: int, chunk: int) -> dict[str, np.ndarray]:
    """Simulate and score one chunk of one setting.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``events`` and ``events_at_horizon`` per replicate, and ``<metric>.estimate``, ``.lower``, ``.upper`` for
        every metric of the study (NaN where not estimable; no interval: NaN limits), each ``(replicates in chunk,)``.

    Raises
    ------
    ChunkError
        If anything fails (the message names the setting, chunk and cause).
    """
    try:
        model, population = prepared(study)
        point, replicates = study.settings()[setting], study.chunks()[chunk]
        cohorts = simulate_cohorts(study, model, population, point, replicates)
        horizon, alpha = study.spec.horizon, study.spec.alpha
        by_horizon = (cohorts.event == 1) & (cohorts.time <= horizon)
        arrays = {"events": cohorts.event.sum(axis=1), "events_at_horizon": by_horizon.sum(axis=1).astype(float)}
        seeds = bootstrap_seeds(study.spec.seed, setting, replicates)
        for metric in study.spec.metrics:
            if metric in ANALYTIC_METRICS:
                values = analytic_metric(metric, cohorts, horizon, alpha)
            else:
                values = loop_metric(metric, cohorts, horizon, alpha, study.spec.bootstrap, seeds)
            arrays |= {f"{metric}.{field}": value for field, value in values.items()}
        return arrays
    except STOPPING:
        raise
    except BaseException as error:  # must not escape a Dask task (see tmesurv.simulations.power.chunks)
        raise ChunkError(f"setting {setting}, chunk {chunk}: {describe_error(error)}") from None


def bootstrap_seeds(seed: int, setting: int, replicates: range) -> np.ndarray:
    """Each replicate's bootstrap seed, from its own stream."""
    return np.array(
        [np.random.SeedSequence(seed, spawn_key=(setting, r, BOOTSTRAP_KEY)).generate_state(1)[0] for r in replicates]
    )


ANALYTIC_COST = 0.002
"""Approximate single-core seconds per replicate of 1,000 patients to simulate a cohort and score a batched metric."""
LOOP_COSTS = {"uno_c": 0.003, "time_auc": 0.003, "brier": 0.002, "ipa": 0.004, "ici": 0.018, "c_for_benefit": 0.008}
"""Approximate single-core seconds per replicate of 1,000 patients (and per bootstrap resample) of each loop metric."""


def estimated_seconds(study: ValidationSizeStudy, tasks: list[tuple[int, int]]) -> float:
    """Approximate single-core seconds to compute ``tasks`` (decides in process vs Dask, as for power studies)."""
    spec = study.spec
    per_replicate = sum(
        ANALYTIC_COST if metric in ANALYTIC_METRICS else LOOP_COSTS[metric] * (1 + spec.bootstrap)
        for metric in spec.metrics
    )
    settings, chunks = study.settings(), study.chunks()
    return sum(len(chunks[chunk]) * settings[setting].n / 1000 * per_replicate for setting, chunk in tasks)
