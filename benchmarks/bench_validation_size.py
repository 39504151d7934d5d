"""Validation-size studies: 1,000 replicates x 5 cohort sizes x (C, calibration slope, O/E), against plain loops.

Target (2 cores): the study end to end through :func:`run_power_study` (no figure) in under 60 s on 2 workers, and
at least 10x faster per replicate than a plain loop over ``tmesurv.validate``.

The study: the ZUMA-7-like benefit model (``b_cell_ges`` x arm, ``sii``, ``ldh_elevated``) fitted on a simulated
development trial, horizon 12 months, n in 200, 359, 500, 1,000, 2,000, metrics ``harrell_c``, ``calibration_slope``,
``oe_ratio`` with their analytic intervals. It is timed on a warmed 2-worker cluster and in process (1 worker).

The loops score the same replicate cohorts (a sample of 20 per size, the time scaled to 1,000):

* ``validate`` loop: each cohort as a ``Cohort`` (``Cohort.from_frame``) scored by ``tmesurv.validate(model_dir,
  cohort, horizons=(12,), bootstrap=0)`` - estimates only, so its time is a lower bound (an interval would need its
  bootstrap, ``bootstrap=1000`` by default, hundreds of times longer); it scores every metric of ``validation.csv``,
  more than the three the study needs;
* metric loop: the three single-cohort functions of :mod:`tmesurv.validation` (``harrell_c``, ``calibration_slope``,
  ``oe_ratio``) called per cohort - estimates only; the fairest per-metric comparison.

Prints times and ratios, asserts nothing; the load average is printed because a shared machine slows everything.

Run: ``.venv/bin/python benchmarks/bench_validation_size.py``
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from dask.distributed import Client

from tmesurv.simulations.power.execution import local_cluster
from tmesurv.simulations.power.run import run_power_study
from tmesurv.simulations.power.study import load_power_study
from tmesurv.simulations.validation_size.chunks import prepared
from tmesurv.simulations.validation_size.model import simulate_cohorts

SIZES = [200, 359, 500, 1000, 2000]
REPLICATES = 1000
LOOPED = 20
STUDY = {
    "kind": "validation_size",
    "name": "bench_validation_size",
    "scenario": "zuma7",
    "seed": 1,
    "replicates": REPLICATES,
    "chunk_size": 250,
    "model": {"terms": ["b_cell_ges", "sii", "ldh_elevated"], "interaction": "b_cell_ges"},
    "horizon": 12.0,
    "grid": {"n": SIZES},
    "metrics": ["harrell_c", "calibration_slope", "oe_ratio"],
}


def timed_study(path: Path, folder: Path, **options) -> float:
    start = time.perf_counter()
    run_power_study(path, folder, fresh=True, figure=False, **options)
    return time.perf_counter() - start


def validate_loop(study, folder: Path) -> float:
    """Seconds for ``LOOPED`` cohorts per size through ``tmesurv.validate``, scaled to ``REPLICATES``."""
    from tmesurv import Cohort, validate
    from tmesurv.models.prediction.storage import write_validation_model

    model, population = prepared(study)
    model_dir = folder / "model"
    model_dir.mkdir()
    write_validation_model(model, model_dir / "validation_model.json")
    arms = study.scenario.arms
    cohorts = {
        setting.n: simulate_cohorts(study, model, population, setting, range(LOOPED)) for setting in study.settings()
    }
    start = time.perf_counter()
    for n, batch in cohorts.items():
        for r in range(LOOPED):
            frame = pd.DataFrame({"id": [f"P{i}" for i in range(n)]})
            frame["arm"] = np.where(batch.treated[r], arms.treated_label, arms.control_label)
            frame["time"], frame["event"] = batch.time[r], batch.event[r].astype(int)
            for term, values in population.terms.items():
                frame[term] = values[batch.rows[r]]
            cohort = Cohort.from_frame(
                frame, treated=arms.treated_label, control=arms.control_label, endpoint="efs",
                biomarkers=list(population.terms),
            )  # fmt: skip
            validate(model_dir, cohort, horizons=(12.0,), bootstrap=0)
    return (time.perf_counter() - start) * REPLICATES / LOOPED


def metric_loop(study) -> float:
    """Seconds for ``LOOPED`` cohorts per size through the three single-cohort functions, scaled to ``REPLICATES``."""
    from tmesurv.validation.calibration import calibration_slope, oe_ratio
    from tmesurv.validation.discrimination import harrell_c

    model, population = prepared(study)
    cohorts = [simulate_cohorts(study, model, population, setting, range(LOOPED)) for setting in study.settings()]
    start = time.perf_counter()
    for batch in cohorts:
        for r in range(LOOPED):
            harrell_c(batch.time[r], batch.event[r], batch.lp[r])
            calibration_slope(batch.time[r], batch.event[r], batch.lp[r])
            oe_ratio(batch.time[r], batch.event[r], batch.risk[r], 12.0)
    return (time.perf_counter() - start) * REPLICATES / LOOPED


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = folder / "study.yaml"
        path.write_text(yaml.safe_dump(STUDY))
        study = load_power_study(path)
        warm = folder / "warm.yaml"
        warm.write_text(yaml.safe_dump(STUDY | {"replicates": 10, "chunk_size": 10, "grid": {"n": [200]}}))
        run_power_study(warm, folder / "warm", workers=1, figure=False)  # numba compile, imports
        in_process = timed_study(path, folder / "one", workers=1)
        with local_cluster(2) as cluster, Client(cluster) as client:
            client.run(lambda: __import__("tmesurv.simulations.validation_size.chunks"))
            run_power_study(warm, folder / "warm2", scheduler=cluster.scheduler_address, figure=False, fresh=True)
            on_two = timed_study(path, folder / "two", scheduler=cluster.scheduler_address)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loop_validate = validate_loop(study, folder)
        loop_metrics = metric_loop(study)
    print(f"study: {REPLICATES} replicates x {len(SIZES)} sizes {SIZES} x (C, slope, O/E) with analytic CIs")
    print(f"  2 workers (Dask): {on_two:6.1f} s   (target < 60 s)")
    print(f"  in process:       {in_process:6.1f} s")
    print(f"plain loop over tmesurv.validate (bootstrap=0, estimates only; {LOOPED} cohorts per size, scaled):")
    print(f"  {loop_validate:8.1f} s  -> study on 2 workers is {loop_validate / on_two:6.1f}x faster (target >= 10x), "
          f"in process {loop_validate / in_process:6.1f}x")  # fmt: skip
    print("plain loop over validation.harrell_c / calibration_slope / oe_ratio (estimates only, scaled):")
    print(f"  {loop_metrics:8.1f} s  -> study on 2 workers is {loop_metrics / on_two:6.1f}x faster, "
          f"in process {loop_metrics / in_process:6.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
