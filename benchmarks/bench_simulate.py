"""Cohorts per second of the ZUMA-7-like scenario at n = 359 (target: 1,000 cohorts in under 2 s on one core).

Prints the rate of generating the cohorts' columns (what a power study consumes) and of also building the export
data frame, each the best of three runs (shared machines are noisy; the minimum is the least disturbed run).
Run on one core: ``OPENBLAS_NUM_THREADS=1 taskset -c 0 .venv/bin/python benchmarks/bench_simulate.py``
"""

from __future__ import annotations

import time

from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial

COHORTS = 1000
RUNS = 3


def best_of(make_cohort) -> float:
    """Fastest of ``RUNS`` timings of making ``COHORTS`` cohorts."""
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for replicate in range(COHORTS):
            make_cohort(replicate)
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    scenario = load_scenario("zuma7")
    simulate_trial(scenario, seed=0)  # warm caches
    columns_seconds = best_of(lambda replicate: simulate_trial(scenario, seed=1, replicate=replicate))
    frame_seconds = best_of(lambda replicate: simulate_trial(scenario, seed=1, replicate=replicate).to_frame())
    n = scenario.arms.treated + scenario.arms.control
    print(f"{COHORTS} cohorts of n = {n}, best of {RUNS} runs")
    print(f"  columns only:    {columns_seconds:6.2f} s  ({COHORTS / columns_seconds:7.0f} cohorts/s; target < 2 s)")
    print(f"  with data frame: {frame_seconds:6.2f} s  ({COHORTS / frame_seconds:7.0f} cohorts/s)")


if __name__ == "__main__":
    main()
