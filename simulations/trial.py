"""One synthetic trial export per replicate, reproducible from (seed, replicate) alone.

Replicate ``r`` of seed ``s`` draws from ``numpy.random.SeedSequence(s, spawn_key=(r,))`` - the ``r``-th child of
``SeedSequence(s).spawn(...)`` - so a cohort is the same whether it is generated alone or in a batch, and in any
order. Each cohort is generated with a few vectorised draws per block (arms, dates, strata, biomarkers, EFS,
censoring, response, product).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from tmesurv.errors import InputError
from tmesurv.simulations.biomarkers import BiomarkerDraw, generate_biomarkers
from tmesurv.simulations.event_times import draw_event_times
from tmesurv.simulations.product import generate_product
from tmesurv.simulations.response import generate_response
from tmesurv.simulations.scenario import DAYS_PER_MONTH, Scenario

EXPORT_DECIMALS = 4


@dataclass(frozen=True)
class SimulatedTrial:
    """One simulated export: its columns (one value per patient), the optional gene matrix, and the truth.

    ``latent`` holds the standard-normal biomarker values the EFS effects act on (never missing, not exported).
    """

    columns: dict[str, np.ndarray]
    genes: pd.DataFrame | None
    latent: dict[str, np.ndarray]

    def to_frame(self) -> pd.DataFrame:
        """The trial export as a data frame (the columns a CSV export has)."""
        return pd.DataFrame(self.columns)


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    """The generator of replicate ``replicate`` of ``seed`` (the ``replicate``-th spawned child)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replicate,)))


def simulate_trial(scenario: Scenario, seed: int, replicate: int = 0) -> SimulatedTrial:
    """Simulate one trial export.

    Parameters
    ----------
    scenario
        The validated scenario.
    seed
        The run's seed.
    replicate
        Which cohort of the run (0 for a single cohort).

    Returns
    -------
    SimulatedTrial
        The export's columns; times in months.
    """
    rng = replicate_rng(seed, replicate)
    treated = _randomise(rng, scenario)
    entry = rng.uniform(0.0, scenario.accrual.months()[0], treated.size)
    strata = _strata(rng, scenario, treated.size)
    markers = generate_biomarkers(rng, treated, scenario.biomarkers)
    efs_time, efs_event = _efs(rng, scenario, treated, entry, strata, markers)
    response = generate_response(rng, treated, efs_time, efs_event, scenario.response)
    product = generate_product(rng, treated, response["responder"], scenario.product)
    columns = {
        "subject_id": _subject_ids(treated.size),
        "arm": np.array([scenario.arms.control_label, scenario.arms.treated_label])[treated],
        "randomization_date": _dates(scenario, entry),
        **{name: levels for name, (levels, _) in strata.items()},
        "efs_time": np.round(efs_time, EXPORT_DECIMALS),
        "efs_event": efs_event,
        **response,
        **markers.columns,
        **product,
    }
    return SimulatedTrial(columns=columns, genes=markers.genes, latent=markers.latent)


def simulate_trials(scenario: Scenario, seed: int, replicates: Iterable[int]) -> Iterator[SimulatedTrial]:
    """Simulate the given replicates of ``seed`` (each identical to :func:`simulate_trial` alone)."""
    for replicate in replicates:
        yield simulate_trial(scenario, seed, replicate)


def _randomise(rng: np.random.Generator, scenario: Scenario) -> np.ndarray:
    """0/1 per patient (1 = treated), in random order."""
    return rng.permutation(_allocation(scenario.arms.treated, scenario.arms.control))


@lru_cache(maxsize=16)
def _allocation(treated: int, control: int) -> np.ndarray:
    """``treated`` ones then ``control`` zeros (read-only; :func:`numpy.random.Generator.permutation` copies)."""
    allocation = np.concatenate([np.ones(treated, dtype=int), np.zeros(control, dtype=int)])
    allocation.setflags(write=False)
    return allocation


def _strata(rng: np.random.Generator, scenario: Scenario, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Stratum levels per patient and their prognostic log HR contribution."""
    drawn = {}
    for name, stratum in scenario.strata.items():
        levels, bounds, log_hr = _stratum_levels(tuple(stratum.shares.items()), tuple(stratum.log_hr.items()))
        index = np.searchsorted(bounds, rng.random(n), side="right")
        drawn[name] = (levels[index], log_hr[index])
    return drawn


@lru_cache(maxsize=64)
def _stratum_levels(
    shares: tuple[tuple[str, float], ...], log_hr: tuple[tuple[str, float], ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stratum's levels, the cumulative shares between them, and each level's log HR (0 if not given)."""
    levels = np.array([level for level, _ in shares])
    bounds = np.cumsum([share for _, share in shares])[:-1]
    log_hrs = np.array([dict(log_hr).get(level, 0.0) for level in levels])
    for array in (levels, bounds, log_hrs):
        array.setflags(write=False)
    return levels, bounds, log_hrs


def _efs(
    rng: np.random.Generator,
    scenario: Scenario,
    treated: np.ndarray,
    entry: np.ndarray,
    strata: dict[str, tuple[np.ndarray, np.ndarray]],
    markers: BiomarkerDraw,
) -> tuple[np.ndarray, np.ndarray]:
    """EFS time (months) and event, censored at the data cutoff and by dropout."""
    efs = scenario.efs
    in_treated = treated == 1
    eta = sum((log_hr for _, log_hr in strata.values()), np.zeros(treated.size))
    if efs.effects:
        unknown = [name for name in efs.effects if name not in markers.latent]
        if unknown:
            known = ", ".join(sorted(markers.latent))
            raise InputError(f"scenario: efs.effects.{unknown[0]} is not a simulated biomarker; known: {known}")
        per_arm = np.array([(effect.control, effect.treated) for effect in efs.effects.values()])  # effects x arm
        latent = np.array([markers.latent[name] for name in efs.effects])  # effects x patients
        eta += (per_arm[:, treated] * latent).sum(axis=0)
    uniform = rng.random(treated.size)
    event_time = np.empty(treated.size)
    for rows, hazard in ((in_treated, efs.treated), (~in_treated, efs.control)):
        event_time[rows] = draw_event_times(uniform[rows], eta[rows], hazard)
    administrative = scenario.accrual.months()[1] - entry
    dropout_rate = scenario.accrual.dropout_per_year / 12
    dropout = rng.exponential(1 / dropout_rate, treated.size) if dropout_rate > 0 else np.full(treated.size, np.inf)
    censor = np.minimum(administrative, dropout)
    observed = np.maximum(np.minimum(event_time, censor), 0.5 / DAYS_PER_MONTH)  # half a day at the earliest
    return observed, (event_time <= censor).astype(int)


def _dates(scenario: Scenario, entry: np.ndarray) -> np.ndarray:
    days = np.floor(entry * DAYS_PER_MONTH).astype(int)
    return _date_labels(scenario.accrual.start, (scenario.accrual.end - scenario.accrual.start).days + 1)[days]


@lru_cache(maxsize=16)
def _date_labels(start: dt.date, count: int) -> np.ndarray:
    """ISO dates of the ``count`` days from ``start`` (cached: formatting dates is the slow part)."""
    return (np.datetime64(start) + np.arange(count).astype("timedelta64[D]")).astype(str)


@lru_cache(maxsize=16)
def _subject_ids(n: int) -> np.ndarray:
    ids = np.array([f"SIM-{i:04d}" for i in range(1, n + 1)])
    ids.setflags(write=False)
    return ids


def analysis_config(scenario: Scenario, data_file: str, seed: int) -> dict:
    """The analysis config (YAML-ready data) that reads an export of ``scenario`` saved as ``data_file``.

    The Bayesian sampler gets the simulation's seed, so one seed reproduces the whole pipeline.
    """
    return {
        "data": {
            "path": data_file,
            "id": "subject_id",
            "arm": {"column": "arm", "treated": scenario.arms.treated_label, "control": scenario.arms.control_label},
            "time_unit": "months",
            "endpoints": {"efs": {"time": "efs_time", "event": "efs_event"}},
            "biomarkers": list(scenario.analysis_biomarkers),
            "covariates": [],
            "strata": list(scenario.strata),
        },
        "analysis": {"endpoint": "efs", "cutpoint": "median", "landmarks": [12, 18, 24]},
        "bayes": {"seed": seed},
    }
