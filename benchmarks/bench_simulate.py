"""Cohorts per second of the ZUMA-7-like scenario at n = 359 (target: 1,000 cohorts in under 2 s on one core).

Times three ways of making the same 1,000 cohorts, each the best of three runs (shared machines are noisy; the
minimum is the least disturbed run):

* batched columns: one :func:`simulate_trials` call, every column as a (replicates, n) array (what a power study
  consumes) - the target;
* one at a time: :func:`simulate_trial` per cohort (a batch of one each), for comparison;
* batched with data frame: the batch, then every cohort's export data frame.

Run on one core: ``OPENBLAS_NUM_THREADS=1 taskset -c 0 .venv/bin/python benchmarks/bench_simulate.py``
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial, simulate_trials

COHORTS = 1000
RUNS = 3
TARGET_SECONDS = 2.0


def best_of(make_cohorts: Callable[[], object]) -> float:
    """Fastest of ``RUNS`` timings of making ``COHORTS`` cohorts."""
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        make_cohorts()
        timings.append(time.perf_counter() - start)
    return min(timings)


def report(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<26} {seconds:6.2f} s  ({COHORTS / seconds:7.0f} cohorts/s){note}")


def main() -> None:
    scenario = load_scenario("zuma7")
    simulate_trials(scenario, seed=0, replicates=range(2))  # warm caches
    cohorts = range(COHORTS)
    batched = best_of(lambda: simulate_trials(scenario, seed=1, replicates=cohorts))
    alone = best_of(lambda: [simulate_trial(scenario, seed=1, replicate=replicate) for replicate in cohorts])
    frames = best_of(lambda: [trial.to_frame() for trial in simulate_trials(scenario, seed=1, replicates=cohorts)])
    n = scenario.arms.treated + scenario.arms.control
    verdict = "met" if batched < TARGET_SECONDS else "MISSED"
    print(f"{COHORTS} cohorts of n = {n}, best of {RUNS} runs")
    report("batched, columns only:", batched, f"; target < {TARGET_SECONDS:g} s: {verdict}")
    report("one at a time, columns:", alone)
    report("batched, with data frame:", frames)


if __name__ == "__main__":
    main()
