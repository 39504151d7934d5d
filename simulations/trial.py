"""Synthetic trial exports, many cohorts at once, each reproducible from (seed, replicate) alone.

Replicate ``r`` of seed ``s`` draws from ``numpy.random.SeedSequence(s, spawn_key=(r,))`` - the ``r``-th child of
``SeedSequence(s).spawn(...)`` - with exactly two calls, in this order: one ``random`` block of uniforms and one
``standard_normal`` block of normals, each ``(rows, n)`` with a fixed row per use (:func:`_row_layout`). Everything
else - randomisation, strata, the biomarker copula, event times, response, product - transforms those blocks
element by element on ``(rows, replicates, n)`` arrays, in a fixed order and without matrix products, so cohort
``r`` is the same, bit for bit, whether it is generated alone or in a batch, in any order or batch size.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from tmesurv.errors import InputError
from tmesurv.signatures import B_CELL_GENES
from tmesurv.simulations import biomarkers, product, response
from tmesurv.simulations.biomarkers import LATENT_KEYS, biomarkers_from_draws
from tmesurv.simulations.event_times import draw_event_times
from tmesurv.simulations.product import product_from_draws
from tmesurv.simulations.response import BEST_RESPONSES, RESPONSE_GROUPS, response_from_draws
from tmesurv.simulations.scenario import DAYS_PER_MONTH, Scenario

EXPORT_DECIMALS = 4
CHUNK = 64
"""Replicates transformed together: big enough to amortise numpy's per-call cost, small enough to stay in cache."""
_GENE_INDEX = pd.Index(B_CELL_GENES, name="gene")


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


@dataclass(frozen=True)
class TrialBatch:
    """Simulated exports of several replicates of one scenario and seed, as ``(replicates, patients)`` arrays.

    Attributes
    ----------
    replicates
        The replicate numbers, in batch order (position ``i`` holds replicate ``replicates[i]``).
    names
        The export's columns, in export order.
    numeric
        Numeric columns, ``(replicates, patients)``; NaN where not measured.
    coded
        Text columns as ``(codes, levels)``: ``codes`` ``(replicates, patients)`` index ``levels``; None = missing.
    latent
        Standard-normal biomarker values, ``(replicates, patients)`` per key of :data:`LATENT_KEYS`.
    genes
        ``(replicates, genes, patients)`` log2 B cell gene expression (NaN without expression), or None.
    """

    replicates: np.ndarray
    names: tuple[str, ...]
    numeric: dict[str, np.ndarray]
    coded: dict[str, tuple[np.ndarray, np.ndarray]]
    latent: dict[str, np.ndarray]
    genes: np.ndarray | None

    def __len__(self) -> int:
        return self.replicates.size

    def __iter__(self) -> Iterator[SimulatedTrial]:
        return (self.trial(index) for index in range(len(self)))

    @property
    def treated(self) -> np.ndarray:
        """``(replicates, patients)`` booleans, True in the treated arm."""
        return self.coded["arm"][0] == 1

    def column(self, name: str) -> np.ndarray:
        """Column ``name`` of every replicate, ``(replicates, patients)``; text columns as labels.

        Raises
        ------
        KeyError
            If ``name`` is not an export column (the message lists them).
        """
        if name in self.numeric:
            return self.numeric[name]
        if name in self.coded:
            codes, levels = self.coded[name]
            return levels[codes]
        raise KeyError(f"'{name}' is not an export column; columns: {', '.join(self.names)}")

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A text column as ``(codes, levels)`` (``levels[codes]`` are the labels; None is missing).

        Raises
        ------
        KeyError
            If ``name`` is not a text column of the export (the message lists them).
        """
        if name not in self.coded:
            problem = "is a numeric column: use column()" if name in self.numeric else "is not an export column"
            raise KeyError(f"'{name}' {problem}; text columns: {', '.join(self.coded)}")
        return self.coded[name]

    def trial(self, index: int) -> SimulatedTrial:
        """The replicate at position ``index`` as a :class:`SimulatedTrial` (numeric columns are views)."""
        columns = {
            name: self.numeric[name][index] if name in self.numeric else _labels(self.coded[name], index)
            for name in self.names
        }
        genes = None if self.genes is None else pd.DataFrame(self.genes[index], index=_GENE_INDEX)
        return SimulatedTrial(
            columns=columns, genes=genes, latent={key: values[index] for key, values in self.latent.items()}
        )


def _labels(coded: tuple[np.ndarray, np.ndarray], index: int) -> np.ndarray:
    codes, levels = coded
    return levels[codes[index]]


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    """The generator of replicate ``replicate`` of ``seed`` (the ``replicate``-th spawned child)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replicate,)))


def simulate_trial(scenario: Scenario, seed: int, replicate: int = 0) -> SimulatedTrial:
    """Simulate one trial export (the batch of one of :func:`simulate_trials`).

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
    return simulate_trials(scenario, seed, [replicate]).trial(0)


def simulate_trials(scenario: Scenario, seed: int, replicates: range | Sequence[int]) -> TrialBatch:
    """Simulate the given replicates of ``seed`` together, each identical to :func:`simulate_trial` alone.

    Parameters
    ----------
    scenario
        The validated scenario.
    seed
        The run's seed.
    replicates
        Replicate numbers (non-negative; any order, repeats allowed).

    Returns
    -------
    TrialBatch
        Every column as a ``(replicates, patients)`` array.

    Raises
    ------
    InputError
        If an EFS effect names a biomarker that is not simulated.
    ValueError
        If ``replicates`` is empty or holds a negative number.
    """
    _check_effects(scenario)
    numbers = _replicate_numbers(replicates)
    n = scenario.arms.treated + scenario.arms.control
    normals = np.empty((_block_rows(_row_layout(len(scenario.strata))[1]), numbers.size, n))  # latent, in place
    chunks = (slice(start, start + CHUNK) for start in range(0, numbers.size, CHUNK))
    batches = (_simulate_chunk(scenario, seed, numbers[rows], normals[:, rows]) for rows in chunks)
    return _stack(batches, numbers, normals[: len(LATENT_KEYS)])


def _replicate_numbers(replicates: range | Sequence[int]) -> np.ndarray:
    numbers = np.asarray(replicates)
    if numbers.ndim != 1 or numbers.size == 0 or numbers.dtype.kind not in "iu" or (numbers < 0).any():
        raise ValueError("replicates must be a non-empty sequence of non-negative integers, e.g. range(1000)")
    return numbers.astype(np.int64)


def _check_effects(scenario: Scenario) -> None:
    unknown = [name for name in scenario.efs.effects if name not in LATENT_KEYS]
    if unknown:
        known = ", ".join(sorted(LATENT_KEYS))
        raise InputError(f"scenario: efs.effects.{unknown[0]} is not a simulated biomarker; known: {known}")


@lru_cache(maxsize=16)
def _row_layout(strata: int) -> tuple[dict[str, slice], dict[str, slice]]:
    """Which rows of a replicate's uniform and normal blocks each use takes (the draw order; never reorder)."""
    uniforms = [
        ("arm", 1),
        ("entry", 1),
        ("efs", 1),
        ("dropout", 1),
        ("response", response.UNIFORM_ROWS),
        ("product", product.UNIFORM_ROWS),
        ("biomarkers", biomarkers.UNIFORM_ROWS),
        ("strata", strata),
    ]
    normals = [
        ("biomarkers", biomarkers.NORMAL_ROWS),
        ("response", response.NORMAL_ROWS),
        ("product", product.NORMAL_ROWS),
    ]
    return _slices(uniforms), _slices(normals)


def _slices(sizes: list[tuple[str, int]]) -> dict[str, slice]:
    ends = itertools.accumulate(size for _, size in sizes)
    return {name: slice(end - size, end) for (name, size), end in zip(sizes, ends, strict=True)}


def _block_rows(layout: dict[str, slice]) -> int:
    return max(rows.stop for rows in layout.values())


def _draw(seed: int, replicates: np.ndarray, normals: np.ndarray, uniform_rows: int) -> np.ndarray:
    """Each replicate's blocks from its own generator, uniforms first; fills ``normals`` (rows, replicates, n).

    Returns
    -------
    numpy.ndarray
        The uniforms, ``(uniform_rows, replicates, n)``.
    """
    uniforms = np.empty((uniform_rows, *normals.shape[1:]))
    block_u, block_z = np.empty((uniform_rows, normals.shape[2])), np.empty((normals.shape[0], normals.shape[2]))
    for index, replicate in enumerate(replicates.tolist()):
        rng = replicate_rng(seed, replicate)
        uniforms[:, index] = rng.random(out=block_u)
        normals[:, index] = rng.standard_normal(out=block_z)
    return uniforms


def _simulate_chunk(scenario: Scenario, seed: int, replicates: np.ndarray, normals: np.ndarray) -> TrialBatch:
    """The replicates as one batch, every transform vectorised over (replicates, patients).

    ``normals`` (rows, replicates, n) receives the normal blocks; its first rows end up as the latent values.
    """
    rows_u, rows_z = _row_layout(len(scenario.strata))
    uniforms = _draw(seed, replicates, normals, _block_rows(rows_u))
    u = {name: uniforms[rows] for name, rows in rows_u.items()}
    z = {name: normals[rows] for name, rows in rows_z.items()}
    treated = np.argsort(u["arm"][0], axis=-1) < scenario.arms.treated  # a random permutation of the allocation
    entry = scenario.accrual.months()[0] * u["entry"][0]
    strata, log_hr = _strata(scenario, u["strata"])
    markers = biomarkers_from_draws(z["biomarkers"], u["biomarkers"], treated, scenario.biomarkers)
    latent = dict(zip(LATENT_KEYS, markers.latent, strict=True))
    efs_time, efs_event = _efs(scenario, treated, entry, log_hr, latent, u["efs"][0], u["dropout"][0])
    responses = response_from_draws(u["response"], z["response"], treated, efs_time, efs_event, scenario.response)
    products = product_from_draws(z["product"], u["product"], treated, responses["responder"], scenario.product)
    coded = {
        "subject_id": (np.broadcast_to(np.arange(treated.shape[1]), treated.shape), _subject_ids(treated.shape[1])),
        "arm": (treated.astype(np.int8), _arm_labels(scenario.arms.control_label, scenario.arms.treated_label)),
        "randomization_date": _dates(scenario, entry),
        **strata,
        "best_response": (responses.pop("best_response"), BEST_RESPONSES),
        "response_group": (responses.pop("response_group"), RESPONSE_GROUPS),
        **markers.coded,
    }
    numeric = {"efs_time": np.round(efs_time, EXPORT_DECIMALS), "efs_event": efs_event.astype(int)}
    return TrialBatch(
        replicates=replicates,
        names=_export_names(tuple(strata), tuple(products)),
        numeric=numeric | responses | markers.numeric | products,
        coded=coded,
        latent=latent,
        genes=None if markers.genes is None else markers.genes.transpose(1, 0, 2),
    )


@lru_cache(maxsize=16)
def _export_names(strata: tuple[str, ...], products: tuple[str, ...]) -> tuple[str, ...]:
    """The export's columns in order."""
    arm_and_efs = ("subject_id", "arm", "randomization_date", *strata, "efs_time", "efs_event")
    responses = ("best_response", "responder", "response_group", "dor_time", "dor_event")
    return (*arm_and_efs, *responses, *biomarkers.COLUMNS, *products)


def _stack(batches: Iterator[TrialBatch], replicates: np.ndarray, latent: np.ndarray) -> TrialBatch:
    """One batch from consecutive batches (the first itself when it is the whole); ``latent`` is already whole."""
    first = next(batches)
    if len(first) == replicates.size:
        return first
    out = TrialBatch(
        replicates=replicates,
        names=first.names,
        numeric=_allocate(first.numeric, replicates.size),
        coded={name: (_empty(codes, replicates.size), levels) for name, (codes, levels) in first.coded.items()},
        latent=dict(zip(LATENT_KEYS, latent, strict=True)),
        genes=None if first.genes is None else _empty(first.genes, replicates.size),
    )
    start = 0
    for batch in itertools.chain([first], batches):
        rows = slice(start, start + len(batch))
        for name, values in batch.numeric.items():
            out.numeric[name][rows] = values
        for name, (codes, _) in batch.coded.items():
            out.coded[name][0][rows] = codes
        if out.genes is not None:
            out.genes[rows] = batch.genes
        start = rows.stop
    return out


def _allocate(arrays: dict[str, np.ndarray], replicates: int) -> dict[str, np.ndarray]:
    return {name: _empty(values, replicates) for name, values in arrays.items()}


def _empty(like: np.ndarray, replicates: int) -> np.ndarray:
    """An uninitialised array like ``like`` with ``replicates`` rows."""
    return np.empty((replicates, *like.shape[1:]), like.dtype)


def _strata(scenario: Scenario, uniforms: np.ndarray) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Stratum levels per patient, as (codes, levels), and the sum of their prognostic log HRs."""
    coded, log_hr = {}, np.zeros(uniforms.shape[1:])
    for (name, stratum), u in zip(scenario.strata.items(), uniforms, strict=True):
        levels, bounds, level_log_hr = _stratum_levels(tuple(stratum.shares.items()), tuple(stratum.log_hr.items()))
        codes = np.searchsorted(bounds, u, side="right").astype(np.int8)
        coded[name] = (codes, levels)
        log_hr += level_log_hr[codes]
    return coded, log_hr


@lru_cache(maxsize=64)
def _stratum_levels(
    shares: tuple[tuple[str, float], ...], log_hr: tuple[tuple[str, float], ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stratum's levels, the cumulative shares between them, and each level's log HR (0 if not given)."""
    levels = np.array([level for level, _ in shares], dtype=object)
    bounds = np.cumsum([share for _, share in shares])[:-1]
    log_hrs = np.array([dict(log_hr).get(level, 0.0) for level in levels])
    for array in (levels, bounds, log_hrs):
        array.setflags(write=False)
    return levels, bounds, log_hrs


def _efs(
    scenario: Scenario,
    treated: np.ndarray,
    entry: np.ndarray,
    log_hr: np.ndarray,
    latent: dict[str, np.ndarray],
    uniform: np.ndarray,
    dropout_uniform: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """EFS time (months) and event (bool), censored at the data cutoff and by dropout."""
    efs = scenario.efs
    eta = log_hr.copy()
    for name, effect in efs.effects.items():
        eta += np.where(treated, effect.treated, effect.control) * latent[name]
    event_time = np.empty(treated.shape)
    for rows, hazard in ((treated, efs.treated), (~treated, efs.control)):
        event_time[rows] = draw_event_times(uniform[rows], eta[rows], hazard)
    censor = scenario.accrual.months()[1] - entry
    dropout_rate = scenario.accrual.dropout_per_year / 12
    if dropout_rate > 0:
        censor = np.minimum(censor, -np.log1p(-dropout_uniform) / dropout_rate)  # exponential by inversion
    observed = np.maximum(np.minimum(event_time, censor), 0.5 / DAYS_PER_MONTH)  # half a day at the earliest
    return observed, event_time <= censor


def _dates(scenario: Scenario, entry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Randomisation dates as (codes, ISO date labels)."""
    accrual = scenario.accrual
    days = np.floor(entry * DAYS_PER_MONTH).astype(np.int32)
    return days, _date_labels(accrual.start, (accrual.end - accrual.start).days + 1)


@lru_cache(maxsize=16)
def _date_labels(start: dt.date, count: int) -> np.ndarray:
    """ISO dates of the ``count`` days from ``start`` (cached: formatting dates is the slow part)."""
    labels = (np.datetime64(start) + np.arange(count).astype("timedelta64[D]")).astype(str).astype(object)
    labels.setflags(write=False)
    return labels


@lru_cache(maxsize=16)
def _arm_labels(control: str, treated: str) -> np.ndarray:
    labels = np.array([control, treated], dtype=object)
    labels.setflags(write=False)
    return labels


@lru_cache(maxsize=16)
def _subject_ids(n: int) -> np.ndarray:
    ids = np.array([f"SIM-{i:04d}" for i in range(1, n + 1)], dtype=object)
    ids.setflags(write=False)
    return ids
