"""Power studies on Dask: wall time of a study and the speed-up from one to two workers.

Targets (2 cores):

* 1,000 replicates x Cox interaction at n = 359 (ZUMA-7-like cohorts) on 2 workers in under 10 s;
* speed-up from 1 to 2 workers of at least 1.6x, on a study large enough that the per-run fixed costs (client
  connection, reading chunks back, writing power.nc and power.csv) do not dominate: 4 settings x 1,000 replicates x
  three Cox-based methods;
* with ``--bayes``: 200 Bayesian replicates (PWE, nutpie: 6 intervals, 500 draws, 500 tuning steps, 2 chains) on 2
  workers in under 10 minutes (numba's compile of the PWE density, once per machine, included when its cache is empty).

Two workers can only be faster than one when two cores are free: the benchmark first measures the speed-up the
machine gives right now to a trivially parallel numpy job in 1 vs 2 processes, and prints the study's speed-up next
to it (on a shared machine other jobs take cores, and both numbers drop together).

Each cluster is started and warmed (workers import tmesurv and run one small chunk) before timing; study runs are
timed end to end through :func:`run_power_study` (no figure), the best of three for the Cox ones. The start-up of a
2-worker local cluster, which ``tmesurv power`` pays once per run, is printed separately. Prints ratios, asserts
nothing; the load average is printed because a shared machine slows everything.

Run: ``.venv/bin/python benchmarks/bench_power.py [--bayes]``
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from dask.distributed import Client

from tmesurv.simulations.power.run import local_cluster, run_chunk, run_power_study
from tmesurv.simulations.power.study import load_power_study

RUNS = 3
COX_STUDY = {
    "name": "bench_cox",
    "scenario": "zuma7",
    "seed": 1,
    "replicates": 1000,
    "chunk_size": 100,
    "grid": {"n": [359], "interaction_hr": [0.6]},
    "methods": ["cox_interaction"],
}
SPEEDUP_STUDY = COX_STUDY | {
    "name": "bench_speedup",
    "grid": {"n": [359], "interaction_hr": [1.0, 0.6], "prevalence": [0.5, 0.3]},
    "methods": ["cox_interaction", "cox_interaction_stratified", "median_split"],
}
BAYES_STUDY = COX_STUDY | {
    "name": "bench_bayes",
    "replicates": 200,
    "chunk_size": 10,
    "methods": ["bayes_interaction"],
    "bayes": {"intervals": 6, "draws": 500, "tune": 500, "chains": 2},
}


def busy(_: int) -> None:
    """About a second of single-threaded numpy work."""
    x = np.random.default_rng(0).random((300, 300))
    for _ in range(500):
        np.sort(x, axis=1)


def machine_speedup(jobs: int = 4) -> float:
    """Wall time of ``jobs`` busy jobs in one process over the same in two processes."""
    start = time.perf_counter()
    for job in range(jobs):
        busy(job)
    serial = time.perf_counter() - start
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(busy, range(2)))  # start both processes
        start = time.perf_counter()
        list(pool.map(busy, range(jobs)))
        return serial / (time.perf_counter() - start)


def start_cluster(workers: int) -> tuple[object, Client, float]:
    start = time.perf_counter()
    cluster = local_cluster(workers)
    client = Client(cluster)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        warm = load_power_study(write(Path(folder), COX_STUDY | {"replicates": 10 * 2 * workers, "chunk_size": 10}))
    client.gather([client.submit(run_chunk, warm, 0, chunk, pure=False) for chunk in range(2 * workers)])
    return cluster, client, seconds


def write(folder: Path, study: dict) -> Path:
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def time_study(study: dict, scheduler: str, runs: int) -> float:
    """Best wall time of ``runs`` complete runs, each into a new folder."""
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), study)
        for run in range(runs):
            start = time.perf_counter()
            run_power_study(path, Path(folder) / f"out{run}", scheduler=scheduler, figure=False)
            seconds.append(time.perf_counter() - start)
    return min(seconds)


def main(bayes: bool) -> None:
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} cores")
    machine = machine_speedup()
    two, two_client, startup = start_cluster(2)
    cox = time_study(COX_STUDY, two.scheduler_address, RUNS)
    speedup_two = time_study(SPEEDUP_STUDY, two.scheduler_address, RUNS)
    one, one_client, _ = start_cluster(1)
    speedup_one = time_study(SPEEDUP_STUDY, one.scheduler_address, RUNS)
    for client, cluster in ((one_client, one), (two_client, two)):
        client.close()
        cluster.close()
    print(f"2-worker local cluster start-up: {startup:.1f} s (paid once per `tmesurv power` run)")
    verdict = "met" if cox < 10 else "MISSED"
    print(f"1,000 replicates x Cox interaction, n = 359, 2 workers: {cox:.2f} s (target < 10 s: {verdict})")
    ratio = speedup_one / speedup_two
    print(
        f"4 settings x 1,000 replicates x 3 Cox methods: 1 worker {speedup_one:.2f} s, 2 workers {speedup_two:.2f} s"
        f" -> speed-up {ratio:.2f}x (target >= 1.6x: {'met' if ratio >= 1.6 else 'MISSED'}); a trivially parallel"
        f" numpy job gets {machine:.2f}x on this machine now (study / machine: {ratio / machine:.2f})"
    )
    if bayes:
        two, two_client, _ = start_cluster(2)
        seconds = time_study(BAYES_STUDY, two.scheduler_address, 1)
        two_client.close()
        two.close()
        verdict = "met" if seconds < 600 else "MISSED"
        print(
            f"200 Bayesian replicates, n = 359, 2 workers: {seconds:.0f} s incl. compiling (target < 600 s: {verdict})"
        )
    else:
        print("Bayesian replicates: skipped (run with --bayes; several minutes)")
    print(f"load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main(bayes="--bayes" in sys.argv[1:])
