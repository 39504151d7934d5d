"""Power studies: the CLI against an R ``survival::coxph`` loop, and a grid's speed-up from one to two workers.

Targets (2 cores):

* a 1,000-replicate, one-setting Cox interaction study (ZUMA-7-like cohorts of 359, binary biomarker) through the CLI
  (``tmesurv power STUDY --out DIR``: start-up, imports, simulation, fits, power.nc, power.csv, the figure) in at
  most half the wall time of the same study as an R loop (``benchmarks/bench_power_coxph.R``: the same cohort model
  simulated in R, ``coxph`` per cohort) run by Rscript; both end to end as subprocesses, best of three. Skipped
  when Rscript is absent. This study runs in process (no Dask cluster: see tmesurv.simulations.power.execution);
* a grid keeps its Dask speed-up: 8 settings x 1,000 replicates x three Cox methods, in process (``--workers 1``)
  against a 2-worker local cluster (started and warmed beforehand, its start-up printed separately), at least 1.6x.
  Two workers can only be faster than one when two cores are free: the benchmark first measures the speed-up the
  machine gives right now to a trivially parallel numpy job in 1 vs 2 processes, and prints the study's speed-up
  next to it (on a shared machine other jobs take cores, and both numbers drop together);
* with ``--bayes``: 200 Bayesian replicates (PWE, nutpie: 6 intervals, 500 draws, 500 tuning steps, 2 chains) on 2
  workers in under 10 minutes (numba's compile of the PWE density, once per machine, included when its cache is
  empty).

Prints ratios, asserts nothing; the load average is printed because a shared machine slows everything.

Run: ``.venv/bin/python benchmarks/bench_power.py [--bayes]``
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from dask.distributed import Client

from tmesurv.simulations.power.chunks import run_chunk
from tmesurv.simulations.power.execution import local_cluster
from tmesurv.simulations.power.run import run_power_study
from tmesurv.simulations.power.study import load_power_study

RUNS = 3
R_SCRIPT = Path(__file__).with_name("bench_power_coxph.R")
COX_STUDY = {
    "name": "bench_cox",
    "scenario": "zuma7",
    "seed": 1,
    "replicates": 1000,
    "chunk_size": 100,
    "grid": {"n": [359], "interaction_hr": [0.6]},
    "methods": ["cox_interaction"],
}
GRID_STUDY = COX_STUDY | {
    "name": "bench_grid",
    "grid": {"n": [359], "interaction_hr": [1.0, 0.6], "prevalence": [0.5, 0.3], "prognostic_hr": [1.0, 0.6]},
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


def write(folder: Path, study: dict) -> Path:
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study))
    return path


def best_wall_time(command: list[str], runs: int = RUNS) -> tuple[float, str]:
    """Best wall time of ``runs`` runs of a subprocess, and its last standard output."""
    seconds, output = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        seconds.append(time.perf_counter() - start)
    return min(seconds), output


def tmesurv_command() -> list[str]:
    script = Path(sys.executable).with_name("tmesurv")
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from tmesurv.cli import main; main()"]


def cli_against_r(folder: Path) -> None:
    """The one-setting Cox study through the CLI and as an R coxph loop, each end to end."""
    study_path = write(folder, COX_STUDY)
    out = folder / "cli"
    seconds = []
    for _ in range(RUNS):
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        command = [*tmesurv_command(), "power", str(study_path), "--out", str(out)]
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    cli = min(seconds)
    power = pd.read_csv(out / "power.csv")["power"].item()
    print(f"1,000 replicates x Cox interaction, n = 359, `tmesurv power` end to end: {cli:.2f} s (power {power:.3f})")
    if shutil.which("Rscript") is None:
        print("R coxph loop: skipped (Rscript not found)")
        return
    r_seconds, r_output = best_wall_time(["Rscript", str(R_SCRIPT), *r_arguments(study_path)])
    ratio = cli / r_seconds
    verdict = "met" if ratio <= 0.5 else "MISSED"
    print(f"the same study as an R survival::coxph loop (Rscript end to end): {r_seconds:.2f} s ({r_output.strip()})")
    print(f"  -> tmesurv / R = {ratio:.2f} (target <= 0.5: {verdict}); R / tmesurv = {1 / ratio:.1f}x")


def r_arguments(study_path: Path) -> list[str]:
    """The cohort model of the study's one setting, as ``key=value`` arguments of the R script."""
    study = load_power_study(study_path)
    model = study.cohort_model(study.settings()[0])
    values = {
        "replicates": study.spec.replicates,
        "n": model.n,
        "treated": model.treated,
        "seed": study.spec.seed,
        "interaction_hr": np.exp(model.interaction_log_hr),
        "prognostic_hr": np.exp(model.prognostic_log_hr),
        "prevalence": model.prevalence,
        "accrual_months": model.accrual_months,
        "follow_up": model.follow_up,
        "dropout_per_year": model.dropout_per_year,
        "alpha": study.spec.alpha,
    }
    for arm, hazard in (("treated", model.treated_hazard), ("control", model.control_hazard)):
        values |= {f"{arm}_cuts": hazard.cuts, f"{arm}_hazards": hazard.hazards, f"{arm}_cure": hazard.cure_fraction}
    return [f"{key}={','.join(map(repr, map(float, np.atleast_1d(v))))}" for key, v in values.items()]


def start_cluster(workers: int) -> tuple[object, Client, float]:
    start = time.perf_counter()
    cluster = local_cluster(workers)
    client = Client(cluster)
    seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        warm = load_power_study(write(Path(folder), COX_STUDY | {"replicates": 10 * 2 * workers, "chunk_size": 10}))
    client.gather([client.submit(run_chunk, warm, 0, chunk, pure=False) for chunk in range(2 * workers)])
    return cluster, client, seconds


def time_study(study: dict, runs: int, **where) -> float:
    """Best wall time of ``runs`` complete runs (no figure), each into a new folder."""
    seconds = []
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), study)
        for run in range(runs):
            start = time.perf_counter()
            run_power_study(path, Path(folder) / f"out{run}", figure=False, **where)
            seconds.append(time.perf_counter() - start)
    return min(seconds)


def grid_speedup(machine: float) -> None:
    in_process = time_study(GRID_STUDY, RUNS, workers=1)
    two, client, startup = start_cluster(2)
    on_two = time_study(GRID_STUDY, RUNS, scheduler=two.scheduler_address)
    client.close()
    two.close()
    ratio = in_process / on_two
    print(f"2-worker local cluster start-up: {startup:.1f} s (paid once per `tmesurv power` run that uses one)")
    print(
        f"8 settings x 1,000 replicates x 3 Cox methods: in process {in_process:.2f} s, 2 workers {on_two:.2f} s"
        f" -> speed-up {ratio:.2f}x (target >= 1.6x: {'met' if ratio >= 1.6 else 'MISSED'}); a trivially parallel"
        f" numpy job gets {machine:.2f}x on this machine now (study / machine: {ratio / machine:.2f})"
    )


def bayes_study() -> None:
    two, client, _ = start_cluster(2)
    seconds = time_study(BAYES_STUDY, 1, scheduler=two.scheduler_address)
    client.close()
    two.close()
    verdict = "met" if seconds < 600 else "MISSED"
    print(f"200 Bayesian replicates, n = 359, 2 workers: {seconds:.0f} s incl. compiling (target < 600 s: {verdict})")


def main(bayes: bool) -> None:
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} cores")
    machine = machine_speedup()
    with tempfile.TemporaryDirectory() as folder:
        cli_against_r(Path(folder))
    grid_speedup(machine)
    if bayes:
        bayes_study()
    else:
        print("Bayesian replicates: skipped (run with --bayes; several minutes)")
    print(f"load average after: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main(bayes="--bayes" in sys.argv[1:])
