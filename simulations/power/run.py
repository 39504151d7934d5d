"""Power studies for validation cohorts: ``tmesurv power STUDY.yaml --out DIR``, run on Dask distributed.

How large must an independent validation cohort be to confirm that a biomarker is predictive, and what does the
paper's median-split approach lose against a proper interaction model? A study file
(:mod:`~tmesurv.simulations.power.study`) crosses cohort settings (size, interaction HR, prevalence, follow-up,
dropout, randomized or single-arm); every setting's replicate cohorts
(:mod:`~tmesurv.simulations.power.cohorts`) are analysed by every method
(:mod:`~tmesurv.simulations.power.methods`) and summarised with Monte Carlo standard errors
(:mod:`~tmesurv.simulations.power.summary`).

Execution. A task is one (setting, chunk of ``chunk_size`` consecutive replicates); it runs :func:`run_chunk` on a
Dask worker - a ``LocalCluster`` of single-threaded worker processes by default, or the cluster behind
``scheduler`` (its workers need tmesurv installed; they need no access to ``DIR``). The client saves each finished
chunk at once, atomically, as ``DIR/chunks/<study hash>-s<setting>-c<chunk>.npz``. Every replicate draws from its
own stream, so the results do not depend on the number of workers or the order chunks finish in.

Resuming. ``DIR/study.json`` records the study's hash (of its parsed content and its scenario's). A rerun with the
same study computes only the chunks that are not saved yet; a rerun with a study that changed is refused (naming the
changed keys) unless ``fresh`` is given, which discards every saved chunk first.

Outputs: ``DIR/power.nc`` (the Dataset, h5netcdf), ``DIR/power.csv`` (flat: a row per setting and method),
``DIR/power_curve.png`` and ``.svg`` (power against mean events, the analytic curve overlaid) and ``DIR/run.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from tmesurv import __version__
from tmesurv.errors import InputError
from tmesurv.outputs.atomic import write_atomically, write_text
from tmesurv.outputs.files import POWER, write_result
from tmesurv.outputs.run_record import record_run
from tmesurv.simulations.power.cohorts import simulate_validation_cohorts
from tmesurv.simulations.power.methods import build_methods
from tmesurv.simulations.power.study import PowerStudy, canonical_json, load_power_study
from tmesurv.simulations.power.summary import power_curve_figure, power_table, summarize_power

STUDY_RECORD = "study.json"
CHUNK_FOLDER = "chunks"
CONNECT_TIMEOUT = "10s"
Progress = Callable[[int, int], None]
"""Called with (chunks done, chunks in all) once the cluster is up, then after every saved chunk."""


@dataclass(frozen=True)
class PowerRun:
    """What a study run produced.

    Attributes
    ----------
    dataset
        The operating characteristics (also in ``power.nc``).
    paths
        The files written.
    computed, reused
        Chunks computed by this run, and chunks found saved by an earlier run.
    """

    dataset: xr.Dataset
    paths: list[Path]
    computed: int
    reused: int


def run_power_study(
    study: PowerStudy | Path | str,
    out_dir: Path | str,
    workers: int | None = None,
    scheduler: str | None = None,
    fresh: bool = False,
    progress: Progress | None = None,
    figure: bool = True,
) -> PowerRun:
    """Run (or resume) a power study and write its outputs.

    Parameters
    ----------
    study
        A loaded study, or a study file (path or shipped name).
    out_dir
        The result folder (created if needed).
    workers
        Worker processes of the local cluster (default: the usable cores); ignored with ``scheduler``.
    scheduler
        Address of an existing Dask scheduler (e.g. ``tcp://10.0.0.5:8786``) instead of a local cluster.
    fresh
        Discard every chunk saved in ``out_dir`` and start over (needed when it holds a different study).
    progress
        Progress callback (see :data:`Progress`).
    figure
        Draw ``power_curve.png`` and ``.svg`` (a few seconds for a large grid).

    Returns
    -------
    PowerRun
        The Dataset, the files written, and how many chunks were computed and reused.

    Raises
    ------
    InputError
        If the study file is invalid, ``out_dir`` holds a different study (without ``fresh``), or the scheduler
        cannot be reached.
    """
    study = study if isinstance(study, PowerStudy) else load_power_study(study)
    out_dir = Path(out_dir)
    _prepare_folder(study, out_dir, fresh)
    tasks = [(setting.index, chunk) for setting in study.settings() for chunk in range(len(study.chunks()))]
    missing = [task for task in tasks if not chunk_path(out_dir, study, *task).is_file()]
    report = progress or (lambda done, total: None)
    if missing:
        with dask_client(workers, scheduler) as client:
            report(len(tasks) - len(missing), len(tasks))
            _compute(client, study, missing, out_dir, lambda done: report(len(tasks) - len(missing) + done, len(tasks)))
    else:
        report(len(tasks), len(tasks))
    dataset = summarize_power(study, _load_results(study, out_dir))
    paths = _write_outputs(study, dataset, out_dir, figure)
    return PowerRun(dataset, paths, len(missing), len(tasks) - len(missing))


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
        ``events`` and ``<method>.<field>`` for every method that applies to the setting's design, each
        ``(replicates in the chunk,)``.
    """
    point = study.settings()[setting]
    batch = simulate_validation_cohorts(study.cohort_model(point), study.spec.seed, setting, study.chunks()[chunk])
    arrays = {"events": batch.events}
    for name, method in build_methods(study.spec).items():
        if method.applies_to(point.design):
            result = method.analyse(batch, study.spec.alpha)
            arrays |= {f"{name}.{field}": values for field, values in result.arrays().items()}
    return arrays


def chunk_path(out_dir: Path, study: PowerStudy, setting: int, chunk: int) -> Path:
    """Where a chunk of a study is saved."""
    return Path(out_dir) / CHUNK_FOLDER / f"{study.digest}-s{setting:05d}-c{chunk:05d}.npz"


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[object]:
    """A Dask client: of the cluster at ``scheduler``, or of a new :func:`local_cluster` (closed on exit).

    Raises
    ------
    InputError
        If the scheduler cannot be reached.
    """
    from dask.distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise InputError(f"cannot reach the Dask scheduler at '{scheduler}': {error}; check the address") from None
        with client:
            yield client
        return
    with local_cluster(workers or default_workers()) as cluster, Client(cluster) as client:
        yield client


def local_cluster(workers: int) -> object:
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes, tuned for numpy-heavy tasks.

    The dashboard gets a free port (a second cluster on the machine would otherwise collide on 8787). The workers
    start without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: setting it fixes glibc's mmap threshold, so every
    large numpy temporary is mapped and page-faulted afresh, which made the batched Cox fits about 60% slower; a
    chunk's working set is a few MB, so the memory it saves does not matter here. (A cluster behind ``scheduler``
    keeps its own settings: for the same speed, set ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_:
    null`` in its workers' Dask config.)
    """
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")


def _compute(
    client: object, study: PowerStudy, tasks: list[tuple[int, int]], out_dir: Path, done: Callable[[int], None]
) -> None:
    """Submit the tasks, and save each chunk as soon as it finishes; cancel the rest on any error."""
    from dask.distributed import as_completed

    run = uuid.uuid4().hex[:8]  # keys of this run only: never attach to a task an earlier (killed) client left
    futures = {
        client.submit(run_chunk, study, *task, key=f"tmesurv-power-{study.digest}-{run}-{task[0]}-{task[1]}"): task
        for task in tasks
    }
    try:
        for count, future in enumerate(as_completed(futures), start=1):
            _save_chunk(chunk_path(out_dir, study, *futures[future]), future.result())
            future.release()
            done(count)
    finally:
        client.cancel(list(futures))


def _save_chunk(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(temporary: Path) -> None:
        with temporary.open("wb") as handle:
            np.savez(handle, **arrays)

    write_atomically(path, write)


def _load_results(study: PowerStudy, out_dir: Path) -> dict[int, dict[str, np.ndarray]]:
    """Every setting's arrays over all replicates, chunks concatenated in order."""
    results = {}
    for setting in study.settings():
        chunks = []
        for chunk in range(len(study.chunks())):
            with np.load(chunk_path(out_dir, study, setting.index, chunk)) as saved:
                chunks.append({name: saved[name] for name in saved.files})
        results[setting.index] = {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
    return results


def _prepare_folder(study: PowerStudy, out_dir: Path, fresh: bool) -> None:
    """Refuse a folder that holds another study, or clear its chunks with ``fresh``; record this study.

    Temporary files of chunks being written when an earlier run was killed are removed.
    """
    record_path = out_dir / STUDY_RECORD
    if record_path.is_file() and not fresh:
        recorded = json.loads(record_path.read_text())
        if recorded.get("study_hash") != study.digest:
            raise InputError(_changed_message(study, out_dir, recorded))
    if fresh:
        shutil.rmtree(out_dir / CHUNK_FOLDER, ignore_errors=True)
    for partial in (out_dir / CHUNK_FOLDER).glob(".*.part"):
        partial.unlink(missing_ok=True)
    record = {
        "study_hash": study.digest,
        "study_file": str(study.path),
        "tmesurv_version": __version__,
        "content": json.loads(canonical_json(study.content())),
    }
    write_text(record_path, json.dumps(record, indent=2))


def _changed_message(study: PowerStudy, out_dir: Path, recorded: dict) -> str:
    old = _flatten(recorded.get("content", {}))
    new = _flatten(json.loads(canonical_json(study.content())))
    changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return (
        f"'{out_dir}' holds chunks of a different study (hash {recorded.get('study_hash')}, now {study.digest}; "
        f"changed: {shown or 'the study format'}): rerun with --fresh to discard them, or give a new --out folder"
    )


def _flatten(content: object, prefix: str = "") -> dict[str, object]:
    """Nested dicts as ``{"a.b": value}`` (lists are values)."""
    if not isinstance(content, dict):
        return {prefix: content}
    flat = {}
    for key, value in content.items():
        flat |= _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def _write_outputs(study: PowerStudy, dataset: xr.Dataset, out_dir: Path, figure: bool) -> list[Path]:
    from tmesurv.reports.graphics import save_figure

    netcdf = write_atomically(out_dir / "power.nc", lambda temporary: _write_netcdf(dataset, temporary))
    table = write_result(out_dir, POWER, power_table(dataset))
    figures = save_figure(power_curve_figure(dataset), out_dir / "power_curve") if figure else []
    config = json.loads(canonical_json(study.content()))
    written = [netcdf, table, *figures, out_dir / STUDY_RECORD]
    run = record_run(out_dir, "power", config, study.path, study.digest, seed=study.spec.seed, files=written)
    return [*written, run]


def _write_netcdf(dataset: xr.Dataset, path: Path) -> None:
    dataset.to_netcdf(path, engine="h5netcdf")
