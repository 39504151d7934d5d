"""Where a power study's chunks are computed: in the study's own process, or on Dask distributed.

The rule (:func:`runs_in_process`). A study runs in process, without any Dask cluster, when ``workers`` is 1 (or
only one core is usable), or when its estimated single-core time is below :data:`IN_PROCESS_SECONDS`; otherwise on a
new ``LocalCluster`` of ``workers`` processes. ``scheduler`` (an existing cluster) always runs on that cluster. The
estimate is the sum over the chunks still to compute of replicates x (n / 1,000) x (the simulation's cost + the
``cost`` of every method that applies), with each method's ``cost`` its approximate single-core seconds per
replicate of 1,000 patients (measured on the batched Cox fits; about 3 s for a Bayesian fit). The threshold is twice
the ~4 s a 2-worker ``LocalCluster`` takes to start and import tmesurv: below it, two workers cannot win back their
start-up. A 1,000-replicate, one-setting Cox study (about 1 s) runs in process; the shipped ``zuma7_validation`` grid
(about 100 s) on the cluster.

In process, the chunks are computed in ``workers`` threads (default: the usable cores; :func:`in_process_threads`)
when every method of the study allows it (``threads``: the batched Cox fits are numpy operations, which release the
GIL: two threads fit a 1,000-replicate study in about 60% of one's time), else one at a time; a validation-size
study computes them one at a time.

On Dask, consecutive chunks are batched into tasks of a few chunks each (:func:`dask_batches`): fewer tasks, less
of Dask's per-task work in the study's process, which shares the cores with the workers; each chunk is still saved
as its own file.

Every path runs the same :func:`~tmesurv.simulations.power.chunks.run_chunk` on the same chunks and saves each chunk
as it finishes (in process: in the tasks' order), so the results are the same bytes either way, and an interrupted
study resumes either way.

Ctrl-C. The terminal sends Ctrl-C to the whole process group, and local workers that died of it would print their
tracebacks (dozens of lines). So the local workers ignore SIGINT: an ignored signal is the one disposition a new
process inherits, so the study's process ignores SIGINT while the worker processes are spawned (a fraction of a
second; the cluster is built in a helper thread meanwhile) and takes it again while they start up. The study's
process takes the interrupt, cancels the tasks and closes the cluster, which stops its workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tmesurv.errors import InputError
from tmesurv.simulations.power.chunks import chunk_path, run_chunk, save_chunk
from tmesurv.simulations.power.cores import default_workers
from tmesurv.simulations.power.methods import build_methods
from tmesurv.simulations.power.study import PowerStudy
from tmesurv.simulations.validation_size.study import ValidationSizeStudy

IN_PROCESS_SECONDS = 8.0
"""Estimated single-core seconds below which a study runs without a Dask cluster (see the module docstring)."""
SIMULATION_COST = 0.0004
"""Single-core seconds to simulate one replicate of 1,000 patients."""
TASKS_PER_WORKER = 8
"""On Dask, consecutive chunks are grouped into batches, one task each, so that there are at least this many tasks per
worker (each task costs the study's process a few ms of Dask's work: 80 one-chunk tasks of a 1,000-replicate, 8-setting
Cox grid cost it about 0.25 s of a core the workers need) ..."""
BATCH_SECONDS = 2.0
"""... and no task is estimated to take more than this many single-core seconds (progress and what Ctrl-C loses stay
small)."""
CONNECT_TIMEOUT = "10s"
Task = tuple[int, int]
"""(setting index, chunk index)."""


def chunk_runner(study: PowerStudy | ValidationSizeStudy) -> Callable[[object, int, int], dict]:
    """The task function of the study's kind: ``run_chunk`` or a validation-size study's ``run_validation_chunk``."""
    if isinstance(study, ValidationSizeStudy):
        from tmesurv.simulations.validation_size.chunks import run_validation_chunk

        return run_validation_chunk
    return run_chunk


def estimated_seconds(study: PowerStudy | ValidationSizeStudy, tasks: list[Task]) -> float:
    """Approximate single-core seconds to compute ``tasks`` (see the module docstring)."""
    if isinstance(study, ValidationSizeStudy):
        from tmesurv.simulations.validation_size.chunks import estimated_seconds as validation_size_seconds

        return validation_size_seconds(study, tasks)
    settings, chunks, methods = study.settings(), study.chunks(), build_methods(study.spec).values()
    seconds = 0.0
    for setting, chunk in tasks:
        point = settings[setting]
        per_replicate = SIMULATION_COST + sum(method.cost for method in methods if method.applies_to(point.design))
        seconds += len(chunks[chunk]) * point.n / 1000 * per_replicate
    return seconds


def runs_in_process(study: PowerStudy, tasks: list[Task], workers: int | None, scheduler: str | None) -> bool:
    """Whether the tasks run in the study's own process (the rule of the module docstring)."""
    if scheduler is not None:
        return False
    return (workers or default_workers()) == 1 or estimated_seconds(study, tasks) < IN_PROCESS_SECONDS


def compute_chunks(
    study: PowerStudy,
    tasks: list[Task],
    out_dir: Path,
    workers: int | None,
    scheduler: str | None,
    done: Callable[[int], None],
) -> dict[Task, dict[str, np.ndarray]]:
    """Compute and save every task, in process or on Dask (:func:`runs_in_process`); ``done(count)`` after each.

    Returns
    -------
    dict[Task, dict[str, numpy.ndarray]]
        Each task's arrays, as saved (so the study need not read back what it has just written).
    """
    results = {}
    if runs_in_process(study, tasks, workers, scheduler):
        done(0)
        _compute_in_process(study, tasks, out_dir, in_process_threads(study, tasks, workers), results, done)
        return results
    with dask_client(workers, scheduler) as client:
        done(0)
        _compute_on_dask(client, study, tasks, out_dir, results, done)
    return results


def in_process_threads(study: PowerStudy | ValidationSizeStudy, tasks: list[Task], workers: int | None) -> int:
    """Threads that compute the chunks of a study that runs in process (the module docstring's rule)."""
    if isinstance(study, ValidationSizeStudy):
        return 1
    if not all(method.threads for method in build_methods(study.spec).values()):
        return 1
    return max(1, min(workers or default_workers(), len(tasks)))


def _compute_in_process(
    study: PowerStudy | ValidationSizeStudy,
    tasks: list[Task],
    out_dir: Path,
    threads: int,
    results: dict[Task, dict[str, np.ndarray]],
    done: Callable[[int], None],
) -> None:
    """Compute the tasks in ``threads`` threads of this process; save each chunk, in the tasks' order."""
    runner = chunk_runner(study)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="tmesurv-chunk") if threads > 1 else None
    computed = pool.map(lambda task: runner(study, *task), tasks) if pool else (runner(study, *t) for t in tasks)
    try:
        for count, (task, arrays) in enumerate(zip(tasks, computed, strict=True), start=1):
            results[task] = arrays
            save_chunk(chunk_path(out_dir, study, *task), arrays)
            done(count)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # on an error or Ctrl-C: the chunks not started are dropped


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

    The dashboard gets a free port (a second cluster on the machine would otherwise collide on 8787). The cluster
    logs only critical messages: a failing task comes back through its future as its chunk's error (a worker that
    dies, as Dask's ``KilledWorker``), and what Dask logs at ERROR is its shutdown after Ctrl-C (a worker's heartbeat
    that finds the scheduler gone prints a 40-line traceback when the machine is busy). The workers never receive
    SIGINT (see the module docstring) and start without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``:
    setting it fixes glibc's mmap threshold, so every large numpy temporary is mapped and page-faulted afresh, which
    made the batched Cox fits about 60% slower; a chunk's working set is a few MB, so the memory it saves does not
    matter here. Nor do the workers run Dask's statistical profiler (a look at the task thread's stack every 10 ms,
    for the dashboard's profile page): it made every chunk about 10% slower. Dask's periodic housekeeping is slowed
    down (event-loop tick 1 s instead of 20 ms, system monitor 2 s instead of 0.5 s, the workers' memory monitor 1 s
    instead of 0.1 s): an idle 2-worker cluster then takes 0.03 instead of 0.07 s of CPU per second from the cores the
    tasks need. (A cluster behind ``scheduler`` keeps its own settings: for the same speed, set
    ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` and ``distributed.worker.profile.enabled:
    false`` in its workers' Dask config.)
    """
    import dask
    from dask.distributed import LocalCluster

    def start() -> object:
        tuned = {
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
            "distributed.worker.profile.enabled": False,
            "distributed.admin.tick.interval": "1s",
            "distributed.admin.system-monitor.interval": "2s",
            "distributed.worker.memory.monitor-interval": "1s",
        }
        with dask.config.set(tuned):
            return LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.CRITICAL,  # a failed task comes back as its chunk's error; see the docstring
            )

    if threading.current_thread() is not threading.main_thread():  # only the main thread handles signals
        return start()
    return _start_ignoring_sigint(start, workers)


def _start_ignoring_sigint(start: Callable[[], object], workers: int) -> object:
    """Run ``start`` in a helper thread, with SIGINT ignored until it has spawned ``workers`` processes."""
    spawned = len(multiprocessing.active_children()) + workers
    pool = ThreadPoolExecutor(1, thread_name_prefix="tmesurv-cluster-start")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        starting = pool.submit(start)
        while len(multiprocessing.active_children()) < spawned and not starting.done():
            time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        return starting.result()
    except BaseException:  # interrupted while the workers start: close the cluster once it is up
        starting.add_done_callback(_close_started)
        raise
    finally:
        pool.shutdown(wait=False)


def _close_started(starting: Future) -> None:
    if starting.exception() is None:
        starting.result().close()


def dask_batches(study: PowerStudy | ValidationSizeStudy, tasks: list[Task], workers: int) -> list[list[Task]]:
    """The tasks grouped into consecutive batches, one Dask task each (see :data:`TASKS_PER_WORKER`)."""
    per_task = estimated_seconds(study, tasks) / max(len(tasks), 1)
    longest = int(BATCH_SECONDS / per_task) if per_task > 0 else 1
    size = max(1, min(len(tasks) // (TASKS_PER_WORKER * max(workers, 1)), longest))
    return [tasks[start : start + size] for start in range(0, len(tasks), size)]


def run_batch(
    runner: Callable[[object, int, int], dict], study: PowerStudy | ValidationSizeStudy, batch: list[Task]
) -> list[dict[str, np.ndarray]]:
    """A Dask task: the chunks of a batch, one after the other."""
    return [runner(study, *task) for task in batch]


def _compute_on_dask(
    client: object,
    study: PowerStudy,
    tasks: list[Task],
    out_dir: Path,
    results: dict[Task, dict[str, np.ndarray]],
    done: Callable[[int], None],
) -> None:
    """Submit the batches; keep (in ``results``) and save each chunk as its batch ends; cancel the rest on an error."""
    from dask.distributed import as_completed

    run = uuid.uuid4().hex[:8]  # keys of this run only: never attach to a task an earlier (killed) client left
    runner, workers = chunk_runner(study), len(client.scheduler_info()["workers"])
    futures = {
        client.submit(
            run_batch, runner, study, batch, key=f"tmesurv-power-{study.digest}-{run}-{batch[0][0]}-{batch[0][1]}"
        ): batch
        for batch in dask_batches(study, tasks, workers)
    }
    try:
        count = 0
        for future in as_completed(futures):
            for task, arrays in zip(futures[future], future.result(), strict=True):
                results[task] = arrays
                save_chunk(chunk_path(out_dir, study, *task), arrays)
            future.release()
            count += len(futures[future])
            done(count)
    finally:
        client.cancel(list(futures))
