"""``tmesurv bayes`` end to end on a 20,000-patient two-arm cohort with one biomarker: time, peak memory, file size.

The cohort (seeded) comes from tmesurv's simulation harness: 1:1 randomisation, a standard-normal biomarker ``marker``,
event times drawn by :func:`tmesurv.simulations.event_times.draw_event_times` (the harness's inversion of
``S_0(t) ** exp(eta)``) from a decreasing piecewise-constant baseline with log HRs -0.5 (arm), 0.2 (marker) and -0.3
(arm x marker), uniform censoring over 6-36 months. The config asks for the defaults (4 chains x 1,000 draws after
1,000 tuning, PH model) with the biomarker split at its median: four fits (treatment, interaction, marker=low,
marker=high). The command runs in its own process through the CLI. Its peak memory is the largest sum of resident
memory over the child and its descendants, polled every 20 ms (``psutil``), and the kernel's ``ru_maxrss`` of the child.

Printed: wall and CPU time, peak memory, ``posterior.nc`` size, each with its ratio to the implementation before issue
#20 (recorded with the same config on the same 2-core machine, see ``BEFORE``); the estimates against the truth and
against lifelines' Cox fit of the same interaction model, whose time is the time reference (a naive PyMC formulation,
per-patient likelihood compiled by PyTensor, takes minutes to compile and sample at this size: not run).
Targets (#20): under 60 s, under 1.5 GB, posterior.nc under 300 MB, the same estimates.

Run (other work on the machine inflates the wall time; CPU time is printed too):
``nice -n 10 .venv/bin/python benchmarks/bench_bayes_scale.py [--keep DIR]``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from lifelines import CoxPHFitter

from tmesurv.simulations.event_times import ArmHazard, draw_event_times

N_PATIENTS = 20_000
TRUE_LOG_HR = {"arm": -0.5, "marker": 0.2, "arm:marker": -0.3}
BASELINE = ArmHazard(cuts=[3.0, 12.0], hazards=[0.09, 0.06, 0.035])  # per month: median about 11 months in control
# Measured before issue #20 (commit 8109608: per-patient float64 log-likelihood draws in posterior.nc, a likelihood
# summed over every patient) with this config and a cohort of the same design, same 2-core machine, nearly idle.
BEFORE = {"wall_s": 128.2, "cpu_s": 171.6, "peak_mb": 4111.7, "posterior_mb": 1928.1}
TARGETS = {"wall_s": 60.0, "peak_mb": 1500.0, "posterior_mb": 300.0}
POLL_SECONDS = 0.02

CONFIG = """\
data:
  path: cohort.csv
  id: id
  arm: {column: arm, treated: treated, control: control}
  endpoints:
    efs: {time: efs_time, event: efs_event}
  biomarkers: [marker]
analysis:
  endpoint: efs
  cutpoint: median
bayes:
  seed: 1
"""


def cohort(n: int = N_PATIENTS, seed: int = 20) -> pd.DataFrame:
    """The simulated trial export: id, arm, marker, EFS time (months) and event."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n)
    marker = rng.standard_normal(n)
    eta = TRUE_LOG_HR["arm"] * arm + TRUE_LOG_HR["marker"] * marker + TRUE_LOG_HR["arm:marker"] * arm * marker
    event_time = draw_event_times(rng.random(n), eta, BASELINE)
    censor = rng.uniform(6.0, 36.0, n)
    return pd.DataFrame(
        {
            "id": [f"P{i:05d}" for i in range(n)],
            "arm": np.where(arm == 1, "treated", "control"),
            "marker": marker,
            "efs_time": np.minimum(event_time, censor),
            "efs_event": (event_time <= censor).astype(int),
        }
    )


def write_study(folder: Path, patients: pd.DataFrame) -> Path:
    """The cohort CSV and its config in ``folder``; returns the config's path."""
    patients.to_csv(folder / "cohort.csv", index=False)
    config = folder / "config.yaml"
    config.write_text(CONFIG)
    return config


class TreeMemory:
    """The largest total resident memory (bytes) of a process and its descendants, polled in a thread."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._process = psutil.Process(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.is_set():
            try:
                tree = [self._process, *self._process.children(recursive=True)]
                self.peak = max(self.peak, sum(process.memory_info().rss for process in tree))
            except psutil.Error:  # a process ended between the listing and the reading
                pass
            self._done.wait(POLL_SECONDS)

    def stop(self) -> int:
        """Stop polling; the peak in bytes."""
        self._done.set()
        self._thread.join()
        return self.peak


def run_bayes(config: Path, out: Path) -> dict[str, float]:
    """Wall and CPU seconds and peak memory (MB: process tree, and the child's ``ru_maxrss``) of ``tmesurv bayes``."""
    executable = Path(sys.executable).with_name("tmesurv")
    start = time.perf_counter()
    child = subprocess.Popen([str(executable), "bayes", str(config), "--out", str(out)])
    memory = TreeMemory(child.pid)
    if child.wait() != 0:
        raise SystemExit(f"tmesurv bayes failed with exit code {child.returncode}")
    seconds = time.perf_counter() - start
    tree_peak = memory.stop()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mb": tree_peak / 1e6,
        "maxrss_mb": usage.ru_maxrss * 1024 / 1e6,
    }


def cox_reference(patients: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    """The Cox fit (lifelines) of the interaction model (Efron ties): seconds, and coefficient and SE per term."""
    arm = (patients["arm"] == "treated").astype(float)
    frame = pd.DataFrame(
        {
            "arm": arm,
            "marker": patients["marker"],
            "arm:marker": arm * patients["marker"],
            "time": patients["efs_time"],
            "event": patients["efs_event"],
        }
    )
    start = time.perf_counter()
    fitter = CoxPHFitter().fit(frame, duration_col="time", event_col="event")
    return time.perf_counter() - start, fitter.summary[["coef", "se(coef)"]]


def report(measured: dict[str, float], bayes: pd.DataFrame, cox_seconds: float, cox: pd.DataFrame) -> None:
    """Print the measurements, their ratios to before and the estimates."""
    print(f"tmesurv bayes, n = {N_PATIENTS:,}, one biomarker, 4 fits (4 chains x 1,000 draws), 2 cores")
    print(f"  load average (1, 5, 15 min) at the end: {', '.join(f'{load:.1f}' for load in os.getloadavg())}")
    labels = {"wall_s": ("wall time", "s"), "cpu_s": ("CPU time", "s")}
    labels |= {"peak_mb": ("peak memory", "MB"), "posterior_mb": ("posterior.nc", "MB")}
    for key, (label, unit) in labels.items():
        target = TARGETS.get(key)
        met = target is not None and measured[key] < target
        verdict = f"target under {target:,.0f} {unit}: {'met' if met else 'NOT met'}" if target else ""
        ratio = BEFORE[key] / measured[key]
        print(f"  {label:12s} {measured[key]:9,.1f} {unit:2s}  {ratio:6.1f}x less than before  {verdict}")
    print(f"  (child's ru_maxrss {measured['maxrss_mb']:,.1f} MB)")
    print(f"  lifelines Cox of the interaction model: {cox_seconds:.2f} s; tmesurv bayes / Cox = "
          f"{measured['wall_s'] / cox_seconds:.0f}x")  # fmt: skip
    print("  interaction model: term, posterior mean (R-hat), truth, Cox coef (SE), (Bayes - Cox) / SE")
    rows = bayes.query("analysis == 'interaction'").set_index("term")
    for term, truth in TRUE_LOG_HR.items():
        mean, r_hat = rows.loc[term, "mean"], rows.loc[term, "r_hat"]
        coef, se = cox.loc[term, "coef"], cox.loc[term, "se(coef)"]
        difference = (mean - coef) / se
        print(f"    {term:10s} {mean:7.3f} ({r_hat:.3f})  {truth:5.2f}  {coef:7.3f} ({se:.3f})  {difference:5.2f}")
    subgroups = bayes.query("analysis == 'subgroup' and term == 'arm'").set_index("subgroup")["mean"]
    print("  treatment log HR by subgroup: " + ", ".join(f"{name} {value:.3f}" for name, value in subgroups.items()))


def main() -> None:
    keep = Path(sys.argv[sys.argv.index("--keep") + 1]) if "--keep" in sys.argv else None
    patients = cohort()
    with tempfile.TemporaryDirectory() as scratch:
        folder = keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        config = write_study(folder, patients)
        measured = run_bayes(config, folder / "results")
        measured["posterior_mb"] = (folder / "results" / "posterior.nc").stat().st_size / 1e6
        bayes = pd.read_csv(folder / "results" / "bayes.csv")
    cox_seconds, cox = cox_reference(patients)
    report(measured, bayes, cox_seconds, cox)


if __name__ == "__main__":
    main()
