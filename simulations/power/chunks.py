"""One chunk of a power study: simulate its replicates, analyse them with every method, keep failures; chunk files.

A task is one (setting, chunk of ``chunk_size`` consecutive replicates). :func:`run_chunk` simulates the chunk's
cohorts and analyses them with every method that applies to the setting's design; the same function runs in the
study's own process or on a Dask worker, so the arrays - and the results - are the same either way.

Failures never stop or hang a study. When a method raises on a batch, the batch is analysed again one replicate at a
time, so only the replicates that raise are lost: each is marked failed (NaN estimate, no rejection) and its message
(``"<exception type>: <text>"``, at most :data:`MESSAGE_LENGTH` characters) is kept in ``<method>.error`` (empty for
the replicates that did not raise). Any exception counts, including a ``BaseException`` that is not an interrupt, such
as the ``PanicException`` nutpie raises when its Rust code panics; ``KeyboardInterrupt`` (and SIGTERM's
:class:`~tmesurv.interrupts.Terminated`), ``SystemExit`` and ``GeneratorExit`` still stop the study. An error outside
the methods (in the simulation) fails the whole task: it is raised as a :class:`ChunkError`, an ordinary exception,
because a ``BaseException`` escaping a task leaves a Dask worker without an answer and the study waiting for ever.

Chunk files. Each finished chunk is saved at once, atomically, as ``DIR/chunks/<study hash>-s<setting>-c<chunk>.npz``
(numpy arrays, no pickles); those names are how tmesurv recognises its own files there (``--fresh`` removes them and
nothing else).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tmesurv import interrupts
from tmesurv.outputs.atomic import write_atomically
from tmesurv.simulations.power.cohorts import ValidationBatch, simulate_validation_cohorts
from tmesurv.simulations.power.methods import FIELDS, Method, MethodResult, build_methods
from tmesurv.simulations.power.study import PowerStudy

CHUNK_FOLDER = "chunks"
CHUNK_NAME = re.compile(r"[0-9a-f]{16}-s\d{5}-c\d{5}\.npz")
"""Names of the chunk files tmesurv writes (``<study hash>-s<setting>-c<chunk>.npz``)."""
PARTIAL_NAME = re.compile(r"\.[0-9a-f]{16}-s\d{5}-c\d{5}\.npz\.[0-9a-z_]+\.part")
"""Names of the temporary files of chunks being written when a run was killed."""
MESSAGE_LENGTH = 300
STOPPING = (KeyboardInterrupt, SystemExit, GeneratorExit)
"""Exceptions that stop a study instead of failing a replicate."""


class ChunkError(RuntimeError):
    """A task failed outside the analysis methods (its cause is in the message)."""


def run_chunk(study: PowerStudy, setting: int, chunk: int) -> dict[str, np.ndarray]:
    """Simulate and analyse one chunk of one setting (the task a Dask worker runs).

    Parameters
    ----------
    study
        The study.
    setting
        Index of the setting in the grid.
    chunk
        Index of the chunk of replicates.

    Returns
    -------
    dict[str, numpy.ndarray]
        ``events``, and ``<method>.<field>`` (the fields of :class:`~tmesurv.simulations.power.methods.MethodResult`)
        and ``<method>.error`` (messages, empty where none) for every method that applies to the setting's design,
        each ``(replicates in the chunk,)``.

    Raises
    ------
    ChunkError
        If the cohorts cannot be simulated (or anything else outside the methods fails).
    """
    try:
        point = study.settings()[setting]
        cohorts = study.cohort_model(point)
        batch = simulate_validation_cohorts(cohorts, study.spec.seed, setting, study.chunks()[chunk])
        arrays = {"events": batch.events}
        for name, method in build_methods(study.spec).items():
            if method.applies_to(point.design):
                result, errors = analyse_isolated(method, batch, study.spec.alpha)
                arrays |= {f"{name}.{field}": values for field, values in result.arrays().items()}
                arrays[f"{name}.error"] = errors
        return arrays
    except STOPPING:
        raise
    except BaseException as error:  # must not escape a Dask task (see the docstring)
        raise ChunkError(f"setting {setting}, chunk {chunk}: {describe_error(error)}") from None


def analyse_isolated(method: Method, batch: ValidationBatch, alpha: float) -> tuple[MethodResult, np.ndarray]:
    """Analyse a batch; if the method raises, analyse each replicate alone and mark those that raise as failed.

    Returns
    -------
    tuple[MethodResult, numpy.ndarray]
        The method's result for every replicate, and each replicate's error message (``""`` where none).
    """
    try:
        result = method.analyse(batch, alpha)
        interrupts.raise_if_interrupted()  # a sampler may have swallowed Ctrl-C and returned early
        return result, np.full(len(batch), "")
    except STOPPING:
        raise
    except BaseException as error:  # a panic in a compiled sampler is a BaseException
        if len(batch) == 1:
            return failed_result(1), np.array([describe_error(error)])
    results = [analyse_isolated(method, batch.select([row]), alpha) for row in range(len(batch))]
    fields = {name: np.concatenate([result.arrays()[name] for result, _ in results]) for name in FIELDS}
    return MethodResult(**fields), np.concatenate([errors for _, errors in results])


def failed_result(size: int) -> MethodResult:
    """A result for ``size`` replicates without an estimate: NaN, no rejection, failed."""
    nan = np.full(size, np.nan)
    false = np.zeros(size, dtype=bool)
    return MethodResult(nan, nan.copy(), nan.copy(), nan.copy(), reject=false, failed=~false, flagged=false.copy())


def describe_error(error: BaseException) -> str:
    """``"<type>: <message>"`` on one line, at most :data:`MESSAGE_LENGTH` characters."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= MESSAGE_LENGTH else text[: MESSAGE_LENGTH - 3] + "..."


def chunk_path(out_dir: Path, study: PowerStudy, setting: int, chunk: int) -> Path:
    """Where a chunk of a study is saved."""
    return Path(out_dir) / CHUNK_FOLDER / f"{study.digest}-s{setting:05d}-c{chunk:05d}.npz"


def save_chunk(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a chunk's arrays atomically (``.npz``)."""

    def write(temporary: Path) -> None:
        with temporary.open("wb") as handle:
            np.savez(handle, **arrays)

    write_atomically(path, write)


def load_results(
    study: PowerStudy, out_dir: Path, computed: dict[tuple[int, int], dict[str, np.ndarray]] | None = None
) -> dict[int, dict[str, np.ndarray]]:
    """Every setting's arrays over all replicates, chunks concatenated in order.

    The chunks in ``computed`` (keyed by (setting, chunk), the arrays this run saved) are taken from there, the others
    read from their files. A chunk saved before tmesurv kept error messages has no ``<method>.error``: its replicates
    raised nothing (an exception then stopped the study), so the messages are empty.
    """
    computed = computed or {}
    results = {}
    for setting in study.settings():
        chunks = []
        for chunk in range(len(study.chunks())):
            arrays = computed.get((setting.index, chunk))
            if arrays is None:
                with np.load(chunk_path(out_dir, study, setting.index, chunk)) as saved:
                    arrays = {name: saved[name] for name in saved.files}
            for name in [name.removesuffix(".reject") for name in arrays if name.endswith(".reject")]:
                arrays.setdefault(f"{name}.error", np.full(arrays[f"{name}.reject"].size, ""))
            chunks.append(arrays)
        results[setting.index] = {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
    return results


def remove_chunk_files(out_dir: Path) -> int:
    """Delete the chunk files (and temporaries) tmesurv wrote in ``DIR/chunks``, nothing else; return how many."""
    folder = Path(out_dir) / CHUNK_FOLDER
    if not folder.is_dir():
        return 0
    ours = [path for path in folder.iterdir() if path.is_file() and _is_ours(path.name)]
    for path in ours:
        path.unlink(missing_ok=True)
    return len(ours)


def remove_partial_chunks(out_dir: Path) -> None:
    """Delete temporary files of chunks that were being written when an earlier run was killed."""
    folder = Path(out_dir) / CHUNK_FOLDER
    if folder.is_dir():
        for path in folder.iterdir():
            if PARTIAL_NAME.fullmatch(path.name):
                path.unlink(missing_ok=True)


def _is_ours(name: str) -> bool:
    return bool(CHUNK_NAME.fullmatch(name) or PARTIAL_NAME.fullmatch(name))
